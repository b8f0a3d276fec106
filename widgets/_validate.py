"""Input checks shared by the views: say what is wrong and how to fix it."""

from __future__ import annotations

import numpy as np


def as_float_array(x, name: str) -> np.ndarray:
    """numpy float32 copy of an array-like (numpy, list, or a torch tensor on any device)."""
    if hasattr(x, "detach"):  # a torch tensor: no torch import needed to convert it
        x = x.detach().float().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}: {err}") from None
    return arr


def check_finite(arr: np.ndarray, name: str, axes: tuple[str, ...]) -> None:
    """Raise ValueError naming the first NaN/inf position, e.g. 'layer 1, head 0, row 3'."""
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        position = ", ".join(f"{axis} {i}" for axis, i in zip(axes, where))
        raise ValueError(f"{name} contains NaN or inf (first at {position}); check the model/capture for overflow")


def check_tokens(tokens, name: str = "tokens") -> list[str]:
    if isinstance(tokens, str):
        raise TypeError(f"{name} must be a list of token strings, not one string; e.g. tokenizer.tokenize(text)")
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise ValueError(f"{name} is empty: pass at least one token (was the text empty?)")
    return tokens


def check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: pass at least one character to tokenize")
    return text
