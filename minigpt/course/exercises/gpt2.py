"""Checks for notebook 13 (looking inside GPT-2): measuring the attention sink.

Attention weights have shape (L, H, T, T): layer, head, query position i (row), key position j (column).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import call_learner, close, tensor_answer
from minigpt.course.exercises.interpretability import _random_causal_attention


def first_token_share(attention: torch.Tensor) -> torch.Tensor:
    """(L, H, T, T) -> (L,): per layer, the mean weight that the queries 1 .. T-1 put on key 0, over heads and queries.

    Query 0 is left out: it can only see itself, so its weight on key 0 is always 1 and says nothing.
    """
    return attention[:, :, 1:, 0].mean(dim=(1, 2))


@with_reference(first_token_share)
def check_first_token_share(learner_fn: Callable[[torch.Tensor], torch.Tensor]) -> Result:
    """``learner_fn(attention (L, H, T, T)) -> (L,)`` must match :func:`first_token_share`."""
    attention = _random_causal_attention((3, 4, 10, 10), torch.Generator().manual_seed(0))
    hint = "take attention[:, :, 1:, 0] (queries 1.. looking at key 0) and average over heads and queries"
    got = call_learner(learner_fn, attention.clone(), name="your first_token_share", hint=hint)
    want = first_token_share(attention)
    answer = tensor_answer(got, want.shape, "your first_token_share", "one share per layer: average over the heads "
                           "(dim 1) and the queries (dim 2) together, .mean(dim=(1, 2))")
    if isinstance(answer, Result):
        return answer
    got, atol = answer
    if close(got, attention[:, :, :, 0].mean(dim=(1, 2)), atol):
        return failed("your shares count query 0, whose weight on key 0 is always 1",
                      "start at query 1: attention[:, :, 1:, 0]")
    if close(got, attention[:, :, 1:, :].mean(dim=(1, 2, 3)), atol) or close(got, attention[:, :, 1:, -1].mean(dim=(1, 2)), atol):
        return failed("your shares read the wrong key column", "the first token is key 0: the last index is 0")
    if not close(got, want, atol):
        return failed(f"your shares differ from ours by up to {float((got - want).abs().max()):.4f}", hint)
    return passed("your first_token_share matches ours")
