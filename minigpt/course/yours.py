"""Your GPT: the pieces you wrote in notebooks 03, 05 and 06, assembled into a model that trains like ``GPT``.

    model = your_gpt(gpt_forward, GPT(config))   # prints, per piece, whether yours or the reference runs
    logits, loss = model(x, y)                   # your forward pass, on the weights of the GPT you gave it

Each piece comes from the notebook where you wrote it: its exercise cell is read from that notebook's file in the
current folder (the folder of the notebooks, where Jupyter runs them; save a notebook to update what is read) and
run in a namespace of its own. A piece is used only when it passes its check; until then the package's reference
stands in, and the printed line says so. The model needs what those exercises assume: learned positions, pre-norm
LayerNorm blocks with GPT-2's GELU MLP, one key/value head per query head, no dropout.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from minigpt.course.editions import is_exercise, read_notebook
from minigpt.course.exercises.attention import check_attention, check_multi_head
from minigpt.course.exercises.block import check_block
from minigpt.course.exercises.solutions import passing_or_reference
from minigpt.course.exercises.training import check_gpt_forward

# (notebook number, its exercise cells by grade id, the check that judges them) in the order they build on each other
EARLIER_PIECES = (
    ("03", ("attention",), check_attention),
    ("03", ("multi_head_attention",), check_multi_head),
    ("05", ("mlp", "block_forward"), check_block),
)


def exercise_sources(folder: Path, number: str) -> tuple[str, dict[str, str]]:
    """(the notebook's file name, {grade id: source} of its exercise cells) for notebook ``number`` in ``folder``;
    ("", {}) when there is no such notebook."""
    found = sorted(folder.glob(f"{number}_*.ipynb"))
    if not found:
        return "", {}
    cells = read_notebook(found[0]).cells
    return found[0].name, {c.metadata["nbgrader"]["grade_id"]: c.source for c in cells if is_exercise(c)}


def run_cells(sources: list[str], namespace: dict) -> dict | None:
    """The functions the exercise cells define, run in ``namespace`` (which earlier pieces live in, as the names
    a notebook's later cells see); None when a cell does not run (a syntax error, an import that fails)."""
    defined = dict(namespace)
    try:
        for source in sources:
            exec(compile(source, "<exercise cell>", "exec"), defined)  # noqa: S102 - the learner's own notebook
    except Exception:  # noqa: BLE001 - any failure of the learner's cell means: not yet, use the reference
        return None
    return defined


def earlier_pieces(folder: str | Path = ".") -> dict:
    """{name: function} for each earlier piece: the learner's from its notebook when it passes its check, else
    the reference; prints one line per check saying which."""
    folder = Path(folder)
    namespace = {"torch": torch, "F": F, "nn": nn, "math": math, "np": np}
    notebooks = {number: exercise_sources(folder, number) for number, _, _ in EARLIER_PIECES}  # each read once
    for number, names, check in EARLIER_PIECES:
        notebook, cells = notebooks[number]
        defined = run_cells([cells[name] for name in names], namespace) if all(n in cells for n in names) else None
        # a function the cell does not define counts as a stub of that name, so the printed line names the piece
        learner = [(defined or {}).get(name) or _named_stub(name) for name in names]
        if not notebook:
            where = f"(notebook {number} is not in this folder)"
        else:
            where = f"in {notebook}" if defined else f"in {notebook} (its cell does not run yet)"
        chosen = passing_or_reference(check, *learner, where=where)
        namespace.update(zip(names, chosen if len(names) > 1 else (chosen,)))
    return {name: namespace[name] for _, names, _ in EARLIER_PIECES for name in names}


def _named_stub(name: str):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    stub.__name__ = name
    return stub


class YourGPT(nn.Module):
    """The GPT ``model`` run by your pieces: ``gpt_forward`` with ``block_forward``, whose attention is
    ``multi_head_attention`` (with ``attention`` inside) and whose MLP is ``mlp``. Same parameters, same call:
    ``logits, loss = your_model(idx, targets)``."""

    def __init__(self, model: nn.Module, pieces: dict):
        super().__init__()
        self.model, self.pieces, self.config = model, pieces, model.config

    def forward(self, idx, targets=None):
        p = self.pieces

        def block(x, b):  # x [B, T, C] through block b of self.model
            return p["block_forward"](x, b, p["multi_head_attention"], p["mlp"])

        return p["gpt_forward"](idx, self.model, block, targets)


def your_gpt(gpt_forward, model: nn.Module, folder: str | Path = ".") -> YourGPT:
    """``model``'s weights run by your pieces (the earlier notebooks' and ``gpt_forward``), each yours once it passes."""
    config = model.config
    needs = dict(pos="learned", norm="layernorm", mlp="gelu", prenorm=True, dropout=0.0, n_kv_head=config.n_head)
    wrong = {k: getattr(config, k) for k, v in needs.items() if getattr(config, k) != v}
    if wrong:
        raise ValueError(f"your pieces build a GPT-2 style model, but this config has {wrong}; use "
                         f"config.replace(**{ {k: needs[k] for k in wrong} })")
    pieces = earlier_pieces(folder)
    pieces["gpt_forward"] = passing_or_reference(check_gpt_forward, gpt_forward)
    return YourGPT(model, pieces)
