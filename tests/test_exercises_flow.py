"""The notebook 00 check passes the solution and fails the usual mistakes, each with a hint."""

import torch

from minigpt.course.exercises.flow import check_next_token_distribution, next_token_distribution


def test_solution_passes():
    result = check_next_token_distribution(next_token_distribution)
    assert result.passed, repr(result)
    assert repr(result).startswith("PASS")


def test_first_position_instead_of_last_fails():
    result = check_next_token_distribution(lambda model, idx: torch.softmax(model(idx)[0][:, 0, :], dim=-1))
    assert not result.passed
    assert "logits[:, -1, :]" in result.hint


def test_logits_instead_of_probabilities_fails():
    result = check_next_token_distribution(lambda model, idx: model(idx)[0][:, -1, :])
    assert not result.passed
    assert "softmax" in result.hint


def test_softmax_over_wrong_dim_fails():
    result = check_next_token_distribution(lambda model, idx: torch.softmax(model(idx)[0], dim=1)[:, -1, :])
    assert not result.passed


def test_wrong_shape_and_exceptions_give_hints():
    shape = check_next_token_distribution(lambda model, idx: torch.softmax(model(idx)[0], dim=-1))
    assert not shape.passed and "(B, V)" in shape.message
    boom = check_next_token_distribution(lambda model, idx: 1 / 0)
    assert not boom.passed and "ZeroDivisionError" in boom.message
    assert repr(boom).startswith("NOT YET")
