"""Turn one long stream of token ids into training batches.

A language model learns from (x, y) pairs where y is x shifted left by one token: at every
position t the target y[t] is the token that follows x[t]. A batch is B random windows of T
tokens cut from the stream::

    data:  ... 18 47 56 57 58  1 15 47 58 47 64 43 52 10 ...
    x[b]:      47 56 57 58  1 15 47 58            (T = 8 tokens)
    y[b]:         56 57 58  1 15 47 58 47         (the next token at each position)

The windows start at positions drawn from a ``torch.Generator``, so a seed fixes every batch. The
``Trainer`` seeds a fresh generator for each step from ``(seed, rank, step)`` (``minigpt.train.derive_seed``),
so a resumed run draws exactly the batches it would have from nothing but the step number.
"""

from __future__ import annotations

import torch

from minigpt.arguments import require_int, require_number

TRAIN_FRACTION = 0.9  # the first 90% of a text trains, the last 10% validates


def train_val_split(data, frac: float = TRAIN_FRACTION):
    """First ``frac`` of ``data`` for training, the rest for validation (str, list or tensor).

    The split is by position, not random, as in nanoGPT: validation text is a different part of
    the play, and our losses compare with nanoGPT's published ones.
    """
    require_number(frac, "frac", 0, 1, min_open=True, max_open=True)
    n = int(frac * len(data))
    return data[:n], data[n:]


def min_split_tokens(block_size: int) -> int:
    """The fewest tokens a training or validation split may have: ``block_size + 2``.

    A batch is windows of ``block_size + 1`` tokens (the inputs and, shifted by one, their targets) at
    random starts; ``block_size + 2`` tokens give at least two different starts.
    """
    return block_size + 2


def require_enough_tokens(n_tokens: int, block_size: int, name: str, both_splits: bool = False) -> None:
    """A ValueError unless ``n_tokens`` make one split (or ``both_splits``: a training and a validation split)
    of at least :func:`min_split_tokens`; it says what is missing and the largest block_size that fits."""
    splits = 2 if both_splits else 1
    need = splits * min_split_tokens(block_size)
    if n_tokens < need:
        each = " for training and as many for validation" if both_splits else ""
        largest = n_tokens // splits - 2
        smaller = f" (at most {largest} for this text)" if largest >= 1 else ""
        raise ValueError(f"{name} has {n_tokens} tokens, fewer than the {need} that block_size {block_size} needs "
                         f"(block_size + 2{each}); use more text or a smaller block_size{smaller}")


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator, device="cpu"):
    """B random windows of ``data``: returns (x, y), both LongTensor[B, T] on ``device``, y = x shifted by one.

    ``data`` is a 1-D integer tensor of N token ids (N > T). On CUDA the batch is put in pinned
    (page-locked) memory first, so the copy to the GPU can overlap with compute (non_blocking).
    """
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"data must be a 1-D torch tensor of token ids, got {type(data).__name__}; "
                        f"use torch.tensor(ids, dtype=torch.long)")
    if data.dim() != 1 or data.dtype.is_floating_point or data.dtype == torch.bool:
        raise TypeError(f"data must be a 1-D integer tensor, got shape {tuple(data.shape)} and dtype {data.dtype}")
    if not isinstance(generator, torch.Generator):
        raise TypeError("generator must be a torch.Generator, e.g. torch.Generator().manual_seed(0)")
    require_int(batch_size, "batch_size", 1)
    require_int(block_size, "block_size", 1)
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens, need more than block_size={block_size} to cut one (x, y) window")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator, device=generator.device)
    offsets = starts.to(data.device)[:, None] + torch.arange(block_size + 1, device=data.device)  # (B, T+1)
    window = data[offsets].long()  # one gather for x and y together
    x, y = window[:, :-1], window[:, 1:]
    device = torch.device(device)
    if device.type == "cuda":
        return (x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True))
    return x.to(device), y.to(device)

