"""Positional information: how a transformer knows *where* each token is.

Attention by itself is blind to order (permute the tokens and the outputs are permuted the
same way), so every GPT adds position somewhere. Five choices, ``GPTConfig.pos``:

- ``"learned"``    a trainable vector per position, added to the token embedding (GPT-2).
- ``"sinusoidal"`` a fixed table of sines and cosines, added to the token embedding
                   ("Attention Is All You Need", section 3.5).
- ``"rope"``       rotate each (query, key) pair of dimensions by an angle proportional to the
                   position, so q·k depends only on the *offset* between positions (RoFormer).
- ``"alibi"``      no embedding at all; add ``-slope * distance`` to the attention scores (ALiBi).
- ``"none"``       nothing (a causal model can still infer position from the mask).

The plain functions below are what the positional-encoding lesson plots; one small module per
kind applies it inside a model, and ``POSITIONS`` maps each name to its module.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_table(T: int, C: int) -> torch.Tensor:
    """The fixed table [T, C]: PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(same angle)."""
    if C % 2:
        raise ValueError(f"sinusoidal positions need an even n_embd, got {C}")
    position = torch.arange(T, dtype=torch.float32)[:, None]  # [T, 1]
    inv_freq = 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float32) / C)  # [C/2]
    table = torch.zeros(T, C)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table


def rope_frequencies(head_dim: int, T: int, base: float = 10000.0,
                     position_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles, each [T, head_dim/2]: angle[p, i] = p / s * base^(-2i/head_dim).

    ``position_scale`` s > 1 squeezes s·T positions into the angles of T (position interpolation, see
    minigpt/rope_scaling.py); the default 1 is plain RoPE.
    """
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # [D/2]
    positions = torch.arange(T, dtype=torch.float32) / position_scale  # [T]
    angles = positions[:, None] * inv_freq  # [T, D/2]
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [..., T, D] by the angles in cos/sin [T, D/2].

    Dimension i is paired with dimension i + D/2 (the "rotate half" layout of GPT-NeoX and
    LLaMA; the paper pairs neighbours 2i, 2i+1 — same idea, the dimensions are just permuted).
    """
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def alibi_slopes(n_head: int) -> torch.Tensor:
    """One slope per head [H], a geometric sequence as in the ALiBi paper (Press et al., 2022).

    For H a power of two the slopes are 2^(-8/H), 2^(-16/H), ..., 2^(-8) (H=8: 1/2, 1/4, ..., 1/256).
    Otherwise take the slopes of the closest smaller power of two n, then every other slope of 2n.
    """

    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    closest = 2 ** math.floor(math.log2(n_head))
    slopes = power_of_two(closest) + power_of_two(2 * closest)[0::2][: n_head - closest]
    return torch.tensor(slopes)


def alibi_bias(n_head: int, T_q: int, T_k: int | None = None, slopes: torch.Tensor | None = None) -> torch.Tensor:
    """The ALiBi score bias [H, T_q, T_k]: -slope_h * |i - j| (queries are the last T_q of T_k positions)."""
    T_k = T_q if T_k is None else T_k
    slopes = alibi_slopes(n_head) if slopes is None else slopes
    q_pos = torch.arange(T_k - T_q, T_k, device=slopes.device)[:, None]
    k_pos = torch.arange(T_k, device=slopes.device)[None, :]
    distance = (q_pos - k_pos).abs().to(slopes.dtype)  # [T_q, T_k]; causal masking hides j > i
    return -slopes[:, None, None] * distance


class Positions(nn.Module):
    """No positional information (``"none"``), and what every kind of positions can do.

    A model calls ``forward`` on the token embeddings, hands ``rope`` to attention and adds
    ``alibi`` to its scores; each kind below overrides the one it changes. Tables are
    non-persistent buffers (rebuilt from the config, never saved in a checkpoint).
    """

    def __init__(self, config):
        super().__init__()

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token embeddings x [B, T, C] at positions start..start+T-1 -> x with positions added."""
        return x

    def rope(self, start: int, T: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(cos, sin) [T, head_dim/2] to rotate queries and keys at positions start..start+T-1, or None."""
        return None

    def alibi(self, T_q: int, T_k: int) -> torch.Tensor | None:
        """A bias [H, T_q, T_k] for the attention scores, or None."""
        return None


class LearnedPositions(Positions):
    """A trainable vector per position, added to the token embedding (GPT-2)."""

    def __init__(self, config):
        super().__init__(config)
        self.weight = nn.Parameter(torch.randn(config.block_size, config.n_embd) * 0.02)

    def forward(self, x, start=0):
        return x + self.weight[start : start + x.size(1)]


class SinusoidalPositions(Positions):
    """The fixed sine/cosine table, added to the token embedding."""

    def __init__(self, config):
        super().__init__(config)
        self.register_buffer("table", sinusoidal_table(config.block_size, config.n_embd), persistent=False)

    def forward(self, x, start=0):
        return x + self.table[start : start + x.size(1)].to(x.dtype)


class RotaryPositions(Positions):
    """RoPE: nothing added to the embedding; attention rotates its queries and keys."""

    def __init__(self, config):
        super().__init__(config)
        cos, sin = rope_frequencies(config.head_dim, config.block_size, config.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def rope(self, start, T):
        return self.cos[start : start + T], self.sin[start : start + T]


class ALiBiPositions(Positions):
    """ALiBi: nothing added to the embedding; a distance penalty per head on the attention scores."""

    def __init__(self, config):
        super().__init__(config)
        self.register_buffer("slopes", alibi_slopes(config.n_head), persistent=False)

    def alibi(self, T_q, T_k):
        return alibi_bias(len(self.slopes), T_q, T_k, self.slopes)


POSITIONS = {"learned": LearnedPositions, "sinusoidal": SinusoidalPositions, "rope": RotaryPositions,
             "alibi": ALiBiPositions, "none": Positions}


def make_positions(config) -> Positions:
    """The positions ``config.pos`` names."""
    return POSITIONS[config.pos](config)
