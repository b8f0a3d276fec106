"""Run the course notebooks under other machines' conditions, and time them at both scales.

    python benchmarks/notebooks.py --matrix            the notebooks under other seeds, threads, kernels and scales
    python benchmarks/notebooks.py --matrix --full     the whole seed x threads x kernels product (lax)
    python benchmarks/notebooks.py --times             wall time of every notebook at the ci and learner scales
    python benchmarks/notebooks.py --times 04 07       only the notebooks whose names start with 04 or 07

Floating-point digits differ between CPUs, thread counts and torch kernels, so the stored outputs of
training cells are not compared digit by digit: each such cell asserts the claim its prose makes. This
script checks that the stored notebooks hold on other runs:

- seed 0 with one thread, and seed 0 with torch's non-vectorised kernels (``ATEN_CPU_CAPABILITY=default``,
  a stand-in for another CPU), both **strict**: every compared output must match the stored one;
- seeds 1 and 2 and the learner scale in nbval's **lax** mode: other runs print other numbers, and only
  the asserts are checked.

(CI itself runs seed 0 with one thread per process strictly, and the solutions edition with seed 1 in lax mode, on
AVX2 kernels where the CPU has AVX-512: see tests/test_solutions_edition.py. The non-vectorised kernels are checked
only here.)
Each notebook runs in its own pytest process and fresh kernel. The matrix runs one-thread conditions
two at a time (``--workers``), one per core; ``--times`` runs one notebook at a time with two threads, as
a learner's laptop would, and only means something on an otherwise idle machine.
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
from concurrent.futures import ThreadPoolExecutor
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
    strict: bool = False  # compare the stored outputs (seed 0, ci scale only), or check the asserts alone

    def env(self) -> dict[str, str]:
        env = dict(os.environ, MINIGPT_SCALE=self.scale, MINIGPT_SEED=str(self.seed), OMP_NUM_THREADS=str(self.threads))
        env.pop("ATEN_CPU_CAPABILITY", None)
        if self.kernels == "default":
            env["ATEN_CPU_CAPABILITY"] = "default"
        return env

    def pytest_mode(self) -> list[str]:
        if self.strict:
            return ["--nbval", f"--nbval-sanitize-with={NOTEBOOKS / 'sanitize.cfg'}"]
        return ["--nbval-lax"]

    def label(self) -> str:
        mode = "strict" if self.strict else "lax"
        return (f"{self.scale} scale, seed {self.seed}, {self.threads} thread{'s' * (self.threads > 1)}, "
                f"{self.kernels} kernels, {mode}")


def notebook_paths(prefixes: list[str]) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    chosen = [p for p in paths if not prefixes or any(p.name.startswith(x) for x in prefixes)]
    if not chosen:
        raise SystemExit(f"no notebook in {NOTEBOOKS} starts with any of {prefixes}")
    return chosen


def run_notebooks(paths: list[Path], condition: Condition) -> dict[str, tuple[bool, float, str]]:
    """Run each notebook under ``condition``, one pytest process (and fresh kernel) each:
    {notebook name: (passed, wall seconds from process start, first failing cell)}."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        for path in paths:
            command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
                       *condition.pytest_mode(), f"--junitxml={junit}", str(path)]
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, env=condition.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            ok, why = first_failure(junit)
            results[path.name] = (ok, seconds, why)
            junit.unlink(missing_ok=True)
    return results


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


def result_row(condition: Condition, results: dict[str, tuple[bool, float, str]]) -> Row:
    failed = {name: why for name, (ok, _, why) in results.items() if not ok}
    seconds = ", ".join(f"{name[:2]} {s:.0f} s" for name, (_, s, _) in results.items())
    verdict = "all pass" if not failed else "FAILED " + "; ".join(f"{n} {why}" for n, why in failed.items())
    return Row(condition.label(), f"{len(results) - len(failed)}/{len(results)} {verdict} ({seconds})",
               "every assert holds" + (", every compared output matches" if condition.strict else ""),
               "met" if not failed else "NOT met")


def matrix_conditions(full: bool) -> list[Condition]:
    if full:
        return [Condition(seed=s, threads=t, kernels=k)
                for s, t, k in itertools.product((0, 1, 2), (1, 2), ("native", "default"))]
    return [  # the long learner-scale run first, so the others run beside it
        Condition(scale="learner", threads=1),
        Condition(threads=1, strict=True),
        Condition(threads=1, kernels="default", strict=True),
        Condition(seed=1, threads=1),
        Condition(seed=2, threads=1),
    ]


def matrix(paths: list[Path], full: bool, workers: int) -> tuple[list[Row], bool]:
    conditions = matrix_conditions(full)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = pool.map(lambda c: (c, run_notebooks(paths, c)), conditions)
        rows = []
        for condition, results in outcomes:
            rows.append(result_row(condition, results))
            print(markdown_table("so far", rows[-1:]), flush=True)
    return rows, all(row.status == "met" for row in rows)


def times(paths: list[Path]) -> tuple[list[Row], bool]:
    measured = {scale: run_notebooks(paths, Condition(scale=scale)) for scale in ("ci", "learner")}
    rows = []
    for path in paths:
        runs = [measured[scale][path.name] for scale in ("ci", "learner")]
        cells = [f"{s:.0f} s" + ("" if ok else f" (FAILED: {why})") for ok, s, why in runs]
        met = all(ok and s <= TIME_BUDGET_S for ok, s, _ in runs)
        rows.append(Row(path.stem, f"ci {cells[0]} / learner {cells[1]}", f"each ≤ {TIME_BUDGET_S} s",
                        "met" if met else "NOT met"))
    return rows, all(row.status == "met" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose names start with these (e.g. 04)")
    parser.add_argument("--matrix", action="store_true", help="the notebooks under other seeds, threads, kernels")
    parser.add_argument("--full", action="store_true", help="with --matrix: the whole seed x threads x kernels product")
    parser.add_argument("--workers", type=int, default=2, help="with --matrix: conditions run at once (default 2)")
    parser.add_argument("--times", action="store_true", help="wall time of each notebook at both scales")
    args = parser.parse_args(argv)
    if not (args.matrix or args.times):
        parser.error("choose --matrix, --times or both")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    paths = notebook_paths(args.prefixes)
    print(markdown_table("Machine", machine_rows()))
    ok = True
    if args.matrix:
        rows, passed = matrix(paths, args.full, args.workers)
        print(markdown_table("Notebooks under other conditions (wall time per notebook)", rows), flush=True)
        ok &= passed
    if args.times:
        rows, met = times(paths)
        print(markdown_table("Notebook run time, 2 threads, one notebook at a time", rows), flush=True)
        ok &= met
    print(markdown_table("Machine at the end", machine_rows()[-1:]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
