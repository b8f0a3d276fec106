"""Checks for the attention lesson (notebook 03).

``check_attention(fn)``   the learner's scaled dot-product attention vs ``F.scaled_dot_product_attention``.
``check_multi_head(fn)``  the learner's multi-head attention vs ``minigpt.attention.Attention``.

When an answer is wrong the check compares it with the usual mistakes (no 1/√d_k, no mask,
softmax over the wrong axis, ...) so the hint can name what went wrong.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from minigpt.exercises._result import Result, failed, passed
from minigpt.exercises._tensor_checks import ATOL, call_learner, check_tensor, diagnose

_ATTENTION_HINT = (
    "scores = q @ k.transpose(-2, -1) / math.sqrt(d_k); if causal, set scores[i, j] = -inf where j > i "
    "(torch.ones(T, T, dtype=torch.bool).tril() marks the allowed pairs); softmax over the last axis; multiply by v."
)


def _attention_mistakes(q, k, v, causal):
    """Outputs of the common wrong versions, each with what to fix: list of (output, hint)."""
    T, d_k = q.size(-2), q.size(-1)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()

    def attend(scale, mask, dim=-1):
        scores = q @ k.transpose(-2, -1) * scale
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return scores.softmax(dim=dim) @ v

    mask = allowed if causal else None
    mistakes = [
        (attend(1.0, mask), "the scores are not scaled: divide q·kᵀ by math.sqrt(d_k), d_k = q.size(-1)."),
        (attend(1.0 / d_k, mask), "divide by the square root of d_k, not by d_k itself."),
        (attend(1.0 / math.sqrt(d_k), mask, dim=-2),
         "take the softmax over the keys (the last axis, dim=-1): each query's weights must sum to 1."),
    ]
    if causal:
        mistakes += [
            (attend(1.0 / math.sqrt(d_k), None), "with causal=True a token must not see later tokens: "
             "fill scores[..., i, j] with -inf where j > i before the softmax."),
            (attend(1.0 / math.sqrt(d_k), allowed.T), "the mask is the wrong way round: token i may see "
             "positions j <= i (the lower triangle, .tril()), not j >= i."),
        ]
    else:
        mistakes.append((attend(1.0 / math.sqrt(d_k), allowed),
                         "with causal=False every token may see every other token: apply the mask only when causal."))
    return mistakes


def check_attention(fn, *, seed: int = 0) -> Result:
    """Check ``fn(q, k, v, causal) -> out`` on q, k, v [B, H, T, D], with causal False and True.

    The reference is ``F.scaled_dot_product_attention(q, k, v, is_causal=causal)``; tolerance 1e-5.
    """
    g = torch.Generator().manual_seed(seed)
    B, H, T, D = 2, 3, 6, 16
    q, k, v = (torch.randn(B, H, T, D, generator=g) for _ in range(3))
    for causal in (False, True):
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        out = call_learner(fn, q.clone(), k.clone(), v.clone(), causal=causal)
        problem = check_tensor(out, expected.shape, f"attention(causal={causal})",
                               "one output vector per query: weights [B, H, T, T] @ v [B, H, T, D] -> [B, H, T, D].")
        if problem is not None:
            return problem
        if not torch.allclose(out, expected, atol=ATOL):
            result = diagnose(out, expected, _attention_mistakes(q, k, v, causal), _ATTENTION_HINT,
                              nan_hint="a row of scores that is entirely -inf gives NaN after softmax: mask only "
                                       "j > i, so every token can at least see itself.")
            return failed(f"causal={causal}: " + result.message, result.hint)
    return passed("your attention matches F.scaled_dot_product_attention (causal and not) to 1e-5.")


def check_multi_head(fn, *, seed: int = 0) -> Result:
    """Check ``fn(x, attn) -> y``: multi-head causal self-attention using the weights of ``attn``.

    ``attn`` is a ``minigpt.attention.Attention``; x is [B, T, C]; the reference is ``attn(x)``.
    """
    from minigpt.attention import Attention
    from minigpt.config import GPTConfig

    torch.manual_seed(seed)
    config = GPTConfig(n_embd=32, n_head=4, block_size=16, n_layer=1)
    attn = Attention(config).eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 7, config.n_embd, generator=g)
    with torch.no_grad():
        expected = attn(x)
        out = call_learner(fn, x.clone(), attn)
        problem = check_tensor(out, expected.shape, "multi_head_attention", "the output has the input's shape [B, T, C].")
        if problem is not None:
            return problem
        if torch.allclose(out, expected, atol=ATOL):
            return passed(f"your multi-head attention matches minigpt.attention.Attention "
                          f"({config.n_head} heads of {config.head_dim} dims) to 1e-5.")
        # The classic mistake: reshaping [B, T, C] straight to [B, H, T, D] mixes tokens across heads.
        B, T, C = x.shape
        q, k, v = attn.c_attn(x).split(C, dim=-1)
        scrambled = [t.reshape(B, config.n_head, T, config.head_dim) for t in (q, k, v)]
        y = F.scaled_dot_product_attention(*scrambled, is_causal=True).reshape(B, T, C)
        mistakes = [(attn.c_proj(y), "split the heads with .view(B, T, H, D).transpose(1, 2), not "
                     ".view(B, H, T, D): a head owns a slice of each token's channels, not a block of tokens; "
                     "undo it with .transpose(1, 2).reshape(B, T, C).")]
        y = F.scaled_dot_product_attention(*(t.view(B, T, config.n_head, -1).transpose(1, 2) for t in (q, k, v)),
                                           is_causal=True).transpose(1, 2).reshape(B, T, C)
        mistakes.append((y, "the heads are right; finish with the output projection attn.c_proj."))
        return diagnose(out, expected, mistakes,
                         "q, k, v = attn.c_attn(x).split(C, dim=-1); give each the shape [B, H, T, D] with "
                         ".view(B, T, H, D).transpose(1, 2); attend (causal); put the heads back side by side "
                         "[B, T, C]; apply attn.c_proj.")
