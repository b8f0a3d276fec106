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


def check_strings(values, name: str, what: str, example: str) -> list[str]:
    """``values`` (one label per position or point) as a list of str; ``None``, one string or a number
    is a TypeError naming ``name``, not a failure deep inside the view. ``what`` says what the strings
    are ("token strings"), ``example`` how to make them."""
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of {what}, not one string; e.g. {example}")
    if not hasattr(values, "__iter__") or isinstance(values, bytes):
        raise TypeError(f"{name} must be a list of {what}, got {values!r} ({type(values).__name__}); e.g. {example}")
    return [str(v) for v in values]


def check_tokens(tokens, name: str = "tokens") -> list[str]:
    tokens = check_strings(tokens, name, "token strings", "tokenizer.tokenize(text)")
    if not tokens:
        raise ValueError(f"{name} is empty: pass at least one token (was the text empty?)")
    return tokens


def check_tokenizer(tokenizer, name: str = "tokenizer"):
    """``tokenizer`` if it has ``encode`` and ``token_str`` (every minigpt tokenizer does), else a TypeError naming ``name``."""
    if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "token_str")):
        raise TypeError(f"{name}: a tokenizer needs encode(text) and token_str(id), as every minigpt tokenizer has; got "
                        f"{type(tokenizer).__name__} (wrap a tiktoken encoding in minigpt.tokenizers.TiktokenTokenizer)")
    return tokenizer


def check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: pass at least one character to tokenize")
    return text


# -- numbers: the views' twin of minigpt.checks (widgets never import torch or minigpt at import time)


def is_int(value) -> bool:
    """A Python or numpy int, never a bool (``True`` equals 1 but is not a count or an index)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int in ``minimum..maximum``; a float (``2.7``) or a bool is an error, not rounded."""
    span = _span(minimum, maximum)
    if not is_int(value):
        raise TypeError(f"{name} must be an int{span}, got {value!r} ({type(value).__name__})")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an int{span}, got {value!r}")
    return int(value)


def check_number(value, name: str, minimum: float | None = None) -> float:
    """``value`` as a finite float >= ``minimum``; NaN and inf are refused."""
    span = "" if minimum is None else f" >= {minimum}"
    if not is_number(value):
        raise TypeError(f"{name} must be a number{span}, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        raise ValueError(f"{name} must be a finite number{span}, got {value!r}")
    return float(value)


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_ids(ids, vocab_size: int, name: str = "ids") -> list[int]:
    """Token ids as a list of ints in ``0 .. vocab_size - 1``: a negative id would silently index
    from the end of the vocabulary, a float would be truncated to some other token."""
    if hasattr(ids, "tolist"):  # numpy array or torch tensor, without importing torch
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"{name} must be a list of int token ids, got {type(ids).__name__}")
    ids = list(ids)
    for position, token in enumerate(ids):
        if not is_int(token):
            raise TypeError(f"{name} must be int token ids, got {token!r} ({type(token).__name__}) at position {position}")
        if not 0 <= token < vocab_size:
            raise ValueError(f"{name}: id {token} at position {position} is outside the vocabulary "
                             f"(vocab_size {vocab_size}, so ids run from 0 to {vocab_size - 1})")
    return [int(token) for token in ids]


def _span(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in {minimum}..{maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    return "" if maximum is None else f" <= {maximum}"
