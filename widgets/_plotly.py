"""How figures reach the browser: one shared copy of plotly.js and small live panes.

Why not plotly's ``FigureWidget``? In plotly >= 6 every FigureWidget is an anywidget whose
``_esm`` holds the whole plotly.js bundle (~4.8 MB), and that string is saved in the notebook's
widget state once *per figure*. Here instead:

* ``PlotlyLib`` is one hidden widget per kernel holding plotly.js gzip-compressed and base64'd
  (~2 MB). Every pane asks the widget manager for it, so the saved notebook holds one copy.
* ``PlotlyPane`` is a tiny anywidget (its ``_esm`` is ~2 KB) that draws a figure JSON with
  ``Plotly.react`` and sends clicks back to Python. Arrays travel as plotly's typed-array
  encoding (base64 binary), not as JSON number lists.
* Where no live widget can be drawn, a view's output shows its picture instead (``picture.py``).
"""

from __future__ import annotations

import base64
import functools
import gzip
from pathlib import Path

import anywidget
import plotly
import plotly.graph_objects as go
import plotly.io as pio
import traitlets

from .theme import TEMPLATE


@functools.lru_cache(maxsize=1)
def plotly_js_gzip_b64() -> str:
    """plotly.js from the installed plotly package, gzip'd (mtime 0: deterministic) and base64'd."""
    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return base64.b64encode(gzip.compress(source.read_bytes(), 6, mtime=0)).decode("ascii")


# The pane's JavaScript lives in pane.js, where editors and linters see it; anywidget reads the file.
PANE_JS = Path(__file__).with_name("pane.js")


class PlotlyLib(anywidget.AnyWidget):
    """Hidden holder of the compressed plotly.js; never displayed, only referenced by panes."""

    _esm = "export default { render() {} };"
    source = traitlets.Unicode("").tag(sync=True)


@functools.lru_cache(maxsize=1)
def shared_lib() -> PlotlyLib:
    """The single PlotlyLib of this kernel (created on first use, so importing costs nothing)."""
    return PlotlyLib(source=plotly_js_gzip_b64())


def make_figure(traces: list[dict], layout: dict) -> go.Figure:
    """A go.Figure from plain dicts without plotly's per-property validation.

    Validation costs ~10 ms per trace (it walks every array); views build figures on every click,
    so they assemble known-good dicts instead.
    """
    return go.Figure(data=traces, layout={"template": TEMPLATE, **layout}, _validate=False)


def figure_json(fig) -> str:
    """Compact plotly JSON for ``fig`` with numpy arrays as base64 typed arrays."""
    if fig.layout.template != TEMPLATE:
        fig.update_layout(template=TEMPLATE)
    return pio.to_json(fig, validate=False, pretty=False)


class PlotlyPane(anywidget.AnyWidget):
    """One live plotly figure. Set ``.figure_obj = go.Figure`` to redraw; read clicks from ``.click``.

    ``on_click(callback)`` registers ``callback(point: dict)`` with keys x, y, curve, point, trace.
    """

    _esm = PANE_JS
    figure = traitlets.Unicode("{}").tag(sync=True)
    lib = traitlets.Unicode("").tag(sync=True)
    click = traitlets.Dict({}).tag(sync=True)

    def __init__(self, fig=None, **kwargs):
        # The figure goes in the comm-open message itself, not in an update after it: JupyterLab may
        # build a widget model from a kernel snapshot taken between the two (it does so while it
        # restores widgets on connect and cells already run), and that model would never get a figure.
        if fig is not None:
            kwargs["figure"] = figure_json(fig)
        super().__init__(lib=f"IPY_MODEL_{shared_lib().model_id}", **kwargs)
        self._callbacks = []
        self.observe(self._dispatch, names="click")

    def show(self, fig) -> None:
        """Send a new figure to the front end (a no-op when nothing changed)."""
        self.figure = figure_json(fig)

    def on_click(self, callback) -> None:
        self._callbacks.append(callback)

    def _dispatch(self, change) -> None:
        for callback in self._callbacks:
            callback(change["new"])

    def __repr__(self) -> str:
        return "PlotlyPane()"
