"""``FigureView(fig)``: any plotly figure shown the course's way, instead of ``fig.show()``.

``fig.show()`` stores only plotly's JSON, which GitHub, an untrusted notebook and an offline
export cannot draw. A ``FigureView`` is a live pane in JupyterLab and carries a picture everywhere else.
It shows a copy of the figure laid out so that nothing overlaps (``fitted``).
"""

from __future__ import annotations

import plotly.graph_objects as go

from . import theme
from ._base import View
from ._plotly import PlotlyPane


def _is_subplot_title(annotation) -> bool:
    """An annotation on the top edge of the plot area, as ``make_subplots(subplot_titles=...)`` places them."""
    return annotation.yref == "paper" and annotation.yanchor == "bottom" and (annotation.y or 0) >= 0.999


def fitted(fig) -> go.Figure:
    """A copy of ``fig`` where nothing overlaps, whatever margins the figure asked for.

    * every axis grows the margin on its side to hold its tick labels and its title (plotly's ``automargin``):
      long category names ("because") no longer run into the axis title, nor tick labels off a small margin;
    * a figure title above subplot titles gets the room of both (the title sits in the top margin, and the
      first row's subplot titles stand on the plot area's top edge, in the same margin).
    """
    fig = go.Figure(fig)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    if fig.layout.title.text and any(_is_subplot_title(a) for a in fig.layout.annotations):
        fig.update_layout(margin_t=max(fig.layout.margin.t or 0, theme.SUBPLOT_TOP_MARGIN))
    return fig


class FigureView(View):
    """One plotly ``go.Figure`` as a view; ``figures()`` is ``[fig]``, the ``fitted`` copy of the one given."""

    def __init__(self, fig):
        if not hasattr(fig, "to_plotly_json"):
            raise TypeError(f"FigureView needs a plotly go.Figure; got {type(fig).__name__}")
        self.fig = fitted(fig)

    def _build_widget(self) -> PlotlyPane:
        pane = PlotlyPane(self.fig)
        pane.add_class("minigpt-figure-view")
        return pane

    def figures(self) -> list:
        return [self.fig]

    def __repr__(self) -> str:
        title = self.fig.layout.title.text
        return f"FigureView({title!r})" if title else "FigureView()"
