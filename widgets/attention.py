"""``AttentionView(tokens, weights)``: look at every attention head of a model, linked views.

Three panes share one selection (``view.selection``):

* **model view** - every layer x head as a thumbnail; click one to open it;
* **head view** - the selected head as a heatmap (hover: query, key, weight), linear or log colours;
* **text view** - click a query token on the left; lines run to the keys on the right, one colour
  per head (the same colour everywhere), for one or several heads.

Scale: the grid ships 32 x 32 uint8 thumbnails, and only the selected head travels at full
resolution (float32 as binary typed array), fetched from the kernel when you click. So a 12 x 12 x
512 model sends ~2 MB instead of the 150 MB that bertviz-style full dumps need.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from minigpt.arguments import WrongType, require_bool, require_int, is_int

from . import theme
from ._base import View
from ._plotly import PlotlyPane, make_figure
from ._validate import require_tokens
from .attention_math import (
    AGGREGATIONS,
    aggregate_heads,
    require_weights,
    is_causal,
    remove_sink,
    thumbnail_mosaic,
)

# Lines thinner than this weight are not drawn; three buckets give bertviz-like opacity levels.
LINE_BUCKETS = ((0.3, 1.01, 3.0, 0.9), (0.1, 0.3, 2.0, 0.55), (0.02, 0.1, 1.0, 0.25))  # (lo, hi, width, opacity)
THUMB_GAP = 2
MAX_TICKS = 40  # token names on one axis of the head view, at most (more would overlap)
MAX_LABELLED = 64  # tokens beyond which the head view names none


def _hint(text: str) -> W.HTML:
    """A grey line saying what a click does. It lives in the live widget only: in a picture of the
    view (``figures()``) a click does nothing, so the figures carry no such instruction."""
    return W.HTML(f"<span style='color:#666;font-size:12px'>{text}</span>")


def _token_axis(tokens: list[str], title: str) -> tuple[list[str], dict]:
    """The values and the axis of one token side of the head view.

    Tokens that look like numbers ("22 11", "5") would make plotly draw a numeric axis, and a category
    axis merges equal tokens; so each position gets a unique category, "position 'token'" (what hover
    shows), and the ticks show the tokens themselves, every one up to MAX_TICKS tokens, else every
    n-th. Beyond MAX_LABELLED tokens no tick text is readable: the rows and columns stay unlabelled.
    """
    values = [f"{i} '{t}'" for i, t in enumerate(tokens)]
    axis = dict(type="category", title=dict(text=title, standoff=8), showgrid=False, automargin=True,
                showticklabels=len(tokens) <= MAX_LABELLED)  # fmt: skip
    if axis["showticklabels"]:
        step = -(-len(tokens) // MAX_TICKS)  # ceil
        axis.update(tickmode="array", tickvals=values[::step], ticktext=tokens[::step])
    return values, axis


class AttentionView(View):
    """Interactive attention explorer for weights [L, H, Tq, Tk].

    Args:
        tokens: the key tokens (and the query tokens for self-attention), one string per position.
        weights: post-softmax attention, [L, H, Tq, Tk] (or [H, T, T] / [T, T]); numpy or torch.
        query_tokens: for cross-attention (Tq != Tk), the query-side tokens (e.g. the decoder's).
        compare: a second weight set of the same shape; the view then shows ``weights - compare``.
        layer, head, query: the initial selection (query defaults to the last token).
        heads: heads drawn in the text view (default: all heads of the layer, up to 12).
        aggregation: "none" | "mean" | "max" | "rollout" (over heads; rollout also across layers).
        log_scale: log10 colour scale in the head view. hide_sink: drop attention to token 0 and
        renormalise. show_masked: draw the masked (future) region instead of leaving it blank.
        text_window: tokens shown in the text view (a window around the query).
        thumb_size: thumbnail resolution in the model view.

    Methods: ``select(...)``, ``figures()``, ``head_figure()``, ``grid_figure()``, ``text_figure()``,
    ``from_model(model, tokenizer, text)``. Export PNG/SVG with the camera icon of each plot
    (or ``fig.write_image`` if kaleido is installed).
    """

    def __init__(
        self,
        tokens,
        weights,
        *,
        query_tokens=None,
        compare=None,
        layer: int = 0,
        head: int = 0,
        query: int | None = None,
        heads=None,
        aggregation: str = "none",
        log_scale: bool = False,
        hide_sink: bool = False,
        show_masked: bool = False,
        text_window: int = 48,
        thumb_size: int = 32,
    ):
        self.key_tokens = require_tokens(tokens, "tokens")
        self.query_tokens = self.key_tokens if query_tokens is None else require_tokens(query_tokens, "query_tokens")
        Tq, Tk = len(self.query_tokens), len(self.key_tokens)
        self.weights = require_weights(weights, Tq, Tk)
        self.compare_weights = None
        if compare is not None:
            self.compare_weights = require_weights(compare, Tq, Tk, name="compare")
            if self.compare_weights.shape != self.weights.shape:
                raise ValueError(
                    f"compare has shape {self.compare_weights.shape} but weights {self.weights.shape}; "
                    "compare two runs of the same model on inputs of the same length"
                )
        self.n_layers, self.n_heads = self.weights.shape[:2]
        self.causal = is_causal(self.weights)
        self.text_window = require_int(text_window, "text_window", 1)
        self.thumb_size = require_int(thumb_size, "thumb_size (pixels per thumbnail)", 1)
        self._state = dict(
            layer=0, head=0, query=Tq - 1, heads=list(range(min(self.n_heads, 12))),
            aggregation="none", log_scale=False, hide_sink=False, show_masked=False,
        )  # fmt: skip
        self._cache: dict = {}
        self.select(layer=layer, head=head, query=query, heads=heads, aggregation=aggregation,
                    log_scale=log_scale, hide_sink=hide_sink, show_masked=show_masked)  # fmt: skip

    @classmethod
    def from_model(cls, model, tokenizer, text: str, **kwargs) -> "AttentionView":
        """Run ``model`` on ``text`` and show its attention (needs minigpt; imports torch lazily)."""
        from minigpt.capture import attention_for_widgets

        captured = attention_for_widgets(model, tokenizer, text)
        return cls(captured["tokens"], captured["weights"], **kwargs)

    def __repr__(self) -> str:
        shape = f"layers={self.n_layers}, heads={self.n_heads}, "
        if self.query_tokens is self.key_tokens:
            shape += f"tokens={len(self.key_tokens)}"
        else:
            shape += f"queries={len(self.query_tokens)}, keys={len(self.key_tokens)}"
        return f"AttentionView({shape}{', compare' if self.compare_weights is not None else ''})"

    # ------------------------------------------------------------------ selection

    @property
    def selection(self) -> dict:
        """The current selection: layer, head, heads (text view), query, and display options."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self._state.items()}

    def select(self, **changes) -> None:
        """Change the selection, e.g. ``view.select(layer=2, head=5, query=10)``; updates all panes.

        Keys: layer, head, query, heads, aggregation, log_scale, hide_sink, show_masked
        (``None`` values are ignored).
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - set(self._state)
        if unknown:
            raise TypeError(f"unknown selection keys {sorted(unknown)}; use {sorted(self._state)}")
        for name, limit in (("layer", self.n_layers), ("head", self.n_heads), ("query", len(self.query_tokens))):
            if name in changes:
                require_int(changes[name], name, 0, limit - 1)
        for name in ("log_scale", "hide_sink", "show_masked"):
            if name in changes:
                require_bool(changes[name], name)
        if "heads" in changes:
            if isinstance(changes["heads"], (str, bytes)) or not hasattr(changes["heads"], "__iter__") \
                    or not all(is_int(h) for h in changes["heads"]):
                raise WrongType(f"heads must be a list of ints in [0, {self.n_heads - 1}], got {changes['heads']!r}")
            heads = sorted({int(h) for h in changes["heads"]})
            if not heads or not all(0 <= h < self.n_heads for h in heads):
                raise ValueError(f"heads must be a non-empty list of ints in [0, {self.n_heads - 1}], "
                                 f"got {changes['heads']}")
            changes["heads"] = heads
        if changes.get("aggregation", "none") not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {changes['aggregation']!r}")
        if changes.get("aggregation") == "rollout" and self.query_tokens is not self.key_tokens:
            raise ValueError("rollout needs self-attention; for cross-attention use 'mean' or 'max'")
        for name in ("layer", "head", "query"):
            if name in changes:
                changes[name] = int(changes[name])
        if "head" in changes and "heads" not in changes and changes["head"] not in self._state["heads"]:
            changes["heads"] = sorted(self._state["heads"] + [changes["head"]])
        old = dict(self._state)
        self._state.update(changes)
        if self._widget is not None:
            self._refresh(old)

    # ------------------------------------------------------------------ data for display

    def _processed(self) -> np.ndarray:
        """Weights after the noise controls (and the difference in compare mode), cached."""
        key = ("processed", self._state["hide_sink"])
        if key not in self._cache:
            prep = remove_sink if self._state["hide_sink"] else (lambda w: w)
            w = prep(self.weights)
            if self.compare_weights is not None:
                w = w - prep(self.compare_weights)
            self._cache[key] = w
        return self._cache[key]

    def _aggregated(self, how: str) -> np.ndarray:
        key = ("aggregate", how, self._state["hide_sink"])
        if key not in self._cache:
            prep = remove_sink if self._state["hide_sink"] else (lambda w: w)
            agg = aggregate_heads(prep(self.weights), how)
            if self.compare_weights is not None:
                agg = agg - aggregate_heads(prep(self.compare_weights), how)
            self._cache[key] = agg
        return self._cache[key]

    def head_matrix(self) -> np.ndarray:
        """The [Tq, Tk] matrix in the head view: one head, or the layer's aggregate."""
        s = self._state
        if s["aggregation"] == "none":
            return self._processed()[s["layer"], s["head"]]
        return self._aggregated(s["aggregation"])[s["layer"]]

    def query_rows(self) -> dict[str, np.ndarray]:
        """Rows drawn in the text view for the selected query: {"head 3": [Tk], ...} or {"mean": [Tk]}."""
        s = self._state
        if s["aggregation"] != "none":
            return {s["aggregation"]: self._aggregated(s["aggregation"])[s["layer"], s["query"]]}
        rows = self._processed()[s["layer"], :, s["query"]]
        return {f"head {h}": rows[h] for h in s["heads"]}

    # ------------------------------------------------------------------ figures

    def grid_figure(self) -> go.Figure:
        """Model view: a mosaic of L x H thumbnails (uint8), the selected head outlined."""
        key = ("mosaic", self._state["hide_sink"])
        if key not in self._cache:
            self._cache[key] = thumbnail_mosaic(self._processed(), self.thumb_size, THUMB_GAP)
        mosaic = self._cache[key]
        cell_h = mosaic.shape[0] // self.n_layers
        cell_w = mosaic.shape[1] // self.n_heads
        scale = [[0.0, "#ffffff"], [0.5 / 255, "#ffffff"], [1.0 / 255, "#f7fbff"], [0.5, "#6baed6"], [1.0, "#08306b"]]
        s = self._state
        x0, y0 = s["head"] * cell_w - 0.5, s["layer"] * cell_h - 0.5
        outline = dict(type="rect", x0=x0, x1=x0 + cell_w - THUMB_GAP + 1, y0=y0, y1=y0 + cell_h - THUMB_GAP + 1,
                       line=dict(color=theme.ACCENT, width=3))  # fmt: skip
        head_ticks = [f"<span style='color:{theme.head_colour(h)}'><b>H{h}</b></span>" for h in range(self.n_heads)]
        trace = dict(type="heatmap", z=mosaic, colorscale=scale, zmin=0, zmax=255, showscale=False,
                     hoverinfo="none", name="grid")  # fmt: skip
        return make_figure([trace], dict(
            title=dict(text="Model view"),
            height=max(260, 32 * self.n_layers + 90),
            shapes=[outline],
            xaxis=dict(tickvals=[h * cell_w + cell_w / 2 - 1 for h in range(self.n_heads)], ticktext=head_ticks,
                       side="top", showgrid=False, constrain="domain"),
            yaxis=dict(tickvals=[l * cell_h + cell_h / 2 - 1 for l in range(self.n_layers)],
                       ticktext=[f"L{l}" for l in range(self.n_layers)], autorange="reversed",
                       showgrid=False, scaleanchor="x"),
            margin=dict(t=theme.TOP_MARGIN + 24, l=40, r=10, b=10),  # head labels sit under the title
        ))  # fmt: skip

    def head_figure(self) -> go.Figure:
        """Head view: the selected matrix at full resolution as float32."""
        s = self._state
        z = self.head_matrix().astype(np.float32)
        diff = self.compare_weights is not None
        if self.causal and not s["show_masked"]:
            z = np.where(np.triu(np.ones_like(z, dtype=bool), k=1), np.nan, z).astype(np.float32)
        if s["log_scale"] and not diff:
            z = np.log10(np.maximum(z, 1e-6)).astype(np.float32)
            colorbar = dict(title=dict(text="log10 w"))
            zmin, zmax, weight = -6.0, 0.0, "log10 weight %{z:.2f}"
        elif diff:
            bound = max(float(np.nanmax(np.abs(z))), 1e-6)
            colorbar, zmin, zmax, weight = dict(title=dict(text="A - B")), -bound, bound, "A-B %{z:.3f}"
        else:
            colorbar, zmin, zmax, weight = dict(title=dict(text="weight")), 0.0, float(np.nanmax(z)), "weight %{z:.3f}"
        x, xaxis = _token_axis(self.key_tokens, "key")
        y, yaxis = _token_axis(self.query_tokens, "query")
        trace = dict(
            type="heatmap", z=z, x=x, y=y, zmin=zmin,
            zmax=zmax, colorscale=theme.DIVERGING if diff else theme.SEQUENTIAL, colorbar=colorbar, name="head",
            hovertemplate="query %{y}<br>key %{x}<br>" + weight + "<extra></extra>", hoverongaps=False,
        )  # fmt: skip
        q = s["query"]
        row = dict(type="rect", xref="paper", x0=0, x1=1, y0=q - 0.5, y1=q + 0.5, line=dict(color=theme.ACCENT, width=2))
        if s["aggregation"] == "none":
            what = f"<span style='color:{theme.head_colour(s['head'])}'>layer {s['layer']} head {s['head']}</span>"
        else:
            what = f"layer {s['layer']}, {s['aggregation']} of heads"
            what += " (flow from the input)" if s["aggregation"] == "rollout" else ""
        return make_figure([trace], dict(
            title=dict(text=f"Head view: {what}" + (" (A - B)" if diff else "")),
            height=520,
            shapes=[row],
            # automargin: the margins grow to fit the token names, and the axis titles go beyond them
            xaxis=dict(xaxis, tickangle=-60),
            yaxis=dict(yaxis, autorange="reversed"),
        ))  # fmt: skip

    def _window(self, n: int, centre: int) -> tuple[int, int]:
        start = min(max(0, centre - self.text_window // 2), max(0, n - self.text_window))
        return start, min(n, start + self.text_window)

    def _query_window(self) -> tuple[int, int]:
        """The positions of the text view's left column: a window around the selected query. Under a causal
        mask the query sees only itself and earlier tokens, so the window ends at the query when it cannot
        hold everything: what the query attends to is never cut off for the sake of tokens it cannot see."""
        q, w = self._state["query"], self.text_window
        ends_at_query = self.causal and self.query_tokens is self.key_tokens
        return self._window(len(self.query_tokens), q + 1 - w + w // 2 if ends_at_query else q)

    def text_figure(self) -> go.Figure:
        """Text view: queries on the left, keys on the right, lines from the selected query.

        Trace order is fixed: [queries, keys, then 3 line traces (strong, medium, weak) per row
        in ``query_rows()``, the selected head's last], so there are 2 + 3 * len(rows) traces. The selected
        head is drawn on top: where two heads look at the same key, its line is the one you see.
        """
        s = self._state
        q = s["query"]
        rows = self.query_rows()
        qa, qb = self._query_window()
        if self.query_tokens is self.key_tokens:
            ka, kb = qa, qb
        else:
            ka, kb = self._window(len(self.key_tokens), int(np.argmax(np.abs(sum(rows.values())))))
        q_idx, k_idx = np.arange(qa, qb), np.arange(ka, kb)
        y_q, y_k = -(q_idx - qa), -(k_idx - ka)
        names = sorted(rows, key=lambda name: name == f"head {s['head']}")  # the selected head last: on top
        colours = [theme.head_colour(int(n.split()[1])) if n.startswith("head") else theme.ACCENT for n in names]

        stacked = np.abs(np.stack([rows[n][ka:kb] for n in names]))  # [n_rows, window]
        best = stacked.argmax(0)
        strength = stacked.max(0) / max(float(stacked.max()), 1e-12)
        key_colours = [theme.rgba(colours[b], 0.12 + 0.88 * a) for b, a in zip(best, strength)]
        q_colours = [theme.ACCENT if i == q else "#444444" for i in q_idx]
        hover_keys = "key %{text}<br>" + "<br>".join(f"{n}: %{{customdata[{i}]}}" for i, n in enumerate(names))
        traces = [
            dict(type="scatter", x=np.zeros(len(q_idx)), y=y_q, mode="markers+text",
                 text=[self.query_tokens[i] for i in q_idx], textposition="middle left",
                 marker=dict(size=[14 if i == q else 9 for i in q_idx], color=q_colours, symbol="square"),
                 textfont=dict(color=q_colours), name="queries", customdata=q_idx, showlegend=False,
                 hovertemplate="query %{customdata}: %{text}<extra></extra>"),
            dict(type="scatter", x=np.ones(len(k_idx)), y=y_k, mode="markers+text",
                 text=[self.key_tokens[i] for i in k_idx], textposition="middle right",
                 marker=dict(size=11, color=key_colours, symbol="square"), name="keys",
                 customdata=np.round(stacked.T, 3), showlegend=False, hovertemplate=hover_keys + "<extra></extra>"),
        ]  # fmt: skip
        yq = -(q - qa)
        for name, colour in zip(names, colours):
            weights = np.abs(rows[name][ka:kb])
            buckets = [np.nonzero((weights >= lo) & (weights < hi))[0] for lo, hi, _, _ in LINE_BUCKETS]
            # the legend entry goes on the first bucket with lines (plotly hides entries of empty traces)
            legend_bucket = next((b for b, keys in enumerate(buckets) if len(keys)), 0)
            for b, ((lo, hi, width, opacity), keys) in enumerate(zip(LINE_BUCKETS, buckets)):
                xs = np.tile([0.02, 0.98, np.nan], len(keys))
                ys = np.column_stack([np.full(len(keys), yq), y_k[keys], np.full(len(keys), np.nan)]).ravel()
                traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=colour, width=width),
                                   opacity=opacity, name=name, legendgroup=name, showlegend=b == legend_bucket,
                                   legendrank=list(rows).index(name), hoverinfo="skip"))  # fmt: skip
        layer_txt = f"layer {s['layer']}" + (f", {s['aggregation']}" if s["aggregation"] != "none" else "")
        shown = "" if (qb - qa) == len(self.query_tokens) else f" (tokens {qa}-{qb - 1} of {len(self.query_tokens)})"
        rows_shown = max(qb - qa, kb - ka)
        return make_figure(traces, dict(
            title=dict(text=f"Text view, {layer_txt}: query {q} '{self.query_tokens[q]}'{shown}"),
            height=max(300, 18 * rows_shown + 110),
            xaxis=dict(visible=False, range=[-0.9, 1.9]),
            yaxis=dict(visible=False, range=[-rows_shown + 0.5, 0.8]),
            legend=dict(title=dict(text="heads"), x=1.0, y=1.0, itemclick=False, itemdoubleclick=False),
            margin=dict(l=10, r=10),
        ))  # fmt: skip

    def figures(self) -> list[go.Figure]:
        return [self.grid_figure(), self.head_figure(), self.text_figure()]

    # ------------------------------------------------------------------ widget

    def _build_widget(self) -> W.Widget:
        s = self._state
        self._grid = PlotlyPane(self.grid_figure())
        self._head = PlotlyPane(self.head_figure())
        self._text = PlotlyPane(self.text_figure())
        self._grid.layout = W.Layout(width="40%", min_width="260px")
        self._head.layout = W.Layout(width="60%", min_width="360px")
        self._grid.on_click(self._on_grid_click)
        self._head.on_click(self._on_head_click)
        self._text.on_click(self._on_text_click)
        heads = [(f"H{h}", h) for h in range(self.n_heads)]
        self._controls = dict(
            layer=W.Dropdown(options=[(f"L{l}", l) for l in range(self.n_layers)], value=s["layer"], description="layer"),
            head=W.Dropdown(options=heads, value=s["head"], description="head"),
            heads=W.SelectMultiple(options=heads, value=tuple(s["heads"]), rows=4, description="text heads"),
            aggregation=W.ToggleButtons(options=list(AGGREGATIONS), value=s["aggregation"], description="heads"),
            log_scale=W.ToggleButtons(options=[("linear", False), ("log", True)], value=s["log_scale"], description="colour"),
            hide_sink=W.Checkbox(value=s["hide_sink"], description="hide first-token sink"),
            show_masked=W.Checkbox(value=s["show_masked"], description="show masked future"),
        )  # fmt: skip
        for name, control in self._controls.items():
            if isinstance(control, W.ToggleButtons):
                control.style.button_width = "64px"
            control.observe(lambda change, name=name: self.select(**{name: change["new"]}), names="value")
        c = self._controls
        box = W.VBox([
            W.HBox([c["layer"], c["head"], c["heads"]]),
            W.HBox([c["aggregation"], c["log_scale"]]),
            W.HBox([c["hide_sink"], c["show_masked"]]),
            _hint("Click a head in the model view to open it, or a row of the head view to make it the query."),
            W.HBox([self._grid, self._head], layout=W.Layout(width="100%")),  # 40/60 split, see below
            _hint("Click a token on the left to make it the query."),
            self._text,
        ])  # fmt: skip
        box.add_class("minigpt-attention-view")
        return box

    def _refresh(self, old: dict) -> None:
        """Push what changed to the panes and controls (only the panes whose data changed)."""
        s = self._state
        for name, control in self._controls.items():
            value = tuple(s[name]) if name == "heads" else s[name]
            if control.value != value:
                control.value = value
        display_keys = ("hide_sink",)
        if any(old[k] != s[k] for k in display_keys + ("layer", "head")):
            self._grid.show(self.grid_figure())
        if any(old[k] != s[k] for k in display_keys + ("layer", "head", "query", "aggregation", "log_scale", "show_masked")):
            self._head.show(self.head_figure())
        if any(old[k] != s[k] for k in display_keys + ("layer", "heads", "query", "aggregation")):
            self._text.show(self.text_figure())

    def _on_grid_click(self, point: dict) -> None:
        cell_h = min(self.thumb_size, len(self.query_tokens)) + THUMB_GAP
        cell_w = min(self.thumb_size, len(self.key_tokens)) + THUMB_GAP
        layer, head = int(point["y"]) // cell_h, int(point["x"]) // cell_w
        if 0 <= layer < self.n_layers and 0 <= head < self.n_heads:
            self.select(layer=layer, head=head, aggregation="none")

    def _on_head_click(self, point: dict) -> None:
        self.select(query=int(str(point["y"]).split(" ", 1)[0]))

    def _on_text_click(self, point: dict) -> None:
        if point.get("curve") == 0 and point.get("point") is not None:
            start, _ = self._query_window()
            self.select(query=start + int(point["point"]))
