"""Generation speed: 500 new tokens with the KV cache vs recomputing the whole context each step.

The model is the ``shakespeare-char`` shape (6 layers, 6 heads, 384 dims, context 256), randomly
initialised: speed does not depend on the weights. The prompt fills the 256-token context, so the
uncached path runs the model over 128-256 tokens for every new token, and the cached path over one
token (plus one 128-token prefill each time the window slides, see ``minigpt.sampling``).
Both paths sample with the same seed and must produce the same tokens.

Run alone: ``python benchmarks/generation.py [--gpu]``.
"""

from __future__ import annotations

import sys

import torch

from minigpt.config import get_config
from minigpt.model import GPT
from minigpt.sampling import generate
from report import UNMEASURED, Row, best_time, markdown_table, verdict

TITLE = "Generation: 500 new tokens, shakespeare-char shape, 256-token context"
NEW_TOKENS = 500
SPEEDUP_TARGET = 5.0  # on CPU


def time_generation(model, prompt, use_cache: bool, sync) -> tuple[float, list[int]]:
    """(seconds, ids) for one ``generate`` call of NEW_TOKENS tokens, best of 2 (after a short warm-up)."""
    generate(model, prompt, 8, seed=0, use_cache=use_cache)  # warm-up: kernels, allocator
    return best_time(lambda: generate(model, prompt, NEW_TOKENS, temperature=1.0, seed=0, use_cache=use_cache),
                     repeats=2, sync=sync)


def run(device: str = "cpu") -> list[Row]:
    if device == "cuda" and not torch.cuda.is_available():
        return [Row("KV cache vs recompute (GPU)", "-", "-", UNMEASURED)]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    config = get_config("shakespeare-char", dropout=0.0)
    model = GPT(config).to(device).eval()
    prompt = torch.randint(config.vocab_size, (config.block_size,)).tolist()
    cached_s, cached_ids = time_generation(model, prompt, True, sync)
    full_s, full_ids = time_generation(model, prompt, False, sync)
    speedup = full_s / cached_s
    target = f">= {SPEEDUP_TARGET:.0f}x" if device == "cpu" else ""
    return [
        Row("with KV cache", f"{NEW_TOKENS / cached_s:,.0f} tokens/s ({cached_s:.2f} s)"),
        Row("recomputing the context", f"{NEW_TOKENS / full_s:,.0f} tokens/s ({full_s:.2f} s)"),
        Row("speed-up of the cache", f"{speedup:.1f}x", target, verdict(speedup >= SPEEDUP_TARGET) if target else ""),
        Row("same tokens on both paths", "yes" if cached_ids == full_ids else "NO"),
    ]


if __name__ == "__main__":
    dev = "cuda" if "--gpu" in sys.argv else "cpu"
    print(markdown_table(f"{TITLE} ({dev})", run(dev)))
