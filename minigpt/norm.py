"""Normalisation layers: keep the scale of the residual stream under control.

LayerNorm (GPT-2): subtract the mean, divide by the standard deviation, then scale (and shift).
RMSNorm (LLaMA):   skip the mean; divide by the root-mean-square, then scale. Cheaper, works as well.
Both act on the last dimension: x [..., C] -> [..., C].

Both are torch's own (``nn.LayerNorm``, ``nn.RMSNorm``: one fused kernel each), with the epsilons of the
models they come from. Their parameters are ``weight`` (and ``bias``), as GPT-2's checkpoints name them.
"""

from __future__ import annotations

from torch import nn

LAYER_NORM_EPS = 1e-5  # GPT-2's (and torch's default)
RMS_NORM_EPS = 1e-6  # LLaMA's; torch's default would be the dtype's machine epsilon (1.2e-7 in float32)

LayerNorm = nn.LayerNorm  # (x - mean) / sqrt(var + eps) * weight + bias; bias=False leaves out the shift


class RMSNorm(nn.RMSNorm):
    """x / sqrt(mean(x²) + eps) * weight (Zhang & Sennrich, 2019): torch's, with LLaMA's eps as the default."""

    def __init__(self, ndim: int, eps: float = RMS_NORM_EPS):
        super().__init__(ndim, eps=eps)


NORMS = {
    "layernorm": lambda config: LayerNorm(config.n_embd, eps=LAYER_NORM_EPS, bias=config.bias),
    "rmsnorm": lambda config: RMSNorm(config.n_embd),
}


def make_norm(config) -> nn.Module:
    """The normalisation layer ``config.norm`` names, over n_embd features."""
    return NORMS[config.norm](config)
