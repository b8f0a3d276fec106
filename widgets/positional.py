"""``PositionalEncodingView(tables)``: how a transformer can know where a token is.

The view keeps none of the maths: ``tables`` is what ``minigpt.positional_views.positional_tables``
computes with the model's own functions (numpy arrays):

* the sinusoidal table PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(...);
* RoPE rotating each pair of query/key dimensions by angle p * base^(-2i/D);
* ALiBi adding -slope_h * |i - j| to attention scores.

Top row: the sinusoidal table; the angle RoPE turns a few pairs by (fast and slow) against position;
the ALiBi slope of every head. Bottom row: position-to-position similarity for each scheme, what
attention "sees" of two positions before any content is involved (ALiBi's bias drawn as a causal model
uses it: keys j <= i only). Every heatmap has a titled colour bar.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from plotly.subplots import make_subplots

from minigpt.arguments import require_int

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


# red, blue, green, teal, violet: the palette's most distinct five, one per drawn RoPE pair
ROPE_COLOURS = [theme.head_colour(k) for k in (0, 1, 2, 4, 6)]


def _colorbar(fig, subplot: int, title: str) -> dict:
    """A colour bar just right of subplot ``subplot`` (1 = top left, row by row), as tall as it, titled."""
    x = fig.layout[f"xaxis{subplot if subplot > 1 else ''}"].domain
    y = fig.layout[f"yaxis{subplot if subplot > 1 else ''}"].domain
    return dict(x=x[1] + 0.008, xanchor="left", y=(y[0] + y[1]) / 2, yanchor="middle", len=y[1] - y[0],
                thickness=10, tickfont=dict(size=10), title=dict(text=title, side="right"))


class PositionalEncodingView(View):
    """Sinusoidal table, RoPE angles, ALiBi slopes, and position-position similarity per scheme.

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
        self._alibi_head = require_int(head, "alibi_head", 0, self.n_heads - 1)
        if self._widget is not None:
            self._head_picker.value = self._alibi_head  # a shown view follows (the dropdown redraws it)

    def __repr__(self) -> str:
        return f"PositionalEncodingView(max_len={self.max_len}, dim={self.dim}, n_heads={self.n_heads})"

    def similarities(self) -> dict[str, np.ndarray]:
        """[T, T] per scheme: the cosine of sinusoidal rows; the RoPE score of a constant vector at positions
        (i, j); the ALiBi bias of the selected head (drawn for j <= i only: a causal model masks the rest)."""
        return {
            "sinusoidal": self.tables["sinusoidal_similarity"],
            "RoPE": self.tables["rope_similarity"],
            "ALiBi": self.tables["alibi_bias"][self.alibi_head],
        }

    def rope_pairs(self) -> list[int]:
        """The dimension pairs whose angles are drawn: the fastest, the slowest and three between."""
        return sorted({0, self.dim // 16, self.dim // 8, self.dim // 4, self.dim // 2 - 1})

    def rope_angles(self) -> np.ndarray:
        """[T, C/2] the angle in degrees, in [0, 360), that RoPE turns each pair by at each position: read
        back from the model's own cos and sin, so it is p * theta_i taken round the circle."""
        return np.degrees(np.arctan2(self.tables["rope_sin"], self.tables["rope_cos"])) % 360.0

    def figure(self):
        T, D, h = self.max_len, self.dim, self.alibi_head
        slopes = self.tables["alibi_slopes"]
        fig = make_subplots(
            rows=2, cols=3, horizontal_spacing=0.15, vertical_spacing=0.16,
            subplot_titles=(f"sinusoidal table [{T} x {D}]", "RoPE: angle of pair i = p * theta_i", "ALiBi: slope per head",
                            "similarity: sinusoidal (cosine)", "similarity: RoPE (q.k)",
                            f"ALiBi bias, head {h} (slope {slopes[h]:.3g})"),
        )  # fmt: skip
        fig.add_heatmap(z=self.tables["sinusoidal"], colorscale=theme.DIVERGING, zmid=0, row=1, col=1,
                        colorbar=_colorbar(fig, 1, "value"), hovertemplate="pos %{y}, dim %{x}: %{z:.2f}<extra></extra>")
        angles = self.rope_angles()
        for i, colour in zip(self.rope_pairs(), ROPE_COLOURS):
            # a line breaks where the angle comes round past 360 degrees instead of falling back across the panel
            wrap = np.flatnonzero(np.diff(angles[:, i]) < 0) + 1
            fig.add_scatter(x=np.insert(np.arange(T, dtype=float), wrap, np.nan), y=np.insert(angles[:, i], wrap, np.nan),
                            mode="lines+markers", row=1, col=2, name=f"pair {i}", line=dict(color=colour),
                            marker=dict(size=3, color=colour),
                            hovertemplate=f"pair {i}, " + "p=%{x}: %{y:.0f} deg<extra></extra>")  # fmt: skip
        fig.add_bar(x=np.arange(self.n_heads), y=slopes, row=1, col=3, showlegend=False, name="slopes",
                    marker=dict(color=[theme.ACCENT if k == h else theme.MUTED for k in range(self.n_heads)]),
                    hovertemplate="head %{x}: slope %{y:.3g}<extra></extra>")  # fmt: skip
        sims = self.similarities()
        causal = np.where(np.triu(np.ones((T, T), bool), k=1), np.nan, sims["ALiBi"])  # j > i: masked, blank
        for col, (name, z, what) in enumerate([("sinusoidal", sims["sinusoidal"], "cosine"),
                                               ("RoPE", sims["RoPE"], "q.k"), ("ALiBi", causal, "bias")], start=1):
            fig.add_heatmap(z=z, colorscale=theme.SEQUENTIAL, row=2, col=col, colorbar=_colorbar(fig, 3 + col, what),
                            hoverongaps=False, hovertemplate="pos %{y} vs %{x}: %{z:.2f}<extra>" + name + "</extra>")
        fig.update_xaxes(title=dict(text="dimension", standoff=10), row=1, col=1)
        fig.update_yaxes(autorange="reversed", title=dict(text="position", standoff=4), row=1, col=1)
        for col in (1, 2, 3):  # similarity of query position i to key position j; ALiBi: the bias i adds to j
            fig.update_xaxes(title=dict(text="key position j", standoff=10), row=2, col=col)
            fig.update_yaxes(autorange="reversed", title=dict(text="query position i", standoff=4), row=2, col=col)
        fig.update_xaxes(title=dict(text="position p", standoff=4), row=1, col=2)
        fig.update_yaxes(range=[0, 360], tickvals=[0, 90, 180, 270], title=dict(text="degrees (mod 360)", standoff=4),
                         row=1, col=2)  # fmt: skip
        fig.update_xaxes(title=dict(text="head", standoff=4), dtick=1, row=1, col=3)
        ends = np.log10([slopes.min(), slopes.max()])
        fig.update_yaxes(type="log", tickvals=slopes, ticktext=[f"{v:.3g}" for v in slopes], row=1, col=3,
                         range=[ends[0] - 0.2, ends[1] + 0.1],
                         title=dict(text="slope", standoff=4))  # fmt: skip
        height = 760
        fig.update_layout(template=theme.TEMPLATE, height=height, title="Positional encodings",
                          margin=dict(t=theme.SUBPLOT_TOP_MARGIN, r=70, b=70),  # r: the last colour bar; b: the x titles
                          # the RoPE legend shares the title's line: inside the panel it would hide the lines
                          legend=dict(orientation="h", x=0.25, xanchor="left", yref="container", yanchor="top",
                                      y=1 - theme.MODEBAR_PX / height, title=dict(text="RoPE")))  # fmt: skip
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
