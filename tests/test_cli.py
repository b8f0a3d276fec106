"""Command line: train a recipe, sample and describe its checkpoint; readable one-line errors."""

import os
import subprocess
import sys

import pytest
import torch

from minigpt import cli
from minigpt.cli import EXIT_BROKEN_PIPE, error_message, main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny.safetensors"
    assert main(["train", "--recipe", "tiny", "--device", "cpu", "--max-iters", "6", "--batch-size", "4",
                 "--eval-iters", "2", "--out", str(out), "--no-progress"]) == 0
    return out


def test_train_writes_a_checkpoint(trained):
    assert trained.is_file()


def test_sample_prints_the_prompt_and_new_text(trained, capsys):
    assert main(["sample", "--checkpoint", str(trained), "--prompt", "ROMEO:", "--max-new-tokens", "20",
                 "--temperature", "0.8", "--top-k", "10", "--top-p", "0.9", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 20 + 1
    main(["sample", "--checkpoint", str(trained), "--prompt", "ROMEO:", "--max-new-tokens", "20",
          "--temperature", "0.8", "--top-k", "10", "--top-p", "0.9", "--seed", "1"])
    assert capsys.readouterr().out == text  # the seed makes it reproducible


def test_info_describes_the_checkpoint(trained, capsys):
    assert main(["info", "--checkpoint", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "GPT" in out and "n_layer=2" in out and "char, 65 tokens" in out and "step         6" in out
    assert "val loss" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["info"], "minigpt info: error: the following arguments are required: --checkpoint (see --help)\n"),
        (["train", "--recipe", "nope"], "minigpt train: error: argument --recipe: invalid choice: 'nope'"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_code_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["info"]])
def test_help_for_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    assert "usage: minigpt" in capsys.readouterr().out


def test_errors_from_the_real_command_are_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "minigpt", "sample", "--checkpoint", "missing.safetensors"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("minigpt sample: error: no checkpoint at missing.safetensors")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "option, message",
    [
        (["--temperature", "-1"], "temperature must be a number >= 0"),
        (["--top-p", "1.5"], r"top_p must be in (0, 1]"),
        (["--top-k", "0"], "top_k must be an int >= 1"),
        (["--prompt", ""], "the prompt is empty"),
    ],
)
def test_bad_sampling_settings_give_a_readable_error(trained, option, message, capsys):
    assert main(["sample", "--checkpoint", str(trained), *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minigpt sample: error: ") and message in err and err.count("\n") == 1


def run_minigpt(*argv, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minigpt", *argv], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_a_message_written_to_be_followed_is_printed_whole(tmp_path):
    """A corpus that cannot be had says where it belongs, where to get it and how to put it there, over several
    lines: the command line printed only the first of them."""
    (tmp_path / "tinyshakespeare.txt").write_text("not the corpus")
    env = {**os.environ, "MINIGPT_DATA_DIR": str(tmp_path), "MINIGPT_CACHE_DIR": str(tmp_path / "cache")}
    result = run_minigpt("train", "--recipe", "tiny", "--out", "run.safetensors", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("minigpt train: error: Could not load corpus 'tinyshakespeare': ")
    for line in (f"  expected file: {tmp_path / 'tinyshakespeare.txt'}", "  download URL:  https://",
                 "To fix it by hand", "set MINIGPT_DATA_DIR to that folder"):
        assert line in result.stderr


def test_only_the_first_line_of_a_message_minigpt_did_not_write():
    assert error_message(RuntimeError("what went wrong\n  and a page of a library's details")) == "what went wrong"
    assert error_message(KeyError("n_layer")) == "n_layer" and error_message(OSError()) == "OSError"


def test_a_reader_that_stops_early_ends_the_sample_quietly(trained, tmp_path):
    """``minigpt sample ... | head -c 10``: no "Broken pipe" error, the status a tool ended by SIGPIPE has."""
    process = subprocess.Popen([sys.executable, "-m", "minigpt", "sample", "--checkpoint", str(trained),
                                "--max-new-tokens", "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=tmp_path)
    try:
        assert len(process.stdout.read(10)) == 10
        process.stdout.close()  # what `head -c 10` does once it has its ten bytes
        assert process.wait(timeout=300) == EXIT_BROKEN_PIPE == 141
        assert process.stderr.read() == b""
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("options, message", [
    (["--max-iters", "5", "--set", "max_iters=9"],
     "--max-iters and --set max_iters=9 both set max_iters; give it once, with --max-iters"),
    (["--device", "cpu", "--set", "device=meta"], "--device and --set device=meta both set device; give it once, "
                                                  "with --device"),
    (["--seed", "1", "--set", "seed=2"], "--seed and --set seed=2 both set seed"),
    (["--no-progress", "--set", "progress=true"], "--no-progress and --set progress=True both set progress"),
    (["--set", "vocab_size=100"], "--set vocab_size: the tokenizer sets the vocabulary size and always wins; choose "
                                  "the tokenizer instead, with --data PATH --tokenizer char|bpe:N|gpt2"),
])
def test_a_setting_given_twice_is_refused_not_overridden(tmp_path, options, message):
    result = run_minigpt("train", "--recipe", "tiny", "--out", "run.safetensors", *options, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(f"minigpt train: error: {message}")
    assert result.stderr.count("\n") == 1


def test_a_setting_given_once_by_set_is_kept():
    from minigpt.cli import _train_config, build_parser
    from minigpt.recipes import get_recipe

    args = build_parser().parse_args(["train", "--recipe", "tiny"])
    recipe = get_recipe("tiny").train
    config = _train_config(recipe, {"max_iters": 7, "device": "cpu", "progress": False}, args, "out.safetensors")
    assert (config.max_iters, config.lr_decay_iters, config.device, config.progress) == (7, 7, "cpu", False)
    assert _train_config(recipe, {}, args, "out.safetensors").progress  # the recipe's: on


@pytest.mark.parametrize("error, where", [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "GPU"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried"), "CPU"),
    (MemoryError(), "CPU"),
])
def test_running_out_of_memory_is_named_with_what_to_change(monkeypatch, capsys, error, where):
    def run_out(_args):
        raise error

    monkeypatch.setattr(cli, "_info", run_out)
    assert main(["info", "--checkpoint", "x.safetensors"]) == 2
    message = capsys.readouterr().err
    assert message.startswith(f"minigpt info: error: out of {where} memory; make the run smaller: --batch-size")
    assert message.count("\n") == 1


@pytest.mark.parametrize("bug", [TypeError("unsupported operand"), KeyError("n_embd"), RuntimeError("shape mismatch"),
                                 AttributeError("no attribute 'x'")])
def test_a_bug_keeps_its_traceback_instead_of_becoming_one_line(monkeypatch, bug):
    def broken(_args):
        raise bug

    monkeypatch.setattr(cli, "_info", broken)
    with pytest.raises(type(bug)):
        main(["info", "--checkpoint", "x.safetensors"])
