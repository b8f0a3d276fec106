"""The learner and solutions editions come from one source and cannot drift; nbgrader grades them."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from minigpt.course import editions
from minigpt.course.exercises.solutions import CHECKS

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
        new_code_cell("import torch\nfrom minigpt.course.exercises.positions import check_sinusoidal"),
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


def stored_text(cell) -> str:
    """What a cell shows: its printed text and its value (a bare ``check_x(fn)`` call stores an execute_result)."""
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_is_a_stub_with_a_hidden_solution_and_a_graded_check_that_says_not_yet(path):
    """The learner edition as stored: no answer in an exercise cell, and every check it runs reads NOT YET."""
    nb = nbformat.read(path, as_version=4)
    exercises = [i for i, c in enumerate(nb.cells) if editions.is_exercise(c)]
    checks = [i for i, c in enumerate(nb.cells) if editions.is_check(c)]
    assert exercises and checks, "every notebook has at least one exercise with a graded check"
    ids = [nb.cells[i].metadata["nbgrader"]["grade_id"] for i in exercises + checks]
    assert len(ids) == len(set(ids)), f"grade ids repeat: {ids}"
    for i in exercises:
        lines = nb.cells[i].source.split("\n")
        at, indent = editions.stub_position(lines)
        after = [line for line in lines[at + 2:] if line.strip() and not line.strip().startswith("#")]
        assert not after, f"{ids[exercises.index(i)]}: code after the stub: {after}"
        solution = next(c for c in nb.cells[i + 1:] if c.cell_type == "markdown")
        body = editions.solution_body(lines, at, indent, editions.solution_code(solution.source))
        assert [line for line in body if line.strip() and not line.strip().startswith("#")], "an empty solution"
        following = nb.cells[i + 1:]
        assert any(editions.is_check(c) for c in following[:4]), f"cell {i}: no graded check right after the exercise"
    for i in checks:
        cell = nb.cells[i]
        assert cell.metadata["nbgrader"].get("points", 0) > 0 and cell.metadata["nbgrader"].get("locked")
        call = cell.source.rstrip().split("\n")[-1]
        assert call.split("(")[0] in CHECKS, f"{call!r} is not a registered check"
        assert stored_text(cell).startswith("NOT YET"), f"{call}: stored output {stored_text(cell)[:80]!r}"


def test_the_command_writes_only_the_notebooks_asked_for_and_names_a_wrong_one(tmp_path, capsys):
    source = tmp_path / "learner"
    source.mkdir()
    for name in ("03_attention.ipynb", "04_positions.ipynb"):
        nbformat.write(learner_notebook(), source / name)
    assert editions.main(["solutions", "03", "--notebooks", str(source), "--out", str(tmp_path / "out")]) == 0
    assert [p.name for p in (tmp_path / "out").glob("*.ipynb")] == ["03_attention.ipynb"]
    assert editions.main(["solutions", "3_att", "--notebooks", str(source), "--out", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err
    assert "starts with 3_att; there are: 03_attention, 04_positions" in error


def test_the_notebooks_default_to_the_current_folder_then_the_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no notebooks/ here: the source checkout's
    assert editions.default_notebooks() == Path(editions.__file__).resolve().parents[2] / "notebooks"
    (tmp_path / "notebooks").mkdir()
    nbformat.write(learner_notebook(), tmp_path / "notebooks" / "demo.ipynb")
    assert editions.main(["solutions"]) == 0  # a notebooks/ here wins, and the edition goes beside it
    assert [p.name for p in (tmp_path / "build" / "solutions").iterdir()] == ["demo.ipynb"]
    assert f"to {tmp_path / 'build' / 'solutions'}" in capsys.readouterr().out


def installed_package(tmp_path) -> dict:
    """The environment of a Python that imports ``minigpt`` from a copy of the package alone, as installed:
    no checkout around it, so no notebooks/ and no pyproject.toml beside it."""
    import shutil

    site = tmp_path / "site-packages"
    shutil.copytree(Path(editions.__file__).resolve().parents[1], site / "minigpt",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return {**os.environ, "PYTHONPATH": str(site)}


def test_an_installed_package_asks_for_the_notebooks_and_uses_those_given(tmp_path):
    env, work = installed_package(tmp_path), tmp_path / "work"
    work.mkdir()
    command = [sys.executable, "-m", "minigpt.course.editions", "solutions"]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert "no notebooks/ folder in" in done.stderr and "pass the learner notebooks with --notebooks DIR" in done.stderr
    (tmp_path / "course").mkdir()
    nbformat.write(learner_notebook(), tmp_path / "course" / "demo.ipynb")
    done = subprocess.run([*command, "--notebooks", "../course"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "### BEGIN SOLUTION" in (tmp_path / "build" / "solutions" / "demo.ipynb").read_text()


def nbgrader(course: Path, *args):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]


def graded(notebook: str, source_nb, tmp_path):
    """A teacher's cycle with nbgrader's own commands (README, "For teachers"): generate the assignment from
    the solutions edition, collect an untouched and a solved submission, autograde both.
    Returns (the released notebook, {student: score}, the maximum score)."""
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'minigpt'\n"
        "c.CourseDirectory.db_assignments = [dict(name='ps1')]\n"
        "c.CourseDirectory.db_students = [dict(id='untouched'), dict(id='solved')]\n"
        "c.Execute.timeout = 600\n")
    nbformat.write(source_nb, course / "source" / "ps1" / notebook)
    nbgrader(course, "generate_assignment", "ps1")
    released = nbformat.read(course / "release" / "ps1" / notebook, as_version=4)

    solved = copy.deepcopy(released)
    for cell, source_cell in zip(solved.cells, source_nb.cells):
        if editions.is_exercise(cell):  # the learner writes the solution in place of the stub
            cell.source = "\n".join(line for line in source_cell.source.split("\n") if "### " not in line)
    for student, nb in (("untouched", released), ("solved", solved)):
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / "ps1" / notebook)
    nbgrader(course, "autograde", "ps1")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission("ps1", s).score for s in ("untouched", "solved")}
        max_score = gradebook.find_submission("ps1", "solved").max_score
    return released, scores, max_score


def test_nbgrader_grades_a_synthetic_exercise(tmp_path):
    learner = learner_notebook()
    released, scores, max_score = graded("demo.ipynb", editions.solutions_edition(learner), tmp_path)
    assert [c.source for c in released.cells] == [c.source for c in learner.cells]
    assert max_score == 2 and scores == {"untouched": 0, "solved": 2}


def test_nbgrader_generates_and_autogrades_a_course_notebook(tmp_path):
    """On a real notebook of the course: an untouched submission scores 0, a solved one every point."""
    path = next(p for p in NOTEBOOKS if p.stem.startswith("01_"))
    learner = nbformat.read(path, as_version=4)
    released, scores, max_score = graded(path.name, editions.solutions_edition(learner), tmp_path)
    assert [c.source for c in released.cells] == [c.source for c in learner.cells]
    points = sum(c.metadata["nbgrader"]["points"] for c in learner.cells if editions.is_check(c))
    assert max_score == points > 0
    assert scores == {"untouched": 0, "solved": points}
