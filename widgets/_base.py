"""The base class of every view: a live widget plus a picture of it in one output bundle."""

from __future__ import annotations

import html
from pathlib import Path

import anywidget
import ipywidgets as W
import traitlets

from .picture import announce_once, png_b64


class RunHint(anywidget.AnyWidget):
    """One grey line above a view that was drawn from saved widget state, with no kernel behind it.

    JupyterLab saves the state of every widget with the notebook (the course turns its "save widget
    state" setting on), so a notebook reopened with a new kernel draws each view as it was, but its
    controls answer nothing until the cell runs again. A live view shows no line.
    """

    _esm = Path(__file__).with_name("run_hint.js")
    ref = traitlets.Unicode("").tag(sync=True)

    def __init__(self):
        super().__init__()
        self.ref = self.model_id  # known once the comm is open


class View:
    """Subclasses implement ``_build_widget()`` (the live ipywidgets layout) and ``figures()``.

    Displaying a view gives one output with three representations:

    * ``application/vnd.jupyter.widget-view+json`` - the live, clickable widget (JupyterLab and
      Notebook 7 with a kernel; a trusted notebook reopened later draws it from the saved state);
    * ``image/png`` - a picture of ``figures()`` (see ``widgets.picture``): what an untrusted notebook,
      GitHub, nbviewer and HTML/PDF exports show. Left out where no browser can draw it;
    * ``text/plain`` - a stable one-line summary without memory addresses (nbval compares it).
    """

    _widget = None  # built on first use: a view used only for its figures or its picture never needs one
    _shown = None

    @property
    def widget(self) -> W.Widget:
        """The live widget, built the first time it is asked for. Until then the view has no panes to keep up
        to date: a change of state redraws them only ``if self._widget is not None``."""
        if self._widget is None:
            self._widget = self._build_widget()
        return self._widget

    def _build_widget(self) -> W.Widget:
        """The live widget of the current state (called once, by ``widget``)."""
        raise NotImplementedError

    def figures(self) -> list:
        """The plotly figures showing the current state (the picture, tests)."""
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None):
        picture = png_b64(self.figures())
        if self._shown is None:
            # The first view of a kernel with no pictures says why, in a line of the live widget: a printed
            # message would be an extra output, which the stored notebooks do not have.
            note = announce_once()
            lines = [RunHint()] + ([W.HTML(f'<span style="color:#a33">{html.escape(note, quote=False)}</span>')] if note else [])
            self._shown = W.VBox([*lines, self.widget], layout=W.Layout(width="100%"))
            self._shown.add_class("minigpt-view")
        bundle = self._shown._repr_mimebundle_()
        if picture is not None:
            bundle["image/png"] = picture
        bundle["text/plain"] = repr(self)
        return bundle

    def display(self) -> None:
        """Show the view (same as leaving it as the last expression of a cell)."""
        from IPython.display import display

        display(self)
