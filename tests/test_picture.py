"""Pictures of views (widgets.picture): a PNG of every figure where a browser can draw it, and nothing, quietly,
where none can."""

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from widgets import AttentionView, picture
from widgets.figure import FigureView

WEIGHTS = np.tril(np.ones((1, 2, 4, 4))) / np.arange(1, 5)[:, None]


# A real view, displayed in a fresh process the way a kernel displays it. It prints what came back, how long it
# took and the widgets of the live view (where the line about missing pictures goes).
SHOW_A_VIEW = """
import json, sys, time
import numpy as np
from widgets import AttentionView, picture
{setup}
start = time.monotonic()
view = AttentionView(["a", "b", "c", "d"], np.tril(np.ones((1, 2, 4, 4))) / np.arange(1, 5)[:, None])
bundle = view._repr_mimebundle_()
seconds = time.monotonic() - start
second = AttentionView(["a", "b"], np.tril(np.ones((1, 1, 2, 2))) / np.arange(1, 3)[:, None])
second._repr_mimebundle_()
between = lambda shown: [w.value for w in shown.children[1:-1]]  # after the run hint, before the view
json.dump({{"keys": sorted(bundle), "seconds": seconds, "reason": picture.off_reason(),
           "lines": between(view._shown), "second_lines": between(second._shown)}}, sys.stdout)
"""
HIDE_EVERY_BROWSER = """
from choreographer.browsers.chromium import Chromium
Chromium.find_browser = classmethod(lambda cls, **kwargs: None)  # as on a machine where none is installed
"""


def show_a_view(tmp_path, browser_path=None, setup=""):
    env = {k: v for k, v in os.environ.items() if k != "BROWSER_PATH"}
    env["PATH"] = os.path.dirname(sys.executable)  # python only: no chromium, chrome or kaleido's on PATH
    if browser_path is not None:
        env["BROWSER_PATH"] = str(browser_path)
    done = subprocess.run([sys.executable, "-c", SHOW_A_VIEW.format(setup=setup)], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing printed: a message would be an output the stored notebooks lack
    return json.loads(done.stdout)


def a_script(tmp_path, body: str) -> Path:
    script = tmp_path / "browser"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("case", ["none found", "BROWSER_PATH names no file", "BROWSER_PATH is /bin/true",
                                  "an empty executable", "not executable"])
def test_without_a_browser_a_view_shows_live_without_a_picture_and_says_why_once(tmp_path, case):
    browser, setup = {
        "none found": (None, HIDE_EVERY_BROWSER),
        "BROWSER_PATH names no file": (tmp_path / "chromium", ""),
        "BROWSER_PATH is /bin/true": ("/bin/true", ""),
        "an empty executable": (a_script(tmp_path, ""), ""),
        "not executable": (tmp_path / "plain", ""),
    }[case]
    (tmp_path / "plain").write_text("#!/bin/sh\necho Chromium 1.2.3\n")
    shown = show_a_view(tmp_path, browser, setup)
    assert "image/png" not in shown["keys"] and "application/vnd.jupyter.widget-view+json" in shown["keys"]
    assert shown["seconds"] < 10
    assert shown["reason"] and len(shown["lines"]) == 1 and shown["reason"] in shown["lines"][0]
    assert "No pictures in this kernel" in shown["lines"][0] and "plotly_get_chrome" in shown["lines"][0]
    assert shown["second_lines"] == []  # said once per kernel, not under every view


def test_a_browser_that_never_answers_is_given_up_after_the_start_limit(tmp_path):
    """It answers --version like Chromium, then hangs instead of starting: the start's time limit ends the wait."""
    hangs = a_script(tmp_path, 'case "$1" in --version) echo "Chromium 156.0.1.2";; *) exec /bin/sleep 40;; esac\n')
    shown = show_a_view(tmp_path, hangs, setup="picture.START_SECONDS = 2")
    assert "image/png" not in shown["keys"]
    assert shown["seconds"] < 10 and "did not start" in shown["reason"] and "did not answer within 2 s" in shown["reason"]


class FailingRenderer:
    def __init__(self, error):
        self.error, self.stopped = error, False

    def render(self, fig, width):
        raise self.error

    def stop(self):
        self.stopped = True


def test_a_figure_that_fails_gives_no_picture_and_the_next_one_is_tried(monkeypatch):
    renderer = FailingRenderer(ValueError("this figure is broken"))
    monkeypatch.setitem(picture._state, "renderer", renderer)
    assert picture.png(AttentionView(["a", "b", "c", "d"], WEIGHTS).figures()) is None
    assert picture._state["renderer"] is renderer and not renderer.stopped


def test_a_renderer_that_stops_answering_switches_pictures_off(monkeypatch):
    renderer = FailingRenderer(TimeoutError("the browser did not answer within 90 s"))
    monkeypatch.setattr(picture, "_state", {"renderer": renderer, "reason": None, "announced": False})
    assert picture.png(AttentionView(["a", "b", "c", "d"], WEIGHTS).figures()) is None
    assert renderer.stopped and picture._state["renderer"] is False
    assert "did not answer" in picture.off_reason() and "did not answer" in picture.announce_once()
    assert picture.announce_once() is None


def test_the_picture_stacks_every_figure_under_the_hint():
    if picture.browser_problem(picture.find_browser()) is not None:
        pytest.skip("no Chrome/Chromium for pictures (apt-get install chromium)")
    from PIL import Image

    view = AttentionView(["a", "b", "c", "d"], WEIGHTS)
    heights = [fig.layout.height or 450 for fig in view.figures()]
    image = Image.open(io.BytesIO(base64.b64decode(picture.png_b64(view.figures()))))
    assert image.width == picture.WIDTH and image.height == 26 + sum(heights)
    assert FigureView(view.head_figure())._repr_mimebundle_()["image/png"]


def test_storing_a_notebook_without_a_browser_stops_before_running_it_and_says_why(tmp_path):
    notebook = tmp_path / "one.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    before = notebook.read_text()
    done = subprocess.run([sys.executable, "-m", "widgets.tools.store", str(notebook)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "BROWSER_PATH": "/bin/true"})  # fmt: skip
    assert done.returncode == 1 and done.stdout == "" and notebook.read_text() == before
    assert done.stderr.splitlines() == [done.stderr.strip()] and "no pictures can be drawn here: /bin/true" in done.stderr
