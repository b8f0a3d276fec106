"""Shared pieces of the benchmark scripts: the machine description and the markdown table.

Every benchmark returns a list of ``Row``s: one figure, its value, the target it is compared
with (if any) and whether that target is met. ``run.py`` prints them as markdown tables under a
description of the machine, so a table pasted into the README says where it was measured.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

import torch

UNMEASURED = "unmeasured (no GPU)"


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    status: str = ""  # "met", "NOT met", UNMEASURED, or "" when there is no target


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def gpu_name() -> str | None:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # not available on every platform
        return "n/a"


def machine_rows() -> list[Row]:
    cpu_flags = torch.backends.cpu.get_cpu_capability()
    return [
        Row("CPU", f"{cpu_model()}, {os.cpu_count()} cores, torch uses {torch.get_num_threads()} threads, {cpu_flags}"),
        Row("GPU", gpu_name() or "none"),
        Row("software", f"python {platform.python_version()}, torch {torch.__version__}"),
        Row("load average (1 min)", f"{load_average()} at {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"),
    ]


def markdown_table(title: str, rows: list[Row]) -> str:
    lines = [f"### {title}", "", "| figure | value | target | status |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.figure} | {r.value} | {r.target} | {r.status} |" for r in rows]
    return "\n".join(lines) + "\n"


def best_time(fn, repeats: int, sync=lambda: None):
    """(smallest wall time of ``repeats`` calls of ``fn``, what the last call returned). The minimum
    is the least disturbed by other processes; ``sync`` waits for the device (``torch.cuda.synchronize``
    on a GPU)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        result = fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best, result
