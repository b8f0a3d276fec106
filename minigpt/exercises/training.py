"""Checks for notebook 06 (training a mini GPT).

``check_get_batch(fn)``   Exercise 1: cut a batch of (input, target) windows from the token stream.
``check_best_step(fn)``   Exercise 2: early stopping, the step whose checkpoint to keep (lowest val loss).

A batch is judged by what makes it right, not by one particular way of drawing it: any sampler
that draws its start positions from the generator it is given, over every valid start, is fine
(``torch.randint(len(data) - T, ...)`` as ``minigpt.data.get_batch`` does, or ``len(data) - T - 1``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from minigpt.data import get_batch
from minigpt.exercises._result import Result, failed, passed, with_reference
from minigpt.exercises._tensor_checks import as_tensor, call_learner, describe, number_answer, returned

_RANDINT_HINT = ("draw the starts with torch.randint(len(data) - block_size, (batch_size,), generator=generator): "
                 "every start must leave room for the T+1 tokens of x and y")


def _batch(learner_get_batch, data, B, T, seed):
    """The learner's (x, y) as two CPU tensors for ``Generator().manual_seed(seed)``, or a failed Result."""
    batch = call_learner(learner_get_batch, data, B, T, torch.Generator().manual_seed(seed), hint="return a pair (x, y)")
    if isinstance(batch, Result):
        return batch
    stacked = as_tensor(batch)
    if stacked is not None and stacked.dim() == 3 and len(stacked) == 2:  # torch.stack([x, y]) unpacks as x, y too
        batch = tuple(stacked)
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        return returned(batch, "your function", "a pair (x, y)", "end with: return x, y")
    pair = []
    for name, t in zip(("x", "y"), batch):
        tensor = as_tensor(t)
        if tensor is None or tuple(tensor.shape) != (B, T):
            shape = tuple(tensor.shape) if tensor is not None else (type(t).__name__ if t is not None else describe(t))
            return failed(f"{name} should be a tensor of shape (batch_size, block_size) = {(B, T)}, got {shape}",
                          "stack one window of block_size tokens per batch row: torch.stack([...])")
        if tensor.dtype != torch.long:
            return failed(f"{name} has dtype {tensor.dtype}; embeddings and cross-entropy need torch.long", "use .long()")
        pair.append(tensor)
    return tuple(pair)


def _windows_problem(data, x, y) -> Result | None:
    """None when y is x shifted by one and every row is a contiguous piece of ``data``, else NOT YET."""
    if not torch.equal(x[:, 1:], y[:, :-1]):
        return failed("y is not x shifted by one token", "y[b, t] is the token that follows x[b, t]: y = data[i+1 : i+1+T]")
    T = x.size(1)
    windows = data.unfold(0, T + 1, 1)  # every (T+1)-token window of data, (N - T, T + 1)
    joined = torch.cat([x, y[:, -1:]], dim=1)  # (B, T+1)
    if not all((windows == row).all(dim=1).any() for row in joined):
        return failed("some rows are not a contiguous piece of data",
                      "pick a start i, then x = data[i : i+T] and y = data[i+1 : i+1+T]")
    return None


def _sampling_problem(learner_get_batch, data, B, T, first) -> Result | None:
    """None when the starts come from the generator and cover the valid range, else NOT YET.

    Three properties, whatever the exact draws: the same seed gives the same batch (the generator is
    used), another seed gives another batch (it is not ignored), and over many rows the starts reach
    both ends of 0 .. len(data) - T - 1 (no part of the data is left out).
    """
    again = _batch(learner_get_batch, data, B, T, 1)
    if isinstance(again, Result):
        return again
    if not all(torch.equal(a, b) for a, b in zip(first, again)):
        return failed("the same seeded generator gave two different batches",
                      "draw only from the generator you are given: " + _RANDINT_HINT)
    others = [_batch(learner_get_batch, data, B, T, seed) for seed in (2, 3, 4)]
    for other in others:
        if isinstance(other, Result):
            return other
    if all(torch.equal(first[0], other[0]) for other in others):
        return failed("your batches are the same whatever the generator's seed: the generator is not used",
                      _RANDINT_HINT)
    positions = torch.arange(len(data))  # each token is its own position, so a window's first token is its start
    starts = []
    for seed in range(5, 13):  # 8 batches of 64 rows
        batch = _batch(learner_get_batch, positions, 64, T, seed)
        if isinstance(batch, Result):
            return batch
        problem = _windows_problem(positions, *batch)
        if problem is not None:
            return problem
        starts.append(batch[0][:, 0])
        steps = starts[-1].diff()
        if (steps == steps[0]).all():
            return failed(f"the rows of a batch are not drawn independently: their starts go up in steps of "
                          f"{steps[0].item()} ({', '.join(map(str, starts[-1][:4].tolist()))}, ...)",
                          "draw one random start per row: " + _RANDINT_HINT)
    starts, last = torch.cat(starts), len(data) - T - 1
    if starts.min() > 0.1 * last or starts.max() < 0.9 * last or starts.unique().numel() < 50:
        return failed(f"over 512 rows your starts only span {starts.min().item()} .. {starts.max().item()} "
                      f"({starts.unique().numel()} different ones); every start from 0 to {last} should be possible",
                      _RANDINT_HINT)
    return None


@with_reference(get_batch)
def check_get_batch(learner_get_batch: Callable[[torch.Tensor, int, int, torch.Generator], tuple]) -> Result:
    """``learner_get_batch(data, batch_size, block_size, generator) -> (x, y)`` must return
    LongTensor[B, T] windows of ``data`` with y = x shifted by one, with starts drawn from the generator
    over every valid position (not necessarily the same draws as ``minigpt.data.get_batch``)."""
    data = torch.randint(0, 50, (300,), generator=torch.Generator().manual_seed(0))
    B, T = 4, 8
    first = _batch(learner_get_batch, data, B, T, 1)
    if isinstance(first, Result):
        return first
    problem = _windows_problem(data, *first)
    if problem is not None:
        return problem
    want_x, want_y = get_batch(data, B, T, torch.Generator().manual_seed(1))
    if torch.equal(first[0], want_x) and torch.equal(first[1], want_y):
        return passed("your batches are exactly minigpt.data.get_batch's: B windows of T tokens, targets shifted by one")
    problem = _sampling_problem(learner_get_batch, data, B, T, first)
    if problem is not None:
        return problem
    return passed("your batches are right: B windows of T tokens, targets shifted by one, starts drawn from the "
                  "generator over the whole text (other draws than minigpt.data.get_batch, which is fine)")


def best_step(history: Sequence[dict]) -> int:
    """Early stopping: the step of the evaluation with the lowest val loss, the checkpoint worth keeping.

    ``history`` is what ``Trainer.fit`` returns, one dict per logged step; only evaluation rows have a
    ``val_loss``. On a tie the earlier step wins: a later equal loss is no improvement.
    """
    evaluations = [row for row in history if row.get("val_loss") is not None]
    return min(evaluations, key=lambda row: row["val_loss"])["step"]


def _history(val_losses: Sequence[float], every: int = 30) -> list[dict]:
    """A history like Trainer.fit's: a row per 10 steps, with val_loss (and eval_train_loss) every ``every``.
    The train loss keeps falling, so an answer that reads it (not val_loss) picks the last step."""
    rows = []
    for k, val in enumerate(val_losses):
        step = (k + 1) * every
        for s in range(step - every + 10, step, 10):
            rows.append({"step": s, "train_loss": 3.0 - s / 200, "lr": 1e-3})
        rows.append({"step": step, "train_loss": 3.0 - step / 200, "lr": 1e-3, "val_loss": val,
                     "eval_train_loss": 2.9 - step / 200})
    return rows


_BEST_CASES = (
    ("val loss falls, then rises", (2.9, 2.4, 2.1, 1.98, 2.05, 2.2, 2.4)),
    ("val loss is still falling at the end", (2.9, 2.5, 2.3, 2.2)),
    ("first evaluation is the best", (1.9, 2.0, 2.1)),
    ("lowest val loss comes twice", (2.5, 2.1, 2.3, 2.1, 2.4)),
)


def _best_step_hint(got, history, want) -> str:
    """Name the usual mistake behind a wrong step."""
    evaluations = [row for row in history if "val_loss" in row]
    vals = [row["val_loss"] for row in evaluations]
    lowest = min(vals)
    if got in (vals.index(lowest), history.index(evaluations[vals.index(lowest)])):
        return "that is the row's position in the list; return its 'step' value: row['step']."
    if abs(got - lowest) < 1e-9:
        return "that is the lowest val loss itself; return the step it was measured at: row['step']."
    if got == max(evaluations, key=lambda row: row["val_loss"])["step"]:
        return "that is the HIGHEST val loss: take the min, not the max."
    if got == history[-1]["step"]:
        return "that is the last step; early stopping keeps the step where the VAL loss was lowest, " \
               "which is often earlier (the model overfits after it)."
    ties = [row["step"] for row in evaluations if row["val_loss"] == lowest]
    if len(ties) > 1 and got in ties:
        return "on a tie keep the EARLIER step: a later equal val loss is no improvement (use <, not <=)."
    return ("skip the rows without a 'val_loss' (training steps), then take the row with the lowest "
            "row['val_loss']: min(rows, key=lambda row: row['val_loss'])['step'].")


@with_reference(best_step)
def check_best_step(learner_best_step: Callable[[Sequence[dict]], int]) -> Result:
    """``learner_best_step(history) -> step`` must pick the evaluation with the lowest val loss (the first on
    a tie), on histories shaped like ``Trainer.fit``'s: training rows without val_loss between the evaluations."""
    for what, val_losses in _BEST_CASES:
        history = _history(val_losses)
        got = call_learner(learner_best_step, [dict(row) for row in history], name=f"when the {what}, your function",
                           hint="only some rows have a 'val_loss': row.get('val_loss') is None for the others")
        got = number_answer(got, f"when the {what}, your function", integer=True,
                            hint="return the step number, an int: row['step']")
        if isinstance(got, Result):
            return got
        want = best_step(history)
        if got != want:
            return failed(f"when the {what} (val losses {', '.join(f'{v:.2f}' for v in val_losses)} at steps "
                          f"30, 60, ...) you picked step {got}; the lowest val loss is at step {want}.",
                          _best_step_hint(got, history, want))
    return passed("you keep the checkpoint with the lowest val loss: early stopping at the right step.")
