"""Generation speed: the KV cache against recomputing, and our ``generate`` against transformers'.

**KV cache vs recomputing.** 500 new tokens on the ``shakespeare-char`` shape (6 layers, 6 heads, 384
dims, context 256), randomly initialised: speed does not depend on the weights. The prompt fills the
256-token context, so the uncached path runs the model over 128-256 tokens for every new token, and the
cached path over one token (plus one 128-token prefill each time the window slides, see
``minigpt.sampling``). Both paths sample with the same seed and must produce the same tokens.

**GPT-2 small vs transformers.** Hugging Face ``transformers``' ``GPT2LMHeadModel.generate`` (with its KV
cache) beside ours on the same 124M-parameter GPT-2 small: one random set of weights, loaded into both
(``GPT.from_gpt2_state_dict``), float32, a 256-token prompt, 128 new tokens, greedy; tokens/s is the 128 new
tokens over the wall time of the whole call, the prompt's prefill included. Both must produce the same
tokens. The two run alternately, best of 3 each, so a slow spell of a shared machine falls on both.

Run alone: ``python benchmarks/generation.py [--gpu] [--only cache|transformers]``.
"""

from __future__ import annotations

import argparse

import torch

import minigpt
from minigpt.config import get_config
from minigpt.model import GPT
from minigpt.sampling import generate
from report import UNMEASURED, Row, best_time, markdown_table, verdict

TITLE = "Generation: KV cache vs recomputing, and GPT-2 small vs transformers"
NEW_TOKENS = 500
SPEEDUP_TARGET = 5.0  # on CPU
GPT2_PROMPT, GPT2_NEW_TOKENS, GPT2_REPEATS = 256, 128, 3


def time_generation(model, prompt, use_cache: bool, sync) -> tuple[float, list[int]]:
    """(seconds, ids) for one ``generate`` call of NEW_TOKENS tokens, best of 2 (after a short warm-up)."""
    generate(model, prompt, 8, seed=0, use_cache=use_cache)  # warm-up: kernels, allocator
    return best_time(lambda: generate(model, prompt, NEW_TOKENS, temperature=1.0, seed=0, use_cache=use_cache),
                     repeats=2, sync=sync)


def cache_rows(device: str) -> list[Row]:
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
        Row("with KV cache, 500 new tokens, shakespeare-char shape", f"{NEW_TOKENS / cached_s:,.0f} tokens/s "
            f"({cached_s:.2f} s)"),
        Row("recomputing the context", f"{NEW_TOKENS / full_s:,.0f} tokens/s ({full_s:.2f} s)"),
        Row("speed-up of the cache", f"{speedup:.1f}x", target, verdict(speedup >= SPEEDUP_TARGET) if target else ""),
        Row("same tokens on both paths", "yes" if cached_ids == full_ids else "NO"),
    ]


def import_transformers():
    """The ``transformers`` package, or None when it is not installed."""
    try:
        import transformers
    except ImportError:
        return None
    return transformers


def transformers_rows(device: str) -> list[Row]:
    """Greedy generation on GPT-2 small, ours and transformers', with the same weights and prompt."""
    figure = f"GPT-2 small (124M), {GPT2_PROMPT}-token prompt + {GPT2_NEW_TOKENS} new tokens, greedy"
    if device == "cuda" and not torch.cuda.is_available():
        return [Row(figure, "-", "-", UNMEASURED)]
    transformers = import_transformers()
    if transformers is None:
        return [Row(figure, "-", "-", "unmeasured (pip install transformers)")]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    # no end-of-text token: every run generates exactly GPT2_NEW_TOKENS tokens
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(bos_token_id=None, eos_token_id=None)).to(device).eval()
    ours = GPT.from_gpt2_state_dict(hf.state_dict()).to(device).eval()
    prompt = torch.randint(hf.config.vocab_size, (1, GPT2_PROMPT), device=device)

    def ours_generate(n: int) -> list[int]:
        return generate(ours, prompt[0], n, temperature=0)[GPT2_PROMPT:]

    def hf_generate(n: int) -> list[int]:
        out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n, do_sample=False,
                          pad_token_id=0)
        return out[0, GPT2_PROMPT:].tolist()

    ours_generate(4), hf_generate(4)  # warm-up: kernels, allocator
    ours_s, hf_s = float("inf"), float("inf")
    for _ in range(GPT2_REPEATS):  # alternating, best of each
        seconds, ours_ids = best_time(lambda: ours_generate(GPT2_NEW_TOKENS), repeats=1, sync=sync)
        ours_s = min(ours_s, seconds)
        seconds, hf_ids = best_time(lambda: hf_generate(GPT2_NEW_TOKENS), repeats=1, sync=sync)
        hf_s = min(hf_s, seconds)
    ratio = hf_s / ours_s
    return [
        Row(f"ours: {figure}", f"{GPT2_NEW_TOKENS / ours_s:,.1f} tokens/s ({ours_s:.2f} s)"),
        Row(f"transformers {transformers.__version__} `GPT2LMHeadModel.generate` (its KV cache, "
            f"{hf.config._attn_implementation} attention)", f"{GPT2_NEW_TOKENS / hf_s:,.1f} tokens/s ({hf_s:.2f} s)"),
        Row("ours / transformers (tokens/s)", f"{ratio:.2f}x", ">= 1x", verdict(ratio >= 1.0)),
        Row("same tokens", "yes" if ours_ids == hf_ids and len(ours_ids) == GPT2_NEW_TOKENS else "NO"),
    ]


PARTS = {"cache": cache_rows, "transformers": transformers_rows}


def run(device: str = "cpu", parts=tuple(PARTS)) -> list[Row]:
    return [row for part in parts for row in PARTS[part](device)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="generation speed")
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--only", choices=list(PARTS), action="append", help="run only this part (repeatable)")
    args = parser.parse_args()
    dev = "cuda" if args.gpu else "cpu"
    print(f"minigpt imported from {minigpt.__file__}")  # e.g. PYTHONPATH=<another checkout> to measure that one
    print(markdown_table(f"{TITLE} ({dev})", run(dev, args.only or tuple(PARTS))))
