"""What ``widgets.PositionalEncodingView`` draws, computed by ``minigpt.positional``'s own functions.

    from minigpt.positional_views import positional_tables
    PositionalEncodingView(positional_tables(max_len=64, dim=32, n_heads=8))

The view receives numpy arrays (widgets never import torch) and keeps none of the maths, so it shows
exactly the numbers the model uses.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from minigpt.arguments import require_int, require_number
from minigpt.positional import alibi_bias, alibi_slopes, apply_rope, rope_frequencies, sinusoidal_table


def positional_tables(max_len: int = 64, dim: int = 32, n_heads: int = 8,
                      rope_base: float = 10000.0) -> dict[str, np.ndarray]:
    """Every scheme's numbers for T = ``max_len`` positions and C = ``dim`` dimensions, as numpy arrays:

    * ``sinusoidal`` [T, C]: the table added to the token embeddings;
    * ``rope_cos``, ``rope_sin`` [T, C/2]: the rotation of each pair of dimensions at each position
      (``dim`` plays the head dimension here);
    * ``alibi_slopes`` [H] and ``alibi_bias`` [H, T, T]: what ALiBi adds to each head's scores;
    * ``sinusoidal_similarity`` [T, T]: the cosine between the table's rows;
    * ``rope_similarity`` [T, T]: the score q.k of one constant unit vector rotated to positions i and j,
      which depends only on i - j.

    The similarities show what attention "sees" of two positions before any content is involved.
    """
    T, H = require_int(max_len, "max_len", 2), require_int(n_heads, "n_heads", 1)
    if require_int(dim, "dim", 2) % 2:
        raise ValueError(f"dim must be even (positions pair up dimensions), got {dim}")
    # angles are p * base ** (-2i / dim): a base <= 0 would make every RoPE value NaN
    base = require_number(rope_base, "rope_base", 0, min_open=True)
    table = sinusoidal_table(T, dim)
    cos, sin = rope_frequencies(dim, T, base)
    unit = F.normalize(table, dim=-1)
    rotated = apply_rope(torch.full((T, dim), dim**-0.5), cos, sin)  # [T, C]: the same vector at every position
    tables = {
        "sinusoidal": table, "rope_cos": cos, "rope_sin": sin,
        "alibi_slopes": alibi_slopes(H), "alibi_bias": alibi_bias(H, T),
        "sinusoidal_similarity": unit @ unit.T, "rope_similarity": rotated @ rotated.T,
    }  # fmt: skip
    return {name: values.numpy() for name, values in tables.items()}
