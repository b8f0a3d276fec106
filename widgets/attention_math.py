"""The numpy side of attention views: checks, head aggregation, rollout, sink removal, thumbnails.

Shapes: L layers, H heads, Tq queries, Tk keys (Tq == Tk for self-attention).
Weights are post-softmax: every row ``weights[l, h, q, :]`` is a probability distribution.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, require_finite

AGGREGATIONS = ("none", "mean", "max", "rollout")


def require_weights(weights, n_queries: int, n_keys: int, *, name: str = "weights", atol: float = 1e-2) -> np.ndarray:
    """Return weights as float32 [L, H, Tq, Tk]; accept [H, T, T] or [T, T] for one layer/head.

    Raises ValueError for a wrong shape, NaN/inf, negative entries, or rows that do not sum to 1
    (naming the layer, head and row), which usually means pre-softmax scores were passed.
    """
    w = as_float_array(weights, name)
    if w.ndim == 2:
        w = w[None, None]
    elif w.ndim == 3:
        w = w[None]
    if w.ndim != 4:
        raise ValueError(f"{name} must have shape [L, H, Tq, Tk] (or [H, T, T] / [T, T]), got {tuple(w.shape)}")
    if w.shape[2:] != (n_queries, n_keys):
        raise ValueError(
            f"{name} has Tq x Tk = {w.shape[2]} x {w.shape[3]} but there are {n_queries} query tokens and "
            f"{n_keys} key tokens; pass the tokens the weights were computed on (one string per position)"
        )
    total = w.sum(-1)  # one pass gives both the NaN check and the row sums
    if not np.isfinite(total).all():
        require_finite(w, name, ("layer", "head", "row", "column"))
    if w.min() < -1e-6:
        l, h, q, _ = np.argwhere(w < -1e-6)[0]
        raise ValueError(f"{name} has negative entries (layer {l}, head {h}, row {q}): pass softmax weights, not scores")
    bad = np.abs(total - 1.0) > atol
    if bad.any():
        l, h, q = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} rows must be probability distributions (sum to 1), but layer {l}, head {h}, row {q} "
            f"sums to {total[l, h, q]:.4f}; pass attention weights after softmax (e.g. from minigpt.capture)"
        )
    return w


def is_causal(weights: np.ndarray) -> bool:
    """True when no query attends to a later key (everything above the diagonal is 0)."""
    Tq, Tk = weights.shape[-2:]
    if Tq != Tk:
        return False
    # row by row: no T x T temporary, and a non-causal pattern is usually found on the first rows
    return all(weights[..., q, q + 1 :].max(initial=0.0) <= 1e-8 for q in range(Tq - 1))


def remove_sink(weights: np.ndarray) -> np.ndarray:
    """Zero the attention to the first token and renormalise each row.

    Many heads park probability on token 0 (an 'attention sink'); hiding it makes the rest of the
    pattern readable. Rows that only looked at token 0 become all zeros.
    """
    w = weights.copy()
    w[..., 0] = 0.0
    total = w.sum(-1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def aggregate_heads(weights: np.ndarray, how: str) -> np.ndarray:
    """[L, H, Tq, Tk] -> [L, Tq, Tk]: 'mean' or 'max' over heads, or 'rollout' across layers."""
    if how == "mean":
        return weights.mean(axis=1)
    if how == "max":
        return weights.max(axis=1)
    if how == "rollout":
        return rollout(weights)
    raise ValueError(f"aggregation must be one of {AGGREGATIONS[1:]}, got {how!r}")


def rollout(weights: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) up to each layer: [L, H, T, T] -> [L, T, T].

    Each layer's head-mean is mixed with the identity (the residual connection carries the token
    itself): A_l = 0.5 * mean_h(W_l) + 0.5 * I, rows renormalised. Then R_0 = A_0 and
    R_l = A_l @ R_{l-1}: how much each input token flows into each position after layer l.
    """
    L, _, Tq, Tk = weights.shape
    if Tq != Tk:
        raise ValueError("rollout needs self-attention (Tq == Tk); cross-attention mixes two sequences")
    eye = np.eye(Tq, dtype=np.float64)
    out = np.empty((L, Tq, Tk), dtype=np.float32)
    flow = eye
    for layer in range(L):
        a = 0.5 * weights[layer].mean(axis=0).astype(np.float64) + 0.5 * eye
        a /= a.sum(-1, keepdims=True)
        flow = a @ flow
        out[layer] = flow
    return out


def _bins(n: int, size: int) -> np.ndarray:
    """Start index of each of min(n, size) nearly equal bins over range(n)."""
    return np.linspace(0, n, min(size, n) + 1).astype(int)[:-1]


def thumbnails(weights: np.ndarray, size: int) -> np.ndarray:
    """Average-pool the last two axes of [..., Tq, Tk] to at most [size, size] (block means)."""
    Tq, Tk = weights.shape[-2:]
    if Tq % size == 0 and Tk % size == 0:  # the common case (T a power of two): one reshape, one pass
        return weights.reshape(*weights.shape[:-2], size, Tq // size, size, Tk // size).mean(axis=(-3, -1))
    rows, cols = _bins(Tq, size), _bins(Tk, size)
    summed = np.add.reduceat(np.add.reduceat(weights, rows, axis=-2), cols, axis=-1)
    counts = np.outer(np.diff(np.append(rows, Tq)), np.diff(np.append(cols, Tk)))
    return summed / counts


def thumbnail_mosaic(weights: np.ndarray, size: int = 32, gap: int = 2) -> np.ndarray:
    """All heads as one uint8 image [L*(s+gap), H*(s+gap)]: each thumbnail scaled to its own
    maximum (1..255) so every head's pattern is visible; 0 marks the gaps between thumbnails.

    At 12 x 12 heads this is ~150 KB instead of the 150 MB of full 512 x 512 float weights.
    """
    L, H = weights.shape[:2]
    thumbs = np.abs(thumbnails(weights, size))  # [L, H, th, tw]; abs: differences can be negative
    peak = np.maximum(thumbs.max(axis=(-2, -1), keepdims=True), 1e-12)
    scaled = (1 + np.round(254 * thumbs / peak)).astype(np.uint8)
    th, tw = thumbs.shape[-2:]
    padded = np.zeros((L, H, th + gap, tw + gap), dtype=np.uint8)
    padded[:, :, :th, :tw] = scaled
    # [L, H, th+g, tw+g] -> [L, th+g, H, tw+g] -> image rows = layers, image columns = heads
    return padded.transpose(0, 2, 1, 3).reshape(L * (th + gap), H * (tw + gap))
