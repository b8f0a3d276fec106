"""Data-parallel training across processes with ``torchrun`` and ``DistributedDataParallel``.

``torchrun --nproc_per_node=N`` starts N copies of the same script and tells each one its place
through environment variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). Each process (a *rank*) holds a full copy of the model, trains on its own batches,
and DDP averages the gradients across ranks during ``backward()``, so after every optimiser step
all copies hold the same weights. One step of N ranks therefore sees N times the batch of one process.

Without those variables (a plain ``python`` run or a notebook) everything here is a no-op: one
process, rank 0 of 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` among ``world_size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process (rank 0) logs, shows progress bars and writes checkpoints."""
        return self.rank == 0


def setup(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    Returns this process's ``DistInfo`` and the device it should use: on GPUs each rank takes
    ``cuda:<local_rank>`` and talks over NCCL; on CPU the ranks talk over gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(), device
    info = DistInfo(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"])), world_size)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info, device


def mean_across_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    """The average of a number over all ranks (every rank must call this at the same point)."""
    if not info.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.item() / info.world_size


def teardown() -> None:
    """Leave the process group (call once at the end of a torchrun script)."""
    if dist.is_initialized():
        dist.destroy_process_group()
