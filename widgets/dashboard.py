"""``TrainingDashboard()``: a trainer callback that draws training live in the notebook.

    dash = TrainingDashboard()
    dash                                   # show it (one line)
    Trainer(model, cfg, data, callbacks=[dash]).fit()

It plots train/val loss and tokens/s, and shows the latest generated sample (once there is one).
It reads the keys ``minigpt.train.Trainer`` sends, and no others. Updates are pushed from the training loop
itself (widget messages go out while a cell runs), at most every ``min_interval`` seconds, so
plotting never slows training down.
"""

from __future__ import annotations

import html
import time

import ipywidgets as W
import numpy as np

from minigpt.checks import check_int, check_number

from . import theme
from ._base import View
from ._plotly import PlotlyPane, make_figure


def _number(info: dict, key: str):
    """``info[key]`` as a float; None when it is missing or not a number (a point left out, not a crash)."""
    try:
        return float(info[key])
    except (KeyError, TypeError, ValueError):
        return None


class TrainingDashboard(View):
    """Callback with ``on_step``, ``on_eval``, ``on_sample`` (each ``(trainer, info: dict)``).

    The info keys it reads are the ones the ``Trainer`` sends: ``on_step`` step, train_loss, tokens_per_s;
    ``on_eval`` step, val_loss and train_loss (the train loss on the evaluation batches, drawn when no
    step was logged yet); ``on_sample`` text. ``history`` keeps every point.
    """

    def __init__(self, min_interval: float = 0.5, title: str = "Training"):
        self.min_interval = check_number(min_interval, "min_interval (seconds between redraws)", 0)
        self.title = title
        self.history = {"train": [], "val": [], "tokens_per_s": []}
        self.sample_text = ""
        self._last_push = 0.0

    def __repr__(self) -> str:
        return f"TrainingDashboard(train_points={len(self.history['train'])}, val_points={len(self.history['val'])})"

    # ---------------------------------------------------------------- callbacks

    def _step(self, info: dict) -> int:
        """The x of this point: ``info["step"]``, an int >= 0 (a float or text is refused, not rounded or
        plotted at a made-up place); without one, the next train point's index."""
        if "step" not in info:
            return len(self.history["train"])
        return check_int(info["step"], "info['step'] (the training step)", 0)

    def on_step(self, trainer, info: dict) -> None:
        loss = _number(info, "train_loss")
        if loss is not None:
            self.history["train"].append((self._step(info), loss))
        speed = _number(info, "tokens_per_s")
        if speed is not None:
            self.history["tokens_per_s"].append((self._step(info), speed))
        self._push(force=False)

    def on_eval(self, trainer, info: dict) -> None:
        loss = _number(info, "val_loss")
        if loss is not None:
            self.history["val"].append((self._step(info), loss))
        train = _number(info, "train_loss")
        if train is not None and not self.history["train"]:
            self.history["train"].append((self._step(info), train))
        self._push(force=True)

    def on_sample(self, trainer, info: dict) -> None:
        text = info.get("text")
        if text is not None:
            self.sample_text = str(text)
        self._push(force=True)

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
        latest = f"{speed[-1][1]:,.0f} tokens/s" if speed else ""
        return make_figure(traces, dict(
            title=dict(text=f"{self.title} {latest}"),
            height=360,
            xaxis=dict(title=dict(text="step")),
            yaxis=dict(title=dict(text="loss")),
            yaxis2=dict(title=dict(text="tokens/s"), overlaying="y", side="right", showgrid=False),
            legend=dict(orientation="h", y=-0.25),
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

    def _build_widget(self) -> W.Widget:
        self._pane = PlotlyPane(self.figure())
        self._sample = W.HTML()
        self._show_sample()
        widget = W.VBox([self._pane, self._sample])
        widget.add_class("minigpt-training-dashboard")
        return widget
