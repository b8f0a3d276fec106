"""The notebook-08 head scores are right on hand-built heads, the logit lens check of its second part
accepts the lens and names its typical mistakes, and the checks catch typical mistakes."""

import torch

from minigpt.course.exercises.interpretability import (
    check_induction_score,
    check_logit_lens,
    check_previous_token_score,
    induction_scores,
    previous_token_scores,
)


def one_hot_head(T, key_of_query):
    """A head that puts all its attention on key_of_query(i) for each query i: (T, T)."""
    attention = torch.zeros(T, T)
    for i in range(T):
        attention[i, key_of_query(i)] = 1.0
    return attention


def test_scores_on_ideal_heads():
    T, period = 12, 6
    previous = one_hot_head(T, lambda i: max(i - 1, 0))
    induction = one_hot_head(T, lambda i: i - period + 1 if i >= period else 0)
    assert previous_token_scores(previous) == 1.0
    assert induction_scores(induction, period) == 1.0
    assert induction_scores(previous, period) == 0.0
    assert previous_token_scores(induction) < 0.2


def test_scores_keep_leading_dims():
    attention = torch.rand(3, 4, 10, 10)
    assert previous_token_scores(attention).shape == (3, 4)
    assert induction_scores(attention, 5).shape == (3, 4)


def test_induction_score_ignores_first_copy():
    T, period = 8, 4
    sink_only = one_hot_head(T, lambda i: 0)  # everything on the first token
    assert induction_scores(sink_only, period) == 0.0  # query period-1 -> key 0 is not an induction step


def previous_solution(attention):
    return attention.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)


def induction_solution(attention, period):
    return attention[..., period:, :].diagonal(offset=1, dim1=-2, dim2=-1).mean(-1)


def test_solutions_pass():
    assert check_previous_token_score(previous_solution).passed
    assert check_induction_score(induction_solution).passed


def test_duplicate_token_mistake_gets_its_own_hint():
    def duplicate(attention, period):  # attends to the earlier copy itself, one step too early
        return attention[..., period:, :].diagonal(offset=0, dim1=-2, dim2=-1).mean(-1)

    result = check_induction_score(duplicate)
    assert not result.passed and "earlier copy" in result.message


def test_wrong_scores_fail():
    assert not check_previous_token_score(lambda a: a.diagonal(dim1=-2, dim2=-1).mean(-1)).passed
    assert not check_previous_token_score(lambda a: previous_solution(a).mean()).passed  # collapsed the heads
    assert not check_induction_score(lambda a, period: a[..., period - 1 :, :].diagonal(offset=0, dim1=-2, dim2=-1).mean(-1)).passed


def test_the_logit_lens_check_passes_the_lens_and_names_its_mistakes():
    def lens(model, residual):
        return model.lm_head(model.transformer.ln_f(residual))

    assert check_logit_lens(lens).passed
    no_norm = check_logit_lens(lambda model, residual: model.lm_head(residual))
    assert not no_norm.passed and "final norm" in no_norm.message
    probabilities = check_logit_lens(lambda model, residual: lens(model, residual).softmax(dim=-1))
    assert not probabilities.passed and "probabilities" in probabilities.message
    embedding_only = check_logit_lens(lambda model, residual: model.transformer.ln_f(residual) @ model.transformer.wte.weight.T * 2)
    assert not embedding_only.passed and "differs" in embedding_only.message
    one_position = check_logit_lens(lambda model, residual: lens(model, residual)[:, -1])
    assert not one_position.passed


def test_the_logit_lens_check_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    check_logit_lens(lambda model, residual: model.lm_head(model.transformer.ln_f(residual)))
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))
