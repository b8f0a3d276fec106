"""Embeddings as pictures: ``EmbeddingSpace3D`` (PCA to 3D) and ``AnalogyPlane`` (the plane of an analogy).

* ``EmbeddingSpace3D(vectors, labels, groups)``: the title says how much variance the 3 axes keep (PCA is
  a lossy picture of D dimensions). ``analogy(a, b, c)`` computes a - b + c in the full D-dim space, lists
  the nearest neighbours by cosine similarity and draws the arrows b -> a and c -> (a - b + c).
* ``EmbeddingSpace3D.contextual(paths)`` follows one token's vector across layers (or sentences).
* ``AnalogyPlane(vectors, labels, a, b, c)``: the same arithmetic drawn in the plane of the two offsets
  it is about (b -> c across, b -> a up), where a, b, c and a - b + c sit exactly, at the corners of a
  parallelogram. PCA keeps the directions along which *all* words differ most, which need not be
  these two: there the four can fall on top of each other.

Labels: a path view names each path once, at its end, and marks the start (once for paths that start
together); each label goes above, below, left or right of its point, wherever it covers the fewest
labels, points and arrow ends. Every label is on hover.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from minigpt.arguments import require_bool, require_int

from . import theme
from ._base import View
from ._plotly import PlotlyPane, make_figure
from ._validate import as_float_array, require_finite, require_strings


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


# The camera looks at the scene's cube from (1, 1, 1) with z up, as plotly's default one does, but from
# further away (plotly: 1.25 per axis), so the cube, its tick labels and its axis titles fit in the picture.
CAMERA = dict(eye=dict(x=1.35, y=1.35, z=1.35), center=dict(x=0, y=0, z=-0.12), up=dict(x=0, y=0, z=1))
# The screen's right and up directions for that camera, and about how many pixels one side of the cube takes
SCREEN = np.array([[-1.0, 1.0, 0.0], [-1.0, -1.0, 2.0]]) / np.sqrt([[2.0], [6.0]])
CUBE_PX = 230
LABEL_FONT = 10  # px: a label is about 0.6 of this wide per character and 1.3 of it high
MARK_PX = 9  # a point's marker (and an arrow end) as a square this wide
GAP_PX = 2  # between a point's marker and its label
# where a label can go, and which way from its point (tried in this order: the first of equals wins)
PLACES = {"top center": (0, 1), "bottom center": (0, -1), "middle right": (1, 0), "middle left": (-1, 0)}


def _boxes(centres: np.ndarray, widths, heights) -> np.ndarray:
    """[N, 4] boxes (left, bottom, right, top) around ``centres`` [N, 2]."""
    half = np.column_stack([widths, heights]) / 2
    return np.hstack([centres - half, centres + half])


def _overlap(box: np.ndarray, boxes: np.ndarray) -> float:
    """Total area of ``box`` [4] covered by ``boxes`` [M, 4]."""
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def label_positions(screen: np.ndarray, shown: list[str], marks: np.ndarray, px: float = CUBE_PX) -> list[str]:
    """Where each point's text goes, for points ``screen`` [N, 2] (y up, ``px`` pixels per unit) with texts
    ``shown`` ("" = none), keeping clear of marks [M, 2] (arrow ends, say).

    Label by label, the place of ``PLACES`` whose box covers the least of every marker, mark and label
    placed so far; a label is ~0.6 of ``LABEL_FONT`` wide per character and 1.3 of it high.
    """
    points = np.asarray(screen, float).reshape(-1, 2) * px
    dots = np.concatenate([points, np.asarray(marks, float).reshape(-1, 2) * px])
    taken = _boxes(dots, np.full(len(dots), MARK_PX), np.full(len(dots), MARK_PX))
    positions = []
    for point, text in zip(points, shown):
        if not text:
            positions.append("top center")
            continue
        size = np.array([0.6 * LABEL_FONT * len(text) + 2, 1.3 * LABEL_FONT])
        best, best_cover = None, np.inf
        for place, way in PLACES.items():
            box = _boxes(point + np.array(way) * (size / 2 + MARK_PX / 2 + GAP_PX), [size[0]], [size[1]])
            cover = _overlap(box[0], taken)
            if cover < best_cover:
                best, best_cover, best_box = place, cover, box
        positions.append(best)
        taken = np.concatenate([taken, best_box])
    return positions


def _along(segments, every: float = MARK_PX / 2) -> np.ndarray:
    """[M, 2] marks ``every`` pixels along each (start [2], end [2]) segment, both ends included: a line
    as a row of marks that labels keep clear of."""
    marks = [np.zeros((0, 2))]
    for start, end in segments:
        n = max(2, int(np.ceil(np.linalg.norm(end - start) / every)) + 1)
        marks.append(start + np.linspace(0, 1, n)[:, None] * (end - start))
    return np.concatenate(marks)


def cosine_neighbours(vectors: np.ndarray, query: np.ndarray, k: int, exclude=()) -> list[tuple[int, float]]:
    """Indices and cosine similarities of the k rows of ``vectors`` closest to ``query``."""
    norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
    sims = vectors @ query / np.maximum(norms, 1e-12)
    order = [int(i) for i in np.argsort(-sims) if int(i) not in set(exclude)]
    return [(i, float(sims[i])) for i in order[:k]]


class _WordPoints(View):
    """What both embedding views share: N labelled vectors [N, D], their groups, a - b + c and its controls.

    A subclass draws ``figure()``; ``analogy()`` redraws a shown view.
    """

    def __init__(self, vectors, labels, groups, title: str, analogies: bool):
        x = as_float_array(vectors, "vectors")
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"vectors must have shape [N, D] with N >= 1, got {tuple(x.shape)}")
        require_finite(x, "vectors", ("row", "dim"))
        self.labels = require_strings(labels, "labels", "strings, one per row of vectors", "['king', 'queen']")
        if len(self.labels) != len(x):
            raise ValueError(f"got {len(self.labels)} labels for {len(x)} vectors; pass one label per row")
        self.groups = None if groups is None else require_strings(groups, "groups", "strings, one per row of vectors",
                                                                "['royal', 'royal'] (or leave it out)")
        if self.groups is not None and len(self.groups) != len(x):
            raise ValueError(f"got {len(self.groups)} groups for {len(x)} vectors; pass one group per row")
        self.vectors, self.title = x, title
        self.analogies = require_bool(analogies, "analogies")
        self._analogy = None

    def _index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(f"{label!r} is not one of the labels (e.g. {self.labels[:5]})") from None

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """Nearest labels (cosine, full dimension) to vec(a) - vec(b) + vec(c), excluding a, b, c."""
        require_int(k, "k (how many neighbours)", 1)
        ia, ib, ic = (self._index(x) for x in (a, b, c))
        self._require_analogy(ia, ib, ic)
        target = self.vectors[ia] - self.vectors[ib] + self.vectors[ic]
        found = cosine_neighbours(self.vectors, target, k, exclude=(ia, ib, ic))
        self._analogy = (ia, ib, ic, target, [i for i, _ in found])
        if self._widget is not None:
            self._pane.show(self.figure())
            self._result.value = self._result_html(found)
        return [(self.labels[i], sim) for i, sim in found]

    def _require_analogy(self, ia: int, ib: int, ic: int) -> None:
        """Raise ValueError for a, b, c this view cannot draw (any three can be computed)."""

    def _result_html(self, found) -> str:
        ia, ib, ic = self._analogy[:3]
        rows = "".join(f"<li>{self.labels[i]} <small>(cos {s:.3f})</small></li>" for i, s in found)
        return f"<b>{self.labels[ia]} - {self.labels[ib]} + {self.labels[ic]}</b> is nearest to:<ol>{rows}</ol>"

    def _group_colours(self) -> tuple[list[str], dict]:
        """Each point's group ("points" without groups) and each group's colour."""
        groups = self.groups or ["points"] * len(self.labels)
        return groups, theme.group_colours(groups)

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


class EmbeddingSpace3D(_WordPoints):
    """3D PCA scatter of ``vectors`` [N, D] with ``labels`` (N strings) and optional ``groups``.

    ``analogies=True`` puts a - b + c pickers under the live view; views that are not about word
    arithmetic (``contextual`` paths) leave them out. ``analogy()`` works either way.

    Methods: ``analogy(a, b, c, k=5)`` -> [(label, cosine)], ``figure()``, ``contextual(...)``.
    Attributes: ``explained_variance`` (3 fractions), ``variance_kept`` (their sum), ``coords`` [N, 3].
    """

    def __init__(self, vectors, labels, groups=None, *, title: str = "Embedding space", analogies: bool = True):
        super().__init__(vectors, labels, groups, title, analogies)
        self.coords, self._axes, self._mean, self.explained_variance = pca(self.vectors)
        self.variance_kept = float(self.explained_variance.sum())
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
                       else require_strings(step_labels, "step_labels", "strings, one per step", "['embed', 'block 0']"))
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

    def _screen(self, points: np.ndarray) -> np.ndarray:
        """3D ``points`` [..., 3] -> [..., 2] where ``CAMERA`` shows them (1 = a side of the cube), with the
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
        """[M, 2] places on screen that labels keep clear of: a row of marks along every line (a path's
        steps, the analogy's arrows) and the a - b + c diamond."""
        segments = [(self._screen(start) * CUBE_PX, self._screen(end) * CUBE_PX) for start, end in self._lines()]
        marks = [_along(segments) / CUBE_PX]
        if self._analogy is not None:
            marks.append(self._screen(self._arrows()[1][1])[None])
        return np.concatenate(marks)

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
        groups, colours = self._group_colours()
        shown = self._shown_labels()
        positions = label_positions(self._screen(self.coords), shown, self._marks())
        for name, colour in colours.items():
            idx = [i for i, g in enumerate(groups) if g == name]
            traces.append(dict(
                type="scatter3d", x=self.coords[idx, 0], y=self.coords[idx, 1], z=self.coords[idx, 2],
                mode="lines+markers+text" if self._steps else "markers+text", name=name,
                text=[shown[i] for i in idx], textposition=[positions[i] for i in idx],
                textfont=dict(size=LABEL_FONT, color=colour), customdata=[self.labels[i] for i in idx],
                marker=dict(size=5, color=colour), line=dict(color=colour, width=4),
                hovertemplate="%{customdata}<extra>" + name + "</extra>",
            ))  # fmt: skip
        if self._analogy is not None:
            traces += self._analogy_traces()
        ev = self.explained_variance
        axis = lambda i: dict(title=dict(text=f"PC{i + 1} ({100 * ev[i]:.1f}%)"))  # noqa: E731
        scene = dict(xaxis=axis(0), yaxis=axis(1), zaxis=axis(2), aspectmode="cube", camera=CAMERA,
                     domain=dict(x=[0, 0.84], y=[0, 1]))  # the legend has the right-hand side to itself
        return make_figure(traces, dict(
            title=dict(text=f"{self.title}: PCA to 3D keeps {100 * self.variance_kept:.1f}% of the variance"),
            height=620, scene=scene, margin=dict(l=10, r=0, b=0), legend=dict(x=0.84, xanchor="left", y=1),
            # the figure's camera is the same each time, so Plotly.react keeps the one the learner rotated to
            uirevision="keep",
        ))  # fmt: skip

    def _analogy_traces(self) -> list[dict]:
        """The arrows b -> a and c -> a - b + c (a line and a cone each), the a - b + c diamond and a ring
        round each nearest word."""
        traces = []
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
        return traces


class AnalogyPlane(_WordPoints):
    """a - b + c drawn in the plane of its two offsets: ``vectors`` [N, D], ``labels``, the words a, b, c.

    Across: the unit vector from b to c (e.g. man -> woman). Up: the part of b -> a (man -> king) at right
    angles to it. b is the origin; a, b, c and a - b + c lie in this plane exactly, at the corners of a
    parallelogram, and every other word is drawn where it projects onto it (hover says how far off the
    plane it is). The nearest words by cosine (in all D dimensions) are ringed.

    ``analogy(a, b, c, k)`` draws another analogy; ``found`` is the last one's [(label, cosine)];
    ``coords`` [N, 2] and ``off_plane`` [N] what is drawn.
    """

    def __init__(self, vectors, labels, a: str, b: str, c: str, groups=None, *, k: int = 5,
                 title: str = "Analogy plane", analogies: bool = True):  # fmt: skip
        super().__init__(vectors, labels, groups, title, analogies)
        self.found = self.analogy(a, b, c, k)

    def __repr__(self) -> str:
        ia, ib, ic = self._analogy[:3]
        words = f"{self.labels[ia]!r} - {self.labels[ib]!r} + {self.labels[ic]!r}"
        return f"AnalogyPlane({words}, points={len(self.labels)}, dim={self.vectors.shape[1]})"

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """Draw the plane of a, b, c instead; returns (and keeps in ``found``) the nearest labels by cosine."""
        self.found = super().analogy(a, b, c, k)
        return self.found

    def _require_analogy(self, ia: int, ib: int, ic: int) -> None:
        self._plane(ia, ib, ic)  # raises when the two offsets span no plane

    def _plane(self, ia: int, ib: int, ic: int) -> np.ndarray:
        """[2, D] orthonormal: across = b -> c, up = the part of b -> a at right angles to it."""
        x = self.vectors.astype(np.float64)
        across, towards_a = x[ic] - x[ib], x[ia] - x[ib]
        scale = max(float(np.abs(x).max()), 1e-30)
        if np.linalg.norm(across) <= 1e-6 * scale:
            raise ValueError(f"{self.labels[ib]!r} and {self.labels[ic]!r} have the same vector: b -> c gives no direction")
        across /= np.linalg.norm(across)
        up = towards_a - (towards_a @ across) * across
        if np.linalg.norm(up) <= 1e-6 * scale:
            raise ValueError(f"{self.labels[ib]!r} -> {self.labels[ia]!r} runs along {self.labels[ib]!r} -> "
                             f"{self.labels[ic]!r}: the two offsets span no plane to draw")  # fmt: skip
        return np.stack([across, up / np.linalg.norm(up)])

    @property
    def coords(self) -> np.ndarray:
        """[N, 2] every vector in the plane's coordinates, b at (0, 0)."""
        ia, ib, ic = self._analogy[:3]
        return (self.vectors.astype(np.float64) - self.vectors[ib]) @ self._plane(ia, ib, ic).T

    @property
    def off_plane(self) -> np.ndarray:
        """[N] each vector's distance from the plane (0 for a, b, c): what the picture cannot show."""
        ia, ib, ic = self._analogy[:3]
        rel = self.vectors.astype(np.float64) - self.vectors[ib]
        return np.linalg.norm(rel - self.coords @ self._plane(ia, ib, ic), axis=1)

    def figure(self) -> go.Figure:
        ia, ib, ic, _, near = self._analogy
        a, b, c = (self.labels[i] for i in (ia, ib, ic))
        p, off = self.coords, self.off_plane
        target = p[ia] + p[ic] - p[ib]  # a - b + c: exactly in the plane
        lo, hi = np.minimum(p.min(0), target), np.maximum(p.max(0), target)
        span = np.where(hi > lo, hi - lo, 1.0)
        arrows = ((p[ib], p[ia], f"{b} -> {a}"), (p[ic], target, f"{c} -> {a} - {b} + {c}"))
        to_px = lambda q: (q - lo) / span * np.array([700.0, 420.0])  # noqa: E731  (the plot area, about)
        positions = label_positions(to_px(p), self.labels, _along([(to_px(s), to_px(e)) for s, e, _ in arrows]), px=1.0)
        traces = []
        groups, colours = self._group_colours()
        for name, colour in colours.items():
            idx = [i for i, g in enumerate(groups) if g == name]
            traces.append(dict(
                type="scatter", x=p[idx, 0], y=p[idx, 1], mode="markers+text", name=name,
                text=[self.labels[i] for i in idx], textposition=[positions[i] for i in idx],
                textfont=dict(size=12, color=colour), marker=dict(size=9, color=colour),
                customdata=np.round(off[idx], 3),
                hovertemplate="%{text}<br>off the plane: %{customdata}<extra>" + name + "</extra>",
            ))  # fmt: skip
        for start, end, label in arrows:
            traces.append(dict(type="scatter", x=[start[0], end[0]], y=[start[1], end[1]], mode="lines+markers", name=label,
                               line=dict(color=theme.ARROW, width=3), hoverinfo="skip",
                               marker=dict(symbol="arrow", angleref="previous", size=[0, 16], color=theme.ARROW,
                                           line=dict(width=0))))  # fmt: skip
        traces.append(dict(type="scatter", x=[target[0]], y=[target[1]], mode="markers", name=f"{a} - {b} + {c}",
                           marker=dict(size=12, color=theme.ARROW, symbol="diamond"), hoverinfo="name"))  # fmt: skip
        traces.append(dict(type="scatter", x=p[near, 0], y=p[near, 1], mode="markers", name="nearest (cosine)",
                           marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color=theme.ARROW, width=2)),
                           hoverinfo="skip"))  # fmt: skip
        pad = 0.12 * span
        return make_figure(traces, dict(
            title=dict(text=f"{self.title}: the plane of {b} -> {c} and {b} -> {a}"),
            height=560, legend=dict(x=1.0, xanchor="left", y=1),
            xaxis=dict(title=dict(text=f"along {b} -> {c}"), range=[lo[0] - pad[0], hi[0] + pad[0]], zeroline=True),
            yaxis=dict(title=dict(text=f"along the part of {b} -> {a} at right angles to it"),
                       range=[lo[1] - pad[1], hi[1] + pad[1]], zeroline=True),
            margin=dict(r=10),
        ))  # fmt: skip
