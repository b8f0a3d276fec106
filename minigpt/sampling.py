"""Turning a model's logits into text: the sampling strategies, one small function each.

At every step the model gives one score (a *logit*) per vocabulary entry for the next token.
Before drawing a token we may reshape those scores, in this order:

1. ``apply_repetition_penalty`` - make tokens already in the text less likely (CTRL, 2019).
2. ``apply_temperature`` - divide by T: T < 1 sharpens the distribution, T > 1 flattens it,
   T = 0 means greedy (always the most likely token).
3. ``apply_top_k`` - keep only the k highest-scoring tokens.
4. ``apply_top_p`` - keep the smallest set of tokens whose probabilities add up to p ("nucleus").

Each function takes logits of shape (..., V) and returns new logits, with removed tokens set to
``-inf`` (probability 0 after ``probabilities``). ``sampling_stages`` returns the distribution after
every stage, for the lesson; ``sampling_stages_of(logits)`` gives it to the sampling widget as numpy.

``SamplingSettings`` holds the four settings and the seed, checked once when it is made; ``generate``,
``stream`` and the command line take it (or its fields as keywords).

``generate`` / ``stream`` run the model with its KV cache (see ``minigpt.kv_cache``) so each new
token costs one position of compute instead of the whole context, and ask for the logits of the last
position only (``last_only=True``): the prompt's other positions need no scores over the vocabulary.

**Context window.** A model only sees ``block_size`` tokens. A longer prompt is cropped to its last
``block_size`` tokens. When the generated text fills the window, the window restarts from the last
``block_size // 2`` tokens: the cache is rebuilt once from those tokens (one prefill every
``block_size // 2`` new tokens) and the model sees at least half a window of context. ``use_cache=False``
recomputes the full window at every step but uses exactly the same windows, so both paths produce
the same tokens; only the speed differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F

from minigpt.arguments import WrongType, require_id_tensor, require_ids, require_int, require_number, is_number


# ---------------------------------------------------------------------------------------------
# Logit processors (each (..., V) -> (..., V))
# ---------------------------------------------------------------------------------------------


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the vocabulary, computed in float32."""
    return F.softmax(logits.float(), dim=-1)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``. Temperature 0 keeps only the most likely token (greedy)."""
    _require_temperature(temperature)
    if temperature < torch.finfo(logits.dtype).tiny:  # 0, or so close that dividing would give NaN: greedy
        best = logits.argmax(dim=-1, keepdim=True)
        return torch.full_like(logits, float("-inf")).scatter(-1, best, logits.gather(-1, best))
    scaled = logits / temperature
    if (torch.isinf(scaled) & ~torch.isinf(logits)).any():  # a tiny temperature overflowed: shift first,
        scaled = (logits - logits.amax(dim=-1, keepdim=True)) / temperature  # softmax only sees differences
    return scaled


def apply_top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the ``k`` largest logits (ties with the k-th are kept too); ``None`` keeps all."""
    if k is None:
        return logits
    _require_top_k(k)
    if k >= logits.size(-1):
        return logits
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def apply_top_p(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Nucleus filter: keep the most likely tokens until their probabilities add up to ``p``.

    The most likely token is always kept, so the result is never empty.
    """
    if p is None:
        return logits
    _require_top_p(p)
    if p == 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    sorted_probs = probabilities(sorted_logits)
    # probability mass of the tokens ranked strictly above each token
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    remove_sorted = mass_before >= p
    # the top token has 0 mass before it, and a p below float32's range (1e-45) compares as 0: keep it anyway
    remove_sorted[..., 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def apply_repetition_penalty(
    logits: torch.Tensor, previous_ids: Sequence[int] | torch.Tensor, penalty: float
) -> torch.Tensor:
    """CTRL-style penalty for tokens already seen: positive logits are divided by ``penalty``,
    negative ones multiplied, so a penalty > 1 always lowers their score (1 = no change)."""
    _require_repetition_penalty(penalty)
    if penalty == 1.0 or len(previous_ids) == 0:
        return logits
    seen = torch.as_tensor(previous_ids, device=logits.device)
    if seen.is_floating_point() or seen.dtype == torch.bool or seen.dim() != 1:
        raise WrongType(f"previous_ids must be a flat list of int token ids, got {seen.dtype} with shape "
                        f"{tuple(seen.shape)}")
    require_id_tensor(seen, logits.size(-1), "previous_ids")  # a negative id would silently hit the last token
    seen = seen.long().unique()
    scores = logits[..., seen]
    scores = torch.where(scores > 0, scores / penalty, scores * penalty)
    scores = scores.clamp(max=torch.finfo(scores.dtype).max)  # a tiny penalty must not overflow to inf (NaN later)
    logits = logits.clone()
    logits[..., seen] = scores
    return logits


def _stages(logits, previous_ids, settings: SamplingSettings):
    """Yield ``(name, logits)`` after each processing step, in the order they are applied."""
    yield "raw", logits
    logits = apply_repetition_penalty(logits, previous_ids, settings.repetition_penalty)
    yield "repetition_penalty", logits
    logits = apply_temperature(logits, settings.temperature)
    yield "temperature", logits
    logits = apply_top_k(logits, settings.top_k)
    yield "top_k", logits
    logits = apply_top_p(logits, settings.top_p)
    yield "top_p", logits


def sampling_stages(logits: torch.Tensor, settings: SamplingSettings | None = None, *,
                    previous_ids: Sequence[int] = (), **setting_keywords) -> dict[str, torch.Tensor]:
    """The probability distribution after every stage, for display:
    ``{"raw", "repetition_penalty", "temperature", "top_k", "top_p"} -> probs (..., V)``.
    The last entry is the distribution ``generate`` samples from.

    ``settings`` is a :class:`SamplingSettings`; single settings may be given as keywords instead (or on top):
    ``sampling_stages(logits, temperature=0.7, top_k=4, previous_ids=ids)``."""
    stages = _stages(logits, previous_ids, _settings(settings, setting_keywords))
    return {name: probabilities(stage) for name, stage in stages}


def sampling_stages_of(logits) -> Callable[..., dict[str, np.ndarray]]:
    """``sampling_stages`` of one fixed row of logits [V] as a function of the settings, returning numpy
    arrays: ``stages = sampling_stages_of(logits); stages(temperature=0.8, top_k=10, previous_ids=ids)``.

    ``widgets.SamplingExplorer(stages, tokens)`` calls it each time a slider moves, so the explorer draws
    exactly what ``generate`` samples from, computed here (widgets never import torch).
    """
    logits = torch.as_tensor(logits).detach().cpu()
    if logits.dim() != 1 or logits.numel() == 0 or not logits.is_floating_point():
        raise ValueError(f"logits must be one non-empty row of float scores [V], got {logits.dtype} with shape "
                         f"{tuple(logits.shape)}; e.g. model(idx)[0][0, -1] for the next token after idx")
    if not torch.isfinite(logits).all():
        first = int((~torch.isfinite(logits)).nonzero()[0])
        raise ValueError(f"logits must be finite, but token {first} has {float(logits[first])}; "
                         "check the model for overflow")

    def stages(*, previous_ids: Sequence[int] = (), **setting_keywords) -> dict[str, np.ndarray]:
        probs = sampling_stages(logits, previous_ids=previous_ids, **setting_keywords)
        return {name: p.numpy() for name, p in probs.items()}

    return stages


def process_logits(logits: torch.Tensor, settings: SamplingSettings | None = None, *,
                   previous_ids: Sequence[int] = (), **setting_keywords) -> torch.Tensor:
    """All stages at once: the final logits that a token is drawn from (settings as in ``sampling_stages``)."""
    *_, (_, final) = _stages(logits, previous_ids, _settings(settings, setting_keywords))
    return final


# ---------------------------------------------------------------------------------------------
# Validation: clear errors for bad settings
# ---------------------------------------------------------------------------------------------


def _require_temperature(temperature) -> None:
    require_number(temperature, "temperature", 0, hint="0 = greedy")


def _require_top_k(top_k) -> None:
    require_int(top_k, "top_k", 1)


def _require_top_p(top_p) -> None:
    if not is_number(top_p) or not 0 < top_p <= 1:  # the comparison also refuses NaN
        raise ValueError(f"top_p must be in (0, 1] (or None to keep every token), got {top_p!r}")


def _require_repetition_penalty(penalty) -> None:
    require_number(penalty, "repetition_penalty", 0, min_open=True, hint="1.0 = no penalty")


def _require_prompt(prompt_ids, vocab_size: int) -> list[int]:
    """The prompt as a list of int ids, each in the vocabulary, and at least one of them."""
    if isinstance(prompt_ids, torch.Tensor):
        if prompt_ids.dim() == 2 and prompt_ids.size(0) == 1:
            prompt_ids = prompt_ids[0]
        if prompt_ids.dim() != 1:
            raise ValueError(f"prompt_ids must be 1-D (T,) or (1, T), got shape {tuple(prompt_ids.shape)}")
    prompt_ids = require_ids(prompt_ids, vocab_size, "prompt_ids")
    if not prompt_ids:
        raise ValueError("the prompt is empty: give at least one token id, e.g. tokenizer.encode('\\n')")
    return prompt_ids


@dataclass(frozen=True)
class SamplingSettings:
    """How the next token is drawn: the settings of the four stages above, and the seed.

    Every setting is checked once, here, so a bad one is refused before any text is generated::

        settings = SamplingSettings(temperature=0.8, top_k=50, seed=0)
        generate(model, ids, 100, settings)       # or generate(model, ids, 100, temperature=0.8, top_k=50, seed=0)

    ``temperature=0`` is greedy; ``top_k=None`` and ``top_p=None`` keep every token; ``repetition_penalty=1.0``
    changes nothing; ``seed`` gives generation its own ``torch.Generator`` (``None``: torch's global one).
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    seed: int | None = None

    def __post_init__(self):
        _require_temperature(self.temperature)
        if self.top_k is not None:
            _require_top_k(self.top_k)
        if self.top_p is not None:
            _require_top_p(self.top_p)
        _require_repetition_penalty(self.repetition_penalty)
        if self.seed is not None:
            require_int(self.seed, "seed")


def _settings(settings: SamplingSettings | None, keywords: dict) -> SamplingSettings:
    """``settings`` (default: ``SamplingSettings()``) with the single settings a caller gave as keywords on top."""
    if settings is None:
        settings = SamplingSettings()
    elif not isinstance(settings, SamplingSettings):
        raise WrongType(f"settings must be a SamplingSettings, got {settings!r} ({type(settings).__name__}); "
                        "give a single setting by name, e.g. temperature=0.8")
    unknown = sorted(set(keywords) - {field.name for field in fields(SamplingSettings)})
    if unknown:
        raise TypeError(f"unknown sampling settings {unknown}; the settings are "
                        f"{[field.name for field in fields(SamplingSettings)]}")
    return replace(settings, **keywords) if keywords else settings


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


def stream(model, prompt_ids: Sequence[int] | torch.Tensor, max_new_tokens: int,
           settings: SamplingSettings | None = None, *, use_cache: bool = True, **setting_keywords) -> Iterator[int]:
    """Yield ``max_new_tokens`` new token ids one at a time (the prompt is not repeated).

    ``settings`` is a :class:`SamplingSettings`; single settings may be given as keywords instead (or on top):
    ``stream(model, ids, 100, temperature=0.8, seed=0)``. Everything is checked when ``stream`` is called,
    before the first token. ``use_cache=False`` recomputes the whole window every step (slow; for comparison).
    """
    prompt, settings = _checked(model, prompt_ids, max_new_tokens, settings, setting_keywords)
    return _new_tokens(model, prompt, max_new_tokens, settings, use_cache)


def generate(model, prompt_ids: Sequence[int] | torch.Tensor, max_new_tokens: int,
             settings: SamplingSettings | None = None, *, use_cache: bool = True, **setting_keywords) -> list[int]:
    """The prompt followed by ``max_new_tokens`` generated ids, as a list of ints (settings as in ``stream``).

    ``generate(model, tok.encode("ROMEO:"), 100, temperature=0.8, top_k=50, seed=0)``
    """
    prompt, settings = _checked(model, prompt_ids, max_new_tokens, settings, setting_keywords)
    return prompt + list(_new_tokens(model, list(prompt), max_new_tokens, settings, use_cache))


def _checked(model, prompt_ids, max_new_tokens, settings, setting_keywords) -> tuple[list[int], SamplingSettings]:
    """The prompt as a list of ids and the settings, every argument checked (once, before any generation)."""
    settings = _settings(settings, setting_keywords)
    require_int(max_new_tokens, "max_new_tokens", 0)
    return _require_prompt(prompt_ids, model.config.vocab_size), settings


@torch.no_grad()
def _new_tokens(model, ids: list[int], max_new_tokens: int, settings: SamplingSettings,
                use_cache: bool) -> Iterator[int]:
    """The generation loop of ``stream``, on checked inputs; appends each new id to ``ids``."""
    block_size = model.config.block_size
    device = next(model.parameters()).device
    generator = None if settings.seed is None else torch.Generator(device=device).manual_seed(settings.seed)
    was_training = model.training
    model.eval()
    try:
        start = max(0, len(ids) - block_size)  # first token of the window the model sees
        cache, cached = None, 0  # the KV cache holds ids[start:cached]
        for _ in range(max_new_tokens):
            if len(ids) - start > block_size:  # window full: restart it from its second half
                start = len(ids) - max(1, block_size // 2)
                cache = None
            if not use_cache:
                context = ids[start:]
            elif cache is None:
                cache, cached = model.new_kv_cache(1, device=device), start
                context = ids[start:]
            else:
                context = ids[cached:]
            idx = torch.tensor([context], dtype=torch.long, device=device)
            logits, _ = model(idx, kv_cache=cache, last_only=True)  # [1, 1, V]: only the next token's scores
            cached = len(ids)
            next_id = _choose(logits[0, -1], ids, settings, generator)
            ids.append(next_id)
            yield next_id
    finally:
        model.train(was_training)


def _choose(logits, ids, settings: SamplingSettings, generator) -> int:
    """Pick the next token from one row of logits (V,)."""
    if settings.temperature == 0 and settings.repetition_penalty == 1.0:
        return int(logits.argmax())  # greedy: skip the softmax and the random draw
    final = process_logits(logits, settings, previous_ids=ids)
    if settings.temperature == 0:
        return int(final.argmax())
    return int(torch.multinomial(probabilities(final), 1, generator=generator))
