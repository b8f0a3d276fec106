"""The notebook-06 check passes the right get_batch and fails each typical mistake with a hint."""

import torch

from minigpt.exercises.training import check_get_batch


def solution(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in starts])
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in starts])
    return x, y


def test_solution_passes():
    assert check_get_batch(solution).passed


def test_targets_not_shifted_fails():
    def wrong(data, batch_size, block_size, generator):
        x, _ = solution(data, batch_size, block_size, generator)
        return x, x.clone()

    result = check_get_batch(wrong)
    assert not result.passed and "shifted" in result.message


def test_wrong_shape_fails():
    def wrong(data, batch_size, block_size, generator):
        x, y = solution(data, batch_size, block_size, generator)
        return x.T, y.T

    result = check_get_batch(wrong)
    assert not result.passed and "shape" in result.message


def test_float_dtype_fails():
    def wrong(data, batch_size, block_size, generator):
        x, y = solution(data, batch_size, block_size, generator)
        return x.float(), y.float()

    assert not check_get_batch(wrong).passed


def test_non_contiguous_rows_fail():
    def wrong(data, batch_size, block_size, generator):  # every other token: still "shifted by one" inside itself
        starts = torch.randint(len(data) - 2 * block_size - 2, (batch_size,), generator=generator)
        rows = torch.stack([data[i : i + 2 * block_size + 2 : 2] for i in starts])
        return rows[:, :-1], rows[:, 1:]

    result = check_get_batch(wrong)
    assert not result.passed and "contiguous" in result.message


def test_ignoring_the_generator_fails():
    def wrong(data, batch_size, block_size, generator):
        return solution(data, batch_size, block_size, torch.Generator().manual_seed(123))

    result = check_get_batch(wrong)
    assert not result.passed and "randint" in result.hint


def test_exception_becomes_a_failed_result():
    def broken(data, batch_size, block_size, generator):
        raise RuntimeError("oops")

    result = check_get_batch(broken)
    assert not result.passed and "RuntimeError" in result.message
