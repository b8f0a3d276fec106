"""Pictures of views: one PNG per output, so a figure shows wherever no script runs.

A live view needs a kernel and a trusted notebook. Everywhere else (a stored notebook opened
untrusted, GitHub, nbviewer, an HTML or PDF export, a notebook reopened with a new kernel) the
output's ``image/png`` is what a reader sees. It is made with plotly's own export route: kaleido 1.x
drives a headless Chrome or Chromium already on the machine. One renderer is started per kernel on
first use and kept, so a picture costs about 0.3 s (a 3D scene, drawn by WebGL in software, about
3 s); the first one also pays the browser's start, a few seconds.

Pictures are optional, and a missing or broken browser must never stop a view. So before kaleido
starts, the browser is found and asked for its version (a program that is not a browser, an empty
file or one that hangs fails here in at most ``PROBE_SECONDS``); the whole start is bounded by
``START_SECONDS``, and each picture by ``RENDER_SECONDS``. Any failure switches pictures off for the
rest of the process: ``png`` returns None, the view still shows live, and ``off_reason()`` says why.
Nothing is printed (a message would change the outputs that notebooks store and compare); views
show the reason once, inside the first live view that has no picture (``announce_once``).

The renderer runs kaleido on an event loop of its own, in a daemon thread, and waits for each call
with a time limit. (kaleido's ``start_sync_server`` would do the same with no limit: when the browser
fails to start, its thread dies and the caller waits forever.)
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import io
import logging
import os
import re
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

WIDTH = 1000  # px: legible on a projector and on GitHub's page width
HINT = "Picture saved with the notebook: run the cell to interact."
PROBE_SECONDS = 5  # `browser --version`
START_SECONDS = 20  # the browser's start and kaleido's first tab, on a busy 2-core laptop
RENDER_SECONDS = 90  # one figure; kaleido's own limit (60 s) fires first, this one catches a browser that hangs
CLOSE_SECONDS = 2  # closing the browser at exit or after a failure
HOW_TO_TURN_ON = "install Chrome or Chromium (or run `plotly_get_chrome`), or point BROWSER_PATH at one"
_state = {"renderer": None, "reason": None, "announced": False}  # renderer None: not tried; False: off


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido would use: $BROWSER_PATH when set (even if it names nothing), else
    what choreographer finds (the copy ``plotly_get_chrome`` downloads, then Chrome, Chromium, Edge, ...
    on PATH and in their usual places)."""
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"]
    try:
        from choreographer.browsers.chromium import Chromium

        return Chromium.find_browser(skip_local=False)
    except Exception as exc:  # choreographer missing or changed: as if no browser were found
        log.info("could not look for a browser: %s", exc)
        return None


def browser_problem(browser: str | None) -> str | None:
    """Why ``browser`` cannot draw pictures (None: it looks like a working Chrome/Chromium).

    On Windows, ``chrome.exe --version`` prints nothing, so there only the start's time limit applies.
    """
    where = f"BROWSER_PATH={os.environ['BROWSER_PATH']!r}" if os.environ.get("BROWSER_PATH") else "this machine"
    if browser is None:
        return f"no Chrome or Chromium found on {where}"
    if not os.path.isfile(browser) or not os.access(browser, os.X_OK):
        return f"{browser} ({where}) is not an executable file"
    if sys.platform == "win32":
        return None
    try:
        answer = subprocess.run([browser, "--version"], capture_output=True, text=True, timeout=PROBE_SECONDS,
                                stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"{browser} did not answer `--version` within {PROBE_SECONDS} s"
    except OSError as exc:
        return f"{browser} could not be run ({exc.strerror or exc})"
    if answer.returncode != 0 or not re.search(r"\d+\.\d+\.\d+", answer.stdout):
        return f"{browser} does not answer `--version` like a Chrome or Chromium browser"
    return None


class _Renderer:
    """kaleido on an event loop in a daemon thread; every call waits at most a given time."""

    def __init__(self, browser: str):
        for name in ("choreographer", "kaleido"):  # their warnings would reach the cell's stderr through logging's
            logging.getLogger(name).addHandler(logging.NullHandler())  # last-resort handler: ours are in off_reason
        self.loop = asyncio.new_event_loop()
        # a task given up on (a start that timed out) may still end with an error nobody awaits: log it quietly
        self.loop.set_exception_handler(lambda loop, context: log.info("renderer: %s", context.get("exception")))
        threading.Thread(target=self.loop.run_forever, name="minigpt-pictures", daemon=True).start()
        self.kaleido = None
        try:
            self.kaleido = self.call(self._create(browser), PROBE_SECONDS)
            self.call(self.kaleido.open(), START_SECONDS)
        except BaseException:
            self.stop()  # closes a browser that started but never answered
            raise

    @staticmethod
    async def _create(browser: str):
        import kaleido

        # mathjax=False: the default is a CDN script, which would stall every page with no network
        return kaleido.Kaleido(n=1, timeout=60, mathjax=False, path=browser)

    def call(self, coroutine, seconds: float):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=seconds)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"the browser did not answer within {seconds} s") from None

    def render(self, fig, width: int) -> bytes:
        height = fig.layout.height or 450
        opts = dict(format="png", width=width, height=height, scale=1)
        return self.call(self.kaleido.calc_fig(fig.to_plotly_json(), opts=opts), RENDER_SECONDS)

    def stop(self) -> None:
        """Close the browser (briefly bounded) and end the loop; safe to call twice."""
        if self.kaleido is not None:
            kaleido, self.kaleido = self.kaleido, None
            try:
                self.call(kaleido.close(), CLOSE_SECONDS)
            except BaseException as exc:
                log.info("closing the browser: %s", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _switch_off(reason: str) -> None:
    log.info("no pictures: %s", reason)
    _state["renderer"], _state["reason"] = False, reason


def _renderer() -> _Renderer | None:
    """The process's renderer, started on first use; None once pictures are off."""
    if _state["renderer"] is None:
        _state["renderer"] = False
        browser = find_browser()
        problem = browser_problem(browser)
        if problem is not None:
            _switch_off(problem)
            return None
        try:
            renderer = _Renderer(browser)
        except Exception as exc:  # kaleido missing, or the browser crashed or hung while starting
            _switch_off(f"{browser} did not start as a renderer ({exc})")
            return None
        atexit.register(renderer.stop)
        _state["renderer"] = renderer
    return _state["renderer"] or None


def off_reason() -> str | None:
    """Why this process draws no pictures, once a view has tried (None: they work, or were not tried yet)."""
    return _state["reason"]


def announce_once() -> str | None:
    """The one line a kernel shows about missing pictures: the reason and how to turn them on, the first
    time it is asked after pictures went off; None every other time."""
    if _state["reason"] is None or _state["announced"]:
        return None
    _state["announced"] = True
    return (f"No pictures in this kernel: {_state['reason']}; the live views work, and for pictures in saved "
            f"notebooks and exports, {HOW_TO_TURN_ON}, and restart the kernel.")


def png(figures, width: int = WIDTH, hint: str = HINT) -> bytes | None:
    """One PNG of ``figures`` stacked top to bottom under a line of ``hint``; None when no renderer works."""
    renderer = _renderer() if figures else None
    if renderer is None:
        return None
    try:
        from PIL import Image, ImageDraw, ImageFont

        images = [Image.open(io.BytesIO(renderer.render(fig, width))).convert("RGB") for fig in figures]
    except TimeoutError as exc:  # a browser that stops answering will not answer the next figure either
        renderer.stop()
        _switch_off(str(exc))
        return None
    except Exception as exc:  # this figure only
        log.info("picture failed: %s", exc)
        return None
    font = ImageFont.load_default(size=15)
    top = 26 if hint else 0
    sheet = Image.new("RGB", (max(im.width for im in images), top + sum(im.height for im in images)), "white")
    if hint:
        ImageDraw.Draw(sheet).text((8, 5), hint, fill=(90, 90, 90), font=font)
    y = top
    for im in images:
        sheet.paste(im, (0, y))
        y += im.height
    # an adaptive 256-colour palette: charts have few colours, and it makes the file ~3x smaller
    out = io.BytesIO()
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def png_b64(figures, **kwargs) -> str | None:
    """``png`` as the base64 text a notebook's ``image/png`` output holds."""
    data = png(figures, **kwargs)
    return None if data is None else base64.b64encode(data).decode("ascii")
