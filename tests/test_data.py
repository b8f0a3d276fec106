"""minigpt.data: finding/downloading corpora, the train/val split and batches."""

import dataclasses
import hashlib
import io
import os
from pathlib import Path
from urllib.error import URLError
from urllib.response import addinfourl

import pytest
import torch

from minigpt.data import CORPORA, DataNotFoundError, cache_dir, get_batch, load_text, train_val_split
from minigpt.data import corpus as corpus_module

SHAKESPEARE = CORPORA["tinyshakespeare"]
MADE_UP = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 50


@pytest.fixture
def made_up_corpus(tmp_path, monkeypatch):
    """A small text registered in place of tiny shakespeare (its checksum and size), in a data folder of its
    own: the finding, checking and caching of a corpus are tested without the 1 MB download."""
    payload = MADE_UP.encode("utf-8")
    corpus = dataclasses.replace(SHAKESPEARE, sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    monkeypatch.setitem(CORPORA, "tinyshakespeare", corpus)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / corpus.filename).write_bytes(payload)
    return folder


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """No data dir, an empty (not yet created) cache folder, and a network that must not be used."""
    monkeypatch.delenv("MINIGPT_DATA_DIR", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("MINIGPT_CACHE_DIR", str(cache))
    return cache


def offline(monkeypatch):
    def no_network(url, timeout=None):
        raise URLError("simulated: no network")
    monkeypatch.setattr(corpus_module, "urlopen", no_network)


def serve(monkeypatch, payload: bytes):
    """Make the download return ``payload``."""
    monkeypatch.setattr(corpus_module, "urlopen", lambda url, timeout=None: addinfourl(io.BytesIO(payload), {}, url))


def assert_empty(folder: Path):
    assert not folder.exists() or list(folder.iterdir()) == []


def test_registry_has_tinyshakespeare():
    assert SHAKESPEARE.url == "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    assert SHAKESPEARE.size == 1_115_394
    assert SHAKESPEARE.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_loads_offline_from_data_dir(made_up_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGPT_DATA_DIR", str(made_up_corpus))
    monkeypatch.setenv("MINIGPT_CACHE_DIR", str(tmp_path / "cache"))
    offline(monkeypatch)  # proves the data dir is used before any download
    assert load_text() == MADE_UP
    assert_empty(tmp_path / "cache")  # found, so nothing was cached


def test_explicit_path_wins_and_is_checked(made_up_corpus, tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGPT_DATA_DIR", raising=False)
    offline(monkeypatch)
    assert load_text(path=made_up_corpus / SHAKESPEARE.filename) == MADE_UP
    wrong = tmp_path / "input.txt"
    wrong.write_text("not shakespeare")
    with pytest.raises(DataNotFoundError, match="sha256") as e:
        load_text(path=wrong)
    assert SHAKESPEARE.url in str(e.value)


def test_bad_explicit_path_error_says_how_to_fix(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(DataNotFoundError) as e:
        load_text(path=missing)
    message = str(e.value)
    assert str(missing) in message and SHAKESPEARE.url in message and "MINIGPT_DATA_DIR" in message


def test_offline_with_empty_cache_gives_clear_error_and_leaves_cache_empty(empty_cache, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(DataNotFoundError) as e:
        load_text()
    message = str(e.value)
    assert SHAKESPEARE.url in message
    assert str(empty_cache / SHAKESPEARE.filename) in message
    assert "by hand" in message and "no network" in message
    assert_empty(empty_cache)


def test_download_with_bad_checksum_leaves_nothing(empty_cache, monkeypatch):
    serve(monkeypatch, b"a corrupted download")
    with pytest.raises(DataNotFoundError, match="sha256"):
        load_text()
    assert_empty(empty_cache)


def test_interrupted_download_leaves_nothing(empty_cache, monkeypatch):
    class Dropping(io.BytesIO):
        def read(self, n=-1):
            raise TimeoutError("simulated: connection dropped")

    monkeypatch.setattr(corpus_module, "urlopen", lambda url, timeout=None: addinfourl(Dropping(b""), {}, url))
    with pytest.raises(DataNotFoundError, match="interrupted"):
        load_text()
    assert_empty(empty_cache)


def test_download_is_verified_cached_and_reused(made_up_corpus, empty_cache, monkeypatch):
    serve(monkeypatch, MADE_UP.encode("utf-8"))
    assert load_text() == MADE_UP
    assert [p.name for p in empty_cache.iterdir()] == [SHAKESPEARE.filename]  # no temp files left
    offline(monkeypatch)
    assert load_text() == MADE_UP  # second time: from the cache, no network


def test_damaged_cached_file_is_reported(empty_cache, monkeypatch):
    empty_cache.mkdir()
    (empty_cache / SHAKESPEARE.filename).write_text("truncated")
    offline(monkeypatch)
    with pytest.raises(DataNotFoundError, match="delete it"):
        load_text()


def test_cache_dir_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIGPT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "minigpt"
    monkeypatch.setenv("MINIGPT_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_own_text_file_and_unknown_corpus(tmp_path):
    own = tmp_path / "own.txt"
    own.write_text("hello there", encoding="utf-8")
    assert load_text(None, path=own) == "hello there"
    with pytest.raises(ValueError, match="known corpora"):
        load_text("no-such-corpus")


def test_train_val_split_is_first_90_percent():
    assert train_val_split("abcdefghij") == ("abcdefghi", "j")
    train, val = train_val_split(torch.arange(1000))
    assert torch.equal(train, torch.arange(900)) and torch.equal(val, torch.arange(900, 1000))
    assert train_val_split(list(range(10)), frac=0.5) == ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
    with pytest.raises(ValueError):
        train_val_split("abc", frac=1.0)


def test_get_batch_shapes_and_shift():
    data = torch.arange(500) * 3  # value tells position: data[i] = 3 i
    x, y = get_batch(data, batch_size=4, block_size=8, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8) and x.dtype == y.dtype == torch.long
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(y[:, -1], x[:, -1] + 3)  # y's last token is the one after x's window
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.full((4, 7), 3))  # contiguous windows


def test_get_batch_is_seeded_and_reaches_the_end():
    data = torch.arange(10, dtype=torch.int32)  # a compact dtype is fine; batches come out long
    a = get_batch(data, 64, 9, torch.Generator().manual_seed(1))
    b = get_batch(data, 64, 9, torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and a[0].dtype == torch.long
    assert torch.equal(a[1], torch.arange(1, 10).expand(64, 9))  # the only window: last token used as target


def test_get_batch_rejects_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(TypeError, match="torch.tensor"):
        get_batch([1, 2, 3], 1, 2, g)
    with pytest.raises(ValueError, match="block_size"):
        get_batch(torch.arange(8), 1, 8, g)
    with pytest.raises(TypeError, match="integer"):
        get_batch(torch.rand(100), 1, 8, g)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_get_batch_on_cuda():
    x, y = get_batch(torch.arange(100), 2, 4, torch.Generator().manual_seed(0), device="cuda")
    assert x.is_cuda and y.is_cuda and torch.equal(y[:, :-1], x[:, 1:])


# -- the token cache: a changed file is noticed, a killed encode's leftovers are removed ------------

TOKEN_TEXT = "To be, or not to be:\nthat is the question.\nWhether 'tis nobler in the mind to suffer\n" * 20


@pytest.fixture
def text_and_tokenizer(tmp_path):
    from minigpt.tokenizers import CharTokenizer

    path = tmp_path / "text.txt"
    path.write_text(TOKEN_TEXT, encoding="utf-8")
    return path, CharTokenizer.from_text(TOKEN_TEXT)


def test_a_token_file_changed_on_disk_is_encoded_again_and_said(text_and_tokenizer, tmp_path, capsys):
    import os

    import numpy as np

    from minigpt.data.tokens import token_cache

    text, tokenizer = text_and_tokenizer
    folder = tmp_path / "tokens"
    entry = token_cache(text, tokenizer, folder=folder, progress=False)
    right = tokenizer.encode(TOKEN_TEXT)
    shuffled = np.random.default_rng(0).permutation(np.array(right, dtype=entry.meta["dtype"]))
    assert shuffled.tolist() != right
    shuffled.tofile(tmp_path / "shuffled")
    os.replace(tmp_path / "shuffled", entry.bin_path)  # same size, other ids
    again = token_cache(text, tokenizer, folder=folder, progress=False)
    assert again.ids().tolist() == right
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and str(entry.bin_path) in err and "checksum" in err and "encoding" in err
    assert token_cache(text, tokenizer, folder=folder, progress=False).ids().tolist() == right
    assert capsys.readouterr().err == ""  # the new entry is whole


def test_a_token_file_is_checked_once_per_process(text_and_tokenizer, tmp_path, monkeypatch):
    from minigpt.data import tokens
    from minigpt.data.corpus import sha256_of

    text, tokenizer = text_and_tokenizer
    folder = tmp_path / "tokens"
    tokens.token_cache(text, tokenizer, folder=folder, progress=False)
    hashed = []
    monkeypatch.setattr(tokens, "sha256_of", lambda path: hashed.append(path) or sha256_of(path))
    for _ in range(3):  # written by this process: its checksum is known without reading it again
        tokens.token_cache(text, tokenizer, folder=folder, progress=False)
    assert hashed == []
    monkeypatch.setattr(tokens, "_verified", {})  # as in a new process: nothing checked yet
    for _ in range(3):
        tokens.token_cache(text, tokenizer, folder=folder, progress=False)
    assert len(hashed) == 1


def test_a_killed_encodes_leftovers_are_removed_by_the_next_write(text_and_tokenizer, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    from minigpt.data.tokens import token_cache

    text, tokenizer = text_and_tokenizer
    folder = tmp_path / "tokens"
    entry = token_cache(text, tokenizer, folder=folder, progress=False)
    bin_path, meta_path = entry.bin_path, entry.bin_path.with_suffix(".json")
    bin_path.unlink()  # as after a kill -9 mid-encode: no entry, a temporary folder holding a big file
    stale = [folder / f".{bin_path.name}.k1ll3d.tmp", folder / f".{meta_path.name}.k1ll3d.tmp"]
    others = folder / f".{'0' * 20}-{'1' * 20}.bin.k1ll3d.tmp"  # another cache's: not ours to judge
    live = folder / f".{bin_path.name}.wr1t1ng.tmp"  # another process is writing it right now
    for path in (*stale, others, live):
        path.mkdir()
        (path / "partial").write_bytes(b"\0" * 1000)
    writer = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(writer, fcntl.LOCK_EX)  # what a writer holds while it writes
        again = token_cache(text, tokenizer, folder=folder, progress=False)
        assert again.ids().tolist() == tokenizer.encode(TOKEN_TEXT)
        assert not any(path.exists() for path in stale)
        assert others.exists() and live.exists()
    finally:
        os.close(writer)
