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

from torch.overrides import TorchFunctionMode

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import call_learner, close, diagnose, tensor_answer

_NAN_HINT = ("a row of scores that is entirely -inf gives NaN after softmax: mask only j > i, so every token can "
             "at least see itself.")
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


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """Scaled dot-product attention, q, k, v [B, H, T, D] -> [B, H, T, D], written out step by step."""
    T, D = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)  # [B, H, T, T]
    if causal:
        allowed = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    return scores.softmax(dim=-1) @ v


def multi_head_attention(x: torch.Tensor, attn) -> torch.Tensor:
    """Causal multi-head self-attention x [B, T, C] -> [B, T, C] with the weights of ``attn``."""
    B, T, C = x.shape
    H = attn.n_head
    q, k, v = attn.c_attn(x).split(C, dim=-1)  # 3 x [B, T, C]
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))  # 3 x [B, H, T, D]
    y = attention(q, k, v, causal=True).transpose(1, 2).reshape(B, T, C)  # heads side by side again
    return attn.c_proj(y)


class _LibraryAttentionSpy(TorchFunctionMode):
    """Notes every call to PyTorch's own attention while it is active (``with _LibraryAttentionSpy() as spy``).

    The exercise is to write attention, and the check's reference is F.scaled_dot_product_attention:
    an answer that just calls it would pass without showing anything. A torch function mode sees
    every torch call made inside the ``with`` block, however it is spelled (F.…, torch.nn.functional.…,
    through a helper such as minigpt.attention.attend), so the check can tell.
    """

    _NAMES = {"scaled_dot_product_attention", "multi_head_attention_forward"}

    def __init__(self):
        super().__init__()
        self.called: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self._NAMES:
            self.called.append(name)
        return func(*args, **(kwargs or {}))


@with_reference(attention)
def check_attention(fn, *, seed: int = 0) -> Result:
    """Check ``fn(q, k, v, causal) -> out`` on q, k, v [B, H, T, D], with causal False and True.

    The reference is ``F.scaled_dot_product_attention(q, k, v, is_causal=causal)``; tolerance 1e-5
    (looser for an answer computed in float16 or bfloat16). Calling that function is not allowed:
    the exercise is to write it.
    """
    g = torch.Generator().manual_seed(seed)
    B, H, T, D = 2, 3, 6, 16
    q, k, v = (torch.randn(B, H, T, D, generator=g) for _ in range(3))
    for causal in (False, True):
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        with _LibraryAttentionSpy() as spy:
            out = call_learner(fn, q.clone(), k.clone(), v.clone(), causal=causal)
        if isinstance(out, Result):
            return out
        if spy.called:
            return failed(f"your function calls PyTorch's {spy.called[0]}: that is the reference the check compares "
                          "with, so the exercise is to compute it yourself.", _ATTENTION_HINT)
        answer = tensor_answer(out, expected.shape, f"attention(causal={causal})",
                               "one output vector per query: weights [B, H, T, T] @ v [B, H, T, D] -> [B, H, T, D].",
                               nan_hint=_NAN_HINT)
        if isinstance(answer, Result):
            if answer.message.startswith("your output contains"):
                return failed(f"causal={causal}: " + answer.message, answer.hint)
            return answer
        out, atol = answer
        if not close(out, expected, atol):
            result = diagnose(out, expected, _attention_mistakes(q, k, v, causal), _ATTENTION_HINT,
                              nan_hint=_NAN_HINT, atol=atol)
            return failed(f"causal={causal}: " + result.message, result.hint)
    return passed("your attention matches F.scaled_dot_product_attention (causal and not) to 1e-5.")


@with_reference(multi_head_attention)
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
        answer = tensor_answer(out, expected.shape, "multi_head_attention", "the output has the input's shape [B, T, C].")
        if isinstance(answer, Result):
            return answer
        out, atol = answer
        if close(out, expected, atol):
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
                         "[B, T, C]; apply attn.c_proj.", atol=atol)
