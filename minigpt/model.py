"""The GPT: token embeddings -> positions -> n_layer blocks -> final norm -> logits over the vocabulary.

Written in the style of nanoGPT's model.py; every variant the course teaches is one switch in
``GPTConfig`` (positions, normalisation, MLP type, GQA, causal or bidirectional).

Shapes: B batch, T sequence length, C = n_embd, V = vocab_size, H = n_head.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minigpt.attention import attention_bias
from minigpt.block import Block
from minigpt.arguments import require_bool, require_choice
from minigpt.config import GPTConfig
from minigpt.hooks import HookPoint
from minigpt.kv_cache import KVCache
from minigpt.norm import make_norm
from minigpt.positional import make_positions
from minigpt.targets import IGNORE_INDEX

PARAM_COUNTS = ("token", "all", "none")  # which embedding tables GPT.num_params counts


def init_gpt2_style(model: nn.Module, n_layer: int, zero_proj: bool = False) -> None:
    """GPT-2 initialisation: weights ~ N(0, 0.02), biases 0, and the projections that write into
    the residual stream (c_proj) scaled by 1/√(2·n_layer) so the stream's variance does not grow
    with depth (two residual additions per block).

    ``zero_proj=True`` starts those projections at exactly 0 instead: every block begins as the
    identity, the model starts as a bigram model (embedding -> head), and each block joins in as
    its projection learns (a recipe from modded-nanoGPT; notebook 06 measures it on the course's
    small char model and finds no difference in 150-step runs)."""
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            if zero_proj:
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
        elif p.dim() == 2:  # Linear weights, embeddings, the learned position table
            nn.init.normal_(p, mean=0.0, std=0.02)
        elif name.endswith("bias"):
            nn.init.zeros_(p)
        # remaining 1-d tensors are norm weights: they stay 1


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits [B, T, V] against targets [B, T], skipping targets equal to -100.

    The mean is over the real targets: the sum of their losses over their count. A batch whose every
    target is -100 has none, and its loss is 0 with zero gradients, so it changes nothing; plain
    ``F.cross_entropy`` would give 0 / 0 = NaN there, and one NaN step fills every weight with NaN.
    (Counting on the device keeps the training step free of a host synchronisation.)
    """
    flat = targets.reshape(-1)
    summed = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), flat, ignore_index=IGNORE_INDEX, reduction="sum")
    return summed / (flat != IGNORE_INDEX).sum().clamp(min=1)


def embed(wte: nn.Embedding, positions: nn.Module, drop: nn.Dropout, idx, *, start: int = 0, causal: bool,
          key_mask=None):
    """What every stack does before its blocks: ids [B, T] at positions start.. -> (x [B, T, C], the attention
    bias for T queries over start + T keys (causal mask, padding, ALiBi), RoPE's angles for these positions)."""
    T = idx.size(1)
    bias = attention_bias(T, start + T, causal=causal, key_mask=key_mask, alibi=positions.alibi(T, start + T),
                          device=idx.device)
    return drop(positions(wte(idx), start)), bias, positions.rope(start, T)


class GPT(nn.Module):
    """Hook points (see minigpt.hooks): ``embed``, and in each block its output, attention and MLP."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}; e.g. GPT(get_config('tiny'))")
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            pos=make_positions(config),  # learned or sinusoidal table, RoPE angles or ALiBi slopes
            drop=nn.Dropout(config.dropout),
            hook_embed=HookPoint("embed"),
            h=nn.ModuleList(Block(config, i) for i in range(config.n_layer)),
            # post-norm blocks already end in a norm; pre-norm needs one before the head
            ln_f=make_norm(config) if config.prenorm else nn.Identity(),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_gpt2_style(self, config.n_layer, config.zero_init_proj)
        if config.tie_weights:
            # the same matrix maps token -> vector and vector -> token scores (saves V·C parameters)
            self.lm_head.weight = self.transformer.wte.weight

    def forward(self, idx, targets=None, *, attention_mask=None, kv_cache: KVCache | None = None,
                last_only: bool = False):
        """idx [B, T] token ids -> (logits [B, T, V], loss or None).

        targets [B, T]: next-token ids, -100 = ignore. attention_mask [B, T] bool: False = padding
        (never attended to; positions still count it, so pad on the right). kv_cache: positions
        start at ``kv_cache.length`` and the new keys and values are appended to it.

        last_only=True: logits [B, 1, V] for the last position only, as generation needs (nanoGPT does
        this whenever there are no targets). The head is a [C, V] matmul per position, for GPT-2 small
        about a third of its forward FLOPs; a 256-token prompt would compute 255 rows nobody reads.

        The ids are not range-checked here: that reads idx's min and max back to the host, which stalls
        a GPU at every step. They are checked where they enter (``generate``'s prompt, the Trainer's data
        and batches); an id outside the vocabulary that still gets here makes the embedding raise
        IndexError ("index out of range in self") on a CPU, and a device-side assert on a GPU.
        """
        start = 0 if kv_cache is None else kv_cache.length
        self._require_inputs(idx, targets, attention_mask, kv_cache, last_only)
        B, T = idx.shape
        key_mask = attention_mask if kv_cache is None else kv_cache.padding(attention_mask, T)
        t = self.transformer
        x, bias, rope = embed(t.wte, t.pos, t.drop, idx, start=start, causal=self.config.causal, key_mask=key_mask)
        x = t.hook_embed(x)
        for block in self.transformer.h:
            x = block(x, bias=bias, rope=rope, cache=kv_cache)
        if kv_cache is not None:
            kv_cache.advance(T)
        if last_only:
            x = x[:, -1:]  # [B, 1, C]
        logits = self.lm_head(self.transformer.ln_f(x))  # [B, T, V] ([B, 1, V] with last_only)
        loss = None
        if targets is not None:
            loss = next_token_loss(logits, targets)
            if self.config.mlp == "moe":
                loss = loss + self.config.moe_aux_loss_weight * self.aux_loss()
        return logits, loss

    def aux_loss(self) -> torch.Tensor:
        """Sum of the MoE load-balancing losses of the last forward pass (mlp == "moe" only)."""
        return sum(block.mlp.aux_loss for block in self.transformer.h)

    def _require_inputs(self, idx, targets, attention_mask, kv_cache, last_only) -> None:
        """Shapes, types and lengths: what the tensors' metadata tells without reading their values."""
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.dtype != torch.long:
            raise TypeError(f"idx must be a LongTensor [B, T] of token ids, got {getattr(idx, 'dtype', type(idx))} "
                            f"with shape {tuple(getattr(idx, 'shape', ()))}; e.g. torch.tensor([ids])")
        if require_bool(last_only, "last_only") and targets is not None:
            raise ValueError("last_only=True computes the logits of the last position only, but the loss needs "
                             "every position's: pass targets or last_only=True, not both")
        if attention_mask is not None and (attention_mask.shape != idx.shape or attention_mask.dtype != torch.bool):
            raise ValueError(f"attention_mask must be a BoolTensor shaped like idx {tuple(idx.shape)} (True = real token), "
                             f"got {attention_mask.dtype} {tuple(attention_mask.shape)}; e.g. mask.bool()")
        if kv_cache is not None and kv_cache.batch_size != idx.size(0):
            raise ValueError(f"kv_cache was made for batch size {kv_cache.batch_size} but idx has {idx.size(0)} "
                             f"sequences; use model.new_kv_cache({idx.size(0)})")
        T, start, M = idx.size(1), 0 if kv_cache is None else kv_cache.length, self.config.block_size
        if kv_cache is None and T > M:
            raise ValueError(f"prompt of {T} tokens exceeds block_size {M}; crop it to the last {M} tokens, e.g. ids[-{M}:]")
        if kv_cache is not None and start + T > M:
            raise ValueError(
                f"the KV cache holds {start} tokens and {T} more would exceed block_size {M}; "
                f"start a new cache (model.new_kv_cache) with the last {M} tokens at most, e.g. ids[-{M}:]"
            )

    def new_kv_cache(self, batch_size: int, device=None, dtype=None) -> KVCache:
        """An empty KV cache for ``batch_size`` sequences of up to block_size tokens (model's device/dtype by default)."""
        if not self.config.causal:
            raise ValueError("a KV cache only makes sense for a causal model (config.causal=True)")
        w = self.lm_head.weight
        c = self.config
        return KVCache(c.n_layer, batch_size, c.n_kv_head, c.block_size, c.head_dim,
                       device=device or w.device, dtype=dtype or w.dtype)

    def num_params(self, embeddings: str = "token") -> int:
        """How many parameters the model has, tied weights counted once. ``embeddings`` says which
        embedding tables count:

        - ``"token"`` (default): nanoGPT's "number of parameters". The learned position table is left
          out (a lookup, no compute); the token table stays in, because tied it is the output head too.
        - ``"all"``: every parameter, as ``transformers`` reports it (GPT-2 small: 124,439,808).
        - ``"none"``: Kaplan et al.'s N ("Scaling Laws for Neural Language Models", 2020, section 2.1):
          no token table, no position table, no untied head either, only the blocks and the final norm
          (about 12·L·C²). This is the N that scaling-law fits use: the vocabulary tables do not grow
          with the model's depth, and counting them bends the fit for small models.
        """
        require_choice(embeddings, "embeddings", PARAM_COUNTS)
        n = sum(p.numel() for p in self.parameters())
        if embeddings != "all" and self.config.pos == "learned":
            n -= self.transformer.pos.weight.numel()
        if embeddings == "none":
            n -= self.transformer.wte.weight.numel()
            if not self.config.tie_weights:
                n -= self.lm_head.weight.numel()
        return n

    def flops_per_token(self, seq_len: int | None = None) -> int:
        """Training FLOPs per token, nanoGPT's MFU estimate (PaLM appendix B): 6N + 12·L·T·C.

        6N: forward (2N) and backward (4N) matmuls with the weights; 12·L·T·C: the attention
        score and weighted-sum matmuls, which grow with the context length T (default block_size).
        """
        T = self.config.block_size if seq_len is None else seq_len
        return 6 * self.num_params() + 12 * self.config.n_layer * T * self.config.n_embd

    @classmethod
    def from_gpt2_state_dict(cls, sd: dict, config: GPTConfig | None = None) -> "GPT":
        """A GPT holding the weights of a Hugging Face GPT-2 state dict (see minigpt.gpt2)."""
        from minigpt.gpt2 import load_gpt2_state_dict  # gpt2.py builds on this module

        return load_gpt2_state_dict(sd, config)

    @classmethod
    def from_pretrained(cls, name_or_path="gpt2", *, cache_dir=None) -> "GPT":
        """OpenAI's GPT-2 by size ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"; downloaded once from
        the Hugging Face hub) or from a local .safetensors file or folder; its tokenizer is
        ``TiktokenTokenizer("gpt2")``. See minigpt.gpt2.from_pretrained."""
        from minigpt.gpt2 import from_pretrained

        return from_pretrained(name_or_path, cache_dir=cache_dir)
