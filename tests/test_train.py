"""Trainer: learning, determinism, callbacks, early stopping, batch_fn tasks, optimiser and schedule."""

import os
import subprocess
import sys

import pytest
import torch

from minigpt.config import GPTConfig
from minigpt.device import pick_device, pick_dtype
from minigpt.model import GPT
from minigpt.optim import MuonAdamW, lr_at, make_optimizer, orthogonalize, set_lr
from minigpt.train import History, Trainer, TrainConfig

CONFIG = GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.1)


def _data(n=3000):
    """A learnable stream: a repeated random cycle of 12 tokens."""
    cycle = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    return cycle.repeat(n // 12 + 1)[:n]


def _train(**overrides):
    torch.manual_seed(0)
    settings = dict(max_iters=12, batch_size=4, lr=1e-2, warmup_iters=2, eval_interval=6, eval_iters=2,
                    device="cpu", progress=False, seed=3)
    settings.update(overrides)
    data = _data()
    return Trainer(GPT(CONFIG), TrainConfig(**settings), data[:2500], data[2500:])


def test_training_lowers_the_loss_and_fills_the_history():
    trainer = _train(max_iters=30, eval_interval=30)
    history = trainer.fit()
    assert isinstance(history, History) and trainer.step == 30
    assert [row["step"] for row in history] == list(range(1, 31))
    assert history[-1]["val_loss"] < history.column("train_loss")[0] - 0.5
    assert all(row["tokens_per_s"] > 0 and row["lr"] > 0 for row in history)
    assert set(trainer.evaluate()) == {"train_loss", "val_loss"}


def test_progress_bars_for_training_and_evaluation(capsys):
    _train(max_iters=4, eval_interval=0, eval_iters=3, progress=True).fit()
    shown = capsys.readouterr()
    assert "train: 100%" in shown.err and "4/4" in shown.err  # the step bar, with loss and tokens/s
    assert "loss=" in shown.err and "tok_s=" in shown.err
    assert "evaluate:" in shown.err and "/6 " in shown.err  # 3 batches per split, 2 splits
    assert "step 4: train loss" in shown.out and "val loss" in shown.out  # each evaluation's result
    _train(max_iters=4, eval_interval=0).fit()
    assert capsys.readouterr() == ("", "")  # progress=False: silent


def test_same_seed_gives_identical_losses_on_cpu():
    first = _train().fit().column("train_loss")
    second = _train().fit().column("train_loss")
    other_seed = _train(seed=4).fit().column("train_loss")
    assert first == second
    assert first != other_seed


class Recorder:
    def __init__(self):
        self.events = []

    def on_step(self, trainer, info):
        self.events.append(("step", info))

    def on_eval(self, trainer, info):
        self.events.append(("eval", info))

    def on_sample(self, trainer, info):
        self.events.append(("sample", info))


class Broken:
    def on_step(self, trainer, info):
        raise RuntimeError("the plot failed")


class FakeTokenizer:
    def encode(self, text):
        return [int(c) for c in text]

    def decode(self, ids):
        return "".join(str(i % 10) for i in ids)


def test_callbacks_get_step_eval_and_sample_info():
    recorder = Recorder()
    trainer = _train(sample_interval=6, sample_prompt="1", sample_tokens=5)
    trainer.tokenizer = FakeTokenizer()
    trainer.callbacks.append(recorder)
    trainer.fit()
    kinds = [kind for kind, _ in recorder.events]
    assert kinds.count("step") == 12 and kinds.count("eval") == 2 and kinds.count("sample") == 2
    step_info = recorder.events[0][1]
    assert set(step_info) == {"step", "train_loss", "lr", "tokens_per_s", "elapsed"}
    eval_info = next(info for kind, info in recorder.events if kind == "eval")
    assert set(eval_info) == {"step", "train_loss", "val_loss", "elapsed"} and eval_info["step"] == 6
    sample_info = next(info for kind, info in recorder.events if kind == "sample")
    assert sample_info["prompt"] == "1" and len(sample_info["text"]) == 6


def test_a_failing_callback_warns_once_and_training_goes_on():
    trainer = _train()
    before = [p.detach().clone() for p in trainer.model.parameters()]
    recorder = Recorder()
    trainer.callbacks.extend([Broken(), recorder])
    with pytest.warns(RuntimeWarning, match="Broken.on_step raised RuntimeError: the plot failed") as caught:
        trainer.fit()
    assert len([w for w in caught if "Broken" in str(w.message)]) == 1
    assert trainer.step == 12 and len(recorder.events) == 14  # later callbacks still called
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_target_val_loss_stops_early():
    trainer = _train(max_iters=100, eval_interval=5, target_val_loss=100.0)
    trainer.fit()
    assert trainer.stopped_early and trainer.step == 5


def test_fit_steps_continues_where_it_stopped():
    trainer = _train()
    trainer.fit(steps=4)
    assert trainer.step == 4
    trainer.fit()
    assert trainer.step == 12


def test_batch_fn_trains_a_masked_language_model():
    """A non-LM task: a bidirectional model fills in masked tokens; batches come from a function."""
    config = CONFIG.replace(causal=False, dropout=0.0)
    mask_id = 11

    def batch_fn(split, generator):
        x = torch.randint(0, 10, (8, 16), generator=generator)
        masked = torch.rand(x.shape, generator=generator) < 0.15
        return x.masked_fill(masked, mask_id), x.masked_fill(~masked, -100)

    torch.manual_seed(0)
    trainer = Trainer(GPT(config), TrainConfig(max_iters=3, eval_interval=3, eval_iters=2, device="cpu",
                                               progress=False), batch_fn)
    history = trainer.fit()
    assert trainer.step == 3 and history[-1]["val_loss"] > 0


def test_bad_data_is_rejected_with_a_clear_message():
    config = TrainConfig(device="cpu", progress=False)
    with pytest.raises(TypeError, match="train_data must be a 1-D LongTensor of token ids"):
        Trainer(GPT(CONFIG), config, [1, 2, 3])
    with pytest.raises(ValueError, match="val_data has 10 tokens, fewer than the .* that block_size .* needs"):
        Trainer(GPT(CONFIG), config, _data(), _data(10))


def test_train_config_validation_names_the_field():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="unknown TrainConfig fields \\['nope'\\]"):
        TrainConfig.from_dict({"nope": 1})
    assert TrainConfig.from_dict(TrainConfig(betas=[0.8, 0.9]).to_dict()) == TrainConfig(betas=(0.8, 0.9))


def test_weight_decay_only_on_matrices():
    model = GPT(CONFIG)
    decay, no_decay = make_optimizer(model, 1e-3, 0.1, (0.9, 0.99), torch.device("cpu")).param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_orthogonalize_gives_singular_values_near_one(dtype):
    torch.manual_seed(0)
    for shape in [(64, 16), (16, 64), (32, 32)]:
        update = torch.randn(shape) * torch.logspace(-1, 0, shape[1])  # unevenly scaled columns
        result = orthogonalize(update.to(dtype))
        assert result.dtype == dtype
        result = result.float()
        singular_values = torch.linalg.svdvals(result)
        assert result.shape == update.shape
        assert singular_values.min() > 0.6 and singular_values.max() < 1.25, singular_values
        # the same directions as the SVD's U V^T, only with the singular values flattened
        u, _, vh = torch.linalg.svd(update, full_matrices=False)
        assert torch.nn.functional.cosine_similarity(result.flatten(), (u @ vh).flatten(), dim=0) > 0.95


def test_orthogonalize_takes_a_batch_of_matrices_one_by_one():
    torch.manual_seed(0)
    for shape in [(3, 64, 16), (2, 16, 64)]:
        updates = torch.randn(shape)
        batched = orthogonalize(updates)
        for update, result in zip(updates, batched):
            assert torch.allclose(result, orthogonalize(update), atol=1e-5)


def test_muon_groups_hidden_matrices_and_leaves_embeddings_to_adamw():
    model = GPT(CONFIG.replace(tie_weights=False))
    optimizer = make_optimizer(model, 1e-3, 0.1, (0.9, 0.99), torch.device("cpu"), kind="muon", muon_lr=0.02)
    assert isinstance(optimizer, MuonAdamW)
    muon, adam_matrices, gains = optimizer.param_groups
    hidden = {id(p) for block in model.transformer.h for p in block.parameters() if p.dim() == 2}
    assert {id(p) for p in muon["params"]} == hidden
    assert {id(p) for p in adam_matrices["params"]} == {id(model.transformer.wte.weight), id(model.lm_head.weight),
                                                       id(model.transformer.pos.weight)}
    assert all(p.dim() < 2 for p in gains["params"])
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    without_qkv = make_optimizer(model, 1e-3, 0.1, (0.9, 0.99), torch.device("cpu"), kind="muon", muon_qkv=False)
    qkv = {id(block.attn.c_attn.weight) for block in model.transformer.h}
    assert {id(p) for p in without_qkv.param_groups[0]["params"]} == hidden - qkv
    assert {id(p) for p in without_qkv.param_groups[1]["params"]} == {id(p) for p in adam_matrices["params"]} | qkv
    set_lr(optimizer, 5e-4)  # the schedule moves both rules, each at its own scale
    assert muon["lr"] == pytest.approx(0.01) and adam_matrices["lr"] == gains["lr"] == 5e-4
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer(model, 1e-3, 0.1, (0.9, 0.99), torch.device("cpu"), kind="sgd")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="sgd")


def test_muon_step_follows_its_rule_for_square_wide_and_tall_matrices():
    """The batched step (tall matrices transposed into their wide shape's batch) equals the documented rule
    applied to each matrix on its own: W -= lr * sqrt(max(1, m / n)) * orthogonalize(grad + momentum * buffer)."""
    torch.manual_seed(0)
    model = GPT(CONFIG)
    momentum = 0.8  # not the default, so the test also shows that make_optimizer passes it on
    optimizer = make_optimizer(model, 1e-3, 0.1, (0.9, 0.99), torch.device("cpu"), kind="muon", muon_lr=0.02,
                               muon_momentum=momentum)
    muon = optimizer.param_groups[0]
    assert {tuple(p.shape) for p in muon["params"]} >= {(CONFIG.n_embd, CONFIG.n_embd),
                                                       (4 * CONFIG.n_embd, CONFIG.n_embd),
                                                       (CONFIG.n_embd, 4 * CONFIG.n_embd)}
    for step in range(2):  # the second step also checks the momentum buffer
        model.zero_grad()
        model(torch.randint(0, CONFIG.vocab_size, (4, 16)), torch.randint(0, CONFIG.vocab_size, (4, 16)))[1].backward()
        expected = {}
        for p in muon["params"]:
            buffer = optimizer.state[p]["momentum_buffer"] * momentum + p.grad if step else p.grad.clone()
            scale = muon["lr"] * max(1.0, p.size(0) / p.size(1)) ** 0.5
            nesterov = torch.add(p.grad, buffer, alpha=momentum)  # grad + momentum * buffer, rounded once as in step()
            orthogonal = orthogonalize(nesterov.to(optimizer.newton_schulz_dtype)).float()
            expected[p] = p.detach() - scale * orthogonal
        optimizer.step()
        for p, value in expected.items():
            assert torch.allclose(p, value, atol=1e-6), (tuple(p.shape), (p - value).abs().max())


def test_muon_trains_and_is_deterministic():
    first = _train(optimizer="muon", max_iters=30, eval_interval=30).fit()
    second = _train(optimizer="muon", max_iters=30, eval_interval=30).fit()
    assert first.column("train_loss") == second.column("train_loss")
    assert first[-1]["val_loss"] < first.column("train_loss")[0] - 0.5


def test_warmup_then_cosine_schedule():
    lrs = [lr_at(step, 1.0, 0.1, warmup_iters=10, decay_iters=110) for step in range(130)]
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))  # rising during warm-up
    assert lrs[10] == 1.0 and lrs[60] == pytest.approx(0.55) and lrs[110] == lrs[129] == 0.1
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # then never rising


def test_wsd_schedule_holds_the_peak_then_decays_linearly():
    lrs = [lr_at(step, 1.0, 0.1, 10, 110, schedule="wsd", decay_frac=0.5) for step in range(130)]
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))  # the same warm-up
    assert lrs[10:56] == [1.0] * 46  # stable until the last 55 steps
    assert lrs[88] == pytest.approx(0.1 + 0.9 * 22 / 55) and lrs[110] == lrs[129] == 0.1
    steps = [a - b for a, b in zip(lrs[55:110], lrs[56:111])]
    assert steps == pytest.approx([0.9 / 55] * 55)  # a straight line
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match=r"decay_frac must be in \(0, 1\]"):
        TrainConfig(lr_schedule="wsd", decay_frac=0.0)


def test_device_and_dtype_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in {"cuda", "mps", "cpu"}
    assert pick_dtype("auto", torch.device("cpu")) == torch.float32
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="dtype must be one of"):
        pick_dtype("float16", torch.device("cpu"))


def test_muon_orthogonalizes_in_bf16_only_where_the_cpu_multiplies_it_natively():
    """The CPU's own kernels decide here; ATEN_CPU_CAPABILITY=default (another CPU's kernels) means float32."""
    code = ("import torch; from minigpt.config import GPTConfig; from minigpt.model import GPT; "
            "from minigpt.optim import make_optimizer; "
            "model = GPT(GPTConfig(vocab_size=8, block_size=8, n_layer=1, n_head=2, n_embd=16)); "
            "print(make_optimizer(model, 1e-3, 0.1, (0.9, 0.99), torch.device('cpu'), kind='muon').newton_schulz_dtype)")
    native = torch.backends.cpu.get_cpu_capability() == "AVX512" and torch.cpu._is_avx512_bf16_supported()
    for env, expected in (({}, "torch.bfloat16" if native else "torch.float32"),
                          ({"ATEN_CPU_CAPABILITY": "default"}, "torch.float32")):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env={**os.environ, **env}, check=True)
        assert result.stdout.strip() == expected, (env, result.stdout, result.stderr[-500:])
