"""``matrix_text``: a small matrix as a table a learner can read, with its rows and columns named.

    print(matrix_text(Q, "Q = X @ W_Q", rows=words))
    Q = X @ W_Q  [6, 3]
             0      1      2
    the   0.12  -0.40   1.02
    cat  -1.31   0.05   0.77
    ...

Worked examples print every intermediate matrix this way: the shape in the title, one row per token,
a fixed number of decimals, ``-inf`` for masked entries. It only formats; it never changes the numbers.
"""

from __future__ import annotations

import math


def matrix_text(m, title: str = "", rows=None, cols=None, digits: int = 2) -> str:
    """A 1-D or 2-D tensor / array / nested list m [R, K] as aligned text, one line per row.

    ``rows`` and ``cols`` name the rows and columns (default: their indices); ``title`` is printed above
    with the shape. ``-inf`` / ``inf`` / ``nan`` are written as such. Raises ValueError on more than 2 axes
    or on names that do not match the shape.
    """
    values = m.tolist() if hasattr(m, "tolist") else list(m)
    if values and not isinstance(values[0], list):
        values = [values]  # a vector: one row
    if any(isinstance(v, list) for row in values for v in row):
        raise ValueError("matrix_text prints 1-D or 2-D data only; take a slice first, e.g. m[0] for [B, T, C]")
    n_rows, n_cols = len(values), len(values[0]) if values else 0
    rows = [str(r) for r in (rows if rows is not None else range(n_rows))]
    cols = [str(c) for c in (cols if cols is not None else range(n_cols))]
    if len(rows) != n_rows or len(cols) != n_cols:
        raise ValueError(f"{len(rows)} row names and {len(cols)} column names for a {n_rows} x {n_cols} matrix")

    def number(v) -> str:
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v + 0.0:.{digits}f}" if round(v, digits) != 0 else f"{0.0:.{digits}f}"  # no "-0.00"

    cells = [[number(v) for v in row] for row in values]
    width = max([len(c) for c in cols] + [len(c) for row in cells for c in row] + [1])
    left = max([len(r) for r in rows] + [0])
    lines = [f"{title}  [{n_rows}, {n_cols}]"] if title else []
    lines.append(" " * left + "".join(f"  {c:>{width}}" for c in cols))
    lines += [f"{r:<{left}}" + "".join(f"  {c:>{width}}" for c in row) for r, row in zip(rows, cells)]
    return "\n".join(lines)
