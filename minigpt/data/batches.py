"""Turn one long stream of token ids into training batches.

A language model learns from (x, y) pairs where y is x shifted left by one token: at every
position t the target y[t] is the token that follows x[t]. A batch is B random windows of T
tokens cut from the stream::

    data:  ... 18 47 56 57 58  1 15 47 58 47 64 43 52 10 ...
    x[b]:      47 56 57 58  1 15 47 58            (T = 8 tokens)
    y[b]:         56 57 58  1 15 47 58 47         (the next token at each position)

The windows start at positions drawn from a ``torch.Generator``, so a seed fixes every batch
and saving the generator's state lets a resumed run draw exactly the batches it would have.
"""

from __future__ import annotations

import base64

import torch

from minigpt.checks import check_int, is_number


def train_val_split(data, frac: float = 0.9):
    """First ``frac`` of ``data`` for training, the rest for validation (str, list or tensor).

    The split is by position, not random, as in nanoGPT: validation text is a different part of
    the play, and our losses compare with nanoGPT's published ones.
    """
    if not (is_number(frac) and 0.0 < frac < 1.0):  # the comparison also refuses NaN
        raise ValueError(f"frac must be between 0 and 1 (exclusive), got {frac!r}")
    n = int(frac * len(data))
    return data[:n], data[n:]


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
    check_int(batch_size, "batch_size", 1)
    check_int(block_size, "block_size", 1)
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


class BatchSampler:
    """An endless source of ``get_batch`` batches with its own seeded generator.

    ``state_dict()`` is plain JSON (the generator state as base64 text), so a checkpoint can
    store it without pickle; ``load_state_dict`` makes the next batches identical to the ones an
    uninterrupted run would have drawn.

    >>> sampler = BatchSampler(torch.arange(100), batch_size=4, block_size=8, seed=0)
    >>> x, y = sampler.next()  # x, y: LongTensor[4, 8]
    """

    def __init__(self, data: torch.Tensor, batch_size: int, block_size: int, seed: int = 0, device="cpu"):
        self.data = data
        self.batch_size = batch_size
        self.block_size = block_size
        self.seed = seed
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        self.batches_drawn = 0

    def next(self):
        """The next (x, y) batch, both LongTensor[B, T] on the sampler's device."""
        batch = get_batch(self.data, self.batch_size, self.block_size, self.generator, self.device)
        self.batches_drawn += 1
        return batch

    def __iter__(self):
        return self

    __next__ = next

    def state_dict(self) -> dict:
        """JSON-serialisable state: enough to continue with exactly the same batches."""
        rng = self.generator.get_state().numpy().tobytes()
        return {
            "seed": self.seed,
            "batch_size": self.batch_size,
            "block_size": self.block_size,
            "batches_drawn": self.batches_drawn,
            "generator_state": base64.b64encode(rng).decode("ascii"),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (made by ``state_dict``); the shapes must match for an exact resume."""
        for key in ("batch_size", "block_size"):
            if state[key] != getattr(self, key):
                raise ValueError(f"cannot resume exactly: saved {key}={state[key]}, this sampler has "
                                 f"{key}={getattr(self, key)}; build the sampler with the saved value")
        rng = bytearray(base64.b64decode(state["generator_state"]))
        self.generator.set_state(torch.frombuffer(rng, dtype=torch.uint8).clone())
        self.seed = state["seed"]
        self.batches_drawn = state["batches_drawn"]
