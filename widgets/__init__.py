"""Interactive views for the minigpt course: one line each in a notebook.

    from widgets import AttentionView
    AttentionView(tokens, weights)                     # weights [L, H, T, T], numpy or torch
    AttentionView.from_model(model, tokenizer, text)   # through minigpt.capture

Every view is a live ipywidget in JupyterLab and carries a static plotly picture for exported
HTML (no network needed). Imports only numpy, plotly, ipywidgets and anywidget; never torch.
"""

from .attention import AttentionView
from .dashboard import TrainingDashboard
from .embedding import EmbeddingSpace3D
from .positional import PositionalEncodingView
from .sampling import SamplingExplorer
from .tokens import TokenView

__all__ = [
    "AttentionView",
    "EmbeddingSpace3D",
    "PositionalEncodingView",
    "SamplingExplorer",
    "TokenView",
    "TrainingDashboard",
]
