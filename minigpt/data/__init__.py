"""Data for the course: real corpora (found offline or downloaded once), batches, and toy data sets.

>>> from minigpt.data import load_text, train_val_split, get_batch
>>> text = load_text()                      # tiny shakespeare, 1,115,394 characters
>>> train_text, val_text = train_val_split(text)
"""

from minigpt.data.batches import BatchSampler, get_batch, train_val_split
from minigpt.data.corpus import CORPORA, Corpus, DataNotFoundError, cache_dir, corpus_path, load_text
from minigpt.data.toy import (
    ANALOGIES,
    GrammarSentence,
    bigram_backcopy,
    copy_task,
    grammar_corpus,
    grammar_sentences,
    mixed_period_repeats,
    number_to_words,
    number_translation_pairs,
    repeated_random_sequences,
    reverse_task,
    to_lm_examples,
    word_analogy_corpus,
)

__all__ = [
    "ANALOGIES", "BatchSampler", "CORPORA", "Corpus", "DataNotFoundError", "GrammarSentence", "bigram_backcopy",
    "cache_dir",
    "copy_task", "corpus_path", "get_batch", "grammar_corpus", "grammar_sentences", "load_text",
    "mixed_period_repeats", "number_to_words", "number_translation_pairs", "repeated_random_sequences", "reverse_task",
    "to_lm_examples", "train_val_split", "word_analogy_corpus",
]
