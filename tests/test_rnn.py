"""minigpt.rnn: the hand-written loop equals torch.nn.RNN, and sequential_depth counts dependent steps."""

import pytest
import torch
from torch import nn

from minigpt.block import Block
from minigpt.config import get_config
from minigpt.rnn import RNN, sequential_depth


def test_the_loop_equals_torch_rnn():
    torch.manual_seed(0)
    mine, ref = RNN(8), nn.RNN(8, 8, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(mine.w_x.weight)
        ref.weight_hh_l0.copy_(mine.w_h.weight)
        ref.bias_ih_l0.copy_(mine.w_x.bias)
        ref.bias_hh_l0.zero_()
    x = torch.randn(3, 7, 8)
    assert mine(x).shape == (3, 7, 8)
    torch.testing.assert_close(mine(x), ref(x)[0], atol=1e-6, rtol=0)


def test_rnn_depth_grows_with_t_and_a_block_depth_does_not():
    torch.manual_seed(0)
    rnn, block = RNN(16), Block(get_config("tiny", vocab_size=10, n_embd=16, n_head=2, block_size=64))
    rnn_depths = [sequential_depth(rnn(torch.randn(2, T, 16)).sum()) for T in (4, 8, 16)]
    block_depths = [sequential_depth(block(torch.randn(2, T, 16)).sum()) for T in (4, 8, 16)]
    per_step = (rnn_depths[2] - rnn_depths[1]) / 8
    assert per_step == (rnn_depths[1] - rnn_depths[0]) / 4 and per_step >= 1, rnn_depths
    assert len(set(block_depths)) == 1, block_depths


def test_depth_of_a_chain_and_of_a_leaf():
    w = torch.ones(3, requires_grad=True)
    assert sequential_depth(((w * 2) + 1).sum()) == 4  # mul, add, sum, and accumulating w.grad
    with pytest.raises(ValueError, match="requires grad"):
        sequential_depth(torch.ones(2))
