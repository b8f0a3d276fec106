"""Automatic checks for the notebooks' exercises.

Each ``check_*`` function takes the learner's answer, compares it with ``minigpt``'s own
implementation and returns a :class:`Result` that prints a friendly pass/fail with a hint.
A wrong answer returns ``passed=False`` (it does not raise), so a notebook keeps running.
"""
