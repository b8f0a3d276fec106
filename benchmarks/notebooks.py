"""Run the course notebooks under other machines' conditions, and time them at both scales.

    python benchmarks/notebooks.py --matrix            asserts under seeds x threads x kernels (nbval lax mode)
    python benchmarks/notebooks.py --matrix --full     the whole cross product instead of one axis at a time
    python benchmarks/notebooks.py --times             wall time of every notebook at the ci and learner scales
    python benchmarks/notebooks.py --times 04 07       only the notebooks whose names start with 04 or 07

Floating-point digits differ between CPUs, thread counts and torch kernels, so the stored outputs of
training cells are not compared digit by digit: each such cell asserts the claim its prose makes. This
script checks that those asserts hold on other runs: other seeds (``MINIGPT_SEED``), one thread or two
(``OMP_NUM_THREADS``), and torch's non-vectorised kernels (``ATEN_CPU_CAPABILITY=default``, a stand-in for
another CPU). Each configuration runs every notebook in a fresh kernel with ``pytest --nbval-lax``.
Timings only mean something on an otherwise idle machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, when run as a script

from report import Row, machine_rows, markdown_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TIME_BUDGET_S = 300  # every notebook, at either scale, on a 2-core CPU


@dataclass(frozen=True)
class Condition:
    scale: str = "ci"
    seed: int = 0
    threads: int = 2
    kernels: str = "native"  # or "default": ATEN_CPU_CAPABILITY=default

    def env(self) -> dict[str, str]:
        env = dict(os.environ, MINIGPT_SCALE=self.scale, MINIGPT_SEED=str(self.seed), OMP_NUM_THREADS=str(self.threads))
        env.pop("ATEN_CPU_CAPABILITY", None)
        if self.kernels == "default":
            env["ATEN_CPU_CAPABILITY"] = "default"
        return env

    def label(self) -> str:
        return f"seed {self.seed}, {self.threads} thread{'s' * (self.threads > 1)}, {self.kernels} kernels"


def notebook_paths(prefixes: list[str]) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    chosen = [p for p in paths if not prefixes or any(p.name.startswith(x) for x in prefixes)]
    if not chosen:
        raise SystemExit(f"no notebook in {NOTEBOOKS} starts with any of {prefixes}")
    return chosen


def run_notebooks(paths: list[Path], condition: Condition) -> dict[str, tuple[bool, float, str]]:
    """Run each notebook with nbval-lax under ``condition``, one pytest process (and fresh kernel) each:
    {notebook name: (passed, wall seconds from process start, first failing cell)}."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        for path in paths:
            command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
                       "--nbval-lax", f"--junitxml={junit}", str(path)]
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, env=condition.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            results[path.name] = (*first_failure(junit), seconds)
    return {name: (ok, seconds, why) for name, (ok, why, seconds) in results.items()}


def first_failure(junit: Path) -> tuple[bool, str]:
    """(whether every cell passed, the first failing cell and its message) from a pytest junit file."""
    if not junit.exists():
        return False, "pytest did not run"
    cases = list(ET.parse(junit).iter("testcase"))
    if not cases:
        return False, "no cell ran"
    for case in cases:
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        if failure is not None:
            return False, f"{case.get('name')}: {(failure.get('message') or '').splitlines()[0][:120]}"
    return True, ""


def matrix(paths: list[Path], full: bool) -> tuple[list[Row], bool]:
    if full:
        conditions = [Condition(seed=s, threads=t, kernels=k)
                      for s, t, k in itertools.product((0, 1, 2), (1, 2), ("native", "default"))]
    else:  # one axis at a time around the stored run (seed 0, 2 threads, native kernels)
        conditions = [Condition(seed=s) for s in (0, 1, 2)]
        conditions += [Condition(threads=1), Condition(kernels="default"), Condition(seed=1, threads=1, kernels="default")]
    rows, all_passed = [], True
    for condition in conditions:
        start = time.perf_counter()
        results = run_notebooks(paths, condition)
        failed = {name: why for name, (ok, _, why) in results.items() if not ok}
        all_passed &= not failed
        value = "all asserts hold" if not failed else "; ".join(f"{n} {why}" for n, why in failed.items())
        rows.append(Row(condition.label(), f"{len(results) - len(failed)}/{len(results)} notebooks: {value}",
                        f"{time.perf_counter() - start:.0f} s", "met" if not failed else "NOT met"))
        print(markdown_table("so far", rows[-1:]), flush=True)
    return rows, all_passed


def times(paths: list[Path]) -> tuple[list[Row], bool]:
    rows, all_met = [], True
    measured = {scale: run_notebooks(paths, Condition(scale=scale)) for scale in ("ci", "learner")}
    for path in paths:
        cells = []
        for scale in ("ci", "learner"):
            ok, seconds, why = measured[scale][path.name]
            cells.append(f"{seconds:.0f} s" + ("" if ok else f" (FAILED: {why})"))
            all_met &= ok and seconds <= TIME_BUDGET_S
        ok = all(measured[s][path.name][0] and measured[s][path.name][1] <= TIME_BUDGET_S for s in ("ci", "learner"))
        rows.append(Row(path.stem, f"ci {cells[0]} / learner {cells[1]}", f"each ≤ {TIME_BUDGET_S} s", "met" if ok else "NOT met"))
    return rows, all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose names start with these (e.g. 04)")
    parser.add_argument("--matrix", action="store_true", help="asserts under other seeds, threads and kernels")
    parser.add_argument("--full", action="store_true", help="with --matrix: the whole seed x threads x kernels product")
    parser.add_argument("--times", action="store_true", help="wall time of each notebook at both scales")
    args = parser.parse_args(argv)
    if not (args.matrix or args.times):
        parser.error("choose --matrix, --times or both")
    paths = notebook_paths(args.prefixes)
    print(markdown_table("Machine", machine_rows()))
    ok = True
    if args.matrix:
        rows, passed = matrix(paths, args.full)
        print(markdown_table("Notebook asserts under other conditions (nbval lax)", rows), flush=True)
        ok &= passed
    if args.times:
        rows, met = times(paths)
        print(markdown_table("Notebook run time (pytest --nbval-lax, fresh kernel each)", rows), flush=True)
        ok &= met
    print(markdown_table("Machine at the end", machine_rows()[-1:]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
