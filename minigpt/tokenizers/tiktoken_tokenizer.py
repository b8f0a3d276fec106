"""OpenAI's production BPE tokenizers (GPT-2, GPT-3 and GPT-4 era) through ``tiktoken``.

Same idea as our :class:`~minigpt.tokenizers.bpe.BPETokenizer`, trained by OpenAI on far more
text: gpt2 has 50,257 ids, cl100k_base (GPT-4) about 100k. tiktoken downloads each vocabulary
on first use and caches it in the folder named by ``$TIKTOKEN_CACHE_DIR``; offline, point that
variable at a folder that already holds the files.

Special tokens (gpt2's ``<|endoftext|>``) are ids the model reads as markers, never text a user
typed: a text that contains the characters "<|endoftext|>" is encoded as those characters, as
tiktoken's ``encode_ordinary`` does, unless the caller asks for the marker with
``encode(text, allowed_special="all")`` (or a set of the special tokens to allow).
"""

from __future__ import annotations

from collections.abc import Collection

import tiktoken

from minigpt.arguments import WrongType, require_text
from minigpt.files import DataNotFoundError
from minigpt.tokenizers.base import Tokenizer, visible_bytes

SUPPORTED = ("gpt2", "r50k_base", "cl100k_base")


def allowed_special_tokens(allowed_special, special_tokens: Collection[str]) -> set[str]:
    """The special tokens ``allowed_special`` lets ``encode`` read as markers: "all" of ``special_tokens``,
    or the set given (each must be one of them); an empty set (the default) leaves every one as text."""
    if isinstance(allowed_special, str) and allowed_special == "all":
        return set(special_tokens)
    if isinstance(allowed_special, str) or not isinstance(allowed_special, Collection):
        raise WrongType(f'allowed_special must be "all" or a set of special tokens, e.g. {{"<|endoftext|>"}}, '
                        f"got {allowed_special!r}")
    unknown = sorted(set(allowed_special) - set(special_tokens))
    if unknown:
        have = ", ".join(map(repr, sorted(special_tokens))) or "none"
        raise ValueError(f"allowed_special names {', '.join(map(repr, unknown))}, which this tokenizer does not have; "
                         f"its special tokens: {have}")
    return set(allowed_special)


def encode_with(encoding: tiktoken.Encoding, text: str, allowed_special) -> list[int]:
    """``text`` -> ids through a tiktoken encoding: the special tokens ``allowed_special`` names become their ids,
    every other one written in the text is encoded as ordinary text (tiktoken would raise instead)."""
    allowed = allowed_special_tokens(allowed_special, encoding.special_tokens_set)
    return encoding.encode(require_text(text), allowed_special=allowed, disallowed_special=())


class TiktokenTokenizer(Tokenizer):
    """A tiktoken encoding behind the course's tokenizer interface.

    >>> TiktokenTokenizer("gpt2").encode("Hello, world")
    [15496, 11, 995]
    """

    kind = "tiktoken"

    def __init__(self, name: str = "gpt2"):
        if name not in SUPPORTED:
            raise ValueError(f"unknown tiktoken encoding {name!r}; choose one of {SUPPORTED}")
        try:
            self._encoding = tiktoken.get_encoding(name)
        except Exception as e:  # tiktoken raises requests/OS errors when it cannot fetch the files
            raise DataNotFoundError(
                f"tiktoken could not load the {name!r} vocabulary ({type(e).__name__}: {e}).\n"
                f"tiktoken downloads it once from openaipublic.blob.core.windows.net and caches it in "
                f"$TIKTOKEN_CACHE_DIR. To work offline, set TIKTOKEN_CACHE_DIR to a folder holding the cached "
                f"files (each named by the sha1 of its URL), e.g. one filled by running "
                f"`TIKTOKEN_CACHE_DIR=<folder> python -c \"import tiktoken; tiktoken.get_encoding('{name}')\"` "
                f"on a machine with internet, then copying <folder> here."
            ) from e
        self.name = name

    @property
    def vocab_size(self) -> int:
        return self._encoding.n_vocab

    def encode(self, text: str, *, allowed_special: str | Collection[str] = frozenset()) -> list[int]:
        """Text -> ids. "<|endoftext|>" in the text is ordinary text (tiktoken's ``encode_ordinary``); with
        ``allowed_special="all"`` (or {"<|endoftext|>"}) it becomes its id, 50256 in gpt2."""
        return encode_with(self._encoding, text, allowed_special)

    def _decode_checked(self, ids: list[int]) -> str:
        return self._encoding.decode(ids)

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token."""
        self._require_id(token_id)
        try:
            return self._encoding.decode_single_token_bytes(token_id)
        except KeyError:  # cl100k_base leaves a few ids between its last merge and its special tokens unused
            raise ValueError(f"token id {token_id} is not used by the {self.name!r} encoding") from None

    def token_str(self, token_id: int) -> str:
        piece = self.token_bytes(token_id)
        if self._encoding.is_special_token(token_id):
            return piece.decode("utf-8")  # special tokens show as themselves, e.g. "<|endoftext|>"
        return visible_bytes(piece)

    def to_dict(self) -> dict:
        return {"type": self.kind, "name": self.name}

    @classmethod
    def from_dict(cls, d: dict) -> TiktokenTokenizer:
        return cls(d["name"])
