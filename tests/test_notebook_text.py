"""What the learner reads: a teacher's voice, and one sitting per notebook.

The test machinery stays out of the learner's way: nbval's markers are cell tags, not comments in the code, and the
markdown never talks about CI, nbval, the sanitiser or what is "asserted". A notebook is one sitting: at most
3,000 words of markdown and 25 code cells."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MAX_WORDS, MAX_CODE_CELLS = 3000, 25
# "CI" only in capitals: the fast course scale is called `ci`, and a learner may need its name
TEST_TALK = re.compile(r"\bCI\b|nbval|sanitize|\basserted\b|\bNBVAL_", re.IGNORECASE)
CI_WORD = re.compile(r"\bCI\b")


def test_notebooks_are_found():
    assert len(NOTEBOOKS) >= 13, NOTEBOOKS


def markdown_words(text):
    return len(re.findall(r"\S+", text))


def test_the_word_count_counts_words():
    assert markdown_words("The cat  sat\non the `mat`.") == 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_carry_no_nbval_markers(path):
    nb = nbformat.read(path, as_version=4)
    marked = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "NBVAL_" in c.source]
    assert not marked, f"{path.name} cells {marked}: use the cell tag 'nbval-ignore-output' instead of a comment"


def talk_about_tests(text):
    """The phrases of `text` that talk about the test machinery rather than about transformers."""
    found = [m.group(0) for m in TEST_TALK.finditer(text)]
    return [word for word in found if word.lower() != "ci" or CI_WORD.fullmatch(word)]


def test_test_talk_is_found_and_the_scale_name_is_allowed():
    assert talk_about_tests("CI does not compare it; nbval and sanitize.cfg; (asserted)") == [
        "CI", "nbval", "sanitize", "asserted"]  # fmt: skip
    assert talk_about_tests("the fast `ci` scale; a circle; CIFAR; the cell checks this") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_speaks_to_the_learner_not_about_the_tests(path):
    nb = nbformat.read(path, as_version=4)
    found = {i: talk_about_tests(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"}
    found = {i: words for i, words in found.items() if words}
    assert not found, f"{path.name}: markdown cells talk about the tests: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_is_one_sitting(path):
    nb = nbformat.read(path, as_version=4)
    words = sum(markdown_words(c.source) for c in nb.cells if c.cell_type == "markdown")
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    assert words <= MAX_WORDS, f"{path.name} has {words} words of markdown; one sitting is at most {MAX_WORDS}"
    assert code_cells <= MAX_CODE_CELLS, f"{path.name} has {code_cells} code cells; at most {MAX_CODE_CELLS}"
