"""FlashAttention's idea on a CPU: causal attention computed tile by tile with an online softmax.

Softmax attention normally builds the whole score matrix [B, H, T, T], then its softmax, then
weights @ v. FlashAttention (Dao et al., 2022) never stores it. It walks over the keys in tiles
of ``tile_size`` keys and keeps, for every query, three running quantities:

    m    [B, H, T, 1]  the largest score seen so far          (the "running max")
    l    [B, H, T, 1]  the sum of exp(score - m) so far       (the "running sum")
    acc  [B, H, T, D]  the sum of exp(score - m) * v so far

When a new tile raises the max from m to m_new, everything accumulated so far was scaled by
exp(-m) and must be scaled by exp(-m_new) instead: multiply l and acc by exp(m - m_new). After
the last tile, acc / l is exactly softmax(scores) @ v. Subtracting the max keeps every exp()
at most 1, so large scores never overflow.

Memory: the largest temporary is one tile of scores [B, H, T, tile_size], so memory grows as
T instead of T². (A tile, not a "block": ``block_size`` is the model's context length everywhere else.)
The real kernel also tiles the queries so every tile fits in the GPU's on-chip
memory, and fuses everything into one kernel; the arithmetic is the same as here.
"""

from __future__ import annotations

import math

import torch

from minigpt.arguments import require_int


def flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, tile_size: int = 64) -> torch.Tensor:
    """Causal attention, q, k, v [B, H, T, D] -> [B, H, T, D], one tile of ``tile_size`` keys at a time.

    Equal to softmax(q·kᵀ/√D + causal mask) @ v (to float rounding, about 1e-6 in float32).
    """
    require_int(tile_size, "tile_size", minimum=1)
    B, H, T, D = q.shape
    scale = 1.0 / math.sqrt(D)
    m = torch.full((B, H, T, 1), float("-inf"), dtype=q.dtype, device=q.device)
    l = torch.zeros(B, H, T, 1, dtype=q.dtype, device=q.device)
    acc = torch.zeros(B, H, T, D, dtype=q.dtype, device=q.device)
    query_pos = torch.arange(T, device=q.device)[:, None]  # [T, 1]
    for start in range(0, k.size(2), tile_size):
        k_j, v_j = k[:, :, start : start + tile_size], v[:, :, start : start + tile_size]
        scores = q @ k_j.transpose(-2, -1) * scale  # [B, H, T, b]: one tile of the score matrix
        key_pos = torch.arange(start, start + k_j.size(2), device=q.device)[None, :]  # [1, b]
        scores = scores.masked_fill(key_pos > query_pos, float("-inf"))  # causal: no key after the query
        m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))
        p = torch.exp(scores - m_new)  # [B, H, T, b], every entry <= 1
        correction = torch.exp(m - m_new)  # rescale what was accumulated under the old max
        l = l * correction + p.sum(dim=-1, keepdim=True)
        acc = acc * correction + p @ v_j
        m = m_new
    return acc / l
