"""The solutions edition runs top to bottom and every check in it says PASS.

The edition is generated from the learner notebooks (minigpt.course.editions): each exercise holds its solution
and each check cell ends with a hidden test that asserts the check says PASS. It runs with another seed and
torch's non-vectorised kernels (a stand-in for another CPU), in nbval's lax mode, which checks the notebooks'
asserts and not the stored digits. One test for the whole edition: its notebooks run one after the other in a
child pytest, while the rest of the suite runs beside it (conftest.py starts this test first)."""

import os
import subprocess
import sys
from pathlib import Path

from minigpt.course import editions

REPO = Path(__file__).resolve().parent.parent
EDITION = REPO / "build" / "solutions"  # under the repository, so that its conftest.py sets up the kernels


def test_every_check_of_the_solutions_edition_says_pass():
    assert editions.main(["solutions", "--notebooks", str(REPO / "notebooks"), "--out", str(EDITION)]) == 0
    env = dict(os.environ, MINIGPT_SCALE="ci", MINIGPT_SEED="1", ATEN_CPU_CAPABILITY="default")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
         "--durations=5", str(EDITION)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600,
    )
    assert run.returncode == 0, f"the solutions edition failed:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert " passed" in run.stdout and " failed" not in run.stdout
