"""One shared theme: head colours, colour scales and the plotly layout every view uses.

Head ``h`` has the same colour in every view (model grid labels, head heatmap title, the lines
of the text view, the legend), so a learner can follow one head across the screen.
"""

from __future__ import annotations

import colorsys

import plotly.graph_objects as go

MAX_DISTINCT_HEADS = 32


def _head_palette(n: int) -> list[str]:
    """``n`` distinct colours: hues spread by the golden angle, lightness alternating in 4 steps.

    Consecutive heads get far-apart hues, and colours 16 apart differ in lightness, so all 32
    stay distinguishable (bertviz repeats after 10).
    """
    colours = []
    for i in range(n):
        hue = (i * 0.61803398875) % 1.0
        lightness = (0.42, 0.58, 0.34, 0.66)[(i // 8) % 4]
        r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.75)
        colours.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return colours


HEAD_COLOURS: list[str] = _head_palette(MAX_DISTINCT_HEADS)

PRIMARY = "#1f77b4"  # "kept" / neutral data (sampling survivors)
ACCENT = "#d62728"  # the current selection (query token, chosen head)
MUTED = "#b0b0b0"  # filtered-out tokens, masked regions
# Analogy arrows: a neutral dark grey, which no group takes (every palette colour is saturated,
# and the first one is the red of the first group).
ARROW = "#333333"
SEQUENTIAL = "Viridis"  # attention weights, probabilities
DIVERGING = "RdBu_r"  # differences (compare mode), signed values
FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)

# A live pane's mode bar (plotly's buttons, 22 px high, 2 px from the top, ~250 px wide) floats over
# the top right of the figure. Every title goes left and below that strip, so no button hides it.
MODEBAR_PX = 32
TITLE_PX = 30  # one title line (1.4 x the font size) and a gap above the plot
TOP_MARGIN = MODEBAR_PX + TITLE_PX  # the plot starts under the title
SUBPLOT_TOP_MARGIN = TOP_MARGIN + 24  # room for the first row's subplot titles too


def head_colour(head: int) -> str:
    """The colour of head ``head`` (cycles after 32 heads, which no course model reaches)."""
    return HEAD_COLOURS[head % MAX_DISTINCT_HEADS]


def group_colours(groups) -> dict:
    """Map each distinct group name (in first-seen order) to a palette colour."""
    names = list(dict.fromkeys(groups))
    return {name: head_colour(i) for i, name in enumerate(names)}


def rgba(hex_colour: str, alpha: float) -> str:
    """``#rrggbb`` + opacity -> ``rgba(...)`` string for plotly."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.3f})"


# A small explicit template instead of plotly's default one: it keeps every figure's JSON a few
# KB smaller (the default template is ~8 KB per figure) and makes all views look alike.
TEMPLATE = go.layout.Template(
    layout=dict(
        font=FONT,
        paper_bgcolor="white",
        plot_bgcolor="white",
        title=dict(x=0, xref="paper", xanchor="left", y=1, yref="container", yanchor="top", pad=dict(t=MODEBAR_PX)),
        margin=dict(l=60, r=20, t=TOP_MARGIN, b=40),
        colorway=HEAD_COLOURS,
        hoverlabel=dict(font=dict(size=13)),
        xaxis=dict(gridcolor="#eeeeee", zeroline=False),
        yaxis=dict(gridcolor="#eeeeee", zeroline=False),
    )
)
