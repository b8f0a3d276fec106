"""diagnose's wording: a wrong answer is called "close" only when its difference from the reference is small."""

import math

import torch

from minigpt.course.exercises._tensor_checks import diagnose
from minigpt.course.exercises.attention import check_attention


def _message(gap):
    expected = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    out = expected.clone()
    out[0, 0] += gap
    return diagnose(out, expected, [(out.clone(), "the usual mistake")], "generic").message


def test_a_known_mistake_is_close_only_when_the_difference_is_small():
    near, far = _message(0.01), _message(1.3)
    assert near.startswith("close to the reference, but not the same (max difference 0.01)"), near
    assert far.startswith("far from the reference (max difference 1.3)") and "close" not in far, far


def test_the_closeness_scales_with_the_values():
    expected = torch.tensor([100.0, -40.0])
    out = expected + torch.tensor([1.0, 0.0])  # 1.0 is 1% of the largest value: close
    assert diagnose(out, expected, [(out.clone(), "h")], "g").message.startswith("close to the reference")


def test_unscaled_attention_with_its_mask_is_called_far_and_named():
    """The notebook's demo: the reference without 1/sqrt(d_k) (q scaled up by sqrt(d_k)), the mask kept."""
    reference = check_attention.reference[0]
    result = check_attention(lambda q, k, v, causal: reference(q * math.sqrt(q.size(-1)), k, v, causal))
    assert result.message.startswith("causal=False: far from the reference (max difference 1.31)"), result.message
    assert "not scaled" in result.hint
