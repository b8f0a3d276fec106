"""``TrainingDashboard()``: a trainer callback that draws training live in the notebook.

    dash = TrainingDashboard()
    dash                                   # show it (one line)
    Trainer(model, cfg, data, callbacks=[dash]).fit()

It plots train/val loss above tokens/s on one step axis, says how far the run is in its title
("step 300 / 400"), and shows the latest generated sample (once there is one). It reads the keys
``minigpt.train.Trainer`` sends, and no others, plus the run's length (``trainer.config.max_iters``).
Updates are pushed from the training loop itself (widget messages go out while a cell runs), at most
every ``min_interval`` seconds, so plotting never slows training down.
"""

from __future__ import annotations

import html
import time

import ipywidgets as W
import numpy as np

from minigpt.arguments import require_int, require_number

from . import theme
from ._base import View
from ._plotly import PlotlyPane, make_figure


LOSS_PANEL = (0.4, 1.0)  # paper fractions of the plot height: loss on top, the larger panel
SPEED_PANEL = (0.0, 0.24)


def _panel_title(text: str, panel: tuple) -> dict:
    """A panel's title, left-aligned just above it (as plotly's subplot titles, which sit centred)."""
    return dict(text=text, x=0, xref="paper", xanchor="left", y=panel[1], yref="paper", yanchor="bottom",
                showarrow=False, font=dict(size=14))  # fmt: skip


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
    step was logged yet); ``on_sample`` text. ``history`` keeps every point; ``total_steps`` is the
    trainer's ``config.max_iters`` once a callback came from a trainer that has one.
    """

    def __init__(self, min_interval: float = 0.5, title: str = "Training"):
        self.min_interval = require_number(min_interval, "min_interval (seconds between redraws)", 0)
        self.title = title
        self.history = {"train": [], "val": [], "tokens_per_s": []}
        self.sample_text = ""
        self.total_steps = None  # the run's length, from the trainer (``progress``)
        self._last_push = 0.0

    def __repr__(self) -> str:
        return f"TrainingDashboard(train_points={len(self.history['train'])}, val_points={len(self.history['val'])})"

    # ---------------------------------------------------------------- callbacks

    def _step(self, info: dict) -> int:
        """The x of this point: ``info["step"]``, an int >= 0 (a float or text is refused, not rounded or
        plotted at a made-up place); without one, the next train point's index."""
        if "step" not in info:
            return len(self.history["train"])
        return require_int(info["step"], "info['step'] (the training step)", 0)

    def _record(self, info: dict, key: str, series: str) -> None:
        """Append (step, info[key]) to ``self.history[series]`` when info holds that number."""
        value = _number(info, key)
        if value is not None:
            self.history[series].append((self._step(info), value))

    def on_step(self, trainer, info: dict) -> None:
        self._note_total(trainer)
        self._record(info, "train_loss", "train")
        self._record(info, "tokens_per_s", "tokens_per_s")
        self._push(force=False)

    def on_eval(self, trainer, info: dict) -> None:
        self._note_total(trainer)
        self._record(info, "val_loss", "val")
        train = _number(info, "train_loss")
        if train is not None and not self.history["train"]:
            self.history["train"].append((self._step(info), train))
        self._push(force=True)

    def on_sample(self, trainer, info: dict) -> None:
        self._note_total(trainer)
        text = info.get("text")
        if text is not None:
            self.sample_text = str(text)
        self._push(force=True)

    # ---------------------------------------------------------------- drawing

    def progress(self) -> str:
        """"step 300 / 400" (the total is the trainer's ``config.max_iters``, once a callback brought it),
        "step 300" without one or past it (``fit(steps=...)`` can run on), "" before the first point."""
        steps = [step for points in self.history.values() for step, _ in points]
        if not steps:
            return ""
        latest = max(steps)
        within = self.total_steps is not None and latest <= self.total_steps
        return f"step {latest} / {self.total_steps}" if within else f"step {latest}"

    def _note_total(self, trainer) -> None:
        """Keep the run's length from the trainer (any object with ``config.max_iters``; tests pass None)."""
        total = getattr(getattr(trainer, "config", None), "max_iters", None)
        if isinstance(total, int) and not isinstance(total, bool) and total > 0:
            self.total_steps = total

    def figure(self):
        """Loss on top, speed below on the same steps; the title says how far the run is."""
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
                               xaxis="x2", yaxis="y2", showlegend=False,
                               line=dict(color=theme.PRIMARY, width=1.5)))  # fmt: skip
        parts = [self.title, self.progress(), f"{speed[-1][1]:,.0f} tokens/s" if speed else ""]
        return make_figure(traces, dict(
            title=dict(text=" · ".join(part for part in parts if part)),
            height=440,
            margin=dict(l=70, r=20, t=theme.SUBPLOT_TOP_MARGIN, b=50),
            # one step axis for both panels: the speed panel's is the one with tick labels and a title
            xaxis=dict(anchor="y", matches="x2", showticklabels=False),
            yaxis=dict(domain=list(LOSS_PANEL), title=dict(text="loss")),
            xaxis2=dict(anchor="y2", title=dict(text="step")),
            yaxis2=dict(domain=list(SPEED_PANEL), title=dict(text="tokens/s"), rangemode="tozero", tickformat="~s",
                        nticks=3),
            annotations=[_panel_title("train and validation loss", LOSS_PANEL),
                         _panel_title("speed: tokens per second", SPEED_PANEL)],
            # the legend names the loss curves, right-aligned on the loss panel's title line
            legend=dict(orientation="h", x=1, xanchor="right", y=LOSS_PANEL[1], yanchor="bottom",
                        bgcolor="rgba(0,0,0,0)"),
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
