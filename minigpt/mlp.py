"""The feed-forward (MLP) sublayer: each token on its own, expand, apply a non-linearity, project back.

- ``MLP``    (GPT-2): C -> 4C -> GELU -> C (``mlp_ratio`` = 4; a smaller ratio is a cheaper MLP).
- ``SwiGLU`` (PaLM, LLaMA): C -> two projections a, b of size ``swiglu_hidden(C)`` -> silu(a) * b -> C.
  The gate doubles the input projection, so the hidden size is shrunk to ~2/3·ratio·C (8/3·C for
  ratio 4) to keep the parameter count of the GELU MLP (rounded up to a multiple of 64 for fast matmuls).
- ``MoE`` (minigpt/moe.py): many GELU MLPs, each token routed to a few of them.
All map x [B, T, C] -> [B, T, C]; ``MLPS`` maps each ``GPTConfig.mlp`` name to what builds it.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """GPT-2's MLP. GELU uses the tanh approximation GPT-2 was trained with (needed to match its logits)."""

    def __init__(self, config):
        super().__init__()
        hidden = config.mlp_ratio * config.n_embd
        self.c_fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


def swiglu_hidden(n_embd: int, mlp_ratio: int = 4) -> int:
    """2/3 · mlp_ratio · n_embd rounded up to a multiple of 64 (ratio 4: n_embd=384 -> 1024, 64 -> 192)."""
    return 64 * math.ceil(2 * mlp_ratio * n_embd / 3 / 64)


class SwiGLU(nn.Module):
    """Gated MLP: c_proj(silu(x W_gate) * (x W_up)), with W_gate and W_up fused into c_fc."""

    def __init__(self, config):
        super().__init__()
        hidden = swiglu_hidden(config.n_embd, config.mlp_ratio)
        self.c_fc = nn.Linear(config.n_embd, 2 * hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        gate, up = self.c_fc(x).chunk(2, dim=-1)
        return self.dropout(self.c_proj(F.silu(gate) * up))


def _moe(config) -> nn.Module:
    from minigpt.moe import MoE  # here, not at the top: a MoE is made of MLPs, so moe.py imports this module

    return MoE(config)


MLPS = {"gelu": MLP, "swiglu": SwiGLU, "moe": _moe}


def make_mlp(config) -> nn.Module:
    """The feed-forward layer ``config.mlp`` names."""
    return MLPS[config.mlp](config)
