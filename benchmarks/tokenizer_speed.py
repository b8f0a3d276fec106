"""Tokenizer benchmark: BPE training time and encode throughput on tiny shakespeare.

Run: ``python benchmarks/tokenizer_speed.py`` (the corpus comes from ``minigpt.data.load_text``, so
set MINIGPT_DATA_DIR to work offline; tiktoken's gpt2 files come from TIKTOKEN_CACHE_DIR).
Prints one markdown table. Timings are the best of a few runs, to reduce noise from other
processes; the load average is printed too because a busy machine still slows everything.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, when run as a script

from report import best_time, cpu_model  # noqa: E402

from minigpt.data import load_text
from minigpt.tokenizers import BPETokenizer, TiktokenTokenizer

NUM_MERGES = 512
TRAIN_TARGET_S = 10.0


def main() -> None:
    text = load_text("tinyshakespeare")
    megabytes = len(text.encode("utf-8")) / 1e6

    train_s, bpe = best_time(lambda: BPETokenizer.train(text, 256 + NUM_MERGES + 1, progress=False), repeats=3)
    gpt2 = TiktokenTokenizer("gpt2")
    rows = [("BPE training, 512 merges", f"{train_s:.2f} s",
             f"target <= {TRAIN_TARGET_S:.0f} s: {'met' if train_s <= TRAIN_TARGET_S else 'NOT met'}")]
    for label, encode, repeats in (
        ("encode: our BPE (tiktoken-backed)", bpe.encode, 3),
        ("encode: our BPE, plain-Python reference", bpe.encode_reference, 1),
        ("encode: tiktoken gpt2", gpt2.encode, 3),
    ):
        seconds, ids = best_time(lambda: encode(text), repeats)
        rows.append((label, f"{megabytes / seconds:.2f} MB/s",
                     f"{seconds:.2f} s, {len(ids):,} tokens ({len(text) / len(ids):.2f} chars/token)"))

    machine = (f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; python "
               f"{platform.python_version()}, torch {version('torch')}, tiktoken {version('tiktoken')}")
    print(f"Tokenizers on tiny shakespeare ({megabytes:.2f} MB)\n")
    print("| measurement | result | notes |")
    print("| --- | --- | --- |")
    print(f"| machine | {cpu_model()} | {machine} |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
