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


# -- the generation loop ---------------------------------------------------------------------------------------------


def generate_loop(model, idx: torch.Tensor, max_new_tokens: int, temperature: float,
                  generator: torch.Generator) -> torch.Tensor:
    """Sample ``max_new_tokens`` ids after the prompt ``idx`` [1, T] -> [1, T + max_new_tokens], one at a time:
    the model sees at most its last ``model.config.block_size`` ids, the last position's logits are divided by
    the temperature, and the next id is drawn from their softmax with ``torch.multinomial(..., generator=...)``."""
    for _ in range(max_new_tokens):
        context = idx[:, -model.config.block_size :]  # the model was trained on block_size positions at most
        logits, _ = model(context)  # [1, T, V]
        probs = torch.softmax(logits[:, -1] / temperature, dim=-1)  # [1, V]: only the last position predicts what's next
        idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
    return idx


def sampling_model(seed: int = 0):
    """A small GPT with random weights and a short context (block_size 8), so a loop soon has to crop. Its head is
    scaled up so that its next-token distributions are peaked, as a trained model's are: at initialisation they are
    nearly uniform, and then a wrong position, context or temperature would draw the same ids as the right one."""
    from minigpt.config import GPTConfig
    from minigpt.model import GPT

    with torch.random.fork_rng():  # leave the notebook's random numbers where they were
        torch.manual_seed(seed)
        model = GPT(GPTConfig(vocab_size=23, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0, tie_weights=False))
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)  # logits with a standard deviation of about 1.5
    return model.eval()


_LOOP_HINT = ("each step: context = idx[:, -block_size:]; logits, _ = model(context); probs = softmax of "
              "logits[:, -1] / temperature; next = torch.multinomial(probs, 1, generator=generator); append it to idx.")
_CROP_HINT = ("the model takes at most model.config.block_size ids: feed it idx[:, -model.config.block_size:], "
              "the last block_size ids, at every step.")


def _loop_variants(model, prompt, n, temperature, seed) -> list[tuple[list[int], str]]:
    """(ids, hint) of the usual wrong loops, each run with a generator of the same seed."""
    def run(choose):
        g, idx = torch.Generator().manual_seed(seed), prompt.clone()
        for _ in range(n):
            logits, _ = model(idx[:, -model.config.block_size :])
            idx = torch.cat([idx, choose(logits, g)], dim=1)
        return idx[0].tolist()

    draw = lambda scores, g: torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=g)  # noqa: E731
    return [
        (run(lambda lg, g: lg[:, -1].argmax(-1, keepdim=True)), "that is greedy decoding (argmax): sample the next id "
         "with torch.multinomial(probs, 1, generator=generator), so that the temperature matters."),
        (run(lambda lg, g: draw(lg[:, -1], g)), "divide the logits by the temperature before the softmax: "
         "probs = torch.softmax(logits[:, -1] / temperature, dim=-1)."),
        (run(lambda lg, g: draw(lg[:, -1] * temperature, g)), "divide the logits by the temperature, do not multiply: "
         "a temperature below 1 must sharpen the distribution."),
        (run(lambda lg, g: draw(lg[:, 0] / temperature, g)), "take the logits of the LAST position, logits[:, -1]: "
         "position t predicts the token after t, so only the last one predicts what comes next."),
    ]


def _loop_ids(learner_loop, model, prompt, n, temperature, seed):
    """The learner's ids for one run, as a list of ints, or a failed Result."""
    out = call_learner(learner_loop, model, prompt.clone(), n, temperature, torch.Generator().manual_seed(seed),
                       name="your generate_loop", hint=_LOOP_HINT)
    if isinstance(out, Result):
        return failed(out.message, _CROP_HINT) if "exceeds block_size" in out.message else out
    t = as_tensor(out)
    if t is None or t.dim() != 2 or t.size(0) != 1:
        return returned(out, "your generate_loop", f"a LongTensor of shape [1, {prompt.size(1) + n}]",
                        "append each new id to idx with torch.cat([idx, next_id], dim=1) and return idx.")
    ids = t[0].tolist()
    if len(ids) != prompt.size(1) + n:
        return failed(f"your generate_loop returned {len(ids)} ids; the prompt has {prompt.size(1)} and {n} more "
                      f"were asked for, so {prompt.size(1) + n}.", "return the prompt followed by the new ids.")
    if ids[: prompt.size(1)] != prompt[0].tolist():
        return failed("your generate_loop's output does not start with the prompt.", "return the prompt followed by the new ids.")
    return ids


@with_reference(generate_loop)
def check_generate_loop(learner_loop: Callable, *, seed: int = 0) -> Result:
    """Check ``learner_loop(model, idx, max_new_tokens, temperature, generator) -> [1, T + max_new_tokens]`` token for
    token: against ``minigpt.sampling.generate`` with the same seed while everything fits the context, and against
    the reference loop when the sequence outgrows it (``generate`` restarts its window differently to reuse its
    KV cache, so past block_size the two ways of cropping choose differently)."""
    from minigpt.sampling import generate

    model, temperature = sampling_model(seed), 0.7
    prompt = torch.randint(0, 23, (1, 3), generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        for n, want in ((5, generate(model, prompt[0].tolist(), 5, temperature=temperature, seed=seed)),
                        (14, generate_loop(model, prompt, 14, temperature, torch.Generator().manual_seed(seed))[0].tolist())):
            got = _loop_ids(learner_loop, model, prompt, n, temperature, seed)
            if isinstance(got, Result):
                return got
            if got != want:
                first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
                hint = next((hint for ids, hint in _loop_variants(model, prompt, n, temperature, seed) if ids == got),
                            _CROP_HINT if first >= model.config.block_size else _LOOP_HINT)
                return failed(f"with {n} new tokens your ids differ from minigpt's from position {first} on "
                              f"({got[first]} instead of {want[first]}).", hint)
    return passed("your loop samples exactly the ids minigpt.sampling.generate samples with the same seed, "
                  "and crops the context once it outgrows block_size.")
