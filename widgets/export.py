"""Export an executed notebook to one HTML file that shows every figure offline.

    python -m widgets.export notebook.ipynb [out.html]

nbconvert's HTML exporter prefers the widget-view output, which needs the ipywidgets HTML
manager from a CDN (unpkg) and is blank without network. Every view's output also carries a
picture (``image/png``, see ``widgets.picture``), so exporting with the picture ahead of the widget
view gives a page that works offline, by e-mail, on a projector PC and printed to PDF. The saved
widget state, useless without the live manager, is left out of the page.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from pathlib import Path

PICTURE_FIRST = [
    "image/png",
    "image/jpeg",
    "text/html",
    "image/svg+xml",
    "text/markdown",
    "text/latex",
    "application/vnd.jupyter.widget-view+json",
    "application/javascript",
    "text/plain",
]


def to_html(notebook, output_path) -> Path:
    """Write ``notebook`` (a path or an nbformat node, already executed) as offline HTML."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    if not hasattr(notebook, "cells"):
        notebook = nbformat.read(os.fspath(notebook), as_version=4)
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)
    exporter = HTMLExporter(config=Config({"NbConvertBase": {"display_data_priority": PICTURE_FIRST}}))
    body, _ = exporter.from_notebook_node(notebook)
    output_path = Path(output_path)
    # atomic write: a half-written page never replaces a good one
    with tempfile.NamedTemporaryFile("w", dir=output_path.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
        f.write(body)
    os.chmod(f.name, 0o644)  # a temp file is 0600; a web page is for reading
    os.replace(f.name, output_path)
    return output_path


def main(argv=None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        raise SystemExit("usage: python -m widgets.export notebook.ipynb [out.html]")
    source = Path(args[0])
    if not source.is_file():
        raise SystemExit(f"{source} not found; pass an executed .ipynb")
    out = to_html(source, args[1] if len(args) == 2 else source.with_suffix(".html"))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
