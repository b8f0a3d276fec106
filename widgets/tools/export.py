"""Export an executed notebook to one HTML file that shows every figure offline.

    python -m widgets.tools.export notebook.ipynb [out.html]

nbconvert's HTML exporter prefers the widget-view output, which needs the ipywidgets HTML
manager from a CDN (unpkg) and is blank without network. Every view's output also carries a
picture (``image/png``, see ``widgets.picture``), so exporting with the picture ahead of the widget
view gives a page that works offline, by e-mail, on a projector PC and printed to PDF. The saved
widget state, useless without the live manager, is left out of the page.

Formulas in the text (``$\\ln 65$``, ``$$...$$``, ``\\begin{align}...``) would need MathJax, another CDN
script; they are converted to MathML instead (``latex2mathml``), which browsers draw themselves. A formula
that cannot be converted stays as its TeX text, with a warning naming it.

A problem (no such notebook, a file that is not one, an output that cannot be written, an output that
would overwrite a notebook) is one line on stderr and status 1, found before any work is done.
"""

from __future__ import annotations

import copy
import functools
import sys
import warnings
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


def mathml(tex: str, display: bool) -> str | None:
    """``tex`` as a MathML element (``display``: a block of its own), or None when it cannot be converted."""
    from latex2mathml.converter import convert

    try:
        return convert(tex, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises its own errors, and others on unbalanced input
        warnings.warn(f"formula kept as TeX text ({type(error).__name__}: {error}): {tex}", stacklevel=2)
        return None


@functools.lru_cache(maxsize=1)
def exporter_class():
    """nbconvert's HTMLExporter with MathML for formulas (built on first use: nbconvert takes a second to import)."""
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class MathMLRenderer(IPythonRenderer):
        """nbconvert's markdown renderer, with MathML where it leaves TeX for MathJax."""

        def block_math(self, body: str) -> str:
            return mathml(body, display=True) or super().block_math(body)

        def inline_math(self, body: str) -> str:
            return mathml(body, display=False) or super().inline_math(body)

        def latex_environment(self, name: str, body: str) -> str:
            tex = f"\\begin{{{name}}}{body}\\end{{{name}}}"
            return mathml(tex, display=True) or super().latex_environment(name, body)

    class OfflineHTMLExporter(HTMLExporter):
        """Markdown cells rendered as HTMLExporter.markdown2html does, by ``MathMLRenderer``."""

        @pass_context
        def markdown2html(self, context, source):
            cell, resources = context.get("cell", {}), context.get("resources", {})
            path = resources.get("metadata", {}).get("path", "")
            renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}),
                                      embed_images=self.embed_images, path=path,
                                      anchor_link_text=self.anchor_link_text,
                                      exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)  # fmt: skip
            return MarkdownWithMath(renderer=renderer).render(source)

    return OfflineHTMLExporter


def to_html(notebook, output_path) -> Path:
    """Write ``notebook`` (a path or an nbformat node, already executed) as offline HTML."""
    from traitlets.config import Config

    from minigpt.course.editions import read_notebook
    from minigpt.files import atomic_write

    if not hasattr(notebook, "cells"):
        notebook = read_notebook(notebook)
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)
    exporter = exporter_class()(config=Config({"NbConvertBase": {"display_data_priority": PICTURE_FIRST}}))
    body, _ = exporter.from_notebook_node(notebook)
    with atomic_write(output_path, permissions=0o644) as f:  # a web page is for reading
        f.write(body)
    return Path(output_path)


def output_for(source: Path, out: str | None) -> Path:
    """Where the page of ``source`` goes: ``out``, or beside the notebook as .html. A ValueError for an
    output that would overwrite a notebook (the notebook itself, or any ``.ipynb``) with HTML."""
    path = source.with_suffix(".html") if out is None else Path(out)
    if path.suffix.lower() == ".ipynb" or path.resolve() == source.resolve():
        raise ValueError(f"{path} would overwrite a notebook with HTML; give an .html file, e.g. "
                         f"{source.with_suffix('.html')}")
    return path


def main(argv=None) -> None:
    from minigpt.files import require_writable

    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        raise SystemExit("usage: python -m widgets.tools.export notebook.ipynb [out.html]")
    source = Path(args[0])
    try:
        if not source.is_file():
            raise FileNotFoundError(f"{source} not found; pass an executed .ipynb")
        out = output_for(source, args[1] if len(args) == 2 else None)
        require_writable(out)  # before the conversion, which takes seconds
        to_html(source, out)
    except (ValueError, OSError) as error:
        raise SystemExit(f"widgets.tools.export: error: {error}") from None
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
