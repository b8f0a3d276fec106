"""AdamW with the usual GPT parameter groups, and the warm-up + cosine learning-rate schedule.

Weight decay pulls weights towards zero. It helps the big matrices (attention, MLP, embeddings)
but hurts biases and the gains of LayerNorm/RMSNorm, which should be free to sit at any scale.
So the rule from GPT-2/nanoGPT: decay every parameter with 2 or more dimensions, nothing else.
"""

from __future__ import annotations

import math

import torch


def make_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    device: torch.device,
) -> torch.optim.AdamW:
    """AdamW with decay on matrices only; the fused single-kernel implementation on CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), fused=fused)


def lr_at(step: int, lr: float, min_lr: float, warmup_iters: int, decay_iters: int) -> float:
    """Learning rate for optimiser step ``step`` (0-based).

    Rises linearly from ~0 to ``lr`` over ``warmup_iters`` steps (large early updates from a random
    init are unstable), then follows half a cosine from ``lr`` down to ``min_lr`` at ``decay_iters``,
    and stays at ``min_lr`` after that.
    """
    if step < warmup_iters:
        return lr * (step + 1) / (warmup_iters + 1)
    if step >= decay_iters:
        return min_lr
    progress = (step - warmup_iters) / max(1, decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
