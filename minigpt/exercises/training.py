"""Checks for notebook 06 (training a mini GPT): cutting a batch of (input, target) windows."""

from __future__ import annotations

from collections.abc import Callable

import torch

from minigpt.exercises._result import Result, failed, passed


def check_get_batch(learner_get_batch: Callable[[torch.Tensor, int, int, torch.Generator], tuple]) -> Result:
    """``learner_get_batch(data, batch_size, block_size, generator) -> (x, y)`` must return
    LongTensor[B, T] windows of ``data`` with y = x shifted by one, and draw the same windows
    as ``minigpt.data.get_batch`` from the same seeded generator."""
    from minigpt.data import get_batch

    data = torch.randint(0, 50, (300,), generator=torch.Generator().manual_seed(0))
    B, T = 4, 8
    try:
        batch = learner_get_batch(data, B, T, torch.Generator().manual_seed(1))
        x, y = batch
    except Exception as error:  # a learner's bug should print a hint, not stop the notebook
        return failed(f"your function raised {type(error).__name__}: {error}", "return a pair (x, y)")
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.shape != (B, T):
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            return failed(f"{name} should be a tensor of shape (batch_size, block_size) = {(B, T)}, got {shape}",
                          "stack one window of block_size tokens per batch row: torch.stack([...])")
        if t.dtype != torch.long:
            return failed(f"{name} has dtype {t.dtype}; embeddings and cross-entropy need torch.long", "use .long()")
    if not torch.equal(x[:, 1:], y[:, :-1]):
        return failed("y is not x shifted by one token", "y[b, t] is the token that follows x[b, t]: y = data[i+1 : i+1+T]")
    windows = data.unfold(0, T + 1, 1)  # every (T+1)-token window of data, (N - T, T + 1)
    joined = torch.cat([x, y[:, -1:]], dim=1)  # (B, T+1)
    if not all((windows == row).all(dim=1).any() for row in joined):
        return failed("some rows are not a contiguous piece of data",
                      "pick a start i, then x = data[i : i+T] and y = data[i+1 : i+1+T]")
    want_x, want_y = get_batch(data, B, T, torch.Generator().manual_seed(1))
    if not (torch.equal(x, want_x) and torch.equal(y, want_y)):
        return failed("your windows are valid but are not the ones minigpt.data.get_batch draws from the same generator",
                      "draw the starts with torch.randint(len(data) - block_size, (batch_size,), generator=generator): "
                      "every start must leave room for the T+1 tokens of x and y")
    return passed("your batches are exactly minigpt.data.get_batch's: B windows of T tokens, targets shifted by one")
