"""FlashAttention's online softmax, the memory watcher, speculative decoding, RoPE extension, linear attention
and int4 weights (notebooks 11 and 12): each proved against the plain computation it replaces."""

import pytest
import torch

from minigpt.attention import attend
from minigpt.config import GPTConfig
from minigpt.flash_attention import flash_attention
from minigpt.linear_attention import linear_attention, linear_attention_recurrent, read_state
from minigpt.memory import peak_memory
from minigpt.model import GPT
from minigpt.quantize import dequantize_groupwise, quantize_groupwise, quantize_model
from minigpt.rope_scaling import extend_rope
from minigpt.sampling import generate
from minigpt.speculative import bigram_draft, speculative_generate, speculative_step


@pytest.mark.parametrize("T,tile", [(1, 4), (37, 8), (64, 64), (50, 200), (16, 1)])
def test_flash_attention_equals_softmax_attention(T, tile):
    q, k, v = (torch.randn(2, 3, T, 8, generator=torch.Generator().manual_seed(T)) for _ in range(3))
    want = attend(q, k, v, is_causal=True, need_weights=True)[0]
    assert torch.allclose(flash_attention(q, k, v, tile_size=tile), want, atol=1e-5)
    assert torch.allclose(flash_attention(q * 80, k, v, tile), attend(q * 80, k, v, is_causal=True)[0], atol=1e-5)


@pytest.mark.parametrize("tile, error", [(0, ValueError), (2.5, TypeError)])
def test_flash_attention_names_its_tile_size_not_the_context(tile, error):
    """The keys are walked in tiles; ``block_size`` is the model's context length everywhere else."""
    q = torch.zeros(1, 1, 4, 2)
    with pytest.raises(error, match="tile_size must be an int >= 1"):
        flash_attention(q, q, q, tile_size=tile)


def test_peak_memory_counts_what_is_alive_at_once():
    x = torch.ones(1000)
    def two_temporaries(x):
        a = x * 2        # 4000 bytes
        b = a + 1        # 4000 more: 8000 alive
        del a
        return b.sum()   # 4 bytes
    used = peak_memory(two_temporaries, x)
    assert used.peak_bytes == 8000 and used.largest_bytes == 4000 and used.allocations == 3
    assert peak_memory(lambda x: x[10:].unsqueeze(0), x).peak_bytes == 0  # views cost nothing


def test_flash_attention_memory_grows_linearly_explicit_quadratically():
    def mem(fn, T):
        q, k, v = (torch.randn(1, 2, T, 8) for _ in range(3))
        return peak_memory(fn, q, k, v).peak_bytes
    explicit = lambda q, k, v: attend(q, k, v, is_causal=True, need_weights=True)[0]  # noqa: E731
    flash = lambda q, k, v: flash_attention(q, k, v, 32)  # noqa: E731
    assert mem(explicit, 512) / mem(explicit, 256) > 3.5
    assert mem(flash, 512) / mem(flash, 256) < 2.2


def _models():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=13, block_size=40, n_layer=1, n_head=2, n_embd=16)
    large, draft = GPT(config), GPT(config)
    for m in (large, draft):
        for p in m.parameters():
            p.data.mul_(15)
    noisy = GPT(config)
    noisy.load_state_dict({k: v + 0.05 * torch.randn_like(v) for k, v in large.state_dict().items()})
    return large, draft, noisy


@pytest.mark.parametrize("k", [1, 3, 5])
def test_speculative_decoding_is_greedy_decoding(k):
    large, draft, noisy = _models()
    prompt = [3, 1, 4, 1, 5]
    greedy = generate(large, prompt, 30, temperature=0)
    data = torch.randint(13, (500,), generator=torch.Generator().manual_seed(1))
    for d in (draft, noisy, large, bigram_draft(data, 13)):
        result = speculative_generate(large, d, prompt, 30, k)
        assert result.ids == greedy
        ids = list(prompt)
        while len(ids) < len(greedy):
            ids += speculative_step(large, d if isinstance(d, GPT) else noisy, ids, min(k, len(greedy) - len(ids) - 1))
        assert ids == greedy
    perfect = speculative_generate(large, large, prompt, 30, k)
    assert perfect.acceptance_rate == 1.0 and perfect.large_passes <= 30 // (k + 1) + 1


@pytest.mark.parametrize("k", [1, 4])
def test_sampled_speculative_decoding_is_the_large_models_own_sample(k):
    """With the noise fixed per position, every draft gives exactly the text the large model samples alone."""
    large, draft, noisy = _models()
    prompt = [3, 1, 4, 1, 5]
    data = torch.randint(13, (500,), generator=torch.Generator().manual_seed(1))
    for seed in (0, 1):
        alone = speculative_generate(large, None, prompt, 30, temperature=1.0, seed=seed)
        assert alone.large_passes == 30 and alone.proposed == 0
        for d in (draft, noisy, large, bigram_draft(data, 13)):
            assert speculative_generate(large, d, prompt, 30, k, temperature=1.0, seed=seed).ids == alone.ids
    perfect = speculative_generate(large, large, prompt, 30, k, temperature=1.0)
    assert perfect.acceptance_rate == 1.0
    assert speculative_generate(large, None, prompt, 30).ids == generate(large, prompt, 30, temperature=0)
    texts = {tuple(speculative_generate(large, None, prompt, 30, temperature=1.0, seed=s).ids) for s in range(4)}
    assert len(texts) > 1, "a different seed, a different sample"


def test_fixed_gumbel_noise_samples_the_softmax():
    """Gumbel-max: argmax(logits / T + G) is a sample of softmax(logits / T) (20,000 positions, within 0.015)."""
    from minigpt.speculative import _Chooser
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5])
    for temperature in (1.0, 0.5):
        choose = _Chooser(temperature, 0, 5)
        picks = torch.tensor([choose(logits, position) for position in range(20_000)])
        freq = torch.bincount(picks, minlength=5).float() / 20_000
        assert torch.allclose(freq, torch.softmax(logits / temperature, dim=0), atol=0.015)
    assert _Chooser(0.0, 0, 5)(logits, 2) == 0
    assert choose(logits, 7) == _Chooser(0.5, 0, 5)(logits, 7), "a position's noise does not depend on the order of calls"


def test_speculative_generate_refuses_a_negative_temperature():
    large, draft, _ = _models()
    with pytest.raises(ValueError, match="temperature"):
        speculative_generate(large, draft, [1, 2], 5, temperature=-1.0)
    with pytest.raises(TypeError, match="seed"):
        speculative_generate(large, draft, [1, 2], 5, temperature=1.0, seed=0.5)


def test_speculative_generate_refuses_a_text_longer_than_the_window():
    large, draft, _ = _models()
    with pytest.raises(ValueError, match="block_size"):
        speculative_generate(large, draft, [1, 2], 39)


def test_extend_rope():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=16, n_layer=1, n_head=2, n_embd=16, pos="rope"))
    idx = torch.randint(13, (1, 16))
    for method in ("none", "pi", "ntk"):
        longer = extend_rope(model, 64, method)
        assert longer.config.block_size == 64 and longer(torch.randint(13, (1, 64)))[0].shape == (1, 64, 13)
    assert torch.allclose(extend_rope(model, 64, "none")(idx)[0], model(idx)[0], atol=1e-6)  # same angles
    pi = extend_rope(model, 64, "pi")
    assert torch.allclose(pi.transformer.pos.cos[4], model.transformer.pos.cos[1])  # position 4 -> 4 / 4 = 1
    ntk = extend_rope(model, 64, "ntk")
    assert ntk.config.rope_base == pytest.approx(10000 * 4 ** (8 / 6))
    assert model.config.block_size == 16  # the original is untouched
    with pytest.raises(ValueError):
        extend_rope(GPT(GPTConfig(vocab_size=13, block_size=16, n_layer=1, n_head=2, n_embd=16)), 64)


def test_read_state_is_what_the_last_token_sees_and_returns_a_lone_value_exactly():
    q, k, v = (torch.randn(2, 3, 9, 8, generator=torch.Generator().manual_seed(4)) for _ in range(3))
    out, (S, z) = linear_attention_recurrent(q, k, v)
    assert torch.allclose(read_state(q[:, :, -1:], S, z), out[:, :, -1:], atol=1e-6)
    _, (S1, z1) = linear_attention_recurrent(k[:, :, :1], k[:, :, :1], v[:, :, :1])   # one stored pair
    assert torch.allclose(read_state(q, S1, z1), v[:, :, :1].expand_as(q), atol=1e-5)


def test_linear_attention_parallel_equals_recurrent():
    q, k, v = (torch.randn(2, 3, 40, 8, generator=torch.Generator().manual_seed(2)) for _ in range(3))
    out, (S, z) = linear_attention_recurrent(q, k, v)
    assert torch.allclose(linear_attention(q, k, v), out, atol=1e-5)
    assert S.shape == (2, 3, 8, 8) and z.shape == (2, 3, 8)


def test_int4_groupwise_round_trip_and_bytes():
    w = torch.randn(8, 64, generator=torch.Generator().manual_seed(3))
    packed, scale = quantize_groupwise(w, 32)
    assert packed.dtype == torch.uint8 and packed.shape == (8, 32) and scale.shape == (8, 2)
    back = dequantize_groupwise(packed, scale)
    step = scale.float().repeat_interleave(32, dim=1)
    assert ((back - w).abs() <= step / 2 + 1e-6).all()  # at most half a step per weight
    assert ((back / step).round() - back / step).abs().max() < 1e-4  # on the grid
    row = quantize_groupwise(w, None)
    assert (dequantize_groupwise(*row) - w).abs().mean() > (back - w).abs().mean()  # groups are finer
    with pytest.raises(ValueError):
        quantize_groupwise(w, 48)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=16, n_layer=1, n_head=2, n_embd=64))
    q4, report = quantize_model(model, bits=4, group_size=32)
    linear_weights = sum(m.weight.numel() for n, m in model.named_modules()
                         if isinstance(m, torch.nn.Linear) and n != "lm_head")
    assert report.bytes_before - report.bytes_after == linear_weights * 4 - linear_weights // 2 - linear_weights // 32 * 2
    assert "int4 groups of 32" in str(report)
    idx = torch.randint(13, (1, 16))
    assert (q4(idx)[0] - model(idx)[0]).abs().max() < 0.2  # 15 levels: close, not equal
    with pytest.raises(ValueError):
        quantize_model(model, bits=8, group_size=32)
