"""The solutions edition runs top to bottom and every check in it says PASS.

The edition is generated from the learner notebooks (minigpt.course.editions): each exercise holds its solution
and each check cell ends with a hidden test that asserts the check says PASS. Each notebook runs with another seed
(and, on an AVX-512 CPU, torch's AVX2 kernels, as another CPU would) and must run without an error: that checks
the notebooks' asserts, not the stored digits (nbval's lax mode). No cell may fall back on a reference solution:
with every exercise solved, each ``passing_or_reference`` (and notebook 06's GPT made of the learner's pieces, read
from 03 and 05 beside it) says "using your ...". One test per notebook, so that the processes of ``pytest -n N``
share them out (conftest.py hands them out first, since together they are the longest part of the suite).

Its kernels get the test suite's ``kernel_env`` (conftest.py): GPT-2 is never downloaded, and no picture drawn."""

import os
from pathlib import Path

import pytest
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from minigpt.course import editions

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def other_cpu_kernels() -> dict[str, str]:
    """The environment that runs torch's kernels for a CPU unlike this one, whose sums round differently, where that
    costs no time: the AVX2 kernels on a CPU with AVX-512 (a learner's laptop, and as fast). A CPU without AVX-512
    runs its own: the only other kernels are the non-vectorised ones, 1.6 times slower over the whole edition (its
    longest part), so that check is left to ``benchmarks/notebooks.py --matrix``, which runs every notebook on them
    strictly."""
    return {"ATEN_CPU_CAPABILITY": "avx2"} if torch.backends.cpu.get_cpu_capability() == "AVX512" else {}


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    """The whole edition, written once per process into a folder of its own: each notebook runs there, as a
    learner's would beside the others (14 reads the course's prose from them), and what it writes (14's
    checkpoints) stays there."""
    folder = tmp_path_factory.mktemp("solutions")
    editions.write_solutions(REPO / "notebooks", folder)
    return folder


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_check_of_the_solutions_edition_says_pass(notebook, edition, kernel_env):
    solved = editions.read_notebook(edition / notebook.name)
    env = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
    env.update(kernel_env, MINIGPT_SCALE="ci", MINIGPT_SEED="1", **other_cpu_kernels())
    kernels = env.get("ATEN_CPU_CAPABILITY", "native")
    client = NotebookClient(solved, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(edition)}})
    try:
        client.execute(env=env)
    except CellExecutionError as error:  # the cell, and its error: a failed check's assert, or a broken claim
        pytest.fail(f"{notebook.name} (solutions edition, seed 1, {kernels} kernels):\n{error}",
                    pytrace=False)  # fmt: skip
    said = "".join(output.get("text", "") for cell in solved.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.output_type == "stream")
    assert "using the reference" not in said, f"{notebook.name}: a cell fell back on a reference: {said!r}"
