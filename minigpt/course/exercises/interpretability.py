"""Checks for notebook 08 (inside a trained model): scoring attention heads by what they attend to,
and for its second part (attention sinks and the logit lens): reading the residual stream as logits.

All scores read attention weights of shape (..., T, T) - e.g. (L, H, T, T) for every head of a
model - where row i is query position i and column j the key position it attends to.
They return one number per head, shape (...): the average weight on the position of interest.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from minigpt.capture import logit_lens
from minigpt.config import GPTConfig
from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import as_tensor, call_learner, close, tensor_answer


def _diagonal_mean(attention: torch.Tensor, offset: int, first_query: int = 0) -> torch.Tensor:
    """Mean of ``attention[..., i, i - offset]`` over the queries i >= ``first_query`` (and >= offset)."""
    rows = attention[..., first_query:, :]  # row r is query i = first_query + r
    return rows.diagonal(offset=first_query - offset, dim1=-2, dim2=-1).mean(dim=-1)


def previous_token_scores(attention: torch.Tensor) -> torch.Tensor:
    """(..., T, T) -> (...): how much each query attends to the token right before it."""
    return _diagonal_mean(attention, 1)


def induction_scores(attention: torch.Tensor, period: int) -> torch.Tensor:
    """(..., T, T) -> (...): on a sequence that repeats every ``period`` tokens, how much each query
    attends to the token *after* the previous copy of itself (key i - period + 1), which is exactly
    the token that should come next. Queries in the first copy have no earlier copy and are skipped."""
    return _diagonal_mean(attention, period - 1, first_query=period)


def _random_causal_attention(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Random attention weights (..., T, T): softmax of random scores under a causal mask."""
    scores = torch.randn(shape, generator=generator) * 2
    T = shape[-1]
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


def _compare(learner_fn: Callable, reference: Callable, name: str, hint: str, **kwargs) -> Result | None:
    """None when the learner's scores match the reference on random heads, else a failed Result."""
    generator = torch.Generator().manual_seed(0)
    attention = _random_causal_attention((2, 3, 12, 12), generator)  # (L, H, T, T)
    got = call_learner(learner_fn, attention.clone(), name=f"your {name}", hint=hint, **kwargs)
    want = reference(attention, **kwargs)
    t = as_tensor(got)
    if t is not None and t.shape != want.shape:
        return failed(f"expected one score per head, shape {tuple(want.shape)}, got shape {tuple(t.shape)}",
                      "average over the query positions only (the last-but-one dim); keep the leading (L, H) dims")
    answer = tensor_answer(got, want.shape, f"your {name}")
    if isinstance(answer, Result):
        return answer
    got, atol = answer
    if not close(got, want, atol):
        return failed(f"your {name} differs from ours by up to {float((got - want).abs().max()):.4f}", hint)
    return None


@with_reference(previous_token_scores)
def check_previous_token_score(learner_fn: Callable[[torch.Tensor], torch.Tensor]) -> Result:
    """``learner_fn(attention (..., T, T)) -> (...)`` must match :func:`previous_token_scores`."""
    hint = "take attention[..., i, i - 1] for i = 1 .. T-1 (torch.diagonal with offset=-1) and average it"
    problem = _compare(learner_fn, previous_token_scores, "previous-token score", hint)
    return problem if problem is not None else passed("your previous-token score matches ours")


@with_reference(induction_scores)
def check_induction_score(learner_fn: Callable[[torch.Tensor, int], torch.Tensor]) -> Result:
    """``learner_fn(attention (..., T, T), period) -> (...)`` must match :func:`induction_scores`."""
    generator = torch.Generator().manual_seed(1)
    attention = _random_causal_attention((12, 12), generator)
    got = call_learner(learner_fn, attention, period=4, name="your induction score", hint="try it on one head, shape (T, T)")
    answer = tensor_answer(got, (), "your induction score", "one head (T, T) gives one score: shape ().")
    if isinstance(answer, Result):
        return answer
    got, atol = answer
    if close(got, _diagonal_mean(attention, 4, first_query=4), atol):
        return failed("you measured attention to the earlier copy of the same token (key i - period)",
                      "an induction head looks one step further, at the token that FOLLOWED that copy: key i - period + 1")
    hint = ("for each query i in the second copy (i >= period) take attention[..., i, i - period + 1] "
            "and average: attention[..., period:, :].diagonal(offset=1, dim1=-2, dim2=-1)")
    problem = _compare(learner_fn, induction_scores, "induction score", hint, period=5)
    return problem if problem is not None else passed("your induction score matches ours")


def _lens_model():
    """A small GPT whose final norm is not the identity (so skipping it shows), built without touching
    torch's global RNG: the numbers a notebook draws after the check stay the same."""
    from minigpt.model import GPT  # the model module is heavy; only this check needs it

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=13, block_size=8, n_layer=1, n_head=2, n_embd=16))
        with torch.no_grad():
            model.transformer.ln_f.weight.uniform_(0.5, 2.0)
            model.transformer.ln_f.bias.normal_(0.0, 0.5)
    return model.eval()


@with_reference(logit_lens)
def check_logit_lens(learner_fn: Callable) -> Result:
    """``learner_fn(model, residual (B, T, C)) -> (B, T, V)`` must match :func:`minigpt.capture.logit_lens`."""
    model = _lens_model()
    residual = torch.randn((2, 5, 16), generator=torch.Generator().manual_seed(0)) * 3 + 1
    hint = "apply the model's final norm, then its unembedding: model.lm_head(model.transformer.ln_f(residual))"
    with torch.no_grad():
        got = call_learner(learner_fn, model, residual.clone(), name="your logit_lens", hint=hint)
        want = logit_lens(model, residual)
        skipped_norm = model.lm_head(residual)
    answer = tensor_answer(got, want.shape, "your logit_lens", "one logit per vocabulary entry at every position: (B, T, V)")
    if isinstance(answer, Result):
        return answer
    got, atol = answer
    if close(got, skipped_norm, atol):
        return failed("you skipped the final norm", "the model normalises the stream before its unembedding: "
                      "model.transformer.ln_f(residual) first, then model.lm_head")
    if close(got, want.softmax(dim=-1), atol):
        return failed("you returned probabilities", "the lens gives logits, as the model's head does: leave out the softmax")
    if not close(got, want, atol):
        return failed(f"your logit_lens differs from ours by up to {float((got - want).abs().max()):.4f}", hint)
    return passed("your logit lens matches minigpt.capture.logit_lens")
