"""Each rule in one place: the target the loss ignores, the train/validation split and the fewest tokens a
split may have, the views' argument checks and their lazily built widget."""

import ast
import io
import tokenize
from pathlib import Path

import numpy as np
import pytest
import torch

import minigpt.arguments
from minigpt.config import GPTConfig
from minigpt.data.batches import require_enough_tokens, min_split_tokens, train_val_split
from minigpt.data.tokens import MemmapBatches
from minigpt.model import GPT
from minigpt.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [path for folder in ("minigpt", "widgets", "benchmarks") for path in sorted((ROOT / folder).rglob("*.py"))]


def test_the_ignored_target_is_written_as_a_number_only_where_it_is_defined():
    found = []
    for path in SOURCES:
        if path == ROOT / "minigpt" / "targets.py":
            continue
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]  # strings are one token each
        for minus, number in zip(tokens, tokens[1:]):
            if minus.string == "-" and number.type == tokenize.NUMBER and number.string == "100":
                found.append(f"{path.relative_to(ROOT)}:{minus.start[0]}")
    assert found == [], f"use minigpt.targets.IGNORE_INDEX: {found}"


@pytest.mark.parametrize("length", [1005, 1000, 57])
def test_memmap_batches_split_as_train_val_split_does(length):
    ids = np.arange(length, dtype=np.uint16)
    batches = MemmapBatches(ids, batch_size=1, block_size=4)
    train, val = train_val_split(ids)
    assert len(batches.splits["train"]) == len(train) and len(batches.splits["val"]) == len(val)


def test_a_short_validation_split_grows_to_the_fewest_tokens_a_split_may_have():
    batches = MemmapBatches(np.arange(40, dtype=np.uint16), batch_size=1, block_size=8)
    assert len(batches.splits["val"]) == min_split_tokens(8) and len(batches.splits["train"]) == 40 - 10


def test_the_trainer_and_the_token_file_need_the_same_number_of_tokens_and_say_it_alike():
    block_size = 8
    config = GPTConfig(vocab_size=16, block_size=block_size, n_layer=1, n_head=1, n_embd=8)
    train_config = TrainConfig(device="cpu", progress=False)
    enough = min_split_tokens(block_size)
    Trainer(GPT(config), train_config, torch.zeros(enough, dtype=torch.long), torch.zeros(enough, dtype=torch.long))
    MemmapBatches(np.zeros(2 * enough, dtype=np.uint16), batch_size=1, block_size=block_size)
    with pytest.raises(ValueError) as trainer:
        Trainer(GPT(config), train_config, torch.zeros(enough, dtype=torch.long),
                torch.zeros(enough - 1, dtype=torch.long))
    with pytest.raises(ValueError) as token_file:
        MemmapBatches(np.zeros(2 * enough - 1, dtype=np.uint16), batch_size=1, block_size=block_size)
    with pytest.raises(ValueError) as direct:
        require_enough_tokens(enough - 1, block_size, "val_data")
    assert str(trainer.value) == str(direct.value) == (
        "val_data has 9 tokens, fewer than the 10 that block_size 8 needs (block_size + 2); "
        "use more text or a smaller block_size (at most 7 for this text)")
    assert str(token_file.value) == (
        "the text has 19 tokens, fewer than the 20 that block_size 8 needs (block_size + 2 for training and as "
        "many for validation); use more text or a smaller block_size (at most 7 for this text)")


def _functions(path: Path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef)}


def test_the_views_validate_numbers_with_minigpt_arguments_not_a_twin():
    shared = _functions(Path(minigpt.arguments.__file__))
    twins = {f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / "widgets").rglob("*.py")
             for name in _functions(path) & shared}
    assert twins == set()


def test_a_view_and_the_model_word_a_range_the_same_way():
    from widgets import PositionalEncodingView

    from minigpt.positional_views import positional_tables

    view = PositionalEncodingView(positional_tables(max_len=6, dim=4, n_heads=4))
    with pytest.raises(ValueError) as from_view:
        view.alibi_head = 4
    with pytest.raises(ValueError) as from_checks:
        minigpt.arguments.require_int(4, "alibi_head", 0, 3)
    assert str(from_view.value) == str(from_checks.value) == "alibi_head must be an int in [0, 3], got 4"


def test_every_view_builds_its_widget_once_when_first_asked_through_view():
    import plotly.graph_objects as go

    import widgets
    from minigpt.tokenizers import CharTokenizer
    from widgets import FigureView, TokenView
    from widgets._base import View

    own = [name for name in widgets.__all__ if "widget" in vars(getattr(widgets, name))]
    assert own == [], f"these views define `widget` themselves; implement _build_widget instead: {own}"
    for view in (FigureView(go.Figure()), TokenView("abc", CharTokenizer.from_text("abc"))):
        assert view._widget is None  # a view only drawn as a picture never builds it
        assert view.widget is view.widget and isinstance(view, View)
