"""The positional-encoding exercise checks pass the solution and fail (with the right hint) on wrong answers."""

import torch

from minigpt.course.exercises.positions import check_rope, check_sinusoidal


def sinusoidal(T, C, *, swap=False, halves=False, step=2):
    position = torch.arange(T, dtype=torch.float32)[:, None]
    angle = position / 10000 ** (torch.arange(0, C, 2) * (step / 2) / C)
    a, b = (angle.cos(), angle.sin()) if swap else (angle.sin(), angle.cos())
    if halves:
        return torch.cat((a, b), dim=1)
    table = torch.zeros(T, C)
    table[:, 0::2], table[:, 1::2] = a, b
    return table


def test_sinusoidal_solution_passes():
    assert check_sinusoidal(sinusoidal).passed


def test_sinusoidal_mistakes_fail_with_named_hint():
    assert "swapped" in check_sinusoidal(lambda T, C: sinusoidal(T, C, swap=True)).hint
    assert "interleave" in check_sinusoidal(lambda T, C: sinusoidal(T, C, halves=True)).hint
    assert "arange(0, C, 2)" in check_sinusoidal(lambda T, C: sinusoidal(T, C, step=1)).hint
    wrong_shape = check_sinusoidal(lambda T, C: sinusoidal(T, C).T)
    assert not wrong_shape.passed and "shape" in wrong_shape.message


def rope(x, cos, sin, *, sign=1.0, neighbours=False):
    sin = sign * sin
    if neighbours:
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def test_rope_solution_passes():
    assert check_rope(rope).passed


def test_rope_mistakes_fail_with_named_hint():
    backwards = check_rope(lambda x, c, s: rope(x, c, s, sign=-1.0))
    assert not backwards.passed and "wrong way" in backwards.hint
    paper_layout = check_rope(lambda x, c, s: rope(x, c, s, neighbours=True))
    assert not paper_layout.passed and "neighbouring" in paper_layout.hint
    identity = check_rope(lambda x, c, s: x)
    assert not identity.passed and identity.hint
