"""Pictures of views: one PNG per output, so a figure shows wherever no script runs.

A live view needs a kernel and a trusted notebook. Everywhere else (a stored notebook opened
untrusted, GitHub, nbviewer, an HTML or PDF export, a notebook reopened with a new kernel) the
output's ``image/png`` is what a reader sees. It is made with plotly's own export route: kaleido 1.x
drives a headless Chrome or Chromium already on the machine. One renderer process is started per
kernel on first use and kept, so a picture costs about 0.3 s (a 3D scene, drawn by WebGL in
software, about 3 s); the first one also pays the browser's start, a few seconds.

No browser, no kaleido, or a renderer that fails: ``png`` returns None and the view carries no
picture. It never raises, and it prints nothing (a warning would change the stored outputs that
nbval compares on machines that have a browser).
"""

from __future__ import annotations

import atexit
import base64
import io
import logging
import os
import shutil

log = logging.getLogger(__name__)

WIDTH = 1000  # px: legible on a projector and on GitHub's page width
HINT = "Picture saved with the notebook: run the cell to interact."
_state = {"renderer": None}  # None: not tried yet; False: unavailable in this process; True: running


def find_browser() -> str | None:
    """Chrome/Chromium for kaleido: $BROWSER_PATH, else what choreographer finds on PATH, else Debian's path."""
    for candidate in (os.environ.get("BROWSER_PATH"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _start() -> bool:
    if _state["renderer"] is None:
        _state["renderer"] = False
        try:
            import kaleido

            browser = find_browser()
            if browser and "BROWSER_PATH" not in os.environ:
                os.environ["BROWSER_PATH"] = browser  # choreographer reads it; chrome/google-chrome are found anyway
            # mathjax=False: the default is a CDN script, which would stall every page with no network
            kaleido.start_sync_server(n=1, timeout=60, mathjax=False, silence_warnings=True)
            atexit.register(kaleido.stop_sync_server, silence_warnings=True)
            _state["renderer"] = True
        except Exception as exc:  # no kaleido, no browser: the view simply has no picture
            log.info("no pictures: %s", exc)
    return _state["renderer"]


def _render(fig, width: int) -> bytes:
    import kaleido

    height = fig.layout.height or 450
    return kaleido.calc_fig_sync(fig.to_plotly_json(), opts=dict(format="png", width=width, height=height, scale=1))


def png(figures, width: int = WIDTH, hint: str = HINT) -> bytes | None:
    """One PNG of ``figures`` stacked top to bottom under a line of ``hint``; None when no renderer works."""
    if not figures or not _start():
        return None
    try:
        from PIL import Image, ImageDraw, ImageFont

        images = [Image.open(io.BytesIO(_render(fig, width))).convert("RGB") for fig in figures]
    except Exception as exc:
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
