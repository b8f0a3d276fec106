"""AttentionView at three sizes: Python build time, first-display payload, saved-notebook bytes,
and render time in headless Chromium. Run: ``python benchmarks/widgets.py``.

* build: ``AttentionView(tokens, weights)`` plus building its widget tree (figures serialised),
  not counting the one-time compression of plotly.js (reported on its own line).
* payload: JSON size of the state of every widget model the view creates (what the comm_open
  messages carry to the front end at first display), without the shared plotly.js model.
* notebook: what saving the notebook in JupyterLab adds for this view: its widget state + its output
  bundle (the PNG picture, text/plain, widget-view reference); plotly.js itself (once per notebook,
  in the shared model) is reported on its own.
* picture: drawing the view's PNG (``widgets.picture``, kaleido + Chromium, renderer already running)
  and its size.
* render: Chromium draws the three figures the view sends (``Plotly.newPlot`` on the same JSON
  the live panes use) on a local page with plotly.js already loaded; median of 3.

Targets: at 12 x 12 x 512, build <= 1 s, payload <= 5 MB, render <= 2 s; at GPT-2's full context,
12 x 12 x 1024, build <= 2 s and payload <= 8 MB.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import warnings

import ipywidgets as W
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from widgets import AttentionView  # noqa: E402
from widgets import picture  # noqa: E402
from widgets._plotly import plotly_js_gzip_b64, shared_lib  # noqa: E402

SIZES = [(6, 6, 64), (12, 12, 256), (12, 12, 512), (12, 12, 1024)]
TARGETS = {"12x12x512": {"build_s": 1.0, "payload_mb": 5.0, "render_s": 2.0},
           "12x12x1024": {"build_s": 2.0, "payload_mb": 8.0}}  # fmt: skip


def causal_softmax(L, H, T, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((L, H, T, T), dtype=np.float32) * 2
    w[..., np.triu(np.ones((T, T), bool), 1)] = -np.inf
    w -= w.max(-1, keepdims=True)
    np.exp(w, out=w)
    w /= w.sum(-1, keepdims=True)
    return w


def state_bytes(widgets) -> int:
    total = 0
    for widget in widgets:
        state = widget.get_state()
        total += len(json.dumps(state, default=str, separators=(",", ":")))
    return total


def measure(L, H, T) -> dict:
    weights = causal_softmax(L, H, T)
    tokens = [f"tok{i}" for i in range(T)]
    warnings.filterwarnings("ignore", message="Widget.widgets is deprecated")  # still the only registry
    before = set(W.Widget.widgets)
    start = time.perf_counter()
    view = AttentionView(tokens, weights)
    view.widget
    build = time.perf_counter() - start
    created = [W.Widget.widgets[k] for k in set(W.Widget.widgets) - before]
    payload = state_bytes(created)
    start = time.perf_counter()
    bundle = view._repr_mimebundle_()  # draws the picture
    picture_s = time.perf_counter() - start if "image/png" in bundle else None
    output = len(json.dumps(bundle, separators=(",", ":")))
    figures = [view._grid.figure, view._head.figure, view._text.figure]
    return dict(shape=f"{L}x{H}x{T}", build_s=build, payload_mb=payload / 1e6, notebook_mb=(payload + output) / 1e6,
                figures=figures, picture_s=picture_s, picture_kb=len(bundle.get("image/png", "")) * 3 / 4 / 1e3,
                lib_mb=len(plotly_js_gzip_b64()) / 1e6)  # fmt: skip


RENDER_PAGE = """<!doctype html><html><body><div id="a" style="width:600px"></div><div id="b" style="width:800px">
</div><div id="c" style="width:1000px"></div><script>%s</script></body></html>"""


def render_times(results) -> None:
    """Fill result['render_s'] by drawing each view's figures in headless Chromium."""
    import lab
    from playwright.sync_api import sync_playwright

    chromium = lab.find_chromium()
    if chromium is None:
        for r in results:
            r["render_s"] = None
        return
    import plotly

    plotly_js = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        page_path = Path(tmp) / "render.html"
        page_path.write_text(RENDER_PAGE % plotly_js)
        browser = p.chromium.launch(executable_path=chromium, args=lab.CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(page_path.as_uri())
        for r in [results[0]] + results:  # the first pass warms up plotly.js and is thrown away
            runs = []
            for _ in range(3):
                runs.append(page.evaluate(
                    """async (figs) => { const t0 = performance.now();
                       for (const [id, s] of [['a', figs[0]], ['b', figs[1]], ['c', figs[2]]]) {
                         const f = JSON.parse(s); Plotly.purge(id); await Plotly.newPlot(id, f.data, f.layout); }
                       await new Promise(r => requestAnimationFrame(() => r()));
                       return (performance.now() - t0) / 1000; }""", r["figures"]))  # fmt: skip
            r["render_s"] = statistics.median(runs)
        r["chromium"] = browser.version
        browser.close()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    start = time.perf_counter()
    shared_lib()  # one-time: compress plotly.js for the shared model
    lib_s = time.perf_counter() - start
    start = time.perf_counter()
    picture.png([AttentionView(["a", "b"], causal_softmax(1, 1, 2)).head_figure()])  # starts the renderer
    renderer_s = time.perf_counter() - start
    results = [measure(*size) for size in SIZES]
    render_times(results)
    chromium = next((r.get("chromium") for r in results if r.get("chromium")), "not found")
    print(f"Machine: {machine()}; headless Chromium {chromium}\n")
    print("| L x H x T | build (s) | first-display payload (MB) | saved-notebook bytes added (MB) | render (s) "
          "| picture (s) | picture (KB) | targets met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        targets = TARGETS.get(r["shape"], {})
        met = [r[key] <= limit for key, limit in targets.items() if r[key] is not None]
        render = "n/a (no chromium)" if r["render_s"] is None else f"{r['render_s']:.2f}"
        verdict = "met" if all(met) else "NOT met"
        shot = "n/a (no chromium)" if r["picture_s"] is None else f"{r['picture_s']:.2f} | {r['picture_kb']:.0f}"
        print(f"| {r['shape']} | {r['build_s']:.2f} | {r['payload_mb']:.2f} | {r['notebook_mb']:.2f} | {render} | "
              f"{shot} | {verdict if targets else '-'} |")  # fmt: skip
    print(f"\nOnce per kernel / notebook: plotly.js shared model {results[0]['lib_mb']:.2f} MB (gzip+base64 of "
          f"{(Path(sys.modules['plotly'].__file__).parent / 'package_data' / 'plotly.min.js').stat().st_size / 1e6:.1f} MB), "
          f"compressed in {lib_s:.2f} s. Starting the picture renderer (Chromium) took {renderer_s:.2f} s.")
    print("Targets: 12x12x512 build <= 1 s, payload <= 5 MB, render <= 2 s; 12x12x1024 build <= 2 s, payload <= 8 MB.")


if __name__ == "__main__":
    main()
