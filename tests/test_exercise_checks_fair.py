"""Every exercise check is fair and never crashes.

Fair: a correct answer passes in whatever form it comes (float64, float16/bfloat16, numpy, numpy
scalars, requires_grad, another device). Never crashes: None, a list, NaN, an exception, sys.exit(),
a loop that never ends or an unfinished stub each give NOT YET, with a message that says what came
back (returned vs raised vs stopped).
The checks come from ``minigpt.course.exercises.solutions.CHECKS``, each with its reference solution; each must
also pass an answer written here in float64 numpy (``INDEPENDENT``), since a reference is often the very
function its check compares with.
"""

import math
import signal
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from minigpt.course.exercises import _tensor_checks
from minigpt.course.exercises._result import Result
from minigpt.course.exercises._tensor_checks import NOT_IMPLEMENTED, call_learner, number_answer, tensor_answer
from minigpt.course.exercises.solutions import CHECKS, MODULES, passing_or_reference

NAMES = list(CHECKS)


# -- turning a reference into the answers a learner might give ---------------------------------------


def nan_like(value):
    """A NaN answer shaped like ``value``: a NaN tensor of its shape (each part of a pair), else a NaN scalar tensor."""
    if isinstance(value, torch.Tensor):
        return torch.full(value.shape, float("nan"))
    if isinstance(value, tuple):
        return tuple(nan_like(v) for v in value)
    if isinstance(value, list):
        return torch.full((len(value),), float("nan"))
    return torch.tensor(float("nan"))


def wrapped(check, transform):
    """The check's reference functions, each with its answer passed through ``transform``."""
    def wrap(fn):
        return lambda *args, **kwargs: transform(fn(*args, **kwargs))

    return [wrap(fn) for fn in check.reference]


def returning(value):
    return lambda *args, **kwargs: value


def raising(error):
    def fn(*args, **kwargs):
        raise error

    return fn


LOOP_BOUND_S = 30.0  # the "endless" loop ends here, so a check without a time limit fails the test instead of hanging


def never_returning(*args, **kwargs):
    """A loop that never ends, as far as a check with a shorter time limit can tell (``while True`` with
    a bound, so the test ends even where nothing stops it)."""
    deadline = time.monotonic() + LOOP_BOUND_S
    while time.monotonic() < deadline:
        pass


def run(check, fns) -> Result:
    result = check(*fns)
    assert isinstance(result, Result), f"{check.__name__} returned {result!r}, not a Result"
    return result


# -- an answer of our own for every check: float64 numpy, written here --------------------------------
#
# A check's reference is often the very function the check compares with (check_rope's is apply_rope), so
# "the reference passes" cannot fail. These answers share no code with the package's: each is the exercise
# solved again, in float64 numpy wherever the answer is numbers, as a learner might. A new check needs one.


def softmax64(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np64(t):
    return t.detach().cpu().double().numpy()


def np_next_token_distribution(model, idx):
    logits, _ = model(idx)
    return softmax64(np64(logits[:, -1]))


def np_get_pair_counts(ids):
    ids, counts = np.asarray(ids, dtype=np.int64), {}
    for a, b in zip(ids[:-1], ids[1:]):
        counts[(a, b)] = counts.get((a, b), np.int64(0)) + 1
    return counts


def np_merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return np.array(out, dtype=np.int64)


def np_one_hot_lookup(ids, weight):
    one_hot = (ids.numpy()[..., None] == np.arange(weight.shape[0])).astype(np.float64)  # (B, T, V)
    return one_hot @ np64(weight)


def np_most_similar(weight, vector, k=5, exclude=()):
    w, v = np64(weight), np64(vector)
    cosine = w @ v / (np.linalg.norm(w, axis=1) * np.linalg.norm(v))
    cosine[list(exclude)] = -np.inf
    return np.argsort(-cosine, kind="stable")[:k]


def attend64(q, k, v, causal):
    """Softmax attention on float64 arrays [..., T, D]."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
    return softmax64(scores) @ v


def np_attention(q, k, v, causal=True):
    return attend64(np64(q), np64(k), np64(v), causal)


def np_multi_head(x, attn):
    B, T, C = x.shape
    H = attn.n_head
    qkv = np64(x) @ np64(attn.c_attn.weight).T + np64(attn.c_attn.bias)
    q, k, v = (part.reshape(B, T, H, C // H).transpose(0, 2, 1, 3) for part in np.split(qkv, 3, axis=-1))
    y = attend64(q, k, v, causal=True).transpose(0, 2, 1, 3).reshape(B, T, C)
    return y @ np64(attn.c_proj.weight).T + np64(attn.c_proj.bias)


def np_sinusoidal(T, C):
    angle = np.arange(T)[:, None] / 10000.0 ** (np.arange(0, C, 2) / C)
    table = np.empty((T, C))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return table


def np_rope(x, cos, sin):
    x, cos, sin = np64(x), np64(cos), np64(sin)
    first, second = np.split(x, 2, axis=-1)
    return np.concatenate((first * cos - second * sin, first * sin + second * cos), axis=-1)


def np_rms_norm(x, weight, eps):
    x = np64(x)
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * np64(weight)


def np_block_params(C):
    attention, mlp, norms = 4 * C * C + 4 * C, 8 * C * C + 5 * C, 4 * C
    return np.int64(attention + mlp + norms)


def np_get_batch(data, batch_size, block_size, generator):
    # uniform floats scaled to the valid starts: other draws than minigpt's randint, equally fair
    starts = (torch.rand(batch_size, generator=generator).double().numpy() * (len(data) - block_size)).astype(np.int64)
    tokens = data.numpy()
    x = np.stack([tokens[i : i + block_size] for i in starts])
    y = np.stack([tokens[i + 1 : i + 1 + block_size] for i in starts])
    return x, y


def np_training_step(model, optimizer, x, y, grad_clip):
    for p in model.parameters():
        p.grad = None
    logits, _ = model(x)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    loss.backward()
    norm = np.sqrt(sum(float((np64(p.grad) ** 2).sum()) for p in model.parameters() if p.grad is not None))
    scale = min(1.0, grad_clip / (norm + 1e-6))
    for p in model.parameters():
        if p.grad is not None:
            p.grad.mul_(scale)
    optimizer.step()
    return np.float64(loss.item())


def np_top_p(logits, p):
    probs = softmax64(np64(logits))
    order = np.argsort(-probs, axis=-1, kind="stable")
    ranked = np.take_along_axis(probs, order, axis=-1)
    keep_ranked = np.cumsum(ranked, axis=-1) - ranked < p  # the mass ranked above a token is still below p
    keep = np.zeros_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, np64(logits), -np.inf)


def np_distinct_ngram_ratio(ids, n=3):
    if len(ids) < n:
        return np.float64(1.0)
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(ids, dtype=np.int64), n)
    return np.float64(len(np.unique(windows, axis=0)) / len(windows))


def np_previous_token_score(attention):
    a = np64(attention)
    query = np.arange(1, a.shape[-1])
    return a[..., query, query - 1].mean(axis=-1)


def np_induction_score(attention, period):
    a = np64(attention)
    query = np.arange(period, a.shape[-1])
    return a[..., query, query - period + 1].mean(axis=-1)


def np_logit_lens(model, residual):
    """The final LayerNorm and the unembedding, in float64 numpy from the model's own weights."""
    ln = model.transformer.ln_f
    x = np64(residual)
    x = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + ln.eps)
    x = x * np64(ln.weight.detach()) + np64(ln.bias.detach())
    return x @ np64(model.lm_head.weight.detach()).T


def np_visibility(T, causal):
    key_after_query = np.arange(T)[None, :] > np.arange(T)[:, None]
    return ~key_after_query if causal else np.ones((T, T), dtype=bool)


def np_teacher_forcing(target_ids, bos_id, eos_id):
    target = np.asarray(target_ids, dtype=np.int64)
    return np.concatenate(([bos_id], target)), np.concatenate((target, [eos_id]))


def np_kv_cache_bytes(config, batch_size, bytes_per_number):
    per_layer = np.int64(batch_size) * config.n_kv_head * config.block_size * (config.n_embd // config.n_head)
    return 2 * config.n_layer * per_layer * bytes_per_number  # keys and values


def np_quantize(w):
    w = np64(w)
    scale = np.abs(w).max(axis=1, keepdims=True) / 127
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def np_flash_attention(q, k, v, block_size):
    q, k, v = np64(q), np64(k), np64(v)
    T, D = q.shape[-2], q.shape[-1]
    running_max = np.full(q.shape[:-1] + (1,), -np.inf)
    total, out = np.zeros_like(running_max), np.zeros_like(q)
    for start in range(0, T, block_size):
        keys = np.arange(start, min(start + block_size, T))
        scores = q @ np.swapaxes(k[..., keys, :], -1, -2) / np.sqrt(D)
        scores = np.where(keys[None, :] > np.arange(T)[:, None], -np.inf, scores)
        new_max = np.maximum(running_max, scores.max(axis=-1, keepdims=True))
        weights, rescale = np.exp(scores - new_max), np.exp(running_max - new_max)
        total = total * rescale + weights.sum(axis=-1, keepdims=True)
        out = out * rescale + weights @ v[..., keys, :]
        running_max = new_max
    return out / total


def np_speculative_step(large, draft, ids, k):
    def choices(model, tokens):  # the model's greedy choice after every prefix of tokens
        logits, _ = model(torch.tensor([tokens]))
        return np64(logits[0]).argmax(axis=-1)

    proposal = []
    for _ in range(k):
        proposal.append(int(choices(draft, ids + proposal)[-1]))
    want = choices(large, ids + proposal)[len(ids) - 1 :]  # after ids, after ids + proposal[:1], ...
    accepted = 0
    while accepted < k and proposal[accepted] == want[accepted]:
        accepted += 1
    return [*proposal[:accepted], int(want[accepted])]


def np_first_token_share(attention):
    return np64(attention)[:, :, 1:, 0].mean(axis=(1, 2))


def np_cost_per_token(tokenizer, text, n_embd):
    tokens = np.int64(len(tokenizer.encode(text)))
    return dict(tokens=tokens, chars_per_token=np.float64(len(text)) / tokens,
                embedding_params=np.int64(tokenizer.vocab_size) * n_embd)


def gelu_tanh64(h):
    return 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))


def layer_norm64(x, norm):
    x = np.asarray(x, dtype=np.float64)
    y = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + norm.eps)
    return y * np64(norm.weight) + np64(norm.bias)


def np_mlp(x, layer):
    h = gelu_tanh64(np64(x) @ np64(layer.c_fc.weight).T + np64(layer.c_fc.bias))
    return h @ np64(layer.c_proj.weight).T + np64(layer.c_proj.bias)


def np_block_forward(x, block, attention, mlp):
    """The residual wiring in float64; the sublayers it is given are torch functions, so they get float32 tensors."""
    def sublayer(fn, h, weights):
        return np64(fn(torch.from_numpy(h).float(), weights))

    x = np64(x)
    x = x + sublayer(attention, layer_norm64(x, block.ln_1), block.attn)
    return x + sublayer(mlp, layer_norm64(x, block.ln_2), block.mlp)


def np_gpt_forward(idx, model, block, targets=None):
    t = model.transformer
    x = np64(t.wte.weight)[idx.numpy()] + np64(t.pos.weight)[: idx.shape[1]]
    for b in t.h:
        x = np64(block(torch.from_numpy(x).float(), b))
    logits = layer_norm64(x, t.ln_f) @ np64(model.lm_head.weight).T
    if targets is None:
        return logits, None
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return logits, -np.take_along_axis(log_probs, targets.numpy()[..., None], axis=-1).mean()


def np_generate_loop(model, idx, max_new_tokens, temperature, generator):
    """Probabilities in float64; the draw is torch.multinomial's on them as float32, so the same generator draws alike."""
    ids = idx.numpy().tolist()[0]
    for _ in range(max_new_tokens):
        logits, _ = model(torch.tensor([ids[-model.config.block_size:]]))
        probs = softmax64(np64(logits[0, -1]) / temperature)
        ids.append(int(torch.multinomial(torch.from_numpy(probs).float(), 1, generator=generator)))
    return np.array([ids])


def np_cross_attention(x, memory, attn):
    B, T, C = x.shape
    H = attn.n_head

    def heads(t):
        return t.reshape(B, t.shape[1], H, C // H).transpose(0, 2, 1, 3)

    q = heads(np64(x) @ np64(attn.c_q.weight).T + np64(attn.c_q.bias))
    kv = np64(memory) @ np64(attn.c_kv.weight).T + np64(attn.c_kv.bias)
    y = attend64(q, heads(kv[..., :C]), heads(kv[..., C:]), causal=False).transpose(0, 2, 1, 3).reshape(B, T, C)
    return y @ np64(attn.c_proj.weight).T + np64(attn.c_proj.bias)


INDEPENDENT = {
    "check_next_token_distribution": (np_next_token_distribution,),
    "check_get_pair_counts": (np_get_pair_counts,),
    "check_merge": (np_merge,),
    "check_bpe_training": (np_get_pair_counts, np_merge),
    "check_one_hot_lookup": (np_one_hot_lookup,),
    "check_most_similar": (np_most_similar,),
    "check_attention": (np_attention,),
    "check_multi_head": (np_multi_head,),
    "check_sinusoidal": (np_sinusoidal,),
    "check_rope": (np_rope,),
    "check_rms_norm": (np_rms_norm,),
    "check_block_params": (np_block_params,),
    "check_block": (np_mlp, np_block_forward),
    "check_get_batch": (np_get_batch,),
    "check_training_step": (np_training_step,),
    "check_gpt_forward": (np_gpt_forward,),
    "check_top_p": (np_top_p,),
    "check_distinct_ngram_ratio": (np_distinct_ngram_ratio,),
    "check_generate_loop": (np_generate_loop,),
    "check_previous_token_score": (np_previous_token_score,),
    "check_induction_score": (np_induction_score,),
    "check_logit_lens": (np_logit_lens,),
    "check_visibility": (np_visibility,),
    "check_teacher_forcing": (np_teacher_forcing,),
    "check_cross_attention": (np_cross_attention,),
    "check_kv_cache_bytes": (np_kv_cache_bytes,),
    "check_quantize": (np_quantize,),
    "check_flash_attention": (np_flash_attention,),
    "check_speculative_step": (np_speculative_step,),
    "check_first_token_share": (np_first_token_share,),
    "check_cost_per_token": (np_cost_per_token,),
}


# -- the acceptance test: one parametrised test over every check --------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_check_is_fair_and_never_crashes(name, monkeypatch):
    check = CHECKS[name]
    n = len(check.reference)

    result = run(check, check.reference)  # a notebook goes on with the reference until the learner's passes
    assert result.passed, f"{name} fails its own reference: {result!r}"
    assert name in INDEPENDENT, f"write a float64 numpy answer to {name} of our own in INDEPENDENT"
    result = run(check, INDEPENDENT[name])
    assert result.passed, f"{name} fails our own float64 numpy answer: {result!r}"

    none = run(check, [returning(None)] * n)
    assert not none.passed and repr(none).startswith("NOT YET") and "None" in none.message, repr(none)
    assert "raised" not in none.message, repr(none)
    a_list = run(check, [returning([0.5, 0.5])] * n)
    assert not a_list.passed, repr(a_list)
    nan = run(check, wrapped(check, nan_like))
    assert not nan.passed, repr(nan)
    boom = run(check, [raising(ValueError("boom"))] * n)
    assert not boom.passed and "raised ValueError: boom" in boom.message, repr(boom)
    stub = run(check, [raising(NotImplementedError())] * n)
    assert not stub.passed and stub.message == NOT_IMPLEMENTED, repr(stub)
    assert repr(stub).startswith("NOT YET: not implemented yet — ")
    exits = run(check, [raising(SystemExit(3))] * n)
    assert not exits.passed and "called sys.exit(3)" in exits.message, repr(exits)
    monkeypatch.setattr(_tensor_checks, "TIME_LIMIT_S", 0.2)
    endless = run(check, [never_returning] * n)
    assert not endless.passed and "ran longer than 0.2 s, so the check stopped it" in endless.message, repr(endless)


def test_ctrl_c_still_interrupts_a_check():
    with pytest.raises(KeyboardInterrupt):
        CHECKS["check_attention"](raising(KeyboardInterrupt()))


def test_the_time_limit_leaves_the_alarm_as_it_was(monkeypatch):
    monkeypatch.setattr(_tensor_checks, "TIME_LIMIT_S", 0.05)
    handler = signal.getsignal(signal.SIGALRM)
    assert "ran longer than 0.05 s" in call_learner(never_returning).message

    def swallowing():
        try:
            never_returning()
        except Exception:  # noqa: BLE001 - what a learner's code may do; the stop is no Exception
            return "swallowed"

    assert "ran longer than 0.05 s" in call_learner(swallowing).message
    assert call_learner(lambda: 7) == 7
    assert signal.getsignal(signal.SIGALRM) is handler and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_no_time_limit_outside_the_main_thread(monkeypatch):
    """SIGALRM reaches the main thread only: elsewhere the learner's function runs as long as it takes."""
    monkeypatch.setattr(_tensor_checks, "TIME_LIMIT_S", 0.05)
    results = []

    def slow():
        time.sleep(0.3)
        return "done"

    worker = threading.Thread(target=lambda: results.append(call_learner(slow)))
    worker.start()
    worker.join(timeout=LOOP_BOUND_S)
    assert results == ["done"]


def test_every_check_of_every_module_is_registered_with_a_reference():
    import importlib

    for module in MODULES:
        namespace = importlib.import_module(f"minigpt.course.exercises.{module}")
        for name, value in vars(namespace).items():
            if name.startswith("check_") and callable(value) and value.__module__ == namespace.__name__:
                assert name in CHECKS and CHECKS[name] is value, f"{module}.{name} has no reference"
                assert all(callable(fn) for fn in value.reference)


def test_every_check_a_notebook_imports_is_registered():
    import json
    import re
    from pathlib import Path

    for path in sorted(Path(__file__).parent.parent.glob("notebooks/*.ipynb")):
        source = "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])
        for name in re.findall(r"\bcheck_\w+", source):
            if re.search(rf"from minigpt\.exercises\.\w+ import[^\n]*\b{name}\b", source):
                assert name in CHECKS, f"{path.name} uses {name}, which has no registered reference"


def test_passing_or_reference_falls_back_until_the_learner_passes():
    check = CHECKS["check_attention"]

    def stub(q, k, v, causal=True):
        raise NotImplementedError()

    assert passing_or_reference(check, stub) is check.reference[0]
    mine = lambda q, k, v, causal=True: check.reference[0](q, k, v, causal)  # noqa: E731
    assert passing_or_reference(check, mine) is mine
    bpe = CHECKS["check_bpe_training"]
    assert passing_or_reference(bpe, stub, stub) == bpe.reference


# -- any dtype, numpy, requires_grad, device ----------------------------------------------------------

TENSOR_CHECKS = ["check_next_token_distribution", "check_one_hot_lookup", "check_attention", "check_multi_head",
                 "check_sinusoidal", "check_rope", "check_rms_norm", "check_previous_token_score",
                 "check_induction_score", "check_top_p"]


def cast(dtype):
    def transform(value):
        return value.to(dtype) if isinstance(value, torch.Tensor) and value.is_floating_point() else value

    return transform


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", TENSOR_CHECKS)
def test_tensor_checks_accept_any_float_dtype(name, dtype):
    check = CHECKS[name]
    result = run(check, wrapped(check, cast(dtype)))
    assert result.passed, f"{name} fails its reference in {dtype}: {result!r}"


@pytest.mark.parametrize("name", TENSOR_CHECKS)
def test_tensor_checks_accept_answers_that_require_grad(name):
    def with_grad(value):
        return value.detach().clone().requires_grad_() * 1.0 if isinstance(value, torch.Tensor) else value

    check = CHECKS[name]
    assert run(check, wrapped(check, with_grad)).passed


def test_attention_computed_entirely_in_low_precision_passes():
    attention = CHECKS["check_attention"].reference[0]
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        result = CHECKS["check_attention"](lambda q, k, v, causal: attention(q.to(dtype), k.to(dtype), v.to(dtype), causal))
        assert result.passed, (dtype, repr(result))


def test_float64_answers_no_longer_crash_the_checks_that_did():  # "Double did not match Float"
    for name in ("check_attention", "check_rope", "check_next_token_distribution"):
        check = CHECKS[name]
        assert run(check, wrapped(check, cast(torch.float64))).passed, name


def test_float64_wrong_answers_still_get_their_hint():
    attention = CHECKS["check_attention"].reference[0]
    unscaled = CHECKS["check_attention"](lambda q, k, v, causal: ((q @ k.transpose(-2, -1)).softmax(-1) @ v).double())
    assert not unscaled.passed and "sqrt" in unscaled.hint
    assert "1.31" in unscaled.message  # the same max difference as in float32
    assert CHECKS["check_attention"](lambda q, k, v, causal: attention(q, k, v, causal).double().numpy()).passed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", TENSOR_CHECKS)
def test_tensor_checks_accept_answers_on_another_device(name):
    def on_cuda(value):
        return value.cuda() if isinstance(value, torch.Tensor) else value

    check = CHECKS[name]
    assert run(check, wrapped(check, on_cuda)).passed


# -- numbers -------------------------------------------------------------------------------------------


def test_kv_cache_bytes_accepts_numpy_numbers_but_not_bools_nan_or_inf():
    check = CHECKS["check_kv_cache_bytes"]
    ref = check.reference[0]
    for kind in (np.int64, np.int32, np.float64, float, torch.tensor):
        assert check(lambda c, b, n: kind(ref(c, b, n))).passed, kind
    for bad in (True, np.bool_(True), float("nan"), float("inf"), -math.inf, "36 MB", None, [1]):
        result = check(returning(bad))
        assert not result.passed and result.message, bad
    assert "returned nan" in check(returning(float("nan"))).message
    assert "returned inf" in check(returning(float("inf"))).message
    assert "returned a bool" in check(returning(True)).message


def test_block_params_accepts_numpy_ints():
    check = CHECKS["check_block_params"]
    assert check(lambda C: np.int64(check.reference[0](C))).passed
    assert not check(lambda C: np.float64("nan")).passed


def test_number_answer_reads_every_kind_of_number():
    assert number_answer(np.int64(3), "x", integer=True) == 3
    assert number_answer(torch.tensor(3.0), "x", integer=True) == 3
    assert number_answer(np.array(2.5), "x") == 2.5
    assert isinstance(number_answer(np.bool_(True), "x"), Result)
    assert isinstance(number_answer(torch.tensor([1, 2]), "x"), Result)


# -- returned vs raised ------------------------------------------------------------------------------


def test_a_wrong_return_type_is_reported_as_returned_not_raised():
    for name in ("check_attention", "check_rope", "check_rms_norm", "check_one_hot_lookup", "check_top_p",
                 "check_next_token_distribution", "check_get_batch", "check_quantize", "check_kv_cache_bytes",
                 "check_distinct_ngram_ratio", "check_teacher_forcing"):
        check = CHECKS[name]
        for value, words in ((None, "None"), ("text", "str")):
            result = check(*[returning(value)] * len(check.reference))
            assert not result.passed and "raised" not in result.message and words in result.message, (name, result)
    none = CHECKS["check_attention"](returning(None))
    assert "returned None" in none.message and "return" in none.hint


def test_tensor_answer_names_what_came_back():
    assert "returned a list of 2 items" in tensor_answer([1, 2], (2,), "f").message
    assert "returned a tuple" in tensor_answer((torch.ones(2),), (2,), "f").message
    assert "shape (3,)" in tensor_answer(np.ones(3), (2,), "f").message
    assert "NaN" in tensor_answer(torch.tensor([1.0, float("nan")]), (2,), "f").message
    assert "inf" in tensor_answer(np.array([1.0, np.inf]), (2,), "f").message
    t, atol = tensor_answer(np.ones(2, dtype=np.float16), (2,), "f")
    assert t.dtype == torch.float32 and atol > 1e-5


def test_inf_answers_get_not_yet():
    check = CHECKS["check_rms_norm"]
    result = check(lambda x, w, eps: x / 0.0)
    assert not result.passed and "inf" in result.message


# -- the weak checks, now strict ---------------------------------------------------------------------


def test_one_hot_lookup_rejects_every_kind_of_indexing():
    check = CHECKS["check_one_hot_lookup"]
    lookups = [
        ("weight[ids]", lambda ids, w: w[ids]),
        ("F.embedding", lambda ids, w: F.embedding(ids, w)),
        ("index_select", lambda ids, w: w.index_select(0, ids.flatten()).view(*ids.shape, -1)),
        ("weight[ids]", lambda ids, w: w.T[:, ids].permute(1, 2, 0)),  # a transposed view of the table
        ("F.embedding", lambda ids, w: torch.nn.Embedding.from_pretrained(w)(ids)),
        ("weight[ids]", lambda ids, w: w[ids].double().numpy()),
    ]
    for what, fn in lookups:
        result = check(fn)
        assert not result.passed and "indexing" in result.message and what in result.message, (what, result)
    detached = check(lambda ids, w: w.detach()[ids])
    assert not detached.passed and "indexing" in detached.message


def test_one_hot_lookup_accepts_every_kind_of_product():
    check = CHECKS["check_one_hot_lookup"]
    products = [
        lambda ids, w: F.one_hot(ids, w.shape[0]).float() @ w,
        lambda ids, w: torch.matmul(F.one_hot(ids, w.size(0)).to(w.dtype), w),
        lambda ids, w: torch.einsum("btv,vc->btc", F.one_hot(ids, w.shape[0]).float(), w),
        lambda ids, w: (F.one_hot(ids, w.shape[0]).unsqueeze(-1) * w).sum(-2),
        lambda ids, w: (F.one_hot(ids, w.shape[0]).float() @ w)[:, torch.arange(ids.shape[1])],  # indexes the product
        lambda ids, w: (F.one_hot(ids, w.shape[0]).double() @ w.double()).numpy(),
    ]
    for fn in products:
        assert check(fn).passed


def test_visibility_rejects_weights_and_fixed_sizes():
    check = CHECKS["check_visibility"]
    visibility = check.reference[0]
    weights = check(lambda T, causal: torch.rand(T, T) * visibility(T, causal) + visibility(T, causal) * 0.01)
    assert not weights.passed and "True/False" in weights.message
    fixed = check(lambda T, causal: visibility(6, causal))
    assert not fixed.passed and "shape" in fixed.message
    assert check(lambda T, causal: visibility(T, causal).float()).passed  # 1/0 is a mask too
    assert check(lambda T, causal: visibility(T, causal).int().numpy()).passed
    always_full = check(lambda T, causal: torch.ones(T, T, dtype=torch.bool))
    assert not always_full.passed and "decoder" in always_full.message


def test_attention_rejects_the_library_call_whatever_its_spelling():
    check = CHECKS["check_attention"]
    for fn in (
        lambda q, k, v, causal: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
        lambda q, k, v, causal: torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                                                                 is_causal=causal).numpy(),
    ):
        result = check(fn)
        assert not result.passed and "scaled_dot_product_attention" in result.message


# -- 06: get_batch judged by its properties, and Exercise 2 ---------------------------------------------


def sampler(draw):
    def get_batch(data, batch_size, block_size, generator):
        starts = draw(len(data), batch_size, block_size, generator)
        x = torch.stack([data[i : i + block_size] for i in starts])
        y = torch.stack([data[i + 1 : i + 1 + block_size] for i in starts])
        return x, y

    return get_batch


def test_get_batch_accepts_any_valid_sampler():
    check = CHECKS["check_get_batch"]
    valid = {
        "randint(len - T - 1)": lambda n, B, T, g: torch.randint(n - T - 1, (B,), generator=g),
        "randint(low, high)": lambda n, B, T, g: torch.randint(0, n - T, (B,), generator=g),
        "randperm": lambda n, B, T, g: torch.randperm(n - T, generator=g)[:B],
        "one draw at a time": lambda n, B, T, g: [int(torch.randint(n - T, (1,), generator=g)) for _ in range(B)],
        "uniform floats": lambda n, B, T, g: (torch.rand(B, generator=g) * (n - T)).long(),
    }
    for what, draw in valid.items():
        result = check(sampler(draw))
        assert result.passed, (what, result)
    exact = check(sampler(lambda n, B, T, g: torch.randint(n - T, (B,), generator=g)))
    assert exact.message.startswith("your batches are exactly minigpt.data.get_batch's")


def test_get_batch_rejects_samplers_that_are_not_random_or_miss_the_data():
    check = CHECKS["check_get_batch"]
    global_rng = check(sampler(lambda n, B, T, g: torch.randint(n - T, (B,))))
    assert not global_rng.passed and "same seeded generator" in global_rng.message
    fixed = check(sampler(lambda n, B, T, g: torch.randint(n - T, (B,), generator=torch.Generator().manual_seed(7))))
    assert not fixed.passed and "whatever the generator" in fixed.message and "randint" in fixed.hint
    first_half = check(sampler(lambda n, B, T, g: torch.randint((n - T) // 2, (B,), generator=g)))
    assert not first_half.passed and "span" in first_half.message
    consecutive = check(sampler(lambda n, B, T, g: torch.arange(B) + int(torch.randint(n - T - B, (1,), generator=g))))
    assert not consecutive.passed and "independently" in consecutive.message
    same_start = check(sampler(lambda n, B, T, g: torch.randint(n - T, (1,), generator=g).repeat(B)))
    assert not same_start.passed and "independently" in same_start.message


def test_get_batch_accepts_numpy_and_a_stacked_pair():
    check = CHECKS["check_get_batch"]
    ref = check.reference[0]
    assert check(lambda *a: tuple(t.numpy() for t in ref(*a))).passed
    assert check(lambda *a: torch.stack(ref(*a))).passed
    assert check(lambda *a: list(ref(*a))).passed


# -- today's notebook outputs stay exactly as stored ---------------------------------------------------


def test_the_messages_the_notebooks_store_are_unchanged():
    reference = {name: check.reference for name, check in CHECKS.items()}
    expected_pass = {
        "check_next_token_distribution": "your next-token probabilities match minigpt's model exactly",
        "check_get_pair_counts": "get_pair_counts counts every adjacent pair, overlaps included",
        "check_merge": "merge replaces the pair left to right, exactly like minigpt.tokenizers.bpe.merge",
        "check_bpe_training": "your get_pair_counts + merge learn the same 20 merges as minigpt's BPETokenizer",
        "check_one_hot_lookup": "one-hot @ W gives exactly W[ids], the rows nn.Embedding looks up",
        "check_most_similar": "your nearest neighbours match minigpt's most_similar",
        "check_attention": "your attention matches F.scaled_dot_product_attention (causal and not) to 1e-5.",
        "check_multi_head": "your multi-head attention matches minigpt.attention.Attention (4 heads of 8 dims) to 1e-5.",
        "check_sinusoidal": "your sinusoidal table matches minigpt.positional.sinusoidal_table.",
        "check_rope": "your RoPE matches minigpt.positional.apply_rope.",
        "check_rms_norm": "your RMSNorm matches minigpt.norm.RMSNorm.",
        "check_block_params": "your formula matches minigpt.block.Block for n_embd = 64, 96 and 384.",
        "check_get_batch": "your batches are exactly minigpt.data.get_batch's: B windows of T tokens, targets shifted by one",
        "check_top_p": "your nucleus filter keeps exactly the tokens minigpt.sampling.apply_top_p keeps",
        "check_distinct_ngram_ratio": "your distinct n-gram ratio matches ours on every case",
        "check_previous_token_score": "your previous-token score matches ours",
        "check_induction_score": "your induction score matches ours",
        "check_visibility": "your masks match the attention a real GPT computes: encoders see both ways, decoders only back.",
        "check_teacher_forcing": "the decoder reads [BOS] + target and learns to predict target + [EOS], as "
                                 "Seq2Seq.generate expects.",
        "check_kv_cache_bytes": "your formula matches GPT.new_kv_cache(...).nbytes for MHA, GQA and MQA models.",
        "check_quantize": "your int8 weights and scales match minigpt.quantize.quantize_per_channel exactly.",
    }
    for name, message in expected_pass.items():
        assert repr(CHECKS[name](*reference[name])) == "PASS: " + message, name
    attention = reference["check_attention"][0]
    unscaled = CHECKS["check_attention"](lambda q, k, v, causal: (q @ k.transpose(-2, -1)).softmax(-1) @ v)
    assert repr(unscaled) == ("NOT YET: causal=False: far from the reference (max difference 1.31): it is what a common "
                              "mistake gives.\n"
                              "Hint: the scores are not scaled: divide q·kᵀ by math.sqrt(d_k), d_k = q.size(-1).")
    unmasked = CHECKS["check_attention"](lambda q, k, v, causal: attention(q, k, v, causal=False))
    assert repr(unmasked) == ("NOT YET: causal=True: far from the reference (max difference 2.92): it is what a common "
                              "mistake gives.\n"
                              "Hint: with causal=True a token must not see later tokens: fill scores[..., i, j] with "
                              "-inf where j > i before the softmax.")


def test_checks_leave_the_global_rng_as_they_did():
    """Checks that used torch's global RNG before (flow and multi-head seed it, block_params builds a Block)
    still do, so the numbers drawn after a check cell stay those stored in the notebooks; the others,
    the new ones included, do not touch it at all."""
    for name, check in CHECKS.items():
        torch.manual_seed(123)
        check(*check.reference)
        after = torch.rand(3)
        torch.manual_seed(123)
        untouched = torch.rand(3)
        if name not in ("check_next_token_distribution", "check_multi_head", "check_block_params"):  # as before
            assert torch.equal(after, untouched), name


# -- odd things a learner may hand over -----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_returned_check_result_or_a_non_function_is_not_an_answer(name):
    check = CHECKS[name]
    n = len(check.reference)
    fake = run(check, [returning(Result(True, "fake"))] * n)
    assert not fake.passed and "check's result" in fake.message, repr(fake)
    called = run(check, [torch.ones(3)] * n)  # check_x(my_function(...)) instead of check_x(my_function)
    assert not called.passed and "function itself" in called.message, repr(called)


def test_int_and_bool_answers_to_float_exercises_are_compared_not_crashed():
    for name in ("check_previous_token_score", "check_induction_score", "check_attention", "check_sinusoidal"):
        check = CHECKS[name]
        for transform in (lambda t: t.bool(), lambda t: t.long()):
            result = run(check, wrapped(check, transform))
            assert not result.passed, name


def test_a_tensor_without_data_is_not_yet():
    result = CHECKS["check_attention"](lambda q, k, v, causal: torch.empty(q.shape, device="meta"))
    assert not result.passed and "meta" in result.message


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_quantize_accepts_the_scale_in_any_float_dtype(dtype):
    check = CHECKS["check_quantize"]
    quantize = check.reference[0]
    assert check(lambda w: (quantize(w)[0].numpy(), quantize(w)[1].to(dtype))).passed
    assert not check(lambda w: (quantize(w)[0], (quantize(w)[1] * 1.03).to(dtype))).passed


def test_pair_counts_accept_numpy_ints_and_reject_odd_counts():
    check = CHECKS["check_get_pair_counts"]
    counts = check.reference[0]
    assert check(lambda ids: {tuple(np.int64(i) for i in k): np.int64(v) for k, v in counts(ids).items()}).passed
    vector = check(lambda ids: {k: torch.tensor([v, v]) for k, v in counts(ids).items()})
    assert not vector.passed and "whole number" in vector.message
    assert not check(lambda ids: {str(k): v for k, v in counts(ids).items()}).passed
