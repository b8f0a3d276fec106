"""Checks for notebook 01 (tokenization): the two functions at the heart of byte-pair encoding.

BPE training is a loop over two steps:

* ``get_pair_counts(ids)`` -- how often each adjacent pair of ids occurs, e.g.
  ``[1, 2, 1, 2, 3] -> {(1, 2): 2, (2, 1): 1, (2, 3): 1}``;
* ``merge(ids, pair, new_id)`` -- replace every occurrence of ``pair`` (left to right) by ``new_id``.

The checks compare the learner's functions with ``minigpt.tokenizers.bpe`` and finally train a
few merges with them, which must give exactly the merges ``minigpt``'s tokenizer learns.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Callable

import regex

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import (
    NOT_IMPLEMENTED,
    call_learner,
    int_list_answer,
    number_answer,
    returned,
)
from minigpt.tokenizers.bpe import GPT4_SPLIT_PATTERN, merge, train_steps

_PAIR_CASES = (
    [1, 2, 1, 2, 3],
    [5, 5, 5],  # overlapping pairs: (5, 5) occurs twice
    [7],  # one id: no pairs at all
    [],
    list("hello world".encode("utf-8")),
)

_MERGE_CASES = (
    ([1, 2, 3, 1, 2], (1, 2), 99),
    ([5, 5, 5], (5, 5), 99),  # left to right: the first two merge, the third is left over
    ([5, 5, 5, 5], (5, 5), 99),
    ([1, 2], (2, 1), 99),  # the pair in the other order is a different pair
    ([3, 1, 2], (1, 2), 99),  # a pair at the very end
)


def _call(fn: Callable, *args):
    """(result, None) or (None, a failed Result describing the exception)."""
    call = f"{getattr(fn, '__name__', 'your function')}({', '.join(map(repr, args))})"
    got = call_learner(fn, *args, name=call, hint="try your function by hand on a short list first")
    return (None, got) if isinstance(got, Result) else (got, None)


def get_pair_counts(ids: list[int]) -> dict[tuple[int, int], int]:
    """{pair: count} for every adjacent pair of ``ids``, overlaps included: [5, 5, 5] -> {(5, 5): 2}."""
    return dict(Counter(zip(ids, ids[1:])))


def _pair_counts_answer(got, call: str):
    """The learner's counts as {(int, int): int}, or a failed Result: a dict (or Counter) whose keys are
    pairs and whose values are counts; numpy ints count as ints."""
    if not isinstance(got, dict):
        return returned(got, call, "a dict {pair: count}", "start with counts = {} and return counts at the end")
    counts = {}
    for pair, count in got.items():
        count = number_answer(count, f"{call}: the count of {pair!r}", integer=True, hint="each count is an int")
        if isinstance(count, Result):
            return count
        if isinstance(pair, tuple) and all(isinstance(i, numbers.Integral) for i in pair):
            pair = tuple(int(i) for i in pair)  # numpy ints are ids too; anything else is kept, and reported below
        counts[pair] = count
    return counts


@with_reference(get_pair_counts)
def check_get_pair_counts(learner_fn: Callable[[list[int]], dict]) -> Result:
    """``learner_fn(ids)`` must return {pair: count} for every adjacent pair, overlaps included."""
    for ids in _PAIR_CASES:
        got, error = _call(learner_fn, list(ids))
        if error is not None:
            return error
        counts = _pair_counts_answer(got, f"get_pair_counts({ids})")
        if isinstance(counts, Result):
            return counts
        want = Counter(zip(ids, ids[1:]))
        if counts != dict(want):
            hint = "zip(ids, ids[1:]) walks over every adjacent pair; add 1 to that pair's count each time"
            if len(ids) < 2:
                hint = "a list with fewer than 2 ids has no pairs: return an empty dict"
            return failed(f"get_pair_counts({ids}) returned {got!r}, expected {dict(want)}", hint)
    return passed("get_pair_counts counts every adjacent pair, overlaps included")


@with_reference(merge)
def check_merge(learner_fn: Callable[[list[int], tuple[int, int], int], list[int]]) -> Result:
    """``learner_fn(ids, pair, new_id)`` must match ``minigpt.tokenizers.bpe.merge``."""
    for ids, pair, new_id in _MERGE_CASES:
        ids, want = list(ids), merge(ids, pair, new_id)
        before = list(ids)
        got, error = _call(learner_fn, ids, pair, new_id)
        if error is not None:
            return error
        if ids != before:
            return failed(f"merge changed its input list to {ids}", "build and return a new list; leave ids as it was")
        answer = int_list_answer(got, f"merge({before}, {pair}, {new_id})", "build a new list out = [] and return it")
        if isinstance(answer, Result):
            return answer
        got = answer
        if got != want:
            hint = "walk with an index i: if ids[i], ids[i + 1] is the pair, append new_id and jump i += 2, else append ids[i] and i += 1"
            if pair == (5, 5):
                hint = "after a merge, skip both ids of the pair (i += 2), so overlapping pairs merge left to right"
            return failed(f"merge({before}, {pair}, {new_id}) returned {got!r}, expected {want}", hint)
    return passed("merge replaces the pair left to right, exactly like minigpt.tokenizers.bpe.merge")


def train_merges(text: str, num_merges: int, get_pair_counts: Callable, merge_fn: Callable) -> list[tuple[int, int]]:
    """The plain BPE training loop built from the two functions: the first ``num_merges`` pairs merged.

    The text is cut into chunks with GPT-4's pattern (as ``minigpt``'s BPE does), counts are
    summed over the chunks, and ties between equally frequent pairs go to the smaller pair.
    """
    chunks = [list(chunk.encode("utf-8")) for chunk in regex.findall(GPT4_SPLIT_PATTERN, text)]
    merged = []
    for new_id in range(256, 256 + num_merges):
        counts = Counter()
        for ids in chunks:
            counts.update(get_pair_counts(ids))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent; ties -> smallest pair
        chunks = [merge_fn(ids, pair, new_id) for ids in chunks]
        merged.append(pair)
    return merged


@with_reference(get_pair_counts, merge)
def check_bpe_training(learner_get_pair_counts: Callable, learner_merge: Callable, text: str | None = None,
                       num_merges: int = 20) -> Result:
    """Train ``num_merges`` merges with the learner's two functions and compare with ``minigpt``'s BPE.

    Each function is checked first on a few lists (the message names the one that is not right yet),
    so the training loop below only ever runs functions that return the right kind of answer.
    """
    for check, fn in ((check_get_pair_counts, learner_get_pair_counts), (check_merge, learner_merge)):
        result = check(fn)
        if not result.passed:
            if result.message == NOT_IMPLEMENTED:
                return result
            name = check.__name__.removeprefix("check_")
            return failed(f"{name} is not right yet: {result.message}", result.hint)
    text = text if text is not None else "To be, or not to be, that is the question:\n" * 3 + "the theatre of the thane"
    want = [step.pair for step in train_steps(text, num_merges)]
    got = call_learner(train_merges, text, num_merges, learner_get_pair_counts, learner_merge,
                       name="training with your functions",
                       hint="run check_get_pair_counts and check_merge first; they say which function is wrong")
    if isinstance(got, Result):
        return got
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return failed(f"merge {k} differs: your functions merged {g}, minigpt's BPE merged {w}",
                          "run check_get_pair_counts and check_merge first; they say which function is wrong")
    if len(got) != len(want):
        return failed(f"your functions learned {len(got)} merges, minigpt's BPE learned {len(want)}",
                      "run check_get_pair_counts and check_merge first; they say which function is wrong")
    return passed(f"your get_pair_counts + merge learn the same {len(want)} merges as minigpt's BPETokenizer")
