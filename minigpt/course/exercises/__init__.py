"""Automatic checks for the notebooks' exercises.

Each ``check_*`` function takes the learner's answer, compares it with ``minigpt``'s own
implementation and returns a :class:`Result` that prints a friendly pass/fail with a hint.

The checks are fair and never crash (see ``_tensor_checks``):

- a correct answer passes in any form: a torch tensor or a numpy array, any float dtype (float16
  and bfloat16 with a tolerance that fits them), any device, with or without ``requires_grad``;
  Python or numpy numbers;
- a wrong answer returns ``passed=False`` (it does not raise), so a notebook keeps running, and the
  message says what came back: "your function returned None" is not "your function raised ...";
- an exercise stub that still raises ``NotImplementedError`` gets "NOT YET: not implemented yet";
- a function that calls ``sys.exit()``, or runs longer than ``_tensor_checks.TIME_LIMIT_S`` (60 s; a loop
  that never ends), gets NOT YET saying so; Ctrl-C still interrupts a check.

Every check carries its reference solution as ``check.reference``; ``minigpt.course.exercises.solutions``
lists them all (``CHECKS``) and lets a notebook go on with the reference until the learner's
version passes (``passing_or_reference``).
"""
