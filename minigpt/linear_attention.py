"""Linear attention: attention with a fixed-size state instead of a growing KV cache.

Softmax attention weighs key j for query i by exp(q_i·k_j). Replace that by a product of feature
maps φ(q_i)·φ(k_j) (Katharopoulos et al., 2020, φ(x) = elu(x) + 1 > 0) and the sum over keys factors:

    out_i = Σ_{j<=i} φ(q_i)·φ(k_j) v_j / Σ_{j<=i} φ(q_i)·φ(k_j)
          = φ(q_i) S_i / φ(q_i) z_i,   S_i = Σ_{j<=i} φ(k_j) v_jᵀ  [D, D],   z_i = Σ_{j<=i} φ(k_j)  [D]

So generation keeps only S and z: D·D + D numbers per head, whatever the length, where a KV cache
keeps 2·T·D. The price: a D×D state must compress the whole past, and it remembers less than a cache
(exact recall of a token far back suffers). State-space models (S4, Mamba) are the same shape of
computation, h_t = A h_{t-1} + B x_t, with a state updated per token; Mamba makes A and B depend on
the input so the model chooses what to keep.

``linear_attention`` is the parallel form (a [T, T] matrix, for training); ``linear_attention_recurrent``
the token-by-token form with its state. They agree to float rounding. ``read_state`` is what queries
read back from a state (how much of a stored key → value association survives the compression).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1: positive, so the weights stay positive like softmax's."""
    return F.elu(x) + 1


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal linear attention, parallel form: q, k, v [B, H, T, D] -> [B, H, T, D]."""
    fq, fk = feature_map(q), feature_map(k)
    T = q.size(-2)
    weights = (fq @ fk.transpose(-2, -1)).tril()  # [B, H, T, T], causal
    return (weights @ v) / weights.sum(dim=-1, keepdim=True)


def linear_attention_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    """The same, one token at a time with a running state: -> (out [B, H, T, D], (S [B, H, D, D], z [B, H, D])).

    The state (S, z) is all a generator needs to keep; its size does not depend on T.
    """
    B, H, T, D = q.shape
    fq, fk = feature_map(q), feature_map(k)
    S = torch.zeros(B, H, D, v.size(-1), dtype=q.dtype, device=q.device)
    z = torch.zeros(B, H, D, dtype=q.dtype, device=q.device)
    outs = []
    for t in range(T):
        S = S + fk[:, :, t, :, None] * v[:, :, t, None, :]  # add φ(k_t) v_tᵀ
        z = z + fk[:, :, t]
        outs.append(read_state(q[:, :, t, None], S, z)[:, :, 0])
    return torch.stack(outs, dim=2), (S, z)


def read_state(q: torch.Tensor, S: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """What queries q [B, H, Tq, D] read from a state (S [B, H, D, Dv], z [B, H, D]): [B, H, Tq, Dv].

    φ(q) S / φ(q)·z: every query sees the same compressed past, whatever it asks for.
    """
    fq = feature_map(q)
    return (fq @ S) / (fq @ z[..., None])
