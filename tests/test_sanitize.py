"""notebooks/sanitize.cfg masks what changes from run to run (memory addresses), and nothing a lesson shows.

Each case is a one-cell notebook run by nbval with the project's sanitize file, in a fresh pytest, as CI
runs the notebooks: a stored output that differs from what the cell prints in one byte token must fail,
the right one must pass, and an output that differs only in a memory address must pass.
"""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"


def byte_token_output() -> str:
    """What notebook 01 stores for its cell that tokenizes an emoji: lines of byte tokens such as '<0xE2>'."""
    notebook = nbformat.read(NOTEBOOKS / "01_tokenization.ipynb", as_version=4)
    texts = [output.text for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
             if output.output_type == "stream" and "'<0xE2>'" in output.text]
    assert len(texts) == 1, "notebook 01 should store one output that shows the byte token '<0xE2>'"
    return texts[0]


def one_cell_notebook(path: Path, source: str, stored: str) -> Path:
    """A notebook whose only cell runs ``source`` and is stored as having printed ``stored``."""
    cell = nbformat.v4.new_code_cell(source, execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", name="stdout", text=stored)])
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def nbval_outcomes(notebooks: list[Path], tmp_path: Path) -> dict[str, str]:
    """{notebook name: "passed" or "failed"} from one nbval run with the project's sanitize file."""
    report = tmp_path / "report.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
               f"--nbval-sanitize-with={SANITIZE}", f"--junitxml={report}", *map(str, notebooks)]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert report.exists(), run.stdout + run.stderr
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        name = case.get("classname")  # the notebook's file name: each runs in tmp_path, the working folder
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[name] = "failed" if failed else outcomes.get(name, "passed")
    return outcomes


def test_a_changed_byte_token_fails_and_a_changed_address_passes(tmp_path):
    shown = byte_token_output()
    one_token_off = shown.replace("'<0xE2>'", "'<0xE3>'", 1)
    assert one_token_off != shown
    printing = f"print({shown!r}, end='')"
    address_shown = "<object object at 0x7f3a5c2b1d90>\n"  # a real address: 12 hex digits
    cases = {
        "byte_token_right.ipynb": (printing, shown),
        "byte_token_off_by_one.ipynb": (printing, one_token_off),
        "other_address.ipynb": ("print(repr(object()))", address_shown),
    }
    notebooks = [one_cell_notebook(tmp_path / name, *case) for name, case in cases.items()]
    assert nbval_outcomes(notebooks, tmp_path) == {
        "byte_token_right.ipynb": "passed",
        "byte_token_off_by_one.ipynb": "failed",
        "other_address.ipynb": "passed",
    }
