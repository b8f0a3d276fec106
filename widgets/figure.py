"""``FigureView(fig)``: any plotly figure shown the course's way, instead of ``fig.show()``.

``fig.show()`` stores only plotly's JSON, which GitHub, an untrusted notebook and an offline
export cannot draw. A ``FigureView`` is a live pane in JupyterLab and carries a picture everywhere else.
"""

from __future__ import annotations

from ._base import View
from ._plotly import PlotlyPane


class FigureView(View):
    """One plotly ``go.Figure`` as a view; ``figures()`` is ``[fig]``."""

    def __init__(self, fig):
        if not hasattr(fig, "to_plotly_json"):
            raise TypeError(f"FigureView needs a plotly go.Figure; got {type(fig).__name__}")
        self.fig = fig

    def _build_widget(self) -> PlotlyPane:
        pane = PlotlyPane(self.fig)
        pane.add_class("minigpt-figure-view")
        return pane

    def figures(self) -> list:
        return [self.fig]

    def __repr__(self) -> str:
        title = self.fig.layout.title.text
        return f"FigureView({title!r})" if title else "FigureView()"
