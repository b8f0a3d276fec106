"""One transformer block: attention (tokens talk to each other), then an MLP (each token thinks alone).

Each sublayer is wrapped in a residual connection and a normalisation, in one of two orders:

    pre-norm  (GPT-2 and later):          x = x + sublayer(norm(x))
    post-norm (original Transformer):     x = norm(x + sublayer(x))

Pre-norm keeps an untouched "residual stream" from the embeddings to the output, which is why
deep pre-norm models train without warm-up tricks. A decoder block of a ``Seq2Seq`` model has a
third sublayer between the two: cross-attention to the encoder output.
"""

from __future__ import annotations

from torch import nn

from minigpt.attention import Attention, CrossAttention
from minigpt.hooks import name_point
from minigpt.mlp import make_mlp
from minigpt.norm import make_norm


class Block(nn.Module):
    """x [B, T, C] -> [B, T, C]. Attribute names follow GPT-2 (ln_1, attn, ln_2, mlp).

    ``name`` is the block's hook point (default ``blocks.{layer_idx}``; a Seq2Seq names its stacks
    ``encoder.i`` and ``decoder.i``); its sublayers' points are named after it."""

    def __init__(self, config, layer_idx: int = 0, cross_attention: bool = False, *, name: str | None = None):
        super().__init__()
        name = f"blocks.{layer_idx}" if name is None else name
        name_point(self, name)
        self.prenorm = config.prenorm
        self.ln_1 = make_norm(config)
        self.attn = Attention(config, layer_idx, name=f"{name}.attn")
        if cross_attention:
            self.ln_cross = make_norm(config)
            self.cross_attn = CrossAttention(config, layer_idx, name=f"{name}.cross_attn")
        self.ln_2 = make_norm(config)
        self.mlp = name_point(make_mlp(config), f"{name}.mlp")

    def forward(self, x, *, bias=None, rope=None, cache=None, memory=None, memory_bias=None):
        """bias/rope/cache: see ``Attention.forward``; memory [B, S, C] + memory_bias: the encoder output."""
        x = self._residual(x, self.ln_1, lambda h: self.attn(h, bias=bias, rope=rope, cache=cache))
        if memory is not None:
            x = self._residual(x, self.ln_cross, lambda h: self.cross_attn(h, memory, bias=memory_bias))
        return self._residual(x, self.ln_2, self.mlp)

    def _residual(self, x, norm, sublayer):
        if self.prenorm:
            return x + sublayer(norm(x))
        return norm(x + sublayer(x))
