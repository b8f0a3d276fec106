"""Files on disk, the one place for it: writing a file so no reader ever sees half of one, and the
error for a file the course needs but cannot find.

**Atomic writes.** Every file minigpt writes (checkpoints, tokenizers, token caches, downloads, notebooks,
web pages, benchmark results) goes through :func:`atomic_write` (a file object) or :func:`atomic_path`
(a path, for a library that opens the file itself): the bytes go to a temporary file beside the target,
are flushed to disk, and then ``os.replace`` renames that file over the target. A rename within one
folder is atomic, so the target is always the old file or the new one, never half of each, whatever
stops the write (an exception, Ctrl-C, a full disk, ``kill -9``, a power cut).

The temporary file lives in a private folder ``.<name>.<random>.tmp`` beside the target: hidden, and
recognisable as a temporary of ``<name>``. A folder rather than a file because some writers write through a
temporary file of their own beside the path they are given (safetensors does): inside the folder that one
is ours too. The folder is removed once the target is replaced, and any error removes it instead.

Only ``kill -9`` (or a power cut) leaves such a folder behind. The next successful write of the same
target removes it (:func:`remove_stale_temp_files`). A writer holds a lock (``flock``) on its folder until
it is done, so a write of the same target that another process is doing right now is never taken for a
leftover. Without ``flock`` (Windows) a leftover cannot be told from a live write, and none is removed::

    with atomic_write("notes.txt") as f:  # notes.txt is the old file or the new one, never half of it
        f.write("all or nothing\\n")
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

try:
    import fcntl  # to lock a write's temporary folder, so that other processes can tell it from a leftover
except ImportError:  # Windows
    fcntl = None

TEMP_SUFFIX = ".tmp"


class DataNotFoundError(FileNotFoundError):
    """A file the course needs (a corpus, a tokenizer's vocabulary, pretrained weights) could not be found,
    downloaded or verified. The message says how to fix it, usually over several lines."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, permissions: int | None = None, what: str = ""):
    """Yield a file open in ``mode`` ("w": UTF-8 text, "wb": bytes) whose contents replace ``path`` when the
    block ends, all at once; an exception in the block leaves ``path`` as it was. See :func:`atomic_path`."""
    with atomic_path(path, permissions=permissions, what=what) as temporary:
        with open(temporary, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, permissions: int | None = None, what: str = ""):
    """Yield a path to write the new ``path`` to (for a library that takes a file name, e.g. safetensors).

    When the block ends the file is flushed to disk and renamed over ``path``, and the leftovers of earlier
    writes of ``path`` that were killed are removed; an exception in the block (Ctrl-C too) removes the
    temporary file instead and leaves ``path`` as it was. ``permissions`` (e.g. ``0o644``) is set on the new
    file; by default it has those of any newly created file. An OSError of the writing itself names ``path``
    (``what`` says what it is: "cannot write checkpoint out/run.safetensors: ..."), not the temporary file.
    """
    path = Path(path)
    folder, lock = _new_temp_folder(path, what)
    try:
        temporary = folder / path.name
        yield temporary
        try:
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())  # on disk before the rename makes it the file
            if permissions is not None:
                os.chmod(temporary, permissions)
            os.replace(temporary, path)
        except OSError as error:
            raise cannot_write(path, error, what) from None
    finally:
        _remove_temp_folder(folder, lock)
    remove_stale_temp_files(path)


def require_writable(path: str | os.PathLike, what: str = "") -> None:
    """An OSError naming ``path`` now, if :func:`atomic_write` could not write it: before the work that makes
    the file (training, running a notebook), not after. Makes and removes a temporary folder beside it."""
    _remove_temp_folder(*_new_temp_folder(Path(path), what))


def cannot_write(path: Path, error: OSError, what: str = "") -> OSError:
    """``error`` (of the same type) saying that ``path`` cannot be written, why, and what to do."""
    name = f"{what} {path}" if what else str(path)
    if isinstance(error, FileNotFoundError) and not path.parent.is_dir():
        return FileNotFoundError(f"cannot write {name}: the folder {path.parent} does not exist; create it first")
    return type(error)(f"cannot write {name}: {error.strerror or error}; choose a folder you can write to")


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Remove what writes of ``path`` that were killed left behind (``.<name>.<random>.tmp``); return it.

    A temporary that another process is writing is locked, and is left alone; so is one of another
    target (``.a.b.<random>.tmp`` is ``a.b``'s, not ``a``'s). Without ``flock`` (Windows) nothing is removed.
    """
    if fcntl is None:
        return []
    path = Path(path)
    prefix = _temp_prefix(path)
    removed = []
    for stale in path.parent.glob(f"{glob.escape(prefix)}*{TEMP_SUFFIX}"):
        if "." in stale.name[len(prefix):-len(TEMP_SUFFIX)]:
            continue  # another target's temporary
        try:
            handle = os.open(stale, os.O_RDONLY)
        except OSError:  # removed meanwhile by its writer or by another process
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while its writer holds it
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
            removed.append(stale)
        except OSError:
            continue
        finally:
            os.close(handle)
    return removed


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _new_temp_folder(path: Path, what: str) -> tuple[Path, int | None]:
    """A new temporary folder for ``path``, beside it, and the descriptor that holds its lock (None
    without flock). An OSError names ``path``."""
    while True:
        try:
            folder = Path(tempfile.mkdtemp(dir=path.parent, prefix=_temp_prefix(path), suffix=TEMP_SUFFIX))
        except OSError as error:
            raise cannot_write(path, error, what) from None
        if fcntl is None:
            return folder, None
        try:
            lock = os.open(folder, os.O_RDONLY)
        except FileNotFoundError:
            continue  # another process took it for a leftover before the lock: make another
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(lock), os.stat(folder)):
                return folder, lock
        except FileNotFoundError:
            pass
        os.close(lock)  # removed by another process between its creation and the lock: make another


def _remove_temp_folder(folder: Path, lock: int | None) -> None:
    """Remove a write's temporary folder, then let go of its lock."""
    shutil.rmtree(folder, ignore_errors=True)
    if lock is not None:
        os.close(lock)
