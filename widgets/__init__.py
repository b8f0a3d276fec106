"""Interactive views for the minigpt course: one line each in a notebook.

    from widgets import AttentionView
    AttentionView(tokens, weights)                     # weights [L, H, T, T], numpy or torch
    AttentionView.from_model(model, tokenizer, text)   # through minigpt.capture

Every view is a live ipywidget in JupyterLab and carries a PNG picture of itself for every other
reader (an untrusted notebook, GitHub, HTML and PDF exports); see ``widgets.picture``.
Imports only numpy, plotly, ipywidgets and anywidget (kaleido and Pillow for pictures); never torch.
"""

from .attention import AttentionView
from .dashboard import TrainingDashboard
from .embedding import EmbeddingSpace3D
from .figure import FigureView
from .positional import PositionalEncodingView
from .sampling import SamplingExplorer
from .tokens import TokenView

__all__ = [
    "AttentionView",
    "EmbeddingSpace3D",
    "FigureView",
    "PositionalEncodingView",
    "SamplingExplorer",
    "TokenView",
    "TrainingDashboard",
]
