"""Helpers shared by the tensor-valued exercise checks: call the learner's code safely, check
the output's type and shape, and name the mistake when a wrong answer matches a known one."""

from __future__ import annotations

import torch

from minigpt.exercises._result import Result, failed

ATOL = 1e-5  # the learner's answer must match ours this closely (float32)


def diagnose(out, expected, mistakes, generic_hint, nan_hint="print the intermediate tensors to find where NaN appears."):
    """A failed Result for a wrong ``out``: the hint of the first known mistake (list of (output, hint)) that
    ``out`` matches, else ``generic_hint``."""
    if torch.isnan(out).any():
        return failed("your output contains NaN.", nan_hint)
    for wrong, hint in mistakes:
        if wrong.shape == out.shape and torch.allclose(out, wrong, atol=ATOL):
            return failed(f"close, but not the same as the reference (max difference "
                          f"{(out - expected).abs().max().item():.3g}).", hint)
    return failed(f"the output differs from the reference by up to {(out - expected).abs().max().item():.3g}.",
                  generic_hint)


def call_learner(fn, *args, **kwargs):
    """fn(*args, **kwargs), or a failed Result explaining the exception it raised."""
    try:
        return fn(*args, **kwargs)
    except Exception as error:  # the learner's code: report, never crash the notebook
        return failed(f"your function raised {type(error).__name__}: {error}",
                      "run it on small tensors in a cell of its own and print the shape after each step.")


def check_tensor(out, expected_shape, what, shape_hint=""):
    """None if ``out`` is a tensor of the expected shape, else a failed Result saying what is wrong."""
    if isinstance(out, Result):
        return out
    if not isinstance(out, torch.Tensor):
        return failed(f"{what} should return a torch.Tensor, got {type(out).__name__}.",
                      "return the tensor itself (not a tuple or a numpy array).")
    if tuple(out.shape) != tuple(expected_shape):
        return failed(f"{what} returned shape {tuple(out.shape)}, expected {tuple(expected_shape)}.",
                      shape_hint)
    return None
