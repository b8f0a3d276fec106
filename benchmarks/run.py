"""Run the speed benchmarks and print one markdown table per benchmark.

    python benchmarks/run.py --cpu                 every CPU benchmark (the figures in the README)
    python benchmarks/run.py --gpu                 every GPU benchmark (needs CUDA)
    python benchmarks/run.py --cpu --only generation
    python benchmarks/run.py --all                 both
    python benchmarks/run.py --notebooks           every notebook's run time at the ci and learner scales

Benchmarks (``--only`` names): ``train`` (time-to-quality and throughput), ``generation``
(KV cache vs recomputing the context) and ``attention`` (time and memory vs sequence length).
GPU figures print "unmeasured (no GPU)" on a machine without CUDA. The wall-clock figures are
only meaningful on an otherwise idle machine, so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, when run as a script

import attention  # noqa: E402
import generation  # noqa: E402
import notebooks  # noqa: E402
import train_speed  # noqa: E402
from report import machine_rows, markdown_table  # noqa: E402

BENCHMARKS = {"train": train_speed, "generation": generation, "attention": attention}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", action="store_true", help="run the CPU benchmarks")
    parser.add_argument("--gpu", action="store_true", help="run the GPU benchmarks (unmeasured without CUDA)")
    parser.add_argument("--all", action="store_true", help="CPU and GPU")
    parser.add_argument("--notebooks", action="store_true", help="time every notebook at both scales")
    parser.add_argument("--only", choices=list(BENCHMARKS), action="append",
                        help="run only this benchmark (repeatable)")
    args = parser.parse_args(argv)
    devices = ["cpu", "cuda"] if args.all else [d for d, on in (("cpu", args.cpu), ("cuda", args.gpu)) if on]
    if not devices and not args.notebooks:
        parser.error("choose --cpu, --gpu, --all or --notebooks")
    print(markdown_table("Machine", machine_rows()))
    if args.notebooks:
        rows, _ = notebooks.times(notebooks.notebook_paths([]))
        print(markdown_table("Notebook run time (pytest --nbval-lax, fresh kernel each)", rows), flush=True)
    for name in args.only or list(BENCHMARKS):
        for device in devices:
            module = BENCHMARKS[name]
            print(markdown_table(f"{module.TITLE} ({device})", module.run(device)), flush=True)
    print(markdown_table("Machine at the end", machine_rows()[-1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
