"""``EmbeddingSpace3D(vectors, labels, groups)``: embeddings projected to 3D with PCA.

* The title says how much variance the 3 axes keep (PCA is a lossy picture of D dimensions).
* ``analogy(a, b, c)`` computes a - b + c in the full D-dim space, lists the nearest neighbours by
  cosine similarity and draws the arrows b -> a and c -> (a - b + c) in the 3D picture.
* ``EmbeddingSpace3D.contextual(paths)`` follows one token's vector across layers (or sentences).

Labels: a path view names each path once, at its end, and marks the start (once for paths that start
together); near points put their labels apart (one above, one below). Every label is on hover.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from minigpt.checks import check_bool, check_int

from . import theme
from ._base import View
from ._plotly import PlotlyPane, make_figure
from ._validate import as_float_array, check_finite, check_strings


def pca(vectors: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Project [N, D] onto its top-k principal axes.

    Returns (coords [N, k], axes [k, D], mean [D], explained [k]) where explained[i] is the
    fraction of total variance along axis i (the squared singular values over their sum).
    Fewer than k dimensions are padded with zero axes.
    """
    x = vectors.astype(np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = s**2
    explained = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    axes = np.zeros((k, x.shape[1]))
    axes[: min(k, len(vt))] = vt[:k]
    padded = np.zeros(k)
    padded[: min(k, len(explained))] = explained[:k]
    return (x - mean) @ axes.T, axes, mean, padded


# Plotly's default camera looks at the scene's unit cube from (1.25, 1.25, 1.25) with z up: these
# rows are its screen's right and up directions. Labels are placed for this view (pictures show it).
SCREEN = np.array([[-1.0, 1.0, 0.0], [-1.0, -1.0, 2.0]]) / np.sqrt([[2.0], [6.0]])
LABEL_CLOSE = 0.12  # on screen (cube side 1 = ~250 px): about two label heights up, four sideways


def label_positions(screen: np.ndarray, shown: list[str], marks: np.ndarray) -> list[str]:
    """Where each point's text goes, for points ``screen`` [N, 2] with texts ``shown`` ("" = none).

    Above the point, unless the nearest labelled neighbour or mark [M, 2] (an arrow's end, say) is
    closer than LABEL_CLOSE and higher on screen: then below it, so the label moves away from it.
    """
    others = np.concatenate([screen, marks])
    skip = np.concatenate([[not text for text in shown], np.zeros(len(marks), bool)])
    positions = []
    for i, point in enumerate(screen):
        gap = others - point
        dist = np.where(skip, np.inf, np.hypot(gap[:, 0] / 2, gap[:, 1]))  # labels are wide: sideways counts half
        dist[i] = np.inf
        j = int(np.argmin(dist))
        higher = (others[j, 1], j) > (point[1], i)  # index breaks ties: of two level points, one goes down
        positions.append("bottom center" if dist[j] < LABEL_CLOSE and higher else "top center")
    return positions


def cosine_neighbours(vectors: np.ndarray, query: np.ndarray, k: int, exclude=()) -> list[tuple[int, float]]:
    """Indices and cosine similarities of the k rows of ``vectors`` closest to ``query``."""
    norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
    sims = vectors @ query / np.maximum(norms, 1e-12)
    order = [int(i) for i in np.argsort(-sims) if int(i) not in set(exclude)]
    return [(i, float(sims[i])) for i in order[:k]]


class EmbeddingSpace3D(View):
    """3D PCA scatter of ``vectors`` [N, D] with ``labels`` (N strings) and optional ``groups``.

    ``analogies=True`` puts a - b + c pickers under the live view; views that are not about word
    arithmetic (``contextual`` paths) leave them out. ``analogy()`` works either way.

    Methods: ``analogy(a, b, c, k=5)`` -> [(label, cosine)], ``figure()``, ``contextual(...)``.
    Attributes: ``explained_variance`` (3 fractions), ``variance_kept`` (their sum), ``coords`` [N, 3].
    """

    def __init__(self, vectors, labels, groups=None, *, title: str = "Embedding space", analogies: bool = True):
        x = as_float_array(vectors, "vectors")
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"vectors must have shape [N, D] with N >= 1, got {tuple(x.shape)}")
        check_finite(x, "vectors", ("row", "dim"))
        self.labels = check_strings(labels, "labels", "strings, one per row of vectors", "['king', 'queen']")
        if len(self.labels) != len(x):
            raise ValueError(f"got {len(self.labels)} labels for {len(x)} vectors; pass one label per row")
        self.groups = None if groups is None else check_strings(groups, "groups", "strings, one per row of vectors",
                                                                "['royal', 'royal'] (or leave it out)")
        if self.groups is not None and len(self.groups) != len(x):
            raise ValueError(f"got {len(self.groups)} groups for {len(x)} vectors; pass one group per row")
        self.vectors, self.title = x, title
        self.analogies = check_bool(analogies, "analogies")
        self.coords, self._axes, self._mean, self.explained_variance = pca(x)
        self.variance_kept = float(self.explained_variance.sum())
        self._analogy = None
        self._steps = None  # a path view's step labels (see contextual)

    @classmethod
    def contextual(cls, paths: dict, step_labels=None, *, title: str = "One token across layers") -> "EmbeddingSpace3D":
        """Follow vectors through steps: ``paths = {"bank (river)": array[S, D], ...}``.

        Each path is drawn as a line through its S points (e.g. the residual stream of one token after
        every layer, from ``minigpt.capture``), labelled with ``step_labels`` (default "L0", "L1", ...).
        """
        if not paths:
            raise ValueError("paths is empty: pass {name: array[steps, D]}")
        arrays = {name: as_float_array(v, f"paths[{name!r}]") for name, v in paths.items()}
        steps = {a.shape[0] for a in arrays.values()}
        if len(steps) != 1 or any(a.ndim != 2 for a in arrays.values()):
            raise ValueError("every path must be an array [steps, D] with the same number of steps")
        n = steps.pop()
        step_labels = ([f"L{i}" for i in range(n)] if step_labels is None
                       else check_strings(step_labels, "step_labels", "strings, one per step", "['embed', 'block 0']"))
        view = cls(
            np.concatenate(list(arrays.values())),
            [f"{name} {step}" for name in arrays for step in step_labels],
            [name for name in arrays for _ in range(n)],
            title=title,
            analogies=False,
        )
        view._steps = step_labels
        return view

    def __repr__(self) -> str:
        # exact facts only: the variance kept depends on float kernels and is in the figure's title
        return f"EmbeddingSpace3D(points={len(self.labels)}, dim={self.vectors.shape[1]})"

    def _index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(f"{label!r} is not one of the labels (e.g. {self.labels[:5]})") from None

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """Nearest labels (cosine, full dimension) to vec(a) - vec(b) + vec(c), excluding a, b, c."""
        check_int(k, "k (how many neighbours)", 1)
        ia, ib, ic = (self._index(x) for x in (a, b, c))
        target = self.vectors[ia] - self.vectors[ib] + self.vectors[ic]
        found = cosine_neighbours(self.vectors, target, k, exclude=(ia, ib, ic))
        self._analogy = (ia, ib, ic, target, [i for i, _ in found])
        if self._widget is not None:
            self._pane.show(self.figure())
            self._result.value = self._result_html(found)
        return [(self.labels[i], sim) for i, sim in found]

    def _result_html(self, found) -> str:
        ia, ib, ic = self._analogy[:3]
        rows = "".join(f"<li>{self.labels[i]} <small>(cos {s:.3f})</small></li>" for i, s in found)
        return f"<b>{self.labels[ia]} - {self.labels[ib]} + {self.labels[ic]}</b> is nearest to:<ol>{rows}</ol>"

    def _screen(self, points: np.ndarray) -> np.ndarray:
        """3D ``points`` [..., 3] -> [..., 2] where plotly's default camera shows them, with the
        coordinates scaled as ``coords`` to [0, 1] per axis (the scene draws a cube)."""
        span = np.ptp(self.coords, axis=0)
        return ((points - self.coords.min(axis=0)) / np.where(span > 0, span, 1.0)) @ SCREEN.T

    def _arrows(self) -> list[tuple[np.ndarray, np.ndarray, str]]:
        """The analogy's arrows in the 3D picture, (start [3], end [3], name): b -> a, c -> a - b + c."""
        ia, ib, ic, target, _ = self._analogy
        t3 = (target.astype(np.float64) - self._mean) @ self._axes.T
        p = self.coords
        return [(p[ib], p[ia], "b -> a"), (p[ic], t3, "c -> a - b + c")]

    def _lines(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every straight line drawn, (start [3], end [3]): each step of a path, the analogy's arrows."""
        lines = []
        if self._steps is not None:
            n = len(self._steps)
            lines += [(self.coords[i], self.coords[i + 1]) for i in range(len(self.coords) - 1) if (i + 1) % n]
        if self._analogy is not None:
            lines += [(start, end) for start, end, _ in self._arrows()]
        return lines

    def _marks(self) -> np.ndarray:
        """[M, 2] places on screen that labels keep clear of: a little way in from both ends of every
        line (where a label would sit on the line or an arrow's cone) and the a - b + c diamond."""
        marks = []
        for start, end in self._lines():
            s, e = self._screen(start), self._screen(end)
            step = (e - s) / max(float(np.linalg.norm(e - s)), 1e-12) * LABEL_CLOSE / 2
            marks += [s + step, e - step]
        if self._analogy is not None:
            marks.append(self._screen(self._arrows()[1][1]))
        return np.array(marks).reshape(-1, 2)

    def _shown_labels(self) -> list[str]:
        """The N texts drawn beside the points ("" = none); hover shows every label in full.

        A path view names each path at its last step and marks its first step, once for paths that
        start in the same place: four paths' "L0", "L1", ... labels would otherwise pile up.
        """
        if self._steps is None:
            return list(self.labels)
        n, same = len(self._steps), 1e-4 * float(np.ptp(self.coords))
        shown = [""] * len(self.labels)
        starts = []
        for first in range(0, len(self.labels), n):
            if not any(np.linalg.norm(self.coords[first] - self.coords[s]) <= same for s in starts):
                shown[first] = self._steps[0]
                starts.append(first)
            shown[first + n - 1] = self.groups[first]
        return shown

    def figure(self) -> go.Figure:
        traces = []
        groups = self.groups or ["points"] * len(self.labels)
        colours = theme.group_colours(groups)
        shown = self._shown_labels()
        positions = label_positions(self._screen(self.coords), shown, self._marks())
        for name, colour in colours.items():
            idx = [i for i, g in enumerate(groups) if g == name]
            traces.append(dict(
                type="scatter3d", x=self.coords[idx, 0], y=self.coords[idx, 1], z=self.coords[idx, 2],
                mode="lines+markers+text" if self._steps else "markers+text", name=name,
                text=[shown[i] for i in idx], textposition=[positions[i] for i in idx],
                textfont=dict(size=10, color=colour), customdata=[self.labels[i] for i in idx],
                marker=dict(size=5, color=colour), line=dict(color=colour, width=4),
                hovertemplate="%{customdata}<extra>" + name + "</extra>",
            ))  # fmt: skip
        if self._analogy is not None:
            arrows, near, p = self._arrows(), self._analogy[4], self.coords
            t3 = arrows[1][1]
            for start, end, label in arrows:
                traces.append(dict(type="scatter3d", x=[start[0], end[0]], y=[start[1], end[1]], z=[start[2], end[2]],
                                   mode="lines", line=dict(color=theme.ARROW, width=7), name=label))  # fmt: skip
                d = end - start
                traces.append(dict(type="cone", x=[end[0]], y=[end[1]], z=[end[2]], u=[d[0]], v=[d[1]], w=[d[2]],
                                   anchor="tip", sizemode="absolute", sizeref=max(float(np.linalg.norm(d)), 1e-9) * 0.15,
                                   colorscale=[[0, theme.ARROW], [1, theme.ARROW]], showscale=False, name=label))  # fmt: skip
            # the legend names the diamond: a text label there would cover the word it lands near
            traces.append(dict(type="scatter3d", x=[t3[0]], y=[t3[1]], z=[t3[2]], mode="markers",
                               marker=dict(size=8, color=theme.ARROW, symbol="diamond"), name="a - b + c"))  # fmt: skip
            traces.append(dict(type="scatter3d", x=p[near, 0], y=p[near, 1], z=p[near, 2], mode="markers",
                               marker=dict(size=10, color="rgba(0,0,0,0)", line=dict(color=theme.ARROW, width=3)),
                               name="nearest (cosine)"))  # fmt: skip
        ev = self.explained_variance
        axis = lambda i: dict(title=dict(text=f"PC{i + 1} ({100 * ev[i]:.1f}%)"))  # noqa: E731
        return make_figure(traces, dict(
            title=dict(text=f"{self.title}: PCA to 3D keeps {100 * self.variance_kept:.1f}% of the variance"),
            height=560, scene=dict(xaxis=axis(0), yaxis=axis(1), zaxis=axis(2)), margin=dict(l=10, r=0, b=0),
            uirevision="keep",  # Plotly.react keeps the camera the learner rotated to when an analogy redraws
        ))  # fmt: skip

    def figures(self) -> list:
        return [self.figure()]

    def _build_widget(self) -> W.Widget:
        self._pane = PlotlyPane(self.figure())
        self._result = W.HTML()
        controls = [self._analogy_controls()] if self.analogies else []
        widget = W.VBox([self._pane, *controls, self._result])
        widget.add_class("minigpt-embedding-view")
        return widget

    def _analogy_controls(self) -> W.HBox:
        """Pickers for a, b, c and a button that runs ``analogy`` on them (errors go to the result line)."""
        pickers = [W.Combobox(options=sorted(set(self.labels)), placeholder=p, layout=W.Layout(width="140px"))
                   for p in ("a", "b", "c")]  # fmt: skip
        button = W.Button(description="a - b + c")

        def run(_):
            try:
                self.analogy(*(p.value for p in pickers))
            except ValueError as err:
                self._result.value = f"<span style='color:{theme.ACCENT}'>{err}</span>"

        button.on_click(run)
        return W.HBox([*pickers, button])
