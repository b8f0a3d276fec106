"""The notebook 01 checks pass the solutions and fail wrong answers; the check's training loop is minigpt's BPE."""

from collections import Counter

from minigpt.data import load_text
from minigpt.course.exercises.tokenization import check_bpe_training, check_get_pair_counts, check_merge, train_merges
from minigpt.tokenizers import BPETokenizer
from minigpt.tokenizers.bpe import merge


def pair_counts(ids):
    return dict(Counter(zip(ids, ids[1:])))


def test_solutions_pass():
    assert check_get_pair_counts(pair_counts).passed
    assert check_merge(merge).passed
    result = check_bpe_training(pair_counts, merge)
    assert result.passed, repr(result)


def test_training_loop_reproduces_minigpt_bpe_on_shakespeare():
    text = load_text()[:20_000]
    tok = BPETokenizer.train(text, vocab_size=256 + 30 + 1, progress=False)
    assert train_merges(text, 30, pair_counts, merge) == [pair for pair, _ in tok.merges]


def test_pair_counts_without_overlaps_fails():
    def distinct_steps(ids):  # counts pairs at even offsets only: misses overlaps
        return dict(Counter(zip(ids[::2], ids[1::2])))

    result = check_get_pair_counts(distinct_steps)
    assert not result.passed and "expected" in result.message


def test_pair_counts_crashing_on_short_lists_gets_a_hint():
    def assumes_a_pair(ids):
        counts = {(ids[0], ids[1]): 0}
        counts.update(Counter(zip(ids, ids[1:])))
        return counts

    result = check_get_pair_counts(assumes_a_pair)
    assert not result.passed and "IndexError" in result.message and result.hint


def test_merge_wrong_answers_fail():
    def overlapping(ids, pair, new_id):  # forgets to skip the second id of a merged pair
        out = []
        for i, x in enumerate(ids):
            out.append(new_id if i + 1 < len(ids) and (x, ids[i + 1]) == pair else x)
        return out

    result = check_merge(overlapping)
    assert not result.passed and "expected" in result.message

    def in_place(ids, pair, new_id):
        ids[:] = merge(ids, pair, new_id)
        return ids

    assert "input" in check_merge(in_place).message

    def drops_last(ids, pair, new_id):
        return merge(ids[:-1], pair, new_id)

    assert not check_merge(drops_last).passed


def test_training_with_wrong_functions_fails():
    def off_by_one(ids):  # never counts the last pair
        return dict(Counter(zip(ids[:-1], ids[1:-1])))

    assert not check_bpe_training(off_by_one, merge).passed
    assert not check_bpe_training(pair_counts, lambda ids, pair, new_id: ids).passed
