"""Checks for the transformer-block lesson (notebook 05).

``check_rms_norm(fn)``           the learner's RMSNorm vs ``minigpt.norm.RMSNorm``.
``check_block(mlp, block_fwd)``  the learner's MLP and block forward pass vs ``minigpt.mlp.MLP`` and
                                 ``minigpt.block.Block`` on the same weights.
``check_block_params(fn)``       the learner's parameter-count formula vs a real ``minigpt.block.Block``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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


# -- the block's forward pass: the MLP and the two residual sublayers ----------------------------------------------


def mlp(x: torch.Tensor, layer) -> torch.Tensor:
    """GPT-2's feed-forward sublayer, x [B, T, C] -> [B, T, C], with the weights of ``layer`` (a
    ``minigpt.mlp.MLP``): expand to 4C with ``layer.c_fc``, GELU (tanh form), project back with ``layer.c_proj``."""
    return layer.c_proj(F.gelu(layer.c_fc(x), approximate="tanh"))


def block_forward(x: torch.Tensor, block, attention, mlp) -> torch.Tensor:
    """One pre-norm block, x [B, T, C] -> [B, T, C]: ``attention(h, block.attn)`` and ``mlp(h, block.mlp)``
    are the two sublayers, each read from a normalised copy and added to the residual stream."""
    x = x + attention(block.ln_1(x), block.attn)
    return x + mlp(block.ln_2(x), block.mlp)


def reference_attention(h: torch.Tensor, attn) -> torch.Tensor:
    """Causal multi-head self-attention with ``attn``'s weights: what notebook 03's exercise builds."""
    return attn(h)


def reference_mlp(h: torch.Tensor, layer) -> torch.Tensor:
    return layer(h)


def gpt2_block(seed: int) -> Block:
    """A GPT-2 style block (LayerNorm with bias, GELU MLP, learned positions, no dropout) with random weights,
    its norms' weights and biases away from 1 and 0 so that a norm used in the wrong place shows."""
    with torch.random.fork_rng():  # leave the notebook's random numbers where they were
        torch.manual_seed(seed)
        block = Block(GPTConfig(n_embd=32, n_head=4, block_size=16, n_layer=2, bias=True, norm="layernorm", mlp="gelu",
                                dropout=0.0)).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in (block.ln_1, block.ln_2):
            norm.weight.copy_(torch.rand(32, generator=g) + 0.5)
            norm.bias.copy_(torch.randn(32, generator=g) * 0.5)
    return block


_MLP_HINT = "h = layer.c_fc(x) (C -> 4C); h = F.gelu(h, approximate='tanh'); return layer.c_proj(h) (4C -> C)."
_BLOCK_HINT = ("pre-norm: x = x + attention(block.ln_1(x), block.attn), then x = x + mlp(block.ln_2(x), block.mlp); "
               "the stream x itself is never normalised.")


def _answer_problem(what: str, out, expected, shape_hint: str, mistakes, generic_hint: str) -> Result | None:
    """None when the learner's ``out`` matches ``expected``, else NOT YET saying what came back or, when it
    matches one, which of ``mistakes()`` (a list of (output, hint), made only when needed) it is."""
    if isinstance(out, Result):  # it raised, stopped or is a stub: the message says so
        return out
    answer = tensor_answer(out, expected.shape, what, shape_hint)
    if isinstance(answer, Result):
        return failed(f"{what}: {answer.message}", answer.hint)
    out, atol = answer
    if close(out, expected, atol):
        return None
    result = diagnose(out, expected, mistakes(), generic_hint, atol=atol)
    return failed(f"{what}: {result.message}", result.hint)


def _mlp_mistakes(layer, x):
    hidden = layer.c_fc(x)
    return [
        (layer.c_proj(F.gelu(hidden)), "GPT-2's GELU is the tanh form: F.gelu(h, approximate='tanh'). The exact "
         "(erf) GELU differs by up to about 0.0005, enough to change a trained model's logits."),
        (layer.c_proj(F.relu(hidden)), "that is ReLU: GPT-2 uses GELU, F.gelu(h, approximate='tanh')."),
        (layer.c_proj(hidden), "add the non-linearity between the two layers: without it, two linear layers are one "
         "linear layer. Use F.gelu(h, approximate='tanh')."),
    ]


def _block_mistakes(block, x):
    attn, mlp_, ln_1, ln_2 = block.attn, block.mlp, block.ln_1, block.ln_2
    post = ln_1(x + attn(x))
    normalised = ln_1(x)
    return [
        (ln_2(post + mlp_(post)), "that is post-norm, norm(x + sublayer(x)), the original Transformer's order. GPT-2 "
         "is pre-norm: normalise only the copy that goes into the sublayer, x = x + attention(block.ln_1(x), ...)."),
        (normalised + attn(normalised) + mlp_(ln_2(normalised + attn(normalised))),
         "you replaced the stream by its normalised copy (x = block.ln_1(x)): keep x as it is and add the "
         "sublayer's output to it, x = x + attention(block.ln_1(x), block.attn)."),
        (mlp_(ln_2(attn(ln_1(x)))), "add each sublayer's output to x (the residual connection): x = x + ..., "
         "not x = ...; without it a deep stack cannot train."),
        (x + attn(ln_1(x)) + mlp_(ln_2(x)), "the MLP reads x after attention has been added: compute "
         "x = x + attention(...) first, then x = x + mlp(block.ln_2(x), ...) with the new x."),
    ]


def _check_mlp(fn, block, x) -> Result | None:
    """None when ``fn`` is GPT-2's MLP with ``block.mlp``'s weights, else NOT YET naming the mistake."""
    out = call_learner(fn, x.clone(), block.mlp, name="your mlp")
    return _answer_problem("mlp", out, block.mlp(x), "the MLP keeps the shape of x: [B, T, C] (4C only in the middle).",
                           lambda: _mlp_mistakes(block.mlp, x), _MLP_HINT)


def _check_block_forward(fn, block, x) -> Result | None:
    """None when ``fn`` is the pre-norm block (with our attention and MLP passed in), else NOT YET naming the mistake."""
    out = call_learner(fn, x.clone(), block, reference_attention, reference_mlp, name="your block_forward")
    return _answer_problem("block_forward", out, block(x), "a block keeps the shape of x: [B, T, C].",
                           lambda: _block_mistakes(block, x), _BLOCK_HINT)


@with_reference(mlp, block_forward)
def check_block(learner_mlp, learner_block_forward, *, seed: int = 0) -> Result:
    """Check ``mlp(x, layer)`` against ``minigpt.mlp.MLP``, then ``block_forward(x, block, attention, mlp)``
    against ``minigpt.block.Block``, both on the same random weights (block_forward is given our attention and
    MLP, so its verdict is about the residual wiring alone)."""
    block = gpt2_block(seed)
    x = torch.randn(2, 7, 32, generator=torch.Generator().manual_seed(seed + 1)) * 2 + 1
    with torch.no_grad():
        for problem in (_check_mlp(learner_mlp, block, x), _check_block_forward(learner_block_forward, block, x)):
            if problem is not None:  # a Result, falsy when it fails: compare with None, never `or`
                return problem
    return passed("your mlp matches minigpt.mlp.MLP and your block_forward matches minigpt.block.Block "
                             "(pre-norm) to 1e-5.")
