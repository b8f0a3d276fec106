"""Looking inside: record activations during forward passes, through the model's hook points.

    with capture(model) as cap:
        model(idx)
    cap.attention[layer]  # [B, H, T, T] weights after RoPE / ALiBi / masks
    cap.residual[i]       # [B, T, C]: [0] = embeddings, [i+1] = after block i (logit lens)

    with capture(model, "blocks.*.mlp", "blocks.1.attn.head") as cap:
        model(idx)
    cap["blocks.0.mlp"]   # one [B, T, C] per forward pass

Any point of ``minigpt.hooks.hook_points(model)`` can be recorded; with none named, a capture
records the attention weights of every layer and the residual stream. It uses ordinary
PyTorch forward hooks, removed when the ``with`` ends, so captures nest and outside them the
model pays nothing. While the weights are recorded, attention takes its explicit path (the
fused kernel never materialises them). Captured tensors are detached from the graph.

With ``minigpt.hooks.patch`` on the same point, the one opened first runs first: a capture opened
before the patch records the value the model computed, a capture opened inside it the patched one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import torch

from minigpt.hooks import find_points, hook_points

# the points a capture records when none are named, and the list of ``Captured`` each goes to
DEFAULT_POINTS = (
    (r"embed|blocks\.\d+", "residual"),
    (r"(blocks|decoder)\.\d+\.attn\.weights", "attention"),
    (r"decoder\.\d+\.cross_attn\.weights", "cross_attention"),
    (r"encoder\.\d+\.attn\.weights", "encoder_attention"),
)


@dataclass
class Captured:
    """What one or more forward passes recorded, in the order the model computed it."""

    attention: list = field(default_factory=list)  # per (decoder) layer [B, H, T, T]
    residual: list = field(default_factory=list)  # n_layer + 1 tensors [B, T, C] (GPT only)
    cross_attention: list = field(default_factory=list)  # Seq2Seq decoder -> encoder [B, H, T, S]
    encoder_attention: list = field(default_factory=list)  # Seq2Seq encoder self-attention [B, H, S, S]
    points: dict = field(default_factory=lambda: defaultdict(list))  # {hook-point name: one tensor per pass}

    def __getitem__(self, name: str) -> list:
        if name not in self.points:
            raise KeyError(f"{name!r} was not recorded; recorded points: {sorted(self.points) or 'none yet'}")
        return self.points[name]


def _recorder(lists):
    def record(_module, _inputs, output):
        for recorded in lists:
            recorded.append(output.detach())
    return record


@contextmanager
def capture(model, *points: str):
    """Record the named hook points (exact names or globs like "blocks.*.mlp") of every forward pass
    inside the ``with``; with none named, the attention weights and the residual stream."""
    cap = Captured()
    if points:
        chosen = {name: module for pattern in points for name, module in find_points(model, pattern).items()}
        targets = {name: (module, [cap.points[name]]) for name, module in chosen.items()}
    else:
        targets = {}
        for name, module in hook_points(model).items():
            for pattern, group in DEFAULT_POINTS:
                if re.fullmatch(pattern, name):
                    targets[name] = (module, [cap.points[name], getattr(cap, group)])
    with ExitStack() as hooks:
        for module, lists in targets.values():
            hooks.callback(module.register_forward_hook(_recorder(lists)).remove)
        yield cap


def captured_to_numpy(cap: Captured, batch_index: int = 0) -> dict:
    """One sequence of a capture as float32 numpy: attention [L, H, T, T] and residual [L+1, T, C]."""
    if not cap.attention:
        raise ValueError("nothing was captured: run the model inside `with capture(model) as cap:` first")

    def stack(tensors):
        return torch.stack([t[batch_index] for t in tensors]).float().cpu().numpy()

    return dict(attention=stack(cap.attention), residual=stack(cap.residual) if cap.residual else None)


def logit_lens(model, residual: torch.Tensor) -> torch.Tensor:
    """[B, T, C] residual stream -> [B, T, V] logits, read with the model's own final norm and unembedding.

    Applied to ``cap.residual[i]`` it shows what the model would predict if it stopped after block i;
    on the last entry it is exactly the model's output.
    """
    return model.lm_head(model.transformer.ln_f(residual))


def attention_for_widgets(model, tokenizer, text: str) -> dict:
    """Run ``text`` through ``model`` and return dict(tokens=list[str], weights=float32 array [L, H, T, T])."""
    ids = tokenizer.encode(text)
    block_size = model.config.block_size
    if not ids:
        raise ValueError("text encodes to no tokens; give at least one character")
    if len(ids) > block_size:
        raise ValueError(f"text is {len(ids)} tokens but the model sees at most block_size={block_size}; shorten it")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), capture(model) as cap:
            model(torch.tensor([ids], device=device))
    finally:
        model.train(was_training)
    return dict(tokens=[tokenizer.token_str(i) for i in ids], weights=captured_to_numpy(cap)["attention"])
