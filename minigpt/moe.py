"""Mixture of Experts: many MLPs ("experts"), and each token only uses the top-k of them.

A linear *router* scores the experts for every token; the token goes to its k best experts and
their outputs are mixed with gates = softmax over the k chosen scores. Parameters grow with the
number of experts, compute per token only with k.

Left alone, the router collapses onto a few favourite experts. The Switch Transformer
load-balancing loss pushes towards uniform use:

    aux = n_expert * Σ_e  f_e · P_e

f_e = fraction of routing slots that went to expert e, P_e = mean router probability of e.
It equals 1 when the routing is perfectly balanced. The model adds it to the LM loss, scaled by
``config.moe_aux_loss_weight``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minigpt.mlp import MLP


class MoE(nn.Module):
    """x [B, T, C] -> [B, T, C]; sets ``self.aux_loss`` (scalar) and ``self.last_routing`` ([B*T, k] expert ids)."""

    def __init__(self, config):
        super().__init__()
        self.top_k = config.expert_top_k
        self.router = nn.Linear(config.n_embd, config.n_expert, bias=False)
        self.experts = nn.ModuleList(MLP(config) for _ in range(config.n_expert))
        self.aux_loss = None
        self.last_routing = None

    def forward(self, x):
        B, T, C = x.shape
        tokens = x.reshape(-1, C)  # [N, C], N = B*T
        logits = self.router(tokens)  # [N, E]
        top_logits, top_idx = logits.topk(self.top_k, dim=-1)  # [N, k]
        gates = top_logits.softmax(dim=-1)  # mix weights over the chosen experts only
        out = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            token_ids, slot = (top_idx == e).nonzero(as_tuple=True)  # tokens that picked expert e
            if token_ids.numel():
                out.index_add_(0, token_ids, (gates[token_ids, slot, None] * expert(tokens[token_ids])).to(out.dtype))
        self.aux_loss = self.load_balancing_loss(logits, top_idx)
        self.last_routing = top_idx.detach()
        return out.view(B, T, C)

    def load_balancing_loss(self, logits, top_idx):
        """Switch Transformer auxiliary loss from router logits [N, E] and choices [N, k]."""
        n_expert = logits.size(-1)
        fraction = F.one_hot(top_idx, n_expert).float().mean(dim=(0, 1))  # f_e: share of routing slots
        probability = logits.softmax(dim=-1).float().mean(dim=0)  # P_e: differentiable
        return n_expert * (fraction * probability).sum()
