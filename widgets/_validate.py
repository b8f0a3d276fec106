"""Input checks only the views need: arrays as float32 numpy, labels as strings, a tokenizer to draw.

Numbers, flags and token ids are checked by ``minigpt.arguments`` (no torch at import time), the package's one
place for them, so a view and the model word a bad value the same way.
"""

from __future__ import annotations

import numpy as np

from minigpt.arguments import WrongType, require_text


def as_float_array(x, name: str) -> np.ndarray:
    """numpy float32 copy of an array-like (numpy, list, or a torch tensor on any device)."""
    if hasattr(x, "detach"):  # a torch tensor: no torch import needed to convert it
        x = x.detach().float().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise WrongType(f"{name} must be a numeric array, got {type(x).__name__}: {err}") from None
    return arr


def require_finite(arr: np.ndarray, name: str, axes: tuple[str, ...]) -> None:
    """Raise ValueError naming the first NaN/inf position, e.g. 'layer 1, head 0, row 3'."""
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        position = ", ".join(f"{axis} {i}" for axis, i in zip(axes, where))
        raise ValueError(f"{name} contains NaN or inf (first at {position}); check the model/capture for overflow")


def require_strings(values, name: str, what: str, example: str) -> list[str]:
    """``values`` (one label per position or point) as a list of str; ``None``, one string or a number
    is a TypeError naming ``name``, not a failure deep inside the view. ``what`` says what the strings
    are ("token strings"), ``example`` how to make them."""
    if isinstance(values, str):
        raise WrongType(f"{name} must be a list of {what}, not one string; e.g. {example}")
    if not hasattr(values, "__iter__") or isinstance(values, bytes):
        raise WrongType(f"{name} must be a list of {what}, got {values!r} ({type(values).__name__}); e.g. {example}")
    return [str(v) for v in values]


def require_tokens(tokens, name: str = "tokens") -> list[str]:
    tokens = require_strings(tokens, name, "token strings", "tokenizer.tokenize(text)")
    if not tokens:
        raise ValueError(f"{name} is empty: pass at least one token (was the text empty?)")
    return tokens


def require_tokenizer(tokenizer, name: str = "tokenizer"):
    """``tokenizer`` if it has ``encode`` and ``token_str`` (every minigpt tokenizer does), else a TypeError naming ``name``."""
    if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "token_str")):
        raise WrongType(f"{name}: a tokenizer needs encode(text) and token_str(id), as every minigpt tokenizer has; got "
                        f"{type(tokenizer).__name__} (wrap a tiktoken encoding in minigpt.tokenizers.TiktokenTokenizer)")
    return tokenizer


def require_text_to_tokenize(text) -> str:
    """``text`` as a valid str (``minigpt.arguments.require_text``) with at least one character to tokenize."""
    if not require_text(text):
        raise ValueError("text is empty: pass at least one character to tokenize")
    return text
