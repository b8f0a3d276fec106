"""int8 and int4 weight quantization: store every Linear weight in 1 byte, or half a byte, instead of 4.

Per-channel symmetric quantization gives each output channel (each row of a Linear weight
[out, in]) its own scale, so one row with large weights does not wash out the precision of
the others::

    scale[o] = max_i |W[o, i]| / 127          # one float per output channel
    q[o, i]  = round(W[o, i] / scale[o])      # an int8 in [-127, 127]
    W[o, i] ≈ q[o, i] * scale[o]              # dequantized on the fly in forward

"Symmetric" means zero maps to zero exactly and the int8 range is used as [-127, 127]
(-128 stays unused so the range is the same on both sides). The rounding error per weight is
at most scale / 2.

This is *weight-only* quantization: the activations stay float and the matmul still runs in
float (the weight is dequantized just before it). It saves memory and disk, which is what
limits large models on small machines; fast int8 matmul kernels are a separate topic.

Embeddings stay float, and a Linear that shares its weight with another module (the output
head tied to the token embedding) is skipped: the float copy has to stay for the other user,
so an int8 copy would only add bytes.

**int4, group-wise.** Four bits leave only 15 levels ([-7, 7]), so one scale per row is too coarse:
a single large weight sets the step for the whole row. Group-wise quantization gives every group of
``group_size`` consecutive weights of a row its own scale (llama.cpp's Q4_0, GPTQ and AWQ use groups
of 32 to 128)::

    scale[o, g] = max |W[o, group g]| / 7          # float16, one per group
    q[o, i]     = round(W[o, i] / scale[o, i // group_size]) in [-7, 7]

Two 4-bit values are packed into each byte, so a group of 32 weights takes 16 bytes plus a 2-byte
scale: 4.5 bits per weight, against 32 for float32 and 16 for bf16.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

QMAX = 127  # symmetric int8 range [-127, 127]
QMAX4 = 7  # symmetric int4 range [-7, 7]


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize a float weight [out, in] to (q int8 [out, in], scale float [out, 1])."""
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dim() != 2 or not weight.is_floating_point():
        raise ValueError(
            f"weight must be a 2-D float tensor [out_features, in_features], got {weight.dim()}-D {weight.dtype}"
        )
    weight = weight.detach().float()
    amax = weight.abs().amax(dim=1, keepdim=True)  # [out, 1] largest magnitude per row
    # An all-zero row would give scale 0 and 0/0 = NaN; any positive scale quantizes it to zeros.
    scale = amax.clamp(min=torch.finfo(torch.float32).tiny) / QMAX
    q = torch.round(weight / scale).clamp(-QMAX, QMAX).to(torch.int8)
    return q, scale


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Back to float: q int8 [out, in] * scale [out, 1] -> [out, in] float32."""
    return q.float() * scale


class Int8Linear(nn.Module):
    """A drop-in for ``nn.Linear`` that keeps its weight as int8 plus one float scale per row."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        q, scale = quantize_per_channel(linear.weight)
        self.register_buffer("qweight", q)
        self.register_buffer("scale", scale.to(linear.weight.dtype))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., in] -> [..., out], same as the float Linear up to rounding of the weight."""
        weight = dequantize(self.qweight, self.scale)  # on the fly: only the int8 copy is kept
        return F.linear(x, weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, int8"


def quantize_groupwise(weight: torch.Tensor, group_size: int | None = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize a float weight [out, in] to int4 with one scale per group of ``group_size`` weights of a row.

    Returns (packed uint8 [out, in // 2], scale float16 [out, in // group_size]); ``group_size=None``
    means one group per row (per-channel int4). Two values per byte: the even column in the low 4 bits.
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or not weight.is_floating_point():
        raise ValueError(f"weight must be a 2-D float tensor [out_features, in_features], got {weight!r:.60}")
    out_features, in_features = weight.shape
    group = in_features if group_size is None else group_size
    if group < 1 or in_features % group or in_features % 2:
        raise ValueError(f"in_features ({in_features}) must be even and divisible by group_size ({group_size})")
    w = weight.detach().float().view(out_features, in_features // group, group)
    # the scale is rounded to float16 first, so that q * scale uses exactly the stored scale
    scale = (w.abs().amax(dim=-1) / QMAX4).to(torch.float16).clamp(min=torch.finfo(torch.float16).tiny)
    q = torch.round(w / scale.float()[..., None]).clamp(-QMAX4, QMAX4).to(torch.int16).view(out_features, in_features)
    nibbles = (q + 8).to(torch.uint8)  # 1 .. 15
    packed = nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)
    return packed, scale


def dequantize_groupwise(packed: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Back to float32: packed uint8 [out, in // 2] and scale [out, n_groups] -> [out, in]."""
    low = (packed & 0xF).to(torch.int16) - 8
    high = (packed >> 4).to(torch.int16) - 8
    q = torch.stack((low, high), dim=-1).view(packed.size(0), -1).float()  # [out, in]
    group = q.size(1) // scale.size(1)
    return (q.view(q.size(0), scale.size(1), group) * scale.float()[..., None]).view_as(q)


class Int4Linear(nn.Module):
    """A drop-in for ``nn.Linear`` storing its weight as packed int4 with one float16 scale per group."""

    def __init__(self, linear: nn.Linear, group_size: int | None = 32):
        super().__init__()
        self.in_features, self.out_features, self.group_size = linear.in_features, linear.out_features, group_size
        packed, scale = quantize_groupwise(linear.weight, group_size)
        self.register_buffer("qweight", packed)
        self.register_buffer("scale", scale)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., in] -> [..., out], the float Linear up to the rounding of its weight."""
        weight = dequantize_groupwise(self.qweight, self.scale)
        return F.linear(x, weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        groups = "per row" if self.group_size is None else f"groups of {self.group_size}"
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, int4 {groups}"


def model_nbytes(model: nn.Module) -> int:
    """Bytes of all parameters and buffers, counting a tensor shared by several modules once."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        key = (t.data_ptr(), t.numel())
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


@dataclass(frozen=True)
class QuantizationReport:
    """What ``quantize_model`` changed and how much memory it saved."""

    quantized: tuple[str, ...]  # names of the Linear layers now stored as int8
    skipped: tuple[str, ...]  # Linear layers left in float (weight shared with another module)
    bytes_before: int
    bytes_after: int
    scheme: str = "int8"  # "int8", "int4 per row", "int4 groups of 32", ...

    @property
    def ratio(self) -> float:
        """How many times smaller the model got (close to 4 when Linear weights dominate)."""
        return self.bytes_before / self.bytes_after

    def __str__(self) -> str:
        return (
            f"{self.scheme}: {len(self.quantized)} Linear layers quantized, {len(self.skipped)} skipped (shared weights) | "
            f"{self.bytes_before / 1e6:.3f} MB -> {self.bytes_after / 1e6:.3f} MB ({self.ratio:.2f}x smaller)"
        )


def quantize_model(model: nn.Module, bits: int = 8, group_size: int | None = None) -> tuple[nn.Module, QuantizationReport]:
    """A copy of ``model`` with every ``nn.Linear`` replaced by ``Int8Linear`` (bits=8, per channel) or
    ``Int4Linear`` (bits=4, one scale per ``group_size`` weights; None = per row); the original is untouched.

    Returns (quantized_model, report). Linears whose weight is shared with another module are
    skipped (see the module docstring). Raises ValueError if there is nothing to quantize.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if bits not in (4, 8) or (bits == 8 and group_size is not None):
        raise ValueError(f"bits must be 8 (per channel, group_size=None) or 4 (any group_size), got bits={bits!r}, "
                         f"group_size={group_size!r}")
    qmodel = copy.deepcopy(model)  # deepcopy keeps tied weights tied in the copy
    users: dict[int, int] = {}  # id(parameter) -> how many modules hold it
    for module in qmodel.modules():
        for p in module.parameters(recurse=False):
            users[id(p)] = users.get(id(p), 0) + 1
    linears = [(name, m) for name, m in qmodel.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers to quantize")
    quantized, skipped = [], []
    for name, linear in linears:
        if users[id(linear.weight)] > 1:
            skipped.append(name)
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(qmodel.get_submodule(parent_name), child,
                Int8Linear(linear) if bits == 8 else Int4Linear(linear, group_size))
        quantized.append(name)
    scheme = "int8" if bits == 8 else "int4 per row" if group_size is None else f"int4 groups of {group_size}"
    report = QuantizationReport(tuple(quantized), tuple(skipped), model_nbytes(model), model_nbytes(qmodel), scheme)
    return qmodel, report
