"""Where the model runs and in which number format.

Three small decisions every training script makes:

* **device** - ``"auto"`` picks the fastest one available: CUDA GPU > Apple ``mps`` > CPU.
* **dtype** - on a CUDA GPU we compute matrix multiplies in bfloat16 under ``torch.autocast``
  (about 2x faster, same range as float32 so no loss scaling is needed); on CPU and mps we stay
  in float32, which is both exact and (on CPU) not slower.
* **TF32** - the float32 matmuls that remain on an Ampere+ GPU may use TensorFloat-32 cores.
"""

from __future__ import annotations

import contextlib

import torch

DTYPES = ("auto", "float32", "bfloat16")


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> cuda > mps > cpu; anything else is checked and returned as a ``torch.device``."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:0' or 'mps'") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available here; use 'cpu' or 'auto'")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} was requested but Apple mps is not available here; use 'cpu' or 'auto'")
    return chosen


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``"auto"`` -> bfloat16 on a CUDA GPU that supports it, float32 everywhere else."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if dtype == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return getattr(torch, dtype)


def native_bf16_matmul(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run natively on ``device``, at about twice float32's speed:
    a CUDA GPU with bf16, or a CPU with AVX-512 BF16 whose vectorised kernels are in use. Elsewhere
    bf16 is emulated and slower than float32. (Autocast on a CPU that has it is still not faster
    for this course's small models: the casts around each product cost what the products save.)"""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # ATEN_CPU_CAPABILITY=default (kernels of a CPU without vector extensions) counts as no bf16 too
    return (device.type == "cpu" and torch.backends.cpu.get_cpu_capability() == "AVX512"
            and torch.cpu._is_avx512_bf16_supported())


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed precision context for the forward pass; a no-op context in float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def configure_backends(device: torch.device) -> None:
    """Allow TF32 matmuls and let cuDNN pick its fastest kernels (CUDA only; harmless elsewhere)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
