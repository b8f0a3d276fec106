"""minigpt.data.toy: generated data sets are deterministic, well formed and carry the answers they promise."""

from collections import Counter

import numpy as np
import pytest
import torch

from minigpt.data import (
    ANALOGIES,
    bigram_backcopy,
    copy_task,
    grammar_corpus,
    grammar_sentences,
    mixed_period_repeats,
    number_to_words,
    number_translation_pairs,
    referent_questions,
    repeated_random_sequences,
    reverse_task,
    to_lm_examples,
    word_analogy_corpus,
)
from minigpt.data.toy import FIRST_CONTENT_ID, SEP


def test_repeated_random_sequences():
    seqs = repeated_random_sequences(n=5, half_len=6, vocab_size=20, seed=0)
    assert seqs.shape == (5, 12) and seqs.dtype == torch.long
    assert torch.equal(seqs[:, :6], seqs[:, 6:])
    assert seqs.min() >= FIRST_CONTENT_ID and seqs.max() < 20
    assert torch.equal(seqs, repeated_random_sequences(5, 6, 20, seed=0))
    assert not torch.equal(seqs, repeated_random_sequences(5, 6, 20, seed=1))
    with pytest.raises(ValueError, match="reserved"):
        repeated_random_sequences(1, 4, vocab_size=3)


def test_mixed_period_repeats_score_only_the_second_copy():
    x, y = mixed_period_repeats(200, min_period=4, max_period=9, vocab_size=20, seed=0)
    assert x.shape == y.shape == (200, 17)
    periods = set()
    for row_x, row_y in zip(x, y):
        scored = (row_y != -100).nonzero().flatten()
        p = int(scored[0])  # the first scored query is the first token of the second copy, at position p
        periods.add(p)
        assert scored.tolist() == list(range(p, 2 * p - 1))
        assert len(set(row_x[:p].tolist())) == p  # a period holds distinct tokens
        second = row_x[p : 2 * p]  # (one token shorter when p = max_period: x drops the last token)
        assert torch.equal(second, row_x[: len(second)])  # then repeats
        for i in scored.tolist():  # every target is the token after the earlier copy of the query token
            assert row_y[i] == row_x[i - p + 1]
    assert periods == set(range(4, 10))  # every period occurs, so no fixed offset works
    assert x.min() >= FIRST_CONTENT_ID and x.max() < 20
    again, _ = mixed_period_repeats(200, 4, 9, 20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    with pytest.raises(ValueError, match="max_period <= 17"):
        mixed_period_repeats(1, 4, 18, vocab_size=20)


def test_copy_and_reverse_tasks():
    src, tgt = copy_task(4, 7, vocab_size=10, seed=3)
    assert src.shape == (4, 7) and torch.equal(src, tgt)
    rsrc, rtgt = reverse_task(4, 7, vocab_size=10, seed=3)
    assert torch.equal(rsrc, src) and torch.equal(rtgt, src.flip(1))
    assert src.min() >= FIRST_CONTENT_ID  # PAD/BOS/SEP never appear in the data


def test_to_lm_examples_scores_only_the_answer():
    src, tgt = reverse_task(2, 3, vocab_size=10, seed=0)
    x, y = to_lm_examples(src, tgt)
    assert x.shape == y.shape == (2, 6)
    assert torch.equal(x[:, :3], src) and (x[:, 3] == SEP).all() and torch.equal(x[:, 4:], tgt[:, :2])
    assert (y[:, :3] == -100).all() and torch.equal(y[:, 3:], tgt)


# Word classes written out independently of the generator, to check its answers.
ANIMATE_ADJ = {"tired", "hungry", "sleepy", "scared", "bored", "lazy"}
MALE = {"king", "man", "boy", "prince", "father", "uncle"}
PLURAL = {"cats", "dogs", "foxes", "birds", "horses", "mice", "rabbits", "goats"}


def test_grammar_referents_follow_the_stated_rule():
    sentences = grammar_sentences(600, seed=0)
    assert sentences == grammar_sentences(600, seed=0)
    assert Counter(s.rule for s in sentences).keys() == {"meaning", "gender", "number"}
    for s in sentences:
        assert s.words == tuple(s.text.split())
        pronoun, referent = s.words[s.pronoun_index], s.words[s.referent_index]
        assert pronoun in {"it", "he", "she", "they"}
        assert s.referent_index in (1, s.words.index("the", 1) + 1)  # the subject or the object noun
        if s.rule == "meaning":
            assert (s.referent_index == 1) == (s.words[-1] in ANIMATE_ADJ)
        elif s.rule == "gender":
            assert (referent in MALE) == (pronoun == "he")
        else:
            assert (referent in PLURAL) == (pronoun == "they")
    subject_share = sum(s.referent_index == 1 for s in sentences) / len(sentences)
    assert 0.35 < subject_share < 0.65  # "always the subject" is no shortcut


def test_grammar_corpus_is_one_sentence_per_line():
    lines = grammar_corpus(20, seed=5).splitlines()
    assert lines == [s.text for s in grammar_sentences(20, seed=5)]


@pytest.mark.parametrize("number, words", [
    (0, "zero"), (13, "thirteen"), (45, "forty-five"), (100, "one hundred"), (312, "three hundred and twelve"),
    (1000, "one thousand"), (1005, "one thousand and five"), (21345, "twenty-one thousand three hundred and forty-five"),
])
def test_number_to_words(number, words):
    assert number_to_words(number) == words


def test_number_translation_pairs():
    pairs = number_translation_pairs(200, seed=1)
    assert pairs == number_translation_pairs(200, seed=1) != number_translation_pairs(200, seed=2)
    assert all(words == number_to_words(int(digits)) and 0 <= int(digits) <= 999 for words, digits in pairs)
    assert max(int(d) for _, d in number_translation_pairs(200, seed=1, max_value=99999)) > 999
    with pytest.raises(ValueError):
        number_to_words(1_000_000)


def test_word_analogy_corpus_supports_vector_arithmetic():
    """Count-based embeddings (PPMI + SVD) of the corpus already solve every listed analogy."""
    text = word_analogy_corpus(3000, seed=0)
    assert text == word_analogy_corpus(3000, seed=0)
    lines = [line.split() for line in text.splitlines()]
    vocab = sorted({w for line in lines for w in line})
    index = {w: i for i, w in enumerate(vocab)}
    counts = np.zeros((len(vocab), len(vocab)))
    for line in lines:  # co-occurrence within a sentence
        ids = [index[w] for w in line]
        for i in ids:
            for j in ids:
                counts[i, j] += i != j
    p = counts / counts.sum()
    ppmi = np.maximum(np.log(np.where(p > 0, p / (p.sum(1, keepdims=True) * p.sum(0, keepdims=True)), 1)), 0)
    u, s, _ = np.linalg.svd(ppmi)
    emb = u[:, :8] * s[:8]
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    for a, b, c, d in ANALOGIES:
        sims = emb @ (emb[index[a]] - emb[index[b]] + emb[index[c]])
        sims[[index[a], index[b], index[c]]] = -np.inf
        assert vocab[int(np.argmax(sims))] == d, (a, b, c, d)


def test_bigram_backcopy_copies_after_triggers_and_follows_a_fixed_bigram_table_elsewhere():
    from minigpt.data.toy import BOS, FIRST_CONTENT_ID

    x, y = bigram_backcopy(64, 33, 40, n_triggers=3, seed=5)
    assert x.shape == y.shape == (64, 32)
    assert torch.equal(x, bigram_backcopy(64, 33, 40, n_triggers=3, seed=5)[0])  # deterministic
    assert (x[:, 0] == BOS).all() and (x[:, 1:] != BOS).all()
    assert (y[:, 0] == -100).all() and torch.equal(y[:, :-1][:, 1:], x[:, 2:])  # y is x shifted by one
    seq = torch.cat([x, y[:, -1:]], dim=1)
    first_ordinary = FIRST_CONTENT_ID + 3
    successors = {}
    n_triggers_seen = 0
    for row in seq.tolist():
        for i in range(2, len(row)):
            if row[i - 1] < first_ordinary:  # after a trigger: the token before the trigger comes back
                assert row[i] == row[i - 2]
                n_triggers_seen += 1
            elif row[i] >= first_ordinary:  # an ordinary token: one of two fixed successors
                successors.setdefault(row[i - 1], set()).add(row[i])
    assert n_triggers_seen > 0.1 * 64 * 31
    assert all(len(s) <= 2 for s in successors.values()) and any(len(s) == 2 for s in successors.values())
    g = torch.Generator().manual_seed(0)
    assert not torch.equal(bigram_backcopy(8, 10, 40, generator=g)[0], bigram_backcopy(8, 10, 40, generator=g)[0])
    with pytest.raises(ValueError):
        bigram_backcopy(2, 10, 7, n_triggers=3)  # one ordinary id: no bigram to follow
    with pytest.raises(ValueError):
        bigram_backcopy(2, 2, 40)


ANIMALS = {"cat", "dog", "fox", "bird", "horse", "mouse", "rabbit", "goat"}
THINGS = {"mat", "rug", "box", "bed", "chair", "log", "bench", "fence"}
THING_ADJ = {"soft", "clean", "dry", "flat", "warm", "comfy"}


def test_referent_questions_need_the_noun_copied():
    questions = referent_questions(800, seed=0)
    assert questions == referent_questions(800, seed=0) and questions != referent_questions(800, seed=1)
    for q in questions:
        assert q.words[-3] == ";" and q.words[7] == "it" and q.question_index == len(q.words) - 2
        assert q.words[q.question_index] == q.words[q.adjective_index]  # the question repeats the adjective
        assert {q.referent_index, q.other_index} == {1, 5} and q.words[-1] == q.words[q.referent_index]
        assert q.words[1] in ANIMALS and q.words[5] in THINGS
        adjective = q.words[q.adjective_index]
        assert adjective in ANIMATE_ADJ | THING_ADJ and (q.referent_index == 1) == (adjective in ANIMATE_ADJ)
    answers = [q.words[-1] for q in questions]
    assert set(answers) == ANIMALS | THINGS  # 16 possible answers: the adjective alone cannot name one
    subject_share = sum(q.referent_index == 1 for q in questions) / len(questions)
    assert 0.4 < subject_share < 0.6


def test_flipping_the_adjective_swaps_the_referent():
    for q in referent_questions(50, seed=3):
        f = q.flipped()
        assert (f.referent_index, f.other_index) == (q.other_index, q.referent_index)
        assert f.words[-1] == q.words[q.other_index] and f.flipped() == q
        changed = [i for i, (a, b) in enumerate(zip(q.words, f.words)) if a != b]
        assert changed == [q.adjective_index, q.question_index, len(q.words) - 1]
        assert (f.words[q.adjective_index] in ANIMATE_ADJ) != (q.words[q.adjective_index] in ANIMATE_ADJ)
