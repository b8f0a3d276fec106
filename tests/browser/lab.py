"""Helpers for the real-browser checks: find Chromium, run JupyterLab in a clean sandbox, execute
and export the demo notebook. Used by tests/test_browser.py and benchmarks/widgets.py."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = Path(__file__).resolve().parent / "demo.ipynb"
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
]  # fmt: skip


def find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sandbox_env(root: Path) -> dict:
    """Environment with every Jupyter config/runtime dir inside ``root``: user settings of this
    machine cannot change what the test sees. Extensions still come from the venv (sys.prefix)."""
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("IPYTHONDIR", "ipython"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):  # fmt: skip
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / sub)
    # no "get notified about Jupyter news?" pop-up over the screenshots
    notification = root / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@contextlib.contextmanager
def jupyterlab(root: Path, notebooks_dir: Path, timeout: float = 60):
    """Start JupyterLab on 127.0.0.1 (free port, no token, no browser); yield its base URL."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={notebooks_dir}", "--IdentityProvider.token=", "--ServerApp.password=",
        "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
        "--ServerApp.allow_root=True",
    ]  # fmt: skip
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=sandbox_env(root), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; log:\n{(root / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run_all_in_lab(page, url: str, name: str, timeout_ms: int = 60_000) -> None:
    """Open ``name`` in Lab, run all cells, and wait until the kernel is idle again."""
    page.goto(f"{url}/lab/tree/{name}?reset", wait_until="domcontentloaded")  # ?reset: no tabs from earlier pages
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel", timeout=timeout_ms)  # fmt: skip
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=timeout_ms)  # fmt: skip
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => { const nb = window.jupyterapp.shell.currentWidget.content;"
                           " return nb.widgets.every(c => c.model.type !== 'code' || (c.model.executionCount !== null"
                           " && !c.node.querySelector('.jp-InputArea-prompt').textContent.includes('*'))); }",
                           timeout=timeout_ms)  # fmt: skip


def execute_notebook(source: Path, target: Path, cwd: Path, env: dict) -> None:
    """Run a notebook headless with nbclient (as nbval/nbconvert --execute do) and save it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits PYTHONPATH and the sandbox dirs
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    nbformat.write(nb, target)


NOTEBOOK_READY = ("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                  " && window.jupyterapp.shell.currentWidget.context"
                  " && window.jupyterapp.shell.currentWidget.context.isReady")  # fmt: skip


def open_notebook(page, url: str, name: str, timeout_ms: int = 60_000) -> None:
    """Open ``name`` in Lab and wait until its content has loaded (the kernel may still be starting)."""
    page.goto(f"{url}/lab/tree/{name}?reset", wait_until="domcontentloaded")
    page.wait_for_function(NOTEBOOK_READY, timeout=timeout_ms)


def open_in_lab(page, name: str, timeout_ms: int = 60_000) -> None:
    """Open ``name`` in the Lab already on the page (no second load of Lab) and wait until its content has loaded."""
    path = json.dumps(name)
    page.evaluate(f"async () => {{ await window.jupyterapp.commands.execute('docmanager:open', {{path: {path}}}); }}")
    page.wait_for_function(f"() => ({NOTEBOOK_READY})() && window.jupyterapp.shell.currentWidget.context.path === {path}",
                           timeout=timeout_ms)  # fmt: skip


def is_dirty(page) -> bool:
    """Whether Lab marks the open notebook modified (the dot on its tab)."""
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")


def save_and_shut_down(page, timeout_ms: int = 60_000) -> None:
    """Save the open notebook (as Ctrl-S does) and shut its kernel down."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=timeout_ms)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=timeout_ms)


def picture_outputs(path: Path) -> list[str]:
    """The text/plain line of every output of a stored notebook that carries a picture, in page order."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [out["data"].get("text/plain", "") for cell in nb.cells for out in cell.get("outputs", [])
            if "image/png" in out.get("data", {})]  # fmt: skip
