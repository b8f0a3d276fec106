"""The notebook-06 check passes the right get_batch and fails each typical mistake with a hint."""

import torch

from minigpt.course.exercises.training import check_get_batch


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


# -- Exercise 3: one training step by hand ------------------------------------------------------------

from minigpt.course.exercises.training import _STEP_CLIP, _step_setup, check_training_step, training_step  # noqa: E402


def _step(order=("zero_grad", "forward", "backward", "clip", "step"), clip=torch.nn.utils.clip_grad_norm_,
          returns="loss"):
    """A training step with the moves in ``order`` (some left out), for the usual slips."""
    def step(model, optimizer, x, y, grad_clip):
        loss = None
        for move in order:
            if move == "zero_grad":
                optimizer.zero_grad()
            elif move == "forward":
                _, loss = model(x, y)
            elif move == "backward":
                loss.backward()
            elif move == "clip":
                clip(model.parameters(), grad_clip)
            elif move == "step":
                optimizer.step()
        if returns == "after":
            with torch.no_grad():
                return model(x, y)[1]
        return loss.item() if returns == "item" else loss
    return step


def test_training_step_reference_and_equivalent_answers_pass():
    assert check_training_step(training_step).passed
    assert check_training_step(_step()).passed
    assert check_training_step(_step(returns="item")).passed
    # zero_grad at the very end of the previous step is just as right as at the start of this one
    def zero_after(model, optimizer, x, y, grad_clip):
        optimizer.zero_grad()
        loss = _step(order=("forward", "backward", "clip", "step"))(model, optimizer, x, y, grad_clip)
        optimizer.zero_grad()
        return loss
    assert check_training_step(zero_after).passed


def test_the_clip_acts_in_both_test_steps():
    model, batches = _step_setup()
    for x, y in batches:
        model.zero_grad()
        model(x, y)[1].backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
        assert norm > 4 * _STEP_CLIP, norm


def test_training_step_names_the_usual_slips():
    no_zero = check_training_step(_step(order=("forward", "backward", "clip", "step")))
    assert not no_zero.passed and "second" in no_zero.message and "zero_grad" in no_zero.hint
    no_clip = check_training_step(_step(order=("zero_grad", "forward", "backward", "step")))
    assert not no_clip.passed and "without gradient clipping" in no_clip.message
    by_value = check_training_step(_step(clip=torch.nn.utils.clip_grad_value_))
    assert not by_value.passed and "clip_grad_norm_" in by_value.hint
    no_step = check_training_step(_step(order=("zero_grad", "forward", "backward", "clip")))
    assert not no_step.passed and "not changed" in no_step.message
    zero_late = check_training_step(_step(order=("forward", "backward", "zero_grad", "clip", "step")))
    assert not zero_late.passed and "not changed" in zero_late.message
    clip_after = check_training_step(_step(order=("zero_grad", "forward", "backward", "step", "clip")))
    assert not clip_after.passed and "without gradient clipping" in clip_after.message
    after = check_training_step(_step(returns="after"))
    assert not after.passed and "AFTER" in after.hint
    none = check_training_step(lambda model, optimizer, x, y, grad_clip: _step()(model, optimizer, x, y, grad_clip) and None)
    assert not none.passed and "None" in none.message


def test_training_step_check_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    check_training_step(training_step)
    after = torch.rand(2)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(2))
