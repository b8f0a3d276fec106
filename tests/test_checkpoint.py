"""Checkpoints: round trip without pickle, exact resume, atomic writes, and clear loading errors."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

import minigpt.checkpoint as checkpoint_module
from minigpt.checkpoint import load_checkpoint, load_model, save_checkpoint
from minigpt.config import GPTConfig
from minigpt.model import GPT
from minigpt.tokenizers import CharTokenizer
from minigpt.train import Trainer, TrainConfig

CONFIG = GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.1)
TOKENIZER = CharTokenizer.from_text("abcdefghijkl")


def _trainer(max_iters=10, optimizer="adamw"):
    torch.manual_seed(0)
    data = torch.randint(0, 12, (1200,), generator=torch.Generator().manual_seed(0))
    config = TrainConfig(max_iters=max_iters, batch_size=4, lr=1e-2, warmup_iters=2, eval_interval=4,
                         eval_iters=1, device="cpu", progress=False, optimizer=optimizer)
    return Trainer(GPT(CONFIG), config, data[:1000], data[1000:], tokenizer=TOKENIZER)


def test_round_trip_restores_everything_without_pickle(tmp_path, monkeypatch):
    trainer = _trainer(max_iters=3)
    trainer.fit()
    path = tmp_path / "run"
    path.mkdir()
    trainer.save(path)  # a directory means <dir>/checkpoint.safetensors
    assert (path / "checkpoint.safetensors").is_file()
    assert (path / "checkpoint.safetensors").stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("checkpoints must not use torch.load"))
    checkpoint = load_checkpoint(path)
    assert checkpoint.step == 3 and checkpoint.config == CONFIG
    assert checkpoint.tokenizer.to_dict() == TOKENIZER.to_dict()
    assert checkpoint.train_config["batch_size"] == 4 and checkpoint.history == list(trainer.history)
    assert set(checkpoint.optimizer_state["state"][0]) == {"exp_avg", "exp_avg_sq", "step"}
    model, tokenizer = load_model(path)
    idx = torch.tensor([[1, 2, 3]])
    trainer.model.eval()
    assert torch.equal(model(idx)[0], trainer.model(idx)[0])


def test_tied_weights_are_stored_once(tmp_path):
    from safetensors import safe_open

    model = GPT(CONFIG)
    path = save_checkpoint(tmp_path / "m.safetensors", model)
    with safe_open(str(path), "pt") as f:
        stored = [k for k in f.keys() if k.startswith("model.")]
    state = model.state_dict()
    shared = {name for name in state for other in state if name != other and
              state[name].data_ptr() == state[other].data_ptr()}
    assert len(stored) == len(state) - len(shared) // 2
    assert load_checkpoint(path).build_model().state_dict().keys() == state.keys()


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, optimizer):
    straight = _trainer(optimizer=optimizer)
    straight.fit()
    first = _trainer(optimizer=optimizer)
    first.fit(steps=6)
    first.save(tmp_path / "ckpt.safetensors")
    resumed = _trainer(optimizer=optimizer)  # fresh weights and optimiser, all replaced by the checkpoint
    resumed.load(tmp_path / "ckpt.safetensors")
    resumed.fit()
    assert resumed.step == straight.step == 10
    assert resumed.history.column("train_loss") == straight.history.column("train_loss")
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(a, b)


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    model = GPT(CONFIG)
    save_checkpoint(path, model, step=1)

    def crash_mid_write(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_file", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, step=2)
    assert load_checkpoint(path).step == 1
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary file left behind


def test_a_killed_process_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    script = textwrap.dedent(f"""
        import torch
        from minigpt.checkpoint import save_checkpoint
        from minigpt.config import GPTConfig
        from minigpt.model import GPT
        model = GPT(GPTConfig(vocab_size=64, block_size=64, n_layer=2, n_head=2, n_embd=256))
        step = 0
        while True:
            step += 1
            save_checkpoint({str(path)!r}, model, step=step)
            print(step, flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):  # let it finish a few saves, then kill it while it is writing the next
            assert process.stdout.readline().strip(), "the saving process died"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert load_checkpoint(path).step >= 3


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*nope.safetensors; train one first"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_truncated_file_is_reported(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.safetensors", GPT(CONFIG))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="ckpt.safetensors is truncated or corrupt"):
        load_checkpoint(path)


def test_other_file_is_not_taken_for_a_checkpoint(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a minigpt checkpoint"):
        load_checkpoint(tmp_path / "other.safetensors")


def test_other_config_names_the_differing_fields(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.safetensors", GPT(CONFIG))
    with pytest.raises(ValueError, match="different model config: n_layer: checkpoint has 1, expected 2; "
                                         "n_embd: checkpoint has 16, expected 32"):
        load_checkpoint(path, config=CONFIG.replace(n_layer=2, n_embd=32))
    # a trainer for another shape refuses the checkpoint too
    other = Trainer(GPT(CONFIG.replace(n_head=4)), TrainConfig(device="cpu", progress=False),
                    torch.zeros(100, dtype=torch.long))
    with pytest.raises(ValueError, match="n_head: checkpoint has 2, expected 4"):
        other.load(path)


def test_other_tokenizer_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.safetensors", GPT(CONFIG), tokenizer=TOKENIZER)
    other = CharTokenizer.from_text("abcdefghijkm")
    with pytest.raises(ValueError, match=r"different tokenizer \(the checkpoint's vs yours: token 11 is 'l' vs 'm'\)"):
        load_checkpoint(path, tokenizer=other)
    assert load_checkpoint(path, tokenizer=CharTokenizer.from_text("lkjihgfedcba")).step == 0


# -- damage to the metadata, and a refused resume that changes nothing ----------------------------


def _rewrite_metadata(path, change):
    """Write ``path`` again with its metadata changed by ``change(meta)`` (tensors untouched)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["minigpt"])
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    save_file(tensors, str(path), metadata={"minigpt": json.dumps(change(meta))})


def test_a_flipped_digit_in_the_metadata_fails_the_checksum(tmp_path):
    trainer = _trainer(max_iters=3)
    trainer.fit()
    path = tmp_path / "ckpt.safetensors"
    trainer.save(path)
    data = path.read_bytes()
    damaged = data.replace(b'\\"step\\": 3,', b'\\"step\\": 2,', 1)  # the first "step" is the checkpoint's own
    assert len(damaged) == len(data) and damaged != data
    path.write_bytes(damaged)
    with pytest.raises(ValueError, match=f"checkpoint {path} is corrupt: its metadata does not match the checksum"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="its metadata does not match the checksum"):
        _trainer().load(path)  # --resume would have continued from step 2
    assert load_checkpoint(path, verify=False).step == 2  # the opt-out reads it anyway, for rescue


def test_a_checkpoint_of_the_earlier_format_still_loads_and_is_checked(tmp_path):
    """Checkpoints saved before the metadata had a checksum: their tensor checksum is still checked."""
    trainer = _trainer(max_iters=3)
    trainer.fit()
    path = tmp_path / "old.safetensors"
    trainer.save(path)
    _rewrite_metadata(path, lambda meta: {**{k: v for k, v in meta.items() if k != "metadata_checksum"},
                                          "format": "minigpt-checkpoint-v1"})
    assert load_checkpoint(path).step == 3
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a byte of the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="its tensor data does not match the checksum"):
        load_checkpoint(path)


@pytest.mark.parametrize("verify", [True, False])
def test_the_checksum_type_is_checked_in_checkpoints_with_optimiser_state(tmp_path, verify):
    trainer = _trainer(max_iters=2)
    trainer.fit()
    path = tmp_path / "ckpt.safetensors"
    trainer.save(path)
    _rewrite_metadata(path, lambda meta: {**meta, "checksum": 5})
    with pytest.raises(ValueError, match=f"checkpoint {path} has malformed metadata: checksum is 5, expected a string"):
        load_checkpoint(path, verify=verify)


@pytest.mark.parametrize("saved_with, resumed_with", [("adamw", "muon"), ("muon", "adamw")])
def test_a_refused_resume_changes_nothing(tmp_path, saved_with, resumed_with):
    saved = _trainer(max_iters=2, optimizer=saved_with)
    saved.fit()
    path = tmp_path / "ckpt.safetensors"
    saved.save(path)
    trainer = _trainer(optimizer=resumed_with)
    weights = {name: tensor.clone() for name, tensor in trainer.model.state_dict().items()}
    assert not all(torch.equal(weights[name], tensor) for name, tensor in saved.model.state_dict().items())
    with pytest.raises(ValueError, match=f"checkpoint {path} cannot resume this run: it was saved by a run with "
                                         f"optimizer '{saved_with}', this run uses '{resumed_with}'"):
        trainer.load(path)
    assert all(torch.equal(weights[name], tensor) for name, tensor in trainer.model.state_dict().items())
    assert trainer.optimizer.state_dict()["state"] == {} and trainer.step == 0


def test_optimiser_state_of_another_shape_is_refused_before_anything_changes(tmp_path):
    """No run settings saved with it (a hand-made checkpoint): the optimiser state itself is compared."""
    saved = _trainer(max_iters=2)
    saved.fit()
    path = save_checkpoint(tmp_path / "ckpt.safetensors", saved.model, optimizer=saved.optimizer, step=2)
    trainer = _trainer(optimizer="muon")
    weights = {name: tensor.clone() for name, tensor in trainer.model.state_dict().items()}
    with pytest.raises(ValueError, match=rf"checkpoint {path} cannot resume this run: its optimiser state has "
                                         r"parameter groups of \[.*\] tensors, this run's 'muon' optimiser \[.*\]"):
        trainer.load(path)
    assert all(torch.equal(weights[name], tensor) for name, tensor in trainer.model.state_dict().items())
