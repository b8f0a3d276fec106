"""The simplest tokenizer: one token per character.

The vocabulary is the sorted set of characters in a corpus (65 for tiny shakespeare), and a
token id is a character's position in it. Sequences are long (one id per character) but the
vocabulary is tiny, which is why the first model in the course trains in minutes.

A character outside the vocabulary has no id. By default that is an error that lists the
characters; choose ``unknown="?"`` (any one character) to map them all to that token instead.

:class:`~minigpt.tokenizers.word.WordTokenizer` is the same idea with words as the symbols.
"""

from __future__ import annotations

from minigpt.arguments import WrongType, require_text
from minigpt.tokenizers.base import Tokenizer, visible


class CharTokenizer(Tokenizer):
    """Tokenizer over a fixed list of symbols; here a symbol is one character.

    >>> tok = CharTokenizer.from_text("hello world")
    >>> tok.encode("hole")
    [3, 5, 4, 2]
    """

    kind = "char"
    unit = "character"  # what one symbol is, for messages
    unknown_example = "?"

    def __init__(self, symbols, unknown: str | None = None, name: str | None = None):
        if not hasattr(symbols, "__iter__") or isinstance(symbols, (bytes, dict)):
            raise WrongType(f"{type(self).__name__} needs a list of symbols, got {type(symbols).__name__}; "
                            f"e.g. {type(self).__name__}.from_text(text)")
        symbols = list(symbols)
        if unknown is not None and unknown not in symbols:
            symbols.append(unknown)  # the unknown token needs an id of its own
        bad = [s for s in symbols if not self.is_symbol(s)]
        if bad or len(set(symbols)) != len(symbols):
            raise ValueError(f"{type(self).__name__} needs distinct symbols, each one {self.unit}; "
                             f"bad: {bad[:5] or 'duplicates'}, e.g. unknown={self.unknown_example!r}")
        self.symbols = symbols
        self.unknown = unknown
        self.name = name or self.kind
        self.stoi = {s: i for i, s in enumerate(symbols)}

    @staticmethod
    def is_symbol(s) -> bool:
        return isinstance(s, str) and len(s) == 1

    @staticmethod
    def split(text: str) -> list[str]:
        """Text -> symbols (here: its characters)."""
        return list(text)

    @staticmethod
    def join(symbols: list[str]) -> str:
        """Symbols -> text; the inverse of ``split``."""
        return "".join(symbols)

    @classmethod
    def from_text(cls, text: str, unknown: str | None = None):
        """Vocabulary = the sorted distinct symbols of ``text`` (plus ``unknown`` if given)."""
        if not require_text(text):
            raise ValueError("from_text needs a non-empty text to collect the vocabulary from")
        return cls(sorted(set(cls.split(text))), unknown=unknown)

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> list[int]:
        pieces = self.split(require_text(text))
        try:
            return [self.stoi[s] for s in pieces]
        except KeyError:
            if self.unknown is None:
                unseen = sorted(set(pieces) - self.stoi.keys())
                raise ValueError(
                    f"{len(unseen)} {self.unit}(s) not in the vocabulary: {', '.join(map(repr, unseen[:50]))}. "
                    f"Build the vocabulary from text that contains them, or choose a replacement: "
                    f"{type(self).__name__}.from_text(text, unknown={self.unknown_example!r})"
                ) from None
        unk = self.stoi[self.unknown]
        return [self.stoi.get(s, unk) for s in pieces]

    def _decode_checked(self, ids: list[int]) -> str:
        return self.join([self.symbols[i] for i in ids])

    def token_str(self, token_id: int) -> str:
        self._require_id(token_id)
        return visible(self.symbols[token_id])

    def to_dict(self) -> dict:
        return {"type": self.kind, "name": self.name, "symbols": self.symbols, "unknown": self.unknown}

    @classmethod
    def from_dict(cls, d: dict):
        if not isinstance(d["symbols"], list):
            raise ValueError(f"symbols must be a list, got {type(d['symbols']).__name__}")
        return cls(d["symbols"], unknown=d["unknown"], name=d["name"])
