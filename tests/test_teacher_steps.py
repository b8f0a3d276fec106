"""The README's steps for teachers run exactly as written, in a fresh home: the course folder, an assignment,
nbgrader's release, hand-in, collect, autograde and feedback. An untouched hand-in scores 0 and a solved one every
point, with no false "checksum has changed" warning; the feedback shows each failed check's hint and each view's
picture; and nothing is left in the repository or in the folder the steps start from.

The steps are one cycle on one real notebook (the README's): executing notebooks is the expensive part."""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, SourceCell
from nbgrader.preprocessors import ClearHiddenTests

from minigpt.course import classroom, editions

REPO = Path(__file__).resolve().parent.parent
VIEW = "application/vnd.jupyter.widget-view+json"  # the live widget of a view's output; its picture is image/png
SOLVED = "solved"  # the test's own student, who hands in every solution


def teacher_steps() -> list[str]:
    """The lines of the bash block in the README's section "For teachers", as a teacher would type them."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## For teachers")[1].split("\n## ")[0]
    return [line for line in re.search(r"```bash\n(.*?)```", section, re.DOTALL)[1].splitlines() if line.strip()]


def solved_submission(learner: Path, folder: Path) -> Path:
    """A hand-in of ``learner`` with every exercise solved: the solutions edition with its hidden tests removed
    (as released) and the solutions' delimiters too (as a student would write the code)."""
    nb, _ = ClearHiddenTests().preprocess(editions.solutions_edition(editions.read_notebook(learner)), {})
    for cell in nb.cells:
        if editions.is_exercise(cell):
            cell.source = "\n".join(line for line in cell.source.split("\n")
                                    if line.strip() not in (editions.BEGIN_SOLUTION, editions.END_SOLUTION))
    folder.mkdir(parents=True)
    editions.write_notebook(nb, folder / learner.name)
    return folder


def stray_files() -> set[str]:
    """What git sees in the repository beyond its tracked files (untracked or ignored), Python's caches aside."""
    listed = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.splitlines()
    return {line for line in listed if line[:2] in ("??", "!!") and "__pycache__" not in line}


def run_steps(steps: list[str], work: Path, home: Path) -> str:
    """Run ``steps`` one after the other in one bash started in ``work`` (so ``cd`` carries over, as in a
    terminal), stopping at the first that fails; their whole output."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("JUPYTER")}
    env.update(HOME=str(home), MINIGPT_SCALE="ci", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    script = [f'{step}\nstatus=$?; [ $status = 0 ] || {{ echo "step {n} failed" >&2; exit $status; }}'
              for n, step in enumerate(steps, 1)]
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}\nthe steps:\n" + "\n".join(steps)
    return done.stdout + done.stderr


def hint_lines(check_cell) -> list[str]:
    """The "Hint: ..." lines of what a check cell shows, as stored in the learner edition (the check's NOT YET)."""
    shown = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in check_cell.outputs)
    return [line for line in shown.splitlines() if line.startswith("Hint:")]


def test_the_teacher_steps_run_as_written(tmp_path):
    steps = teacher_steps()
    course_id = re.search(r"python -m minigpt\.course\.classroom (\S+)", steps[0])[1]
    number, assignment = re.search(r"editions solutions (\d+) --out source/(\S+)", "\n".join(steps)).groups()
    learner = next((REPO / "notebooks").glob(f"{number}_*.ipynb"))
    checks = [c for c in editions.read_notebook(learner).cells if editions.is_check(c)]
    work, home, course = tmp_path / "work", tmp_path / "home", tmp_path / "work" / course_id
    work.mkdir(), home.mkdir()
    # A second student hands in the solutions, straight into the exchange as `nbgrader submit` would.
    handed_in = course / "exchange" / course_id / "inbound" / f"{SOLVED}+{assignment}+2024-01-01 00:00:00 UTC"
    hand_in = f'cp -r "{solved_submission(learner, tmp_path / SOLVED)}" "{handed_in}"'
    submit = next(i for i, line in enumerate(steps) if line.startswith("nbgrader submit"))
    before = stray_files()

    log = run_steps([*steps[: submit + 1], hand_in, *steps[submit + 1 :]], work, home)

    assert "has changed" not in log, [line for line in log.splitlines() if "has changed" in line]
    assert [p.name for p in work.iterdir()] == [course_id] and stray_files() == before
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s.student.id: (s.score, s.max_score) for s in gradebook.find_assignment(assignment).submissions}
    points = sum(c.metadata["nbgrader"]["points"] for c in checks)
    untouched = next(student for student in scores if student != SOLVED)
    assert scores == {untouched: (0, points), SOLVED: (points, points)}

    feedback = {s: html.unescape((course / "feedback" / s / assignment / f"{learner.stem}.html").read_text())
                for s in scores}
    assert all(len(hint_lines(c)) == 1 for c in checks), "each check in the learner edition shows NOT YET, a hint"
    assert all(hint_lines(c)[0] in feedback[untouched] for c in checks)
    assert "AssertionError" not in feedback[SOLVED] and "AssertionError" in feedback[untouched]
    graded = editions.read_notebook(course / "autograded" / untouched / assignment / learner.name)
    views = [o for c in graded.cells for o in c.get("outputs", []) if VIEW in o.get("data", {})]
    assert views and all("image/png" in o["data"] for o in views), "no picture in a view's output: no Chrome/Chromium?"
    assert all(f"data:image/png;base64,{o['data']['image/png']}" in feedback[untouched] for o in views)


def test_the_course_folder_is_made_once_and_its_name_is_the_course_id(tmp_path, capsys):
    folder = tmp_path / "minigpt-class"
    assert classroom.main([str(folder)]) == 0
    config = (folder / "nbgrader_config.py").read_text()
    assert "c.CourseDirectory.course_id = 'minigpt-class'" in config
    assert f"c.Exchange.root = {str(folder.resolve() / 'exchange')!r}" in config
    assert (folder / "exchange").is_dir() and (folder / "exchange").stat().st_mode & 0o777 == 0o777
    assert classroom.main([str(folder)]) == 2  # a second time: the config is there, and stays as it was
    assert (folder / "nbgrader_config.py").read_text() == config
    assert classroom.main([str(tmp_path / "my class")]) == 2 and not (tmp_path / "my class").exists()
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and "already exists; choose a new folder" in errors[0]
    assert "'my class' cannot be an nbgrader course id" in errors[1]


def test_the_settings_print_without_writing(tmp_path, capsys):
    assert classroom.main(["--show", str(tmp_path / "course")]) == 0
    assert "c.CourseDirectory.course_id = 'course'" in capsys.readouterr().out
    assert not (tmp_path / "course").exists()


HIDDEN = "check_x(x)\n### BEGIN HIDDEN TESTS\nassert False\n### END HIDDEN TESTS"  # a check cell as in the gradebook


@pytest.fixture(scope="module")
def gradebook_url(tmp_path_factory) -> str:
    """A gradebook that knows one locked check cell, ``c`` of notebook ``n`` of assignment ``a``, source HIDDEN."""
    url = f"sqlite:///{tmp_path_factory.mktemp('grades') / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        gradebook.add_assignment("a")
        notebook = gradebook.add_notebook("n", "a")
        gradebook.db.add(SourceCell(name="c", cell_type="code", locked=True, source=HIDDEN, checksum="",
                                    notebook=notebook))
        gradebook.db.commit()
    return url


@pytest.mark.parametrize("submitted, graded", [("check_x(x)", HIDDEN), ("check_x(y)", "check_x(y)")],
                         ids=["as released", "changed"])
def test_hidden_tests_come_back_only_into_a_check_cell_as_released(gradebook_url, submitted, graded):
    """restore_hidden_tests on its own; a changed cell is left to nbgrader's OverwriteCells, which reports it."""
    cell = nbformat.v4.new_code_cell(submitted, metadata={"nbgrader": {"grade_id": "c", "grade": True, "locked": True}})
    nb = nbformat.v4.new_notebook(cells=[cell])
    classroom.restore_hidden_tests(nb, {"nbgrader": {"db_url": gradebook_url, "notebook": "n", "assignment": "a"}})
    assert nb.cells[0].source == graded
