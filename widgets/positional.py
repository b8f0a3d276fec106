"""``PositionalEncodingView()``: how a transformer can know where a token is.

Numpy versions of the schemes (``minigpt.positional`` has the torch ones the model uses; the
tests check that both agree):

* sinusoidal table PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(...);
* RoPE rotates each pair of query/key dimensions by angle p * base^(-2i/D);
* ALiBi adds -slope_h * |i - j| to attention scores.

The last row of plots shows position-to-position similarity for each scheme: what attention
"sees" of two positions before any content is involved.
"""

from __future__ import annotations

import math

import ipywidgets as W
import numpy as np
from plotly.subplots import make_subplots

from . import theme
from ._base import View
from ._plotly import PlotlyPane
from ._validate import check_int, check_number


def sinusoidal_table(T: int, C: int) -> np.ndarray:
    """[T, C]: even columns sin, odd columns cos of p / 10000^(2i/C)."""
    if C % 2:
        raise ValueError(f"sinusoidal positions need an even dimension, got {C}")
    angles = np.arange(T)[:, None] * 10000.0 ** (-np.arange(0, C, 2) / C)  # [T, C/2]
    table = np.zeros((T, C))
    table[:, 0::2], table[:, 1::2] = np.sin(angles), np.cos(angles)
    return table


def rope_angles(T: int, head_dim: int, base: float = 10000.0) -> np.ndarray:
    """[T, head_dim/2]: the angle by which pair i is rotated at position p."""
    return np.arange(T)[:, None] * base ** (-np.arange(0, head_dim, 2) / head_dim)


def rope_rotate(x: np.ndarray, base: float = 10000.0) -> np.ndarray:
    """Rotate x [T, D] position by position ("rotate half" pairing: dim i with dim i + D/2)."""
    angles = rope_angles(x.shape[0], x.shape[1], base)
    x1, x2 = np.split(x, 2, axis=-1)
    cos, sin = np.cos(angles), np.sin(angles)
    return np.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


def alibi_slopes(n_head: int) -> np.ndarray:
    """[H] geometric slopes 2^(-8/H), 2^(-16/H), ...; non-powers of two interleave (ALiBi paper)."""
    def power_of_two(n):
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    closest = 2 ** math.floor(math.log2(n_head))
    return np.array(power_of_two(closest) + power_of_two(2 * closest)[0::2][: n_head - closest])


def alibi_bias(n_head: int, T: int) -> np.ndarray:
    """[H, T, T]: -slope_h * |i - j|."""
    distance = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
    return -alibi_slopes(n_head)[:, None, None] * distance


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    unit = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return unit @ unit.T


class PositionalEncodingView(View):
    """Sinusoidal table, RoPE rotations, ALiBi bias, and position-position similarity per scheme.

    Args: ``max_len`` positions, ``dim`` (model / head dimension, even), ``n_heads`` for ALiBi,
    ``rope_base``. Change the ALiBi head with ``view.alibi_head = h`` or the dropdown.
    """

    def __init__(self, max_len: int = 64, dim: int = 32, n_heads: int = 8, rope_base: float = 10000.0):
        max_len, n_heads = check_int(max_len, "max_len", 2), check_int(n_heads, "n_heads", 1)
        if check_int(dim, "dim", 2) % 2:
            raise ValueError(f"dim must be even (positions pair up dimensions), got {dim}")
        # angles are p * base ** (-2i / dim): a base <= 0 would make every RoPE value NaN
        rope_base = check_number(rope_base, "rope_base", 0, above=True)
        self.max_len, self.dim, self.n_heads, self.rope_base = max_len, dim, n_heads, rope_base
        self.alibi_head = 0
        self._widget = None

    def __repr__(self) -> str:
        return f"PositionalEncodingView(max_len={self.max_len}, dim={self.dim}, n_heads={self.n_heads})"

    def similarities(self) -> dict[str, np.ndarray]:
        """[T, T] per scheme: cosine of sinusoidal rows; RoPE score of a constant vector at
        positions (i, j), which depends only on i - j; the ALiBi bias of the selected head."""
        T, D = self.max_len, self.dim
        ones = np.ones((T, D)) / math.sqrt(D)
        rotated = rope_rotate(ones, self.rope_base)
        return {
            "sinusoidal": cosine_matrix(sinusoidal_table(T, D)),
            "RoPE": rotated @ rotated.T,
            "ALiBi": alibi_bias(self.n_heads, T)[self.alibi_head],
        }

    def figure(self):
        T, D = self.max_len, self.dim
        fig = make_subplots(
            rows=2, cols=3, horizontal_spacing=0.08, vertical_spacing=0.14,
            subplot_titles=(f"sinusoidal table [{T} x {D}]", "RoPE: pair i rotates by p * theta_i",
                            f"ALiBi bias, head {self.alibi_head} (slope {alibi_slopes(self.n_heads)[self.alibi_head]:.3g})",
                            "similarity: sinusoidal (cosine)", "similarity: RoPE (q.k)", "similarity: ALiBi (bias)"),
        )  # fmt: skip
        fig.add_heatmap(z=sinusoidal_table(T, D).astype(np.float32), colorscale=theme.DIVERGING, zmid=0, row=1, col=1,
                        showscale=False, hovertemplate="pos %{y}, dim %{x}: %{z:.2f}<extra></extra>")  # fmt: skip
        angles = rope_angles(T, D, self.rope_base)
        for n, i in enumerate(sorted({0, D // 8, D // 4, D // 2 - 1})):
            fig.add_scatter(x=np.cos(angles[:, i]), y=np.sin(angles[:, i]), mode="lines+markers", row=1, col=2,
                            name=f"pair {i}", marker=dict(size=4, color=theme.head_colour(n)),
                            line=dict(color=theme.head_colour(n)), text=[f"p={p}" for p in range(T)],
                            hovertemplate=f"pair {i}, " + "%{text}<extra></extra>")  # fmt: skip
        sims = self.similarities()
        fig.add_heatmap(z=sims["ALiBi"].astype(np.float32), colorscale=theme.SEQUENTIAL, row=1, col=3, showscale=False,
                        hovertemplate="query %{y}, key %{x}: %{z:.2f}<extra></extra>")  # fmt: skip
        for col, name in enumerate(sims, start=1):
            fig.add_heatmap(z=sims[name].astype(np.float32), colorscale=theme.SEQUENTIAL, row=2, col=col, showscale=False,
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

    @property
    def widget(self) -> W.Widget:
        if self._widget is None:
            pane = PlotlyPane(self.figure())
            head = W.Dropdown(options=list(range(self.n_heads)), value=self.alibi_head, description="ALiBi head")

            def change(event):
                self.alibi_head = event["new"]
                pane.show(self.figure())

            head.observe(change, names="value")
            self._widget = W.VBox([head, pane])
            self._widget.add_class("minigpt-positional-view")
        return self._widget
