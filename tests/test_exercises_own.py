"""Notebook 14's exercise (what a tokenizer costs on a text) and its default text (the course's own prose)."""

from pathlib import Path

from minigpt.course.settings import write_course_prose
from minigpt.course.exercises.own import check_cost_per_token, cost_per_token
from minigpt.tokenizers import CharTokenizer


def test_the_reference_passes_and_counts_what_it_says():
    assert check_cost_per_token(cost_per_token).passed
    tok = CharTokenizer.from_text("abcab")
    assert cost_per_token(tok, "abcab", 8) == dict(tokens=5, chars_per_token=1.0, embedding_params=3 * 8)


def test_usual_mistakes_get_a_hint():
    def flipped(t, text, c):
        n = len(t.encode(text))
        return dict(tokens=n, chars_per_token=n / len(text), embedding_params=t.vocab_size * c)

    result = check_cost_per_token(flipped)
    assert not result.passed and "not the other way round" in result.hint
    chars = check_cost_per_token(lambda t, text, c: dict(tokens=len(text), chars_per_token=1.0,
                                                         embedding_params=t.vocab_size * c))
    assert not chars.passed and "encodes to" in chars.message  # counted characters, not tokens (BPE differs)
    table = check_cost_per_token(lambda t, text, c: dict(tokens=len(t.encode(text)),
                                                         chars_per_token=len(text) / len(t.encode(text)),
                                                         embedding_params=len(t.encode(text)) * c))
    assert not table.passed and "vocab_size" in table.hint
    assert not check_cost_per_token(lambda t, text, c: 3).passed


def test_course_prose_is_every_markdown_cell_written_atomically(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    cell = '{"cell_type": "%s", "source": %s, "metadata": {}}'
    (folder / "a.ipynb").write_text('{"cells": [%s, %s]}' % (cell % ("markdown", '["# One\\n", "two"]'),
                                                            cell % ("code", '"x = 1"')))  # fmt: skip
    (folder / "b.ipynb").write_text('{"cells": [%s]}' % (cell % ("markdown", '"Three"')))
    out = write_course_prose(folder, tmp_path / "prose.txt")
    assert out.read_text(encoding="utf-8") == "# One\ntwo\n\nThree\n"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_the_real_course_prose_is_large_enough_to_train_on(tmp_path):
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    text = write_course_prose(notebooks, tmp_path / "prose.txt").read_text(encoding="utf-8")
    assert len(text) > 50_000 and "attention" in text
