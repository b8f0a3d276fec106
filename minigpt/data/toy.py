"""Small data sets made by code, for fast tests and for lessons that need a known answer.

Nothing here downloads anything, and every function takes a ``seed``: the same arguments give
the same data on every machine, so a notebook can say "the model gets 98% of these right".

* :func:`repeated_random_sequences` -- random tokens, then the same tokens again. The second
  half is predictable only by looking back, which is what induction heads learn.
* :func:`mixed_period_repeats` -- the same, with a period that changes from row to row, so that
  "look k positions back" no longer works and only a real induction circuit can copy.
* :func:`bigram_backcopy` -- a beginning-of-sequence token, then a fixed bigram chain broken by rare
  trigger tokens after which the token *before* the trigger comes back. A head that copies is useful only
  after a trigger and must do nothing elsewhere: that is what grows an attention sink.
* :func:`copy_task`, :func:`reverse_task` -- (source, target) pairs for the encoder-decoder
  lesson; :func:`to_lm_examples` turns them into one sequence for a decoder-only GPT.
* :func:`grammar_sentences` -- short English sentences where a pronoun's referent is known, and
  learnable from the sentence itself (an adjective only an animal can be, he/she agreement,
  it/they agreement). Attention maps can be checked against ``referent_index``.
* :func:`referent_questions` -- the "meaning" sentences with a question after them, "... because it was
  tired ; tired dog": answering means copying the right one of 8 animals or 8 things from the sentence.
* :func:`number_translation_pairs` -- "three hundred and twelve" -> "312", a toy translation task.
* :func:`word_analogy_corpus` -- sentences about kings, queens, men and women whose contexts
  encode gender, royalty, age and number, so word embeddings can do king - man + woman ~ queen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from minigpt.targets import IGNORE_INDEX

__all__ = [  # what ``minigpt.data`` re-exports
    "ANALOGIES", "GrammarSentence", "bigram_backcopy", "copy_task", "grammar_corpus", "grammar_sentences",
    "mixed_period_repeats", "number_to_words", "number_translation_pairs", "ReferentQuestion", "referent_questions",
    "repeated_random_sequences", "reverse_task", "to_lm_examples", "word_analogy_corpus",
]

# Token ids the sequence tasks keep for structure; content tokens are drawn from
# [FIRST_CONTENT_ID, vocab_size), so a model can never confuse data with a marker.
PAD, BOS, SEP = 0, 1, 2
FIRST_CONTENT_ID = 3


def _content_tokens(n: int, length: int, vocab_size: int, seed: int) -> torch.Tensor:
    """LongTensor[n, length] of random ids in [FIRST_CONTENT_ID, vocab_size)."""
    if n < 1 or length < 1:
        raise ValueError(f"n and the sequence length must be >= 1, got n={n}, length={length}")
    if vocab_size <= FIRST_CONTENT_ID + 1:
        raise ValueError(f"vocab_size must be > {FIRST_CONTENT_ID + 1}: ids 0..{FIRST_CONTENT_ID - 1} are "
                         f"reserved for PAD, BOS, SEP; got {vocab_size}")
    g = torch.Generator().manual_seed(seed)
    return torch.randint(FIRST_CONTENT_ID, vocab_size, (n, length), generator=g)


def repeated_random_sequences(n: int, half_len: int, vocab_size: int, seed: int = 0) -> torch.Tensor:
    """LongTensor[n, 2 * half_len]: ``half_len`` random tokens, then the same tokens again.

    The first half is noise (loss stays ~ln(vocab_size)); the second half is predictable by
    finding the previous copy of the current token and copying what came after it. A model that
    drives the loss on the second half towards 0 has formed an induction head.
    """
    first = _content_tokens(n, half_len, vocab_size, seed)
    return torch.cat([first, first], dim=1)


def mixed_period_repeats(
    n: int, min_period: int, max_period: int, vocab_size: int, seed: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y), LongTensor[n, 2 * max_period - 1] each, for training an induction circuit.

    Each row: p distinct random tokens, the same p tokens again, then random filler, with p drawn
    per row from [min_period, max_period]. y is the next token of x, set to -100 (ignored by the
    loss) everywhere except inside the second copy. Because p changes from row to row, no rule of
    the form "attend k positions back" predicts the copy; the model has to find the earlier
    occurrence of the current token and read what came after it. ``generator`` (if given) replaces
    ``seed``, so a training loop can draw fresh rows every step.
    """
    n_content = vocab_size - FIRST_CONTENT_ID
    if not 1 <= min_period <= max_period <= n_content:
        raise ValueError(f"need 1 <= min_period <= max_period <= {n_content} (the number of content tokens, "
                         f"so a period can hold distinct tokens); got {min_period}, {max_period}")
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    length = 2 * max_period
    period = torch.randint(min_period, max_period + 1, (n, 1), generator=g)
    block = torch.rand(n, n_content, generator=g).argsort(dim=1)[:, :max_period] + FIRST_CONTENT_ID  # distinct
    filler = torch.randint(FIRST_CONTENT_ID, vocab_size, (n, length), generator=g)
    position = torch.arange(length)
    seq = torch.where(position < 2 * period, block.gather(1, position % period), filler)
    x, y = seq[:, :-1], seq[:, 1:].clone()
    query = position[:-1]
    y[(query < period) | (query >= 2 * period - 1)] = IGNORE_INDEX  # keep only predictions inside the second copy
    return x, y


def bigram_backcopy(
    n: int, length: int, vocab_size: int, n_triggers: int = 3, trigger_prob: float = 0.15, table_seed: int = 0,
    seed: int = 0, generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y), LongTensor[n, length - 1] each: the Bigram-Backcopy task of Guo et al. (2024) with a BOS token.

    Row: ``BOS``, then tokens. Ids ``FIRST_CONTENT_ID .. FIRST_CONTENT_ID + n_triggers - 1`` are triggers, the
    ids above are ordinary. After an ordinary token comes a random trigger (probability ``trigger_prob``) or
    one of its two fixed successors (a bigram table drawn from ``table_seed``, the same for every row).
    After a trigger comes the token before the trigger (the back-copy). y is the next token of x, with -100
    for the first ordinary token (random, not predictable). So copying from the context helps only right
    after a trigger. ``generator`` (if given) replaces ``seed``, for fresh rows every training step.
    """
    first_ordinary = FIRST_CONTENT_ID + n_triggers
    if n_triggers < 1 or vocab_size - first_ordinary < 2:
        raise ValueError(f"need n_triggers >= 1 and at least 2 ordinary ids above them; got n_triggers={n_triggers}, "
                         f"vocab_size={vocab_size}")
    if length < 3:
        raise ValueError(f"length must be at least 3 (BOS and two tokens), got {length}")
    successors = torch.randint(first_ordinary, vocab_size, (vocab_size, 2),
                               generator=torch.Generator().manual_seed(table_seed))  # (V, 2); trigger rows unused
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    seq = torch.empty(n, length, dtype=torch.long)
    seq[:, 0] = BOS
    seq[:, 1] = torch.randint(first_ordinary, vocab_size, (n,), generator=g)
    choice = torch.randint(0, 2, (n, length), generator=g)
    trigger = torch.rand(n, length, generator=g) < trigger_prob
    trigger_id = torch.randint(FIRST_CONTENT_ID, first_ordinary, (n, length), generator=g)
    for i in range(2, length):
        prev = seq[:, i - 1]
        after_trigger = prev < first_ordinary
        nxt = torch.where(trigger[:, i], trigger_id[:, i], successors[prev, choice[:, i]])
        seq[:, i] = torch.where(after_trigger, seq[:, i - 2], nxt)  # after a trigger: the token before it
    x, y = seq[:, :-1], seq[:, 1:].clone()
    y[:, 0] = IGNORE_INDEX  # the first ordinary token is random
    return x, y


def copy_task(n: int, length: int, vocab_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(src, tgt), both LongTensor[n, length], with tgt == src."""
    src = _content_tokens(n, length, vocab_size, seed)
    return src, src.clone()


def reverse_task(n: int, length: int, vocab_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(src, tgt), both LongTensor[n, length], with tgt = src read backwards."""
    src = _content_tokens(n, length, vocab_size, seed)
    return src, src.flip(1)


def to_lm_examples(src: torch.Tensor, tgt: torch.Tensor, sep_id: int = SEP) -> tuple[torch.Tensor, torch.Tensor]:
    """Join (src, tgt) as ``src SEP tgt`` for a decoder-only model: returns (x, y), LongTensor[n, S + T].

    y is the sequence shifted by one, with -100 (cross-entropy's ignore_index) wherever the target
    is still part of the prompt, so the loss only scores the answer tokens.
    """
    n, s = src.shape
    seq = torch.cat([src, torch.full((n, 1), sep_id, dtype=src.dtype), tgt], dim=1)  # (n, S + 1 + T)
    x, y = seq[:, :-1], seq[:, 1:].clone()
    y[:, : s] = IGNORE_INDEX  # positions 0..S-1 predict the rest of the prompt and SEP: not scored
    return x, y


# ----------------------------------------------------------------------------------------------
# A small grammar with known referents

@dataclass(frozen=True)
class GrammarSentence:
    """One sentence; indices count words in ``words`` (``text.split()``)."""

    text: str
    words: tuple[str, ...]
    pronoun_index: int
    referent_index: int
    rule: str  # what decides the referent: "meaning", "gender" or "number"


_ANIMALS = ("cat", "dog", "fox", "bird", "horse", "mouse", "rabbit", "goat")
_PLACES = (("sat", "on"), ("slept", "on"), ("hid", "under"), ("lay", "near"), ("jumped", "over"), ("rested", "by"))
_THINGS = ("mat", "rug", "box", "bed", "chair", "log", "bench", "fence")
_ANIMAL_ADJ = ("tired", "hungry", "sleepy", "scared", "bored", "lazy")  # only the animal can be these
_THING_ADJ = ("soft", "clean", "dry", "flat", "warm", "comfy")  # ... and the place is these
_MALE = ("king", "man", "boy", "prince", "father", "uncle")
_FEMALE = ("queen", "woman", "girl", "princess", "mother", "aunt")
_SOCIAL = ("thanked", "called", "helped", "visited", "praised", "followed")
_PERSON_ADJ = ("kind", "late", "sad", "brave", "polite", "angry")
_PLURAL = {"cat": "cats", "dog": "dogs", "fox": "foxes", "bird": "birds", "horse": "horses", "mouse": "mice",
           "rabbit": "rabbits", "goat": "goats"}
_CHASE = ("chased", "watched", "followed", "ignored")


def _meaning_sentence(rng: random.Random) -> GrammarSentence:
    # "the cat sat on the mat because it was tired": the adjective says which noun "it" is.
    animal, (verb, prep), thing = rng.choice(_ANIMALS), rng.choice(_PLACES), rng.choice(_THINGS)
    to_animal = rng.random() < 0.5
    adj = rng.choice(_ANIMAL_ADJ if to_animal else _THING_ADJ)
    words = ("the", animal, verb, prep, "the", thing, "because", "it", "was", adj)
    return GrammarSentence(" ".join(words), words, 7, 1 if to_animal else 5, "meaning")


def _gender_sentence(rng: random.Random) -> GrammarSentence:
    # "the queen thanked the boy because he was kind": he/she agrees with one noun only.
    male, female = rng.choice(_MALE), rng.choice(_FEMALE)
    subject, obj = (male, female) if rng.random() < 0.5 else (female, male)
    pronoun = rng.choice(("he", "she"))
    words = ("the", subject, rng.choice(_SOCIAL), "the", obj, "because", pronoun, "was", rng.choice(_PERSON_ADJ))
    referent = 1 if (subject == male) == (pronoun == "he") else 4
    return GrammarSentence(" ".join(words), words, 6, referent, "gender")


def _number_sentence(rng: random.Random) -> GrammarSentence:
    # "the dogs chased the cat because it was hungry": it/they agrees in number with one noun only.
    a, b = rng.sample(_ANIMALS, 2)
    subject, obj = (_PLURAL[a], b) if rng.random() < 0.5 else (a, _PLURAL[b])
    pronoun, verb = rng.choice((("it", "was"), ("they", "were")))
    words = ("the", subject, rng.choice(_CHASE), "the", obj, "because", pronoun, verb, rng.choice(_ANIMAL_ADJ))
    subject_is_plural = subject in _PLURAL.values()
    referent = 1 if subject_is_plural == (pronoun == "they") else 4
    return GrammarSentence(" ".join(words), words, 6, referent, "number")


def grammar_sentences(n: int, seed: int = 0) -> list[GrammarSentence]:
    """``n`` sentences, a third each resolved by meaning, gender and number, shuffled by ``seed``.

    The referent is on the subject or the object equally often, so "always the second word" is
    no shortcut: a model must read the adjective or the pronoun to predict well.
    """
    rng = random.Random(seed)
    makers = (_meaning_sentence, _gender_sentence, _number_sentence)
    return [rng.choice(makers)(rng) for _ in range(n)]


@dataclass(frozen=True)
class ReferentQuestion:
    """"the dog sat on the rug because it was tired ; tired dog": a meaning sentence, its question, its answer.

    Indices count words in ``words``. The sentence's adjective (at ``adjective_index``) fits only the animal
    (the subject, word 1) or only the thing (the object, word 5), so it says who "it" is. After the ``;``
    the adjective comes again (at ``question_index``) and then the answer, that noun: ``words[referent_index]``.
    """

    words: tuple[str, ...]
    referent_index: int
    other_index: int
    adjective_index: int = 9
    question_index: int = 11

    def flipped(self) -> ReferentQuestion:
        """The same sentence with an adjective of the other kind (tired <-> soft, ...): referent and answer swap."""
        adjective = self.words[self.adjective_index]
        if adjective in _ANIMAL_ADJ:
            other = _THING_ADJ[_ANIMAL_ADJ.index(adjective)]
        else:
            other = _ANIMAL_ADJ[_THING_ADJ.index(adjective)]
        words = list(self.words)
        words[self.adjective_index] = words[self.question_index] = other
        words[-1] = words[self.other_index]
        return ReferentQuestion(tuple(words), self.other_index, self.referent_index)


def referent_questions(n: int, seed: int = 0) -> list[ReferentQuestion]:
    """``n`` meaning sentences (as in :func:`grammar_sentences`), each followed by ``;``, its adjective and the answer.

    The subject is one of 8 animals and the object one of 8 things, drawn independently, so the answer
    cannot be guessed from the adjective alone: a model has to find the right noun in the sentence and
    copy it. Half of the answers are the subject, half the object.
    """
    rng = random.Random(seed)
    questions = []
    for _ in range(n):
        s = _meaning_sentence(rng)
        words = s.words + (";", s.words[-1], s.words[s.referent_index])
        questions.append(ReferentQuestion(words, s.referent_index, 6 - s.referent_index))  # nouns at 1 and 5
    return questions


def grammar_corpus(n: int, seed: int = 0) -> str:
    """The text of ``grammar_sentences(n, seed)``, one sentence per line."""
    return "".join(s.text + "\n" for s in grammar_sentences(n, seed))


# ----------------------------------------------------------------------------------------------
# Numbers in words -> digits

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_to_words(number: int) -> str:
    """British English words for 0 <= number < 1,000,000: 312 -> "three hundred and twelve"."""
    if not 0 <= number < 1_000_000:
        raise ValueError(f"number_to_words handles 0 <= number < 1000000, got {number}")
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + ("-" + _ONES[ones] if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return _ONES[hundreds] + " hundred" + (" and " + number_to_words(rest) if rest else "")
    thousands, rest = divmod(number, 1000)
    words = number_to_words(thousands) + " thousand"
    if rest:
        words += (" and " if rest < 100 else " ") + number_to_words(rest)
    return words


def number_translation_pairs(n: int, seed: int = 0, max_value: int = 999) -> list[tuple[str, str]]:
    """``n`` pairs (words, digits) for uniform random numbers in [0, max_value].

    >>> number_translation_pairs(1, seed=3)  # doctest: +SKIP
    [('three hundred and twelve', '312')]
    """
    if not 0 <= max_value < 1_000_000:
        raise ValueError(f"max_value must be in [0, 999999], got {max_value}")
    rng = random.Random(seed)
    return [(number_to_words(k), str(k)) for k in (rng.randint(0, max_value) for _ in range(n))]


# ----------------------------------------------------------------------------------------------
# A word-level corpus for embedding arithmetic

# Each noun is a point on four binary axes: (male?, royal?, young?, plural?).
_NOUNS = {
    "man": (1, 0, 0, 0), "woman": (0, 0, 0, 0), "king": (1, 1, 0, 0), "queen": (0, 1, 0, 0),
    "boy": (1, 0, 1, 0), "girl": (0, 0, 1, 0), "prince": (1, 1, 1, 0), "princess": (0, 1, 1, 0),
    "men": (1, 0, 0, 1), "women": (0, 0, 0, 1), "kings": (1, 1, 0, 1), "queens": (0, 1, 0, 1),
    "boys": (1, 0, 1, 1), "girls": (0, 0, 1, 1), "princes": (1, 1, 1, 1), "princesses": (0, 1, 1, 1),
}
# Context phrases, each (singular form, plural form), chosen by one axis at a time.
_ROYAL = {1: (("rules the land", "rule the land"), ("wears a crown", "wear crowns"), ("lives in the palace", "live in the palace")),
          0: (("works in the field", "work in the field"), ("sells bread", "sell bread"), ("lives in the village", "live in the village"))}
_YOUNG = {1: (("plays in the garden", "play in the garden"), ("goes to school", "go to school")),
          0: (("reads the news", "read the news"), ("pays the bills", "pay the bills"))}
_PRONOUN = {(1, 0): "he", (0, 0): "she", (1, 1): "they", (0, 1): "they"}  # keyed by (male, plural)
_POSSESSION = {(1, 0): "his beard", (0, 0): "her dress", (1, 1): "their beards", (0, 1): "their dresses"}

ANALOGIES = (
    ("king", "man", "woman", "queen"),
    ("prince", "boy", "girl", "princess"),
    ("queen", "woman", "girl", "princess"),
    ("kings", "king", "queen", "queens"),
    ("men", "man", "boy", "boys"),
)
"""(a, b, c, d) such that a - b + c should land nearest to d in a trained embedding."""


def word_analogy_corpus(n: int, seed: int = 0) -> str:
    """``n`` sentences, one per line, where a noun's contexts depend only on its four properties.

    "the queen wears a crown and she reads the news with her dress": royalty picks the first
    phrase, age the second, gender the pronoun and the possession, number the verb forms.
    Because "king" and "queen" share every context except the gendered words, exactly as "man"
    and "woman" do, the difference vectors line up: see :data:`ANALOGIES`.
    """
    rng = random.Random(seed)
    nouns = list(_NOUNS)
    lines = []
    for _ in range(n):
        noun = rng.choice(nouns)
        male, royal, young, plural = _NOUNS[noun]
        first = rng.choice(_ROYAL[royal])[plural]
        second = rng.choice(_YOUNG[young])[plural]
        lines.append(f"the {noun} {first} and {_PRONOUN[male, plural]} {second} with {_POSSESSION[male, plural]}")
    return "\n".join(lines) + "\n"
