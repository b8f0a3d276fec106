"""``SamplingExplorer(logits, tokens)``: what temperature, top-k, top-p and repetition penalty do.

The stages run in the same order as ``minigpt.sampling`` (the tests check they agree):
raw -> repetition penalty -> temperature -> top-k -> top-p. One bar chart per stage shows the
probabilities of the most likely tokens; grey bars are tokens that stage removed.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from plotly.subplots import make_subplots

from . import theme
from ._base import View
from ._plotly import PlotlyPane
from ._validate import as_float_array, check_finite, check_ids, check_int, check_number, check_tokens, is_int, is_number

STAGES = ("raw", "repetition_penalty", "temperature", "top_k", "top_p")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits)
    e = np.exp(z)
    return e / e.sum()


def apply_repetition_penalty(logits: np.ndarray, previous_ids, penalty: float) -> np.ndarray:
    """Seen tokens: positive logits divided by ``penalty``, negative ones multiplied (CTRL)."""
    out = logits.copy()
    seen = np.unique(np.asarray(check_ids(previous_ids, logits.size, "previous_ids"), dtype=int))
    if penalty != 1.0 and seen.size:
        with np.errstate(over="ignore"):
            scores = np.where(out[seen] > 0, out[seen] / penalty, out[seen] * penalty)
        out[seen] = np.minimum(scores, np.finfo(out.dtype).max)  # a tiny penalty must not give inf (NaN later)
    return out


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``logits / T``; T = 0 keeps only the most likely token (greedy)."""
    if temperature == 0:
        out = np.full_like(logits, -np.inf)
        best = int(np.argmax(logits))
        out[best] = logits[best]
        return out
    # shifted so the largest is 0: a tiny temperature then gives -inf, never inf - inf = NaN
    with np.errstate(over="ignore"):
        return (logits - np.max(logits)) / temperature


def apply_top_k(logits: np.ndarray, k: int | None) -> np.ndarray:
    """Keep the k largest logits (ties with the k-th kept too)."""
    if k is None or k >= logits.size:
        return logits
    kth = np.sort(logits)[-k]
    return np.where(logits < kth, -np.inf, logits)


def apply_top_p(logits: np.ndarray, p: float | None) -> np.ndarray:
    """Keep the most likely tokens until their probability reaches p (the top one always stays)."""
    if p is None or p >= 1.0:
        return logits
    order = np.argsort(-logits, kind="stable")
    probs = softmax(logits[order])
    mass_before = np.cumsum(probs) - probs
    remove = np.zeros(logits.size, dtype=bool)
    remove[order] = mass_before >= p
    return np.where(remove, -np.inf, logits)


def sampling_stages(logits, *, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, previous_ids=()):
    """Probabilities after every stage: {stage name: probs [V]} (same keys as minigpt.sampling)."""
    settings = checked_settings(temperature, top_k, top_p, repetition_penalty)
    temperature, top_k, top_p, repetition_penalty = settings.values()
    out = {"raw": logits}
    out["repetition_penalty"] = apply_repetition_penalty(logits, previous_ids, repetition_penalty)
    out["temperature"] = apply_temperature(out["repetition_penalty"], temperature)
    out["top_k"] = apply_top_k(out["temperature"], top_k)
    out["top_p"] = apply_top_p(out["top_k"], top_p)
    return {name: softmax(v) for name, v in out.items()}


def checked_settings(temperature, top_k, top_p, repetition_penalty) -> dict:
    """The four settings, checked, with "off" spelled None: top_k 0 and top_p 0 or 1 mean off.
    A float top_k (2.7) or a NaN is an error rather than quietly becoming something else."""
    return dict(
        temperature=check_number(temperature, "temperature (0 = greedy)", 0),
        top_k=None if top_k is None or (is_int(top_k) and top_k == 0) else check_int(top_k, "top_k (0 = off)", 1),
        top_p=None if top_p is None or (is_number(top_p) and top_p in (0, 1)) else _check_top_p(top_p),
        repetition_penalty=check_number(repetition_penalty, "repetition_penalty (1 = none)", 0, above=True),
    )


def _check_top_p(top_p) -> float:
    top_p = check_number(top_p, "top_p (0 or 1 = off)", 0, above=True)
    if top_p > 1:
        raise ValueError(f"top_p must be in (0, 1] (0 or 1 = off), got {top_p!r}")
    return top_p


class SamplingExplorer(View):
    """Sliders for temperature / top-k / top-p / repetition penalty over one next-token distribution.

    Args:
        logits: [V] scores (or pass ``probs=`` [V] probabilities instead; they are log'd).
        tokens: V display strings (the vocabulary, or the candidate tokens).
        previous_ids: ids already in the text (for the repetition penalty).
        show: how many of the most likely tokens to draw (default 20).
        seed: seed of the sample button's generator.

    Attributes/methods: ``settings`` (dict), ``set(**settings)``, ``stages()``, ``sample()`` -> token,
    ``last_sample``.
    """

    def __init__(self, logits=None, tokens=None, *, probs=None, previous_ids=(), show: int = 20, seed: int = 0,
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 repetition_penalty: float = 1.0):  # fmt: skip
        if (logits is None) == (probs is None):
            raise ValueError("pass exactly one of logits=[V] or probs=[V]")
        if probs is not None:
            p = as_float_array(probs, "probs").astype(np.float64)
            if p.ndim != 1 or (p < 0).any() or abs(p.sum() - 1) > 1e-3:
                raise ValueError("probs must be a 1-D probability vector (non-negative, summing to 1)")
            logits = np.log(np.maximum(p, 1e-30))
        self.logits = as_float_array(logits, "logits").astype(np.float64)
        if self.logits.ndim != 1 or self.logits.size == 0:
            raise ValueError(f"logits must be a non-empty 1-D vector [V], got shape {self.logits.shape}")
        check_finite(self.logits, "logits", ("token",))
        self.tokens = check_tokens(tokens if tokens is not None else [str(i) for i in range(self.logits.size)])
        if len(self.tokens) != self.logits.size:
            raise ValueError(f"got {len(self.tokens)} token strings for {self.logits.size} logits; pass one per entry")
        self.previous_ids = check_ids(previous_ids, self.logits.size, "previous_ids")
        self.show = min(check_int(show, "show", 1), self.logits.size)
        self._rng = np.random.default_rng(check_int(seed, "seed", 0))
        self.settings = dict(temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0)
        self.last_sample = None
        self._widget = None
        self.set(temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty)

    def __repr__(self) -> str:
        return f"SamplingExplorer(vocab={self.logits.size}, shown={self.show})"

    def set(self, **settings) -> None:
        """Change settings, e.g. ``set(temperature=0.7, top_k=10)``; top_k/top_p None or 0 = off."""
        unknown = set(settings) - set(self.settings)
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}; use {sorted(self.settings)}")
        self.settings = checked_settings(**{**self.settings, **settings})
        if self._widget is not None:
            self._pane.show(self.figure())

    def stages(self) -> dict[str, np.ndarray]:
        return sampling_stages(self.logits, previous_ids=self.previous_ids, **self.settings)

    def sample(self) -> str:
        """Draw one token from the final distribution (seeded generator)."""
        probs = self.stages()["top_p"]
        self.last_sample = self.tokens[int(self._rng.choice(probs.size, p=probs))]
        if self._widget is not None:
            self._drawn.value = f"sampled: <b>{self.last_sample}</b>"
        return self.last_sample

    def figure(self):
        stages = self.stages()
        top = np.argsort(-stages["raw"], kind="stable")[: self.show]
        labels = [f"{self.tokens[i]!r}" for i in top]
        # every panel names its tokens: with the names only under the last panel, the first is 800 px from them
        fig = make_subplots(rows=len(STAGES), cols=1, shared_xaxes=True, vertical_spacing=0.075,
                            subplot_titles=[self._title(name) for name in STAGES])  # fmt: skip
        fig.update_xaxes(showticklabels=True, tickfont=dict(size=11))
        top_p = max(float(stages[name][top].max()) for name in STAGES)
        previous = stages["raw"][top]
        for row, name in enumerate(STAGES, start=1):
            p = stages[name][top]
            kept = p > 0
            # a removed token keeps a grey "ghost" bar of its probability before this stage
            heights = np.where(kept, p, previous).astype(np.float32)
            colours = [theme.PRIMARY if k else theme.MUTED for k in kept]
            status = ["kept" if k else "removed" for k in kept]
            fig.add_bar(x=labels, y=heights, marker_color=colours, row=row, col=1, name=name, showlegend=False,
                        customdata=list(zip(p.tolist(), status)),
                        hovertemplate="%{x}: %{customdata[0]:.4f} (%{customdata[1]})<extra>" + name + "</extra>")  # fmt: skip
            fig.update_yaxes(range=[0, 1.05 * top_p], row=row, col=1, nticks=3)
            previous = np.where(kept, p, previous)
        fig.update_layout(template=theme.TEMPLATE, height=170 * len(STAGES) + 80, bargap=0.15,
                          title="Next-token distribution after each stage (grey = removed)",
                          margin=dict(t=theme.SUBPLOT_TOP_MARGIN))  # fmt: skip
        return fig

    def _title(self, name: str) -> str:
        s = self.settings
        return {
            "raw": "raw softmax",
            "repetition_penalty": f"repetition penalty {s['repetition_penalty']:g} on {len(set(self.previous_ids))} seen tokens",
            "temperature": f"temperature {s['temperature']:g}",
            "top_k": f"top-k {s['top_k'] or 'off'}",
            # :g, as above: a slider's 0.9 arrives as 0.9000000000000001
            "top_p": f"top-p {format(s['top_p'], 'g') if s['top_p'] else 'off'} (sampled from this)",
        }[name]

    def figures(self) -> list:
        return [self.figure()]

    @property
    def widget(self) -> W.Widget:
        if self._widget is None:
            s = self.settings
            sliders = dict(
                temperature=W.FloatSlider(value=s["temperature"], min=0, max=3, step=0.05, description="temperature"),
                top_k=W.IntSlider(value=s["top_k"] or 0, min=0, max=self.logits.size, description="top-k (0 off)"),
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
            self._widget = W.VBox([*sliders.values(), W.HBox([button, self._drawn]), self._pane])
            self._widget.add_class("minigpt-sampling-view")
        return self._widget
