"""The model's norms are torch's own (one fused kernel each), with GPT-2's and LLaMA's epsilons and GPT-2's parameter
names, so checkpoints and GPT-2 weights load as before and the numbers are the formulas'."""

import pytest
import torch
from torch import nn

from minigpt.block import Block
from minigpt.config import get_config
from minigpt.norm import LayerNorm, RMSNorm, make_norm


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_is_torchs_with_gpt2s_eps_and_names(bias):
    norm = make_norm(get_config("tiny", n_embd=8, bias=bias))
    assert type(norm) is nn.LayerNorm and norm.eps == 1e-5
    assert sorted(norm.state_dict()) == (["bias", "weight"] if bias else ["weight"])
    x = torch.randn(3, 5, 8) * 4 + 2
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        centred = x - x.mean(-1, keepdim=True)
        want = centred / (centred.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt() * norm.weight
        if bias:
            norm.bias.uniform_(-1, 1)
            want = want + norm.bias
        assert torch.allclose(norm(x), want, atol=1e-5)


def test_rmsnorm_is_torchs_with_llamas_eps():
    norm = make_norm(get_config("tiny", n_embd=8, norm="rmsnorm"))
    assert isinstance(norm, nn.RMSNorm) and type(norm) is RMSNorm and norm.eps == RMSNorm(8).eps == 1e-6
    assert list(norm.state_dict()) == ["weight"]
    x = torch.randn(3, 5, 8)
    x[0, 0] *= 1e-4  # a nearly silent token: there eps matters, so a different eps would show
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        want = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight
        assert torch.allclose(norm(x), want, atol=1e-6, rtol=1e-5)


def test_a_blocks_state_dict_keys_are_unchanged():
    """The names checkpoints and GPT-2's weights are stored under (``ln_1.weight``, ``ln_1.bias``, ...)."""
    block = Block(get_config("tiny", n_embd=8, n_head=2))
    norms = [k for k in block.state_dict() if k.startswith("ln_")]
    assert norms == ["ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias"]


def test_the_lessons_names_are_still_there():
    """Notebook 05 draws LayerNorm(4) beside RMSNorm(4); its RMSNorm exercise is checked against RMSNorm(C).eps."""
    assert LayerNorm is nn.LayerNorm and LayerNorm(4).eps == 1e-5 and LayerNorm(4).bias is not None
    assert RMSNorm(4).eps == 1e-6
