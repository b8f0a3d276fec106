"""The learner and solutions editions come from one source and cannot drift; nbgrader grades them."""

import copy
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from minigpt import editions

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
SOLUTION = """def sinusoidal(T, C):
    position = torch.arange(T, dtype=torch.float32)[:, None]
    inv_freq = 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float32) / C)
    table = torch.zeros(T, C)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table"""


def grader(grade_id, **fields):
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, **fields}}


def learner_notebook():
    """A one-exercise notebook in the learner edition's conventions."""
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    nb.cells = [
        new_code_cell("import torch\nfrom minigpt.exercises.positions import check_sinusoidal"),
        new_code_cell('def sinusoidal(T, C):\n    """[T, C] table of sines and cosines."""\n'
                      "    # YOUR CODE HERE\n    raise NotImplementedError()",
                      metadata=grader("sinusoidal", solution=True, grade=False, locked=False)),
        new_markdown_cell(f"<details><summary>Solution</summary>\n\n```python\n{SOLUTION}\n```\n</details>"),
        new_code_cell("check_sinusoidal(sinusoidal)",
                      metadata=grader("check_sinusoidal", solution=False, grade=True, locked=True, points=2)),
    ]
    return nb


def cleared(nb):
    """What nbgrader's generate_assignment does to the source: solutions and hidden tests removed."""
    nb, _ = ClearSolutions().preprocess(copy.deepcopy(nb), {})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb


def test_the_solution_replaces_the_stub_and_the_check_gets_a_hidden_test():
    solved = editions.solutions_edition(learner_notebook())
    exercise, check = solved.cells[1].source, solved.cells[3].source
    assert "raise NotImplementedError" not in exercise
    assert "    ### BEGIN SOLUTION\n    position = torch.arange" in exercise
    assert exercise.count("def sinusoidal") == 1 and '"""[T, C] table' in exercise
    assert "assert check_sinusoidal(sinusoidal)" in check and check.startswith("check_sinusoidal(sinusoidal)\n")


def test_nbgrader_turns_the_solutions_edition_back_into_the_learner_edition():
    learner = learner_notebook()
    back = cleared(editions.solutions_edition(learner))
    assert [c.source for c in back.cells] == [c.source for c in learner.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_course_notebooks_and_their_solutions_edition_never_drift(path):
    learner = nbformat.read(path, as_version=4)
    back = cleared(editions.solutions_edition(learner))
    assert [c.source for c in back.cells] == [c.source for c in learner.cells]


@pytest.mark.parametrize("broken, message", [
    (lambda nb: setattr(nb.cells[1], "source", "def sinusoidal(T, C):\n    return None"), "no nbgrader stub"),
    (lambda nb: setattr(nb.cells[2], "source", "no solution here"), "Solution"),
    (lambda nb: setattr(nb.cells[3], "source", "check_sinusoidal(sinusoidal)\n# done"), "must end with the check call"),
])
def test_a_notebook_off_the_conventions_is_named(broken, message):
    nb = learner_notebook()
    broken(nb)
    with pytest.raises(editions.EditionError, match=message):
        editions.solutions_edition(nb)


def test_the_command_writes_every_notebook(tmp_path):
    source = tmp_path / "learner"
    source.mkdir()
    nbformat.write(learner_notebook(), source / "demo.ipynb")
    assert editions.main(["solutions", "--notebooks", str(source), "--out", str(tmp_path / "out")]) == 0
    assert "### BEGIN SOLUTION" in (tmp_path / "out" / "demo.ipynb").read_text()
    assert not list((tmp_path / "out").glob("*.tmp"))


def nbgrader(course: Path, *args):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


def test_nbgrader_generates_the_assignment_and_autogrades_an_empty_and_a_solved_submission(tmp_path):
    """A teacher's cycle with nbgrader's own commands: generate, hand out, collect, autograde."""
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'minigpt'\n"
        "c.CourseDirectory.db_assignments = [dict(name='ps1')]\n"
        "c.CourseDirectory.db_students = [dict(id='untouched'), dict(id='solved')]\n")
    learner = learner_notebook()
    source = editions.solutions_edition(learner)
    nbformat.write(source, course / "source" / "ps1" / "demo.ipynb")
    nbgrader(course, "generate_assignment", "ps1")
    released = nbformat.read(course / "release" / "ps1" / "demo.ipynb", as_version=4)
    assert [c.source for c in released.cells] == [c.source for c in learner.cells]

    solved = copy.deepcopy(released)
    solved.cells[1].source = "\n".join(line for line in source.cells[1].source.split("\n") if "### " not in line)
    for student, nb in (("untouched", released), ("solved", solved)):
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / "ps1" / "demo.ipynb")
    nbgrader(course, "autograde", "ps1")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission("ps1", s).score for s in ("untouched", "solved")}
        assert gradebook.find_submission("ps1", "solved").max_score == 2
    assert scores == {"untouched": 0, "solved": 2}
