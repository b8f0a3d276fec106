"""Checks for notebook 06 (training a mini GPT).

``check_get_batch(fn)``       Exercise 1: cut a batch of (input, target) windows from the token stream.
``check_training_step(fn)``   Exercise 2: one optimiser step by hand (zero_grad, forward, backward, clip, step).
``check_best_step(fn)``       Exercise 3: early stopping, the step whose checkpoint to keep (lowest val loss).

A batch is judged by what makes it right, not by one particular way of drawing it: any sampler
that draws its start positions from the generator it is given, over every valid start, is fine
(``torch.randint(len(data) - T, ...)`` as ``minigpt.data.get_batch`` does, or ``len(data) - T - 1``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch

from minigpt.data import get_batch
from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import as_tensor, call_learner, describe, number_answer, returned

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


# -- Exercise 3: one training step by hand ----------------------------------------------------------------


def training_step(model, optimizer, x, y, grad_clip):
    """One optimiser step on the batch ``x, y`` (LongTensor[B, T] each); returns the loss before the step.

    The five moves of ``Trainer.train_step`` (without its learning-rate schedule, seeds and micro-batches)::

        optimizer.zero_grad()                                   # forget the last step's gradients
        logits, loss = model(x, y)                              # forward: (B, T, V) logits, mean cross-entropy
        loss.backward()                                         # backward: every parameter's .grad
        clip_grad_norm_(model.parameters(), grad_clip)          # scale all gradients down if their norm > grad_clip
        optimizer.step()                                        # move the weights
    """
    optimizer.zero_grad(set_to_none=True)
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach()


_STEP_TOL = 1e-5  # weights and loss, float32: 10x below the smallest slip (a missing zero_grad: 1.3e-4)
_STEP_CLIP = 0.05  # below the gradient norm of both test steps, so the clip always acts
_STEP_LR = 0.5  # plain SGD: every mistake changes the update in proportion, none is hidden by Adam's scaling


def _step_setup(seed: int = 0):
    """A tiny GPT, two batches and an SGD optimiser factory, without touching torch's global RNG."""
    from minigpt.config import GPTConfig
    from minigpt.model import GPT

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT(GPTConfig(vocab_size=17, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0, bias=False))
        g = torch.Generator().manual_seed(seed)
        batches = [tuple(torch.randint(0, 17, (2, 8), generator=g) for _ in range(2)) for _ in range(2)]
    return model, batches


def _sgd(model):
    return torch.optim.SGD(model.parameters(), lr=_STEP_LR)


def _run_variant(model, batches, variant: str):
    """Weights and losses after two steps of ``variant`` (a reference or a usual slip) on a copy of ``model``."""
    model = copy.deepcopy(model)
    optimizer = _sgd(model)
    losses = []
    for x, y in batches:
        if variant != "no zero_grad":
            optimizer.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        if variant == "clip by value":
            torch.nn.utils.clip_grad_value_(model.parameters(), _STEP_CLIP)
        elif variant != "no clip":
            torch.nn.utils.clip_grad_norm_(model.parameters(), _STEP_CLIP)
        optimizer.step()
        losses.append(loss.item())
        if variant == "loss after":
            with torch.no_grad():
                losses[-1] = model(x, y)[1].item()
    return [p.detach().clone() for p in model.parameters()], losses


def _max_diff(a, b) -> float:
    return max((u - v).abs().max().item() for u, v in zip(a, b))


_STEP_ORDER = "zero_grad → forward → backward → clip → step"
_STEP_SLIPS = {
    "no zero_grad": ("your first step is right but the second is not: it matches a step that kept the first step's "
                     "gradients", "call optimizer.zero_grad() first: loss.backward() ADDS to .grad, so without it "
                     "each step also pushes along all the old gradients."),
    "no clip": ("your weights match a step without gradient clipping",
                "after loss.backward() and before optimizer.step(): "
                "torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)."),
    "clip by value": ("your weights match a step that clips each gradient entry on its own (clip_grad_value_)",
                      "clip the NORM of all gradients together: torch.nn.utils.clip_grad_norm_(model.parameters(), "
                      "grad_clip) keeps their direction and only scales them down."),
}


@with_reference(training_step)
def check_training_step(learner_step: Callable) -> Result:
    """``learner_step(model, optimizer, x, y, grad_clip) -> loss`` must do one optimiser step exactly like
    ``training_step``: two steps on a tiny GPT with plain SGD and a clip that acts, compared with the
    reference after each step (weights and the returned loss to 1e-5)."""
    model, batches = _step_setup()
    mine = copy.deepcopy(model)
    optimizer = _sgd(mine)
    start = [p.detach().clone() for p in mine.parameters()]
    want_weights, want_losses = _run_variant(model, batches, "reference")
    for index, (x, y) in enumerate(batches):
        what = f"at step {index + 1}, your function"
        got = call_learner(learner_step, mine, optimizer, x.clone(), y.clone(), _STEP_CLIP, name=what,
                           hint=f"the order is {_STEP_ORDER}; run it on the model of this notebook and read the error.")
        got = number_answer(got, what, hint="return the loss of the forward pass: return loss (or loss.item())")
        if isinstance(got, Result):
            return got
        reference = copy.deepcopy(model)
        ref_weights, ref_losses = _run_variant(reference, batches[: index + 1], "reference")
        weights = [p.detach().clone() for p in mine.parameters()]
        if not all(torch.isfinite(w).all() for w in weights):
            return failed(f"after step {index + 1} your weights contain NaN or inf.", "print loss and the gradient norm.")
        if abs(got - ref_losses[-1]) > _STEP_TOL:
            slip = _run_variant(model, batches[: index + 1], "loss after")[1][-1]
            hint = ("that is the loss AFTER the step; return the loss of the forward pass before optimizer.step()."
                    if abs(got - slip) <= _STEP_TOL else "return the loss that model(x, y) gives: _, loss = model(x, y).")
            return failed(f"at step {index + 1} you returned loss {got:.5f}; the forward pass gives {ref_losses[-1]:.5f}.",
                          hint)
        moved = _max_diff(weights, start if index == 0 else previous)
        if moved == 0.0:
            return failed(f"after step {index + 1} the weights have not changed.",
                          f"the order is {_STEP_ORDER}: optimizer.step() must come after loss.backward(), and "
                          "zero_grad() before the forward pass, not between backward and step.")
        diff = _max_diff(weights, ref_weights)
        if diff > _STEP_TOL:
            for variant, (message, hint) in _STEP_SLIPS.items():
                slip_weights = _run_variant(model, batches[: index + 1], variant)[0]
                if _max_diff(weights, slip_weights) <= _STEP_TOL:
                    return failed(f"{message} (after step {index + 1}, max weight difference {diff:.2g}).", hint)
            return failed(f"after step {index + 1} your weights differ from the reference step's by up to {diff:.2g}.",
                          f"the order is {_STEP_ORDER}, each exactly once, with the optimizer you are given.")
        previous = weights
    return passed(f"your step matches the reference ({_STEP_ORDER}): same loss and same weights to "
                  f"{_STEP_TOL:g} after each of two steps.")
