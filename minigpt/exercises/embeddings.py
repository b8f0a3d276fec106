"""Checks for notebook 02 (embeddings): the embedding table as a lookup, and nearest neighbours by cosine.

An embedding table ``weight`` has shape (V, C): row i is the vector of token i. Looking a token
up is the same as multiplying its one-hot vector (V,) by the table, which is why an
``nn.Embedding`` is a linear layer that skips the multiplications by zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from minigpt.exercises._result import Result, failed, passed


def check_one_hot_lookup(learner_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Result:
    """Compare ``learner_fn(ids, weight)`` ((B, T) ids, (V, C) table -> (B, T, C)) with ``F.embedding``."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(11, 5, generator=generator)  # (V, C)
    ids = torch.randint(0, 11, (2, 6), generator=generator)  # (B, T)
    try:
        got = learner_fn(ids, weight)
    except Exception as error:  # a learner's bug should print a hint, not stop the notebook
        return failed(f"your function raised {type(error).__name__}: {error}",
                      "F.one_hot(ids, V) is a long tensor; make it float with .float() before the matmul")
    want = F.embedding(ids, weight)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return failed(f"expected shape {tuple(want.shape)} = (B, T, C), got {shape}",
                      "one_hot gives (B, T, V); (B, T, V) @ (V, C) -> (B, T, C)")
    if not torch.allclose(got.float(), want, atol=1e-5):
        return failed("your vectors are not the table's rows for these ids",
                      "multiply the one-hot vectors by the table itself (not its transpose): one_hot @ weight")
    return passed("one-hot @ W gives exactly W[ids], the rows nn.Embedding looks up")


def most_similar(weight: torch.Tensor, vector: torch.Tensor, k: int = 5, exclude: Sequence[int] = ()) -> list[int]:
    """Ids of the ``k`` rows of ``weight`` (V, C) with the highest cosine similarity to ``vector`` (C,),
    best first, never returning an id in ``exclude`` (e.g. the words of an analogy question)."""
    similarity = F.cosine_similarity(weight, vector.unsqueeze(0), dim=-1)  # (V,)
    similarity[list(exclude)] = float("-inf")
    return similarity.topk(k).indices.tolist()


def check_most_similar(learner_fn: Callable[..., Sequence[int]]) -> Result:
    """Compare ``learner_fn(weight, vector, k, exclude)`` with :func:`most_similar` on random tables.

    The tables have rows of very different lengths, so ranking by the plain dot product fails.
    """
    generator = torch.Generator().manual_seed(0)
    for trial in range(3):
        weight = torch.randn(30, 8, generator=generator) * torch.rand(30, 1, generator=generator) * 10  # (V, C)
        vector = torch.randn(8, generator=generator)
        exclude = [trial, 7]
        want = most_similar(weight, vector, 4, exclude)
        try:
            got = [int(i) for i in learner_fn(weight.clone(), vector.clone(), 4, exclude)]
        except Exception as error:
            return failed(f"your function raised {type(error).__name__}: {error}",
                          "F.cosine_similarity(weight, vector.unsqueeze(0), dim=-1) gives one score per row")
        if set(got) & set(exclude):
            return failed(f"you returned excluded ids {sorted(set(got) & set(exclude))}",
                          "set the similarity of the excluded ids to -inf before taking the top k")
        if sorted(got) != sorted(want):
            dot = (weight @ vector)
            dot[exclude] = float("-inf")
            if sorted(got) == sorted(dot.topk(4).indices.tolist()):
                return failed("you ranked by the dot product, which favours long vectors",
                              "divide by both lengths (cosine similarity) so only the direction counts")
            return failed(f"you returned ids {got}, the {len(want)} nearest by cosine are {want}",
                          "score every row with cosine similarity, then take torch.topk(scores, k)")
        if got != want:
            return failed("you found the right ids but not in order, best first",
                          "torch.topk returns the largest first; sorted ascending would be the wrong way round")
    return passed("your nearest neighbours match minigpt's most_similar")
