"""The efficiency exercise checks pass the solutions and fail, with the right hint, on wrong answers."""

import torch

from minigpt.config import get_config
from minigpt.exercises.efficiency import check_kv_cache_bytes, check_quantize, reference_kv_cache_bytes


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
