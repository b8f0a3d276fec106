"""The notebook-07 checks pass the solutions and fail typical mistakes."""

import torch

from minigpt.course.exercises.sampling import check_distinct_ngram_ratio, check_top_p, distinct_ngram_ratio


def top_p_solution(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    remove_sorted = probs.cumsum(dim=-1) - probs >= p
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def test_top_p_solution_passes():
    assert check_top_p(top_p_solution).passed


def test_top_p_dropping_the_crossing_token_fails():
    def wrong(logits, p):
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        remove_sorted = sorted_logits.softmax(dim=-1).cumsum(dim=-1) > p  # drops the token that crosses p
        remove_sorted[..., 0] = False
        return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), float("-inf"))

    result = check_top_p(wrong)
    assert not result.passed and "too few" in result.hint


def test_top_p_in_place_fails():
    def wrong(logits, p):
        return logits.masked_fill_(torch.isinf(top_p_solution(logits, p)), float("-inf"))

    result = check_top_p(wrong)
    assert not result.passed and "in place" in result.message


def test_top_p_identity_fails():
    result = check_top_p(lambda logits, p: logits.clone())
    assert not result.passed and "too many" in result.hint


def test_distinct_ngram_ratio_reference():
    assert distinct_ngram_ratio([1, 2, 3, 4], 2) == 1.0
    assert distinct_ngram_ratio([5] * 10, 1) == 0.1
    assert abs(distinct_ngram_ratio([1, 2, 3] * 5, 3) - 3 / 13) < 1e-12
    assert distinct_ngram_ratio([1], 3) == 1.0  # too short to repeat


def test_distinct_ngram_check_passes_solution_and_fails_mistake():
    def solution(ids, n):
        grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
        return len(set(grams)) / len(grams) if grams else 1.0

    def off_by_one(ids, n):  # misses the last n-gram
        grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n)]
        return len(set(grams)) / len(grams) if grams else 1.0

    assert check_distinct_ngram_ratio(solution).passed
    assert not check_distinct_ngram_ratio(off_by_one).passed
    assert not check_distinct_ngram_ratio(lambda ids, n: len(set(ids)) / len(ids)).passed


def test_distinct_ngram_check_tests_sequences_shorter_than_n():
    def divides_by_zero(ids, n):  # right on long inputs, but no n-grams means 0 / 0
        grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
        return len(set(grams)) / len(grams)

    result = check_distinct_ngram_ratio(divides_by_zero)
    assert not result.passed and "ZeroDivisionError" in result.message and "shorter than n" in result.hint

    def zero_when_short(ids, n):
        grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
        return len(set(grams)) / len(grams) if grams else 0.0

    result = check_distinct_ngram_ratio(zero_when_short)
    assert not result.passed and "shorter than n" in result.hint


def test_distinct_ngram_check_rejects_nan_and_accepts_numpy():
    import numpy as np

    nan = check_distinct_ngram_ratio(lambda ids, n: float("nan"))
    assert not nan.passed and "nan" in nan.message
    assert check_distinct_ngram_ratio(lambda ids, n: np.float64(distinct_ngram_ratio(ids, n))).passed
