"""minigpt.tokenizers.unigram: Viterbi finds the most probable segmentation, EM counts add up, nothing is unknown."""

import math
import random

import pytest

from minigpt.tokenizers import UnigramTokenizer, tokenizer_from_dict
from minigpt.tokenizers.unigram import SPACE, expected_counts, viterbi, words_of

TEXT = ("the cat sat on the mat. the cat was tired; the mat was soft.\n" * 20
        + "then the other cats sat on other mats, thither and hither.\n" * 10)


@pytest.fixture(scope="module")
def uni():
    return UnigramTokenizer.train(TEXT, vocab_size=256 + 40)


def test_words_keep_the_space_in_front_and_lose_nothing():
    text = "the  cat\nsat "
    chunks = words_of(text)
    assert chunks == ["the", SPACE, SPACE + "cat", "\n", "sat", SPACE]
    assert "".join(chunks).replace(SPACE, " ") == text


def test_training_gives_the_size_asked_for_and_round_trips(uni):
    assert uni.vocab_size == 296 and len(uni.pieces) == 40
    assert all(c in uni.logp for c in set(TEXT.replace(" ", SPACE))), "every character of the text stays a piece"
    assert any(len(p) > 2 for p in uni.pieces), "and longer pieces are learned"
    assert abs(sum(math.exp(v) for v in uni.logp.values()) - 1) < 1e-9
    for text in (TEXT[:200], "the zebra ❤️ naïve", ""):
        assert uni.decode(uni.encode(text)) == text
    assert uni.tokenize("z")[0] == "<0x7A>", "an unseen character falls back to its bytes"


def test_viterbi_is_the_most_probable_of_all_segmentations(uni):
    for word in (SPACE + "thither", SPACE + "cats", "mats,", SPACE + "other"):
        everything = uni.segmentations(word)
        assert len(everything) > 1
        best, best_logp = viterbi(word, uni.logp, uni.max_len)
        assert best == uni.segment(word) == everything[0][0]
        assert best_logp == pytest.approx(everything[0][1], abs=1e-12)
        assert all(best_logp >= logp - 1e-12 for _, logp in everything)
        assert all("".join(pieces) == word for pieces, _ in everything)


def test_expected_counts_average_over_every_segmentation(uni):
    word = SPACE + "other"
    counts, total = expected_counts(word, uni.logp, uni.max_len)
    everything = uni.segmentations(word)
    assert total == pytest.approx(math.log(sum(math.exp(lp) for _, lp in everything)), abs=1e-9)
    brute = {}
    for pieces, lp in everything:
        for piece in pieces:
            brute[piece] = brute.get(piece, 0.0) + math.exp(lp - total)
    assert all(counts.get(p, 0.0) == pytest.approx(brute.get(p, 0.0), abs=1e-9) for p in set(counts) | set(brute))
    assert sum(counts.values()) == pytest.approx(sum(len(s) * math.exp(lp - total) for s, lp in everything))


def test_sampling_draws_valid_segmentations_in_proportion():
    toy = UnigramTokenizer({"a": math.log(0.3), "b": math.log(0.3), "ab": math.log(0.2), "c": math.log(0.2)})
    word, g = "abab", random.Random(0)
    everything = toy.segmentations(word)
    assert len(everything) == 4 and everything[0][0] == ["ab", "ab"]
    share = math.exp(everything[0][1]) / sum(math.exp(lp) for _, lp in everything)
    samples = [toy.sample(word, g, alpha=1.0) for _ in range(2000)]
    assert all("".join(s) == word for s in samples) and len({tuple(s) for s in samples}) == 4
    assert abs(sum(s == ["ab", "ab"] for s in samples) / 2000 - share) < 0.04, "drawn in proportion to p"
    greedy = [toy.sample(word, g, alpha=50.0) for _ in range(20)]
    assert all(s == toy.segment(word) == ["ab", "ab"] for s in greedy), "a large alpha gives the Viterbi segmentation"


def test_to_dict_round_trip_and_bad_input(uni):
    again = tokenizer_from_dict(uni.to_dict())
    assert isinstance(again, UnigramTokenizer) and again.encode(TEXT[:100]) == uni.encode(TEXT[:100])
    with pytest.raises(ValueError, match="fewer than"):
        UnigramTokenizer.train(TEXT, vocab_size=260)
    with pytest.raises(ValueError, match="non-empty dict"):
        UnigramTokenizer({})
    with pytest.raises(ValueError, match="too long"):
        uni.segmentations("x" * 17)
