"""Course settings shared by the notebooks: one switch between a fast "ci" scale and a fuller "learner" scale.

The scale changes only sizes and step counts, never which code runs. Choose it with the
``MINIGPT_SCALE`` environment variable (``learner`` by default; the test suite sets ``ci``).
"""

from __future__ import annotations

import os

SCALES = ("ci", "learner")


def scale() -> str:
    value = os.environ.get("MINIGPT_SCALE", "learner").strip().lower()
    if value not in SCALES:
        raise ValueError(f"MINIGPT_SCALE must be one of {SCALES}, got {value!r}; unset it or pick one")
    return value


def pick(ci, learner):
    """``ci`` at the fast scale, ``learner`` otherwise: ``steps = pick(ci=200, learner=2000)``."""
    return ci if scale() == "ci" else learner


def setup(seed: int = 0) -> None:
    """Call once at the top of a notebook: seeds Python, numpy and torch so every run prints the same numbers."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    print(f"minigpt course | scale={scale()} | seed={seed}")
