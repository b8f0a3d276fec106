"""Checks for notebook 07 (sampling): the nucleus (top-p) filter and the distinct n-gram ratio."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from minigpt.exercises._result import Result, failed, passed


def check_top_p(learner_top_p: Callable[[torch.Tensor, float], torch.Tensor]) -> Result:
    """Compare ``learner_top_p(logits, p)`` with ``minigpt.sampling.apply_top_p`` on random logits.

    Both must keep the same tokens (finite logits, unchanged) and set the others to ``-inf``.
    """
    from minigpt.sampling import apply_top_p

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, generator=generator) * 3  # (batch, V): a batch of next-token scores
    for p in (0.1, 0.5, 0.9, 0.999):
        before = logits.clone()
        try:
            got = learner_top_p(logits, p)
        except Exception as error:  # a learner's bug should print a hint, not stop the notebook
            return failed(f"your function raised {type(error).__name__}: {error}", "run it on a small tensor first")
        if not torch.equal(logits, before):
            return failed("your function changed its input logits in place", "build a new tensor (masked_fill, not masked_fill_)")
        if not isinstance(got, torch.Tensor) or got.shape != logits.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return failed(f"expected a tensor of shape {tuple(logits.shape)}, got {shape}",
                          "return the logits with the removed tokens set to -inf, same shape as the input")
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
        if not torch.allclose(got[kept], logits[kept], atol=1e-5):
            return failed("the kept logits changed value", "only the removed tokens change (to -inf); the kept ones stay as they were")
    return passed("your nucleus filter keeps exactly the tokens minigpt.sampling.apply_top_p keeps")


def distinct_ngram_ratio(ids: Sequence[int], n: int = 3) -> float:
    """Distinct n-grams / all n-grams in ``ids``: 1.0 = never repeats itself, near 0 = stuck in a loop."""
    ngrams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else 1.0


def check_distinct_ngram_ratio(learner_ratio: Callable[[Sequence[int], int], float]) -> Result:
    """Compare ``learner_ratio(ids, n)`` with :func:`distinct_ngram_ratio` on loops and on varied text."""
    cases = [
        ([1, 2, 3, 4, 5, 6], 2),  # nothing repeats: 1.0
        ([7] * 10, 1),  # one token forever: 0.1
        ([1, 2, 3] * 5, 3),  # a 3-token loop: 3 distinct of 13
        ([1, 2, 1, 2, 3, 1, 2], 2),
        ([4, 5, 6, 4, 5, 7, 4, 5, 6], 3),
    ]
    for ids, n in cases:
        try:
            got = float(learner_ratio(ids, n))
        except Exception as error:
            return failed(f"your function raised {type(error).__name__}: {error}", "try it on [1, 2, 3, 1, 2] with n=2")
        want = distinct_ngram_ratio(ids, n)
        if abs(got - want) > 1e-6:
            hint = "a sequence of length L has L - n + 1 n-grams (windows ids[i:i+n]); count the distinct ones with a set of tuples"
            return failed(f"for ids={ids}, n={n} you returned {got:.4f}, expected {want:.4f}", hint)
    return passed("your distinct n-gram ratio matches ours on every case")
