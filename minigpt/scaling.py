"""Scaling laws: how loss falls with model size, and how to split a compute budget.

Kaplan et al. (2020) found that, trained well, a language model's loss falls as a power law
in its (non-embedding) parameter count N::

    L(N) = a · N^(-alpha) + E          # E = irreducible loss (entropy of the text itself)

On a log-log plot ``L - E`` against ``N`` is a straight line with slope ``-alpha``, so
``fit_power_law`` fits it with ordinary least squares on the logs.

Training a transformer costs about C ≈ 6·N·D floating point operations for D tokens
(2·N per token forward, 4·N backward). Hoffmann et al. (2022, "Chinchilla") found that for a
fixed C the best loss comes from growing N and D together, about 20 tokens per parameter::

    D ≈ 20·N   and   C = 6·N·D   =>   N = sqrt(C / 120),  D = 20·N
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

CHINCHILLA_TOKENS_PER_PARAM = 20.0


@dataclass(frozen=True)
class PowerLaw:
    """L(N) = a · N^(-alpha) + irreducible, fitted by ``fit_power_law``."""

    a: float
    alpha: float
    irreducible: float = 0.0
    r2: float = 1.0  # fraction of the variance of log(L - E) the line explains (1 = perfect)

    def __call__(self, n):
        """The predicted loss at size n (a float, or a tensor/array of sizes)."""
        return self.a * n ** (-self.alpha) + self.irreducible

    def __str__(self) -> str:
        extra = f" + {self.irreducible:.3g}" if self.irreducible else ""
        return f"L(N) = {self.a:.3g} * N^(-{self.alpha:.3f}){extra}   (R^2 = {self.r2:.3f})"


def fit_power_law(n, loss, irreducible: float = 0.0) -> PowerLaw:
    """Fit L = a·N^(-alpha) + irreducible to measured (N, L) pairs by least squares on log-log axes.

    n, loss: sequences of the same length (>= 2) of positive numbers, with loss > irreducible.
    """
    n = torch.as_tensor(n, dtype=torch.float64).flatten()
    loss = torch.as_tensor(loss, dtype=torch.float64).flatten()
    if n.numel() != loss.numel():
        raise ValueError(f"n and loss must have the same length, got {n.numel()} and {loss.numel()}")
    if n.numel() < 2 or torch.unique(n).numel() < 2:
        raise ValueError("need losses at two or more different sizes n to fit a power law")
    if (n <= 0).any():
        raise ValueError(f"sizes n must be positive, got {n.tolist()}")
    if (loss <= irreducible).any():
        raise ValueError(
            f"every loss must be above irreducible={irreducible} (the power law only describes the part "
            f"that can still go down); got {loss.tolist()}: lower `irreducible`"
        )
    x, y = n.log(), (loss - irreducible).log()
    slope, intercept = _least_squares_line(x, y)
    residual = y - (slope * x + intercept)
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - float((residual**2).sum() / total) if total > 0 else 1.0
    return PowerLaw(a=math.exp(intercept), alpha=-slope, irreducible=irreducible, r2=r2)


def _least_squares_line(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Slope and intercept of the line y ≈ slope·x + intercept that minimises squared error."""
    xm, ym = x.mean(), y.mean()
    slope = ((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum()
    return float(slope), float(ym - slope * xm)


def training_flops(n_params: float, n_tokens: float) -> float:
    """C ≈ 6·N·D: forward (2 FLOPs per parameter per token) plus backward (4)."""
    if n_params <= 0 or n_tokens <= 0:
        raise ValueError(f"n_params and n_tokens must be positive, got {n_params} and {n_tokens}")
    return 6.0 * n_params * n_tokens


def chinchilla_optimal(compute: float, tokens_per_param: float = CHINCHILLA_TOKENS_PER_PARAM) -> tuple[float, float]:
    """The compute-optimal (n_params, n_tokens) for a budget of ``compute`` FLOPs.

    Solves C = 6·N·D with D = tokens_per_param·N: N = sqrt(C / (6·tokens_per_param)).
    """
    if compute <= 0 or tokens_per_param <= 0:
        raise ValueError(f"compute and tokens_per_param must be positive, got {compute} and {tokens_per_param}")
    n_params = math.sqrt(compute / (6.0 * tokens_per_param))
    return n_params, tokens_per_param * n_params
