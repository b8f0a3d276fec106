import pytest
import torch

from minigpt.config import MLP_TYPES, POS_TYPES, GPTConfig, get_config
from minigpt.mlp import swiglu_hidden
from minigpt.model import GPT
from minigpt.recipes import get_recipe


def tiny(**overrides):
    return get_config("tiny", n_layer=2, n_head=4, n_embd=32, block_size=16, **overrides)


def test_forward_shapes_and_loss():
    torch.manual_seed(0)
    model = GPT(tiny())
    idx = torch.randint(0, 65, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 65) and loss is None
    _, loss = model(idx, torch.randint(0, 65, (3, 10)))
    # freshly initialised: predictions are close to uniform over 65 tokens
    assert abs(loss.item() - torch.log(torch.tensor(65.0)).item()) < 0.3


def test_rejects_a_non_config():
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"n_layer": 2})


def gpt2_block_params(C):
    """ln_1 + c_attn + c_proj + ln_2 + c_fc + mlp c_proj, weights and biases."""
    return 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)


def test_gpt2_config_has_gpt2_smalls_124m_parameters():
    with torch.device("meta"):  # the real modules of GPT-2 small, without allocating their 0.5 GB of weights
        model = GPT(get_config("gpt2"))
    c = model.config
    assert (c.vocab_size, c.block_size, c.n_layer, c.n_head, c.n_embd) == (50257, 1024, 12, 12, 768)
    assert model.lm_head.weight is model.transformer.wte.weight  # tied, so counted once
    # the published count of GPT-2 small (tied embeddings), as transformers' GPT2LMHeadModel reports it
    assert model.num_params("all") == 124_439_808
    assert model.num_params() == 124_439_808 - 1024 * 768 == 123_653_376  # nanoGPT's "123.65M": no position table
    # Kaplan et al.'s N leaves out both tables: GPT-2 small's "85M non-embedding parameters", ~12·L·C²
    assert model.num_params("none") == 124_439_808 - 50257 * 768 - 1024 * 768 == 85_056_000
    assert abs(model.num_params("none") / (12 * c.n_layer * c.n_embd**2) - 1) < 0.002


def test_num_params_hand_count_gpt2_architecture():
    C, L, V, T = 48, 3, 101, 32
    total = V * C + T * C + L * gpt2_block_params(C) + 2 * C  # tied head, learned positions, ln_f
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=4, n_embd=C))
    assert model.num_params("all") == total
    assert model.num_params() == total - T * C  # nanoGPT leaves out the position table
    assert model.num_params("none") == L * gpt2_block_params(C) + 2 * C  # Kaplan: the blocks and ln_f only
    assert model.flops_per_token() == 6 * (total - T * C) + 12 * L * T * C
    assert model.flops_per_token(seq_len=8) == 6 * (total - T * C) + 12 * L * 8 * C


def test_mlp_ratio_sets_the_hidden_width():
    C = 32
    narrow = GPT(tiny(mlp_ratio=2))
    assert narrow.transformer.h[0].mlp.c_fc.weight.shape == (2 * C, C)
    assert GPT(tiny()).num_params() - narrow.num_params() == 2 * (4 * C * C + 2 * C)  # 2 blocks: weights, c_fc bias
    assert swiglu_hidden(384, mlp_ratio=2) == 512 and swiglu_hidden(384) == 1024
    assert GPT(tiny(mlp="swiglu", mlp_ratio=2)).transformer.h[0].mlp.c_proj.weight.shape == (C, 64)


@pytest.mark.parametrize("bad, message", [
    (dict(mlp_ratio=0), "mlp_ratio must be a positive int"),
    (dict(n_embd=100), r"n_embd \(100\) must be divisible by n_head \(6\)"),
    (dict(pos="absolute"), "pos must be one of"),
])
def test_config_errors_name_the_field(bad, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**bad)


def test_num_params_hand_count_untied_rope_swiglu_rmsnorm_gqa():
    C, L, V, H, KV = 32, 2, 65, 4, 2
    config = tiny(pos="rope", mlp="swiglu", norm="rmsnorm", bias=False, tie_weights=False, n_kv_head=KV)
    hidden = swiglu_hidden(C)
    assert hidden == 128
    kv = KV * (C // H)
    block = 2 * C + C * (C + 2 * kv) + C * C + C * 2 * hidden + hidden * C
    total = 2 * V * C + L * block + C  # untied embedding and head, no position parameters
    model = GPT(config)
    assert model.num_params() == model.num_params("all") == total
    assert model.num_params("none") == L * block + C  # neither the untied embedding nor the untied head
    assert model.flops_per_token(seq_len=8) == 6 * total + 12 * L * 8 * C


def test_num_params_names_the_counts_it_knows():
    model = GPT(tiny())
    with pytest.raises(ValueError, match=r"embeddings must be one of \('token', 'all', 'none'\), got 'kaplan'"):
        model.num_params("kaplan")


def test_shakespeare_char_config_is_nanogpt_size():
    model = GPT(get_config("shakespeare-char"))
    assert abs(model.num_params() / 1e6 - 10.65) < 0.1
    assert round(model.num_params() / 1e6, 2) == 10.65  # nanoGPT prints "number of parameters: 10.65M"


def test_replacing_n_head_keeps_one_kv_head_per_head_and_keeps_gqa():
    mha = GPTConfig(n_layer=1, n_head=2, n_embd=32)
    assert mha.replace(n_head=4).n_kv_head == 4  # not a silent GQA with 2 K/V heads
    gqa = GPTConfig(n_layer=1, n_head=4, n_kv_head=2, n_embd=32)
    assert gqa.replace(n_head=8).n_kv_head == 2 and gqa.replace(n_head=8, n_kv_head=8).n_kv_head == 8


def test_the_cpu_baseline_recipe_is_nanogpts_cpu_command():
    """benchmarks/run.py --cpu compares the fast recipe with nanoGPT's README CPU run, re-created as a recipe."""
    recipe = get_recipe("nanogpt-cpu")
    m, t = recipe.model, recipe.train
    assert (m.n_layer, m.n_head, m.n_embd, m.block_size, m.dropout, m.pos, m.bias) == (4, 4, 128, 64, 0.0, "learned", False)
    assert (t.batch_size, t.max_iters, t.lr_decay_iters, t.lr, t.min_lr, t.optimizer, t.lr_schedule) == (
        12, 2000, 2000, 1e-3, 1e-4, "adamw", "cosine")
    assert (t.eval_interval, t.eval_iters, t.weight_decay, t.betas) == (250, 20, 0.1, (0.9, 0.99))
    assert round(GPT(m).num_params() / 1e6, 2) == 0.80  # nanoGPT prints "number of parameters: 0.80M"


def test_gpt2_style_init():
    torch.manual_seed(0)
    model = GPT(get_config("tiny", n_layer=8, n_embd=128))
    h = model.transformer.h
    assert abs(model.transformer.wte.weight.std().item() - 0.02) < 0.002
    assert abs(h[0].mlp.c_fc.weight.std().item() - 0.02) < 0.002
    assert abs(h[0].mlp.c_proj.weight.std().item() - 0.02 / 4) < 0.0005  # 1/sqrt(2*8)
    assert abs(h[0].attn.c_proj.weight.std().item() - 0.02 / 4) < 0.0005
    assert torch.all(h[0].attn.c_attn.bias == 0) and torch.all(h[0].ln_1.weight == 1)
    assert model.lm_head.weight is model.transformer.wte.weight


def test_zero_init_proj_makes_every_block_the_identity():
    torch.manual_seed(0)
    model = GPT(get_config("tiny", zero_init_proj=True))
    assert all(torch.all(p == 0) for n, p in model.named_parameters() if n.endswith("c_proj.weight"))
    x = torch.randint(0, 65, (2, 10))
    with torch.no_grad():
        logits, _ = model(x)
        # with every block adding 0, the model is embedding -> final norm -> head (a bigram model)
        bigram = model.lm_head(model.transformer.ln_f(model.transformer.pos(model.transformer.wte(x))))
    assert torch.allclose(logits, bigram, atol=1e-6)
    _, loss = model(x, x)
    loss.backward()  # and the projections still learn: their gradient is not zero
    assert model.transformer.h[0].attn.c_proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("mlp", MLP_TYPES)
@pytest.mark.parametrize("pos", POS_TYPES)
def test_gradients_reach_every_parameter(mlp, pos):
    torch.manual_seed(0)
    model = GPT(tiny(mlp=mlp, pos=pos, n_expert=3, expert_top_k=2, norm="rmsnorm" if mlp == "swiglu" else "layernorm"))
    idx = torch.randint(0, 65, (4, 16))
    _, loss = model(idx, idx)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def overfit(config, steps, lr=1e-2):
    torch.manual_seed(0)
    model = GPT(config)
    x = torch.randint(0, config.vocab_size, (4, 16))
    y = torch.roll(x, -1, dims=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_tiny_model_overfits_one_batch():
    losses = overfit(tiny(), steps=100)
    assert losses[-1] < 0.05, losses[-1]


@pytest.mark.parametrize("prenorm", [True, False])
def test_pre_and_post_norm_both_train(prenorm):
    losses = overfit(tiny(prenorm=prenorm), steps=40)
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


def test_training_mode_dropout_changes_output_eval_does_not():
    torch.manual_seed(0)
    model = GPT(tiny(dropout=0.5))
    idx = torch.randint(0, 65, (2, 8))
    assert not torch.allclose(model(idx)[0], model(idx)[0])
    model.eval()
    assert torch.allclose(model(idx)[0], model(idx)[0])


@pytest.mark.parametrize("pos", POS_TYPES)
def test_last_only_logits_are_the_full_forwards_last_row(pos):
    """The head on the last position alone gives that row of the full forward's logits: to 1e-6 (the matmul over
    one row may round differently from the matmul over all of them); through a KV cache to 1e-5, as in
    test_kv_cache (attention over the cached keys adds its own rounding)."""
    torch.manual_seed(0)
    model = GPT(tiny(pos=pos)).eval()
    idx = torch.randint(0, 65, (2, 11))
    full, _ = model(idx)
    last, loss = model(idx, last_only=True)
    assert last.shape == (2, 1, 65) and loss is None
    assert torch.allclose(last, full[:, -1:], atol=1e-6, rtol=0)
    cache = model.new_kv_cache(2)
    prefill, _ = model(idx[:, :7], kv_cache=cache, last_only=True)
    step, _ = model(idx[:, 7:], kv_cache=cache, last_only=True)
    assert torch.allclose(prefill, full[:, 6:7], atol=1e-5, rtol=0)
    assert torch.allclose(step, full[:, -1:], atol=1e-5, rtol=0)


def test_last_only_with_targets_is_a_clear_error():
    model = GPT(tiny())
    idx = torch.randint(0, 65, (1, 5))
    with pytest.raises(ValueError, match="the loss needs every position's: pass targets or last_only=True, not both"):
        model(idx, idx, last_only=True)
    with pytest.raises(TypeError, match="last_only must be True or False, got 'yes'"):
        model(idx, last_only="yes")


@pytest.mark.parametrize("pos", POS_TYPES)
def test_forward_reads_no_values_back_to_the_host(pos):
    """A training step must not wait for the device: on the meta device (shapes, no values) any read of a
    value, like int(idx.max()), raises; the forward and its loss run there without one."""
    with torch.device("meta"):
        model = GPT(tiny(pos=pos))  # (not MoE: its routing, torch.nonzero, needs the values by nature)
        idx = torch.zeros(2, 16, dtype=torch.long)
        logits, loss = model(idx, idx)
    assert logits.shape == (2, 16, 65) and loss.shape == ()
