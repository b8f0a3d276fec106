"""``PositionalEncodingView(tables)``: how a transformer can know where a token is.

The view keeps none of the maths: ``tables`` is what ``minigpt.positional_views.positional_tables``
computes with the model's own functions (numpy arrays):

* the sinusoidal table PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(...);
* RoPE rotating each pair of query/key dimensions by angle p * base^(-2i/D);
* ALiBi adding -slope_h * |i - j| to attention scores.

The last row of plots shows position-to-position similarity for each scheme: what attention
"sees" of two positions before any content is involved.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from plotly.subplots import make_subplots

from minigpt.checks import check_int

from . import theme
from ._base import View
from ._plotly import PlotlyPane
from ._validate import as_float_array


def _shapes(T: int, C: int, H: int) -> dict[str, tuple[int, ...]]:
    """The shape of every table for T positions, C dimensions and H heads."""
    return {"sinusoidal": (T, C), "rope_cos": (T, C // 2), "rope_sin": (T, C // 2), "alibi_slopes": (H,),
            "alibi_bias": (H, T, T), "sinusoidal_similarity": (T, T), "rope_similarity": (T, T)}  # fmt: skip


def _checked_tables(tables) -> dict[str, np.ndarray]:
    """``tables`` as float arrays, every one there and of the shape its neighbours imply."""
    how = "make them with minigpt.positional_views.positional_tables(max_len, dim, n_heads)"
    if not isinstance(tables, dict):
        raise TypeError(f"tables must be a dict of arrays, got {type(tables).__name__}; {how}")
    names = list(_shapes(0, 0, 0))  # the names do not depend on the sizes
    missing = [name for name in names if name not in tables]
    if missing:
        raise ValueError(f"tables lacks {missing}; {how}")
    tables = {name: as_float_array(tables[name], f"tables[{name!r}]") for name in names}
    if tables["sinusoidal"].ndim != 2 or tables["alibi_slopes"].ndim != 1:
        raise ValueError(f"tables['sinusoidal'] must be [T, C] and tables['alibi_slopes'] [H]; {how}")
    (T, C), (H,) = tables["sinusoidal"].shape, tables["alibi_slopes"].shape
    for name, shape in _shapes(T, C, H).items():
        if tables[name].shape != shape:
            raise ValueError(f"tables[{name!r}] has shape {tables[name].shape}, expected {shape} for T={T} "
                             f"positions, C={C} dimensions and H={H} heads; {how}")
    return tables


class PositionalEncodingView(View):
    """Sinusoidal table, RoPE rotations, ALiBi bias, and position-position similarity per scheme.

    Args: ``tables``, the dict of numpy arrays ``minigpt.positional_views.positional_tables(max_len, dim,
    n_heads, rope_base)`` returns. Change the ALiBi head with ``view.alibi_head = h`` or the dropdown.
    """

    def __init__(self, tables):
        self.tables = _checked_tables(tables)
        (self.max_len, self.dim), (self.n_heads,) = self.tables["sinusoidal"].shape, self.tables["alibi_slopes"].shape
        self.alibi_head = 0

    @property
    def alibi_head(self) -> int:
        """The head whose ALiBi bias is drawn, in ``0 .. n_heads - 1``; setting it checks the range
        (a negative index would silently pick a head from the end)."""
        return self._alibi_head

    @alibi_head.setter
    def alibi_head(self, head: int) -> None:
        self._alibi_head = check_int(head, "alibi_head", 0, self.n_heads - 1)
        if self._widget is not None:
            self._head_picker.value = self._alibi_head  # a shown view follows (the dropdown redraws it)

    def __repr__(self) -> str:
        return f"PositionalEncodingView(max_len={self.max_len}, dim={self.dim}, n_heads={self.n_heads})"

    def similarities(self) -> dict[str, np.ndarray]:
        """[T, T] per scheme, as drawn: the cosine of sinusoidal rows; the RoPE score of a constant vector
        at positions (i, j); the ALiBi bias of the selected head."""
        return {
            "sinusoidal": self.tables["sinusoidal_similarity"],
            "RoPE": self.tables["rope_similarity"],
            "ALiBi": self.tables["alibi_bias"][self.alibi_head],
        }

    def figure(self):
        T, D, slope = self.max_len, self.dim, self.tables["alibi_slopes"][self.alibi_head]
        fig = make_subplots(
            rows=2, cols=3, horizontal_spacing=0.08, vertical_spacing=0.14,
            subplot_titles=(f"sinusoidal table [{T} x {D}]", "RoPE: pair i rotates by p * theta_i",
                            f"ALiBi bias, head {self.alibi_head} (slope {slope:.3g})",
                            "similarity: sinusoidal (cosine)", "similarity: RoPE (q.k)", "similarity: ALiBi (bias)"),
        )  # fmt: skip
        fig.add_heatmap(z=self.tables["sinusoidal"], colorscale=theme.DIVERGING, zmid=0, row=1, col=1,
                        showscale=False, hovertemplate="pos %{y}, dim %{x}: %{z:.2f}<extra></extra>")  # fmt: skip
        for n, i in enumerate(sorted({0, D // 8, D // 4, D // 2 - 1})):
            fig.add_scatter(x=self.tables["rope_cos"][:, i], y=self.tables["rope_sin"][:, i], mode="lines+markers", row=1, col=2,
                            name=f"pair {i}", marker=dict(size=4, color=theme.head_colour(n)),
                            line=dict(color=theme.head_colour(n)), text=[f"p={p}" for p in range(T)],
                            hovertemplate=f"pair {i}, " + "%{text}<extra></extra>")  # fmt: skip
        sims = self.similarities()
        fig.add_heatmap(z=sims["ALiBi"], colorscale=theme.SEQUENTIAL, row=1, col=3, showscale=False,
                        hovertemplate="query %{y}, key %{x}: %{z:.2f}<extra></extra>")  # fmt: skip
        for col, name in enumerate(sims, start=1):
            fig.add_heatmap(z=sims[name], colorscale=theme.SEQUENTIAL, row=2, col=col, showscale=False,
                            hovertemplate="pos %{y} vs %{x}: %{z:.2f}<extra>" + name + "</extra>")  # fmt: skip
        for col in (1, 3):
            fig.update_yaxes(autorange="reversed", row=1, col=col)
        for col in (1, 2, 3):
            fig.update_yaxes(autorange="reversed", row=2, col=col)
        # fixed ranges, not scaleanchor: an axis constraint can stall plotly in a lazily laid-out page
        fig.update_xaxes(range=[-1.15, 1.15], row=1, col=2)
        fig.update_yaxes(range=[-1.15, 1.15], row=1, col=2)
        fig.update_layout(template=theme.TEMPLATE, height=700, title="Positional encodings", legend=dict(x=0.5, y=0.79, xanchor="center", yanchor="middle", bgcolor="rgba(255,255,255,0.8)"),
                          margin=dict(t=theme.SUBPLOT_TOP_MARGIN))  # fmt: skip
        return fig

    def figures(self) -> list:
        return [self.figure()]

    def _build_widget(self) -> W.Widget:
        pane = PlotlyPane(self.figure())
        self._head_picker = W.Dropdown(options=list(range(self.n_heads)), value=self.alibi_head,
                                       description="ALiBi head")

        def change(event):
            self.alibi_head = event["new"]
            pane.show(self.figure())

        self._head_picker.observe(change, names="value")
        widget = W.VBox([self._head_picker, pane])
        widget.add_class("minigpt-positional-view")
        return widget
