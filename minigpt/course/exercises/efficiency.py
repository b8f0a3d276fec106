"""Checks for the efficiency and scale lesson (notebook 11).

``check_kv_cache_bytes(fn)``  the learner's KV-cache memory formula vs ``GPT.new_kv_cache(...).nbytes``.
``check_quantize(fn)``        the learner's per-channel int8 quantization vs ``minigpt.quantize.quantize_per_channel``.
``check_flash_attention(fn)`` the learner's blockwise attention with an online softmax vs softmax attention (1e-5),
                              and that it never builds the whole [T, T] score matrix.
``check_speculative_step(fn)`` one round of the learner's speculative decoding: exactly the tokens greedy decoding
                              with the large model adds, with ONE pass of the large model.
"""

from __future__ import annotations

import torch

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import (
    as_tensor,
    call_learner,
    close,
    diagnose,
    failed as _failed,
    int_list_answer,
    number_answer,
    returned,
    tensor_answer,
)

_KV_HINT = (
    "2 (keys and values) x n_layer x batch_size x n_kv_head x block_size x head_dim numbers, "
    "times bytes_per_number (config.head_dim = n_embd // n_head)."
)


def _kv_configs():
    from minigpt.config import get_config

    return (
        ("GPT-2 small in bfloat16", get_config("gpt2"), 1, 2),
        ("the tiny config", get_config("tiny"), 4, 4),
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


# -- FlashAttention: blockwise attention with an online softmax -----------------------------------------

_FLASH_HINT = ("for every block of keys: scores = q @ k_jᵀ / √D with the keys after each query masked to -inf; "
               "m_new = max(m, scores.amax(-1)); p = exp(scores - m_new); c = exp(m - m_new); l = l·c + p.sum(-1); "
               "acc = acc·c + p @ v_j; m = m_new. At the end return acc / l.")


def flash_attention(q, k, v, block_size):
    """Causal attention one block of keys at a time with a running max and sum (``minigpt.flash_attention``)."""
    from minigpt.flash_attention import flash_attention as reference

    return reference(q, k, v, block_size)


def _flash_variant(q, k, v, block_size, *, scale=True, causal=True, rescale_acc=True, rescale_l=True):
    """The online softmax with one step left out: the usual wrong answers, to recognise them."""
    import math

    B, H, T, D = q.shape
    m = torch.full((B, H, T, 1), float("-inf"))
    l, acc = torch.zeros(B, H, T, 1), torch.zeros(B, H, T, D)
    for start in range(0, T, block_size):
        k_j, v_j = k[:, :, start : start + block_size], v[:, :, start : start + block_size]
        s = q @ k_j.transpose(-2, -1) / (math.sqrt(D) if scale else 1.0)
        if causal:
            s = s.masked_fill(torch.arange(start, start + k_j.size(2))[None, :] > torch.arange(T)[:, None], float("-inf"))
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        p, c = torch.exp(s - m_new), torch.exp(m - m_new)
        l = (l * c if rescale_l else l) + p.sum(-1, keepdim=True)
        acc = (acc * c if rescale_acc else acc) + p @ v_j
        m = m_new
    return acc / l


def _flash_mistakes(q, k, v, block_size):
    return [
        (_flash_variant(q, k, v, block_size, rescale_acc=False),
         "when the max rises, the old acc was computed with the old max: multiply acc by exp(m - m_new) "
         "before adding p @ v_j."),
        (_flash_variant(q, k, v, block_size, rescale_l=False),
         "when the max rises, the old sum l was computed with the old max: multiply l by exp(m - m_new) "
         "before adding p.sum(-1)."),
        (_flash_variant(q, k, v, block_size, rescale_l=False, rescale_acc=False),
         "acc and l were summed under an older max: multiply both by exp(m - m_new) in every block."),
        (_flash_variant(q, k, v, block_size, causal=False),
         "a GPT's attention is causal: mask every key whose position is after the query's (key_pos > query_pos) "
         "with -inf before the max and the exp."),
        (_flash_variant(q, k, v, block_size, scale=False), "divide the scores by √D (D = q.size(-1))."),
    ]


def _softmax_attention(q, k, v):
    from minigpt.attention import attend

    return attend(q, k, v, is_causal=True, need_weights=True)[0]


@with_reference(flash_attention)
def check_flash_attention(fn, *, seed: int = 0) -> Result:
    """Check ``fn(q, k, v, block_size) -> [B, H, T, D]`` (causal) against softmax attention to 1e-5, on
    lengths that blocks do not divide, on scores large enough to overflow exp() without the running max,
    and that the largest tensor it builds is smaller than the [B, H, T, T] score matrix."""
    from minigpt.memory import peak_memory

    g = torch.Generator().manual_seed(seed)
    cases = [((2, 3, 37, 8), 8, 1.0), ((1, 2, 5, 4), 1, 1.0), ((1, 2, 20, 8), 64, 1.0), ((1, 2, 33, 8), 16, 60.0)]
    for shape, block_size, size in cases:
        q, k, v = (torch.randn(shape, generator=g) for _ in range(3))
        q = q * size  # size 60: scores up to ~200, exp(200) overflows float32
        expected = _softmax_attention(q, k, v)
        where = f"q, k, v of shape {shape}, block_size {block_size}" + (", large scores" if size > 1 else "")
        out = call_learner(fn, q.clone(), k.clone(), v.clone(), block_size)
        out = tensor_answer(out, shape, "flash_attention", "one output vector per query: the same shape as q.",
                            nan_hint="subtract the running max m before every exp(): exp of a large score "
                                     "overflows to inf, and inf / inf is NaN.", finite=size == 1)
        if isinstance(out, Result):
            return out
        out, atol = out
        if torch.isinf(out).any() or torch.isnan(out).any():
            return _failed(f"{where}: your output contains inf or NaN.",
                           "subtract the running max m before every exp(): exp of a large score overflows.")
        if close(out, expected, atol):
            continue
        result = diagnose(out, expected, _flash_mistakes(q, k, v, block_size), _FLASH_HINT, atol=atol)
        return _failed(f"{where}: {result.message}", result.hint)
    B, H, T, D = 1, 2, 128, 8
    q, k, v = (torch.randn(B, H, T, D, generator=g) for _ in range(3))
    used = peak_memory(lambda: call_learner(fn, q, k, v, 16))
    if used.largest_numel >= B * H * T * T:
        return _failed(f"the output is right, but your function builds a tensor of {used.largest_numel:,} numbers, as "
                       f"large as the whole [B, H, T, T] score matrix ({B * H * T * T:,}).",
                       "compute the scores one block of keys at a time (q @ k[:, :, j:j+block_size]ᵀ) and never "
                       "stack them: that is the point of the exercise.")
    return passed("equal to softmax attention to 1e-5 (block sizes that do not divide T, scores large enough to "
                  "overflow exp() included), and the [T, T] score matrix is never built.")


# -- speculative decoding: one round --------------------------------------------------------------------

_SPEC_HINT = ("1. the draft proposes k tokens greedily, one pass each on ids + proposal so far; "
              "2. ONE pass of the large model on ids + proposal: want = logits[0, len(ids) - 1:].argmax(-1) "
              "(k + 1 tokens, want[i] follows ids + proposal[:i]); 3. keep proposal[:n], n = the number of leading "
              "proposal tokens equal to want, then add want[n].")


def speculative_step(large, draft, ids, k):
    """One round of speculative decoding (``minigpt.speculative.speculative_step``): the new tokens, a list."""
    from minigpt.speculative import speculative_step as reference

    return reference(large, draft, ids, k)


def _spec_models(seed: int):
    """A small large model and three drafts: an unrelated one, a noisy copy (agrees often) and the large one."""
    from minigpt.config import GPTConfig
    from minigpt.model import GPT

    config = GPTConfig(vocab_size=11, block_size=48, n_layer=1, n_head=2, n_embd=16)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        large = GPT(config)
        for p in large.parameters():  # larger weights than at init: sharper, more varied greedy choices
            p.data.mul_(20.0)
        unrelated = GPT(config)
        for p in unrelated.parameters():
            p.data.mul_(20.0)
        noisy = GPT(config)
        noisy.load_state_dict(large.state_dict())
        for p in noisy.parameters():
            p.data.add_(torch.randn_like(p) * 0.1)
        twin = GPT(config)  # the large model's weights in another module (its passes are not the large model's)
        twin.load_state_dict(large.state_dict())
    for m in (large, unrelated, noisy, twin):
        m.eval()
    return large, (("an unrelated draft", unrelated, 3), ("a draft that agrees often", noisy, 4),
                   ("a perfect draft (the large model's weights)", twin, 3), ("k = 1", noisy, 1))


@with_reference(speculative_step)
def check_speculative_step(fn, *, seed: int = 0) -> Result:
    """Check ``fn(large, draft, ids, k) -> list of new token ids`` round after round: each round must add
    exactly the tokens greedy decoding with ``large`` adds (accepted draft tokens, then the large model's own),
    with one forward pass of ``large``."""
    from minigpt.speculative import speculative_step as reference

    large, drafts = _spec_models(seed)
    calls = [0]
    hook = large.register_forward_pre_hook(lambda module, args: calls.__setitem__(0, calls[0] + 1))
    try:
        for what, draft, k in drafts:
            ids = [1, 5, 2, 7, 3]
            while len(ids) < 30:
                want = reference(large, draft, ids, k)
                calls[0] = 0
                new = call_learner(fn, large, draft, list(ids), k)
                passes = calls[0]
                new = int_list_answer(new, "speculative_step", "return the new tokens as a list of ints, e.g. "
                                      "proposal[:n] + [want[n]].")
                if isinstance(new, Result):
                    return new
                where = f"with {what}, k = {k}, after {len(ids)} tokens"
                if new != want:
                    return _failed(f"{where} you returned {new}; greedy decoding with the large model adds {want}.",
                                   _spec_mistake(large, draft, ids, k, new, want))
                if passes != 1:
                    return _failed(f"{where} your tokens are right, but the large model ran {passes} times.",
                                   "verify all k proposed tokens in ONE forward pass of the large model on ids + "
                                   "proposal: its logits at every position give its choice after each prefix.")
                ids += new
    finally:
        hook.remove()
    return passed("every round adds exactly the tokens greedy decoding with the large model adds, with one pass of "
                  "the large model (unrelated draft, agreeing draft, perfect draft, k = 1).")


def _spec_mistake(large, draft, ids, k, new, want) -> str:
    """The hint for a wrong round."""
    from minigpt.speculative import _greedy_next

    proposal = []
    for _ in range(k):
        proposal.append(int(_greedy_next(draft, ids + proposal)[-1]))
    if not new:
        return "return at least one token: after the accepted draft tokens, the large model's own next token."
    if new == proposal and new != want:
        return "the draft's tokens must be checked: keep only those equal to the large model's own choice."
    if new == want[:-1]:
        return ("after the accepted tokens add the large model's own token want[n] (its correction at the first "
                "disagreement, or the free (k+1)-th token when all k agree).")
    if len(new) == 1 and len(want) > 1:
        return "keep the draft tokens the large model agrees with, not only one token per round."
    return ("position i of the large model's logits predicts the token AFTER position i: its choices after ids + "
            "proposal[:i] are logits[0, len(ids) - 1 + i]. " + _SPEC_HINT)
