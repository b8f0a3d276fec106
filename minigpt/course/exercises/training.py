"""Checks for notebook 06 (training a mini GPT).

``check_get_batch(fn)``       Exercise 1: cut a batch of (input, target) windows from the token stream.
``check_gpt_forward(fn)``     Exercise 2: the model's forward pass and its loss, against ``GPT`` on the same weights.
``check_training_step(fn)``   Exercise 3: one optimiser step by hand (zero_grad, forward, backward, clip, step).

A batch is judged by what makes it right, not by one particular way of drawing it: any sampler
that draws its start positions from the generator it is given, over every valid start, is fine
(``torch.randint(len(data) - T, ...)`` as ``minigpt.data.get_batch`` does, or ``len(data) - T - 1``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F

from minigpt.data import get_batch
from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import (
    as_tensor,
    call_learner,
    close,
    describe,
    diagnose,
    number_answer,
    returned,
    tensor_answer,
)

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


# -- the model's forward pass and its loss -------------------------------------------------------------------------


def gpt_forward(idx: torch.Tensor, model, block, targets: torch.Tensor | None = None):
    """The GPT's forward pass with ``model``'s weights: ids [B, T] -> (logits [B, T, V], loss or None).

    Token embeddings plus the learned position of each of the T positions, ``block(x, b)`` for each block b
    of ``model.transformer.h`` in turn, the final norm, the head; the loss is the mean cross-entropy of
    the logits against ``targets`` [B, T], the next token at every position (y of a batch: already shifted)."""
    t = model.transformer
    x = t.wte(idx) + t.pos.weight[: idx.size(1)]  # [B, T, C] + [T, C]
    for b in t.h:
        x = block(x, b)
    logits = model.lm_head(t.ln_f(x))  # [B, T, V]
    if targets is None:
        return logits, None
    return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def forward_model(seed: int = 0):
    """The small GPT that checks ``gpt_forward``: learned positions, LayerNorm, GELU MLP, no dropout, random weights
    (the final norm's too, so that leaving it out shows)."""
    from minigpt.config import GPTConfig
    from minigpt.model import GPT

    with torch.random.fork_rng():  # leave the notebook's random numbers where they were
        torch.manual_seed(seed)
        model = GPT(GPTConfig(vocab_size=29, block_size=16, n_layer=2, n_head=4, n_embd=32, pos="learned",
                              norm="layernorm", mlp="gelu", bias=True, dropout=0.0)).eval()
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        model.transformer.ln_f.weight.copy_(torch.rand(32, generator=g) + 0.5)
        model.transformer.ln_f.bias.copy_(torch.randn(32, generator=g) * 0.5)
    return model


_FORWARD_HINT = ("x = model.transformer.wte(idx) + model.transformer.pos.weight[:T]; x = block(x, b) for each b in "
                 "model.transformer.h; logits = model.lm_head(model.transformer.ln_f(x)); loss = "
                 "F.cross_entropy(logits.flatten(0, 1), targets.flatten()).")


def _forward_mistakes(model, idx, targets):
    """(logits, loss, hint) of the usual wrong forward passes."""
    t = model.transformer

    def run(x, norm=True):
        for b in t.h:
            x = b(x)
        return model.lm_head(t.ln_f(x) if norm else x)

    loss = lambda logits, y: F.cross_entropy(logits.flatten(0, 1), y.flatten())  # noqa: E731
    embedded = t.wte(idx) + t.pos.weight[: idx.size(1)]
    no_positions, no_norm, right = run(t.wte(idx)), run(embedded, norm=False), run(embedded)
    return [
        (no_positions, loss(no_positions, targets), "add the positions: x = model.transformer.wte(idx) + "
         "model.transformer.pos.weight[:T]; without them the blocks cannot tell the order of the tokens."),
        (no_norm, loss(no_norm, targets), "apply the final norm before the head: "
         "logits = model.lm_head(model.transformer.ln_f(x)); a pre-norm stack never normalises the stream itself."),
        (right, loss(right[:, :-1], targets[:, 1:]), "the targets are already shifted (y[t] is the token after "
         "x[t]): compare logits[:, t] with targets[:, t], every position, without shifting again."),
        (right, F.cross_entropy(right.softmax(-1).flatten(0, 1), targets.flatten()), "pass the logits themselves to "
         "F.cross_entropy: it applies log-softmax itself, so a softmax before it is applied twice."),
    ]


def _forward_answer(out, shape, with_targets: bool):
    """(logits tensor, loss float or None, tolerance) from the learner's return value, or a failed Result."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return returned(out, "your gpt_forward", "a pair (logits, loss)",
                        "end with: return logits, loss (loss is None when targets is None), as model(idx, targets) does.")
    answer = tensor_answer(out[0], shape, "the logits", "one score per vocabulary entry at every position: [B, T, V].")
    if isinstance(answer, Result):
        return answer
    logits, atol = answer
    if not with_targets:
        return (logits, None, atol) if out[1] is None else returned(
            out[1], "the loss without targets", "None", "return logits, None when targets is None.")
    loss = number_answer(out[1], "the loss", hint="return the mean cross-entropy, a number (a 0-d tensor is fine).")
    return loss if isinstance(loss, Result) else (logits, float(loss), atol)


@with_reference(gpt_forward)
def check_gpt_forward(learner_forward: Callable, *, seed: int = 0) -> Result:
    """Check ``learner_forward(idx, model, block, targets=None) -> (logits, loss)`` against ``model(idx, targets)``
    on a small GPT (logits to 1e-5, loss to 1e-4), with our block (``b(x)``) passed in, with and without targets."""
    model = forward_model(seed)
    g = torch.Generator().manual_seed(seed + 1)
    idx, targets = torch.randint(0, 29, (2, 11), generator=g), torch.randint(0, 29, (2, 11), generator=g)
    with torch.no_grad():
        want_logits, want_loss = model(idx, targets)
        for with_targets in (False, True):
            out = call_learner(learner_forward, idx.clone(), model, lambda x, b: b(x),
                               targets.clone() if with_targets else None, name="your gpt_forward")
            answer = _forward_answer(out, want_logits.shape, with_targets) if not isinstance(out, Result) else out
            if isinstance(answer, Result):
                return answer
            logits, loss, atol = answer
            wrong = _forward_mistakes(model, idx, targets)
            if not close(logits, want_logits, atol):
                return diagnose(logits, want_logits, [(w, hint) for w, _, hint in wrong], _FORWARD_HINT, atol=atol)
            if with_targets and abs(loss - want_loss.item()) > max(1e-4, 10 * atol):
                known = next((hint for w, wl, hint in wrong if close(w, want_logits) and abs(loss - wl.item()) < 1e-4),
                             "loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten()): the mean over all B*T "
                             "predictions.")
                return failed(f"the logits are right, but your loss is {loss:.4f} and the model's is "
                              f"{want_loss.item():.4f}.", known)
    return passed("your forward pass matches minigpt's GPT: the logits to 1e-5 and the loss to 1e-4.")
