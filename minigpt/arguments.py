"""The one place for argument validation: a wrong number is an error that says what and how to fix it.

(Validators are named ``require_*``; in this package "check" means an exercise check, minigpt.course.exercises.)

Python quietly accepts a lot that is wrong for a model: ``True`` is an int (it equals 1), ``2.7``
passes ``>= 1``, and every comparison with ``nan`` is False, so ``nan < 0`` lets a NaN through a
range check. Each helper below refuses those and names the setting in its message::

    require_int(0, "batch_size", minimum=1)       # ValueError: batch_size must be an int >= 1, got 0
    require_number(float("nan"), "temperature")   # ValueError: temperature must be a finite number, got nan
    require_ids([1.5, 2.7], vocab_size=65)        # TypeError: token ids must be a flat list of ints, got 1.5 ...

No torch at import time: ``require_id_tensor`` takes the tensor it is given.
"""

from __future__ import annotations

import math
import numbers
import sys


class WrongType(TypeError, ValueError):
    """A value of the wrong type (``2.5`` for a count, ``True`` for a size, ``None`` for text).

    It is a TypeError, and also a ValueError, so code that guards a setting with
    ``except ValueError`` catches every bad value, whatever was wrong with it.
    """


def is_int(value) -> bool:
    """A real integer: a Python or numpy int, never a bool (``True == 1`` but is not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # numpy's bool_ is not Integral


def is_number(value) -> bool:
    """An int or float (Python or numpy), never a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def require_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, or TypeError/ValueError naming ``name`` and the allowed range."""
    if not is_int(value):
        raise WrongType(f"{name} must be an int{_range(minimum, maximum)}, got {value!r} ({type(value).__name__})")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an int{_range(minimum, maximum)}, got {value!r}")
    return int(value)


def require_number(value, name: str, minimum: float | None = None, maximum: float | None = None, *,
                 min_open: bool = False, max_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite float in the range, or TypeError/ValueError naming ``name``.

    ``min_open=True`` excludes the minimum itself (``> 0`` rather than ``>= 0``); ``hint`` is added
    to the message, e.g. ``"0 = greedy"``.
    """
    span = _range(minimum, maximum, min_open, max_open)
    extra = f" ({hint})" if hint else ""
    if not is_number(value):
        raise WrongType(f"{name} must be a number{span}{extra}, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number{span}{extra}, got {value!r}")
    too_low = minimum is not None and (number <= minimum if min_open else number < minimum)
    too_high = maximum is not None and (number >= maximum if max_open else number > maximum)
    if too_low or too_high:
        raise ValueError(f"{name} must be a number{span}{extra}, got {value!r}")
    return number


def problems_of(*checks) -> list[str]:
    """Run several checks (each a function of no arguments) and collect their messages.

    A config reports every bad field at once rather than one per attempt::

        problems_of(lambda: require_int(0, "n_layer", 1), lambda: require_number(-1.0, "dropout", 0.0, 1.0))
    """
    problems = []
    for check in checks:
        try:
            check()
        except (TypeError, ValueError) as error:
            problems.append(str(error))
    return problems


def require_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def require_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise WrongType(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def require_ids(ids, vocab_size: int | None = None, name: str = "token ids") -> list[int]:
    """A flat sequence of token ids as a list of ints, each in ``0 .. vocab_size - 1``.

    Accepts a list, a tuple, any other iterable of ids, or anything with ``tolist()`` (a 1-D tensor or array). A float or a bool
    is not an id: ``[1.5, 2.7]`` would silently become other tokens if we rounded it.
    """
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, (str, bytes, dict)) or not hasattr(ids, "__iter__"):
        raise WrongType(f"{name} must be a flat list of int ids (or a 1-D tensor), got {type(ids).__name__}")
    ids = list(ids)  # a tuple, a range, a generator
    for position, token in enumerate(ids):
        if not is_int(token):
            raise WrongType(f"{name} must be a flat list of ints, got {token!r} ({type(token).__name__}) at "
                            f"position {position}"
                            + ("; for a batch, pass each row separately" if isinstance(token, (list, tuple)) else ""))
        if vocab_size is not None and not 0 <= token < vocab_size:
            raise ValueError(f"{name}: id {token} at position {position} is outside the vocabulary "
                             f"(vocab_size {vocab_size}, so ids run from 0 to {vocab_size - 1})")
    return [int(token) for token in ids]


def require_text(text, name: str = "text") -> str:
    """A str that is valid Unicode: not None, not bytes, no lone surrogate (half of a UTF-16 pair,
    e.g. from a broken JSON escape), which no tokenizer can turn into bytes."""
    if isinstance(text, (bytes, bytearray)):
        raise WrongType(f"{name} must be a str, got bytes; decode it first, e.g. data.decode('utf-8')")
    if not isinstance(text, str):
        raise WrongType(f"{name} must be a str, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"{name} contains a lone surrogate {text[error.start]!r} at position {error.start}, "
                         "which is not a character; fix the text where it was read or decoded") from None
    return text


def require_id_tensor(idx, vocab_size: int, name: str = "idx") -> None:
    """Every id of an integer tensor lies in ``0 .. vocab_size - 1`` (one min/max pass over it).

    Without this an embedding lookup fails deep inside torch with "index out of range in self"
    on CPU, or a device-side assert on CUDA, and never says which id or what the vocabulary is.
    """
    if idx.numel() == 0:
        return
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name} holds token id {bad}, outside the vocabulary (vocab_size {vocab_size}, "
                         f"so ids run from 0 to {vocab_size - 1}); was it encoded with a different tokenizer?")


def _range(minimum, maximum, min_open: bool = False, max_open: bool = False) -> str:
    if minimum is not None and maximum is not None:
        return f" in {'(' if min_open else '['}{minimum}, {maximum}{')' if max_open else ']'}"
    if minimum is not None:
        return f" {'>' if min_open else '>='} {minimum}"
    if maximum is not None:
        return f" {'<' if max_open else '<='} {maximum}"
    return ""


def run_tool(prog: str, work) -> int:
    """A command-line tool's exit status: ``work()`` returns the line to print on success (status 0); bad input,
    a ValueError or an OSError, is one line on stderr, ``{prog}: error: ...`` (status 2). Any other exception is a
    bug and keeps its traceback."""
    try:
        done = work()
    except (ValueError, OSError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    print(done, end="" if done.endswith("\n") else "\n")
    return 0
