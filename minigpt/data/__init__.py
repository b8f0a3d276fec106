"""Data for the course: real corpora (found offline or downloaded once), batches, and toy data sets.

>>> from minigpt.data import load_text, train_val_split, get_batch
>>> text = load_text()                      # tiny shakespeare, 1,115,394 characters
>>> train_text, val_text = train_val_split(text)
"""

from minigpt.data import toy
from minigpt.data.batches import get_batch, train_val_split
from minigpt.data.corpus import CORPORA, Corpus, cache_dir, corpus_path, load_text
from minigpt.data.toy import *  # noqa: F403 - the toy data sets, listed once, in toy.__all__
from minigpt.files import DataNotFoundError  # what a missing corpus raises: minigpt.data is where users meet it

__all__ = [
    "CORPORA", "Corpus", "DataNotFoundError", "cache_dir", "corpus_path", "get_batch", "load_text", "train_val_split",
    *toy.__all__,
]
