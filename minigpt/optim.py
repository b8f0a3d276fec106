"""Optimisers with the usual GPT parameter groups, and the learning-rate schedules (warm-up, then cosine or WSD).

Weight decay pulls weights towards zero. It helps the big matrices (attention, MLP, embeddings)
but hurts biases and the gains of LayerNorm/RMSNorm, which should be free to sit at any scale.
So the rule from GPT-2/nanoGPT: decay every parameter with 2 or more dimensions, nothing else.

Two optimisers (``make_optimizer(..., kind=)``):

- ``"adamw"``: AdamW for everything (GPT-2, nanoGPT).
- ``"muon"``: Muon (Jordan et al., 2024) for the hidden weight matrices (attention and MLP), AdamW for
  the embeddings, the output head and the 1-D gains (and, with ``muon_qkv=False``, for attention's
  stacked q/k/v matrix). Muon replaces each matrix's update by the nearest orthogonal matrix, so
  every direction of the matrix learns at the same rate instead of a few dominant ones. For a short
  run that means fewer steps to the same loss (the fast CPU recipe uses it), at the price of a few
  small matrix products per matrix per step.
"""

from __future__ import annotations

import math

import torch

from minigpt.device import native_bf16_matmul

OPTIMIZERS = ("adamw", "muon")
SCHEDULES = ("cosine", "wsd")


def make_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    device: torch.device,
    kind: str = "adamw",
    muon_lr: float = 0.02,
    muon_qkv: bool = True,
    muon_momentum: float = 0.95,
) -> torch.optim.Optimizer:
    """AdamW with decay on matrices only (the fused single-kernel implementation on CUDA), or with
    ``kind="muon"`` Muon at ``muon_lr`` (momentum ``muon_momentum``) for the hidden matrices and AdamW at ``lr``
    for the rest."""
    if kind not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kind!r}")
    if kind == "muon":
        return MuonAdamW(model, lr, muon_lr, weight_decay, betas, momentum=muon_momentum, qkv=muon_qkv,
                         newton_schulz_dtype=torch.bfloat16 if native_bf16_matmul(device) else torch.float32)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), fused=fused)


def orthogonalize(update: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """The orthogonal matrix nearest to ``update`` (its SVD ``U S V^T`` with S replaced by ~1), [..., m, n] -> [..., m, n].

    Five Newton-Schulz iterations of an odd quintic polynomial, with the coefficients of Jordan et
    al. that push every singular value into roughly [0.7, 1.2] as fast as possible: cheaper than an
    SVD and exact enough for an optimiser step. Works on the wide orientation, so the Gram matrix
    ``x x^T`` is the small one (min(m, n) square). Leading dimensions are a batch of matrices
    orthogonalized independently, in one batched product per step instead of one per matrix.
    It runs in ``update``'s dtype: bfloat16 is precise enough to land the singular values in that range.
    """
    a, b, c = 3.4445, -4.7750, 2.0315
    x = update / (update.norm(dim=(-2, -1), keepdim=True) + 1e-7)  # singular values <= 1: inside the polynomial's range
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    batch_shape = x.shape[:-2]
    x = x.reshape(-1, *x.shape[-2:])  # [N, m, n]: baddbmm wants exactly one batch dimension
    for _ in range(steps):
        gram = x @ x.mT
        # x <- a x + (b gram + c gram^2) x as two fused multiply-adds: for small matrices the
        # passes over memory cost as much as the products
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    x = x.reshape(*batch_shape, *x.shape[-2:])
    return x.mT if tall else x


class MuonAdamW(torch.optim.Optimizer):
    """Muon for the weights of the Linear layers, AdamW for embeddings, output head and gains.

    With ``qkv=False``, AdamW also trains each attention's ``c_attn``: q, k and v stacked into one
    [3C, C] matrix, which Muon would orthogonalize as a single map. Which is better depends on the
    task. In the fast CPU recipe AdamW on it reached a whole-val loss of 1.82-1.84 against 1.88-1.90
    (seeds 0-2; orthogonalizing q, k and v one by one gave 1.84-1.85 at more cost); in notebook 08's
    induction task, Muon on it is what forms the circuit within the lesson's steps.

    Groups carry ``muon`` (which rule) and ``lr_scale`` (their lr relative to the schedule's, so
    ``set_lr`` moves both rules along one warm-up + cosine curve). Muon step for a matrix W [m, n]::

        buffer = momentum * buffer + grad
        W -= lr * sqrt(max(1, m / n)) * orthogonalize(grad + momentum * buffer)   # Nesterov

    The state (momentum buffers, Adam moments) is plain tensors, so checkpoints save it like AdamW's.
    ``newton_schulz_dtype``: the number format of ``orthogonalize`` (``make_optimizer`` picks bfloat16
    where the hardware multiplies it natively, as Muon's reference implementation does on GPUs; the
    momentum and the weights stay in float32).
    """

    def __init__(self, model: torch.nn.Module, lr: float, muon_lr: float, weight_decay: float,
                 betas: tuple[float, float], momentum: float = 0.95, eps: float = 1e-8, qkv: bool = True,
                 newton_schulz_dtype: torch.dtype = torch.float32):
        # Muon for the weights of the Linear layers inside the network; the output head, the
        # embeddings and position tables are look-up tables rather than maps and stay with AdamW
        head = getattr(model, "lm_head", None)
        adamw = {id(head)} | (set() if qkv else {id(m.c_attn) for m in model.modules() if hasattr(m, "c_attn")})
        linear = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Linear) and id(m) not in adamw}
        hidden, adam_matrices, gains = [], [], []
        for p in model.parameters():
            if p.requires_grad:
                (hidden if id(p) in linear else adam_matrices if p.dim() >= 2 else gains).append(p)
        groups = [
            {"params": hidden, "muon": True, "lr": muon_lr, "lr_scale": muon_lr / lr, "weight_decay": 0.0},
            {"params": adam_matrices, "muon": False, "lr": lr, "lr_scale": 1.0, "weight_decay": weight_decay},
            {"params": gains, "muon": False, "lr": lr, "lr_scale": 1.0, "weight_decay": 0.0},
        ]
        defaults = {"betas": tuple(betas), "momentum": momentum, "eps": eps}
        super().__init__([g for g in groups if g["params"]], defaults)
        self.newton_schulz_dtype = newton_schulz_dtype

    @torch.no_grad()
    def step(self, closure=None):
        # one op over a list of tensors (torch._foreach_*) instead of a few ops per tensor: a small
        # model's step is dominated by the number of ops, not by their size
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if group["weight_decay"]:
                torch._foreach_mul_(params, 1 - group["lr"] * group["weight_decay"])
            (self._muon_step if group["muon"] else self._adam_step)(params, group)

    def _muon_step(self, params, group):
        grads = [p.grad for p in params]
        buffers = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p)) for p in params]
        torch._foreach_mul_(buffers, group["momentum"])
        torch._foreach_add_(buffers, grads)
        updates = torch._foreach_add(grads, buffers, alpha=group["momentum"])  # Nesterov
        # matrices of one shape in their wide orientation ([256, 128] as [128, 256]) are orthogonalized as one batch
        by_shape = {}
        for p, update in zip(params, updates):
            tall = p.size(0) > p.size(1)
            by_shape.setdefault(tuple(sorted(p.shape)), []).append((p, update.mT if tall else update, tall))
        for entries in by_shape.values():
            batch = torch.stack([update for _, update, _ in entries]).to(self.newton_schulz_dtype)
            orthogonal = orthogonalize(batch).to(entries[0][0].dtype).unbind()
            steps = [o.mT if tall else o for o, (_, _, tall) in zip(orthogonal, entries)]
            torch._foreach_mul_(steps, [-group["lr"] * max(1.0, p.size(0) / p.size(1)) ** 0.5 for p, _, _ in entries])
            torch._foreach_add_([p for p, _, _ in entries], steps)

    def _adam_step(self, params, group):
        for p in params:
            if not self.state[p]:
                self.state[p].update(step=torch.zeros(()), exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        states = [self.state[p] for p in params]
        grads = [p.grad for p in params]
        exp_avgs, exp_avg_sqs = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        torch._foreach_add_([s["step"] for s in states], 1)
        steps = [s["step"].item() for s in states]
        beta1, beta2 = group["betas"]
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        denoms = torch._foreach_div(exp_avg_sqs, [1 - beta2**step for step in steps])  # bias-corrected
        torch._foreach_sqrt_(denoms)
        torch._foreach_add_(denoms, group["eps"])
        torch._foreach_addcdiv_(params, exp_avgs, denoms, [-group["lr"] / (1 - beta1**step) for step in steps])


def lr_at(step: int, lr: float, min_lr: float, warmup_iters: int, decay_iters: int,
          schedule: str = "cosine", decay_frac: float = 1.0) -> float:
    """Learning rate for optimiser step ``step`` (0-based).

    Both schedules rise linearly from ~0 to ``lr`` over ``warmup_iters`` steps (large early updates
    from a random init are unstable), reach ``min_lr`` at ``decay_iters`` and stay there.

    - ``"cosine"`` (GPT-2, nanoGPT): half a cosine from ``lr`` down to ``min_lr``.
    - ``"wsd"`` (warm-up, stable, decay): hold ``lr``, then fall in a straight line to ``min_lr``
      over the last ``decay_frac`` of the ``decay_iters`` steps. Time at the peak makes fast
      progress; the loss then drops steeply while the rate falls, so a long final decay pays off.
    """
    if step < warmup_iters:
        return lr * (step + 1) / (warmup_iters + 1)
    if step >= decay_iters:
        return min_lr
    if schedule == "wsd":
        decay_start = decay_iters * (1.0 - decay_frac)
        return min_lr + (lr - min_lr) * min(1.0, (decay_iters - step) / (decay_iters - decay_start))
    progress = (step - warmup_iters) / max(1, decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every group's lr to ``lr`` times the group's ``lr_scale`` (1 unless a group says otherwise)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
