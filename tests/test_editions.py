"""The learner and solutions editions come from one source and cannot drift; what nbgrader releases of the
solutions edition holds no solution (grading it: tests/test_teacher_steps.py)."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from minigpt.course import editions
from minigpt.course.exercises._result import Result
from minigpt.course.exercises.solutions import CHECKS

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
HINT = "<details><summary>Hint 1</summary>\n\nA table of zeros, then the sines in the even columns.\n\n</details>\n"
MIN_SOLUTION_LINE = 20  # characters: shorter solution lines (`return out`, `else:`, `i += 1`) are everyday code
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
        new_markdown_cell(f"{HINT}<details><summary>Solution</summary>\n\n```python\n{SOLUTION}\n```\n</details>"),
        new_code_cell("check_sinusoidal(sinusoidal)",
                      metadata=grader("check_sinusoidal", solution=False, grade=True, locked=True, points=2)),
    ]
    return nb


def cleared(nb):
    """What nbgrader's generate_assignment does to the source: solutions and hidden tests removed."""
    nb, _ = ClearSolutions().preprocess(copy.deepcopy(nb), {})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb


def as_released(learner, hints: bool) -> list[str]:
    """The learner edition's cells as nbgrader releases the solutions edition: each help cell (the first markdown
    cell after an exercise) keeps what comes before its Solution block, its hints, if the teacher keeps them, and
    is gone otherwise; every other cell is as it is."""
    cells = learner.cells
    helpers = [next(j for j in range(i + 1, len(cells)) if cells[j].cell_type == "markdown")
               for i, cell in enumerate(cells) if editions.is_exercise(cell)]
    kept = {j: cells[j].source.split("<details><summary>Solution")[0].strip() if hints else "" for j in helpers}
    return [kept.get(j, cell.source) for j, cell in enumerate(cells) if kept.get(j, True)]


def test_the_solution_replaces_the_stub_and_the_check_gets_a_hidden_test():
    solved = editions.solutions_edition(learner_notebook())
    exercise, check = solved.cells[1].source, solved.cells[2].source  # the help cell held nothing else: gone
    assert len(solved.cells) == 3 and "raise NotImplementedError" not in exercise
    assert "    ### BEGIN SOLUTION\n    position = torch.arange" in exercise
    assert exercise.count("def sinusoidal") == 1 and '"""[T, C] table' in exercise
    assert check == ("### BEGIN HIDDEN TESTS\n_checked = (\n### END HIDDEN TESTS\ncheck_sinusoidal(sinusoidal)\n"
                     "### BEGIN HIDDEN TESTS\n)\nassert _checked, _checked\n### END HIDDEN TESTS")


@pytest.mark.parametrize("passed", [True, False])
def test_the_hidden_test_runs_the_check_once_and_fails_with_its_message_and_hint(passed):
    calls = []

    def check_sinusoidal(fn):
        calls.append(fn)
        return Result(passed, "the table is right" if passed else "row 1 is wrong", "" if passed else "mind cos")

    hidden_test = editions.solutions_edition(learner_notebook()).cells[2].source
    namespace = {"check_sinusoidal": check_sinusoidal, "sinusoidal": len}
    if passed:
        exec(hidden_test, namespace)
    else:
        with pytest.raises(AssertionError) as failure:
            exec(hidden_test, namespace)
        assert str(failure.value) == "NOT YET: row 1 is wrong\nHint: mind cos"
    assert calls == [len]


@pytest.mark.parametrize("hints", [False, True], ids=["no hints", "hints"])
def test_the_help_cell_loses_its_solution_and_keeps_its_hints_only_if_asked(hints):
    solved = editions.solutions_edition(learner_notebook(), hints=hints)
    assert not any("Solution" in cell.source for cell in solved.cells if cell.cell_type == "markdown")
    assert [cell.source for cell in solved.cells if cell.cell_type == "markdown"] == ([HINT.strip()] if hints else [])


@pytest.mark.parametrize("hints", [False, True], ids=["no hints", "hints"])
def test_nbgrader_turns_the_solutions_edition_back_into_the_learner_edition(hints):
    learner = learner_notebook()
    back = cleared(editions.solutions_edition(learner, hints))
    assert [c.source for c in back.cells] == as_released(learner, hints)


@pytest.mark.parametrize("hints", [False, True], ids=["no hints", "hints"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_course_notebooks_and_their_solutions_edition_never_drift(path, hints):
    learner = nbformat.read(path, as_version=4)
    back = cleared(editions.solutions_edition(learner, hints))
    assert [c.source for c in back.cells] == as_released(learner, hints)


@pytest.mark.parametrize("broken, message", [
    (lambda nb: setattr(nb.cells[1], "source", "def sinusoidal(T, C):\n    return None"), "no nbgrader stub"),
    (lambda nb: setattr(nb.cells[2], "source", "no solution here"), "Solution"),
    (lambda nb: setattr(nb.cells[2], "source", nb.cells[2].source.replace("</details>", "")), "no closing </details>"),
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
    assert "Hint 1" not in (tmp_path / "out" / "demo.ipynb").read_text()
    assert not list((tmp_path / "out").glob("*.tmp"))
    assert editions.main(["solutions", "--hints", "--notebooks", str(source), "--out", str(tmp_path / "out")]) == 0
    assert "Hint 1" in (tmp_path / "out" / "demo.ipynb").read_text()


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


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict[bool, tuple[Path, Path]]:
    """{hints: (the solutions edition, what nbgrader generate_assignment released of it)} for every course notebook,
    the edition written by the command without and with --hints. Generation only, nothing runs: both at once
    (assignment '*') and with no gradebook, which changes nothing in what is released."""
    course = tmp_path_factory.mktemp("course")
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'minigpt'\n")
    names = {False: "plain", True: "hints"}
    for hints, name in names.items():
        flags = ["--hints"] if hints else []
        out = course / "source" / name
        assert editions.main(["solutions", *flags, "--notebooks", str(NOTEBOOKS[0].parent), "--out", str(out)]) == 0
    nbgrader(course, "generate_assignment", "*", "--no-db")
    return {hints: (course / "source" / name, course / "release" / name) for hints, name in names.items()}


def solution_lines(source) -> set[str]:
    """The lines of a solutions-edition notebook's solutions (between BEGIN and END SOLUTION in its exercise cells),
    without their indentation, that are at least MIN_SOLUTION_LINE characters long."""
    found = set()
    for cell in filter(editions.is_exercise, source.cells):
        lines = [line.strip() for line in cell.source.split("\n")]
        found |= set(lines[lines.index(editions.BEGIN_SOLUTION) + 1 : lines.index(editions.END_SOLUTION)])
    return {line for line in found if len(line) >= MIN_SOLUTION_LINE}


@pytest.mark.parametrize("hints", [False, True], ids=["no hints", "hints"])
def test_no_released_notebook_holds_a_line_of_any_solution(released, hints):
    """A solution line leaks when a line of the released notebook contains it; the help cells' hints stay only
    with --hints, and their Solution blocks never."""
    source, release = released[hints]
    leaked, lines = {}, 0
    for path in NOTEBOOKS:
        solutions = solution_lines(nbformat.read(source / path.name, as_version=4))
        shown = [line for cell in nbformat.read(release / path.name, as_version=4).cells
                 for line in cell.source.split("\n")]
        leaked[path.stem] = sorted(s for s in solutions if any(s in line for line in shown))
        lines += len(solutions)
        text, learner = "\n".join(shown), path.read_text()
        assert "<summary>Solution" not in text
        assert text.count("<summary>Hint") == (learner.count("<summary>Hint") if hints else 0)
    assert lines > 50 and not any(leaked.values()), {name: found for name, found in leaked.items() if found}
