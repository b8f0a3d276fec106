"""The solutions edition runs top to bottom and every check in it says PASS.

The edition is generated from the learner notebooks (minigpt.course.editions): each exercise holds its solution
and each check cell ends with a hidden test that asserts the check says PASS. Each notebook runs with another seed
and torch's kernels for another CPU, in nbval's lax mode, which checks the notebooks' asserts and not the stored
digits. One test per notebook, each in a child pytest, so that the processes of ``pytest -n N`` share them out
(conftest.py hands them out first, one by one, since together they are the longest part of the suite)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minigpt.course import editions

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
EDITION = REPO / "build" / "solutions"  # under the repository, so that its conftest.py sets up the kernels


def other_cpu_kernels() -> str:
    """An ``ATEN_CPU_CAPABILITY`` for torch's kernels of a CPU unlike this one, whose sums round differently: the
    AVX2 kernels where this CPU runs the AVX-512 ones (a learner's laptop, and as fast), else the non-vectorised
    ones (the slowest, about 1.5 times)."""
    return "avx2" if torch.backends.cpu.get_cpu_capability() == "AVX512" else "default"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_check_of_the_solutions_edition_says_pass(notebook):
    (solved,) = editions.write_solutions(REPO / "notebooks", EDITION, only=[notebook.name])
    env = dict(os.environ, MINIGPT_SCALE="ci", MINIGPT_SEED="1", ATEN_CPU_CAPABILITY=other_cpu_kernels())
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
         "--durations=3", str(solved)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert run.returncode == 0, f"{solved.name} failed:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert " passed" in run.stdout and " failed" not in run.stdout
