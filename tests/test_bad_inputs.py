"""Bad inputs, answered clearly: every case names its problem in one error, nothing is coerced.

Each row of a table is one bad input a learner or an engineer could pass: the call, the error type
expected, and a pattern the message must contain (the name of the setting and what is wrong).
Every command-line tool the README names gets a bad path, an output it cannot write and an input that
is corrupt, each as a real process: one line on stderr, a non-zero status, no traceback.
The property tests at the end throw wide ranges of values at configs, sampling settings and
tokenizers: each one either works correctly or is refused with a message naming the setting.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file

from minigpt.checkpoint import load_checkpoint, save_checkpoint
from minigpt.arguments import require_id_tensor, require_ids, require_int, require_number
from minigpt.cli import main
from minigpt.config import GPTConfig
from minigpt.data import get_batch, train_val_split
from minigpt.model import GPT
from minigpt.positional_views import positional_tables
from minigpt.sampling import SamplingSettings, apply_repetition_penalty, generate, sampling_stages_of, stream
from minigpt.tokenizers import BPETokenizer, CharTokenizer, Tokenizer, tokenizer_from_dict
from minigpt.train import TrainConfig, Trainer

CONFIG = GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16)
TOKENIZER = CharTokenizer.from_text("abcdefghijkl")
NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(CONFIG).eval()


def _expect(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value), "an error message is one line"
    return info.value


# ------------------------------------------------------------------------------------- GPTConfig

GPT_CONFIG_CASES = [
    (dict(n_head=True), "n_head must be a positive int, got True"),
    (dict(n_layer=2.0), "n_layer must be a positive int, got 2.0"),
    (dict(vocab_size=0), "vocab_size must be a positive int, got 0"),
    (dict(block_size=None), "block_size must be a positive int, got None"),
    (dict(pos="rope", rope_base=0), "rope_base must be a number > 0, got 0"),
    (dict(pos="rope", rope_base=-2.0), "rope_base must be a number > 0"),
    (dict(rope_base=NAN), "rope_base must be a finite number > 0, got nan"),
    (dict(dropout=NAN), r"dropout must be a finite number in \[0, 1\), got nan"),
    (dict(dropout=1.0), r"dropout must be a number in \[0, 1\), got 1.0"),
    (dict(bias=1), "bias must be True or False, got 1"),
    (dict(causal="yes"), "causal must be True or False, got 'yes'"),
    (dict(moe_aux_loss_weight=-0.1), "moe_aux_loss_weight must be a number >= 0"),
    (dict(mlp="moe", expert_top_k=True), "expert_top_k must be a positive int, got True"),
]


@pytest.mark.parametrize("fields, pattern", GPT_CONFIG_CASES)
def test_bad_gpt_config(fields, pattern):
    _expect(lambda: CONFIG.replace(**fields), ValueError, "invalid GPTConfig: .*" + pattern)


def test_gpt_config_from_a_list():
    _expect(lambda: GPTConfig.from_dict([1, 2]), TypeError, "GPTConfig is read from a dict")


# ------------------------------------------------------------------------------------- TrainConfig

TRAIN_CONFIG_CASES = [
    (dict(batch_size=0), "batch_size must be an int >= 1, got 0"),
    (dict(batch_size=True), "batch_size must be an int >= 1, got True"),
    (dict(eval_iters=0), "eval_iters must be an int >= 1, got 0"),
    (dict(max_iters=2.5), "max_iters must be an int >= 1, got 2.5"),
    (dict(warmup_iters=-1), "warmup_iters must be an int >= 0, got -1"),
    (dict(lr_decay_iters=0), "lr_decay_iters must be an int >= 1, got 0"),
    (dict(lr=NAN), "lr must be a finite number > 0, got nan"),
    (dict(lr=INF), "lr must be a finite number > 0, got inf"),
    (dict(lr=1e-3, min_lr=1e-2), "min_lr <= lr"),
    (dict(betas=(0.9,)), r"betas must be two numbers in \[0, 1\)"),
    (dict(betas=(0.9, 1.0)), r"betas\[1\] must be a number in \[0, 1\)"),
    (dict(seed=1.5), "seed must be an int, got 1.5"),
    (dict(grad_clip=-1.0), "grad_clip must be a number >= 0"),
    (dict(weight_decay=NAN), "weight_decay must be a finite number >= 0, got nan"),
    (dict(decay_frac=NAN), r"decay_frac must be in \(0, 1\], got nan"),
    (dict(muon_momentum=1.0), r"muon_momentum must be a number in \[0, 1\), got 1.0"),
    (dict(progress=1), "progress must be True or False, got 1"),
    (dict(target_val_loss=NAN), "target_val_loss must be a finite number, got nan"),
    (dict(device=None), "device must be a string, got None"),
]


@pytest.mark.parametrize("fields, pattern", TRAIN_CONFIG_CASES)
def test_bad_train_config(fields, pattern):
    _expect(lambda: TrainConfig(**fields), ValueError, "invalid TrainConfig: .*" + pattern)


# ------------------------------------------------------------------------------------- sampling

SAMPLING_CASES = [
    (dict(temperature=NAN), ValueError, "temperature must be a finite number >= 0"),
    (dict(temperature=INF), ValueError, "temperature must be a finite number >= 0"),
    (dict(temperature="0.8"), TypeError, "temperature must be a number >= 0"),
    (dict(top_k=True), TypeError, "top_k must be an int >= 1, got True"),
    (dict(top_k=2.7), TypeError, "top_k must be an int >= 1, got 2.7"),
    (dict(top_p=NAN), ValueError, r"top_p must be in \(0, 1\]"),
    (dict(repetition_penalty=NAN), ValueError, "repetition_penalty must be a finite number > 0"),
    (dict(repetition_penalty=True), TypeError, "repetition_penalty must be a number > 0"),
    (dict(max_new_tokens=2.0), TypeError, "max_new_tokens must be an int >= 0, got 2.0"),
    (dict(seed=1.5), TypeError, "seed must be an int, got 1.5"),
    (dict(prompt_ids=[1.5, 2.7]), TypeError, "prompt_ids must be a flat list of ints, got 1.5 .* position 0"),
    (dict(prompt_ids=[True, False]), TypeError, "prompt_ids must be a flat list of ints, got True"),
    (dict(prompt_ids=[3, 12]), ValueError, "id 12 at position 1 is outside the vocabulary \\(vocab_size 12"),
    (dict(prompt_ids=[-1]), ValueError, "id -1 at position 0 is outside the vocabulary \\(vocab_size 12"),
    (dict(prompt_ids=torch.tensor([1.0, 2.0])), TypeError, "prompt_ids must be a flat list of ints, got 1.0"),
    (dict(prompt_ids="abc"), TypeError, "prompt_ids must be a flat list of int ids"),
]


@pytest.mark.parametrize("settings, error, pattern", SAMPLING_CASES)
def test_bad_sampling_settings(model, settings, error, pattern):
    kwargs = {"prompt_ids": [1, 2], "max_new_tokens": 3, "temperature": 0.8, **settings}
    _expect(lambda: generate(model, **kwargs), error, pattern)


@pytest.mark.parametrize("settings, error, pattern",
                         [case for case in SAMPLING_CASES if not {"prompt_ids", "max_new_tokens"} & set(case[0])])
def test_bad_sampling_settings_are_refused_when_made(model, settings, error, pattern):
    _expect(lambda: SamplingSettings(**settings), error, pattern)
    _expect(lambda: stream(model, [1, 2], 3, **settings), error, pattern)  # at the call, before any token


@pytest.mark.parametrize("previous, error, pattern", [
    ([-1], ValueError, "previous_ids holds token id -1, outside the vocabulary \\(vocab_size 5"),
    ([0.5], TypeError, "previous_ids must be a flat list of int token ids"),
])
def test_repetition_penalty_refuses_ids_it_cannot_mean(previous, error, pattern):
    _expect(lambda: apply_repetition_penalty(torch.zeros(5), previous, 1.3), error, pattern)


def test_generate_with_nan_penalty_and_greedy_is_refused_not_run(model):
    _expect(lambda: generate(model, [1], 3, temperature=0, repetition_penalty=NAN), ValueError,
            "repetition_penalty must be a finite number")


# ------------------------------------------------------------------------------------- model, Trainer, data


@pytest.mark.parametrize("ids", [[[0, 12]], [[-3, 1]], [[1, 99]]])
def test_model_leaves_ids_to_their_entry_points_and_torch_still_refuses_a_bad_one(model, ids):
    """GPT.forward does not read the ids (their min and max would stall a GPU at every step): generate's
    prompt and the Trainer's data are checked where they enter (tests above and below). Called directly,
    as a learner might in a notebook, the model still fails on a CPU, in torch's embedding lookup."""
    with pytest.raises(IndexError, match="index out of range"):
        model(torch.tensor(ids))


def _train_config(**changes):
    return TrainConfig(**{"max_iters": 2, "batch_size": 2, "eval_iters": 1, "device": "cpu", "progress": False,
                          **changes})


@pytest.mark.parametrize("split", ["train_data", "val_data"])
def test_trainer_names_an_id_outside_the_vocabulary_before_training(split):
    data = {"train_data": torch.randint(0, 12, (100,)), "val_data": torch.randint(0, 12, (100,))}
    data[split][7] = 40
    _expect(lambda: Trainer(GPT(CONFIG), _train_config(), **data), ValueError,
            f"{split} holds token id 40, outside the vocabulary \\(vocab_size 12")


def test_trainer_fit_names_an_id_outside_the_vocabulary_from_a_batch_fn():
    def batch_fn(split, generator):
        x = torch.full((2, 16), 15)
        return x, x

    trainer = Trainer(GPT(CONFIG), _train_config(), batch_fn)
    _expect(trainer.fit, ValueError, "the batch_fn's train input holds token id 15, outside the vocabulary \\(vocab_size 12")


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(batch_size=2.5), TypeError, "batch_size must be an int >= 1, got 2.5"),
    (dict(block_size=True), TypeError, "block_size must be an int >= 1, got True"),
    (dict(batch_size=0), ValueError, "batch_size must be an int >= 1, got 0"),
])
def test_get_batch_checks_its_sizes(kwargs, error, pattern):
    args = {"batch_size": 2, "block_size": 4, **kwargs}
    _expect(lambda: get_batch(torch.arange(50), args["batch_size"], args["block_size"], torch.Generator()),
            error, pattern)


def test_train_val_split_refuses_nan():
    _expect(lambda: train_val_split(list(range(10)), NAN), ValueError, r"frac must be a finite number in \(0, 1\)")


def test_trainer_sample_zero_tokens_means_zero(model):
    trainer = Trainer(GPT(CONFIG), _train_config(), torch.randint(0, 12, (100,)), tokenizer=TOKENIZER)
    assert trainer.sample("ab", max_new_tokens=0) == "ab"  # not the config's sample_tokens


# ------------------------------------------------------------------------------------- tokenizers

BPE = BPETokenizer.train("hello world, hello tokens " * 20, 270, progress=False)

TOKENIZER_CASES = [
    (lambda: TOKENIZER.encode(None), TypeError, "text must be a str, got NoneType"),
    (lambda: TOKENIZER.encode(b"abc"), TypeError, "text must be a str, got bytes; decode it first"),
    (lambda: TOKENIZER.encode("ab\ud800"), ValueError, "lone surrogate '\\\\ud800' at position 2"),
    (lambda: TOKENIZER.decode([True, False]), TypeError, "must be a flat list of ints, got True"),
    (lambda: TOKENIZER.decode([1.0]), TypeError, "must be a flat list of ints, got 1.0"),
    (lambda: TOKENIZER.decode(None), TypeError, "must be a flat list of int ids"),
    (lambda: TOKENIZER.token_str(True), TypeError, "a token id must be an int, got True"),
    (lambda: CharTokenizer.from_text(None), TypeError, "text must be a str"),
    (lambda: BPE.encode(None), TypeError, "text must be a str, got NoneType"),
    (lambda: BPE.encode("\udfff"), ValueError, "lone surrogate"),
    (lambda: BPE.decode([2.0]), TypeError, "must be a flat list of ints, got 2.0"),
    (lambda: BPETokenizer.train("abc", 300.5, progress=False), TypeError, "vocab_size must be an int"),
    (lambda: tokenizer_from_dict({"type": "char"}), ValueError, "not a valid saved 'char' tokenizer: missing field"),
    (lambda: tokenizer_from_dict({"type": "char", "symbols": "abc", "unknown": None, "name": "c"}), ValueError,
     "symbols must be a list"),
    (lambda: tokenizer_from_dict({"type": "bpe", "merges": [[999, 1]], "special_tokens": [], "pattern": ".",
                                  "name": "b", "merge_counts": None}), ValueError, "uses an id not defined"),
]


@pytest.mark.parametrize("call, error, pattern", TOKENIZER_CASES)
def test_bad_tokenizer_input(call, error, pattern):
    _expect(call, error, pattern)


@pytest.mark.parametrize("content, pattern", [
    ("{not json", "tok.json is not a saved tokenizer: it is not valid JSON"),
    ('{"type": "char"}', "tok.json: not a valid saved 'char' tokenizer: missing field 'symbols'"),
    ('["char"]', "tok.json: not a saved tokenizer"),
])
def test_bad_tokenizer_file_names_the_file(tmp_path, content, pattern):
    (tmp_path / "tok.json").write_text(content)
    _expect(lambda: Tokenizer.load(tmp_path / "tok.json"), ValueError, pattern)


# ------------------------------------------------------------------------------------- checkpoints


@pytest.fixture
def saved(tmp_path, model):
    return save_checkpoint(tmp_path / "ckpt.safetensors", model, tokenizer=TOKENIZER, step=3,
                           history=[{"step": 3, "train_loss": 2.0, "val_loss": 2.1}])


def _rewrite_metadata(path, change):
    """Write ``path`` again with its metadata changed by ``change(meta)`` (tensors untouched)."""
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["minigpt"])
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    meta = change(meta)
    save_file(tensors, str(path), metadata={"minigpt": meta if isinstance(meta, str) else json.dumps(meta)})


def _with(**fields):
    return lambda meta: {**meta, **fields}


def _without(name):
    return lambda meta: {key: value for key, value in meta.items() if key != name}


METADATA_CASES = [
    (lambda meta: "[1, 2]", "has format 'list'"),
    (_with(format="v0"), "has format 'v0'"),
    (_without("tied"), r"malformed metadata: missing fields \['tied'\]"),
    (_with(model_class="Evil"), "model_class is 'Evil', expected one of"),
    (_with(model_config="x"), "model_config: a GPTConfig is read from a dict"),
    (_with(model_config={"evil": 1}), r"model_config: unknown GPTConfig fields \['evil'\]"),
    (lambda meta: {**meta, "model_config": {**meta["model_config"], "n_head": True}},
     "model_config: invalid GPTConfig: n_head must be a positive int, got True"),
    (_with(tied={"lm_head.weight": "nope"}), "tied must map weight names to stored weights"),
    (_with(tokenizer={"type": "char"}), "tokenizer: not a valid saved 'char' tokenizer"),
    (_with(tokenizer={"type": "evil"}), "tokenizer: not a saved tokenizer"),
    (_with(step=-1), "step is -1, expected an int >= 0"),
    (_with(step="3"), "step is '3', expected an int >= 0"),
    (_with(train_config=[1]), "train_config is a list, expected a dict or null"),
    (_with(history={"step": 1}), "history is a dict, expected a list of rows"),
    (_with(history=[{"step": 1, "val_loss": "low"}]), r"history row 0 has non-numbers in \['val_loss'\]"),
    (_with(history=[7]), "history row 0 is 7"),
    (_with(optimizer={"param_groups": 3}), "optimizer must hold a list of param_groups"),
    (_with(checksum=5), "checksum is 5, expected a string"),
]


@pytest.mark.parametrize("change, pattern", METADATA_CASES)
def test_malformed_metadata_is_one_error_naming_the_file(saved, change, pattern):
    _rewrite_metadata(saved, change)
    _expect(lambda: load_checkpoint(saved), ValueError, f"{saved}.*" + pattern)


def test_cli_info_on_malformed_metadata_is_one_line(saved, capsys):
    _rewrite_metadata(saved, _with(model_class="Evil"))
    assert main(["info", "--checkpoint", str(saved)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"minigpt info: error: checkpoint {saved} has malformed metadata: model_class is 'Evil'")
    assert err.count("\n") == 1


def _flip_tensor_bytes(path, count=40):
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")  # safetensors: u64 header length, JSON header, tensor bytes
    rng = np.random.default_rng(0)
    for offset in rng.choice(np.arange(header, len(data)), size=count, replace=False):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_tensor_bytes_fail_the_checksum(saved):
    _flip_tensor_bytes(saved)
    _expect(lambda: load_checkpoint(saved), ValueError,
            f"checkpoint {saved} is corrupt: its tensor data does not match the checksum.*verify=False")
    assert load_checkpoint(saved, verify=False).step == 3  # the opt-out, for speed or for rescue


def test_an_intact_checkpoint_passes_the_checksum(saved):
    assert load_checkpoint(saved).step == 3


def test_weights_missing_from_the_file_are_named(tmp_path, model, saved):
    with safe_open(str(saved), framework="pt") as f:
        metadata = f.metadata()
        tensors = {key: f.get_tensor(key) for key in f.keys() if not key.endswith("c_attn.weight")}
    meta = json.loads(metadata["minigpt"])
    meta["checksum"] = None
    save_file(tensors, str(saved), metadata={"minigpt": json.dumps(meta)})
    checkpoint = load_checkpoint(saved)
    _expect(checkpoint.build_model, ValueError, f"checkpoint {saved} holds weights that do not fit its own config")


def test_a_checkpoint_that_is_a_folder_or_under_a_file_is_refused_before_writing(tmp_path, model):
    (tmp_path / "file").write_text("x")
    _expect(lambda: save_checkpoint(tmp_path / "file" / "ckpt.safetensors", model), OSError,
            "cannot write checkpoint .*file/ckpt.safetensors")


# ------------------------------------------------------------------------------------- widgets (numpy only)


def _widget_cases():
    from widgets import AttentionView, EmbeddingSpace3D, PositionalEncodingView, SamplingExplorer, TrainingDashboard

    logits = sampling_stages_of(np.arange(5.0))  # the explorer's settings are checked by the package's stages
    weights = np.tril(np.ones((1, 1, 3, 3)))
    weights /= weights.sum(-1, keepdims=True)
    space = EmbeddingSpace3D(np.eye(4), list("abcd"))
    return [
        (lambda: SamplingExplorer(logits, top_k=2.7), TypeError, "top_k .*must be an int >= 1, got 2.7"),
        (lambda: SamplingExplorer(logits, temperature=NAN), ValueError, "temperature .*finite number >= 0"),
        (lambda: SamplingExplorer(logits, top_p=1.5), ValueError, r"top_p must be in \(0, 1\]"),
        (lambda: SamplingExplorer(logits, repetition_penalty=-1.0), ValueError, "repetition_penalty .*> 0"),
        (lambda: SamplingExplorer(logits, previous_ids=[-1]), ValueError,
         "previous_ids: id -1 at position 0 is outside the vocabulary \\(vocab_size 5"),
        (lambda: SamplingExplorer(logits, previous_ids=[1.5]), TypeError, "previous_ids must be a flat list of ints, got 1.5"),
        (lambda: SamplingExplorer(logits, show=0), ValueError, "show must be an int >= 1, got 0"),
        (lambda: positional_tables(rope_base=0), ValueError, "rope_base must be a number > 0, got 0"),
        (lambda: positional_tables(rope_base=NAN), ValueError, "rope_base must be a finite number > 0"),
        (lambda: positional_tables(max_len=2.5), TypeError, "max_len must be an int >= 2, got 2.5"),
        (lambda: positional_tables(dim=31), ValueError, "dim must be even"),
        (lambda: positional_tables(n_heads=0), ValueError, "n_heads must be an int >= 1, got 0"),
        (lambda: PositionalEncodingView({"sinusoidal": np.zeros((4, 2))}), ValueError,
         r"tables lacks \['rope_cos', .*make them with minigpt.positional_views.positional_tables"),
        (lambda: AttentionView(list("abc"), weights, thumb_size=0), ValueError, "thumb_size .*must be an int >= 1"),
        (lambda: AttentionView(list("abc"), weights, query=1.5), ValueError, r"query must be an int in \[0, 2\], got 1.5"),
        (lambda: AttentionView(list("abc"), weights, log_scale="yes"), TypeError, "log_scale must be True or False"),
        (lambda: TrainingDashboard(min_interval=NAN), ValueError, "min_interval .*finite number >= 0"),
        (lambda: space.analogy("a", "b", "c", k=0), ValueError, "k .*must be an int >= 1, got 0"),
    ]


@pytest.mark.parametrize("index", range(18))
def test_bad_widget_arguments(index):
    call, error, pattern = _widget_cases()[index]
    _expect(call, error, pattern)


# ------------------------------------------------------------------------------------- command line


@pytest.mark.parametrize("argv, pattern", [
    (["train", "--recipe", "tiny", "--batch-size", "0"], "argument --batch-size: must be a whole number >= 1, got '0'"),
    (["train", "--recipe", "tiny", "--eval-iters", "0"], "argument --eval-iters: must be a whole number >= 1"),
    (["train", "--recipe", "tiny", "--max-iters", "-5"], "argument --max-iters: must be a whole number >= 1"),
    (["train", "--recipe", "tiny", "--batch-size", "2.5"], "argument --batch-size: must be a whole number"),
    (["sample", "--checkpoint", "x", "--max-new-tokens", "-1"], "argument --max-new-tokens: must be a whole number >= 0"),
])
def test_cli_counts_refuse_zero_and_negatives(argv, pattern, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert pattern in err and err.count("\n") == 1


@pytest.mark.parametrize("options, pattern", [
    (["--temperature", "nan"], "temperature must be a finite number >= 0"),
    (["--repetition-penalty", "nan", "--temperature", "0"], "repetition_penalty must be a finite number > 0"),
    (["--top-p", "nan"], r"top_p must be in (0, 1]"),
    (["--seed", "-1"], None),  # any int seed is fine
])
def test_cli_sample_refuses_nan_settings_in_one_line(saved, options, pattern, capsys):
    code = main(["sample", "--checkpoint", str(saved), "--prompt", "ab", "--max-new-tokens", "2", *options])
    err = capsys.readouterr().err
    if pattern is None:
        assert code == 0 and err == ""
    else:
        assert code == 2 and pattern in err and err.count("\n") == 1


def test_cli_train_checks_out_before_anything_else(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run.safetensors"
    assert main(["train", "--recipe", "tiny", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minigpt train: error: --out: cannot write checkpoint") and f"{tmp_path / 'file'} is a file" in err
    assert ".tmp" not in err  # names --out, not a temporary file


def test_cli_train_checks_the_resume_checkpoint_before_training(tmp_path, capsys):
    code = main(["train", "--recipe", "tiny", "--out", str(tmp_path / "run.safetensors"),
                 "--resume", str(tmp_path / "missing.safetensors"), "--no-progress"])
    assert code == 2 and "no checkpoint at" in capsys.readouterr().err
    assert not (tmp_path / "run.safetensors").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_train_checks_the_device_before_training(tmp_path, capsys):
    assert main(["train", "--recipe", "tiny", "--device", "cuda", "--out", str(tmp_path / "r.safetensors")]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- every tool, as a process

GPT2_TOKENIZER_CACHED = os.path.isdir(os.environ.get("TIKTOKEN_CACHE_DIR", "/nonexistent"))
CLOSED_STDOUT = "stdout closed"  # the command runs as `... >&-`: Python then has no sys.stdout
NOTEBOOK_ON_STDIN = "/proc/self/fd/0"  # the notebook, opened on stdin: found, readable, in no folder one can write

TOOL_CASES = [  # (python -m <argv>, what stderr says, how it runs): a bad path, an unwritable output, a corrupt input
    (["minigpt", "train", "--data", "missing.txt"], "minigpt train: error: --data missing.txt: no such file", ""),
    (["minigpt", "train", "--data", ""], "minigpt train: error: argument --data: the path is empty", ""),
    (["minigpt", "train", "--recipe", "tiny", "--out", "file/run.safetensors"], "--out: cannot write checkpoint", ""),
    (["minigpt", "train", "--recipe", "tiny", "--out", "/proc/x/run.safetensors"], "--out: cannot write checkpoint",
     ""),
    (["minigpt", "train", "--data", "latin1.txt", "--no-progress"], "latin1.txt is not UTF-8 text: byte 3 (0xe9)",
     ""),
    (["minigpt", "train", "--recipe", "tiny", "--resume", "garbage.safetensors"], "truncated or corrupt", ""),
    pytest.param(["minigpt", "train", "--data", "notes.txt", "--init-from", "garbage.safetensors",
                  "--no-progress"],
                 "--init-from garbage.safetensors is not a readable .safetensors file", "",
                 marks=pytest.mark.skipif(not GPT2_TOKENIZER_CACHED, reason="needs tiktoken's gpt2 files offline")),
    (["minigpt", "sample", "--checkpoint", "missing.safetensors"], "no checkpoint at missing.safetensors", ""),
    (["minigpt", "sample", "--checkpoint", "garbage.safetensors"], "minigpt sample: error: standard output is closed",
     CLOSED_STDOUT),
    (["minigpt", "sample", "--checkpoint", "garbage.safetensors"], "garbage.safetensors is truncated or corrupt", ""),
    (["minigpt", "info", "--checkpoint", ""], "minigpt info: error: argument --checkpoint: the path is empty", ""),
    (["minigpt", "info", "--checkpoint", "garbage.safetensors"], "minigpt info: error: standard output is closed",
     CLOSED_STDOUT),
    (["minigpt", "info", "--checkpoint", "garbage.safetensors"], "garbage.safetensors is truncated or corrupt", ""),
    (["minigpt.course.editions", "solutions", "--notebooks", "missing"], "--notebooks missing is not a folder", ""),
    (["minigpt.course.editions", "solutions", "03", "--notebooks", "course"], "no notebook in course starts with 03",
     ""),
    (["minigpt.course.editions", "solutions", "03", "--out", "file"], "--out file: file is a file, not a folder", ""),
    (["minigpt.course.editions", "solutions", "03", "--out", "file/solutions"], "file is a file, not a folder", ""),
    (["minigpt.course.editions", "solutions", "03", "--out", "/proc/x"], "cannot write /proc/x: ", ""),
    (["minigpt.course.editions", "solutions", "--notebooks", "broken_course", "--out", "out"],
     "broken_course/02_broken.ipynb is not a Jupyter notebook (Notebook does not appear to be JSON", ""),
    (["widgets.tools.export", "missing.ipynb"], "widgets.tools.export: error: missing.ipynb not found", ""),
    (["widgets.tools.export", "small.ipynb", "file/small.html"], "cannot write file/small.html: Not a directory", ""),
    (["widgets.tools.export", "small.ipynb", "/proc/x.html"], "cannot write /proc/x.html", ""),
    (["widgets.tools.export", "small.ipynb", "small.ipynb"], "small.ipynb would overwrite a notebook with HTML", ""),
    (["widgets.tools.export", "small.ipynb", "copy.ipynb"], "copy.ipynb would overwrite a notebook with HTML; give "
                                                            "an .html file, e.g. small.html", ""),
    (["widgets.tools.export", "broken.ipynb"], "widgets.tools.export: error: broken.ipynb is not a Jupyter notebook",
     ""),
    (["widgets.tools.store", "missing.ipynb"], "widgets.tools.store: error: missing.ipynb not found", ""),
    (["widgets.tools.store", NOTEBOOK_ON_STDIN], f"widgets.tools.store: error: cannot write {NOTEBOOK_ON_STDIN}", ""),
    (["widgets.tools.store", "small.ipynb", "broken.ipynb"],
     "widgets.tools.store: error: broken.ipynb is not a Jupyter notebook", ""),
]


@pytest.fixture
def bad_files(tmp_path):
    """A folder of things to pass: a regular file (no folder can be under it), a checkpoint that is not one,
    text that is not UTF-8, a notebook with no views (nothing to draw), a notebook that is not one, and two
    small courses: one notebook, and one notebook plus a broken one."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "garbage.safetensors").write_text("not a checkpoint")
    (tmp_path / "latin1.txt").write_bytes("café au lait ".encode("latin-1") * 100)
    (tmp_path / "notes.txt").write_text("some notes of my own, to fine-tune on " * 50)
    notebook = new_notebook(cells=[new_markdown_cell("# A small notebook"), new_code_cell("print(1 + 1)")])
    nbformat.write(notebook, tmp_path / "small.ipynb")
    (tmp_path / "broken.ipynb").write_text("not a notebook")
    for course, broken in (("course", False), ("broken_course", True)):
        (tmp_path / course).mkdir()
        nbformat.write(notebook, tmp_path / course / "01_intro.ipynb")
        if broken:
            (tmp_path / course / "02_broken.ipynb").write_text("not a notebook")
    return tmp_path


def run_tool(argv: list[str], cwd, how: str = "") -> subprocess.CompletedProcess:
    """``python -m <argv>`` in ``cwd``, its stderr captured; ``how`` closes its stdout or gives it a notebook."""
    command = [sys.executable, "-m", *argv]
    if how == CLOSED_STDOUT:
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    with open(cwd / "small.ipynb") as stdin:
        return subprocess.run(command, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=300)


@pytest.mark.parametrize("argv, message, how", TOOL_CASES,
                         ids=lambda value: " ".join(value) if isinstance(value, list) else value[:13])
def test_every_tool_refuses_a_bad_input_in_one_line(bad_files, argv, message, how):
    files_before = {path: path.read_bytes() for path in bad_files.rglob("*") if path.is_file()}
    result = run_tool(argv, bad_files, how)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    if argv[0] != "minigpt":  # the notebook tools found it before writing anything
        assert {path: path.read_bytes() for path in bad_files.rglob("*") if path.is_file()} == files_before


# ------------------------------------------------------------------------------------- properties

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3), st.lists(st.integers(0, 3), max_size=2),
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(field=st.sampled_from(["n_layer", "n_head", "n_embd", "dropout", "rope_base", "bias", "mlp_ratio",
                              "moe_aux_loss_weight", "causal"]), value=ANY_VALUE)
def test_gpt_config_accepts_only_well_typed_values(field, value):
    base = GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=8, pos="rope")
    try:
        config = base.replace(**{field: value})
    except ValueError as error:
        assert str(error).startswith("invalid GPTConfig: ") and field in str(error)
        return
    kept = getattr(config, field)
    if field in ("bias", "causal"):
        assert kept is value
    elif field in ("n_layer", "n_head", "n_embd", "mlp_ratio"):
        assert type(kept) is int and kept >= 1
    else:
        assert type(kept) in (int, float) and math.isfinite(kept) and kept >= 0


@FAST
@given(field=st.sampled_from(["max_iters", "batch_size", "eval_iters", "warmup_iters", "lr", "min_lr",
                              "grad_clip", "seed", "decay_frac", "compile"]), value=ANY_VALUE)
def test_train_config_accepts_only_well_typed_values(field, value):
    try:
        config = TrainConfig(**{field: value})
    except ValueError as error:
        assert str(error).startswith("invalid TrainConfig: ") and (field in str(error) or "lr" in str(error))
        return
    kept = getattr(config, field)
    assert not isinstance(kept, float) or math.isfinite(kept)
    assert isinstance(kept, bool) == (field == "compile")


SETTING = st.one_of(st.none(), st.booleans(), st.integers(-2, 20), st.floats(allow_nan=True, allow_infinity=True))


@FAST
@given(temperature=SETTING, top_k=SETTING, top_p=SETTING, penalty=SETTING)
def test_sampling_settings_work_or_name_the_setting(model, temperature, top_k, top_p, penalty):
    try:
        ids = generate(model, [1, 2], 2, temperature=temperature, top_k=top_k, top_p=top_p,
                       repetition_penalty=penalty, seed=0)
    except ValueError as error:  # a wrong type is a WrongType: a ValueError and a TypeError
        assert any(name in str(error) for name in ("temperature", "top_k", "top_p", "repetition_penalty"))
        return
    assert len(ids) == 4 and all(type(i) is int and 0 <= i < CONFIG.vocab_size for i in ids)
    assert not isinstance(temperature, bool) and math.isfinite(temperature) and temperature >= 0


@FAST
@given(temperature=SETTING, top_k=SETTING, top_p=SETTING, penalty=SETTING)
def test_sampling_explorer_settings_work_or_name_the_setting(temperature, top_k, top_p, penalty):
    from widgets import SamplingExplorer

    try:
        view = SamplingExplorer(sampling_stages_of(np.arange(6.0)), previous_ids=[1], temperature=temperature,
                                top_k=top_k, top_p=top_p, repetition_penalty=penalty)
    except (TypeError, ValueError) as error:
        assert any(name in str(error) for name in ("temperature", "top_k", "top_p", "repetition_penalty"))
        return
    for probs in view.stages().values():
        assert np.isfinite(probs).all() and abs(probs.sum() - 1) < 1e-6


@FAST
@given(text=st.text(max_size=40))
def test_tokenizers_round_trip_any_text_or_name_the_surrogate(text):
    try:
        ids = BPE.encode(text)
    except ValueError as error:
        assert "lone surrogate" in str(error)
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return
    assert BPE.decode(ids) == text
    char = CharTokenizer.from_text(text + "a", unknown="?") if text else TOKENIZER
    assert all(0 <= i < char.vocab_size for i in char.encode(text))


@FAST
@given(ids=st.lists(st.one_of(st.integers(-5, 300), st.booleans(), st.floats(-1, 300)), max_size=6))
def test_decode_takes_only_ids_in_the_vocabulary(ids):
    valid = all(type(i) is int and 0 <= i < BPE.vocab_size for i in ids)
    try:
        BPE.decode(ids)
    except (TypeError, ValueError) as error:
        assert not valid
        assert "ints" in str(error) or "out of range" in str(error)
        return
    assert valid


@FAST
@given(value=ANY_VALUE)
def test_check_helpers_never_let_nan_bool_or_float_through(value):
    for check in (lambda v: require_int(v, "n", 0), lambda v: require_number(v, "x")):
        try:
            result = check(value)
        except (TypeError, ValueError):
            continue
        assert not isinstance(value, bool) and not (isinstance(value, float) and not math.isfinite(value))
        assert type(result) in (int, float)
    try:
        require_ids([value], 10)
    except (TypeError, ValueError):
        assert not (type(value) is int and 0 <= value < 10)
    else:
        assert type(value) is int and 0 <= value < 10
    require_id_tensor(torch.tensor([0, 9]), 10)


# ------------------------------------------------------------------------------------- handled correctly


def test_a_trainer_without_a_tokenizer_resumes_with_the_checkpoints(tmp_path):
    data = torch.randint(0, 12, (200,), generator=torch.Generator().manual_seed(0))
    first = Trainer(GPT(CONFIG), _train_config(), data, tokenizer=TOKENIZER)
    first.fit()
    first.save(tmp_path / "ckpt.safetensors")
    resumed = Trainer(GPT(CONFIG), _train_config(max_iters=3), data)  # no tokenizer given
    resumed.load(tmp_path / "ckpt.safetensors")
    resumed.fit()
    resumed.save(tmp_path / "ckpt.safetensors")
    assert load_checkpoint(tmp_path / "ckpt.safetensors").tokenizer.to_dict() == TOKENIZER.to_dict()


def test_ids_may_come_as_any_iterable_of_ints(model):
    assert generate(model, range(1, 3), 1, temperature=0)[:2] == [1, 2]
    assert generate(model, (i for i in [1, 2]), 1, temperature=0)[:2] == [1, 2]
    assert generate(model, np.array([1, 2]), 1, temperature=0)[:2] == [1, 2]


def test_trainer_checks_out_before_the_first_step(tmp_path):
    (tmp_path / "file").write_text("x")
    trainer = Trainer(GPT(CONFIG), _train_config(out=str(tmp_path / "file" / "c.safetensors")),
                      torch.randint(0, 12, (100,)))
    _expect(trainer.fit, OSError, "cannot write checkpoint .*file is a file, not a folder")
    assert trainer.step == 0  # nothing was spent


def test_a_stop_request_ends_fit_after_the_current_step_and_skips_a_pending_evaluation():
    class StopAfterTwo:
        def on_step(self, trainer, info):
            trainer.stop_requested = trainer.step >= 2

    trainer = Trainer(GPT(CONFIG), _train_config(max_iters=50, eval_interval=2),
                      torch.randint(0, 12, (100,)), callbacks=[StopAfterTwo()])
    trainer.fit()
    assert trainer.step == 2 and trainer.history.column("eval_train_loss") == []  # no half-measured loss
