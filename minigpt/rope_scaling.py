"""Longer contexts for a RoPE model without retraining from scratch: position interpolation and NTK scaling.

A RoPE model trained on windows of T tokens has only seen rotation angles p·θ_i for p < T. Run it
on s·T tokens and its slowest dimension pairs meet angles they never saw. Two classic fixes:

- **position interpolation** (Chen et al., 2023): use position p / s, so every angle stays inside the
  trained range. It also squeezes short distances by s (neighbours end up 1/s apart), which the model
  has never seen either: it needs some fine-tuning at the new length to work.
- **NTK-aware scaling** (bloc97, 2023): raise the base to base·s^(D/(D-2)). The fastest pairs (local
  order) are almost unchanged and the slowest are slowed down by s, so long distances map into the
  trained range. It often works without any fine-tuning.

``extend_rope(model, block_size, method)`` returns a copy of a ``pos="rope"`` GPT with a longer window.
"""

from __future__ import annotations

import copy

from minigpt.positional import rope_frequencies

METHODS = ("none", "pi", "ntk")


def extend_rope(model, block_size: int, method: str = "ntk", trained_length: int | None = None):
    """A copy of a RoPE ``model`` that runs on ``block_size`` tokens.

    method: "none" (plain RoPE, angles beyond the trained range), "pi" (position interpolation) or
    "ntk" (NTK-aware base). The scale is s = block_size / trained_length (default: the model's own
    block_size). The weights are shared in value, not in memory: the original is untouched.
    """
    config = model.config
    if config.pos != "rope":
        raise ValueError(f"extend_rope needs a model with pos='rope', got pos={config.pos!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    trained = config.block_size if trained_length is None else trained_length
    s = block_size / trained
    D = config.head_dim
    base = config.rope_base * s ** (D / (D - 2)) if method == "ntk" and s > 1 else config.rope_base
    longer = copy.deepcopy(model)
    longer.config = config.replace(block_size=block_size, rope_base=base)
    interpolation = s if method == "pi" and s > 1 else 1  # "pi" gives position p the angles of p / s
    cos, sin = rope_frequencies(D, block_size, base, position_scale=interpolation)
    device = model.transformer.pos.cos.device
    longer.transformer.pos.cos, longer.transformer.pos.sin = cos.to(device), sin.to(device)
    return longer
