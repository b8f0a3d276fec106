"""A course folder for nbgrader, set up for the classroom edition (README, "For teachers").

    python -m minigpt.course.classroom minigpt-class     write minigpt-class/nbgrader_config.py and exchange/

The course id is the folder's name. Then, inside the folder, ``python -m minigpt.course.editions solutions 01
--out source/tokenization`` makes an assignment of notebook 01 and nbgrader's own commands do the rest.

Why not ``nbgrader quickstart``: it adds its demo assignment and students to a ``gradebook.db`` in the folder it
is run *from* (not in the course folder it creates), its config makes every assignment start with a demo header
notebook, and it leaves at their defaults four settings that the course needs. The config written here sets them:

- ``Exchange.root``: where ``release_assignment``, ``submit`` and ``collect`` pass notebooks. nbgrader's default,
  /usr/local/share/nbgrader/exchange, must exist and be writable by all, which takes an administrator;
  here it is ``exchange/`` inside the course folder (writable by all, as nbgrader wants it).
- ``Execute.timeout``: the notebooks' training cells take longer than nbgrader's 30 s a cell.
- ``Execute.store_widget_state = False``: a view's output holds the live widget and a picture of it. When the
  grading run stores the widgets' state in the notebook, nbconvert's HTML (the feedback page) draws the widget
  rather than the picture, and a static page cannot draw it: an empty space. Without the state, the picture.
- ``Autograde.sanitize_preprocessors`` with :func:`restore_hidden_tests`: see there.

The course folder is otherwise nbgrader's usual one (``source/``, ``release/``, ``submitted/``, ``autograded/``,
``feedback/``, ``gradebook.db``); ``CourseDirectory.root`` pins it, so a command run from elsewhere with this
config never starts a gradebook of its own.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
from pathlib import Path

from minigpt.arguments import run_tool
from minigpt.files import atomic_write, cannot_write

CONFIG = "nbgrader_config.py"
EXCHANGE = "exchange"
_COURSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # what nbgrader can put in its exchange's file names
_SETTINGS = """\
# nbgrader's settings for the minigpt course, written by `python -m minigpt.course.classroom`
# (its docstring, minigpt/course/classroom.py, says why each one is needed).
from minigpt.course.classroom import sanitize_preprocessors

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}  # source/, release/, submitted/, autograded/, feedback/, gradebook.db
c.Exchange.root = {exchange!r}  # release_assignment, submit and collect pass notebooks here
c.Execute.timeout = 600  # seconds a cell may take: training cells take longer than nbgrader's 30 s
c.Execute.store_widget_state = False  # the feedback shows each view's picture, not a widget it cannot draw
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()  # hidden tests back, with no false "changed"
"""


def restore_hidden_tests(nb, resources):
    """nbgrader preprocessor: give each locked cell of a submission that is exactly as released its hidden tests.

    nbgrader keeps each locked cell's source and checksum in the gradebook as they are *before*
    ``generate_assignment`` removes the hidden tests, and ``autograde`` (its OverwriteCells step) puts the tests
    back only by finding that the submitted cell no longer matches that checksum. So it reports every check cell
    of every submission, untouched ones too, as "Attribute 'checksum' for cell ... has changed!" (nbgrader issue
    1961), and a cell a student really changed is lost among them. Run just before OverwriteCells, this puts the
    source back into each cell that is exactly what was released; OverwriteCells then finds it unchanged, and
    still reports (and replaces) a cell that was changed.
    """
    from nbgrader.api import Gradebook  # nbgrader only here: the command needs none to write a course folder
    from nbgrader.preprocessors import ClearHiddenTests

    where = resources["nbgrader"]
    with Gradebook(where["db_url"]) as gradebook:
        for cell in nb.cells:
            source = _locked_source(gradebook, cell, where["notebook"], where["assignment"])
            if source is None:
                continue
            released = copy.deepcopy(cell)
            released.source = source.source
            ClearHiddenTests().preprocess_cell(released, {}, 0)
            if cell.source == released.source:
                cell.source = source.source
    return nb, resources


def _locked_source(gradebook, cell, notebook: str, assignment: str):
    """The gradebook's source of ``cell`` (with its hidden tests) when it is a locked cell nbgrader knows, else None."""
    from nbgrader.api import MissingEntry

    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    if not grade_id:
        return None
    try:
        source = gradebook.find_source_cell(grade_id, notebook, assignment)
    except MissingEntry:  # a cell nbgrader does not know: OverwriteCells says so
        return None
    return source if source.locked else None


def sanitize_preprocessors() -> list:
    """nbgrader's steps that prepare a submission for autograding, with :func:`restore_hidden_tests` just before
    OverwriteCells (for ``c.Autograde.sanitize_preprocessors``)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import OverwriteCells

    steps = list(Autograde.sanitize_preprocessors.default())
    at = steps.index(OverwriteCells)
    return [*steps[:at], restore_hidden_tests, *steps[at:]]


def settings(folder: Path) -> str:
    """The text of the course folder's ``nbgrader_config.py``: the course id is the folder's name."""
    folder = folder.resolve()
    if not _COURSE_ID.fullmatch(folder.name):
        raise ValueError(f"{folder.name!r} cannot be an nbgrader course id; name the folder with letters, digits, "
                         "'-', '_' and '.' only (e.g. minigpt-class)")
    return _SETTINGS.format(course_id=folder.name, root=str(folder), exchange=str(folder / EXCHANGE))


def make_course(folder: Path) -> Path:
    """Make ``folder`` an nbgrader course folder for the course (its ``nbgrader_config.py`` and ``exchange/``);
    return the config's path. A folder that already has a config is left alone: a ValueError says so."""
    config = folder / CONFIG
    text = settings(folder)
    if config.exists():
        raise ValueError(f"{config} already exists; choose a new folder, or add the lines of "
                         f"`python -m minigpt.course.classroom --show {folder}` to it yourself")
    try:
        (folder / EXCHANGE).mkdir(parents=True, exist_ok=True)
        os.chmod(folder / EXCHANGE, 0o777)  # everyone hands in here (nbgrader sets the same, and warns otherwise)
        with atomic_write(config, permissions=0o644) as f:
            f.write(text)
    except OSError as error:
        raise cannot_write(config, error, "the course's") from None
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigpt.course.classroom", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the course folder to make (its name is the course id)")
    parser.add_argument("--show", action="store_true", help="print the settings instead of writing anything")
    args = parser.parse_args(argv)

    def work() -> str:
        if args.show:
            return settings(args.folder)
        config = make_course(args.folder)
        return f"wrote {config} (course {args.folder.resolve().name}) and {args.folder / EXCHANGE}/"

    return run_tool(parser.prog, work)


if __name__ == "__main__":
    raise SystemExit(main())
