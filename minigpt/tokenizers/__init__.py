"""Tokenizers with one interface (see :class:`Tokenizer`): characters, words, our own BPE and unigram, and OpenAI's.

>>> from minigpt.tokenizers import CharTokenizer, BPETokenizer, TiktokenTokenizer
>>> TiktokenTokenizer("gpt2").encode("Hello, world")
[15496, 11, 995]
"""

from minigpt.tokenizers.base import Tokenizer, tokenizer_difference, tokenizer_from_dict, visible, visible_bytes
from minigpt.tokenizers.bpe import GPT4_SPLIT_PATTERN, BPETokenizer, MergeStep, train_steps
from minigpt.tokenizers.char import CharTokenizer
from minigpt.tokenizers.tiktoken_tokenizer import TiktokenTokenizer
from minigpt.tokenizers.unigram import UnigramTokenizer
from minigpt.tokenizers.word import WordTokenizer

__all__ = [
    "BPETokenizer", "CharTokenizer", "GPT4_SPLIT_PATTERN", "MergeStep", "TiktokenTokenizer", "Tokenizer",
    "UnigramTokenizer", "WordTokenizer", "tokenizer_difference", "tokenizer_from_dict", "train_steps", "visible",
    "visible_bytes",
]
