"""The base class of every view: a live widget plus a static fallback in one output bundle."""

from __future__ import annotations

import ipywidgets as W

from ._plotly import static_html


class View:
    """Subclasses build ``self.widget`` (an ipywidgets layout) and implement ``figures()``.

    Displaying a view gives one output with three representations:

    * ``application/vnd.jupyter.widget-view+json`` - the live, clickable widget (JupyterLab);
    * ``text/html`` - the current figures drawn by an offline plotly.js (nbconvert HTML, nbviewer
      with a text/html-first priority, e-mail attachments);
    * ``text/plain`` - a stable one-line summary without memory addresses (nbval compares it).
    """

    widget: W.Widget

    def figures(self) -> list:
        """The plotly figures showing the current state (static export, tests)."""
        raise NotImplementedError

    def static_html(self) -> str:
        return static_html(self.figures(), title=repr(self))

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_()
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = repr(self)
        return bundle

    def display(self) -> None:
        """Show the view (same as leaving it as the last expression of a cell)."""
        from IPython.display import display

        display(self)
