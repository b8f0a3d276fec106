"""Hook points: named places where activations pass, to read them or to change them.

Every model of the course exposes the same names (``hook_points(model)`` lists them):

    embed                      token + position embeddings        [B, T, C]   (GPT)
    blocks.i                   the residual stream after block i   [B, T, C]
    blocks.i.attn              what attention adds to the stream   [B, T, C]
    blocks.i.attn.scores       Q·Kᵀ/√D plus masks, before softmax  [B, H, T, T]
    blocks.i.attn.weights      the attention pattern               [B, H, T, T]
    blocks.i.attn.head         each head's output, before merging  [B, H, T, D]
    blocks.i.mlp               what the MLP adds to the stream     [B, T, C]

(A ``Seq2Seq`` names its stacks ``encoder.i`` and ``decoder.i``, and a decoder block also has
``decoder.i.cross_attn.*``.) A per-head point takes a head index: ``blocks.1.attn.head.3`` is
head 3's output [B, T, D], ``blocks.0.attn.weights.2`` head 2's pattern [B, T, T].

Each name is given where its point is made (``HookPoint("embed")`` in the GPT, a block's name in
``Block(..., name=)``), so renaming an attribute never renames a public hook. The same activations
in TransformerLens, for readers who know its names (L is a layer):

    minigpt                    TransformerLens                 note
    embed                      blocks.0.hook_resid_pre         TL's hook_embed is the token embedding alone
    blocks.L                   blocks.L.hook_resid_post
    blocks.L.attn              blocks.L.hook_attn_out
    blocks.L.attn.scores       blocks.L.attn.hook_attn_scores  both scaled by 1/√D and masked
    blocks.L.attn.weights      blocks.L.attn.hook_pattern
    blocks.L.attn.head         blocks.L.attn.hook_z            ours [B, H, T, D], TL's [B, T, H, D]
    blocks.L.mlp               blocks.L.hook_mlp_out

They are ordinary PyTorch forward hooks (``Module.register_forward_hook``): on the module that
computes the activation (a block, an attention layer, an MLP) or on a ``HookPoint``, an identity
layer placed where no module ends. ``minigpt.capture`` records with them and ``patch`` changes
an activation:

    with patch(model, "blocks.1.attn.head.3", torch.zeros_like):   # ablate head 3 of layer 1
        logits, _ = model(idx)

Without hooks nothing is installed and the forward pass pays nothing; attention only builds its
[T, T] scores and weights (instead of the fused kernel) while a hook watches them.
"""

from __future__ import annotations

import fnmatch
from contextlib import contextmanager

import torch
from torch import nn

PER_HEAD = ("scores", "weights", "head")  # points whose dim 1 is the head: a ".h" suffix picks one


def name_point(module: nn.Module, name: str) -> nn.Module:
    """Make ``module``'s output the hook point ``name`` (a block, an attention layer or an MLP); returns the module."""
    module.hook_name = name
    return module


class HookPoint(nn.Module):
    """An identity layer that gives an activation its public name, so hooks can read or replace it."""

    def __init__(self, name: str):
        super().__init__()
        name_point(self, name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @property
    def active(self) -> bool:
        """Whether a hook is attached (attention uses this to decide to build its weights)."""
        return bool(self._forward_hooks)


def hook_points(model: nn.Module) -> dict[str, nn.Module]:
    """Every hook point of ``model``, in module order: {name: the module whose output is that activation}."""
    points = {}
    for module in model.modules():
        name = getattr(module, "hook_name", None)
        if name is None:
            continue
        if name in points:
            raise ValueError(f"two modules of {type(model).__name__} are the hook point {name!r}; give each "
                             "block its own name (Block(..., name=...))")
        points[name] = module
    return points


def find_points(model: nn.Module, pattern: str) -> dict[str, nn.Module]:
    """The hook points whose names match ``pattern`` (exact, or a glob such as "blocks.*.mlp")."""
    points = hook_points(model)
    found = {name: module for name, module in points.items() if fnmatch.fnmatchcase(name, pattern)}
    if not found:
        examples = ", ".join(list(points)[:8])
        raise ValueError(f"no hook point matches {pattern!r}; this model has e.g. {examples} "
                         "(list them all with minigpt.hooks.hook_points(model))")
    return found


def _split_head(model: nn.Module, point: str) -> tuple[str, int | None]:
    """"blocks.1.attn.head.3" -> ("blocks.1.attn.head", 3); names without a head index -> (point, None)."""
    name, _, last = point.rpartition(".")
    if last.isdigit() and name.rpartition(".")[2] in PER_HEAD:
        n_head = model.config.n_head
        if int(last) >= n_head:
            raise ValueError(f"{point!r}: head {last} does not exist, the model has heads 0..{n_head - 1}")
        return name, int(last)
    return point, None


@contextmanager
def patch(model: nn.Module, point: str, fn):
    """Inside the ``with``, the activation at ``point`` is replaced by ``fn(activation)``.

    ``point`` is one name from ``hook_points(model)``, optionally with a head index (then ``fn``
    gets and returns that head's slice). Examples of ``fn``: ``torch.zeros_like`` (ablate),
    ``lambda a: clean[:, 3]`` (activation patching: put in what a clean run computed there).
    ``fn`` must return a tensor of the activation's shape and dtype (an int or bool tensor in a
    float model would be cast or fail further on, far from the patch); it gets a copy, so changing
    it in place changes nothing else. Patches nest; each is removed when its ``with`` ends, even on an error.

    Hooks on one point run in the order they were opened, each seeing what the one before returned:
    a ``capture`` opened *before* the patch records the activation as the model computed it, one
    opened *inside* the patch records the patched value::

        with capture(model, "blocks.0.mlp") as before, patch(model, "blocks.0.mlp", torch.zeros_like):
            with capture(model, "blocks.0.mlp") as after:
                model(idx)   # before["blocks.0.mlp"]: the MLP's output; after[...]: zeros
    """
    name, head = _split_head(model, point)
    points = find_points(model, name)
    if len(points) != 1:
        raise ValueError(f"patch changes one point, but {point!r} matches {len(points)}; name one of them")
    (module,) = points.values()

    def replace(_module, _inputs, output):
        target = output if head is None else output[:, head]
        new = fn(target.clone())  # a copy: an in-place fn must not change what an earlier capture recorded
        if not isinstance(new, torch.Tensor) or new.shape != target.shape:
            raise ValueError(f"patch {point!r}: fn must return a tensor shaped {tuple(target.shape)} like its "
                             f"input, got {getattr(new, 'shape', type(new).__name__)}")
        if new.dtype != target.dtype:
            raise ValueError(f"patch {point!r}: fn must return a tensor of the activation's dtype {target.dtype}, "
                             f"got {new.dtype}; e.g. torch.zeros_like(a), or new.to(a.dtype)")
        if head is None:
            return new
        output = output.clone()
        output[:, head] = new
        return output

    handle = module.register_forward_hook(replace)
    try:
        yield
    finally:
        handle.remove()
