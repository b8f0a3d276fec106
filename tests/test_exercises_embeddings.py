"""The notebook 02 checks pass the solutions and fail wrong answers."""

import torch
import torch.nn.functional as F

from minigpt.course.exercises.embeddings import check_most_similar, check_one_hot_lookup, most_similar


def test_one_hot_lookup_solution_passes():
    result = check_one_hot_lookup(lambda ids, weight: F.one_hot(ids, weight.shape[0]).float() @ weight)
    assert result.passed, repr(result)


def test_one_hot_lookup_wrong_answers_fail():
    # off by one id
    off = check_one_hot_lookup(lambda ids, weight: weight[(ids + 1) % weight.shape[0]])
    assert not off.passed and "rows" in off.message
    # forgot the vector dimension
    shape = check_one_hot_lookup(lambda ids, weight: F.one_hot(ids, weight.shape[0]).float())
    assert not shape.passed and "(B, T, C)" in shape.message
    # long @ float raises: the hint says what to do
    raised = check_one_hot_lookup(lambda ids, weight: F.one_hot(ids, weight.shape[0]) @ weight)
    assert not raised.passed and ".float()" in raised.hint


def test_most_similar_reference_ranks_by_direction_and_excludes():
    weight = torch.tensor([[10.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0 + 5.0]])
    assert most_similar(weight, torch.tensor([0.0, 1.0]), k=2) in ([1, 3], [3, 1])
    assert most_similar(weight, torch.tensor([1.0, 0.9]), k=1) == [2]
    assert most_similar(weight, torch.tensor([1.0, 0.9]), k=1, exclude=[2]) == [0]


def test_most_similar_solution_passes():
    assert check_most_similar(most_similar).passed


def test_most_similar_wrong_answers_fail():
    def dot_product(weight, vector, k, exclude):
        scores = weight @ vector
        scores[list(exclude)] = float("-inf")
        return scores.topk(k).indices.tolist()

    dot = check_most_similar(dot_product)
    assert not dot.passed and "dot product" in dot.message

    def no_exclude(weight, vector, k, exclude):
        return F.cosine_similarity(weight, vector[None], dim=-1).topk(k).indices.tolist()

    assert not check_most_similar(no_exclude).passed

    def worst_first(weight, vector, k, exclude):
        return list(reversed(most_similar(weight, vector, k, exclude)))

    order = check_most_similar(worst_first)
    assert not order.passed and "order" in order.message
