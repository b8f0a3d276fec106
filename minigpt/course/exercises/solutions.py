"""Every exercise check and its reference solution, in one place.

Each ``check_*`` carries the package's own worked answer as ``check.reference``: a tuple with one
function per learner function the check takes, with the same signature (most checks take one;
``check_bpe_training`` takes two). So code can find the answer to any exercise without knowing
where it lives::

    from minigpt.course.exercises.solutions import CHECKS, passing_or_reference
    CHECKS["check_attention"].reference      # (minigpt.course.exercises.attention.attention,)

A notebook whose exercise is still a stub can go on with the reference until the learner's
version passes::

    attention = passing_or_reference(check_attention, attention)

The tests use the same registry to make sure every check passes its own reference, in every
form a correct answer can take (float64, numpy, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

MODULES = ("flow", "tokenization", "embeddings", "attention", "positions", "block", "training", "sampling",
           "interpretability", "architectures", "efficiency", "gpt2", "own")  # in notebook order (00 .. 12)


def all_checks() -> dict[str, Callable]:
    """{name: check} for every exercise check of the course, in notebook order."""
    checks = {}
    for module in MODULES:
        namespace = importlib.import_module(f"minigpt.course.exercises.{module}")
        for name, value in vars(namespace).items():
            if name.startswith("check_") and callable(value) and hasattr(value, "reference"):
                checks[name] = value
    return checks


CHECKS = all_checks()


def reference(check: Callable) -> tuple[Callable, ...]:
    """The reference solution(s) of ``check``: one function per learner function it takes."""
    return check.reference


def passing_or_reference(check: Callable, *learner_fns: Callable, where: str = ""):
    """The learner's function(s) when ``check`` passes them, else the package's reference solution(s), and one
    printed line saying which: "using your `attention`" or "using the reference `attention` until yours passes"
    (``where`` adds where yours lives, e.g. "in 03_attention.ipynb").

    One function in, one function out (a tuple for checks that take several). The check runs once
    here; it never raises, so an unfinished stub simply means the reference is used. A notebook rebinds
    the learner's name to the result (``attention = passing_or_reference(check_attention, attention)``), so
    running that cell again hands the reference back in: it passes, but it is still not the learner's.
    """
    names = " and ".join(f"`{getattr(fn, '__name__', None) or ref.__name__}`"
                         for fn, ref in zip(learner_fns, check.reference))
    given_the_reference = any(fn is ref for fn, ref in zip(learner_fns, check.reference))
    mine = not given_the_reference and check(*learner_fns).passed
    place = f" {where}" if where else ""
    print(f"using your {names}{place}" if mine else f"using the reference {names} until yours passes{place}")
    chosen = learner_fns if mine else check.reference
    return chosen[0] if len(chosen) == 1 else chosen
