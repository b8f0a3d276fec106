"""The stored notebooks are readable where no kernel runs: every figure has a picture, and the
file is in the form JupyterLab writes (see widgets/tools/store.py). No browser needed: the file is read."""

import base64
import re
from pathlib import Path

import nbformat
import pytest

import widgets
from widgets.tools.store import WIDGET_VIEW, normalize

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# a view's text/plain line starts with its class name: AttentionView(...), FigureView(...), ...
VIEW_LINE = re.compile(rf"^({'|'.join(widgets.__all__)})\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_view_and_plotly_figure_in_a_stored_notebook_has_a_picture(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            where = f"{path.name} cell {index}"
            assert "application/vnd.plotly.v1+json" not in data, f"{where}: fig.show() stores no picture; use FigureView(fig)"
            assert WIDGET_VIEW not in data, f"{where}: a widget-view reference is 'model not found' once reopened"
            if VIEW_LINE.match(data.get("text/plain", "")):
                png = base64.b64decode(data.get("image/png", ""))
                assert png.startswith(b"\x89PNG") and len(png) > 2_000, f"{where}: {data['text/plain']} has no picture"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebooks_are_in_the_form_jupyterlab_writes(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.display_name == "Python 3 (ipykernel)"  # else Lab rewrites it on open: "modified"
    assert "widgets" not in nb.metadata
    assert not [i for i, c in enumerate(nb.cells) if "execution" in c.metadata], "per-cell timings change every run"
    assert path.read_text(encoding="utf-8") == nbformat.writes(nb) + "\n"  # nbformat's own layout, as the server saves


def test_store_drops_the_widget_reference_and_names_a_view_without_picture():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}, "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    view = {"text/plain": "AttentionView(layers=1, heads=1, tokens=2)", WIDGET_VIEW: {"model_id": "abc"}}
    nb.cells = [nbformat.v4.new_code_cell("v", metadata={"execution": {"iopub.status.idle": "now"}}, outputs=[
        nbformat.v4.new_output("execute_result", data=dict(view, **{"image/png": "iVBORw0KGgo="})),
        nbformat.v4.new_output("display_data", data=dict(view)),
    ])]  # fmt: skip
    problems = normalize(nb, "Python 3 (ipykernel)")
    assert problems == ["cell 0: AttentionView(layers=1, heads=1, tokens=2) has no picture"]
    assert all(WIDGET_VIEW not in out.data for out in nb.cells[0].outputs)
    assert "widgets" not in nb.metadata and "execution" not in nb.cells[0].metadata
    assert nb.metadata.kernelspec.display_name == "Python 3 (ipykernel)"


def test_the_stored_course_stays_small_enough_to_clone_and_render_on_github():
    # what the repository holds there; a learner's checkpoints/ (notebook 14 writes one) are git-ignored
    stored = [p for p in NOTEBOOKS[0].parent.glob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in stored)
    assert total <= 20e6, f"notebooks/ holds {total / 1e6:.1f} MB; the limit is 20 MB"
