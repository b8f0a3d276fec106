import pytest
import torch

from minigpt.attention import attend, attention_bias
from minigpt.capture import capture
from minigpt.config import POS_TYPES, get_config
from minigpt.model import GPT


def tiny(**overrides):
    return get_config("tiny", n_layer=2, n_head=4, n_embd=32, block_size=16, **overrides)


@pytest.mark.parametrize("pos", POS_TYPES)
@pytest.mark.parametrize("n_kv_head", [4, 2, 1])
@pytest.mark.parametrize("causal", [True, False])
def test_explicit_and_fast_paths_agree(pos, n_kv_head, causal):
    torch.manual_seed(0)
    model = GPT(tiny(pos=pos, n_kv_head=n_kv_head, causal=causal)).eval()
    idx = torch.randint(0, 65, (2, 11))
    mask = torch.ones(2, 11, dtype=torch.bool)
    mask[1, 8:] = False  # right padding in the second sequence
    for attention_mask in (None, mask):
        fast, _ = model(idx, attention_mask=attention_mask)
        with capture(model) as cap:  # capturing switches attention to the explicit path
            explicit, _ = model(idx, attention_mask=attention_mask)
        assert len(cap.attention) == 2
        assert torch.allclose(fast, explicit, atol=1e-5)


def test_attend_paths_agree_with_bias():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 6, 8).unbind(0)
    bias = attention_bias(6, 6, causal=True, key_mask=torch.tensor([[1, 1, 1, 1, 0, 0]] * 2, dtype=torch.bool))
    fast, none = attend(q, k, v, bias=bias)
    explicit, weights = attend(q, k, v, bias=bias, need_weights=True)
    assert none is None and weights.shape == (2, 4, 6, 6)
    assert torch.allclose(fast, explicit, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 6))


def test_weights_are_causal_and_skip_padding():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    idx = torch.randint(0, 65, (1, 8))
    mask = torch.tensor([[True] * 6 + [False] * 2])
    with capture(model) as cap:
        model(idx, attention_mask=mask)
    w = cap.attention[0][0]  # [H, T, T]
    assert torch.all(w.triu(1) == 0)  # no query looks at a later key
    assert torch.all(w[:, :6, 6:] == 0)  # real tokens never look at padding


def test_future_tokens_do_not_change_earlier_logits():
    torch.manual_seed(0)
    model = GPT(tiny(pos="rope")).eval()
    idx = torch.randint(0, 65, (1, 10))
    changed = idx.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 65
    a, b = model(idx)[0], model(changed)[0]
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_padding_tokens_do_not_change_real_logits():
    torch.manual_seed(0)
    model = GPT(tiny(causal=False)).eval()
    idx = torch.randint(0, 65, (1, 10))
    mask = torch.tensor([[True] * 7 + [False] * 3])
    other = idx.clone()
    other[0, 7:] = (other[0, 7:] + 5) % 65
    a = model(idx, attention_mask=mask)[0][:, :7]
    b = model(other, attention_mask=mask)[0][:, :7]
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(a, model(idx[:, :7])[0], atol=1e-5)


def test_no_bias_materialised_for_plain_causal_attention():
    assert attention_bias(16, 16, causal=True) is None
    assert attention_bias(1, 9, causal=True) is None
    assert attention_bias(16, 16, causal=False) is None
    chunk = attention_bias(3, 9, causal=True)  # a chunk after 6 cached tokens needs an offset mask
    assert chunk.shape == (1, 1, 3, 9) and chunk[0, 0, 0, 7] == float("-inf") and chunk[0, 0, 0, 6] == 0


@pytest.mark.parametrize("n_kv_head", [2, 1])
def test_gqa_shares_the_cached_keys_and_values_without_copying_them(monkeypatch, n_kv_head):
    """The fused kernel reads each K/V head for its group of query heads (enable_gqa): no repeated copy of the
    cache at every step. The explicit path (the lesson's, while the weights are watched) repeats them."""
    torch.manual_seed(0)
    model = GPT(tiny(n_kv_head=n_kv_head)).eval()
    idx = torch.randint(0, 65, (2, 9))
    with capture(model):
        explicit, _ = model(idx)

    def copy(*args, **kwargs):
        raise AssertionError("K/V heads were copied for the query heads")

    monkeypatch.setattr(torch.Tensor, "repeat_interleave", copy)
    monkeypatch.setattr(torch, "repeat_interleave", copy)
    cache = model.new_kv_cache(2)
    logits = torch.cat([model(idx[:, :5], kv_cache=cache)[0]] + [model(idx[:, t:t + 1], kv_cache=cache)[0]
                                                                 for t in range(5, 9)], dim=1)
    assert torch.allclose(logits, explicit, atol=1e-5)


def test_the_explicit_path_copies_keys_and_values_only_for_gqa(monkeypatch):
    """With one K/V head per query head there is nothing to repeat: no copy of k and v (notebook 11 measures
    the explicit path's peak memory)."""
    q, k, v = torch.randn(3, 1, 4, 6, 8).unbind(0)

    def copy(*args, **kwargs):
        raise AssertionError("k and v were copied")

    monkeypatch.setattr(torch.Tensor, "repeat_interleave", copy)
    out, weights = attend(q, k, v, is_causal=True, need_weights=True)
    assert out.shape == (1, 4, 6, 8) and weights.shape == (1, 4, 6, 6)
