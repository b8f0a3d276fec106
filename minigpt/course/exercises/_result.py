"""The pass/fail report shared by every exercise check."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    passed: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        if self.passed:
            return f"PASS: {self.message}"
        text = f"NOT YET: {self.message}"
        return text + (f"\nHint: {self.hint}" if self.hint else "")

    def _repr_html_(self) -> str:
        colour = "#1b7f3b" if self.passed else "#b3261e"
        body = repr(self).replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>")
        return f'<div style="border-left:4px solid {colour};padding:4px 10px">{body}</div>'


def passed(message: str) -> Result:
    return Result(True, message)


def failed(message: str, hint: str = "") -> Result:
    return Result(False, message, hint)


def with_reference(*solutions):
    """Decorator: attach the reference solution(s) to a check, as ``check.reference`` (a tuple with one
    function per learner function the check takes, in the same order and with the same signature).

    The package's own, worked answer to each exercise: a notebook can fall back on it while the
    learner's version does not pass yet (``minigpt.course.exercises.solutions.passing_or_reference``), and
    the tests check that every check passes its reference, whatever form its answer takes.
    """

    def attach(check):
        check.reference = solutions
        return check

    return attach
