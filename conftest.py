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
    # With -n N a notebook's cells share one kernel, so a whole file goes to one process: xdist's "loadfile", not
    # its default "load", which spreads single tests; and files are handed out in collection order (see
    # LONGEST_FIRST), not xdist's default of the files with the most tests first. (xdist turned -n into "load"
    # before this hook; its scheduler reads the options later.)
    if getattr(option, "numprocesses", None) and getattr(option, "dist", None) == "load":
        option.dist = "loadfile"
        option.loadscopereorder = False


# the longest single test: started first, so that the other processes share out the rest while it runs
LONGEST_FIRST = "test_solutions_edition.py::test_every_check_of_the_solutions_edition_says_pass"


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not item.nodeid.endswith(LONGEST_FIRST))  # stable: the rest keep their order


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Notebook kernels start in this hook's wake: tell them never to download GPT-2 (548 MB) during a test run.
    Notebook 13 then uses GPT-2 only if it is already in the Hugging Face cache, and otherwise says how to get it."""
    if item.path.suffix == ".ipynb":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
