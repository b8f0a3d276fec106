"""Multi-head attention: every token looks at the others and takes a weighted average of them.

    weights = softmax(Q·Kᵀ / √head_dim + bias)      [B, H, T_q, T_k]
    output  = weights · V                            [B, H, T_q, head_dim]

Two ways to compute the same thing (``attend``): an *explicit* path written out step by step
that can return the weights (to look at them), and a *fast* path through
``F.scaled_dot_product_attention`` (fused flash / memory-efficient kernels on GPU) used
whenever nobody asks for the weights. Tests check the two agree.

Masks are one additive float ``bias`` (0 = may attend, -inf = blocked, ALiBi adds its
distance penalty), built once per forward by ``attention_bias`` and shared by every layer.
When only a plain causal mask is needed the bias is ``None`` and SDPA's ``is_causal`` does it
without materialising a [T, T] tensor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minigpt.hooks import PER_HEAD, HookPoint, name_point
from minigpt.positional import apply_rope


def attention_bias(T_q, T_k, *, causal, key_mask=None, alibi=None, device=None):
    """Additive bias [B|1, H|1, T_q, T_k] combining causal, padding and ALiBi, or None if not needed.

    The queries are the last T_q of T_k positions (T_k > T_q when a KV cache holds earlier tokens).
    key_mask: BoolTensor [B, T_k], True = real token, False = padding (never attended to).
    alibi: [H, T_q, T_k]. Returns None when SDPA can do the masking alone: nothing to mask, a single
    new query (it may see everything before it), or a square causal mask (``is_causal=True``).
    """
    if key_mask is None and alibi is None and (not causal or T_q == 1 or T_q == T_k):
        return None
    q_pos = torch.arange(T_k - T_q, T_k, device=device)[:, None]
    k_pos = torch.arange(T_k, device=device)[None, :]
    allowed = k_pos <= q_pos if causal else torch.ones(T_q, T_k, dtype=torch.bool, device=device)
    if key_mask is not None:
        # A padded query would see no key at all (softmax of all -inf = NaN): let every query see
        # itself. Only outputs at padding positions change, and those are ignored anyway.
        allowed = (allowed & key_mask[:, None, None, :]) | (k_pos == q_pos)
    values = torch.zeros((), device=device) if alibi is None else alibi
    bias = torch.where(allowed, values, float("-inf"))
    return bias if bias.dim() == 4 else bias[None, None] if bias.dim() == 2 else bias[None]


def attention_scores(q, k, *, bias=None, is_causal=False):
    """Scores [B, H, T_q, T_k] = q·kᵀ / √D plus the masks: what the softmax turns into weights."""
    T_q, T_k = q.size(-2), k.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if is_causal:
        scores = scores.masked_fill(torch.ones(T_q, T_k, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    return scores if bias is None else scores + bias.to(scores.dtype)


def repeat_kv(x, n_head):
    """K or V [B, H_kv, T, D] -> [B, n_head, T, D]: each K/V head repeated for the n_head / H_kv query heads
    it serves (a copy: the explicit path needs one K/V head per query head); x itself when H_kv = n_head."""
    return x if x.size(1) == n_head else x.repeat_interleave(n_head // x.size(1), dim=1)


def attend(q, k, v, *, bias=None, is_causal=False, dropout_p=0.0, need_weights=False):
    """Attention on q [B, H, T_q, D], k and v [B, H_kv, T_k, D] -> (out [B, H, T_q, D], weights or None).

    H_kv < H is grouped-query attention: each K/V head serves H / H_kv query heads. The fused kernel
    reads the shared heads where they are (``enable_gqa``); the explicit path repeats them to H heads.
    """
    if not need_weights:
        bias = None if bias is None else bias.to(q.dtype)  # e.g. bf16 queries under autocast
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p, is_causal=is_causal,
                                             enable_gqa=k.size(1) != q.size(1))
        return out, None
    k, v = repeat_kv(k, q.size(1)), repeat_kv(v, q.size(1))
    weights = attention_scores(q, k, bias=bias, is_causal=is_causal).softmax(dim=-1)
    return F.dropout(weights, dropout_p) @ v, weights


class MultiHeadAttention(nn.Module):
    """What self- and cross-attention share: attend in every head, then merge the heads.

    GQA/MQA: there are ``n_kv_head`` key/value heads (<= ``n_head`` query heads); each K/V head is
    shared by n_head / n_kv_head query heads. Hook points (see minigpt.hooks): the layer's output is
    ``name``; ``{name}.scores`` and ``{name}.weights`` [B, H, T_q, T_k], ``{name}.head`` [B, H, T_q, D],
    each head's output.
    """

    def __init__(self, config, layer_idx: int, name: str, **input_projections: nn.Linear):
        super().__init__()
        name_point(self, name)
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.n_kv_head, config.head_dim
        self.dropout, self.layer_idx = config.dropout, layer_idx
        self.kv_dim = self.n_kv_head * self.head_dim
        for attribute, projection in input_projections.items():  # before c_proj, as in GPT-2's state dict
            self.add_module(attribute, projection)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.hook_scores, self.hook_weights, self.hook_head = (HookPoint(f"{name}.{point}") for point in PER_HEAD)

    def split_heads(self, x, n_heads):
        """[B, T, n_heads·D] -> [B, n_heads, T, D]."""
        B, T, _ = x.shape
        return x.view(B, T, n_heads, self.head_dim).transpose(1, 2)

    def attend(self, q, k, v, *, bias=None, is_causal=False):
        """q [B, H, T_q, D], k and v [B, H_kv, T_k, D] -> every head's output [B, H, T_q, D].

        The fused kernel never materialises the weights; the explicit path runs only while a hook
        watches (or changes) the scores or the weights."""
        dropout_p = self.dropout if self.training else 0.0
        if self.hook_scores.active or self.hook_weights.active:
            k, v = repeat_kv(k, self.n_head), repeat_kv(v, self.n_head)  # see the weights of every query head
            scores = self.hook_scores(attention_scores(q, k, bias=bias, is_causal=is_causal))
            y = F.dropout(self.hook_weights(scores.softmax(dim=-1)), dropout_p) @ v
        else:
            y, _ = attend(q, k, v, bias=bias, is_causal=is_causal, dropout_p=dropout_p)
        return self.hook_head(y)

    def merge(self, y):
        """Every head's output [B, H, T, D] -> [B, T, C]: side by side, then the output projection."""
        B, H, T, D = y.shape
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, H * D)))


class Attention(MultiHeadAttention):
    """Multi-head self-attention (causal in a decoder, bidirectional in an encoder).

    Parameter names follow GPT-2: c_attn = fused Q,K,V projection, c_proj = output projection.
    """

    def __init__(self, config, layer_idx: int = 0, name: str = "attn"):
        kv_dim = config.n_kv_head * config.head_dim
        super().__init__(config, layer_idx, name,
                         c_attn=nn.Linear(config.n_embd, config.n_embd + 2 * kv_dim, bias=config.bias))
        self.causal = config.causal

    def forward(self, x, *, bias=None, rope=None, cache=None):
        """x [B, T, C] -> [B, T, C]: project, position, attend, merge.

        bias: from ``attention_bias``; rope: (cos, sin) for these positions; cache: a KVCache that
        this layer appends its K/V to (attention then sees every earlier token too).
        """
        q, k, v = self.project(x)  # q [B, H, T, D]; k, v [B, H_kv, T, D]
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)  # all keys/values so far [B, H_kv, T_k, D]
        is_causal = self.causal and bias is None and x.size(1) > 1
        return self.merge(self.attend(q, k, v, bias=bias, is_causal=is_causal))

    def project(self, x):
        """x [B, T, C] -> queries, keys and values split into heads."""
        q, k, v = self.c_attn(x).split([x.size(-1), self.kv_dim, self.kv_dim], dim=-1)
        return self.split_heads(q, self.n_head), self.split_heads(k, self.n_kv_head), self.split_heads(v, self.n_kv_head)


class CrossAttention(MultiHeadAttention):
    """Queries from the decoder, keys and values from the encoder output (``memory``): the decoder reads the source.

    Its own projections: c_q for the queries, c_kv for the fused keys and values.
    """

    def __init__(self, config, layer_idx: int = 0, name: str = "cross_attn"):
        kv_dim = config.n_kv_head * config.head_dim
        super().__init__(config, layer_idx, name, c_q=nn.Linear(config.n_embd, config.n_embd, bias=config.bias),
                         c_kv=nn.Linear(config.n_embd, 2 * kv_dim, bias=config.bias))

    def forward(self, x, memory, *, bias=None):
        """x [B, T, C], memory [B, S, C] -> [B, T, C]; bias [B, 1, 1, S] hides padded source tokens."""
        q = self.split_heads(self.c_q(x), self.n_head)
        k, v = (self.split_heads(t, self.n_kv_head) for t in self.c_kv(memory).split(self.kv_dim, dim=-1))
        return self.merge(self.attend(q, k, v, bias=bias))
