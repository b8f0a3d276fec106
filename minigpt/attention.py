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


def attend(q, k, v, *, bias=None, is_causal=False, dropout_p=0.0, need_weights=False):
    """Attention on q [B, H, T_q, D], k and v [B, H, T_k, D] -> (out [B, H, T_q, D], weights or None)."""
    if bias is not None and bias.dtype != q.dtype:
        bias = bias.to(q.dtype)  # e.g. bf16 queries under autocast
    if not need_weights:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p, is_causal=is_causal)
        return out, None
    T_q, T_k = q.size(-2), k.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # [B, H, T_q, T_k]
    if is_causal:
        scores = scores.masked_fill(torch.ones(T_q, T_k, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    if bias is not None:
        scores = scores + bias
    weights = scores.softmax(dim=-1)
    return F.dropout(weights, dropout_p) @ v, weights


class Attention(nn.Module):
    """Multi-head self-attention, or cross-attention when given ``memory`` (the encoder output).

    GQA/MQA: there are ``n_kv_head`` key/value heads (<= ``n_head`` query heads); each K/V head is
    shared by n_head / n_kv_head query heads. The KV cache stores only the n_kv_head heads.
    Parameter names follow GPT-2 (c_attn = fused Q,K,V projection, c_proj = output projection).
    """

    capture_as = "attention"  # which list of a ``capture`` the weights go to
    _record = None  # a list while capturing (see minigpt.capture); None = fast path, no cost

    def __init__(self, config, layer_idx: int = 0):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.n_kv_head, config.head_dim
        self.causal, self.dropout, self.layer_idx = config.causal, config.dropout, layer_idx
        kv_dim = self.n_kv_head * self.head_dim
        self.split = [config.n_embd, kv_dim, kv_dim]
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * kv_dim, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, *, bias=None, rope=None, cache=None, memory=None):
        """x [B, T, C] -> [B, T, C].

        bias: from ``attention_bias``; rope: (cos, sin) for these positions; cache: a KVCache that
        this layer appends its K/V to; memory [B, S, C]: attend to these instead (cross-attention).
        """
        B, T, C = x.shape
        q, k, v = self._project(x, memory)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # [B, H, T, D]
        k = k.view(B, -1, self.n_kv_head, self.head_dim).transpose(1, 2)  # [B, H_kv, T_k, D]
        v = v.view(B, -1, self.n_kv_head, self.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)  # all keys/values so far [B, H_kv, T_k, D]
        if self.n_kv_head != self.n_head:
            k = k.repeat_interleave(self.n_head // self.n_kv_head, dim=1)
            v = v.repeat_interleave(self.n_head // self.n_kv_head, dim=1)
        is_causal = memory is None and self.causal and bias is None and T > 1
        dropout_p = self.dropout if self.training else 0.0
        y, weights = attend(q, k, v, bias=bias, is_causal=is_causal, dropout_p=dropout_p,
                            need_weights=self._record is not None)
        if weights is not None:
            self._record.append(weights.detach())
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble all head outputs side by side
        return self.resid_dropout(self.c_proj(y))

    def _project(self, x, memory):
        """Q from x; K and V from x (self-attention) or from memory (cross-attention)."""
        if memory is None:
            return self.c_attn(x).split(self.split, dim=-1)
        C = self.split[0]
        w_q, w_kv = self.c_attn.weight[:C], self.c_attn.weight[C:]
        b_q, b_kv = (None, None) if self.c_attn.bias is None else (self.c_attn.bias[:C], self.c_attn.bias[C:])
        k, v = F.linear(memory, w_kv, b_kv).split(self.split[1:], dim=-1)
        return F.linear(x, w_q, b_q), k, v
