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
