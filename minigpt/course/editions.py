"""The course's two editions from one source: the learner edition in ``notebooks/`` and a solutions edition.

    python -m minigpt.course.editions solutions                  write build/solutions/*.ipynb
    python -m minigpt.course.editions solutions --out DIR        somewhere else
    python -m minigpt.course.editions solutions 03 06            only notebooks 03 and 06 (names or number prefixes)
    python -m minigpt.course.editions solutions --notebooks DIR  the learner notebooks in DIR
    python -m minigpt.course.editions solutions --hints          keep the exercises' hints for the students

The learner notebooks are ``notebooks/`` in the current folder, else the one of the source checkout this
package runs from; an installed package carries no notebooks, so there ``--notebooks`` names them. The
edition goes to ``build/solutions/`` beside the notebooks' folder unless ``--out`` says otherwise.

Every notebook is read and converted before the first is written, so a broken one writes nothing; a
problem (a notebook that is not one, an ``--out`` that cannot be written) is one line on stderr, status 2.
The notebook files' helpers here (``read_notebook``, ``write_notebook``) serve ``widgets.tools.export`` and
``widgets.tools.store`` too.

The notebooks in ``notebooks/`` are the **learner edition**, and the only copy kept by hand. Each exercise
is marked the way nbgrader marks them, so a teacher can use nbgrader's own commands (README, "For teachers"):

- an **exercise cell** (cell metadata ``nbgrader.solution = true``) holds a stub: the signature, a
  docstring, and nbgrader's code stub ``# YOUR CODE HERE`` / ``raise NotImplementedError()``;
- the markdown cell after it, its **help cell**, holds collapsed blocks, each ``<details><summary>TITLE</summary>
  ... </details>``: zero or more hints (``Hint 1``, ``Hint 2``, ...), then one ``Solution`` holding one
  ```` ```python ```` code block (and maybe a sentence or two);
- a **check cell** (``nbgrader.grade = true``, with ``points``) ends with one check call, such as
  ``check_attention(attention)``, which shows PASS or NOT YET (with a hint) and never raises.

The **solutions edition** is derived from it, for teachers, and is exactly nbgrader's *source* format:

- each stub is replaced by the solution's code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
- the help cell loses its Solution block, which would hand the answer out, and its Hint blocks unless
  ``--hints`` keeps them; a help cell left empty is dropped;
- each check cell gets a hidden test that fails while the exercise is not done, with the check's own
  NOT YET message and hint (``with_hidden_test``).

``nbgrader generate_assignment`` strips the solutions and hidden tests, which gives the learner edition
without the removed help blocks, cell for cell (a test checks it, so the editions can never drift apart);
``nbgrader autograde`` grades a submission by running the hidden tests, and its feedback shows each failed
check's message and hint. ``minigpt.course.classroom`` sets up the nbgrader course folder they run in.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import nbformat

from minigpt.arguments import run_tool
from minigpt.files import atomic_write, cannot_write

CHECKOUT = Path(__file__).resolve().parents[2]  # the source checkout, when the package runs from one
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]  # nbgrader's default Python code stub
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_TESTS, END_TESTS = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_SOLUTION_BLOCK = re.compile(r"<summary>\s*Solution.*?```python\n(.*?)```", re.DOTALL)
# A help cell's collapsed block, its kind ("Hint" or "Solution": how its summary starts), and the space after it
_HELP_BLOCK = re.compile(r"<details>\s*<summary>\s*(?P<kind>Hint|Solution)[^<]*</summary>.*?</details>\s*", re.DOTALL)
CHECKED = "_checked"  # the hidden test's name for the check's result


class EditionError(ValueError):
    """A learner notebook that does not follow the exercise conventions (see the module docstring)."""


def read_notebook(path) -> nbformat.NotebookNode:
    """The Jupyter notebook at ``path`` (nbformat 4), or a ValueError naming the file when it is not one.

    nbformat answers a file that is not a notebook with one of several errors, depending on how it is
    wrong (not JSON, not UTF-8, JSON of another shape, keys missing); here they are one. A file that
    cannot be opened at all is the OSError that says why.
    """
    try:
        return nbformat.read(os.fspath(path), as_version=4)
    except (ValueError, AttributeError, KeyError, TypeError, nbformat.ValidationError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(f"{path} is not a Jupyter notebook ({reason}); pass a .ipynb file saved by Jupyter") from None


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution", False)


def is_check(cell) -> bool:
    return cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade", False)


def stub_position(lines: list[str]) -> tuple[int, str]:
    """(index of the stub's first line, its indentation) in an exercise cell's lines."""
    for i in range(len(lines) - 1):
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        if lines[i].strip() == STUB[0] and lines[i + 1] == indent + STUB[1]:
            return i, indent
    raise EditionError(f"no nbgrader stub ({' / '.join(STUB)}) in the exercise cell")


def solution_code(markdown: str) -> list[str]:
    """The lines of the ```python block inside a collapsed Solution block."""
    match = _SOLUTION_BLOCK.search(markdown)
    if not match:
        raise EditionError("the cell after an exercise must hold <details><summary>Solution with a ```python block")
    return match.group(1).rstrip("\n").split("\n")


def solution_body(stub_cell_lines: list[str], stub_at: int, indent: str, solution: list[str]) -> list[str]:
    """The solution's lines that replace the stub: the solution block without the lines the exercise cell
    already shows above its stub (its ``def`` line), re-indented to the stub's indentation."""
    shown = {line.strip() for line in stub_cell_lines[:stub_at] if line.strip()}
    body = [line for line in solution if line.strip() not in shown]
    while body and not body[0].strip():
        body.pop(0)
    margin = min((len(line) - len(line.lstrip()) for line in body if line.strip()), default=0)
    return [indent + line[margin:] if line.strip() else "" for line in body]


def with_solution(exercise, solution_markdown: str) -> str:
    lines = exercise.source.split("\n")
    at, indent = stub_position(lines)
    body = solution_body(lines, at, indent, solution_code(solution_markdown))
    return "\n".join(lines[:at] + [indent + BEGIN_SOLUTION, *body, indent + END_SOLUTION] + lines[at + 2 :])


def help_for_students(markdown: str, hints: bool = False) -> str:
    """A help cell as the solutions edition keeps it: without its Solution block, and without its Hint blocks
    unless ``hints``; any other text stays. '' when nothing is left (the cell is then dropped)."""
    kept = _HELP_BLOCK.sub(lambda block: block[0] if hints and block["kind"] == "Hint" else "", markdown).strip()
    if _SOLUTION_BLOCK.search(kept):
        raise EditionError("the Solution block has no closing </details>; close it, so that it can be left out")
    return kept


def with_hidden_test(check) -> str:
    """The check cell with a hidden test, which runs the check once and fails with its own message and hint.

    The cell's last line, the check call, is wrapped in ``_checked = (`` ... ``)`` whose two lines are hidden
    (inside parentheses the delimiters' comment lines are allowed), so the call stays exactly as the
    learner edition shows it and runs once; then ``assert _checked, _checked``: the check's result is true
    when it passes, and the AssertionError of one that does not says "NOT YET: ... Hint: ...", which
    nbgrader's feedback shows under the cell.
    """
    *before, call = check.source.rstrip().split("\n")
    if not call.strip() or call.startswith((" ", "#")):
        raise EditionError(f"a check cell must end with the check call, found {call!r}")
    return "\n".join([*before, BEGIN_TESTS, f"{CHECKED} = (", END_TESTS, call,
                      BEGIN_TESTS, ")", f"assert {CHECKED}, {CHECKED}", END_TESTS])


def solutions_edition(notebook, hints: bool = False):
    """The solutions (nbgrader source) edition of a learner notebook, outputs cleared; ``hints`` keeps the
    help cells' Hint blocks."""
    nb = nbformat.from_dict(notebook)
    emptied = []  # help cells with nothing left for the students
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        try:
            if is_exercise(cell):
                helper = next((c for c in nb.cells[i + 1 :] if c.cell_type == "markdown"), None)
                if helper is None:
                    raise EditionError("no Solution block after the exercise cell")
                cell.source = with_solution(cell, helper.source)
                helper.source = help_for_students(helper.source, hints)
                if not helper.source:
                    emptied.append(helper)
            elif is_check(cell):
                cell.source = with_hidden_test(cell)
        except EditionError as error:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {i}")
            raise EditionError(f"{grade_id}: {error}") from None
    nb.cells = [cell for cell in nb.cells if not any(cell is empty for empty in emptied)]
    return nb


def write_notebook(nb, path: Path, mode: int = 0o644) -> Path:
    """Write notebook ``nb`` to ``path`` atomically, as ``nbformat.write`` would (JSON, then a newline), with
    permissions ``mode``."""
    with atomic_write(path, permissions=mode) as f:
        f.write(nbformat.writes(nb).rstrip("\n") + "\n")
    return path


def require_out(out: Path) -> None:
    """An OSError saying why, if ``out`` cannot be the folder of the edition (a file, a folder under a file)."""
    for folder in (out, *out.parents):  # the nearest one that exists must be a folder
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(f"--out {out}: {folder} is a file, not a folder; give a folder")
            return


def select(notebooks: Path, only: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """The notebooks in ``notebooks`` whose file name starts with one of ``only`` (all of them when it is empty)."""
    found = sorted(notebooks.glob("*.ipynb"))
    missing = [name for name in only if not any(path.name.startswith(name) for path in found)]
    if missing:
        names = ", ".join(path.stem for path in found)
        raise EditionError(f"no notebook in {notebooks} starts with {', '.join(missing)}; there are: {names}")
    return [path for path in found if not only or any(path.name.startswith(name) for name in only)]


def default_notebooks() -> Path:
    """The learner notebooks when ``--notebooks`` is not given: ``notebooks/`` in the current folder, else in the
    source checkout (recognised by its ``pyproject.toml``). An installed package has neither, so an EditionError
    then says what to pass, rather than looking for the notebooks inside site-packages."""
    candidates = [Path.cwd() / "notebooks"]
    if (CHECKOUT / "pyproject.toml").is_file():
        candidates.append(CHECKOUT / "notebooks")
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise EditionError(f"no notebooks/ folder in {Path.cwd()} and no source checkout to find one in; "
                       "pass the learner notebooks with --notebooks DIR")


def write_solutions(notebooks: Path, out: Path, only: list[str] | tuple[str, ...] = (),
                    hints: bool = False) -> list[Path]:
    """Write the solutions edition of the notebooks in ``notebooks`` (those named in ``only``, else all) into
    ``out``: all of them, or (on a notebook that is broken or off the conventions) none. ``hints`` keeps the
    exercises' hints for the students."""
    require_out(out)
    solved = {}
    for source in select(notebooks, only):
        try:
            solved[source.name] = solutions_edition(read_notebook(source), hints)
        except EditionError as error:
            raise EditionError(f"{source.name}: {error}") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise cannot_write(out, error) from None
    return [write_notebook(nb, out / name) for name, nb in solved.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigpt.course.editions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("edition", choices=["solutions"], help="the edition to generate")
    parser.add_argument("only", nargs="*", help="notebooks to include, by name or number prefix (default: all)")
    parser.add_argument("--notebooks", type=Path, metavar="DIR", help="the folder of learner notebooks (default: "
                        "notebooks/ in the current folder, else in the source checkout)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where to write it (default: build/solutions/ beside "
                        "the notebooks' folder)")
    parser.add_argument("--hints", action="store_true", help="keep the exercises' Hint blocks for the students (the "
                        "Solution blocks always go)")
    args = parser.parse_args(argv)

    def work() -> str:
        if args.notebooks is None:
            args.notebooks = default_notebooks()
        elif not args.notebooks.is_dir():
            raise EditionError(f"--notebooks {args.notebooks} is not a folder of .ipynb files")
        if args.out is None:
            args.out = args.notebooks.parent / "build" / "solutions"
        written = write_solutions(args.notebooks, args.out, args.only, args.hints)  # EditionError is a ValueError
        return f"wrote the solutions edition of {len(written)} notebook{'' if len(written) == 1 else 's'} to {args.out}"

    return run_tool(parser.prog, work)


if __name__ == "__main__":
    raise SystemExit(main())
