"""GPT.from_pretrained by name, against a stand-in for the Hugging Face hub on 127.0.0.1 (no internet).

Each load runs in a fresh Python set up the way a learner sets up huggingface_hub, with environment
variables only: ``HF_ENDPOINT`` names the stand-in, ``HF_HOME`` a temporary folder (the cache is
``$HF_HOME/hub``), ``HF_HUB_OFFLINE`` is 0 or 1. Nothing of huggingface_hub is patched.

``hf_hub_download`` talks to the hub in two steps (read from huggingface_hub's file_download.py):

* ``HEAD {endpoint}/{repo}/resolve/{revision}/{filename}``. For a large (LFS) file the real hub
  answers 302 to its CDN, with ``X-Repo-Commit`` (the commit), ``X-Linked-Etag`` (the file's
  sha256, quoted), ``X-Linked-Size`` and ``Location``. A redirect to another origin is not
  followed: the metadata is read from the 302 itself.
* ``GET {Location}``: the bytes, written to the cache in chunks of ``DOWNLOAD_CHUNK_SIZE`` (10 MiB).
  After a dropped connection it asks again with ``Range: bytes=N-`` (N: the whole chunks it has)
  and appends the rest (HTTP 206).

``FakeHub`` answers exactly that: a "hub" server and a "CDN" server on two loopback ports (two
origins, as on the real hub), in threads of this process that the fixture stops. It serves a small
random GPT-2 saved in the hub's layout, a little over one chunk, so a dropped download can resume.
"""

import socket
import subprocess
import sys
import threading
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants
from test_gpt2_reference import hub_format_file, random_hf_gpt2

REPO, REVISION = "test/tiny-gpt2", "0123456789abcdef0123456789abcdef01234567"
FILE_URL = f"/{REPO}/resolve/{REVISION}/model.safetensors"
SNAPSHOT = Path(f"hub/models--test--tiny-gpt2/snapshots/{REVISION}/model.safetensors")
LOAD_S = 120  # the most one load in a fresh Python may take, so a test can never hang

# The learner's side: GPT.from_pretrained in a fresh Python, with "tiny" (the stand-in's repository) as a
# size next to OpenAI's four. It saves the model's logits on fixed ids and prints the cached file's path.
LOAD = f"""
import sys
import torch
import minigpt.gpt2 as gpt2
from minigpt.model import GPT

name, pinned_sha256, logits_path = sys.argv[1:]
gpt2.PRETRAINED["tiny"] = gpt2.HubWeights({REPO!r}, {REVISION!r}, size_mb=15, sha256=pinned_sha256 or None)
model = GPT.from_pretrained(name)
with torch.no_grad():
    torch.save(model(torch.randint(0, 97, (2, 32), generator=torch.Generator().manual_seed(0)))[0], logits_path)
print(gpt2.cached(name))
"""


class FakeHub:
    """Two loopback HTTP servers that serve one file the way huggingface.co and its CDN do.

    Knobs for the tests: ``data`` (the bytes the CDN sends), ``etag`` (the sha256 the hub claims),
    ``cut_first_get_at`` (close the first GET after that many bytes), ``hang_up`` (the hub closes every
    connection without an answer); ``requests`` records what was asked.
    """

    def __init__(self, data: bytes):
        self.data, self.etag = data, sha256(data).hexdigest()
        self.cut_first_get_at = None
        self.hang_up = False
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
    timeout = LOAD_S  # a client that stops reading or sending cannot hold a server thread for longer

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def answer(self, body):
        fake, role = self.server.fake, self.server.role
        if self.path == FILE_URL or self.path.startswith("/blobs/") or fake.hang_up:
            fake.requests.append((role, self.command, self.path, self.headers.get("Range")))
        if role == "hub" and fake.hang_up:
            self.close_connection = True
        elif role == "hub" and self.path == FILE_URL:
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
    """A random GPT-2 in transformers, and the bytes of its model.safetensors in the hub's layout: head_dim 64
    as in GPT-2 (so the file alone gives the shape), and 1024 positions, whose three causal masks
    (4 MiB each) make the file larger than one download chunk."""
    hf = random_hf_gpt2(n_embd=128, n_head=2, n_layer=3, n_positions=1024)
    data = hub_format_file(hf, tmp_path_factory.mktemp("tiny") / "model.safetensors").read_bytes()
    assert len(data) > constants.DOWNLOAD_CHUNK_SIZE
    return hf, data


@pytest.fixture
def hub(tiny):
    fake = FakeHub(tiny[1])
    yield fake
    fake.close()


def load(endpoint: str, tmp_path, name="tiny", *, offline=False, pinned_sha256=""):
    """Run GPT.from_pretrained(name) in a fresh Python whose huggingface_hub uses ``endpoint`` and the cache in
    ``tmp_path / "hub"``: the finished process (its stdout is the cached file's path)."""
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path), "HF_ENDPOINT": endpoint,
           "HF_HUB_OFFLINE": "1" if offline else "0", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    return subprocess.run([sys.executable, "-c", LOAD, name, pinned_sha256, str(tmp_path / "logits.pt")], env=env,
                          capture_output=True, text=True, timeout=LOAD_S)


def loaded_right(result, tiny, tmp_path) -> bool:
    """The fresh Python loaded the model and its logits are transformers' (to 1e-4)."""
    assert result.returncode == 0, result.stderr
    hf = tiny[0]
    with torch.no_grad():
        want = hf(torch.randint(0, 97, (2, 32), generator=torch.Generator().manual_seed(0))).logits
    return torch.allclose(torch.load(tmp_path / "logits.pt"), want, atol=1e-4)


def error_line(result) -> str:
    """The one line a failed load ends with: the WeightsNotFoundError and its message."""
    assert result.returncode == 1, result.stderr
    assert "direct cause" not in result.stderr and "During handling" not in result.stderr  # no chained traceback
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("minigpt.gpt2.WeightsNotFoundError: Cannot load GPT-2 "), result.stderr
    return last


def cache_files(tmp_path):
    """Every file the hub cache holds for the test repository, but huggingface_hub's empty lock files."""
    return sorted(p.relative_to(tmp_path) for p in (tmp_path / "hub").rglob("*")
                  if p.is_file() and "tiny-gpt2" in str(p) and ".locks" not in p.parts)


def test_download_verifies_caches_and_loads(hub, tiny, tmp_path):
    first = load(hub.endpoint, tmp_path)
    assert loaded_right(first, tiny, tmp_path)
    assert first.stdout.strip() == str(tmp_path / SNAPSHOT)
    blob = Path("hub/models--test--tiny-gpt2/blobs") / hub.etag  # the file is stored under its sha256
    assert set(cache_files(tmp_path)) >= {blob, SNAPSHOT}
    assert sha256((tmp_path / SNAPSHOT).read_bytes()).hexdigest() == hub.etag
    assert [(r[0], r[2]) for r in hub.gets()] == [("cdn", f"/blobs/{hub.etag}")]

    asked = len(hub.requests)  # a cached file at the pinned commit needs no network at all, online or off
    assert loaded_right(load(hub.endpoint, tmp_path), tiny, tmp_path)
    assert loaded_right(load(hub.endpoint, tmp_path, offline=True), tiny, tmp_path)
    assert len(hub.requests) == asked


def test_dropped_connection_is_resumed(hub, tiny, tmp_path):
    chunk = constants.DOWNLOAD_CHUNK_SIZE  # huggingface_hub resumes after the last whole chunk it wrote
    hub.cut_first_get_at = chunk + (len(hub.data) - chunk) // 2
    result = load(hub.endpoint, tmp_path)
    if result.returncode:  # 0.23 (on requests) gave up at once but kept <blob>.incomplete for the next call
        assert "the download failed" in error_line(result)
        result = load(hub.endpoint, tmp_path)
    assert loaded_right(result, tiny, tmp_path)  # current huggingface_hub resumes within the call
    assert [r[3] for r in hub.gets()] == [None, f"bytes={chunk}-"]  # either way the rest is asked for with a Range


def test_damaged_download_is_a_clear_error_and_leaves_nothing_cached(hub, tiny, tmp_path):
    good = hub.data
    hub.data = good[:100] + bytes([good[100] ^ 1]) + good[101:]  # one bit flipped, same size, hub's ETag unchanged
    assert f"has sha256 {sha256(hub.data).hexdigest()}, not {hub.etag}" in error_line(load(hub.endpoint, tmp_path))
    assert cache_files(tmp_path) == []
    hub.data = good  # and the next try downloads it again
    assert loaded_right(load(hub.endpoint, tmp_path), tiny, tmp_path)
    assert len(hub.gets()) == 2


def test_pinned_sha256_refuses_other_files_before_downloading(hub, tmp_path):
    assert "but the pinned one is " + "f" * 64 in error_line(load(hub.endpoint, tmp_path, pinned_sha256="f" * 64))
    assert hub.gets() == [] and cache_files(tmp_path) == []


def test_offline_without_cache_is_one_clear_line_and_asks_nothing(hub, tmp_path):
    line = error_line(load(hub.endpoint, tmp_path, "gpt2", offline=True))
    for part in ("HF_HUB_OFFLINE is set", "about 548 MB", "openai-community/gpt2", str(tmp_path / "hub"),
                 "GPT.from_pretrained('/path/to/model.safetensors')"):
        assert part in line
    assert hub.requests == []


def test_a_hub_that_hangs_up_is_asked_once_and_named(hub, tmp_path):
    """No retries (huggingface_hub's own would wait 30 s): one HEAD, then one line that names the endpoint."""
    hub.hang_up = True
    result = load(hub.endpoint, tmp_path, "gpt2")
    assert f"the hub at {hub.endpoint} cannot be reached (" in error_line(result)
    asked_for_the_file = [(r[0], r[1]) for r in hub.requests if "/resolve/" in r[2]]  # not huggingface_hub's /api/
    assert asked_for_the_file == [("hub", "HEAD")]
    assert "httpx" not in result.stderr and "requests" not in result.stderr


def test_an_unreachable_endpoint_is_one_clear_line(tmp_path):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens, the connection is refused
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = load(endpoint, tmp_path, "gpt2")
    line = error_line(result)
    assert f"the hub at {endpoint} cannot be reached (" in line and str(tmp_path / "hub") in line
    assert "httpx" not in result.stderr and "requests" not in result.stderr
