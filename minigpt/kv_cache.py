"""KV cache: remember every layer's keys and values so generation does not recompute them.

Without a cache, generating token t+1 re-runs the model over all t previous tokens. But the keys
and values of old tokens never change (causal attention: a token only sees its past), so we
keep them: each new token computes only its own q, k, v and attends to the stored K/V.

Memory: 2 (K and V) · n_layer · B · n_kv_head · block_size · head_dim numbers. Grouped-query
attention (n_kv_head < n_head) shrinks it by n_head / n_kv_head — the main reason GQA exists.
The cache is preallocated to ``max_length = block_size``; going further raises a ValueError.
"""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of all layers: ``k``, ``v`` [n_layer, B, n_kv_head, max_length, head_dim].

    ``length`` tokens are stored. Attention layers call ``update`` during a forward pass; the
    model then calls ``advance`` once the new tokens went through every layer.
    """

    def __init__(self, n_layer, batch_size, n_kv_head, max_length, head_dim, device=None, dtype=None):
        shape = (n_layer, batch_size, n_kv_head, max_length, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.key_mask = None  # BoolTensor [B, max_length] once padding was seen (False = padding)
        self.length = 0

    @property
    def batch_size(self) -> int:
        return self.k.size(1)

    @property
    def max_length(self) -> int:
        return self.k.size(3)

    @property
    def nbytes(self) -> int:
        """Memory held by the cache, in bytes."""
        return 2 * self.k.numel() * self.k.element_size()

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Store this layer's new k, v [B, n_kv_head, T, D]; return all keys/values so far [B, n_kv_head, length+T, D]."""
        end = self.length + k.size(2)
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def padding(self, attention_mask, T: int):
        """Key mask [B, length+T] including the new tokens' ``attention_mask`` [B, T], or None if no padding so far."""
        if attention_mask is None and self.key_mask is None:
            return None
        if self.key_mask is None:
            self.key_mask = torch.ones(self.batch_size, self.max_length, dtype=torch.bool, device=self.k.device)
        if attention_mask is not None:
            self.key_mask[:, self.length : self.length + T] = attention_mask
        return self.key_mask[:, : self.length + T]

    def advance(self, T: int) -> None:
        self.length += T

    def reset(self) -> None:
        """Forget everything (keeps the memory allocated)."""
        self.length, self.key_mask = 0, None
