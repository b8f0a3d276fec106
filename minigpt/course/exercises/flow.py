"""Checks for notebook 00 (the whole flow): from a model's logits to the next token's probabilities.

A GPT returns logits of shape (B, T, V): one score per vocabulary entry at *every* position.
Position t predicts token t + 1, so the next token after the prompt comes from the last
position, and softmax turns its V scores into a probability distribution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from minigpt.arguments import WrongType
from minigpt.course.exercises._result import Result, failed, passed, with_reference
from minigpt.course.exercises._tensor_checks import as_tensor, call_learner, close, describe, tensor_answer


def next_token_distribution(model: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """(B, T) token ids -> (B, V) probabilities of the token that comes after each sequence."""
    logits, _ = model(idx)  # (B, T, V)
    return torch.softmax(logits[:, -1, :], dim=-1)


def _tiny_model() -> torch.nn.Module:
    from minigpt.config import get_config
    from minigpt.model import GPT

    torch.manual_seed(0)
    model = GPT(get_config("tiny", vocab_size=20, block_size=16))
    with torch.no_grad():  # a fresh model predicts nearly uniform probabilities; sharpen them so mistakes show
        model.lm_head.weight.mul_(50)
    return model.eval()


@with_reference(next_token_distribution)
def check_next_token_distribution(learner_fn: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor],
                                  model: torch.nn.Module | None = None) -> Result:
    """Compare ``learner_fn(model, idx)`` with :func:`next_token_distribution` on a small GPT, or on
    ``model`` (a minigpt model: a torch module with ``config.vocab_size``) when one is given."""
    if model is not None and not (isinstance(model, torch.nn.Module) and hasattr(getattr(model, "config", None),
                                                                                 "vocab_size")):
        raise WrongType(f"model must be a minigpt model (a torch.nn.Module with config.vocab_size, e.g. GPT(config)), "
                        f"got {describe(model)}; or leave it out to check on a small GPT made for the check")
    model = _tiny_model() if model is None else model.eval()
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    idx = torch.randint(0, vocab, (3, 7), generator=generator)  # (B, T)
    with torch.no_grad():
        got = call_learner(learner_fn, model, idx,
                           hint="call the model as `logits, loss = model(idx)`; logits has shape (B, T, V)")
        want = next_token_distribution(model, idx)
    if isinstance(got, Result):
        return got
    t = as_tensor(got)  # a numpy array, any dtype or device, is fine too
    if t is not None and tuple(t.shape) != tuple(want.shape):
        return failed(f"expected shape {tuple(want.shape)} = (B, V), got {tuple(got.shape)}",
                      "keep one row per sequence: take the last position with logits[:, -1, :]")
    answer = tensor_answer(got, want.shape, "your function", nan_hint="softmax of finite logits never gives NaN: "
                           "print the logits you take the softmax of.")
    if isinstance(answer, Result):
        return answer
    got, atol = answer
    if not close(got.sum(-1), torch.ones(len(got)), max(atol, 1e-4)):
        return failed("your rows do not add up to 1, so they are not probabilities",
                      "turn scores into probabilities with torch.softmax(..., dim=-1) over the vocabulary")
    if not close(got, want, atol):
        return failed("your probabilities are not those of the token after the last position",
                      "position t predicts token t + 1: the next token after the prompt comes from logits[:, -1, :]")
    return passed("your next-token probabilities match minigpt's model exactly")
