"""Interactive views for the minigpt course: one line each in a notebook.

    from widgets import AttentionView
    AttentionView(tokens, weights)                     # weights [L, H, T, T], numpy or torch
    AttentionView.from_model(model, tokenizer, text)   # through minigpt.capture

Every view is a live ipywidget in JupyterLab and carries a PNG picture of itself for every other
reader (an untrusted notebook, GitHub, HTML and PDF exports); see ``widgets.picture``.
Imports only numpy, plotly, ipywidgets and anywidget (kaleido and Pillow for pictures), and ``minigpt.arguments``
for the checks of its arguments; never torch.
"""

try:
    import anywidget  # noqa: F401
    import ipywidgets  # noqa: F401
    import plotly  # noqa: F401
except ImportError as missing:  # the core install (pip install minigpt-course) trains and samples without views
    # the import's own words too: a package that is installed but fails to import needs another fix
    raise ImportError(f"the views need {missing.name}, which comes with the views extra: "
                      "pip install 'minigpt-course[views]' (or the course's pip install -r requirements.txt); "
                      f"the import said: {missing}") from None

from .attention import AttentionView  # noqa: E402
from .dashboard import TrainingDashboard  # noqa: E402
from .embedding import AnalogyPlane, EmbeddingSpace3D  # noqa: E402
from .figure import FigureView  # noqa: E402
from .positional import PositionalEncodingView  # noqa: E402
from .sampling import SamplingExplorer  # noqa: E402
from .tokens import TokenView  # noqa: E402

__all__ = [
    "AnalogyPlane",
    "AttentionView",
    "EmbeddingSpace3D",
    "FigureView",
    "PositionalEncodingView",
    "SamplingExplorer",
    "TokenView",
    "TrainingDashboard",
]
