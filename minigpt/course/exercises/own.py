"""Checks for notebook 14 (your own GPT): what a tokenizer costs on a text."""

from __future__ import annotations

from collections.abc import Callable

from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import call_learner

_TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 3


def cost_per_token(tokenizer, text: str, n_embd: int) -> dict:
    """What ``tokenizer`` costs on ``text``: dict(tokens, chars_per_token, embedding_params).

    tokens: how many ids the text becomes; chars_per_token: len(text) / tokens (more text per context window);
    embedding_params: the token-embedding table, vocab_size x n_embd.
    """
    tokens = len(tokenizer.encode(text))
    return dict(tokens=tokens, chars_per_token=len(text) / tokens, embedding_params=tokenizer.vocab_size * n_embd)


def _tokenizers():
    from minigpt.tokenizers import BPETokenizer, CharTokenizer

    return [CharTokenizer.from_text(_TEXT), BPETokenizer.train(_TEXT, 256 + 20, progress=False)]


@with_reference(cost_per_token)
def check_cost_per_token(learner_fn: Callable) -> Result:
    """``learner_fn(tokenizer, text, n_embd) -> dict`` must match :func:`cost_per_token` for a char and a BPE tokenizer."""
    for tokenizer in _tokenizers():
        name = type(tokenizer).__name__
        got = call_learner(learner_fn, tokenizer, _TEXT, 64, name="your cost_per_token",
                           hint="call tokenizer.encode(text) once and count the ids")
        if isinstance(got, Result):
            return got
        want = cost_per_token(tokenizer, _TEXT, 64)
        if not isinstance(got, dict) or set(got) != set(want):
            return failed(f"expected a dict with the keys {sorted(want)}, got {got!r}"[:300],
                          "return dict(tokens=..., chars_per_token=..., embedding_params=...)")
        if got["tokens"] != want["tokens"]:
            return failed(f"{name}: tokens is {got['tokens']!r}, but the text encodes to {want['tokens']} ids",
                          "count the ids: len(tokenizer.encode(text))")
        if abs(float(got["chars_per_token"]) - want["chars_per_token"]) > 1e-6:
            flipped = want["tokens"] / len(_TEXT)
            hint = "characters divided by tokens, not the other way round" if abs(
                float(got["chars_per_token"]) - flipped) < 1e-6 else "len(text) / tokens"
            return failed(f"{name}: chars_per_token is {got['chars_per_token']!r}, expected {want['chars_per_token']:.3f}", hint)
        if got["embedding_params"] != want["embedding_params"]:
            return failed(f"{name}: embedding_params is {got['embedding_params']!r}, expected {want['embedding_params']:,}",
                          "one row of n_embd numbers per id in the vocabulary: tokenizer.vocab_size * n_embd")
    return passed("your cost_per_token matches ours for a character and a BPE tokenizer")
