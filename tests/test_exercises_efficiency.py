"""The efficiency exercise checks pass the solutions and fail, with the right hint, on wrong answers."""

import torch

from minigpt.config import get_config
from minigpt.course.exercises.efficiency import check_kv_cache_bytes, check_quantize, reference_kv_cache_bytes


def kv_cache_bytes(config, batch_size, bytes_per_number):
    return 2 * config.n_layer * batch_size * config.n_kv_head * config.block_size * config.head_dim * bytes_per_number


def quantize_int8(w):
    scale = w.abs().amax(dim=1, keepdim=True) / 127
    return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale


def test_reference_is_the_real_cache_size():
    # GPT-2 small, 1 sequence of 1024 tokens in bf16: 2 * 12 * 12 * 1024 * 64 * 2 bytes = 36 MiB
    assert reference_kv_cache_bytes(get_config("gpt2"), 1, 2) == 36 * 2**20
    assert reference_kv_cache_bytes(get_config("gpt2", n_kv_head=4), 1, 2) == 12 * 2**20


def test_kv_solution_passes():
    result = check_kv_cache_bytes(kv_cache_bytes)
    assert result.passed and "GQA" in result.message


def test_kv_mistakes_fail_with_hints():
    only_keys = check_kv_cache_bytes(lambda c, b, n: kv_cache_bytes(c, b, n) // 2)
    assert not only_keys.passed and "AND the values" in only_keys.hint
    query_heads = check_kv_cache_bytes(lambda c, b, n: kv_cache_bytes(c, b, n) // c.n_kv_head * c.n_head)
    assert not query_heads.passed and "n_kv_head" in query_heads.hint
    one_layer = check_kv_cache_bytes(lambda c, b, n: kv_cache_bytes(c, b, n) // c.n_layer)
    assert not one_layer.passed and "n_layer" in one_layer.hint
    not_a_number = check_kv_cache_bytes(lambda c, b, n: "36 MB")
    assert not not_a_number.passed and "number" in not_a_number.message


def test_quantize_solution_passes_with_either_scale_shape():
    assert check_quantize(quantize_int8).passed
    assert check_quantize(lambda w: (quantize_int8(w)[0], quantize_int8(w)[1].squeeze(1))).passed


def test_quantize_mistakes_fail_with_hints():
    def per_tensor(w):
        scale = w.abs().max() / 127
        return torch.round(w / scale).clamp(-127, 127).to(torch.int8), torch.full((w.size(0), 1), scale.item())

    assert "one per output channel" in check_quantize(per_tensor).hint

    def truncating(w):
        scale = w.abs().amax(dim=1, keepdim=True) / 127
        return (w / scale).to(torch.int8), scale

    assert "torch.round" in check_quantize(truncating).hint
    float_q = check_quantize(lambda w: (quantize_int8(w)[0].float(), quantize_int8(w)[1]))
    assert not float_q.passed and "torch.int8" in float_q.message
    bad_scale = check_quantize(lambda w: (quantize_int8(w)[0], quantize_int8(w)[1] * 2))
    assert not bad_scale.passed and "scales differ" in bad_scale.message
    wrong_shape = check_quantize(lambda w: (quantize_int8(w)[0].T, quantize_int8(w)[1]))
    assert not wrong_shape.passed and "shape" in wrong_shape.message


# -- FlashAttention and speculative decoding (issue 17) ------------------------------------------------

import math  # noqa: E402

import numpy as np  # noqa: E402

from minigpt.course.exercises import efficiency as E  # noqa: E402
from minigpt.course.exercises.efficiency import check_flash_attention, check_speculative_step  # noqa: E402
from minigpt.speculative import _greedy_next  # noqa: E402
from minigpt.speculative import speculative_step as spec_reference  # noqa: E402


def test_flash_solution_passes_in_any_form():
    assert check_flash_attention(E.flash_attention).passed
    assert check_flash_attention(lambda q, k, v, b: E.flash_attention(q.double(), k.double(), v.double(), b).numpy()).passed
    assert check_flash_attention(lambda q, k, v, b: E.flash_attention(q, k, v, b).half()).passed


def test_flash_mistakes_fail_with_hints():
    assert "multiply acc" in check_flash_attention(lambda *a: E._flash_variant(*a, rescale_acc=False)).hint
    assert "multiply l" in check_flash_attention(lambda *a: E._flash_variant(*a, rescale_l=False)).hint
    assert "causal" in check_flash_attention(lambda *a: E._flash_variant(*a, causal=False)).hint
    assert "√D" in check_flash_attention(lambda *a: E._flash_variant(*a, scale=False)).hint
    whole = check_flash_attention(lambda q, k, v, b: E._softmax_attention(q, k, v))
    assert not whole.passed and "score matrix" in whole.message

    def without_max(q, k, v, block_size):
        T = q.size(2)
        s = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1),
                                                                         float("-inf"))
        p = torch.exp(s)
        return (p @ v) / p.sum(-1, keepdim=True)

    overflow = check_flash_attention(without_max)
    assert not overflow.passed and "running max" in overflow.hint
    assert check_flash_attention(lambda q, k, v, b: None).message.startswith("flash_attention returned None")


def _proposal(draft, ids, k):
    out = []
    for _ in range(k):
        out.append(int(_greedy_next(draft, ids + out)[-1]))
    return out


def test_speculative_solution_passes_in_any_form():
    assert check_speculative_step(E.speculative_step).passed
    assert check_speculative_step(lambda *a: np.array(spec_reference(*a), dtype=np.int64)).passed
    assert check_speculative_step(lambda *a: torch.tensor(spec_reference(*a))).passed


def test_speculative_mistakes_fail_with_hints():
    def off_by_one(large, draft, ids, k):
        proposal = _proposal(draft, ids, k)
        want = _greedy_next(large, ids + proposal)[len(ids):].tolist() + [0]
        n = 0
        while n < k and proposal[n] == want[n]:
            n += 1
        return proposal[:n] + [want[n]]

    assert "AFTER position i" in check_speculative_step(off_by_one).hint
    def no_bonus_token(*args):
        new = spec_reference(*args)
        return new[:-1] if len(new) > 1 else new

    no_bonus = check_speculative_step(no_bonus_token)
    assert not no_bonus.passed and "want[n]" in no_bonus.hint
    unchecked = check_speculative_step(lambda large, draft, ids, k: _proposal(draft, ids, k))
    assert not unchecked.passed and "checked" in unchecked.hint
    plain = check_speculative_step(lambda large, draft, ids, k: [int(_greedy_next(large, ids)[-1])])
    assert not plain.passed and "not only one token" in plain.hint

    def token_by_token(large, draft, ids, k):
        for _ in range(k):
            _greedy_next(large, ids)
        return spec_reference(large, draft, ids, k)

    many = check_speculative_step(token_by_token)
    assert not many.passed and "ran" in many.message and "ONE forward pass" in many.hint
    assert not check_speculative_step(lambda *a: []).passed
    assert "returned None" in check_speculative_step(lambda *a: None).message
