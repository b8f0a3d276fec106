import torch

from minigpt.config import get_config
from minigpt.model import GPT
from minigpt.moe import MoE


def moe_config(**overrides):
    return get_config("tiny", n_layer=1, n_head=4, n_embd=32, block_size=16, mlp="moe", n_expert=4, expert_top_k=2,
                      **overrides)


def test_tokens_are_routed_to_top_k_experts_and_every_expert_gets_gradient():
    torch.manual_seed(0)
    moe = MoE(moe_config())
    x = torch.randn(4, 16, 32)
    y = moe(x)
    assert y.shape == x.shape
    routing = moe.last_routing  # [64 tokens, k=2]
    assert routing.shape == (64, 2)
    assert torch.all(routing[:, 0] != routing[:, 1])  # two different experts per token
    assert set(routing.unique().tolist()) == {0, 1, 2, 3}  # every expert receives some tokens
    (y.pow(2).sum() + moe.aux_loss).backward()
    for e, expert in enumerate(moe.experts):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in expert.parameters()), e
    assert moe.router.weight.grad.abs().sum() > 0


def test_output_is_gate_weighted_sum_of_chosen_experts():
    torch.manual_seed(0)
    moe = MoE(moe_config())
    x = torch.randn(1, 3, 32)
    y = moe(x)[0]
    logits = moe.router(x[0])
    top, idx = logits.topk(2, dim=-1)
    gates = top.softmax(-1)
    for t in range(3):
        expected = sum(gates[t, j] * moe.experts[idx[t, j]](x[0, t]) for j in range(2))
        assert torch.allclose(y[t], expected, atol=1e-6)


def test_load_balancing_loss_is_one_when_balanced_and_larger_when_collapsed():
    moe = MoE(moe_config())
    uniform = torch.zeros(8, 4)
    balanced = torch.tensor([[0, 1], [2, 3]] * 4)
    assert abs(moe.load_balancing_loss(uniform, balanced).item() - 1.0) < 1e-6
    collapsed_logits = torch.tensor([[5.0, 5.0, -5.0, -5.0]] * 8)
    collapsed = torch.tensor([[0, 1]] * 8)
    assert moe.load_balancing_loss(collapsed_logits, collapsed).item() > 1.9


def test_model_loss_includes_weighted_aux_loss():
    torch.manual_seed(0)
    model = GPT(moe_config(moe_aux_loss_weight=0.5))
    idx = torch.randint(0, 65, (2, 8))
    logits, loss = model(idx, idx)
    lm_loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), idx.flatten())
    assert torch.allclose(loss, lm_loss + 0.5 * model.aux_loss())
