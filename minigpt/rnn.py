"""A plain recurrent network (Elman RNN), written as the loop it is, and the sequential depth of a computation.

The point of comparison for "why transformers replaced RNNs" (notebook 05): an RNN reads the tokens one
after the other, ``h_t = tanh(x_t W_x + b + h_{t-1} W_h)``, so position t cannot start before position
t - 1 is done: T dependent steps per sequence, however many cores there are. A transformer block computes
all T positions with the same few wide matrix multiplies.

``RNN``               x [B, T, C] -> h [B, T, C], the loop written out (same numbers as ``torch.nn.RNN``).
``sequential_depth``  the longest chain of dependent operations behind a tensor (its autograd graph).
"""

from __future__ import annotations

import torch
from torch import nn


class RNN(nn.Module):
    """Elman RNN of width C with tanh: x [B, T, C] -> hidden states [B, T, C], one position at a time.

    ``w_x`` (with bias) reads the input, ``w_h`` (no bias) the previous hidden state; h_{-1} = 0.
    The parameters match ``torch.nn.RNN(C, C, batch_first=True)`` (``w_x.weight`` = ``weight_ih_l0``,
    ``w_x.bias`` = ``bias_ih_l0 + bias_hh_l0``, ``w_h.weight`` = ``weight_hh_l0``).
    """

    def __init__(self, n_embd: int):
        super().__init__()
        self.w_x = nn.Linear(n_embd, n_embd)
        self.w_h = nn.Linear(n_embd, n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        h = x.new_zeros(B, C)
        states = []
        for t in range(T):  # each step needs the previous one: T steps in a row
            h = torch.tanh(self.w_x(x[:, t]) + self.w_h(h))
            states.append(h)
        return torch.stack(states, dim=1)


def sequential_depth(output: torch.Tensor) -> int:
    """The number of operations on the longest dependent chain in ``output``'s autograd graph.

    Operations on the same chain must run one after the other; operations on different chains may run at
    the same time. A leaf that requires grad counts as one (accumulating its .grad). ``output`` must require grad.
    """
    if output.grad_fn is None:
        raise ValueError("sequential_depth needs a tensor computed from something that requires grad")
    depth: dict = {}
    stack = [(output.grad_fn, False)]
    while stack:  # iterative post-order: the graph of a long loop is too deep for recursion
        fn, children_done = stack.pop()
        if fn in depth:
            continue
        children = [f for f, _ in fn.next_functions if f is not None]
        if children_done:
            depth[fn] = 1 + max((depth[f] for f in children), default=0)
        else:
            stack.append((fn, True))
            stack.extend((f, False) for f in children if f not in depth)
    return depth[output.grad_fn]
