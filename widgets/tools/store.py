"""Run notebooks and store them the way the course keeps them: readable with no kernel at all.

    MINIGPT_SCALE=ci python -m widgets.tools.store notebooks/03_attention.ipynb [more.ipynb ...]

A stored notebook is mostly read where no kernel runs: GitHub, nbviewer, JupyterLab before a cell
runs (the notebook is untrusted), an HTML or PDF export. So, after running it top to bottom:

* each view's output keeps its picture (``image/png``) and its one-line ``text/plain``, and drops the
  ``widget-view`` reference. That reference points at a widget model that lives only as long as the
  kernel that made it; a trusted notebook would show "Error displaying widget: model not found"
  in place of the picture. Running the cell brings the live view back.
* no saved widget state (``metadata.widgets``) and no per-cell execution timings, which would
  change on every run;
* the kernelspec JupyterLab writes when it starts the kernel ("Python 3 (ipykernel)"), so merely
  opening the notebook does not mark it modified.

A view output that ends up with no picture (no Chrome/Chromium here for kaleido) is an error:
the stored notebook would show nothing where the figure belongs. Every notebook named is read and
its folder checked for writing before the first one runs: a missing file, a file that is not a
notebook or a folder that cannot be written is one line on stderr and status 1, minutes earlier.
"""

from __future__ import annotations

import sys
from pathlib import Path

from widgets.picture import HOW_TO_TURN_ON, browser_problem, find_browser

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def normalize(nb, display_name: str) -> list[str]:
    """Put an executed notebook node in stored form, in place; return a problem per view output without a picture."""
    nb.metadata.pop("widgets", None)
    nb.metadata.setdefault("kernelspec", {})["display_name"] = display_name
    problems = []
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if "image/png" not in data:
                    problems.append(f"cell {index}: {data.get('text/plain', 'a view')} has no picture")
    return problems


def checked(path):
    """The notebook at ``path``, once it is known that its stored form can be written back in its place:
    an error (OSError, ValueError) that says what is wrong, before any time is spent running it."""
    from minigpt.course.editions import read_notebook
    from minigpt.files import require_writable

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; pass a .ipynb file")
    notebook = read_notebook(path)
    require_writable(path)
    return notebook


def store(path, timeout: int = 900) -> Path:
    """Execute ``path`` in its own folder with the ``python3`` kernel and write it back in stored form."""
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    from minigpt.course.editions import write_notebook

    path = Path(path)
    nb = checked(path)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False, store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    problems = normalize(nb, KernelSpecManager().get_kernel_spec("python3").display_name)
    if problems:
        raise RuntimeError(f"{path.name}: " + "; ".join(problems) + f" ({HOW_TO_TURN_ON})")
    return write_notebook(nb, path, path.stat().st_mode & 0o777)  # atomic: a failed write leaves it as it was


def main(argv=None) -> None:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        raise SystemExit("usage: MINIGPT_SCALE=ci python -m widgets.tools.store notebook.ipynb [more.ipynb ...]")
    try:
        for path in paths:  # all of them first: a typo in the last one is found before the first runs
            checked(path)
        no_pictures = browser_problem(find_browser())
        if no_pictures:  # the stored notebook would show nothing where its figures belong: say so before running
            raise RuntimeError(f"no pictures can be drawn here: {no_pictures}; {HOW_TO_TURN_ON}")
        for path in paths:
            print(f"stored {store(path)}")
    except (ValueError, OSError, RuntimeError) as error:
        raise SystemExit(f"widgets.tools.store: error: {error}") from None


if __name__ == "__main__":
    main()
