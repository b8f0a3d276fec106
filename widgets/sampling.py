"""``SamplingExplorer(stages, tokens)``: what temperature, top-k, top-p and repetition penalty do.

The explorer keeps none of the maths: ``stages`` is a function of the settings that returns the
probabilities after every stage, ``minigpt.sampling.sampling_stages_of(logits)``, so moving a slider
recomputes them with the code ``generate`` samples with (raw -> repetition penalty -> temperature ->
top-k -> top-p). One bar chart per stage shows the probabilities of the most likely tokens on a log axis;
grey bars are tokens that stage removed, and each panel's title says what its stage did (how many tokens it
removed and their share of the probability, or how much probability it moved).
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from plotly.subplots import make_subplots

from minigpt.arguments import require_ids, require_int

from . import theme
from ._base import View
from ._plotly import PlotlyPane
from ._validate import as_float_array, require_tokens

SETTINGS = ("temperature", "top_k", "top_p", "repetition_penalty")
LOG_FLOOR = -8  # log10 of the smallest probability the log axis reaches (a float32 softmax goes to 1e-45)


def _percent(mass: float) -> str:
    """A share of the probability for a title: "97 %", "4.1 %", "0.31 %", "< 0.01 %" (two digits at most)."""
    if 0 < mass < 1e-4:
        return "< 0.01 %"
    return f"{100 * mass:.0f} %" if mass >= 0.1 else f"{100 * mass:.2g} %"


def _change_note(change: dict | None) -> str:
    """What a stage did, for its panel's title: ": removes 55 tokens (0.3 % of the probability)", ": moves
    4.1 % of the probability", ": changes nothing"; "" for the first stage (nothing before it)."""
    if change is None:
        return ""
    if change["removed"]:
        plural = "s" if change["removed"] > 1 else ""
        return f": removes {change['removed']} token{plural} ({_percent(change['removed_mass'])} of the probability)"
    return f": moves {_percent(change['moved'])} of the probability" if change["moved"] > 1e-6 else ": changes nothing"


class SamplingExplorer(View):
    """Sliders for temperature / top-k / top-p / repetition penalty over one next-token distribution.

    Args:
        stages: ``stages(previous_ids=..., **settings) -> {stage name: probs [V]}``, the stages in the
            order they apply, the last one sampled from; ``minigpt.sampling.sampling_stages_of(logits)``.
        tokens: V display strings (the vocabulary, or the candidate tokens).
        previous_ids: ids already in the text (for the repetition penalty).
        show: how many of the most likely tokens to draw (default 20).
        seed: seed of the sample button's generator.
        temperature, top_k, top_p, repetition_penalty: the starting settings (checked by ``stages``). The
            defaults change nothing (no penalty, temperature 1, no cut); settings where every stage changes
            something, each panel saying what it did, are e.g.
            ``temperature=0.8, top_k=10, top_p=0.9, repetition_penalty=1.3`` with ``previous_ids`` given.
        log_scale: probabilities on a log axis (default), where the tail a stage removes shows; False: linear.

    Attributes/methods: ``settings`` (dict), ``set(**settings)`` (top_k 0 = off, like its slider),
    ``stages()``, ``changes()`` (what each stage removed and moved), ``sample()`` -> token, ``last_sample``,
    ``log_scale`` (set it with ``set_log_scale``).
    """

    def __init__(self, stages, tokens=None, *, previous_ids=(), show: int = 20, seed: int = 0,
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 repetition_penalty: float = 1.0, log_scale: bool = True):  # fmt: skip
        if not callable(stages):
            raise TypeError(f"stages must be a function of the settings, e.g. "
                            f"minigpt.sampling.sampling_stages_of(logits); got {type(stages).__name__}")
        self._compute = stages
        vocab_size = next(iter(self._checked(stages(), None).values())).size
        self.tokens = require_tokens(tokens if tokens is not None else [str(i) for i in range(vocab_size)])
        if len(self.tokens) != vocab_size:
            raise ValueError(f"got {len(self.tokens)} token strings for {vocab_size} probabilities; "
                             "pass one per entry")
        self.previous_ids = require_ids(previous_ids, vocab_size, "previous_ids")
        self.show = min(require_int(show, "show", 1), vocab_size)
        self._rng = np.random.default_rng(require_int(seed, "seed", 0))
        if not isinstance(log_scale, bool):
            raise TypeError(f"log_scale must be True or False, got {log_scale!r}")
        self.log_scale = log_scale
        self.settings = dict(temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0)
        self.last_sample = None
        self.set(temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty)

    def __repr__(self) -> str:
        return f"SamplingExplorer(vocab={len(self.tokens)}, shown={self.show})"

    def set(self, **settings) -> None:
        """Change settings, e.g. ``set(temperature=0.7, top_k=10)``; top_k/top_p None = off, top_k 0 too."""
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}; use {list(SETTINGS)}")
        settings = {**self.settings, **settings}
        if settings["top_k"] == 0:  # the slider's "off": an IntSlider cannot hold None
            settings["top_k"] = None
        stages = self._checked(self._compute(previous_ids=self.previous_ids, **settings), len(self.tokens))
        self.settings, self._stages = settings, stages
        self._redraw()

    def set_log_scale(self, log_scale: bool) -> None:
        """Draw the probabilities on a log axis (True) or a linear one (False)."""
        self.log_scale = bool(log_scale)
        self._redraw()

    def _redraw(self) -> None:
        if self._widget is not None:
            self._pane.show(self.figure())

    @staticmethod
    def _checked(stages, vocab_size: int | None) -> dict[str, np.ndarray]:
        """What ``stages`` returned: a non-empty dict of 1-D probability vectors [V] of one size."""
        if not isinstance(stages, dict) or not stages:
            raise TypeError(f"stages(...) must return {{stage name: probabilities [V]}}, got {type(stages).__name__}")
        stages = {name: as_float_array(p, f"stage {name!r}") for name, p in stages.items()}
        vocab_size = vocab_size or next(iter(stages.values())).size
        for name, p in stages.items():
            if p.shape != (vocab_size,) or not np.isfinite(p).all() or abs(float(p.sum()) - 1) > 1e-3:
                raise ValueError(f"stage {name!r} must be {vocab_size} probabilities summing to 1, got shape "
                                 f"{p.shape} summing to {float(p.sum()):.4g}")
        return stages

    def stages(self) -> dict[str, np.ndarray]:
        """{stage name: probabilities [V]} at the current settings, as ``stages`` computed them."""
        return dict(self._stages)

    def sample(self) -> str:
        """Draw one token from the last stage's distribution (seeded generator)."""
        probs = list(self._stages.values())[-1].astype(np.float64)
        # float32 probabilities of 50k tokens can sum to 1 +- 1e-5, more than numpy's draw accepts
        self.last_sample = self.tokens[int(self._rng.choice(probs.size, p=probs / probs.sum()))]
        if self._widget is not None:
            self._drawn.value = f"sampled: <b>{self.last_sample}</b>"
        return self.last_sample

    def changes(self) -> dict[str, dict]:
        """What each stage after the first did to the distribution it was given, over the whole vocabulary:
        ``{stage: {"removed": tokens it set to 0, "removed_mass": their probability before it,
        "moved": probability that changed hands}}``. ``moved`` is the total variation distance
        ``sum(|after - before|) / 2`` (0: the stage changed nothing; a filter moves exactly what it removed)."""
        names = list(self._stages)
        out = {}
        for before, name in zip(names, names[1:]):
            p, q = self._stages[name].astype(np.float64), self._stages[before].astype(np.float64)
            removed = (q > 0) & (p == 0)
            out[name] = dict(removed=int(removed.sum()), removed_mass=float(q[removed].sum()),
                             moved=float(np.abs(p - q).sum() / 2))  # fmt: skip
        return out

    def figure(self):
        """One bar chart per stage of the ``show`` most likely tokens, each titled with what its stage did."""
        stages = self._stages
        names = list(stages)
        top = np.argsort(-stages[names[0]], kind="stable")[: self.show]
        labels = [f"{self.tokens[i]!r}" for i in top]
        changes = self.changes()
        titles = [self._title(name, name == names[-1]) + _change_note(changes.get(name)) for name in names]
        # every panel names its tokens: with the names only under the last panel, the first is 800 px from them
        fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.075, subplot_titles=titles)
        fig.update_xaxes(showticklabels=True, tickfont=dict(size=11))
        previous = stages[names[0]][top]
        heights = []
        for row, name in enumerate(names, start=1):
            p = stages[name][top]
            kept = p > 0
            # a removed token keeps a grey "ghost" bar of its probability before this stage
            heights.append(np.where(kept, p, previous).astype(np.float32))
            colours = [theme.PRIMARY if k else theme.MUTED for k in kept]
            status = ["kept" if k else "removed" for k in kept]
            fig.add_bar(x=labels, y=heights[-1], marker_color=colours, row=row, col=1, name=name, showlegend=False,
                        customdata=list(zip(p.tolist(), status)),
                        hovertemplate="%{x}: %{customdata[0]:.4g} (%{customdata[1]})<extra>" + name + "</extra>")  # fmt: skip
            previous = np.where(kept, p, previous)
        fig.update_yaxes(**self._y_axis(np.concatenate(heights)))
        scale = "log scale" if self.log_scale else "linear scale"
        fig.update_layout(template=theme.TEMPLATE, height=170 * len(names) + 80, bargap=0.15,
                          title=f"Next-token probabilities after each stage ({scale}; grey = removed)",
                          margin=dict(t=theme.SUBPLOT_TOP_MARGIN))  # fmt: skip
        return fig

    def _y_axis(self, heights: np.ndarray) -> dict:
        """One probability axis for every panel. On a log scale the tail a stage removes (probabilities of 1e-4
        and less) is as visible as the head; the axis starts half a decade under the smallest bar drawn."""
        highest = float(heights.max())
        if not self.log_scale:
            return dict(type="linear", range=[0, 1.05 * highest], nticks=3)
        lowest = float(heights[heights > 0].min()) if (heights > 0).any() else highest
        bottom = max(np.log10(lowest) - 0.5, LOG_FLOOR)
        top = np.log10(highest) + 0.1
        return dict(type="log", range=[bottom, top], dtick=max(1, int((top - bottom) // 4)),
                    exponentformat="power")  # fmt: skip

    def _title(self, name: str, last: bool) -> str:
        s, seen = self.settings, len(set(self.previous_ids))
        title = {
            "raw": "raw softmax",
            "repetition_penalty": f"repetition penalty {s['repetition_penalty']:g} on {seen} seen "
                                  f"token{'s' * (seen != 1)}",
            "temperature": f"temperature {s['temperature']:g}",
            "top_k": f"top-k {s['top_k'] or 'off'}",
            # :g, as above: a slider's 0.9 arrives as 0.9000000000000001
            "top_p": f"top-p {format(s['top_p'], 'g') if s['top_p'] else 'off'}",
        }.get(name, name)
        return f"{title} (sampled from this)" if last else title

    def figures(self) -> list:
        return [self.figure()]

    def _build_widget(self) -> W.Widget:
        s = self.settings
        sliders = dict(
            temperature=W.FloatSlider(value=s["temperature"], min=0, max=3, step=0.05, description="temperature"),
            top_k=W.IntSlider(value=s["top_k"] or 0, min=0, max=len(self.tokens), description="top-k (0 off)"),
            top_p=W.FloatSlider(value=s["top_p"] or 1.0, min=0.05, max=1, step=0.05, description="top-p"),
            repetition_penalty=W.FloatSlider(value=s["repetition_penalty"], min=1, max=3, step=0.1,
                                             description="rep. penalty"),
        )  # fmt: skip
        for name, slider in sliders.items():
            slider.style.description_width = "110px"
            slider.layout.width = "100%"  # the whole row: top-k's 0..V needs more than the default 300 px
            slider.observe(lambda change, name=name: self.set(**{name: change["new"]}), names="value")
        button = W.Button(description="sample", button_style="primary")
        button.on_click(lambda _: self.sample())
        log = W.Checkbox(value=self.log_scale, description="log scale", indent=False)
        log.observe(lambda change: self.set_log_scale(change["new"]), names="value")
        self._drawn = W.HTML()
        self._pane = PlotlyPane(self.figure())
        widget = W.VBox([*sliders.values(), W.HBox([button, log, self._drawn]), self._pane])
        widget.add_class("minigpt-sampling-view")
        return widget
