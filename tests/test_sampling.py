"""Sampling: each logits stage, validation messages, and generation with and without the KV cache."""

import math

import pytest
import torch

from minigpt.config import GPTConfig
from minigpt.model import GPT
from minigpt.sampling import (
    SamplingSettings,
    apply_repetition_penalty,
    apply_temperature,
    apply_top_k,
    apply_top_p,
    generate,
    probabilities,
    process_logits,
    sampling_stages,
    sampling_stages_of,
    stream,
)

LOGITS = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=2, n_embd=16)).eval()


def test_temperature_divides_and_zero_keeps_only_the_best():
    assert torch.allclose(apply_temperature(LOGITS, 2.0), LOGITS / 2)
    greedy = apply_temperature(torch.tensor([1.0, 3.0, 2.0]), 0)
    assert greedy[1] == 3.0 and torch.isinf(greedy[[0, 2]]).all()
    assert probabilities(greedy).tolist() == [0.0, 1.0, 0.0]


def test_lower_temperature_sharpens():
    assert probabilities(apply_temperature(LOGITS, 0.5))[0] > probabilities(LOGITS)[0] > \
        probabilities(apply_temperature(LOGITS, 2.0))[0]


def test_top_k_keeps_the_k_largest():
    kept = torch.isfinite(apply_top_k(LOGITS, 2))
    assert kept.tolist() == [True, True, False, False]
    assert torch.equal(apply_top_k(LOGITS, 10), LOGITS)
    assert apply_top_k(LOGITS, None) is LOGITS


def test_top_p_keeps_the_smallest_nucleus():
    assert torch.isfinite(apply_top_p(LOGITS, 0.8)).tolist() == [True, True, False, False]
    assert torch.isfinite(apply_top_p(LOGITS, 0.81)).tolist() == [True, True, True, False]
    assert torch.isfinite(apply_top_p(LOGITS, 0.01)).tolist() == [True, False, False, False]
    assert torch.equal(apply_top_p(LOGITS, 1.0), LOGITS)
    # works on any order and on batches (..., V)
    shuffled = LOGITS[[2, 0, 3, 1]].expand(3, 4)
    assert torch.isfinite(apply_top_p(shuffled, 0.8)).tolist() == [[False, True, False, True]] * 3


def test_repetition_penalty_is_ctrl_style():
    logits = torch.tensor([2.0, -2.0, 1.0, -1.0])
    out = apply_repetition_penalty(logits, [0, 1, 1], 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0, -1.0]  # seen: positive halved, negative doubled
    assert logits.tolist() == [2.0, -2.0, 1.0, -1.0]  # the input is not modified


def softmax(values):
    """Plain-Python softmax; -inf gets probability 0."""
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def test_sampling_stages_shows_every_stage_as_probabilities():
    raw = [2.0, -1.0, 1.5, 0.5, -0.5, 1.0]
    stages = sampling_stages(torch.tensor(raw), temperature=0.7, top_k=4, top_p=0.8, repetition_penalty=1.3,
                             previous_ids=[0, 1, 1])
    assert list(stages) == ["raw", "repetition_penalty", "temperature", "top_k", "top_p"]
    # the same stages computed here, one by one
    penalised = [2.0 / 1.3, -1.0 * 1.3, 1.5, 0.5, -0.5, 1.0]  # seen 0 and 1: positive divided, negative multiplied
    scaled = [v / 0.7 for v in penalised]
    top_k = [v if i in (0, 2, 3, 5) else -math.inf for i, v in enumerate(scaled)]  # the 4 largest
    p = softmax(top_k)
    assert p[0] + p[2] < 0.8 < p[0] + p[2] + p[5]  # so the nucleus of 0.8 is tokens 0, 2 and 5
    top_p = [v if i in (0, 2, 5) else -math.inf for i, v in enumerate(scaled)]
    expected = {"raw": raw, "repetition_penalty": penalised, "temperature": scaled, "top_k": top_k, "top_p": top_p}
    for name, logits in expected.items():
        assert stages[name].tolist() == pytest.approx(softmax(logits), abs=1e-6), name
    final = process_logits(torch.tensor(raw), temperature=0.7, top_k=4, top_p=0.8, repetition_penalty=1.3,
                           previous_ids=[0, 1, 1])
    assert torch.allclose(probabilities(final), stages["top_p"])  # the last stage is what generate samples from


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"temperature": -1.0}, "temperature must be a number >= 0"),
        ({"top_k": 0}, "top_k must be an int >= 1"),
        ({"top_k": 2.5}, "top_k must be an int >= 1"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        ({"repetition_penalty": 0.0}, "repetition_penalty must be a number > 0"),
        ({"max_new_tokens": -3}, "max_new_tokens must be an int >= 0"),
    ],
)
def test_bad_settings_are_rejected_with_a_clear_message(model, settings, message):
    kwargs = {"max_new_tokens": 3, **settings}
    with pytest.raises(ValueError, match=message):
        generate(model, [1, 2], **kwargs)


def test_empty_prompt_is_rejected(model):
    with pytest.raises(ValueError, match="the prompt is empty"):
        generate(model, [], 5)
    with pytest.raises(ValueError, match="the prompt is empty"):
        list(stream(model, torch.tensor([], dtype=torch.long), 5))


def test_cached_generation_equals_recomputing_the_window(model):
    # 3 + 25 tokens overflow block_size=8 several times, so the window restarts are covered too
    for prompt in ([3, 1, 4], list(range(12))):
        cached = generate(model, prompt, 25, temperature=0)
        recomputed = generate(model, prompt, 25, temperature=0, use_cache=False)
        assert cached == recomputed
        assert cached[: len(prompt)] == prompt and len(cached) == len(prompt) + 25


@pytest.mark.parametrize("use_cache", [True, False])
def test_generation_scores_the_vocabulary_for_the_last_position_only(model, use_cache):
    """The prompt's other positions need no logits: the head (V scores per position) sees one position per step,
    the prefill of the whole prompt included."""
    rows = []
    handle = model.lm_head.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[1]))
    try:
        generate(model, [3, 1, 4, 1, 5, 9], 4, temperature=0, use_cache=use_cache)
    finally:
        handle.remove()
    assert rows == [1, 1, 1, 1]


def test_greedy_first_token_is_the_argmax(model):
    logits, _ = model(torch.tensor([[5, 6, 7]]))
    assert generate(model, [5, 6, 7], 1, temperature=0)[-1] == int(logits[0, -1].argmax())


def test_seed_makes_sampling_reproducible(model):
    a = generate(model, [1], 20, temperature=1.0, top_k=8, top_p=0.95, seed=7)
    b = generate(model, [1], 20, temperature=1.0, top_k=8, top_p=0.95, seed=7)
    c = generate(model, [1], 20, temperature=1.0, top_k=8, top_p=0.95, seed=8)
    assert a == b and a != c
    assert all(0 <= t < 16 for t in a)


def test_stream_yields_the_new_tokens_one_at_a_time(model):
    tokens = stream(model, torch.tensor([[2, 3]]), 6, seed=1)
    first = next(tokens)
    assert isinstance(first, int)
    assert [2, 3, first, *tokens] == generate(model, [2, 3], 6, seed=1)


def test_generate_restores_training_mode(model):
    model.train()
    generate(model, [1], 2)
    assert model.training
    model.eval()


def test_a_tiny_top_p_still_keeps_the_most_likely_token():
    """hypothesis found top_p=5.9e-305: it rounds to 0 against float32 probabilities, and 0 >= 0 removed every token."""
    from minigpt.sampling import apply_top_p

    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, 3.0, 0.1, 0.7]])
    kept = apply_top_p(logits, 5.919213485299565e-305)
    assert torch.isfinite(kept).sum() == 1 and kept.argmax() == logits.argmax()


# ----------------------------------------------------------------------------- the settings object


def test_settings_object_and_keywords_give_the_same_tokens(model):
    settings = SamplingSettings(temperature=0.9, top_k=6, top_p=0.9, repetition_penalty=1.2, seed=3)
    by_keywords = generate(model, [1, 2], 12, temperature=0.9, top_k=6, top_p=0.9, repetition_penalty=1.2, seed=3)
    assert generate(model, [1, 2], 12, settings) == by_keywords
    assert [1, 2, *stream(model, [1, 2], 12, settings)] == by_keywords
    # keywords on top of a settings object replace those fields only
    assert generate(model, [1, 2], 12, SamplingSettings(temperature=0.1, top_k=6), temperature=0.9, top_p=0.9,
                    repetition_penalty=1.2, seed=3) == by_keywords


def test_settings_are_checked_when_made_and_cannot_change():
    with pytest.raises(ValueError, match="top_p must be in \\(0, 1\\]"):
        SamplingSettings(top_p=1.5)
    with pytest.raises(TypeError, match="seed must be an int, got 0.5"):
        SamplingSettings(seed=0.5)
    settings = SamplingSettings(temperature=0.5)
    with pytest.raises(AttributeError):
        settings.temperature = -1.0  # frozen: a checked object stays checked


def test_stream_checks_everything_when_called_not_at_the_first_token(model):
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        stream(model, [1], 3, temperature=-1.0)  # no next(): the call itself refuses


def test_a_setting_passed_by_position_or_misspelled_is_named(model):
    with pytest.raises(TypeError, match="settings must be a SamplingSettings, got 0.8 .*temperature=0.8"):
        generate(model, [1], 3, 0.8)
    with pytest.raises(TypeError, match="unknown sampling settings \\['temprature'\\]; the settings are "
                                        "\\['temperature', 'top_k', 'top_p', 'repetition_penalty', 'seed'\\]"):
        generate(model, [1], 3, temprature=0.8)


def test_stages_for_the_widget_are_sampling_stages_as_numpy():
    raw = torch.tensor([2.0, -1.0, 1.5, 0.5, -0.5, 1.0])
    stages = sampling_stages_of(raw.numpy())(temperature=0.7, top_k=4, previous_ids=[0, 1], repetition_penalty=1.3)
    expected = sampling_stages(raw, temperature=0.7, top_k=4, previous_ids=[0, 1], repetition_penalty=1.3)
    assert list(stages) == list(expected)
    for name, probs in expected.items():
        assert stages[name].tolist() == probs.tolist(), name
    with pytest.raises(ValueError, match="logits must be one non-empty row of float scores \\[V\\]"):
        sampling_stages_of(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="logits must be finite, but token 1 has nan"):
        sampling_stages_of([0.0, float("nan")])
