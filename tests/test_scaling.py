"""Scaling-law fit and the Chinchilla compute split."""

import math

import pytest
import torch

from minigpt.scaling import PowerLaw, chinchilla_optimal, fit_power_law, training_flops


def test_fit_recovers_an_exact_power_law():
    n = [1e3, 3e3, 1e4, 3e4, 1e5]
    law = PowerLaw(a=12.0, alpha=0.3, irreducible=1.5)
    fit = fit_power_law(n, [law(x) for x in n], irreducible=1.5)
    assert fit.a == pytest.approx(12.0, rel=1e-9)
    assert fit.alpha == pytest.approx(0.3, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit(1e6) == pytest.approx(law(1e6))
    assert torch.allclose(fit(torch.tensor([1e3, 1e4])), torch.tensor([law(1e3), law(1e4)]))


def test_fit_on_noisy_data_is_close_and_r2_below_one():
    g = torch.Generator().manual_seed(0)
    n = torch.logspace(3, 6, 12, dtype=torch.float64)
    loss = 8.0 * n ** -0.2 * torch.exp(0.02 * torch.randn(12, generator=g, dtype=torch.float64))
    fit = fit_power_law(n, loss)
    assert fit.alpha == pytest.approx(0.2, abs=0.03)
    assert 0.9 < fit.r2 < 1.0
    assert "N^(-" in str(fit)


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        fit_power_law([1, 2, 3], [1.0, 2.0])
    with pytest.raises(ValueError, match="two or more"):
        fit_power_law([5, 5], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([0, 10], [2.0, 1.0])
    with pytest.raises(ValueError, match="irreducible"):
        fit_power_law([10, 100], [2.0, 1.0], irreducible=1.5)


def test_six_n_d_and_chinchilla_split():
    assert training_flops(1e6, 2e7) == 1.2e14
    # Chinchilla itself: 70B parameters, 1.4T tokens, ~5.9e23 FLOPs
    n, d = chinchilla_optimal(training_flops(70e9, 1.4e12))
    assert n == pytest.approx(70e9) and d == pytest.approx(1.4e12)
    n, d = chinchilla_optimal(1e20, tokens_per_param=10)
    assert d == pytest.approx(10 * n) and 6 * n * d == pytest.approx(1e20)
    assert math.isclose(chinchilla_optimal(4e20)[0], 2 * chinchilla_optimal(1e20)[0])  # N grows as sqrt(C)
    with pytest.raises(ValueError, match="positive"):
        training_flops(-1, 10)
    with pytest.raises(ValueError, match="positive"):
        chinchilla_optimal(0)
