"""The block exercise checks pass the solutions and fail (with the right hint) on wrong answers."""

import torch

from minigpt.course.exercises.block import check_block_params, check_rms_norm


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def test_rms_norm_solution_passes():
    assert check_rms_norm(rms_norm).passed


def test_rms_norm_mistakes_fail_with_named_hint():
    no_eps = check_rms_norm(lambda x, w, eps: x / x.pow(2).mean(-1, keepdim=True).sqrt() * w)
    assert not no_eps.passed and "eps" in no_eps.hint
    no_weight = check_rms_norm(lambda x, w, eps: rms_norm(x, torch.ones_like(w), eps))
    assert not no_weight.passed and "weight" in no_weight.hint
    layer_norm = check_rms_norm(lambda x, w, eps: torch.nn.functional.layer_norm(x, w.shape, w, None, eps))
    assert not layer_norm.passed and "LayerNorm" in layer_norm.hint
    no_root = check_rms_norm(lambda x, w, eps: x / (x.pow(2).mean(-1, keepdim=True) + eps) * w)
    assert not no_root.passed and "ROOT" in no_root.hint


def block_params(C):
    attention = 4 * C * C + 4 * C
    mlp = 4 * C * C + 4 * C + 4 * C * C + C
    norms = 2 * 2 * C
    return attention + mlp + norms


def test_block_params_solution_passes():
    assert check_block_params(block_params).passed


def test_block_params_mistakes_fail_with_named_hint():
    matrices_only = check_block_params(lambda C: 12 * C * C)
    assert not matrices_only.passed and "biases" in matrices_only.hint and "LayerNorm" in matrices_only.hint
    no_norms = check_block_params(lambda C: block_params(C) - 4 * C)
    assert not no_norms.passed and "LayerNorms" in no_norms.hint
    assert not check_block_params(lambda C: 12 * C * C + 13 * C + 1).passed
    assert check_block_params(lambda C: float(block_params(C))).passed  # 4.0 is a whole number: fine
    not_whole = check_block_params(lambda C: block_params(C) + 0.5)
    assert not not_whole.passed and "whole number" in not_whole.message
    not_a_number = check_block_params(lambda C: str(block_params(C)))
    assert not not_a_number.passed and "returned a str" in not_a_number.message
    raising = check_block_params(lambda C: undefined_name)  # noqa: F821
    assert not raising.passed and "NameError" in raising.message
