"""``SamplingExplorer(stages, tokens)``: what temperature, top-k, top-p and repetition penalty do.

The explorer keeps none of the maths: ``stages`` is a function of the settings that returns the
probabilities after every stage, ``minigpt.sampling.sampling_stages_of(logits)``, so moving a slider
recomputes them with the code ``generate`` samples with (raw -> repetition penalty -> temperature ->
top-k -> top-p). One bar chart per stage shows the probabilities of the most likely tokens; grey bars
are tokens that stage removed.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from plotly.subplots import make_subplots

from minigpt.checks import check_ids, check_int

from . import theme
from ._base import View
from ._plotly import PlotlyPane
from ._validate import as_float_array, check_tokens

SETTINGS = ("temperature", "top_k", "top_p", "repetition_penalty")


class SamplingExplorer(View):
    """Sliders for temperature / top-k / top-p / repetition penalty over one next-token distribution.

    Args:
        stages: ``stages(previous_ids=..., **settings) -> {stage name: probs [V]}``, the stages in the
            order they apply, the last one sampled from; ``minigpt.sampling.sampling_stages_of(logits)``.
        tokens: V display strings (the vocabulary, or the candidate tokens).
        previous_ids: ids already in the text (for the repetition penalty).
        show: how many of the most likely tokens to draw (default 20).
        seed: seed of the sample button's generator.
        temperature, top_k, top_p, repetition_penalty: the starting settings (checked by ``stages``).

    Attributes/methods: ``settings`` (dict), ``set(**settings)`` (top_k 0 = off, like its slider),
    ``stages()``, ``sample()`` -> token, ``last_sample``.
    """

    def __init__(self, stages, tokens=None, *, previous_ids=(), show: int = 20, seed: int = 0,
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 repetition_penalty: float = 1.0):  # fmt: skip
        if not callable(stages):
            raise TypeError(f"stages must be a function of the settings, e.g. "
                            f"minigpt.sampling.sampling_stages_of(logits); got {type(stages).__name__}")
        self._compute = stages
        vocab_size = next(iter(self._checked(stages(), None).values())).size
        self.tokens = check_tokens(tokens if tokens is not None else [str(i) for i in range(vocab_size)])
        if len(self.tokens) != vocab_size:
            raise ValueError(f"got {len(self.tokens)} token strings for {vocab_size} probabilities; "
                             "pass one per entry")
        self.previous_ids = check_ids(previous_ids, vocab_size, "previous_ids")
        self.show = min(check_int(show, "show", 1), vocab_size)
        self._rng = np.random.default_rng(check_int(seed, "seed", 0))
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

    def figure(self):
        stages = self._stages
        names = list(stages)
        top = np.argsort(-stages[names[0]], kind="stable")[: self.show]
        labels = [f"{self.tokens[i]!r}" for i in top]
        # every panel names its tokens: with the names only under the last panel, the first is 800 px from them
        fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.075,
                            subplot_titles=[self._title(name, name == names[-1]) for name in names])  # fmt: skip
        fig.update_xaxes(showticklabels=True, tickfont=dict(size=11))
        highest = max(float(p[top].max()) for p in stages.values())
        previous = stages[names[0]][top]
        for row, name in enumerate(names, start=1):
            p = stages[name][top]
            kept = p > 0
            # a removed token keeps a grey "ghost" bar of its probability before this stage
            heights = np.where(kept, p, previous).astype(np.float32)
            colours = [theme.PRIMARY if k else theme.MUTED for k in kept]
            status = ["kept" if k else "removed" for k in kept]
            fig.add_bar(x=labels, y=heights, marker_color=colours, row=row, col=1, name=name, showlegend=False,
                        customdata=list(zip(p.tolist(), status)),
                        hovertemplate="%{x}: %{customdata[0]:.4f} (%{customdata[1]})<extra>" + name + "</extra>")  # fmt: skip
            fig.update_yaxes(range=[0, 1.05 * highest], row=row, col=1, nticks=3)
            previous = np.where(kept, p, previous)
        fig.update_layout(template=theme.TEMPLATE, height=170 * len(names) + 80, bargap=0.15,
                          title="Next-token distribution after each stage (grey = removed)",
                          margin=dict(t=theme.SUBPLOT_TOP_MARGIN))  # fmt: skip
        return fig

    def _title(self, name: str, last: bool) -> str:
        s = self.settings
        title = {
            "raw": "raw softmax",
            "repetition_penalty": f"repetition penalty {s['repetition_penalty']:g} on {len(set(self.previous_ids))} seen tokens",
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
        self._drawn = W.HTML()
        self._pane = PlotlyPane(self.figure())
        widget = W.VBox([*sliders.values(), W.HBox([button, self._drawn]), self._pane])
        widget.add_class("minigpt-sampling-view")
        return widget
