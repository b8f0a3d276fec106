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


# ----------------------------------------------------------------------------- the view's pictures
from widgets import PositionalEncodingView  # noqa: E402


def _subplot_traces(fig, subplot: int) -> list:
    axis = "x" if subplot == 1 else f"x{subplot}"
    return [t for t in fig.data if t.xaxis == axis]


def test_rope_is_drawn_as_the_angle_of_each_pair_against_position():
    T, C, base = 64, 32, 10000.0
    view = PositionalEncodingView(positional_tables(max_len=T, dim=C, n_heads=4, rope_base=base))
    lines = _subplot_traces(view.figure(), 2)
    assert [t.name for t in lines] == [f"pair {i}" for i in (0, 2, 4, 8, 15)]  # fastest, slowest and between
    wraps = []
    for t in lines:
        i = int(t.name.split()[1])
        x, y = np.asarray(t.x, float), np.asarray(t.y, float)
        assert np.array_equal(np.isnan(x), np.isnan(y))
        drawn = ~np.isnan(y)
        np.testing.assert_array_equal(x[drawn], np.arange(T))  # one point per position
        expected = np.degrees(np.arange(T) * base ** (-2 * i / C)) % 360  # p * theta_i, round the circle
        gap = (y[drawn] - expected + 180) % 360 - 180  # compared on the circle: 359.99 and 0.01 are close
        np.testing.assert_allclose(gap, 0, atol=0.05)
        # the line breaks only where the angle comes round past 360 (no line falls back across the panel)
        pieces = np.split(y, np.flatnonzero(np.isnan(y)))
        assert all(np.all(np.diff(piece[~np.isnan(piece)]) > 0) for piece in pieces)
        wraps.append(int(np.isnan(y).sum()))
    # fast and slow are both visible: pair 0 goes round ten times in 64 positions, the slowest not once
    assert wraps[0] == 10 and wraps[-1] == 0 and np.ptp(np.asarray(lines[-1].y, float)) < 1


def test_alibi_bias_is_drawn_causally_and_every_slope_is_shown():
    tables = positional_tables(max_len=10, dim=8, n_heads=4)
    view = PositionalEncodingView(tables)
    view.alibi_head = 1
    fig = view.figure()
    (bias,) = _subplot_traces(fig, 6)
    z = np.asarray(bias.z, float)
    future = np.triu(np.ones((10, 10), bool), k=1)
    assert np.isnan(z[future]).all() and not np.isnan(z[~future]).any()  # j > i blank, j <= i drawn
    np.testing.assert_array_equal(z[~future], tables["alibi_bias"][1][~future])
    assert bias.hoverongaps is False
    (bars,) = _subplot_traces(fig, 3)
    np.testing.assert_array_equal(bars.y, tables["alibi_slopes"])
    assert [c == "#d62728" for c in bars.marker.color] == [False, True, False, False]  # the selected head
    # the data stays whole; only the drawing masks
    np.testing.assert_array_equal(view.similarities()["ALiBi"], tables["alibi_bias"][1])


def test_every_heatmap_has_a_titled_colour_bar_beside_its_own_panel():
    fig = PositionalEncodingView(positional_tables(max_len=16, dim=8, n_heads=2)).figure()
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 4  # the sinusoidal table and the three similarities
    titles = []
    for t in heatmaps:
        assert t.showscale is not False and t.colorbar.title.text
        titles.append(t.colorbar.title.text)
        n = t.xaxis[1:] or "1"
        x = fig.layout[f"xaxis{'' if n == '1' else n}"].domain
        y = fig.layout[f"yaxis{'' if n == '1' else n}"].domain
        # right of its panel, before the next panel starts, and as tall as its panel
        right = [d[0] for d in (fig.layout[f"xaxis{k}"].domain for k in ("", 2, 3)) if d[0] > x[1]]
        assert x[1] < t.colorbar.x < min(right, default=1.02) and t.colorbar.len == pytest.approx(y[1] - y[0])
        assert t.colorbar.y == pytest.approx((y[0] + y[1]) / 2)
    assert titles == ["value", "cosine", "q.k", "bias"]
    assert fig.layout.margin.r >= 60  # the last column's bar and its labels sit in the right margin


def test_every_panel_names_its_axes():
    fig = PositionalEncodingView(positional_tables(max_len=16, dim=8, n_heads=2)).figure()
    axis_titles = {}
    for t in fig.data:
        x, y = (fig.layout[name[0] + "axis" + name[1:]] for name in (t.xaxis, t.yaxis))
        axis_titles[(x.title.text, y.title.text)] = t.type
    assert all(x and y for x, y in axis_titles), axis_titles
    # the similarity and bias heatmaps: which axis is the query and which the key
    assert ("key position j", "query position i") in axis_titles
