"""One token per word: the tokenizer for word-level toy corpora and the embeddings lesson.

With a word per token, an embedding row *is* a word's vector, so "king - man + woman" can be
computed directly (see ``minigpt.data.word_analogy_corpus``). Real text needs a huge word
vocabulary and still meets unknown words, which is why real models use BPE instead.

Text is split into words at whitespace, and each newline is a token of its own, so lines
survive; decoding joins words with single spaces (other whitespace is not kept).
"""

from __future__ import annotations

import re

from minigpt.tokenizers.char import CharTokenizer

_WORDS = re.compile(r"\n|[^\s]+")


class WordTokenizer(CharTokenizer):
    """Word-level tokenizer: symbols are words and "\\n".

    >>> tok = WordTokenizer.from_text("the king\\nthe queen\\n")
    >>> tok.tokenize("the queen\\n")
    ['the', 'queen', '\\\\n']
    """

    kind = "word"
    unit = "word"
    unknown_example = "<unk>"

    @staticmethod
    def is_symbol(s) -> bool:
        return isinstance(s, str) and (s == "\n" or (s != "" and not any(c.isspace() for c in s)))

    @staticmethod
    def split(text: str) -> list[str]:
        return _WORDS.findall(text)

    @staticmethod
    def join(symbols: list[str]) -> str:
        return " ".join(symbols).replace(" \n", "\n").replace("\n ", "\n")
