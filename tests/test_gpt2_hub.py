"""GPT.from_pretrained by name, against a stand-in for the Hugging Face hub on 127.0.0.1 (no internet).

``hf_hub_download`` talks to the hub in two steps (read from huggingface_hub's file_download.py):

* ``HEAD {endpoint}/{repo}/resolve/{revision}/{filename}``. For a large (LFS) file the real hub
  answers 302 to its CDN, with ``X-Repo-Commit`` (the commit), ``X-Linked-Etag`` (the file's
  sha256, quoted), ``X-Linked-Size`` and ``Location``. A redirect to another origin is not
  followed: the metadata is read from the 302 itself.
* ``GET {Location}``: the bytes. After a dropped connection it asks again with
  ``Range: bytes=N-`` and appends the rest (HTTP 206).

``FakeHub`` answers exactly that: a "hub" server and a "CDN" server on two loopback ports (two
origins, as on the real hub). It serves a tiny random GPT-2 saved in the hub's layout.
"""

import subprocess
import sys
import threading
import time
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

import minigpt.gpt2 as gpt2
from minigpt.gpt2 import HubWeights, WeightsNotFoundError
from minigpt.model import GPT

huggingface_hub = pytest.importorskip("huggingface_hub")
pytest.importorskip("transformers")
from test_gpt2_reference import assert_same_logits, hub_format_file, random_hf_gpt2  # noqa: E402

REPO, REVISION = "test/tiny-gpt2", "0123456789abcdef0123456789abcdef01234567"
FILE_URL = f"/{REPO}/resolve/{REVISION}/model.safetensors"


class FakeHub:
    """Two loopback HTTP servers that serve one file the way huggingface.co and its CDN do.

    Knobs for the tests: ``data`` (the bytes the CDN sends), ``etag`` (the sha256 the hub claims),
    ``cut_first_get_at`` (close the first GET after that many bytes); ``requests`` records what was asked.
    """

    def __init__(self, data: bytes):
        self.data, self.etag = data, sha256(data).hexdigest()
        self.cut_first_get_at = None
        self.requests = []  # (server, method, path, Range header) of each request for the file
        self.hub, self.cdn = self._serve("hub"), self._serve("cdn")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.hub.server_port}"

    def gets(self):
        return [r for r in self.requests if r[1] == "GET"]

    def _serve(self, role):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.fake, server.role, server.daemon_threads = self, role, True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def close(self):
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def answer(self, body):
        fake, role = self.server.fake, self.server.role
        if self.path == FILE_URL or self.path.startswith("/blobs/"):  # not huggingface_hub's other calls (/api/...)
            fake.requests.append((role, self.command, self.path, self.headers.get("Range")))
        if role == "hub" and self.path == FILE_URL:
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{fake.cdn.server_port}/blobs/{fake.etag}")
            self.send_header("X-Repo-Commit", REVISION)
            self.send_header("X-Linked-Etag", f'"{fake.etag}"')
            self.send_header("X-Linked-Size", str(len(fake.data)))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif role == "cdn" and self.path == f"/blobs/{fake.etag}":
            self.send_blob(fake, body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def send_blob(self, fake, body):
        start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0]) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(fake.data) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(fake.data) - 1}/{len(fake.data)}")
        self.end_headers()
        if not body:
            return
        cut = fake.cut_first_get_at
        if cut is not None and start == 0 and not fake.gets()[:-1]:  # the first GET: part of the bytes, then hang up
            self.wfile.write(fake.data[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(fake.data[start:])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random tiny GPT-2 in transformers, and the bytes of its model.safetensors in the hub's layout."""
    hf = random_hf_gpt2(n_embd=128, n_head=2)  # head_dim 64 as in GPT-2, so the file alone gives the shape
    return hf, hub_format_file(hf, tmp_path_factory.mktemp("tiny") / "model.safetensors").read_bytes()


@pytest.fixture
def hub(tiny, tmp_path, monkeypatch):
    """The fake hub, wired in as huggingface_hub's endpoint, with a fresh cache and "tiny" as a known size.

    huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE once, at import, into
    ``huggingface_hub.constants``; in this process we set those constants (the subprocess test
    below sets the real environment variables).
    """
    fake = FakeHub(tiny[1])
    constants = huggingface_hub.constants
    monkeypatch.setattr(constants, "ENDPOINT", fake.endpoint)
    template = fake.endpoint + "/{repo_id}/resolve/{revision}/{filename}"  # hf_hub_url's, made from ENDPOINT at import
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agents.json"), raising=False)  # 1.x+
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setitem(gpt2.PRETRAINED, "tiny", HubWeights(REPO, REVISION, size_mb=1))
    yield fake
    fake.close()


def cache_files(tmp_path):
    """Every file the hub cache holds for the test repository, but huggingface_hub's empty lock files."""
    return sorted(p.relative_to(tmp_path) for p in (tmp_path / "hub").rglob("*")
                  if p.is_file() and "tiny-gpt2" in str(p) and ".locks" not in p.parts)


def test_download_verifies_caches_and_loads(hub, tiny, tmp_path):
    assert gpt2.cached("tiny") is None
    model = GPT.from_pretrained("tiny")
    assert_same_logits(model, tiny[0])
    assert gpt2.cached("tiny") == tmp_path / f"hub/models--test--tiny-gpt2/snapshots/{REVISION}/model.safetensors"
    blob = Path("hub/models--test--tiny-gpt2/blobs") / hub.etag  # the file is stored under its sha256
    snapshot = Path(f"hub/models--test--tiny-gpt2/snapshots/{REVISION}/model.safetensors")
    assert set(cache_files(tmp_path)) >= {blob, snapshot}
    assert sha256((tmp_path / snapshot).read_bytes()).hexdigest() == hub.etag
    assert [(r[0], r[2]) for r in hub.gets()] == [("cdn", f"/blobs/{hub.etag}")]

    asked = len(hub.requests)  # a cached file at the pinned commit needs no network at all
    assert_same_logits(GPT.from_pretrained("tiny"), tiny[0])
    assert len(hub.requests) == asked
    huggingface_hub.constants.HF_HUB_OFFLINE = True  # the monkeypatch in `hub` restores it
    assert_same_logits(GPT.from_pretrained("tiny"), tiny[0])


def test_dropped_connection_is_resumed(hub, tiny, monkeypatch):
    # huggingface_hub writes what it receives in chunks of DOWNLOAD_CHUNK_SIZE (10 MiB) and resumes
    # after the last whole chunk; small chunks let a 2 MB file show it.
    chunk = 64 * 1024
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", chunk)
    hub.cut_first_get_at = len(hub.data) // 2
    try:  # current huggingface_hub resumes within the call (and deletes a partial file when it gives up)
        model = GPT.from_pretrained("tiny")
    except WeightsNotFoundError as e:  # 0.23 (on requests) gave up at once but kept <blob>.incomplete for the next call
        assert "the download failed" in str(e)
        model = GPT.from_pretrained("tiny")
    assert_same_logits(model, tiny[0])
    # Either way the rest is asked for with a Range request
    resumed_at = hub.cut_first_get_at // chunk * chunk
    assert [r[3] for r in hub.gets()] == [None, f"bytes={resumed_at}-"]


def test_damaged_download_is_a_clear_error_and_leaves_nothing_cached(hub, tmp_path):
    good = hub.data
    hub.data = good[:100] + bytes([good[100] ^ 1]) + good[101:]  # one bit flipped, same size, hub's ETag unchanged
    with pytest.raises(WeightsNotFoundError, match=f"has sha256 {sha256(hub.data).hexdigest()}, not {hub.etag}"):
        GPT.from_pretrained("tiny")
    assert cache_files(tmp_path) == []
    hub.data = good  # and the next try downloads it again
    GPT.from_pretrained("tiny")
    assert len(hub.gets()) == 2


def test_pinned_sha256_refuses_other_files_before_downloading(hub, monkeypatch, tmp_path):
    monkeypatch.setitem(gpt2.PRETRAINED, "tiny", HubWeights(REPO, REVISION, size_mb=1, sha256="f" * 64))
    with pytest.raises(WeightsNotFoundError, match="but the pinned one is f{64}"):
        GPT.from_pretrained("tiny")
    assert hub.gets() == [] and cache_files(tmp_path) == []


def test_offline_without_cache_is_one_clear_line_at_once(hub, tmp_path):
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    start = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as info:
        GPT.from_pretrained("gpt2")
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert "\n" not in message and info.value.__cause__ is None and info.value.__suppress_context__
    for part in ("HF_HUB_OFFLINE is set", "about 548 MB", "openai-community/gpt2", str(tmp_path / "hub"),
                 "GPT.from_pretrained('/path/to/model.safetensors')"):
        assert part in message
    assert hub.requests == []


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}],
                         ids=["HF_HUB_OFFLINE", "unreachable-HF_ENDPOINT"])
def test_offline_message_in_a_fresh_python(env, tmp_path):
    """As a learner sees it: environment variables, not patched constants; one line, no HTTP traceback, < 5 s."""
    script = "\n".join(["import sys, time", "from minigpt.model import GPT", "t = time.perf_counter()",
                        "try:", "    GPT.from_pretrained('gpt2')",
                        "finally:", "    print(f'seconds {time.perf_counter() - t:.2f}', file=sys.stderr)"])
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "0", **env}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    seconds = float(next(line for line in lines if line.startswith("seconds")).split()[1])
    assert result.returncode == 1 and seconds < 5, result.stderr
    assert lines[-1].startswith("minigpt.gpt2.WeightsNotFoundError: Cannot load GPT-2 'gpt2'"), result.stderr
    assert "direct cause" not in result.stderr and "During handling" not in result.stderr
    assert "httpx" not in result.stderr and "requests" not in result.stderr
    assert str(tmp_path / "hub") in lines[-1]
