"""Attention cost curve: time and peak memory of one causal attention call vs sequence length T,
explicit (``softmax(QKᵀ/√d)·V`` written out, the [T, T] weights materialised) vs
``F.scaled_dot_product_attention`` (fused kernels that never store the whole [T, T] matrix).

Shape: batch 1, 6 heads, head_dim 64 (the shakespeare-char model), float32 on CPU, bfloat16 on GPU.
Time: forward + backward (training), best of a few calls. Peak memory: on a GPU the allocator's
peak above the inputs; on a CPU (which has no allocator statistics) the growth of the peak resident
memory of a fresh child process during one step, after a warm-up step at the shortest length has
paid for the one-off set-up (thread pools, kernel buffers): a rough figure, good to a few MiB.

The curve is also written to ``benchmarks/results/attention-<device>.json`` for the efficiency
notebook. Run alone: ``python benchmarks/attention.py [--gpu]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from minigpt.attention import attend
from minigpt.files import atomic_write
from report import UNMEASURED, Row, best_time, markdown_table

TITLE = "Attention: forward + backward time and peak memory vs sequence length (B=1, H=6, D=64)"
LENGTHS = {"cpu": [128, 256, 512, 1024, 2048], "cuda": [128, 256, 512, 1024, 2048, 4096, 8192]}
HEADS, HEAD_DIM = 6, 64
RESULTS = Path(__file__).resolve().parent / "results"


def attention_step(T: int, explicit: bool, device: str):
    """A function running one forward + backward of causal attention at length T."""
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    q, k, v = (torch.randn(1, HEADS, T, HEAD_DIM, device=device, dtype=dtype, requires_grad=True) for _ in range(3))
    grad = torch.randn(1, HEADS, T, HEAD_DIM, device=device, dtype=dtype)

    def step():
        out, _ = attend(q, k, v, is_causal=True, need_weights=explicit)
        out.backward(grad)

    return step


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (``VmHWM`` in /proc/self/status, Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def cpu_peak_memory(explicit: bool, T: int) -> int:
    """Peak RSS growth during one step at length T, in a fresh child process (see module docstring)."""
    # VmHWM is this process's own peak RSS; ru_maxrss would also count the parent's RSS at fork time
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import attention as a\n"
        "explicit, T = sys.argv[2] == 'explicit', int(sys.argv[3])\n"
        "a.attention_step(a.LENGTHS['cpu'][0], explicit, 'cpu')()  # warm-up: one-off allocations\n"
        "step = a.attention_step(T, explicit, 'cpu')\n"
        "before = a.peak_rss_bytes()\n"
        "step()\n"
        "print(a.peak_rss_bytes() - before)\n"
    )
    # fixed mmap threshold: big blocks go back to the OS when freed, so RSS follows the live tensors
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).resolve().parent), "explicit" if explicit else "sdpa", str(T)],
        capture_output=True, text=True, env=env, check=True,
    )
    return int(result.stdout)


def gpu_peak_memory(explicit: bool, T: int) -> int:
    step = attention_step(T, explicit, "cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def measure(device: str) -> list[dict]:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    lengths = LENGTHS[device]
    points = []
    for explicit in (True, False):
        for T in lengths:
            step = attention_step(T, explicit, device)
            step()  # warm-up
            seconds, _ = best_time(step, repeats=5 if T <= 1024 else 3, sync=sync)
            peak = cpu_peak_memory(explicit, T) if device == "cpu" else gpu_peak_memory(explicit, T)
            points.append({"impl": "explicit" if explicit else "sdpa", "T": T, "seconds": seconds, "peak_bytes": peak})
    return points


def save(points: list[dict], device: str) -> Path:
    """Write the curve atomically (see ``minigpt.files.atomic_write``)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"attention-{device}.json"
    payload = {"device": device, "heads": HEADS, "head_dim": HEAD_DIM, "batch": 1, "points": points}
    with atomic_write(path) as f:
        json.dump(payload, f, indent=1)
    return path


def run(device: str = "cpu") -> list[Row]:
    if device == "cuda" and not torch.cuda.is_available():
        return [Row(f"T = {T}", "-", "", UNMEASURED) for T in LENGTHS["cuda"]]
    points = measure(device)
    path = save(points, device)
    by_key = {(p["impl"], p["T"]): p for p in points}
    rows = []
    for T in LENGTHS[device]:
        e, s = by_key["explicit", T], by_key["sdpa", T]
        rows.append(Row(
            f"T = {T}",
            f"explicit {e['seconds'] * 1e3:.2f} ms, {e['peak_bytes'] / 2**20:.1f} MiB; "
            f"SDPA {s['seconds'] * 1e3:.2f} ms, {s['peak_bytes'] / 2**20:.1f} MiB "
            f"({e['seconds'] / s['seconds']:.1f}x faster)",
        ))
    rows.append(Row("data", f"`{path.relative_to(path.parents[2])}`"))
    return rows


if __name__ == "__main__":
    dev = "cuda" if "--gpu" in sys.argv else "cpu"
    print(markdown_table(f"{TITLE} ({dev})", run(dev)))
