"""Test-suite settings: the fast course scale, and the offline data beside the checkout when it is there."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("MINIGPT_SCALE", "ci")
os.environ.setdefault("PYTHONHASHSEED", "0")

_shared = Path(__file__).resolve().parent.parent / "shared" / "data"
if _shared.is_dir():
    os.environ.setdefault("MINIGPT_DATA_DIR", str(_shared))
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_shared / "tiktoken_cache"))

# The browser tests' demo notebook holds no outputs to compare, and those tests run it in JupyterLab itself.
collect_ignore = ["tests/browser/demo.ipynb"]

# `-n N` (pytest-xdist) runs the suite in N processes: each computes with one thread, and so do the notebook
# kernels and the commands it starts (they inherit this), since N processes with several threads each on N cores
# run many times slower than one.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# Unit tests train tiny models, where a second thread buys nothing and makes timings noisy.
import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_configure(config):
    """``python -m pytest`` runs the notebooks too, strictly: nbval on, with the course's sanitizer, unless the
    command line chose a nbval mode itself (``--nbval-lax``). Set here rather than in ``addopts``, so that
    ``pytest tests/...`` also works where nbval is not installed (the core install) or with ``--nbval-lax``."""
    option = config.option
    if hasattr(option, "nbval") and not (option.nbval or option.nbval_lax):
        option.nbval = True
    if hasattr(option, "nbval_sanitize_with") and option.nbval_sanitize_with is None:
        option.nbval_sanitize_with = str(Path(__file__).resolve().parent / "notebooks" / "sanitize.cfg")


# Files handed out first by `-n N`, the longest first (as measured), so that the short ones even out the end: the
# solutions edition (a test per notebook), the browser tests (one JupyterLab server), the tests that build a venv,
# run nbgrader, a notebook or many processes, then the notebooks
SOLUTIONS = "tests/test_solutions_edition.py"  # its tests go out one by one (pytest_xdist_make_scheduler)
LONG_FIRST = (SOLUTIONS, "tests/test_browser.py", "tests/test_core_install.py", "tests/test_teacher_steps.py",
              "tests/test_editions.py", "tests/test_bad_inputs.py", "tests/test_interrupts.py",
              "tests/test_gpt2_notebook.py", "tests/test_gpt2_hub.py", "notebooks/")  # fmt: skip


def pytest_collection_modifyitems(config, items):
    def rank(item):
        return next((k for k, start in enumerate(LONG_FIRST) if item.nodeid.startswith(start)), len(LONG_FIRST))

    items.sort(key=rank)  # stable: within a rank, collection order


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which a run may leave out (-p no:xdist)
def pytest_xdist_make_scheduler(config, log):
    """How ``-n N`` shares the tests out. A notebook's cells share one kernel, so a whole file goes to one process
    (xdist's "loadfile"; its default, "load", spreads single tests); but each notebook of the solutions edition is a
    test of its own and goes out alone. Files go out in collection order (see LONG_FIRST), not xdist's default of
    the files with the most tests first."""
    from xdist.scheduler import LoadFileScheduling

    class NotebookScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid):
            return nodeid if nodeid.startswith(SOLUTIONS) else super()._split_scope(nodeid)

    config.option.loadscopereorder = False
    return NotebookScheduling(config, log)


# Every notebook kernel a test starts gets KERNEL_ENV. No download of GPT-2 (548 MB) during a test run: notebook 13
# then uses GPT-2 only if it is already in the Hugging Face cache, and otherwise says how to get it. No pictures:
# nbval never compares one (image/png is in its skip list), so drawing them cost a browser per notebook and seconds
# per 3D scene for nothing; the stored pictures are checked where they are read (tests/test_stored_notebooks.py,
# tests/test_browser.py), and drawing them by tests/test_picture.py and the README's teacher steps.
KERNEL_ENV = {"HF_HUB_OFFLINE": "1", "BROWSER_PATH": os.path.join(os.devnull, "no-browser")}  # names no browser
_saved_env: dict[str, str | None] = {}


@pytest.fixture
def kernel_env() -> dict[str, str]:
    """The environment a notebook kernel started by a test gets on top of the process's own (see KERNEL_ENV)."""
    return dict(KERNEL_ENV)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """nbval starts a notebook's kernel in this hook's wake: with KERNEL_ENV, taken back after each cell."""
    if item.path.suffix == ".ipynb":
        _saved_env.update({name: os.environ.get(name) for name in KERNEL_ENV})
        os.environ.update(KERNEL_ENV)


def pytest_runtest_teardown(item):
    if item.path.suffix == ".ipynb":
        for name, value in _saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _saved_env.clear()
