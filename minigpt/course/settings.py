"""Course settings shared by the notebooks: the scale (fast "ci" or fuller "learner") and the seed.

The scale changes only sizes and step counts, never which code runs. Choose it with the
``MINIGPT_SCALE`` environment variable (``learner`` by default; the test suite sets ``ci``).

The seed comes from ``MINIGPT_SEED`` (0 by default). Every random choice in a notebook derives
from it, so running a notebook with ``MINIGPT_SEED=1`` is a genuinely different run: the claims a
notebook asserts must hold for any seed, not only for the one whose outputs are stored.

``write_course_prose`` is the one default that is data rather than a number: notebook 14's text to train on
when the learner brings none, the course's own markdown, so it runs offline.
"""

from __future__ import annotations

import os

SCALES = ("ci", "learner")


def scale() -> str:
    value = os.environ.get("MINIGPT_SCALE", "learner").strip().lower()
    if value not in SCALES:
        raise ValueError(f"MINIGPT_SCALE must be one of {SCALES}, got {value!r}; unset it or pick one")
    return value


def seed() -> int:
    """The course seed: ``MINIGPT_SEED`` as a non-negative integer, 0 when unset."""
    value = os.environ.get("MINIGPT_SEED", "0").strip()
    if not value.isdigit():
        raise ValueError(f"MINIGPT_SEED must be a non-negative integer such as 0 or 1, got {value!r}; unset it or fix it")
    return int(value)


def pick(ci, learner):
    """``ci`` at the fast scale, ``learner`` otherwise: ``steps = pick(ci=200, learner=2000)``."""
    return ci if scale() == "ci" else learner


def setup() -> int:
    """Call once at the top of a notebook: seeds Python, numpy and torch from ``MINIGPT_SEED`` and returns the seed.

    Use the returned value wherever the notebook needs a seed of its own (``torch.manual_seed(SEED)``,
    ``torch.Generator().manual_seed(SEED + 1)``), never a literal, so that a run with another seed
    really is another run.
    """
    import random

    import numpy as np
    import torch

    value = seed()
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    print(f"minigpt course | scale={scale()} | seed={value}")
    return value


def write_course_prose(notebooks: str | os.PathLike, out: str | os.PathLike | None = None):
    """Every markdown cell of the notebooks in ``notebooks`` (in file order) as one UTF-8 text file; its path.

    The default text of notebook 14 ("Your own GPT"): a few hundred kilobytes of English about transformers that
    ships with the course, so the notebook runs offline. ``out`` defaults to the course's cache folder.
    """
    import json
    from pathlib import Path

    from minigpt.data.corpus import cache_dir
    from minigpt.files import atomic_write

    paths = sorted(Path(notebooks).glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no .ipynb notebooks in {Path(notebooks).resolve()}; pass the course's notebooks/ folder")
    cells = []
    for path in paths:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "markdown":
                source = cell["source"]
                cells.append(source if isinstance(source, str) else "".join(source))
    out = Path(out) if out is not None else cache_dir() / "course_prose.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:  # a half-written file never replaces a good one
        f.write("\n\n".join(cells) + "\n")
    return out
