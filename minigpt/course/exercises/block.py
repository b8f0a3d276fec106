"""Checks for the transformer-block lesson (notebook 05).

``check_rms_norm(fn)``      the learner's RMSNorm vs ``minigpt.norm.RMSNorm``.
``check_block_params(fn)``  the learner's parameter-count formula vs a real ``minigpt.block.Block``.
"""

from __future__ import annotations

import torch

from minigpt.block import Block
from minigpt.config import GPTConfig
from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import call_learner, close, diagnose, number_answer, tensor_answer
from minigpt.norm import RMSNorm


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm of x [..., C]: x / sqrt(mean(x², last axis) + eps) * weight."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


@with_reference(rms_norm)
def check_rms_norm(fn, *, seed: int = 0) -> Result:
    """Check ``fn(x, weight, eps) -> y`` on x [B, T, C]: y = x / sqrt(mean(x², last axis) + eps) * weight."""
    g = torch.Generator().manual_seed(seed)
    C = 16
    x = torch.randn(2, 5, C, generator=g) + 0.5  # a non-zero mean, so "subtract the mean" shows
    x[0, 0] *= 1e-4  # a nearly silent token, so forgetting eps shows
    norm = RMSNorm(C)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(C, generator=g) + 0.5)
        expected = norm(x)
    weight, eps = norm.weight.detach(), norm.eps
    out = call_learner(fn, x.clone(), weight.clone(), eps)
    answer = tensor_answer(out, expected.shape, "rms_norm", "RMSNorm keeps the shape of x: [B, T, C].",
                           nan_hint="a token whose numbers are all 0 is divided by 0 unless eps is added first.")
    if isinstance(answer, Result):
        return answer
    out, atol = answer
    if close(out, expected, atol):
        return passed("your RMSNorm matches minigpt.norm.RMSNorm.")
    ms = x.pow(2).mean(-1, keepdim=True)
    centred = x - x.mean(-1, keepdim=True)
    mistakes = [
        (x / ms.sqrt() * weight, "add eps inside the square root: torch.rsqrt(mean(x²) + eps) keeps a silent "
         "token (all x near 0) from being divided by ~0."),
        (x * torch.rsqrt(ms + eps), "multiply by the learned weight at the end."),
        (x / (ms + eps) * weight, "divide by the ROOT mean square: take the square root of mean(x²) + eps."),
        (centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * weight,
         "that is LayerNorm without a bias: RMSNorm does not subtract the mean."),
        (x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps) * weight, "take the MEAN of x² over the channels, not the sum."),
    ]
    return diagnose(out, expected, mistakes,
                    "return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight", atol=atol)


def block_config(n_embd: int) -> GPTConfig:
    """The block the parameter exercise counts: GPT-2 style (LayerNorm with bias, GELU MLP, biases on)."""
    return GPTConfig(n_embd=n_embd, n_head=4, n_layer=1, bias=True, norm="layernorm", mlp="gelu")


def count_block_params(C: int) -> int:
    """Parameters of one GPT-2 block of width C: 12 C² + 13 C."""
    attention = (C * 3 * C + 3 * C) + (C * C + C)  # c_attn (Q, K, V) + c_proj, weights + biases
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)  # c_fc + c_proj
    norms = 2 * (C + C)  # ln_1, ln_2: weight + bias
    return attention + mlp + norms


@with_reference(count_block_params)
def check_block_params(fn) -> Result:
    """Check ``fn(n_embd) -> int`` against the parameters of ``Block(block_config(n_embd))`` for several widths.

    Any whole number counts: a Python or numpy int, or a float such as 4.0 (C / 2 makes one).
    """
    for C in (64, 96, 384):
        expected = sum(p.numel() for p in Block(block_config(C)).parameters())
        answer = number_answer(call_learner(fn, C), f"count_block_params({C})", integer=True,
                               hint="return a number, e.g. 12 * C * C + ...")
        if isinstance(answer, Result):
            return answer
        if answer == expected:
            continue
        missing = expected - answer
        hints = {
            13 * C: "you counted the weight matrices only: add the biases (Q, K, V and output: 4C; MLP: 4C + C) "
                    "and the two LayerNorms (weight + bias, 2C each).",
            4 * C: "add the two LayerNorms: each has a weight and a bias of C numbers.",
            9 * C: "add the biases: Q, K, V (3C), attention output (C), MLP up (4C) and down (C).",
        }
        hint = hints.get(missing, "attention: Q, K, V and output projections are C×C each (+ C biases); "
                                  "MLP: C×4C up (+ 4C bias) and 4C×C down (+ C bias); two LayerNorms of 2C each.")
        return failed(f"for n_embd={C} you counted {answer:,} parameters, the Block has {expected:,} "
                      f"(difference {missing:+,}).", hint)
    return passed("your formula matches minigpt.block.Block for n_embd = 64, 96 and 384.")
