"""Measure the memory a function's tensors take: the peak of the bytes alive at once, on any device.

``peak_memory(fn, *args)`` runs ``fn`` while watching every tensor an operation creates (a
``TorchDispatchMode``, which sees each aten operation after autograd). A new tensor adds its
storage's bytes; the bytes are freed when the last tensor using that storage is gone. Views
(slices, transposes, reshapes without a copy) share their input's storage and add nothing; the
inputs themselves are not counted. The result is exact and the same on every machine, because it
counts what the code allocates, not what an allocator reserves.

What it cannot see: scratch memory a single fused kernel uses inside itself (for example inside
``F.scaled_dot_product_attention``). On a GPU ``torch.cuda.max_memory_allocated`` measures that too.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


@dataclass(frozen=True)
class MemoryUse:
    """What ``peak_memory`` saw: the peak bytes alive at once and the largest single tensor."""

    peak_bytes: int
    largest_bytes: int
    largest_numel: int
    allocations: int

    def __str__(self) -> str:
        return (f"peak {self.peak_bytes / 2**20:.2f} MiB, largest tensor {self.largest_bytes / 2**20:.2f} MiB "
                f"({self.allocations} allocations)")


class _Watch(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage address -> [bytes, tensors still using it]
        self.current = self.peak = self.largest_bytes = self.largest_numel = self.allocations = 0

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                self.current -= entry[0]
                del self.live[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            key = t.untyped_storage().data_ptr()
            if key in self.live:
                self.live[key][1] += 1
            elif key in inputs or t.untyped_storage().nbytes() == 0:
                continue  # a view of an input, or empty: no new memory
            else:
                nbytes = t.untyped_storage().nbytes()
                self.live[key] = [nbytes, 1]
                self.current += nbytes
                self.allocations += 1
                self.peak = max(self.peak, self.current)
                if nbytes > self.largest_bytes:
                    self.largest_bytes, self.largest_numel = nbytes, t.numel()
            weakref.finalize(t, self._release, key)
        return out


def peak_memory(fn, *args, **kwargs) -> MemoryUse:
    """Run ``fn(*args, **kwargs)`` without gradients and report the tensor memory it used.

    The peak counts every tensor alive at the same time, the returned output included; the
    inputs are not counted. ``largest_numel`` is the number of elements of the largest tensor.
    """
    watch = _Watch()
    with torch.no_grad(), watch:
        out = fn(*args, **kwargs)
    del out
    return MemoryUse(watch.peak, watch.largest_bytes, watch.largest_numel, watch.allocations)
