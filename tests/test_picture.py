"""Pictures of views (widgets.picture): a PNG of every figure where a browser can draw it, and nothing, quietly,
where none can."""

import base64
import io

import numpy as np
import pytest

from widgets import AttentionView, picture
from widgets.figure import FigureView

WEIGHTS = np.tril(np.ones((1, 2, 4, 4))) / np.arange(1, 5)[:, None]


@pytest.fixture
def fresh_renderer(monkeypatch):
    """A process that has not tried to start the renderer yet (restored afterwards)."""
    monkeypatch.setitem(picture._state, "renderer", None)


def test_no_browser_means_a_working_view_without_a_picture_and_no_message(fresh_renderer, monkeypatch, capsys, recwarn):
    import kaleido

    def no_chrome(*args, **kwargs):
        raise RuntimeError("Chrome not found")

    monkeypatch.setattr(kaleido, "start_sync_server", no_chrome)
    bundle = AttentionView(["a", "b", "c", "d"], WEIGHTS)._repr_mimebundle_()
    assert "image/png" not in bundle
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["text/plain"].startswith("AttentionView(")
    assert capsys.readouterr() == ("", "") and len(recwarn) == 0  # a warning would change nbval's stored outputs


def test_a_renderer_that_fails_on_one_figure_gives_no_picture(monkeypatch):
    monkeypatch.setitem(picture._state, "renderer", True)

    def broken(fig, width):
        raise TimeoutError("the browser did not answer")

    monkeypatch.setattr(picture, "_render", broken)
    assert picture.png(AttentionView(["a", "b", "c", "d"], WEIGHTS).figures()) is None


def test_the_picture_stacks_every_figure_under_the_hint():
    if picture.find_browser() is None:
        pytest.skip("no Chrome/Chromium for pictures (apt-get install chromium)")
    from PIL import Image

    view = AttentionView(["a", "b", "c", "d"], WEIGHTS)
    heights = [fig.layout.height or 450 for fig in view.figures()]
    image = Image.open(io.BytesIO(base64.b64decode(picture.png_b64(view.figures()))))
    assert image.width == picture.WIDTH and image.height == 26 + sum(heights)
    assert FigureView(view.head_figure())._repr_mimebundle_()["image/png"]
