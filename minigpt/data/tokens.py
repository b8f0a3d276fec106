"""Your own text as a token file on disk: encoded once, cached, and read back through a memory map.

nanoGPT's ``prepare.py`` writes a data set's token ids to ``train.bin`` as raw ``uint16`` and
trains from ``np.memmap`` views of it, so a corpus larger than memory costs only the pages a batch
touches. This module does the same for any text and any tokenizer of the package:

1. **Read and check** (:func:`fingerprint`). The data set -- one UTF-8 file, or every ``.txt``
   file of a folder in name order -- is read in 1 MiB pieces: hashed (sha256) and checked to be
   UTF-8 on the way, so a bad byte is reported with its offset before any work is done.
2. **Look up the cache** (:func:`token_cache`). The cache file is named by the text's sha256 and
   the tokenizer's (the hash of its ``to_dict()``): an edited file has a new hash and is encoded
   again; the same text with the same tokenizer is encoded exactly once. It lives in
   ``<cache_dir()>/tokens`` (``$MINIGPT_CACHE_DIR``, else ``$XDG_CACHE_HOME/minigpt``, else
   ``~/.cache/minigpt``) as ``<key>.bin`` (the ids, ``uint16`` when the vocabulary fits in
   65,536 ids, else ``uint32``) and ``<key>.json`` (a small sidecar: dtype, token count,
   tokenizer, the data's hash, the ``.bin``'s own sha256). An entry is used only when its ``.bin``
   has the size and the sha256 the sidecar records (the sha256 read once per process and file):
   a ``.bin`` changed on disk is said in one line on stderr and encoded again.
3. **Encode, streaming** (:func:`encode_stream`). The text is never one Python string: pieces are
   cut after a lone newline, one with a non-space character on both sides. No tokenizer here builds
   a token across such a point (that newline ends the pre-tokenizer's chunk in GPT-2's and GPT-4's
   split patterns, and a character tokenizer has no multi-character tokens), so the pieces' ids joined are exactly the whole text's ids. A text with no
   such point is read as one piece. The ``.bin`` and then the ``.json`` are written atomically
   (:func:`minigpt.files.atomic_write`): a crash or Ctrl-C never leaves a half-written entry that looks
   finished, and the next finished write of an entry removes what a killed one left behind.
4. **Batches** (:class:`MemmapBatches`): random windows read from the memory map, as ``get_batch``
   cuts them from a tensor (the same generator calls, so a seed fixes every batch).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from minigpt.data.batches import TRAIN_FRACTION, require_enough_tokens, min_split_tokens
from minigpt.data.corpus import cache_dir
from minigpt.files import atomic_write, sha256_of

READ_BYTES = 1 << 20  # bytes read from disk at a time


class BadDataError(ValueError):
    """The data set cannot be used (not UTF-8, no .txt files); the message says how to fix it."""


# -- 1. the data set's files, read and checked ----------------------------------------------------


def data_files(path: str | os.PathLike) -> list[Path]:
    """The files of a data set: ``path`` itself, or the ``.txt`` files in folder ``path`` (sorted, recursive)."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise BadDataError(f"--data {path}: the folder holds no .txt files; put your text in files ending in .txt")
        return files
    raise BadDataError(f"--data {path}: no such file or folder; give a UTF-8 text file or a folder of .txt files")


def _pieces(files: list[Path]) -> Iterator[tuple[str, int]]:
    """The data set's text as ``(text, bytes read)`` pieces of about ``READ_BYTES``, decoded strictly.

    Files are joined with a newline between them when a file does not end with one, so two files
    never run into one word. A byte that is not UTF-8 raises :class:`BadDataError` naming the file
    and the byte's offset in it.
    """
    for index, file in enumerate(files):
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        offset, last = 0, ""
        with open(file, "rb") as f:
            while True:
                raw = f.read(READ_BYTES)
                pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous read
                try:
                    text = decoder.decode(raw, final=not raw)
                except UnicodeDecodeError as error:
                    where = offset - pending + error.start
                    raise BadDataError(
                        f"{file} is not UTF-8 text: byte {where} (0x{error.object[error.start]:02x}) "
                        f"cannot be decoded ({error.reason}); save the file as UTF-8") from None
                offset += len(raw)
                if text:
                    last = text[-1]
                    yield text, len(raw)
                elif raw:
                    yield "", len(raw)
                if not raw:
                    break
        if index < len(files) - 1 and last not in ("\n", ""):
            yield "\n", 0


def fingerprint(path: str | os.PathLike, progress: bool = False) -> str:
    """The sha256 of the data set's text (all files, as joined), checking it is UTF-8 on the way."""
    files = data_files(path)
    digest = hashlib.sha256()
    with _bar(files, "checking", progress) as bar:
        for text, size in _pieces(files):
            digest.update(text.encode("utf-8"))
            bar.update(size)
    return digest.hexdigest()


def read_text(path: str | os.PathLike) -> str:
    """The whole data set as one string (for training a tokenizer, or small texts in tests)."""
    return "".join(text for text, _ in _pieces(data_files(path)))


def _bar(files: list[Path], what: str, progress: bool):
    total = sum(f.stat().st_size for f in files)
    return tqdm(total=total, unit="B", unit_scale=True, desc=f"{what} {files[0].name if len(files) == 1 else files[0].parent.name}",
                disable=not progress)


# -- 2. streaming encode ----------------------------------------------------------------------------


def safe_cut(text: str) -> int:
    """Where ``text`` may be cut without cutting a token: just after its last lone newline, one with
    a non-space character on both sides ("end.\nNext"); 0 when there is none.

    A run of whitespace is not a safe point: GPT-2 makes one token of "\n\n", so "\n" | "\nNext"
    would give different ids than the whole text.
    """
    cut = text.rfind("\n")
    while cut != -1:
        if 0 < cut and cut + 1 < len(text) and not text[cut - 1].isspace() and not text[cut + 1].isspace():
            return cut + 1
        cut = text.rfind("\n", 0, cut)
    return 0


def encode_stream(pieces: Iterable[str], tokenizer) -> Iterator[list[int]]:
    """The ids of the concatenated ``pieces``, one list per safe piece (see :func:`safe_cut`).

    ``list(chain(*encode_stream(pieces, tok))) == tok.encode("".join(pieces))``, while only about one
    piece of text is held at a time.
    """
    carry = ""
    for piece in pieces:
        buffer = carry + piece
        cut = safe_cut(buffer)
        if cut:
            yield tokenizer.encode(buffer[:cut])
        carry = buffer[cut:]
    if carry:
        yield tokenizer.encode(carry)


def token_dtype(vocab_size: int) -> np.dtype:
    """``uint16`` when every id fits (vocab_size <= 65,536, as for GPT-2's 50,257), else ``uint32``."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def tokenizer_hash(tokenizer) -> str:
    """The sha256 of the tokenizer's ``to_dict()``: two tokenizers with the same hash give the same ids."""
    return hashlib.sha256(json.dumps(tokenizer.to_dict(), sort_keys=True).encode("utf-8")).hexdigest()


def build_tokenizer(spec: str, data: str | os.PathLike, progress: bool = False):
    """The tokenizer ``spec`` names, for the data set at ``data`` (``--tokenizer`` of ``python -m minigpt train``).

    ``char``: the text's characters; ``bpe:N``: our BPE with N merges trained on the text; ``gpt2``: tiktoken's.
    """
    from minigpt.tokenizers import BPETokenizer, CharTokenizer, TiktokenTokenizer

    if spec == "gpt2":
        return TiktokenTokenizer("gpt2")
    if spec == "char":
        characters = set()
        for text, _ in _pieces(data_files(data)):  # streamed: the vocabulary without the whole text in memory
            characters.update(text)
        if not characters:
            raise ValueError(f"--data {data} is empty; give a text to train on")
        return CharTokenizer(sorted(characters))
    merges = int(spec.split(":")[1])
    text = read_text(data)
    if not text:
        raise ValueError(f"--data {data} is empty; give a text to train on")
    special = ("<|endoftext|>",)
    return BPETokenizer.train(text, 256 + merges + len(special), special, progress=progress)


@dataclass(frozen=True)
class TokenFile:
    """A cached, encoded data set: ``ids()`` is a read-only memory map of its token ids."""

    bin_path: Path
    meta: dict

    @property
    def num_tokens(self) -> int:
        return self.meta["num_tokens"]

    def ids(self) -> np.memmap:
        if self.num_tokens == 0:
            return np.zeros(0, dtype=self.meta["dtype"])
        return np.memmap(self.bin_path, dtype=self.meta["dtype"], mode="r", shape=(self.num_tokens,))


def token_cache(path: str | os.PathLike, tokenizer, *, data_hash: str | None = None, folder=None,
                progress: bool = True) -> TokenFile:
    """The data set at ``path`` encoded with ``tokenizer``: read from the cache, or encoded and cached once.

    ``data_hash`` (from :func:`fingerprint`) saves a second read when you have it already;
    ``folder`` overrides the cache folder (default ``cache_dir() / "tokens"``).
    """
    data_hash = data_hash or fingerprint(path, progress=progress)
    folder = Path(folder) if folder is not None else cache_dir() / "tokens"
    key = f"{data_hash[:20]}-{tokenizer_hash(tokenizer)[:20]}"
    bin_path, meta_path = folder / f"{key}.bin", folder / f"{key}.json"
    cached = _read_entry(bin_path, meta_path)
    if cached is not None:
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    meta = _encode_to_file(data_files(path), tokenizer, bin_path, progress)
    meta.update(data_sha256=data_hash, tokenizer=tokenizer.to_dict(), source=str(Path(path).expanduser()))
    with atomic_write(meta_path) as f:
        json.dump(meta, f, ensure_ascii=False)
    return TokenFile(bin_path, meta)


# the .bin files whose sha256 this process has checked or written: path -> _stamp(path) at that time
_verified: dict[Path, tuple] = {}


def _stamp(path: Path) -> tuple:
    """What changes when a file is replaced or rewritten, short of reading it."""
    stat = path.stat()
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _read_entry(bin_path: Path, meta_path: Path) -> TokenFile | None:
    """A finished cache entry (sidecar present, the .bin of the size and sha256 it records), else None.

    The sha256 is read once per process and file: a .bin this process wrote or checked, and that
    has not been replaced or rewritten since, is not read again. A sidecar without ``bin_sha256``
    (written by an earlier minigpt) makes no entry either: the text is encoded again.
    """
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        expected = meta["num_tokens"] * np.dtype(meta["dtype"]).itemsize
        if bin_path.stat().st_size != expected or not isinstance(meta["bin_sha256"], str):
            return None
        stamp = _stamp(bin_path)
        if _verified.get(bin_path) != stamp:
            if sha256_of(bin_path) != meta["bin_sha256"]:
                tqdm.write(f"token cache {bin_path} does not match the checksum saved with it (changed on disk); "
                           "encoding the text again", file=sys.stderr)
                return None
            _verified[bin_path] = stamp
        return TokenFile(bin_path, meta)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _encode_to_file(files: list[Path], tokenizer, bin_path: Path, progress: bool) -> dict:
    """Stream-encode ``files`` into ``bin_path``, atomically; returns the sidecar."""
    dtype = token_dtype(tokenizer.vocab_size)
    count, digest = 0, hashlib.sha256()
    with atomic_write(bin_path, "wb") as out, _bar(files, "encoding", progress) as bar:
        def pieces():
            for text, size in _pieces(files):
                yield text
                bar.update(size)

        for ids in encode_stream(pieces(), tokenizer):
            data = np.asarray(ids, dtype=dtype)
            data.tofile(out)
            digest.update(data)  # the bytes just written, without a copy
            count += len(ids)
    _verified[bin_path] = _stamp(bin_path)
    return {"dtype": dtype.name, "num_tokens": count, "vocab_size": tokenizer.vocab_size,
            "bin_sha256": digest.hexdigest()}


# -- 3. batches from the memory map -------------------------------------------------------------------


class MemmapBatches:
    """A ``batch_fn(split, generator)`` for :class:`~minigpt.train.Trainer` reading a memory-mapped token array.

    The tokens are split by position as :func:`~minigpt.data.batches.train_val_split` splits them, the
    validation split grown to :func:`~minigpt.data.batches.min_split_tokens` where a tenth is less. A batch
    is ``batch_size`` windows of ``block_size + 1`` ids at random starts: only those pages of the file are
    read, and only they become int64.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, block_size: int):
        self.batch_size, self.block_size = batch_size, block_size
        require_enough_tokens(len(ids), block_size, "the text", both_splits=True)
        n_train = min(int(TRAIN_FRACTION * len(ids)), len(ids) - min_split_tokens(block_size))
        self.splits = {"train": ids[:n_train], "val": ids[n_train:]}

    def __call__(self, split: str, generator: torch.Generator):
        data = self.splits[split]
        starts = torch.randint(len(data) - self.block_size, (self.batch_size,), generator=generator)
        window = np.stack([data[s:s + self.block_size + 1] for s in starts.tolist()]).astype(np.int64)
        window = torch.from_numpy(window)
        return window[:, :-1], window[:, 1:]
