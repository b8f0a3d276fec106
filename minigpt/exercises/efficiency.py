"""Checks for the efficiency and scale lesson (notebook 10).

``check_kv_cache_bytes(fn)``  the learner's KV-cache memory formula vs ``GPT.new_kv_cache(...).nbytes``.
``check_quantize(fn)``        the learner's per-channel int8 quantization vs ``minigpt.quantize.quantize_per_channel``.
"""

from __future__ import annotations

import torch

from minigpt.exercises._result import Result, failed, passed, with_reference
from minigpt.exercises._tensor_checks import as_tensor, call_learner, number_answer, returned, tensor_answer

_KV_HINT = (
    "2 (keys and values) x n_layer x batch_size x n_kv_head x block_size x head_dim numbers, "
    "times bytes_per_number (config.head_dim = n_embd // n_head)."
)


def _kv_configs():
    from minigpt.config import get_config

    return (
        ("GPT-2 small in bfloat16", get_config("gpt2"), 1, 2),
        ("the tiny preset", get_config("tiny"), 4, 4),
        ("a GQA model (12 query heads, 4 K/V heads)", get_config("gpt2", n_kv_head=4), 8, 2),
        ("an MQA model (1 K/V head)", get_config("tiny", n_kv_head=1), 3, 4),
    )


def reference_kv_cache_bytes(config, batch_size: int, bytes_per_number: int) -> int:
    """What ``minigpt`` actually allocates: a cache built on the meta device (no memory used)."""
    from minigpt.model import GPT

    dtype = {1: torch.int8, 2: torch.bfloat16, 4: torch.float32, 8: torch.float64}[bytes_per_number]
    with torch.device("meta"), torch.random.fork_rng():
        model = GPT(config)
    return model.new_kv_cache(batch_size, device="meta", dtype=dtype).nbytes


def kv_cache_bytes(config, batch_size: int, bytes_per_number: int) -> int:
    """Bytes of a KV cache holding ``config.block_size`` tokens: 2 (K and V) x layers x batch x K/V heads
    x tokens x head_dim numbers of ``bytes_per_number`` bytes each."""
    numbers = 2 * config.n_layer * batch_size * config.n_kv_head * config.block_size * config.head_dim
    return numbers * bytes_per_number


@with_reference(kv_cache_bytes)
def check_kv_cache_bytes(fn) -> Result:
    """Check ``fn(config, batch_size, bytes_per_number) -> int`` on several models, GQA and MQA included.

    Any number counts: a Python or numpy int or float (not a bool, NaN or inf).
    """
    for what, config, batch, nbytes in _kv_configs():
        expected = reference_kv_cache_bytes(config, batch, nbytes)
        got = call_learner(fn, config, batch, nbytes)
        if isinstance(got, Result):
            return got
        got = number_answer(got, "kv_cache_bytes", hint=_KV_HINT)
        if isinstance(got, Result):
            return got
        if got == expected:
            continue
        where = f"{what}, batch {batch}, {nbytes} bytes/number: you said {int(got):,} bytes, minigpt allocates {expected:,}"
        if got * 2 == expected:
            return failed(where + ".", "a cache holds two tensors, the keys AND the values: multiply by 2.")
        if config.n_kv_head != config.n_head and got * config.n_kv_head == expected * config.n_head:
            return failed(where + ".", "only n_kv_head heads are cached (GQA shares them): use config.n_kv_head, "
                                       "not config.n_head.")
        if got * config.n_layer == expected:
            return failed(where + ".", "every layer keeps its own keys and values: multiply by config.n_layer.")
        return failed(where + ".", _KV_HINT)
    return passed("your formula matches GPT.new_kv_cache(...).nbytes for MHA, GQA and MQA models.")


def _quantize_mistakes(w):
    """Common wrong versions: list of (q, hint)."""
    amax = w.abs().amax(dim=1, keepdim=True)
    per_tensor = torch.round(w / (w.abs().max() / 127)).clamp(-127, 127)
    return [
        (per_tensor, "that is one scale for the whole matrix: use one per output channel, "
                     "w.abs().amax(dim=1, keepdim=True) / 127."),
        (torch.round(w / (w.abs().amax(dim=0, keepdim=True) / 127)).clamp(-127, 127),
         "the scale goes per output channel = per ROW of the weight [out, in]: amax over dim=1, not dim=0."),
        (torch.trunc(w / (amax / 127)), "round to the nearest integer (torch.round) instead of truncating."),
        (torch.round(w / (amax / 128)).clamp(-128, 127), "symmetric int8 uses [-127, 127]: divide by 127, not 128."),
    ]


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel symmetric int8: (q int8 [out, in], scale [out, 1]) with w ≈ q * scale."""
    from minigpt.quantize import quantize_per_channel

    return quantize_per_channel(w)


@with_reference(quantize_int8)
def check_quantize(fn, *, seed: int = 0) -> Result:
    """Check ``fn(w [out, in]) -> (q int8 [out, in], scale [out, 1] or [out])`` against ``quantize_per_channel``.

    q may be a torch tensor or numpy array of int8; the scale any float dtype (compared to 1e-5 relative).
    """
    from minigpt.quantize import quantize_per_channel

    g = torch.Generator().manual_seed(seed)
    # rows of very different sizes, as in real weights: per-channel scales matter here
    w = torch.randn(6, 20, generator=g) * torch.logspace(-2, 1, 6)[:, None]
    want_q, want_scale = quantize_per_channel(w)
    answer = call_learner(fn, w.clone())
    if isinstance(answer, Result):
        return answer
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return returned(answer, "quantize_int8", "a pair (q, scale)", "end with: return q, scale")
    q, scale = answer
    q = tensor_answer(q, w.shape, "q", "one int8 per weight: the same shape as w.", cast=None)
    if isinstance(q, Result):
        return q
    q = q[0]
    scale_tensor = as_tensor(scale)
    if scale_tensor is not None and scale_tensor.numel() == w.size(0):
        scale = scale_tensor.reshape(-1, 1)  # [out] is fine too
    scale = tensor_answer(scale, want_scale.shape, "scale", "one scale per output channel (row): [out, 1].")
    if isinstance(scale, Result):
        return scale
    scale, scale_tolerance = scale  # a float16 or bfloat16 scale is rounded: judge it to its precision
    if not torch.equal(q.float(), want_q.float()):
        for wrong, hint in _quantize_mistakes(w):
            if torch.equal(q.float(), wrong.float()):
                return failed("q differs from minigpt.quantize.quantize_per_channel.", hint)
        return failed(f"q differs from the reference in {(q.float() != want_q.float()).sum().item()} of {w.numel()} places.",
                      "scale = w.abs().amax(dim=1, keepdim=True) / 127; q = round(w / scale), clamped to [-127, 127].")
    if q.dtype != torch.int8:
        return failed(f"the values are right but q is {q.dtype}: store it as torch.int8 (.to(torch.int8)), "
                      "or nothing is saved.", "q = ....to(torch.int8)")
    if not torch.allclose(scale.float(), want_scale, rtol=max(1e-5, scale_tolerance / 5), atol=0):
        return failed("q is right but the scales differ.", "scale = w.abs().amax(dim=1, keepdim=True) / 127")
    return passed("your int8 weights and scales match minigpt.quantize.quantize_per_channel exactly.")
