"""Checks for notebook 02 (embeddings): the embedding table as a lookup, and nearest neighbours by cosine.

An embedding table ``weight`` has shape (V, C): row i is the vector of token i. Looking a token
up is the same as multiplying its one-hot vector (V,) by the table, which is why an
``nn.Embedding`` is a linear layer that skips the multiplications by zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import (
    as_tensor,
    call_learner,
    close,
    int_list_answer,
    returned,
    tensor_answer,
)


def one_hot_lookup(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B, T) ids, (V, C) table -> (B, T, C): each id's one-hot vector (V,) times the table."""
    return F.one_hot(ids, weight.shape[0]).to(weight.dtype) @ weight  # (B, T, V) @ (V, C)


# The exercise says "not by indexing": the lookup must come out of a product with one-hot vectors.
# The result alone cannot tell (weight[ids] gives the same numbers), so the check watches *how* the
# table is used: the learner's function gets the table as a tensor subclass that notes every torch
# operation that looks rows up in it (weight[ids], index_select, F.embedding, gather, take). Only
# lookups in the table's own memory count (weight, weight.T, weight.detach() share it), so indexing
# the one-hot vectors or the product is fine, and so is any way of multiplying (@, matmul, einsum,
# broadcasting and summing). It needs nothing from the learner's code but that it uses torch.
_LOOKUPS = {"__getitem__": "weight[ids]", "index_select": "index_select", "embedding": "F.embedding",
            "gather": "gather", "take": "take", "take_along_dim": "take_along_dim"}


def _watched_table(weight: torch.Tensor):
    """(a tensor subclass holding ``weight``, a list that collects the lookups made in it)."""
    lookups: list[str] = []
    storage = weight.untyped_storage().data_ptr()

    class WatchedTable(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if name in _LOOKUPS and _is_lookup(name, args):
                # weight[ids] indexes its first argument; F.embedding(ids, weight) looks up in its second
                tables = args[:1] if name == "__getitem__" else (*args, *(kwargs or {}).values())
                with torch._C.DisableTorchFunctionSubclass():
                    if any(isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() == storage for t in tables):
                        lookups.append(_LOOKUPS[name])
            return super().__torch_function__(func, types, args, kwargs or {})

    return weight.as_subclass(WatchedTable), lookups


def _is_lookup(name: str, args) -> bool:
    """Slicing (weight[:, :2]) reads a block, not rows by id: only an index with ids in it is a lookup."""
    if name != "__getitem__":
        return True
    index = args[1] if len(args) > 1 else None
    parts = index if isinstance(index, tuple) else (index,)
    return not all(part is None or part is Ellipsis or isinstance(part, slice) for part in parts)


@with_reference(one_hot_lookup)
def check_one_hot_lookup(learner_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Result:
    """Compare ``learner_fn(ids, weight)`` ((B, T) ids, (V, C) table -> (B, T, C)) with ``F.embedding``,
    and make sure the rows come from a product with one-hot vectors, not from indexing the table."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(11, 5, generator=generator)  # (V, C)
    ids = torch.randint(0, 11, (2, 6), generator=generator)  # (B, T)
    table, lookups = _watched_table(weight.clone())
    got = call_learner(learner_fn, ids, table,
                       hint="F.one_hot(ids, V) is a long tensor; make it float with .float() before the matmul")
    if isinstance(got, Result):
        return got
    want = F.embedding(ids, weight)
    t = as_tensor(got)
    if t is None:
        return returned(got, "your function", f"a tensor of shape {tuple(want.shape)} = (B, T, C)",
                        "one_hot gives (B, T, V); (B, T, V) @ (V, C) -> (B, T, C)")
    if t.shape != want.shape:
        return failed(f"expected shape {tuple(want.shape)} = (B, T, C), got {tuple(t.shape)}",
                      "one_hot gives (B, T, V); (B, T, V) @ (V, C) -> (B, T, C)")
    answer = tensor_answer(got, want.shape, "your function")
    if isinstance(answer, Result):
        return answer
    got, atol = answer
    if not close(got, want, atol):
        return failed("your vectors are not the table's rows for these ids",
                      "multiply the one-hot vectors by the table itself (not its transpose): one_hot @ weight")
    if lookups:
        return failed(f"right rows, but you looked them up by indexing the table ({lookups[0]}); "
                      "the exercise is to get them with a matrix product",
                      "F.one_hot(ids, V).float() is (B, T, V); multiply it by the table: one_hot @ weight -> (B, T, C)")
    return passed("one-hot @ W gives exactly W[ids], the rows nn.Embedding looks up")


def most_similar(weight: torch.Tensor, vector: torch.Tensor, k: int = 5, exclude: Sequence[int] = ()) -> list[int]:
    """Ids of the ``k`` rows of ``weight`` (V, C) with the highest cosine similarity to ``vector`` (C,),
    best first, never returning an id in ``exclude`` (e.g. the words of an analogy question)."""
    similarity = F.cosine_similarity(weight, vector.unsqueeze(0), dim=-1)  # (V,)
    similarity[list(exclude)] = float("-inf")
    return similarity.topk(k).indices.tolist()


@with_reference(most_similar)
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
        got = call_learner(learner_fn, weight.clone(), vector.clone(), 4, exclude,
                           hint="F.cosine_similarity(weight, vector.unsqueeze(0), dim=-1) gives one score per row")
        got = int_list_answer(got, "your function", "return the ids as a list: scores.topk(k).indices.tolist()")
        if isinstance(got, Result):
            return got
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
