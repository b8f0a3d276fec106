"""Normalisation layers: keep the scale of the residual stream under control.

LayerNorm (GPT-2): subtract the mean, divide by the standard deviation, then scale (and shift).
RMSNorm (LLaMA):   skip the mean; divide by the root-mean-square, then scale. Cheaper, works as well.
Both act on the last dimension: x [..., C] -> [..., C].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's nn.LayerNorm always has one)."""

    def __init__(self, ndim: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None
        self.eps = eps

    @classmethod
    def from_config(cls, config) -> "LayerNorm":
        return cls(config.n_embd, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) * weight (Zhang & Sennrich, 2019)."""

    def __init__(self, ndim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.eps = eps

    @classmethod
    def from_config(cls, config) -> "RMSNorm":
        return cls(config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


NORMS = {"layernorm": LayerNorm, "rmsnorm": RMSNorm}


def make_norm(config) -> nn.Module:
    """The normalisation layer ``config.norm`` names, over n_embd features."""
    return NORMS[config.norm].from_config(config)
