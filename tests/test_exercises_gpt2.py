"""Notebook 13's exercise: the share of attention on the first token, per layer."""

import torch

from minigpt.course.exercises.gpt2 import check_first_token_share, first_token_share


def test_the_reference_passes_and_reads_a_sink():
    assert check_first_token_share(first_token_share).passed
    T = 6
    sink = torch.zeros(2, 3, T, T)
    sink[..., 0] = 1.0  # every query looks only at token 0
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
    torch.testing.assert_close(first_token_share(sink), torch.ones(2))
    expected = (1.0 / torch.arange(2, T + 1)).mean()  # queries 1..T-1 spread evenly over i + 1 keys
    torch.testing.assert_close(first_token_share(uniform.expand(2, 3, T, T)), expected.expand(2))


def test_usual_mistakes_get_a_hint():
    with_query_0 = check_first_token_share(lambda a: a[:, :, :, 0].mean(dim=(1, 2)))
    assert not with_query_0.passed and "query 0" in with_query_0.message
    per_head = check_first_token_share(lambda a: a[:, :, 1:, 0].mean(dim=2))
    assert not per_head.passed and "expected (3,)" in per_head.message
    last_key = check_first_token_share(lambda a: a[:, :, 1:, -1].mean(dim=(1, 2)))
    assert not last_key.passed and "wrong key column" in last_key.message
    nothing = check_first_token_share(lambda a: None)
    assert not nothing.passed
