"""Checks for the positional-encoding lesson (notebook 04).

``check_sinusoidal(fn)``  the learner's sine/cosine table vs ``minigpt.positional.sinusoidal_table``.
``check_rope(fn)``        the learner's RoPE rotation vs ``minigpt.positional.apply_rope``.
"""

from __future__ import annotations

import torch

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import call_learner, close, diagnose, tensor_answer
from minigpt.positional import apply_rope, rope_frequencies, sinusoidal_table


def _table(T, C, *, exponent_step=2, swap=False, interleave=True):
    """Sinusoidal tables with the usual mistakes switched on (defaults = the right table)."""
    position = torch.arange(T, dtype=torch.float32)[:, None]
    inv_freq = 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float32) * (exponent_step / 2) / C)
    first, second = torch.sin(position * inv_freq), torch.cos(position * inv_freq)
    if swap:
        first, second = second, first
    if not interleave:
        return torch.cat((first, second), dim=1)
    return torch.stack((first, second), dim=-1).reshape(T, C)


@with_reference(sinusoidal_table)
def check_sinusoidal(fn) -> Result:
    """Check ``fn(T, C) -> table [T, C]`` with PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(...)."""
    for T, C in ((16, 8), (50, 32)):
        expected = sinusoidal_table(T, C)
        out = call_learner(fn, T, C)
        answer = tensor_answer(out, expected.shape, f"sinusoidal({T}, {C})", "one row per position, one column per channel.")
        if isinstance(answer, Result):
            return answer
        out, atol = answer
        if not close(out, expected, atol):
            mistakes = [
                (_table(T, C, swap=True), "even columns (0, 2, 4, ...) are sin, odd columns are cos; yours are swapped."),
                (_table(T, C, interleave=False), "interleave the columns: sin goes in table[:, 0::2] and cos in "
                 "table[:, 1::2] (not sin in the first half and cos in the second)."),
                (_table(T, C, exponent_step=1), "the exponent is 2i/C where 2i is the even column index "
                 "(torch.arange(0, C, 2)), not i/C with i = 0, 1, 2, ..."),
            ]
            result = diagnose(out, expected, mistakes,
                               "angle[p, i] = p / 10000 ** (2i / C) for 2i in torch.arange(0, C, 2); "
                               "table[:, 0::2] = sin(angle), table[:, 1::2] = cos(angle).", atol=atol)
            return failed(f"T={T}, C={C}: " + result.message, result.hint)
    return passed("your sinusoidal table matches minigpt.positional.sinusoidal_table.")


@with_reference(apply_rope)
def check_rope(fn, *, seed: int = 0) -> Result:
    """Check ``fn(x, cos, sin) -> rotated x`` on x [B, H, T, D] with cos, sin [T, D/2] (the "rotate half" layout)."""
    g = torch.Generator().manual_seed(seed)
    B, H, T, D = 2, 2, 9, 8
    x = torch.randn(B, H, T, D, generator=g)
    cos, sin = rope_frequencies(D, T)
    expected = apply_rope(x, cos, sin)
    out = call_learner(fn, x.clone(), cos, sin)
    answer = tensor_answer(out, expected.shape, "rope", "RoPE rotates x in place of x: same shape [B, H, T, D].")
    if isinstance(answer, Result):
        return answer
    out, atol = answer
    if close(out, expected, atol):
        return passed("your RoPE matches minigpt.positional.apply_rope.")
    x1, x2 = x.chunk(2, dim=-1)
    neighbours = torch.stack((x[..., 0::2] * cos - x[..., 1::2] * sin, x[..., 0::2] * sin + x[..., 1::2] * cos), -1)
    mistakes = [
        (apply_rope(x, cos, -sin), "you rotate the wrong way: the first half becomes x1·cos − x2·sin and the second "
         "half x1·sin + x2·cos."),
        (neighbours.reshape(B, H, T, D), "you pair neighbouring dimensions (0,1), (2,3), ... as in the paper; minigpt "
         "pairs dimension i with i + D/2 (x1, x2 = x.chunk(2, dim=-1)). Same idea, different layout."),
        (torch.cat((x1 * cos, x2 * cos), -1), "a rotation mixes the two halves: include the sin terms."),
    ]
    return diagnose(out, expected, mistakes,
                     "x1, x2 = x.chunk(2, dim=-1); return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).",
                     atol=atol)
