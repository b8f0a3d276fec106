"""Encoder-decoder (the original Transformer) and masked-LM helpers, built from the GPT's blocks.

- Encoder: bidirectional blocks over the source (every source token sees every other).
- Decoder: causal blocks over the target, each with cross-attention to the encoder output
  ("memory"), then the LM head predicts the next target token.

Encoder-only models (BERT) need no new class: ``GPT(config.replace(causal=False))`` is one,
trained with ``mask_tokens`` (predict the hidden tokens from both sides).

Shapes: src [B, S], tgt [B, T], memory [B, S, C], logits [B, T, V].
"""

from __future__ import annotations

import torch
from torch import nn

from minigpt.block import Block
from minigpt.config import GPTConfig
from minigpt.model import embed, init_gpt2_style, next_token_loss
from minigpt.norm import make_norm
from minigpt.positional import make_positions
from minigpt.targets import IGNORE_INDEX


def mask_tokens(idx, mask_id: int, p: float = 0.15, generator=None):
    """Masked-LM batch: hide each token with probability p -> (inputs, targets) [B, T].

    inputs has ``mask_id`` at the hidden positions; targets has the original token there and
    -100 (ignored by the loss) everywhere else. (BERT also keeps or randomises 20% of the chosen
    tokens; this keeps the simplest version.)
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"mask probability p must be in (0, 1), got {p}")
    hidden = torch.rand(idx.shape, generator=generator, device=idx.device) < p
    inputs = idx.masked_fill(hidden, mask_id)
    targets = idx.masked_fill(~hidden, IGNORE_INDEX)
    return inputs, targets


class Seq2Seq(nn.Module):
    """Encoder-decoder transformer with n_layer encoder and n_layer decoder blocks, shared embeddings.

    Hook points (see minigpt.hooks): ``encoder.i.*`` and ``decoder.i.*``, the decoder's with ``cross_attn``.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        encoder_config = config.replace(causal=False)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos = make_positions(config)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(Block(encoder_config, i, name=f"encoder.{i}") for i in range(config.n_layer))
        self.ln_enc = make_norm(config) if config.prenorm else nn.Identity()
        self.decoder = nn.ModuleList(
            Block(config.replace(causal=True), i, cross_attention=True, name=f"decoder.{i}") for i in range(config.n_layer)
        )
        self.ln_f = make_norm(config) if config.prenorm else nn.Identity()
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_gpt2_style(self, 2 * config.n_layer)
        self.lm_head.weight = self.wte.weight

    def _stack(self, idx, blocks, causal, key_mask=None, **cross):
        T = idx.size(1)
        if T > self.config.block_size:
            raise ValueError(f"sequence of {T} tokens exceeds block_size {self.config.block_size}; shorten it")
        x, bias, rope = embed(self.wte, self.pos, self.drop, idx, causal=causal, key_mask=key_mask)
        for block in blocks:
            x = block(x, bias=bias, rope=rope, **cross)
        return x

    def encode(self, src, src_mask=None):
        """src [B, S] (src_mask [B, S] bool, False = padding) -> memory [B, S, C]."""
        return self.ln_enc(self._stack(src, self.encoder, causal=False, key_mask=src_mask))

    def decode(self, tgt, memory, src_mask=None):
        """tgt [B, T], memory [B, S, C] -> logits [B, T, V]."""
        memory_bias = None
        if src_mask is not None:  # padded source tokens get -inf for every target query
            memory_bias = torch.zeros(src_mask.shape, device=memory.device).masked_fill(~src_mask, float("-inf"))
            memory_bias = memory_bias[:, None, None, :]
        x = self._stack(tgt, self.decoder, causal=True, memory=memory, memory_bias=memory_bias)
        return self.lm_head(self.ln_f(x))

    def forward(self, src, tgt, targets=None, src_mask=None):
        """-> (logits [B, T, V], cross-entropy loss against targets [B, T] (-100 = ignore) or None)."""
        logits = self.decode(tgt, self.encode(src, src_mask), src_mask)
        loss = None
        if targets is not None:
            loss = next_token_loss(logits, targets)
        return logits, loss

    @torch.no_grad()
    def generate(self, src, max_new_tokens: int, bos_id: int, eos_id: int | None = None, src_mask=None):
        """Greedy decoding -> LongTensor [B, 1 + n]: bos_id then the generated tokens (n <= max_new_tokens).

        Stops early once every sequence produced eos_id; finished sequences are padded with eos_id.
        """
        memory = self.encode(src, src_mask)
        out = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        for _ in range(max_new_tokens):
            next_id = self.decode(out, memory, src_mask)[:, -1].argmax(dim=-1)  # [B]
            if eos_id is not None:
                next_id = next_id.masked_fill(done, eos_id)
                done |= next_id == eos_id
            out = torch.cat([out, next_id[:, None]], dim=1)
            if eos_id is not None and done.all():
                break
        return out
