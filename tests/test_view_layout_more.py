"""The positional, head and analogy-plane figures drawn by plotly.js: no text lies on other text, none is cut off.

Uses the drawing and the check of ``test_view_layout`` and looks at every panel's ticks and the colour bars too."""

import numpy as np
import pytest
import test_view_layout as layout
from test_view_layout import draw  # noqa: F401  (the fixture: one headless Chromium for the module)

from minigpt.positional_views import positional_tables
from widgets import AnalogyPlane, AttentionView, PositionalEncodingView

pytestmark = layout.pytestmark
PANELS = ["", 2, 3, 4, 5, 6]


@pytest.fixture
def every_panel(monkeypatch):
    """Compare the ticks and axis titles of all six panels, and the colour bars, not only the first two panels'."""
    monkeypatch.setattr(layout, "TEXT", {
        **layout.TEXT,
        "axis titles": ", ".join(f".g-x{n}title, .g-y{n}title" for n in PANELS),
        "x tick labels": ", ".join(f".x{n}tick text" for n in PANELS),
        "y tick labels": ", ".join(f".y{n}tick text" for n in PANELS),
        "colour bars": ".colorbar",
    })  # fmt: skip


def test_positional_view_text_is_apart_and_inside(draw, every_panel):  # noqa: F811
    boxes = layout.check(draw, PositionalEncodingView(positional_tables(max_len=64, dim=32, n_heads=8)).figure())
    assert len(boxes["panel titles"]) == 6 and len(boxes["colour bars"]) == 4


def test_head_view_of_number_tokens_names_every_position(draw, every_panel):  # noqa: F811
    tokens = [str(t) for t in np.random.default_rng(0).integers(0, 30, 24)]  # numbers, several repeated
    w = np.tril(np.ones((24, 24)))
    boxes = layout.check(draw, AttentionView(tokens, w / w.sum(-1, keepdims=True)).head_figure())
    # a category axis: one tick per position (a numeric axis would have a handful, running 0..30)
    assert len(boxes["x tick labels"]) == len(boxes["y tick labels"]) == 24


def test_analogy_plane_text_is_apart_and_inside(draw, every_panel):  # noqa: F811
    x = np.random.default_rng(0).normal(size=(8, 16))
    boxes = layout.check(draw, AnalogyPlane(x, list("abcdefgh"), "a", "b", "c").figure())
    assert len(boxes["axis titles"]) == 2
