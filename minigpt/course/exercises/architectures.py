"""Checks for the encoder / decoder / encoder-decoder lesson (notebook 10).

``check_visibility(fn)``       which tokens each token may attend to, in an encoder and in a decoder,
                               compared with the attention weights a real ``GPT`` produces.
``check_teacher_forcing(fn)``  the decoder's input and targets for one target sequence, in the
                               format ``Seq2Seq.generate`` produces (BOS first, EOS last).
``check_cross_attention(fn)``  the decoder's cross-attention vs ``minigpt.attention.CrossAttention``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import (
    call_learner,
    check_tensor,
    close,
    diagnose,
    int_list_answer,
    returned,
    tensor_answer,
)

_VISIBILITY_HINT = (
    "row i is the query token, column j the key token. An encoder (causal=False) lets every token see "
    "every token: torch.ones(T, T, dtype=torch.bool). A decoder lets token i see j <= i: the lower "
    "triangle, torch.ones(T, T, dtype=torch.bool).tril()."
)


def model_visibility(T: int, causal: bool) -> torch.Tensor:
    """BoolTensor [T, T]: True where a real GPT's captured attention weight is non-zero (query i, key j)."""
    from minigpt.capture import capture
    from minigpt.config import GPTConfig
    from minigpt.model import GPT

    with torch.random.fork_rng():  # leave the notebook's random numbers where they were
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=16, block_size=T, n_layer=1, n_head=2, n_embd=16, causal=causal)).eval()
    with torch.no_grad(), capture(model) as cap:
        model(torch.arange(T)[None] % 16)
    return cap.attention[0][0, 0] > 0  # batch 0, head 0: [T_q, T_k]


def visibility(T: int, causal: bool) -> torch.Tensor:
    """BoolTensor [T, T], True where query i may attend to key j: all of it (encoder), j <= i (decoder)."""
    allowed = torch.ones(T, T, dtype=torch.bool)
    return allowed.tril() if causal else allowed


def _as_mask(out, name: str):
    """The learner's mask as a BoolTensor, or a failed Result. True/False, or 1/0 in any number dtype,
    are a mask; other numbers are not: ``.bool()`` would read every non-zero number (an attention weight,
    a random number) as True, and an all-True "mask" would pass for the encoder without being one."""
    answer = tensor_answer(out, out.shape if hasattr(out, "shape") else (), name, cast=None)
    if isinstance(answer, Result):
        return answer
    mask, _ = answer
    if mask.dtype != torch.bool and not ((mask == 0) | (mask == 1)).all():
        odd = mask[(mask != 0) & (mask != 1)].flatten()[0].item()
        return failed(f"{name} should hold True/False (or 1/0), but it holds {odd:.3g}.",
                      "a mask says yes or no per (query, key) pair: build it with dtype=torch.bool. " + _VISIBILITY_HINT)
    return mask.bool()


@with_reference(visibility)
def check_visibility(fn, T: int = 6) -> Result:
    """Check ``fn(T, causal) -> BoolTensor [T, T]`` (True = query i may attend to key j) for both kinds of model,
    at length T and at two other lengths (a mask of one fixed size is not the answer)."""
    for size in dict.fromkeys((T, 1, 4)):
        for causal in (False, True):
            expected = model_visibility(size, causal)
            out = call_learner(fn, size, causal)
            name = f"visibility({size}, causal={causal})"
            problem = check_tensor(out, (size, size), name, "one row per query token and one column per key token: [T, T].")
            if problem is not None:
                return problem
            out = _as_mask(out, name)
            if isinstance(out, Result):
                return out
            if torch.equal(out, expected):
                continue
            if causal and torch.equal(out, expected.T):
                return failed(f"{name} is transposed: it lets tokens see the future.",
                              "row i = query: token i sees positions j <= i, the lower triangle (.tril()), not .triu().")
            if causal and torch.equal(out, expected.tril(-1)):
                return failed(f"{name} hides each token from itself.",
                              "the diagonal belongs in: token i sees j <= i (tril(), not tril(-1)).")
            kind = "decoder (causal)" if causal else "encoder (bidirectional)"
            return failed(f"{name} does not match what the {kind} model attends to.", _VISIBILITY_HINT)
    return passed("your masks match the attention a real GPT computes: encoders see both ways, decoders only back.")


def _as_list(value, name: str):
    return int_list_answer(value, name, "return two lists of token ids.")


def teacher_forcing(target_ids: list[int], bos_id: int, eos_id: int) -> tuple[list[int], list[int]]:
    """(decoder_input, decoder_targets) = ([BOS] + target, target + [EOS])."""
    return [bos_id, *target_ids], [*target_ids, eos_id]


@with_reference(teacher_forcing)
def check_teacher_forcing(fn, bos_id: int = 1, eos_id: int = 2) -> Result:
    """Check ``fn(target_ids, bos_id, eos_id) -> (decoder_input, decoder_targets)`` on a few targets.

    The decoder reads [BOS] + target and must predict target + [EOS]: position t sees the right
    answer up to t (teacher forcing) and is scored on token t + 1. ``Seq2Seq.generate`` returns
    exactly [BOS] + prediction + [EOS], so a model trained this way can be decoded by it.
    """
    for target in ([5, 7, 9], [4], [3, 3, 8, 6]):
        full = [bos_id, *target, eos_id]
        want_in, want_out = full[:-1], full[1:]
        answer = call_learner(fn, list(target), bos_id, eos_id)
        if isinstance(answer, Result):
            return answer
        if not isinstance(answer, (tuple, list)) or len(answer) != 2:
            return returned(answer, "teacher_forcing", "a pair (decoder_input, decoder_targets)",
                            "end with: return decoder_input, decoder_targets")
        got_in, got_out = (_as_list(a, n) for a, n in zip(answer, ("decoder_input", "decoder_targets")))
        for got in (got_in, got_out):
            if isinstance(got, Result):
                return got
        if got_in == want_in and got_out == want_out:
            continue
        where = f"for target {target}: you gave input {got_in}, targets {got_out}"
        if got_in == got_out:
            return failed(f"{where}: the input and the targets are the same.",
                          "each position predicts the NEXT token: shift the targets one step left of the input.")
        if got_in == want_in and got_out == list(target):
            return failed(f"{where}: the targets are one token short.",
                          "end the targets with eos_id, or the model never learns when to stop.")
        if len(got_in) != len(got_out):
            return failed(f"{where}: the two lists must have the same length (one target per input position).",
                          f"input = [bos_id] + target, targets = target + [eos_id], e.g. {want_in} and {want_out}.")
        return failed(f"{where}.", f"input = [bos_id] + target, targets = target + [eos_id], e.g. {want_in} and {want_out}.")
    return passed("the decoder reads [BOS] + target and learns to predict target + [EOS], as Seq2Seq.generate expects.")


def cross_attention(x: torch.Tensor, memory: torch.Tensor, attn) -> torch.Tensor:
    """The decoder reading the source: x [B, T, C] (decoder states), memory [B, S, C] (the encoder's output) ->
    [B, T, C], with the weights of ``attn`` (a ``minigpt.attention.CrossAttention``): queries from x through
    ``attn.c_q``, keys and values from memory through ``attn.c_kv`` (fused: keys first), ``attn.n_head`` heads,
    no mask (every target position may read every source token), then ``attn.c_proj``."""
    B, T, C = x.shape
    S, H = memory.size(1), attn.n_head
    q = attn.c_q(x).view(B, T, H, C // H).transpose(1, 2)  # [B, H, T, D]
    k, v = (t.view(B, S, H, C // H).transpose(1, 2) for t in attn.c_kv(memory).split(C, dim=-1))  # [B, H, S, D]
    y = F.scaled_dot_product_attention(q, k, v)  # [B, H, T, D]
    return attn.c_proj(y.transpose(1, 2).reshape(B, T, C))


_CROSS_HINT = ("q = attn.c_q(x), k, v = attn.c_kv(memory).split(C, dim=-1); split each into heads [B, H, ·, D] with "
               ".view(B, length, H, D).transpose(1, 2); F.scaled_dot_product_attention(q, k, v) without a mask; heads "
               "back to [B, T, C]; attn.c_proj.")


def _cross_mistakes(x, memory, attn):
    """(output, hint) of the usual wrong cross-attentions."""
    B, T, C = x.shape
    heads = lambda t: t.view(B, t.size(1), attn.n_head, C // attn.n_head).transpose(1, 2)  # noqa: E731
    merge = lambda y: attn.c_proj(y.transpose(1, 2).reshape(B, T, C))  # noqa: E731
    q = heads(attn.c_q(x))
    k, v = (heads(t) for t in attn.c_kv(memory).split(C, dim=-1))
    k_self, v_self = (heads(t) for t in attn.c_kv(x).split(C, dim=-1))
    return [
        (merge(F.scaled_dot_product_attention(q, k, v, is_causal=True)), "no causal mask here: the source is known "
         "in full, so every target position may read every source token. Call F.scaled_dot_product_attention(q, k, v)."),
        (merge(F.scaled_dot_product_attention(q, k_self, v_self)), "the keys and values come from the encoder's "
         "output: attn.c_kv(memory), not attn.c_kv(x). That is what lets the decoder read the source."),
        (merge(F.scaled_dot_product_attention(q, v, k)), "attn.c_kv(memory) holds the keys first, then the values: "
         "k, v = attn.c_kv(memory).split(C, dim=-1)."),
    ]


@with_reference(cross_attention)
def check_cross_attention(fn, *, seed: int = 0) -> Result:
    """Check ``fn(x, memory, attn) -> [B, T, C]`` against ``minigpt.attention.CrossAttention`` on random weights, with
    a source (S = 9) longer than the target (T = 5), so queries and keys cannot be swapped unseen."""
    from minigpt.attention import CrossAttention
    from minigpt.config import GPTConfig

    with torch.random.fork_rng():  # leave the notebook's random numbers where they were
        torch.manual_seed(seed)
        attn = CrossAttention(GPTConfig(n_embd=32, n_head=4, block_size=16, n_layer=1, dropout=0.0)).eval()
    g = torch.Generator().manual_seed(seed + 1)
    x, memory = torch.randn(2, 5, 32, generator=g), torch.randn(2, 9, 32, generator=g)
    with torch.no_grad():
        expected = attn(x, memory)
        out = call_learner(fn, x.clone(), memory.clone(), attn, name="your cross_attention", hint=_CROSS_HINT)
        answer = tensor_answer(out, expected.shape, "cross_attention", "one output per TARGET position: the queries "
                               "come from x [B, T, C], the keys and values from memory [B, S, C]; the output is [B, T, C].")
        if isinstance(answer, Result):
            return answer
        out, atol = answer
        if close(out, expected, atol):
            return passed("your cross-attention matches minigpt.attention.CrossAttention to 1e-5.")
        return diagnose(out, expected, _cross_mistakes(x, memory, attn), _CROSS_HINT, atol=atol)
