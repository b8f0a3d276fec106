import pytest
import torch

from minigpt.config import POS_TYPES, get_config
from minigpt.model import GPT


def tiny(**overrides):
    return get_config("tiny", n_layer=2, n_head=4, n_embd=32, block_size=16, **overrides)


@pytest.mark.parametrize("pos", POS_TYPES)
@pytest.mark.parametrize("n_kv_head", [4, 2])
def test_incremental_decoding_equals_full_forward(pos, n_kv_head):
    torch.manual_seed(0)
    model = GPT(tiny(pos=pos, n_kv_head=n_kv_head)).eval()
    idx = torch.randint(0, 65, (2, 16))
    full, _ = model(idx)

    cache = model.new_kv_cache(batch_size=2)  # one token at a time
    steps = [model(idx[:, t : t + 1], kv_cache=cache)[0] for t in range(16)]
    assert cache.length == 16
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)

    cache = model.new_kv_cache(batch_size=2)  # chunked prefill, then single tokens
    chunks = [model(idx[:, a:b], kv_cache=cache)[0] for a, b in ((0, 5), (5, 12), (12, 13), (13, 16))]
    assert torch.allclose(torch.cat(chunks, dim=1), full, atol=1e-5)


def test_cache_with_padding_mask_matches_full_forward():
    torch.manual_seed(0)
    model = GPT(tiny(pos="alibi")).eval()
    idx = torch.randint(0, 65, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[0, 2] = False  # a hole the later tokens must keep skipping
    full, _ = model(idx, attention_mask=mask)
    cache = model.new_kv_cache(2)
    first, _ = model(idx[:, :6], attention_mask=mask[:, :6], kv_cache=cache)
    rest = [model(idx[:, t : t + 1], kv_cache=cache)[0] for t in range(6, 10)]
    assert torch.allclose(torch.cat([first, *rest], dim=1), full, atol=1e-5)


def test_cache_size_in_bytes_and_gqa_shrink():
    mha = GPT(tiny()).new_kv_cache(3)
    # 2 (K, V) * n_layer * B * n_kv_head * block_size * head_dim * 4 bytes
    assert mha.nbytes == 2 * 2 * 3 * 4 * 16 * 8 * 4
    assert mha.max_length == 16 and mha.length == 0
    gqa = GPT(tiny(n_kv_head=2)).new_kv_cache(3)
    mqa = GPT(tiny(n_kv_head=1)).new_kv_cache(3)
    assert mha.nbytes == 2 * gqa.nbytes == 4 * mqa.nbytes


def test_going_past_block_size_is_a_clear_error():
    model = GPT(tiny()).eval()
    with pytest.raises(ValueError, match=r"prompt of 17 tokens exceeds block_size 16.*ids\[-16:\]"):
        model(torch.zeros(1, 17, dtype=torch.long))
    cache = model.new_kv_cache(1)
    model(torch.zeros(1, 16, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="KV cache holds 16 tokens"):
        model(torch.zeros(1, 1, dtype=torch.long), kv_cache=cache)
    cache.reset()
    assert model(torch.zeros(1, 1, dtype=torch.long), kv_cache=cache)[0].shape == (1, 1, 65)


def test_bad_inputs_are_clear_errors():
    model = GPT(tiny())
    with pytest.raises(TypeError, match="LongTensor"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="attention_mask must be a BoolTensor"):
        model(torch.zeros(1, 4, dtype=torch.long), attention_mask=torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"new_kv_cache\(1\)"):
        model(torch.zeros(1, 4, dtype=torch.long), kv_cache=model.new_kv_cache(2))
