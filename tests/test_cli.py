"""Command line: train a recipe, sample and describe its checkpoint; readable one-line errors."""

import subprocess
import sys

import pytest

from minigpt.cli import main


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
