"""Find a text corpus on disk, or download it once, and hand it back as one string.

A corpus is looked for in this order (the first hit wins):

1. an explicit ``path`` you pass to :func:`load_text`;
2. the folder named by ``$MINIGPT_DATA_DIR`` (how the tests and CI read offline copies);
3. the user cache: ``$MINIGPT_CACHE_DIR``, else ``$XDG_CACHE_HOME/minigpt``, else ``~/.cache/minigpt``;
4. a download into that cache, with a progress bar.

Every file found or downloaded is checked against the sha256 in :data:`CORPORA`, so a
truncated or edited copy cannot silently change the numbers a lesson prints. A download is
written atomically (:func:`minigpt.files.atomic_write`) and only once its checksum is right: the
cache never holds a half-written file.

Whatever goes wrong (offline, bad checksum, bad path) raises one error,
:class:`DataNotFoundError`, whose message names the URL, the expected file and how to put the
file there by hand.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from tqdm.auto import tqdm

from minigpt.files import DataNotFoundError, atomic_write, sha256_of


@dataclass(frozen=True)
class Corpus:
    """Where a corpus lives on the internet and how to recognise the right file."""

    name: str
    filename: str  # the file's name inside $MINIGPT_DATA_DIR or the cache folder
    url: str
    sha256: str
    size: int  # bytes


CORPORA: dict[str, Corpus] = {
    "tinyshakespeare": Corpus(
        name="tinyshakespeare",
        filename="tinyshakespeare.txt",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1_115_394,
    ),
}


def cache_dir() -> Path:
    """The user cache folder for corpora (it may not exist yet)."""
    if os.environ.get("MINIGPT_CACHE_DIR"):
        return Path(os.environ["MINIGPT_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "minigpt"


def _error(corpus: Corpus, problem: str, expected: Path) -> DataNotFoundError:
    """One message for every failure: what went wrong, where the file should be, how to put it there."""
    return DataNotFoundError(
        f"Could not load corpus {corpus.name!r}: {problem}\n"
        f"  expected file: {expected}\n"
        f"  download URL:  {corpus.url}\n"
        f"  sha256:        {corpus.sha256} ({corpus.size} bytes)\n"
        f"To fix it by hand, download the URL on a machine with internet and save it as the expected file,\n"
        f"or put it in any folder as {corpus.filename!r} and set MINIGPT_DATA_DIR to that folder,\n"
        f"or pass path=... to load_text."
    )


def _checked(corpus: Corpus, path: Path) -> Path:
    """Return ``path`` if it holds exactly the registered file, else raise DataNotFoundError."""
    actual = sha256_of(path)
    if actual != corpus.sha256:
        raise _error(corpus, f"{path} has sha256 {actual}, not the expected one (wrong or damaged file; delete it)", path)
    return path


def download(corpus: Corpus, dest: Path) -> Path:
    """Download ``corpus`` to ``dest`` atomically: stream it to a temporary file beside it, verify, rename.

    On any failure (network, checksum, interrupt) ``dest`` is untouched and no temporary file is left.
    """
    try:
        response = urlopen(corpus.url, timeout=30)
    except (URLError, OSError) as e:  # offline, DNS failure, HTTP error (HTTPError is a URLError)
        raise _error(corpus, f"download failed ({e})", dest) from e
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    total = int(response.headers.get("Content-Length") or corpus.size)
    with atomic_write(dest, "wb") as f, response, tqdm(
        total=total, unit="B", unit_scale=True, desc=f"downloading {corpus.filename}"
    ) as bar:
        try:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                f.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        except OSError as e:  # connection dropped or timed out mid-download
            raise _error(corpus, f"download interrupted ({e})", dest) from e
        if digest.hexdigest() != corpus.sha256:  # raised inside the block: the file is not renamed into place
            raise _error(corpus, f"the downloaded file has sha256 {digest.hexdigest()}, not the expected one", dest)
    return dest


def corpus_path(name: str = "tinyshakespeare", path: str | os.PathLike | None = None) -> Path:
    """The verified local file of corpus ``name``, downloading it into the cache if needed."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {sorted(CORPORA)}")
    corpus = CORPORA[name]
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise _error(corpus, f"the path you passed, {path}, is not a file", path)
        return _checked(corpus, path)
    if os.environ.get("MINIGPT_DATA_DIR"):
        candidate = Path(os.environ["MINIGPT_DATA_DIR"]).expanduser() / corpus.filename
        if candidate.is_file():
            return _checked(corpus, candidate)
    cached = cache_dir() / corpus.filename
    if cached.is_file():
        return _checked(corpus, cached)
    return download(corpus, cached)


def load_text(name: str | None = "tinyshakespeare", path: str | os.PathLike | None = None) -> str:
    """The text of a corpus, found (or downloaded) as the module docstring describes.

    ``load_text()`` gives tiny shakespeare (1,115,394 characters). ``load_text(path="my.txt")``
    reads and checks a copy you have; ``load_text(None, path="anything.txt")`` reads any UTF-8
    text file without a checksum, for training on your own data.
    """
    if name is None:
        if path is None:
            raise ValueError("load_text(None, path=...) needs a path: name=None means 'my own text file'")
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"load_text: {path} is not a file; pass the path of a UTF-8 text file")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:  # read whole, so error.start is the byte's offset in the file
            raise ValueError(f"load_text: {path} is not UTF-8 text: byte {error.start} "
                             f"(0x{error.object[error.start]:02x}) cannot be decoded ({error.reason}); "
                             "pass a text file, saved as UTF-8") from None
    return corpus_path(name, path).read_text(encoding="utf-8")
