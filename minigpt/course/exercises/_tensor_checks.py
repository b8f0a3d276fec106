"""Helpers shared by every exercise check: call the learner's code safely, turn its answer into
something we can compare, and say exactly what came back when it is not what we asked for.

A check must be *fair*: a correct answer passes however it is written down. So an answer may be a
torch tensor or a numpy array, in any float dtype, on any device, with or without ``requires_grad``;
numbers may be Python or numpy numbers. The helpers below normalise all of that before comparing:

    answer = tensor_answer(out, (B, T, C), "attention")   # -> (float32 CPU tensor, tolerance) or a Result
    count = number_answer(out, "count_block_params(64)", integer=True)   # -> int or a Result

And a check must *never crash*: whatever the learner's function does (raise, return None, return
NaN) the check returns a NOT YET :class:`Result` whose message says what happened, telling
"your function returned None" apart from "your function raised ZeroDivisionError".
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
from contextlib import contextmanager

import numpy as np
import torch

from minigpt.course.exercises._result import Result, failed

ATOL = 1e-5  # the learner's answer must match ours this closely (float32)

# Low-precision dtypes round every number they store, so an answer computed in them can only match to
# about their precision: float16 keeps ~3 decimal digits (eps 1e-3), bfloat16 ~2 (eps 8e-3). The tolerance
# is a few eps, far below the size of any mistake the checks look for (those differ by 0.1 or more).
_TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 5e-2}

NOT_IMPLEMENTED = "not implemented yet — replace `raise NotImplementedError()` with your code, then run this cell again."
_NOT_IMPLEMENTED_HINT = "the docstring above the stub says what to return, and in what shape."


def tolerance(dtype: torch.dtype) -> float:
    """How closely an answer stored in ``dtype`` must match: ATOL for float32/float64, looser below."""
    return _TOLERANCE.get(dtype, ATOL)


def not_implemented() -> Result:
    """The friendly NOT YET of an exercise whose stub still raises NotImplementedError."""
    return failed(NOT_IMPLEMENTED, _NOT_IMPLEMENTED_HINT)


# One call of the learner's function may run this long. The slowest reference answer takes ~0.1 s (a
# speculative-decoding round, a flash-attention pass with memory tracing), so even a version that loops
# over single numbers where the reference uses whole tensors finishes well inside it on a slow laptop.
TIME_LIMIT_S = 60.0


class _RanTooLong(BaseException):
    """Raised inside the learner's function when its time is up. A BaseException, like KeyboardInterrupt,
    so an ``except Exception`` in the learner's own code does not swallow it."""


@contextmanager
def _time_limit(seconds: float):
    """Stop the code inside the ``with`` after ``seconds`` by raising :class:`_RanTooLong` in it.

    It uses SIGALRM (``signal.setitimer``), so it works on POSIX (Linux, macOS) in the main thread, which
    is where a Jupyter kernel runs cells. Elsewhere there is no limit: on Windows (no SIGALRM), in another
    thread (signals reach the main thread only), and while another real-time timer is armed (an enclosing
    ``_time_limit``, pytest-timeout), which keeps its own. One long torch operation is stopped only when it
    returns (Python handles signals between its own steps).
    """
    if (not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread()
            or signal.getitimer(signal.ITIMER_REAL)[0] > 0):
        yield
        return
    inside = True

    def time_is_up(_signum, _frame):
        if inside:  # a signal handled after the code finished is too late to stop anything
            raise _RanTooLong

    previous = signal.signal(signal.SIGALRM, time_is_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        inside = False
        signal.setitimer(signal.ITIMER_REAL, 0)  # disarm before the old handler is back (SIGALRM's default kills)
        signal.signal(signal.SIGALRM, previous)


def call_learner(fn, *args, hint: str = "run it on small tensors in a cell of its own and print the shape after each step.",
                 name: str = "your function", **kwargs):
    """fn(*args, **kwargs), or a failed Result explaining what went wrong. Every check calls the learner's
    code through here, so this is the one place that makes sure it cannot stop a check:

    * ``raise NotImplementedError`` (an exercise stub not done yet) gets :func:`not_implemented`;
    * any other exception, and ``sys.exit()`` (SystemExit), is reported as NOT YET, never raised;
    * a call that runs longer than :data:`TIME_LIMIT_S` (a loop that never ends) is stopped and reported
      (see :func:`_time_limit` for where that works: POSIX, main thread); Ctrl-C still interrupts.

    A Result is how a check reports, so one coming back from the learner's function is not an answer.
    """
    if not callable(fn):
        return failed(f"the check needs your function itself, but it got {describe(fn)}.",
                      "pass the function by its name, without calling it: check_...(my_function), not my_function(...).")
    try:
        with _time_limit(TIME_LIMIT_S):
            out = fn(*args, **kwargs)
    except NotImplementedError:
        return not_implemented()
    except _RanTooLong:
        return failed(f"{name} ran longer than {TIME_LIMIT_S:g} s, so the check stopped it.",
                      "look for a loop that never ends (a `while` whose condition stays true, an index that never "
                      "moves); try your function on a small input in a cell of its own.")
    except SystemExit as error:  # sys.exit() or exit(): would end the check (and a script) without a word
        called = "sys.exit()" if error.code is None else f"sys.exit({error.code!r})"
        return failed(f"{name} called {called}, which ends the program instead of returning an answer.",
                      "return the value the exercise asks for; remove the sys.exit() (or exit()) call.")
    except Exception as error:  # the learner's code: report, never crash the notebook
        return failed(f"{name} raised {type(error).__name__}: {error}", hint)
    if isinstance(out, Result):
        return failed(f"{name} returned a check's result ({'PASS' if out.passed else 'NOT YET'}), not an answer.",
                      "return the value the exercise asks for, and call the check on your function in a cell of its own.")
    return out


def describe(value) -> str:
    """What a value is, in words a learner recognises: 'None', 'a list of 3 items', 'a float64 numpy
    array of shape (2, 3)', 'a torch.float16 tensor of shape (4,)', "a str ('36 MB')"."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        where = "" if value.device.type in ("cpu", "cuda", "mps") else f" on the {value.device.type} device"
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}{where}"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} numpy array of shape {value.shape}"
    if isinstance(value, (list, tuple, dict, set)):
        n = len(value)
        return f"a {type(value).__name__} of {n} item{'s' if n != 1 else ''}"
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__module__ + '.' if type(value).__module__ == 'numpy' else ''}{type(value).__name__} ({text})"


def returned(value, what: str, expected: str, hint: str = "") -> Result:
    """NOT YET for an answer of the wrong kind: '{what} returned None; expected a torch.Tensor.'"""
    if value is None:
        hint = "did you forget the `return` at the end of your function? " + hint
    return failed(f"{what} returned {describe(value)}; expected {expected}.", hint.strip())


def as_tensor(value) -> torch.Tensor | None:
    """A detached CPU torch tensor holding ``value`` (a tensor on any device, or a numpy array), else None."""
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor:  # a subclass (e.g. a check's watched table): a plain tensor
            value = value.as_subclass(torch.Tensor)
        try:
            return value.detach().cpu()
        except (RuntimeError, NotImplementedError):  # a tensor without data (the meta device): nothing to compare
            return None
    if isinstance(value, np.ndarray) and value.dtype != object:
        try:
            return torch.from_numpy(value.copy())  # a C-ordered copy (0-d stays 0-d), whatever the strides
        except TypeError:  # a numpy dtype torch has no equivalent for (strings, ...)
            return None
    return None


def non_finite(t: torch.Tensor, what: str = "your output", nan_hint: str = "") -> Result | None:
    """NOT YET if the float tensor ``t`` holds NaN or ±inf, else None."""
    if not t.is_floating_point():
        return None
    if torch.isnan(t).any():
        return failed(f"{what} contains NaN.", nan_hint or "print the intermediate tensors to find where NaN appears.")
    if torch.isinf(t).any():
        return failed(f"{what} contains inf.", "print the intermediate tensors to find where the numbers blow up.")
    return None


def tensor_answer(out, expected_shape, what, shape_hint="", *, cast: torch.dtype | None = torch.float32,
                  nan_hint: str = "", finite: bool = True):
    """``(tensor, tolerance)`` ready to compare with the reference, or a failed Result saying what is wrong.

    ``out`` may be a torch tensor or numpy array of any dtype, device and ``requires_grad``. It is cast
    to ``cast`` (float32 by default; ``cast=None`` keeps the dtype); a float answer must be finite
    (unless ``finite=False``). The tolerance fits the dtype the learner computed in.
    """
    if isinstance(out, Result):
        return out
    t = as_tensor(out)
    if t is None and tuple(expected_shape) == () and isinstance(out, numbers.Real) and not _is_bool(out):
        t = torch.tensor(float(out), dtype=torch.float64)  # one number asked for: a plain Python/numpy number is fine
    if t is None:
        return returned(out, what, "a torch.Tensor (or a numpy array)",
                        "return the tensor itself (not a list, a tuple or a number).")
    if tuple(t.shape) != tuple(expected_shape):
        return failed(f"{what} returned shape {tuple(t.shape)}, expected {tuple(expected_shape)}.", shape_hint)
    if t.is_complex():
        return returned(out, what, "real numbers", "complex numbers are not needed here.")
    atol = tolerance(t.dtype)
    if finite:
        problem = non_finite(t, "your output", nan_hint)
        if problem is not None:
            return problem
    elif t.is_floating_point() and torch.isnan(t).any():
        return failed("your output contains NaN.", nan_hint or "print the intermediate tensors to find where NaN appears.")
    if cast is not None:  # ints and bools too: compared as numbers, they simply will not match a float answer
        t = t.to(cast)
    return t, atol


def close(out: torch.Tensor, expected: torch.Tensor, atol: float = ATOL) -> bool:
    """allclose in float32, whatever the two dtypes: ``atol`` absolute plus the same relative slack when
    the answer was computed in low precision (atol > ATOL), so large values are judged fairly too."""
    rtol = atol if atol > ATOL else 1e-5
    return torch.allclose(out.float(), expected.float(), atol=atol, rtol=rtol)


def diagnose(out, expected, mistakes, generic_hint, nan_hint="print the intermediate tensors to find where NaN appears.",
             atol: float = ATOL):
    """A failed Result for a wrong ``out``: the hint of the first known mistake (list of (output, hint)) that
    ``out`` matches, else ``generic_hint``."""
    out, expected = out.float(), expected.float()
    if torch.isnan(out).any():
        return failed("your output contains NaN.", nan_hint)
    gap = (out - expected).abs().max().item()
    for wrong, hint in mistakes:
        if wrong.shape == out.shape and close(out, wrong, atol):
            return failed(f"{how_far(gap, expected)}: it is what a common mistake gives.", hint)
    return failed(f"the output differs from the reference by up to {gap:.3g}.", generic_hint)


def how_far(gap: float, expected: torch.Tensor) -> str:
    """Words for a max difference ``gap`` from ``expected``: "close" only when it is small next to the values.

    Small means at most 5% of the largest reference value (of 1 when the values are smaller): a near miss
    such as a slightly wrong constant. Anything larger is called far, whatever mistake caused it.
    """
    scale = max(1.0, expected.abs().max().item())
    if gap <= 0.05 * scale:
        return f"close to the reference, but not the same (max difference {gap:.3g})"
    return f"far from the reference (max difference {gap:.3g})"


def check_tensor(out, expected_shape, what, shape_hint=""):
    """None if ``out`` is a tensor or array of the expected shape, else a failed Result saying what is wrong.

    Kept for callers that only need the verdict; :func:`tensor_answer` also returns the tensor to compare.
    """
    answer = tensor_answer(out, expected_shape, what, shape_hint, cast=None, finite=False)
    return answer if isinstance(answer, Result) else None


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def number_answer(value, what: str, *, integer: bool = False, hint: str = ""):
    """``value`` as a Python number, or a failed Result. Python and numpy ints/floats and 0-d tensors or
    arrays count; a bool does not (``True == 1``, but it is not a count), nor NaN or inf. With
    ``integer=True`` the number must be whole (``4.0`` is fine: a float that holds a whole number)."""
    if isinstance(value, Result):
        return value
    t = as_tensor(value)
    if t is not None and t.dim() == 0 and t.dtype != torch.bool:
        value = t.item()
    if not isinstance(value, numbers.Real) or _is_bool(value):
        return returned(value, what, "a whole number" if integer else "a number", hint)
    if not math.isfinite(value):
        return failed(f"{what} returned {value}, not a finite number.", hint or "print the intermediate values.")
    if integer:
        if isinstance(value, numbers.Integral):
            return int(value)
        if not float(value).is_integer():
            return failed(f"{what} returned {value!r}; expected a whole number.", hint)
        return int(value)
    return value


def int_list_answer(value, what: str, hint: str = ""):
    """``value`` as a list of Python ints, or a failed Result. A list or tuple of ints (Python or numpy)
    counts, and so does a 1-D integer tensor or numpy array; floats, bools and nested lists do not."""
    if isinstance(value, Result):
        return value
    t = as_tensor(value)
    if t is not None:
        if t.dim() != 1 or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            return returned(value, what, "a list of ints", hint)
        return t.tolist()
    if not isinstance(value, (list, tuple)):
        return returned(value, what, "a list of ints", hint)
    if not all(isinstance(i, numbers.Integral) and not _is_bool(i) for i in value):
        bad = next(i for i in value if not isinstance(i, numbers.Integral) or _is_bool(i))
        return failed(f"{what} should be a list of ints, but it holds {bad!r}.", hint)
    return [int(i) for i in value]
