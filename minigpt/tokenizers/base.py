"""The interface every tokenizer in the course shares, and how tokens are shown on screen.

A tokenizer turns text into a list of integer ids (``encode``) and back (``decode``). The model
only ever sees the ids; ``vocab_size`` tells it how many distinct ids exist (the rows of its
embedding table). For lessons and widgets, ``token_str(id)`` gives a *visible* string for one
token -- spaces as "␣", newlines as "\\n", bytes that are not whole UTF-8 characters as
"<0xE2>" -- so a sentence can be drawn as coloured tokens.

Tokenizers are plain data: ``to_dict()`` gives JSON-friendly values, ``tokenizer_from_dict``
rebuilds the right class from them (checkpoints store this), and ``save``/``Tokenizer.load``
write and read that JSON atomically.
"""

from __future__ import annotations

import codecs
import json
import os
import reprlib
from abc import ABC, abstractmethod

from minigpt.arguments import WrongType, require_ids, is_int
from minigpt.files import atomic_write

_VISIBLE = {" ": "␣", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _hex_bytes(error: UnicodeDecodeError):
    """Codec error handler: show bytes that are not valid UTF-8 as <0xE2> instead of failing."""
    bad = error.object[error.start:error.end]
    return "".join(f"<0x{b:02X}>" for b in bad), error.end


codecs.register_error("minigpt-hex", _hex_bytes)


def visible(text: str) -> str:
    """``text`` with whitespace and other control characters made visible: "a b\\n" -> "a␣b\\\\n"."""
    return "".join(_VISIBLE.get(c) or (f"<U+{ord(c):04X}>" if not c.isprintable() else c) for c in text)


def visible_bytes(piece: bytes) -> str:
    """A token's bytes for display: UTF-8 where it decodes, <0xNN> for bytes that are part of a character."""
    return visible(piece.decode("utf-8", errors="minigpt-hex"))


def as_id_list(ids) -> list[int]:
    """Accept a list/tuple of ints or a 1-D tensor/array of ids; return a list of Python ints.

    A bool or a float is refused rather than read as an id (``True`` would decode as id 1)."""
    return require_ids(ids, name="decode's token ids")


class Tokenizer(ABC):
    """Base class: subclasses implement encode/decode/vocab_size/token_str/to_dict/from_dict."""

    kind: str  # the "type" tag in to_dict(), unique per subclass
    name: str  # a human name, e.g. "char", "bpe-768", "gpt2"
    _kinds: dict[str, type[Tokenizer]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:  # a subclass that keeps its parent's tag does not take over its entry
            Tokenizer._kinds[cls.kind] = cls  # so tokenizer_from_dict can find the class by its tag

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of distinct token ids: ids run from 0 to vocab_size - 1."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Text -> token ids."""

    def decode(self, ids) -> str:
        """Token ids (list or 1-D tensor) -> text. Every id is checked first: one that is not an int, or is
        outside 0 .. vocab_size - 1, is an error naming it, never a wrong character or an IndexError."""
        ids = as_id_list(ids)
        for token_id in ids:
            self._require_id(token_id)
        return self._decode_checked(ids)

    @abstractmethod
    def _decode_checked(self, ids: list[int]) -> str:
        """Ids that ``decode`` has checked (ints in range) -> text."""

    @abstractmethod
    def token_str(self, token_id: int) -> str:
        """A visible display string for one token id (for colouring tokens)."""

    @abstractmethod
    def to_dict(self) -> dict:
        """JSON-serialisable description, with a "type" key; inverse of ``from_dict``."""

    @classmethod
    @abstractmethod
    def from_dict(cls, d: dict) -> Tokenizer:
        """Rebuild a tokenizer from ``to_dict()`` output."""

    def tokenize(self, text: str) -> list[str]:
        """The display strings of ``encode(text)``, one per token."""
        return [self.token_str(i) for i in self.encode(text)]

    def _require_id(self, token_id: int) -> None:
        if not is_int(token_id):
            raise WrongType(f"a token id must be an int, got {token_id!r} ({type(token_id).__name__})")
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {token_id} is out of range for {self.name!r} (vocab_size {self.vocab_size})")

    def save(self, path: str | os.PathLike) -> None:
        """Write ``to_dict()`` as JSON, atomically (see :func:`minigpt.files.atomic_write`)."""
        with atomic_write(path, what="tokenizer") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer saved with ``save``. ``Tokenizer.load`` returns whichever class was saved."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not a saved tokenizer: it is not valid JSON ({error}); "
                             "save the tokenizer again with tokenizer.save(path)") from None
        try:
            tokenizer = tokenizer_from_dict(data)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        if not isinstance(tokenizer, cls):
            raise TypeError(f"{path} holds a {type(tokenizer).__name__}, not a {cls.__name__}; use Tokenizer.load")
        return tokenizer

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, vocab_size={self.vocab_size})"


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild any tokenizer from its ``to_dict()`` (e.g. the one stored in a checkpoint)."""
    if not isinstance(d, dict) or d.get("type") not in Tokenizer._kinds:
        found = d.get("type") if isinstance(d, dict) else type(d).__name__
        raise ValueError(f"not a saved tokenizer: expected a dict with 'type' in {sorted(Tokenizer._kinds)}, got {found!r}")
    try:
        return Tokenizer._kinds[d["type"]].from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        problem = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        raise ValueError(f"not a valid saved {d['type']!r} tokenizer: {problem}") from None


def tokenizer_difference(first: Tokenizer, second: Tokenizer) -> str:
    """What tells two tokenizers apart, in a few words, ``first``'s side before ``second``'s; "" when
    they are the same (equal ``to_dict()``).

    Two tokenizers of one kind and size look alike by name and size alone ("char with 65 tokens"),
    so this names the first token id they read differently, or else the first field that differs::

        >>> tokenizer_difference(CharTokenizer(list("abc")), CharTokenizer(list("abd")))
        "token 2 is 'c' vs 'd'"
        >>> tokenizer_difference(CharTokenizer(list("ab")), CharTokenizer(list("abc")))
        '2 vs 3 tokens'
        >>> tokenizer_difference(CharTokenizer(list("ab")), CharTokenizer(list("ab"), name="mine"))
        "the same 2 tokens, but name 'char' vs 'mine'"
    """
    a, b = first.to_dict(), second.to_dict()
    if a == b:
        return ""
    if a["type"] != b["type"]:
        return (f"a {a['type']} tokenizer with {first.vocab_size} tokens vs "
                f"a {b['type']} tokenizer with {second.vocab_size} tokens")
    parts = []
    if first.vocab_size != second.vocab_size:
        parts.append(f"{first.vocab_size} vs {second.vocab_size} tokens")
    for token_id in range(min(first.vocab_size, second.vocab_size)):
        mine, theirs = first.token_str(token_id), second.token_str(token_id)
        if mine != theirs:
            parts.append(f"token {token_id} is {mine!r} vs {theirs!r}")
            break
    if not parts:  # every id reads the same: a setting differs (the BPE split pattern, the name, ...)
        field = next(key for key in dict.fromkeys([*a, *b]) if a.get(key) != b.get(key))
        # reprlib shortens a long value (6 list items, 30 characters of a string): a merge list fits in a message
        parts.append(f"the same {first.vocab_size} tokens, but {field} {reprlib.repr(a.get(field))} vs "
                     f"{reprlib.repr(b.get(field))}")
    return "; ".join(parts)
