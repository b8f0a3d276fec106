"""Course settings shared by the notebooks: the scale (fast "ci" or fuller "learner") and the seed.

The scale changes only sizes and step counts, never which code runs. Choose it with the
``MINIGPT_SCALE`` environment variable (``learner`` by default; the test suite sets ``ci``).

The seed comes from ``MINIGPT_SEED`` (0 by default). Every random choice in a notebook derives
from it, so running a notebook with ``MINIGPT_SEED=1`` is a genuinely different run: the claims a
notebook asserts must hold for any seed, not only for the one whose outputs are stored.
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
