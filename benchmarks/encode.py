"""Encode benchmark: throughput and peak memory of the streamed, cached encode of a large text.

Run: ``python benchmarks/encode.py`` (200 MB, the issue's size; ``--mb 5`` for a quick check).
tiktoken's gpt2 files come from TIKTOKEN_CACHE_DIR when offline.

A text of ``--mb`` megabytes of made-up English-like lines is written to a temporary folder (in
pieces, so the benchmark itself never holds it). Each tokenizer then encodes it with
``minigpt.data.tokens.token_cache`` in a *fresh child process*, which reports its wall time and
its RSS high-water mark (``ru_maxrss``): the most memory the process ever held. The child's RSS
right after its imports (python, numpy, torch) is the baseline; the encode's own cost is the
peak above it. The target: that cost stays below 4x the token array it writes (the .bin), so a
text far larger than memory still encodes.

Prints one markdown table (``report.markdown_table``) under the machine description.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, when run as a script

from report import Row, machine_rows, markdown_table, verdict  # noqa: E402

TARGET_FACTOR = 4
WORDS = ("the of and to in a is that for it as was with be by on not he I this are or his from at which but "
         "have an they you were her she there been one all we their has would when if so no will more can "
         "Citizen king ROMEO: JULIET: speak hear famish resolved proceed further morrow, sweet; sorrow! é ü").split()


def write_text(path: Path, megabytes: float, seed: int = 0) -> int:
    """Write about ``megabytes`` MB of lines of random words to ``path``, 1 MB at a time; returns the bytes."""
    rng = random.Random(seed)
    target, written = int(megabytes * 1e6), 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            lines = [" ".join(rng.choices(WORDS, k=rng.randint(3, 14))) for _ in range(20_000)]
            block = ("\n".join(lines) + "\n").encode("utf-8")[: target - written]
            f.write(block.decode("utf-8", errors="ignore"))
            written += len(block)
    return path.stat().st_size


def child(data: str, tokenizer_name: str, cache: str) -> None:
    """In the child process: encode ``data`` once and print time, tokens and memory as JSON."""
    from minigpt.data.tokens import token_cache
    from minigpt.tokenizers import CharTokenizer, TiktokenTokenizer

    if tokenizer_name == "char":
        tokenizer = CharTokenizer(sorted(set(" \n".join(WORDS) + "\n")))
    else:
        tokenizer = TiktokenTokenizer(tokenizer_name)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    start = time.perf_counter()
    tokens = token_cache(data, tokenizer, folder=cache, progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "tokens": tokens.num_tokens, "array_bytes": tokens.bin_path.stat().st_size,
                      "baseline": baseline, "peak": peak}))


def measure(data: Path, tokenizer_name: str, cache: Path) -> dict:
    """Run :func:`child` in a fresh interpreter (so its high-water mark is the encode's alone)."""
    result = subprocess.run([sys.executable, __file__, "--child", str(data), tokenizer_name, str(cache)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def rows_for(name: str, megabytes: float, m: dict) -> list[Row]:
    mb = 1e6
    encode_cost = m["peak"] - m["baseline"]
    limit = TARGET_FACTOR * m["array_bytes"]
    return [
        Row(f"{name}: throughput", f"{megabytes / m['seconds']:.1f} MB/s",
            f"{m['seconds']:.1f} s for {m['tokens']:,} tokens"),
        Row(f"{name}: token array (.bin)", f"{m['array_bytes'] / mb:.0f} MB"),
        Row(f"{name}: peak RSS above the baseline", f"{encode_cost / mb:.0f} MB "
            f"({encode_cost / m['array_bytes']:.2f}x the array; total peak {m['peak'] / mb:.0f} MB, "
            f"baseline after imports {m['baseline'] / mb:.0f} MB)",
            f"< {TARGET_FACTOR}x the array ({limit / mb:.0f} MB)", verdict(encode_cost < limit)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the generated text in MB (default 200)")
    parser.add_argument("--tokenizers", default="char,gpt2", help="comma-separated: char, gpt2, cl100k_base")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "generated.txt"
        size = write_text(data, args.mb)
        rows = machine_rows()
        for name in args.tokenizers.split(","):
            rows += rows_for(name, size / 1e6, measure(data, name, Path(folder) / f"cache-{name}"))
    print(markdown_table(f"Streamed encode of a {size / 1e6:.0f} MB generated text (minigpt.data.tokens)", rows))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        main()
