"""positional_tables: what the positional view draws, checked against the formulas written out here."""

import math

import numpy as np
import pytest

from minigpt.positional_views import positional_tables


def test_tables_follow_the_formulas():
    T, C, H = 10, 8, 4
    tables = positional_tables(max_len=T, dim=C, n_heads=H, rope_base=100.0)
    assert tables["sinusoidal"][3, 2] == pytest.approx(math.sin(3 / 10000 ** (2 / C)), abs=1e-6)
    assert tables["sinusoidal"][3, 3] == pytest.approx(math.cos(3 / 10000 ** (2 / C)), abs=1e-6)
    assert tables["rope_cos"][5, 1] == pytest.approx(math.cos(5 * 100.0 ** (-2 / C)), abs=1e-6)
    assert tables["rope_sin"][5, 1] == pytest.approx(math.sin(5 * 100.0 ** (-2 / C)), abs=1e-6)
    np.testing.assert_allclose(tables["alibi_slopes"], [2.0 ** (-8 * (h + 1) / H) for h in range(H)])
    assert tables["alibi_bias"][1, 7, 2] == pytest.approx(-tables["alibi_slopes"][1] * 5)
    assert all(isinstance(values, np.ndarray) for values in tables.values())  # numpy: widgets never see torch


def test_similarities_depend_only_on_the_distance():
    tables = positional_tables(max_len=16, dim=8, n_heads=2)
    for name in ("sinusoidal_similarity", "rope_similarity"):
        sim = tables[name]
        np.testing.assert_allclose(sim[1:, 1:], sim[:-1, :-1], atol=1e-5, err_msg=name)  # constant diagonals
        np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5, err_msg=name)  # unit vectors: 1 with themselves
        assert sim[10, 9] > sim[10, 2], name


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        (dict(rope_base=0), ValueError, "rope_base must be a number > 0, got 0"),
        (dict(rope_base=float("nan")), ValueError, "rope_base must be a finite number > 0"),
        (dict(max_len=2.5), TypeError, "max_len must be an int >= 2, got 2.5"),
        (dict(dim=31), ValueError, r"dim must be even \(positions pair up dimensions\), got 31"),
        (dict(n_heads=0), ValueError, "n_heads must be an int >= 1, got 0"),
    ],
)
def test_bad_sizes_are_named(arguments, error, message):
    with pytest.raises(error, match=message):
        positional_tables(**arguments)
