import math

import pytest
import torch

from minigpt.config import get_config
from minigpt.model import GPT
from minigpt.positional import alibi_bias, alibi_slopes, apply_rope, rope_frequencies, sinusoidal_table
from minigpt.rope_scaling import extend_rope


def test_sinusoidal_table_follows_the_formula():
    T, C = 50, 16
    table = sinusoidal_table(T, C)
    assert table.shape == (T, C)
    for pos in (0, 1, 7, 49):
        for i in range(C // 2):
            angle = pos / 10000 ** (2 * i / C)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_table_rejects_odd_width():
    with pytest.raises(ValueError, match="even"):
        sinusoidal_table(4, 7)


def test_rope_scores_depend_only_on_the_offset():
    torch.manual_seed(0)
    D = 16
    q, k = torch.randn(D), torch.randn(D)
    cos, sin = rope_frequencies(D, 64)

    def score(m, n):  # same q at position m, same k at position n
        qm = apply_rope(q[None], cos[m : m + 1], sin[m : m + 1])
        kn = apply_rope(k[None], cos[n : n + 1], sin[n : n + 1])
        return (qm * kn).sum().item()

    for offset in (0, 1, 5, 20):
        scores = [score(m + offset, m) for m in (0, 3, 17, 40)]
        assert max(scores) - min(scores) < 1e-4, (offset, scores)
    assert abs(score(5, 0) - score(6, 0)) > 1e-3  # a different offset does change the score


def rope_angles_by_hand(D, T, base, position_scale=1.0):
    """angle[p, i] = p / s * base^(-2i/D), written out one number at a time."""
    return torch.tensor([[p / position_scale * base ** (-2 * i / D) for i in range(D // 2)] for p in range(T)])


@pytest.mark.parametrize("base, position_scale", [(10000.0, 1.0), (500.0, 1.0), (10000.0, 4.0)])
def test_rope_angles_follow_the_formula(base, position_scale):
    angles = rope_angles_by_hand(8, 20, base, position_scale)
    cos, sin = rope_frequencies(8, 20, base, position_scale=position_scale)
    assert torch.allclose(cos, angles.cos(), atol=1e-5) and torch.allclose(sin, angles.sin(), atol=1e-5)


@pytest.mark.parametrize("method", ["none", "pi", "ntk"])
def test_extended_rope_angles_follow_the_formula(method):
    model = GPT(get_config("tiny", pos="rope", block_size=16))
    D, s = model.config.head_dim, 4
    base = 10000.0 * s ** (D / (D - 2)) if method == "ntk" else 10000.0  # NTK: base·s^(D/(D-2))
    angles = rope_angles_by_hand(D, 64, base, position_scale=s if method == "pi" else 1.0)
    longer = extend_rope(model, 64, method)
    assert torch.allclose(longer.transformer.pos.cos, angles.cos(), atol=1e-5)
    assert torch.allclose(longer.transformer.pos.sin, angles.sin(), atol=1e-5)


def test_rope_preserves_vector_length():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, 8)
    cos, sin = rope_frequencies(8, 10)
    assert torch.allclose(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1), atol=1e-5)


def test_alibi_slopes_follow_the_paper():
    # power of two: 2^(-8/H), 2^(-16/H), ...; H=8 gives 1/2, 1/4, ..., 1/256
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** -(i + 1) for i in range(8)]))
    assert torch.allclose(alibi_slopes(4), torch.tensor([2.0 ** -(2 * (i + 1)) for i in range(4)]))
    # not a power of two: slopes of 4 heads, then every other slope of 8 heads
    expected6 = [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    assert torch.allclose(alibi_slopes(6), torch.tensor(expected6))
    assert len(alibi_slopes(12)) == 12


def test_alibi_bias_is_minus_slope_times_distance():
    bias = alibi_bias(2, 4)
    slopes = alibi_slopes(2)
    assert bias.shape == (2, 4, 4)
    assert bias[1, 3, 0].item() == pytest.approx(-3 * slopes[1].item())
    assert torch.all(bias.diagonal(dim1=1, dim2=2) == 0)
    # queries that are the last 2 of 5 positions
    assert torch.allclose(alibi_bias(2, 2, 5)[:, 0], alibi_bias(2, 5)[:, 3])


def test_pos_none_bidirectional_model_is_permutation_equivariant():
    torch.manual_seed(0)
    model = GPT(get_config("tiny", pos="none", causal=False)).eval()
    idx = torch.randint(0, 65, (2, 12))
    perm = torch.randperm(12)
    logits, _ = model(idx)
    logits_perm, _ = model(idx[:, perm])
    assert torch.allclose(logits_perm, logits[:, perm], atol=1e-5)


def test_learned_positions_break_permutation_equivariance():
    torch.manual_seed(0)
    model = GPT(get_config("tiny", pos="learned", causal=False)).eval()
    idx = torch.randint(0, 65, (1, 12))
    perm = torch.randperm(12)
    assert not torch.allclose(model(idx[:, perm])[0], model(idx)[0][:, perm], atol=1e-5)
