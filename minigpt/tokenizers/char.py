"""The simplest tokenizer: one token per character.

The vocabulary is the sorted set of characters in a corpus (65 for tiny shakespeare), and a
token id is a character's position in it. Sequences are long (one id per character) but the
vocabulary is tiny, which is why the first model in the course trains in minutes.

A character outside the vocabulary has no id. By default that is an error that lists the
characters; choose ``unknown="?"`` (any one character) to map them all to that token instead.
"""

from __future__ import annotations

from minigpt.tokenizers.base import Tokenizer, as_id_list, visible


class CharTokenizer(Tokenizer):
    """Character-level tokenizer over a fixed alphabet ``chars``.

    >>> tok = CharTokenizer.from_text("hello world")
    >>> tok.encode("hole")
    [3, 5, 4, 2]
    """

    kind = "char"

    def __init__(self, chars, unknown: str | None = None, name: str = "char"):
        chars = list(chars)
        if len(set(chars)) != len(chars) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("chars must be distinct single characters")
        if unknown is not None:
            if not (isinstance(unknown, str) and len(unknown) == 1):
                raise ValueError(f"unknown must be one character (e.g. '?') or None, got {unknown!r}")
            if unknown not in chars:
                chars.append(unknown)  # the unknown token needs an id of its own
        self.chars = chars
        self.unknown = unknown
        self.name = name
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str, unknown: str | None = None) -> CharTokenizer:
        """Vocabulary = the sorted distinct characters of ``text`` (plus ``unknown`` if given)."""
        if not text:
            raise ValueError("from_text needs a non-empty text to collect characters from")
        return cls(sorted(set(text)), unknown=unknown)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            unseen = sorted(set(text) - self.stoi.keys())
            if self.unknown is None:
                raise ValueError(
                    f"{len(unseen)} character(s) not in the vocabulary: {''.join(unseen)!r}. Build the vocabulary "
                    f"from text that contains them, or choose a replacement: CharTokenizer.from_text(text, unknown='?')"
                ) from None
        unk = self.stoi[self.unknown]
        return [self.stoi.get(c, unk) for c in text]

    def decode(self, ids) -> str:
        ids = as_id_list(ids)
        for i in ids:
            self._check_id(i)
        return "".join(self.chars[i] for i in ids)

    def token_str(self, token_id: int) -> str:
        self._check_id(token_id)
        return visible(self.chars[token_id])

    def to_dict(self) -> dict:
        return {"type": self.kind, "name": self.name, "chars": "".join(self.chars), "unknown": self.unknown}

    @classmethod
    def from_dict(cls, d: dict) -> CharTokenizer:
        return cls(d["chars"], unknown=d["unknown"], name=d["name"])
