"""``TrainingDashboard()``: a trainer callback that draws training live in the notebook.

    dash = TrainingDashboard()
    dash                                   # show it (one line)
    Trainer(model, cfg, data, callbacks=[dash]).fit()

It plots train/val loss, tokens/s, the latest generated sample (once there is one), and a thumbnail
of the attention pattern when the trainer reports one. Updates are pushed from the training loop
itself (widget messages go out while a cell runs), at most every ``min_interval`` seconds, so
plotting never slows training down.
"""

from __future__ import annotations

import html
import time

import ipywidgets as W
import numpy as np

from . import theme
from ._base import View
from ._plotly import PlotlyPane, make_figure
from ._validate import check_number
from .attention_math import thumbnails


def _number(info: dict, *keys):
    for key in keys:
        value = info.get(key)
        if value is not None:
            try:
                return float(value)
            except (TypeError, ValueError):
                pass
    return None


class TrainingDashboard(View):
    """Callback with ``on_step``, ``on_eval``, ``on_sample`` (each ``(trainer, info: dict)``).

    Recognised info keys (all optional): step, loss / train_loss, val_loss, tokens_per_s, lr,
    text / sample, attention ([T, T], [H, T, T] or [L, H, T, T]). ``history`` keeps every point.
    """

    def __init__(self, min_interval: float = 0.5, title: str = "Training"):
        self.min_interval = check_number(min_interval, "min_interval (seconds between redraws)", 0)
        self.title = title
        self.history = {"train": [], "val": [], "tokens_per_s": []}
        self.sample_text = ""
        self.attention = None
        self._last_push = 0.0
        self._widget = None

    def __repr__(self) -> str:
        return f"TrainingDashboard(train_points={len(self.history['train'])}, val_points={len(self.history['val'])})"

    # ---------------------------------------------------------------- callbacks

    def _step(self, info: dict) -> int:
        return int(info.get("step", len(self.history["train"])))

    def on_step(self, trainer, info: dict) -> None:
        loss = _number(info, "train_loss", "loss")
        if loss is not None:
            self.history["train"].append((self._step(info), loss))
        speed = _number(info, "tokens_per_s", "tokens_per_sec")
        if speed is not None:
            self.history["tokens_per_s"].append((self._step(info), speed))
        self._take_attention(info)
        self._push(force=False)

    def on_eval(self, trainer, info: dict) -> None:
        loss = _number(info, "val_loss", "loss")
        if loss is not None:
            self.history["val"].append((self._step(info), loss))
        train = _number(info, "train_loss")
        if train is not None and not self.history["train"]:
            self.history["train"].append((self._step(info), train))
        self._take_attention(info)
        self._push(force=True)

    def on_sample(self, trainer, info: dict) -> None:
        text = info.get("text", info.get("sample"))
        if text is not None:
            self.sample_text = str(text)
        self._take_attention(info)
        self._push(force=True)

    def _take_attention(self, info: dict) -> None:
        weights = info.get("attention")
        if weights is None:
            return
        if hasattr(weights, "detach"):
            weights = weights.detach().float().cpu().numpy()
        w = np.asarray(weights, dtype=np.float32)
        while w.ndim > 2:  # average over layers/heads/batch down to one [T, T] picture
            w = w.mean(axis=0)
        self.attention = thumbnails(w, 32)

    # ---------------------------------------------------------------- drawing

    def figure(self):
        traces = []
        for name, colour in (("train", theme.head_colour(0)), ("val", theme.head_colour(1))):
            points = self.history[name]
            if points:
                x, y = zip(*points)
                traces.append(dict(type="scatter", x=np.array(x), y=np.array(y, dtype=np.float32), name=f"{name} loss",
                                   mode="lines+markers" if name == "val" else "lines", line=dict(color=colour)))  # fmt: skip
        speed = self.history["tokens_per_s"]
        if speed:
            x, y = zip(*speed)
            traces.append(dict(type="scatter", x=np.array(x), y=np.array(y, dtype=np.float32), name="tokens/s",
                               yaxis="y2", line=dict(color=theme.MUTED, dash="dot")))  # fmt: skip
        if self.attention is not None:
            traces.append(dict(type="heatmap", z=self.attention.astype(np.float32), xaxis="x3", yaxis="y3",
                               colorscale=theme.SEQUENTIAL, showscale=False, name="attention"))  # fmt: skip
        latest = f"{speed[-1][1]:,.0f} tokens/s" if speed else ""
        return make_figure(traces, dict(
            title=dict(text=f"{self.title} {latest}"),
            height=360,
            xaxis=dict(title=dict(text="step"), domain=[0, 0.68]),
            yaxis=dict(title=dict(text="loss")),
            yaxis2=dict(title=dict(text="tokens/s"), overlaying="y", side="right", showgrid=False),
            xaxis3=dict(domain=[0.8, 1.0], visible=False, anchor="y3"),
            yaxis3=dict(domain=[0.25, 1.0], visible=False, autorange="reversed", anchor="x3", scaleanchor="x3"),
            legend=dict(orientation="h", y=-0.25),
            annotations=[dict(text="attention (mean)", x=0.9, y=0.12, xref="paper", yref="paper", showarrow=False)]
            if self.attention is not None else [],
        ))  # fmt: skip

    def figures(self) -> list:
        return [self.figure()]

    def _show_sample(self) -> None:
        """Put the latest sample in its box, hidden until there is one (a trainer may never give any)."""
        pre = "<pre style='white-space:pre-wrap;max-height:160px;overflow:auto'>"
        self._sample.value = f"<b>latest sample</b>{pre}{html.escape(self.sample_text)}</pre>"
        self._sample.layout.display = None if self.sample_text else "none"

    def _push(self, force: bool) -> None:
        if self._widget is None:
            return
        now = time.monotonic()
        if not force and now - self._last_push < self.min_interval:
            return
        self._last_push = now
        self._pane.show(self.figure())
        self._show_sample()

    def flush(self) -> None:
        """Draw the latest numbers now (call after training to show the very last step)."""
        self._push(force=True)

    @property
    def widget(self) -> W.Widget:
        if self._widget is None:
            self._pane = PlotlyPane(self.figure())
            self._sample = W.HTML()
            self._show_sample()
            self._widget = W.VBox([self._pane, self._sample])
            self._widget.add_class("minigpt-training-dashboard")
        return self._widget
