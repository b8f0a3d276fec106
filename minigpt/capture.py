"""Looking inside: record attention weights and the residual stream during a forward pass.

    with capture(model) as cap:
        model(idx)
    cap.attention[layer]  # [B, H, T, T] weights after RoPE / ALiBi / masks
    cap.residual[i]       # [B, T, C]: [0] = embeddings, [i+1] = after block i (logit lens)

While capturing, attention takes its explicit path (the fused kernel never materialises the
weights). Outside the ``with`` nothing is installed: each attention layer checks one attribute,
so the normal forward pays nothing. Captured tensors are detached copies of the activations.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from minigpt.attention import Attention


@dataclass
class Captured:
    """What one or more forward passes recorded, in layer order."""

    attention: list = field(default_factory=list)  # per (decoder) layer [B, H, T, T]
    residual: list = field(default_factory=list)  # n_layer + 1 tensors [B, T, C]
    cross_attention: list = field(default_factory=list)  # Seq2Seq decoder -> encoder [B, H, T, S]
    encoder_attention: list = field(default_factory=list)  # Seq2Seq encoder self-attention [B, H, S, S]


@contextmanager
def capture(model):
    """Record attention weights and residual stream of every forward pass inside the ``with``."""
    cap = Captured()
    layers = [m for m in model.modules() if isinstance(m, Attention)]
    for layer in layers:
        layer._record = getattr(cap, layer.capture_as)
    model._capture = cap
    try:
        yield cap
    finally:
        for layer in layers:
            del layer._record  # back to the class default, None
        del model._capture


def captured_to_numpy(cap: Captured, batch_index: int = 0) -> dict:
    """One sequence of a capture as float32 numpy: attention [L, H, T, T] and residual [L+1, T, C]."""
    if not cap.attention:
        raise ValueError("nothing was captured: run the model inside `with capture(model) as cap:` first")

    def stack(tensors):
        return torch.stack([t[batch_index] for t in tensors]).float().cpu().numpy()

    return dict(attention=stack(cap.attention), residual=stack(cap.residual) if cap.residual else None)


def logit_lens(model, residual: torch.Tensor) -> torch.Tensor:
    """[B, T, C] residual stream -> [B, T, V] logits, read with the model's own final norm and unembedding.

    Applied to ``cap.residual[i]`` it shows what the model would predict if it stopped after block i;
    on the last entry it is exactly the model's output.
    """
    return model.lm_head(model.transformer.ln_f(residual))


def attention_for_widgets(model, tokenizer, text: str) -> dict:
    """Run ``text`` through ``model`` and return dict(tokens=list[str], weights=float32 array [L, H, T, T])."""
    ids = tokenizer.encode(text)
    block_size = model.config.block_size
    if not ids:
        raise ValueError("text encodes to no tokens; give at least one character")
    if len(ids) > block_size:
        raise ValueError(f"text is {len(ids)} tokens but the model sees at most block_size={block_size}; shorten it")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), capture(model) as cap:
            model(torch.tensor([ids], device=device))
    finally:
        model.train(was_training)
    return dict(tokens=[tokenizer.token_str(i) for i in ids], weights=captured_to_numpy(cap)["attention"])
