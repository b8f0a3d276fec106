"""The encoder/decoder exercise checks pass the solutions and fail, with the right hint, on wrong answers."""

import torch

from minigpt.course.exercises.architectures import check_teacher_forcing, check_visibility, model_visibility


def visibility(T, causal):
    allowed = torch.ones(T, T, dtype=torch.bool)
    return allowed.tril() if causal else allowed


def teacher_forcing(target_ids, bos_id, eos_id):
    return [bos_id] + target_ids, target_ids + [eos_id]


def test_model_visibility_is_read_from_a_real_model():
    assert model_visibility(4, causal=False).all()
    assert torch.equal(model_visibility(4, causal=True), torch.ones(4, 4, dtype=torch.bool).tril())


def test_visibility_check_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_visibility(visibility)
    assert torch.equal(torch.rand(3), expected)


def test_visibility_solution_passes():
    result = check_visibility(visibility)
    assert result.passed and "PASS" in repr(result)


def test_visibility_mistakes_fail_with_hints():
    transposed = check_visibility(lambda T, c: visibility(T, c).T.contiguous())
    assert not transposed.passed and "triu" in transposed.hint
    no_diagonal = check_visibility(lambda T, c: visibility(T, c).tril(-1) if c else visibility(T, c))
    assert not no_diagonal.passed and "diagonal" in no_diagonal.hint
    always_causal = check_visibility(lambda T, c: visibility(T, True))
    assert not always_causal.passed and "encoder" in always_causal.message
    wrong_shape = check_visibility(lambda T, c: torch.ones(T, dtype=torch.bool))
    assert not wrong_shape.passed and "shape" in wrong_shape.message
    raising = check_visibility(lambda T, c: undefined_name)  # noqa: F821
    assert not raising.passed and "NameError" in raising.message


def test_teacher_forcing_solution_passes():
    assert check_teacher_forcing(teacher_forcing).passed
    as_tensors = check_teacher_forcing(lambda t, b, e: tuple(torch.tensor(x) for x in teacher_forcing(t, b, e)))
    assert as_tensors.passed


def test_teacher_forcing_mistakes_fail_with_hints():
    unshifted = check_teacher_forcing(lambda t, b, e: ([b] + t, [b] + t))
    assert not unshifted.passed and "NEXT" in unshifted.hint
    no_eos = check_teacher_forcing(lambda t, b, e: ([b] + t, t))
    assert not no_eos.passed and "eos_id" in no_eos.hint
    swapped = check_teacher_forcing(lambda t, b, e: teacher_forcing(t, b, e)[::-1])
    assert not swapped.passed and "[bos_id] + target" in swapped.hint
    one_list = check_teacher_forcing(lambda t, b, e: [b] + t + [e])
    assert not one_list.passed and "pair" in one_list.message
