"""Checks for notebook 07 (sampling): the nucleus (top-p) filter and the distinct n-gram ratio."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import (
    as_tensor,
    call_learner,
    close,
    number_answer,
    returned,
    tensor_answer,
)


def top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """The nucleus filter of ``minigpt.sampling``: logits (..., V) with the tokens outside the top-p set to -inf."""
    from minigpt.sampling import apply_top_p

    return apply_top_p(logits, p)


@with_reference(top_p)
def check_top_p(learner_top_p: Callable[[torch.Tensor, float], torch.Tensor]) -> Result:
    """Compare ``learner_top_p(logits, p)`` with ``minigpt.sampling.apply_top_p`` on random logits.

    Both must keep the same tokens (finite logits, unchanged) and set the others to ``-inf``.
    """
    from minigpt.sampling import apply_top_p

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, generator=generator) * 3  # (batch, V): a batch of next-token scores
    for p in (0.1, 0.5, 0.9, 0.999):
        before = logits.clone()
        got = call_learner(learner_top_p, logits, p, hint="run it on a small tensor first")
        if isinstance(got, Result):
            return got
        if not torch.equal(logits, before):
            return failed("your function changed its input logits in place", "build a new tensor (masked_fill, not masked_fill_)")
        shape_hint = "return the logits with the removed tokens set to -inf, same shape as the input"
        t = as_tensor(got)
        if t is None:
            return returned(got, "your function", f"a tensor of shape {tuple(logits.shape)}", shape_hint)
        if t.shape != logits.shape:
            return failed(f"expected a tensor of shape {tuple(logits.shape)}, got {tuple(t.shape)}", shape_hint)
        answer = tensor_answer(got, logits.shape, "your function", finite=False)  # -inf is how a token is removed
        if isinstance(answer, Result):
            return answer
        got, atol = answer
        if torch.isposinf(got).any():
            return failed("your output contains +inf", "removed tokens are set to -inf (float('-inf')), never +inf")
        want = apply_top_p(logits, p)
        kept, want_kept = torch.isfinite(got), torch.isfinite(want)
        if not torch.equal(kept, want_kept):
            diff = int(kept.sum() - want_kept.sum())
            if diff < 0:
                hint = ("you keep too few tokens: keep a token while the probability mass of the tokens ranked "
                        "above it is still below p, so the token that crosses p is kept too")
            else:
                hint = "you keep too many tokens: stop once the tokens kept so far already add up to p"
            return failed(f"with p={p} you kept {int(kept.sum())} tokens over the batch, we keep {int(want_kept.sum())}", hint)
        if not close(got[kept], logits[kept], atol):
            return failed("the kept logits changed value", "only the removed tokens change (to -inf); the kept ones stay as they were")
    return passed("your nucleus filter keeps exactly the tokens minigpt.sampling.apply_top_p keeps")


def distinct_ngram_ratio(ids: Sequence[int], n: int = 3) -> float:
    """Distinct n-grams / all n-grams in ``ids``: 1.0 = never repeats itself, near 0 = stuck in a loop."""
    ngrams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else 1.0


_SHORT_HINT = ("a sequence shorter than n has no n-gram at all, so nothing repeats: return 1.0 when there are no "
               "n-grams (dividing by their number, 0, raises ZeroDivisionError)")


@with_reference(distinct_ngram_ratio)
def check_distinct_ngram_ratio(learner_ratio: Callable[[Sequence[int], int], float]) -> Result:
    """Compare ``learner_ratio(ids, n)`` with :func:`distinct_ngram_ratio` on loops, on varied text, and on
    sequences shorter than n (no n-grams: the ratio is 1.0, nothing repeats)."""
    cases = [
        ([1, 2, 3, 4, 5, 6], 2),  # nothing repeats: 1.0
        ([7] * 10, 1),  # one token forever: 0.1
        ([1, 2, 3] * 5, 3),  # a 3-token loop: 3 distinct of 13
        ([1, 2, 1, 2, 3, 1, 2], 2),
        ([4, 5, 6, 4, 5, 7, 4, 5, 6], 3),
        ([1, 2, 3], 3),  # exactly one n-gram: 1.0
        ([1, 2], 3),  # shorter than n: no n-grams, nothing repeats: 1.0
        ([], 2),
    ]
    for ids, n in cases:
        short = len(ids) < n
        got = call_learner(learner_ratio, list(ids), n, name=f"for ids={ids}, n={n} your function",
                           hint=_SHORT_HINT if short else "try it on [1, 2, 3, 1, 2] with n=2")
        got = number_answer(got, f"for ids={ids}, n={n} your function", hint="return a float: distinct / total")
        if isinstance(got, Result):
            return got
        want = distinct_ngram_ratio(ids, n)
        if abs(got - want) > 1e-6:
            hint = "a sequence of length L has L - n + 1 n-grams (windows ids[i:i+n]); count the distinct ones with a set of tuples"
            return failed(f"for ids={ids}, n={n} you returned {got:.4f}, expected {want:.4f}", _SHORT_HINT if short else hint)
    return passed("your distinct n-gram ratio matches ours on every case")
