"""The attention exercise checks pass the solution and fail (with the right hint) on wrong answers."""

import math

import torch
import torch.nn.functional as F

from minigpt.course.exercises.attention import check_attention, check_multi_head


def attention(q, k, v, causal=True, *, scale=True, mask=True, dim=-1):
    """The solution, with switches that reproduce the usual mistakes."""
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.size(-1))
    if causal and mask:
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return scores.softmax(dim=dim) @ v


def test_solution_passes():
    result = check_attention(attention)
    assert result.passed and "PASS" in repr(result)


def test_missing_scale_fails_with_scale_hint():
    result = check_attention(lambda q, k, v, causal: attention(q, k, v, causal, scale=False))
    assert not result.passed
    assert "sqrt" in result.hint and "NOT YET" in repr(result)


def test_missing_mask_fails_with_mask_hint():
    result = check_attention(lambda q, k, v, causal: attention(q, k, v, causal, mask=False))
    assert not result.passed and "causal=True" in result.message
    assert "j > i" in result.hint


def test_softmax_over_queries_fails():
    result = check_attention(lambda q, k, v, causal: attention(q, k, v, causal, dim=-2))
    assert not result.passed and "last axis" in result.hint


def test_fully_masked_rows_give_nan_hint():
    def nan_attention(q, k, v, causal):
        T = q.size(-2)
        scores = (q @ k.transpose(-2, -1)).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(-1), float("-inf"))
        return scores.softmax(-1) @ v

    result = check_attention(nan_attention)
    assert not result.passed and "NaN" in result.message


def test_wrong_shape_and_exceptions_are_reported_not_raised():
    weights_only = check_attention(lambda q, k, v, causal: (q @ k.transpose(-2, -1)).softmax(-1))
    assert not weights_only.passed and "shape" in weights_only.message
    raising = check_attention(lambda q, k, v, causal: 1 / 0)
    assert not raising.passed and "ZeroDivisionError" in raising.message
    not_tensor = check_attention(lambda q, k, v, causal: attention(q, k, v, causal).tolist())
    assert not not_tensor.passed and "returned a list" in not_tensor.message and "torch.Tensor" in not_tensor.message
    as_numpy = check_attention(lambda q, k, v, causal: attention(q, k, v, causal).numpy())
    assert as_numpy.passed, repr(as_numpy)


def test_calling_the_reference_itself_fails():
    result = check_attention(lambda q, k, v, causal: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    assert not result.passed and "scaled_dot_product_attention" in result.message and "q @ k" in result.hint
    from minigpt.attention import attend  # the package's fast path calls it too

    result = check_attention(lambda q, k, v, causal: attend(q, k, v, is_causal=causal)[0])
    assert not result.passed and "scaled_dot_product_attention" in result.message


def test_multi_head_may_use_the_library_attention():
    assert check_multi_head(multi_head).passed  # multi_head above calls F.scaled_dot_product_attention


def multi_head(x, attn, *, transpose=True, project=True):
    B, T, C = x.shape
    H = attn.n_head
    q, k, v = attn.c_attn(x).split(C, dim=-1)
    if transpose:
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
    else:
        q, k, v = (t.reshape(B, H, T, C // H) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).reshape(B, T, C)
    return attn.c_proj(y) if project else y


def test_multi_head_solution_passes():
    assert check_multi_head(multi_head).passed


def test_multi_head_without_transpose_fails_with_hint():
    result = check_multi_head(lambda x, attn: multi_head(x, attn, transpose=False))
    assert not result.passed and "transpose(1, 2)" in result.hint


def test_multi_head_without_projection_fails_with_hint():
    result = check_multi_head(lambda x, attn: multi_head(x, attn, project=False))
    assert not result.passed and "c_proj" in result.hint
