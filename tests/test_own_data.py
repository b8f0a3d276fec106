"""Training on your own text from the command line (issue 21): --data, --tokenizer, --set, --resume,
--init-from, the one-line errors, and the memory-mapped token cache."""

import json
from itertools import chain

import numpy as np
import pytest
import torch

from minigpt.checkpoint import load_checkpoint
from minigpt.cli import _prepare_training, build_parser, main
from minigpt.data.tokens import MemmapBatches, encode_stream, fingerprint, safe_cut, token_cache
from minigpt.tokenizers import BPETokenizer, CharTokenizer, TiktokenTokenizer

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 12
SMALL = ["--max-iters", "4", "--batch-size", "2", "--eval-iters", "1", "--no-progress", "--device", "cpu",
         "--set", "block_size=16", "--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2"]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("MINIGPT_CACHE_DIR", str(folder))
    return folder / "tokens"


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "my.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def train(data, out, *options):
    return main(["train", "--data", str(data), "--out", str(out), *SMALL, *options])


def one_line_error(capsys, code):
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


# -- the CLI paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tokenizer, kind", [("char", "char"), ("bpe:20", "bpe")])
def test_train_sample_info_on_a_file(text_file, tmp_path, capsys, tokenizer, kind):
    out = tmp_path / "run.safetensors"
    assert train(text_file, out, "--tokenizer", tokenizer) == 0
    checkpoint = load_checkpoint(out)
    assert checkpoint.step == 4 and checkpoint.config.block_size == 16 and checkpoint.config.n_layer == 1
    assert checkpoint.tokenizer.to_dict()["type"] == kind
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(out), "--prompt", "First", "--max-new-tokens", "8", "--seed", "0"]) == 0
    assert capsys.readouterr().out.startswith("First")
    assert main(["info", "--checkpoint", str(out)]) == 0
    assert f"tokenizer={tokenizer}" in capsys.readouterr().out


def test_train_on_a_folder_of_txt_files(tmp_path):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(TEXT[:900], encoding="utf-8")
    (folder / "sub" / "b.txt").write_text(TEXT[900:], encoding="utf-8")
    (folder / "notes.md").write_bytes(b"\xff not text, not read")
    assert train(folder, tmp_path / "run.safetensors", "--tokenizer", "char") == 0


def test_set_reaches_both_configs_and_checks_values(text_file, tmp_path, capsys):
    out = tmp_path / "run.safetensors"
    assert train(text_file, out, "--set", "lr=2e-3", "--set", "pos=rope", "--set", "betas=0.9,0.95") == 0
    checkpoint = load_checkpoint(out)
    assert checkpoint.config.pos == "rope" and checkpoint.train_config["lr"] == 2e-3
    assert checkpoint.train_config["betas"] == [0.9, 0.95]
    err = one_line_error(capsys, train(text_file, out, "--set", "n_layer=two"))
    assert "n_layer must be a whole number" in err
    err = one_line_error(capsys, train(text_file, out, "--set", "lr=-1"))
    assert "lr" in err and "invalid TrainConfig" in err
    err = one_line_error(capsys, train(text_file, out, "--set", "colour=blue"))
    assert "no such setting" in err


def test_resume_on_own_data_is_bit_identical(text_file, tmp_path):
    straight, split = tmp_path / "straight.safetensors", tmp_path / "split.safetensors"
    assert train(text_file, straight, "--tokenizer", "bpe:20") == 0
    args = build_parser().parse_args(["train", "--data", str(text_file), "--out", str(split), *SMALL,
                                      "--tokenizer", "bpe:20"])
    trainer, _ = _prepare_training(args)
    trainer.fit(steps=2)
    trainer.save(split)
    assert train(text_file, split, "--resume", str(split)) == 0  # the tokenizer comes from the checkpoint
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert b.step == 4
    assert all(torch.equal(a.model_state[k], b.model_state[k]) for k in a.model_state)


def test_init_from_a_local_gpt2_folder(text_file, tmp_path, capsys):
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=50257, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path / "tiny-gpt2")
    out = tmp_path / "tuned.safetensors"
    options = ["--max-iters", "2", "--batch-size", "2", "--eval-iters", "1", "--no-progress", "--device", "cpu"]
    assert main(["train", "--data", str(text_file), "--init-from", str(tmp_path / "tiny-gpt2"), "--out", str(out),
                 *options]) == 0
    checkpoint = load_checkpoint(out)
    assert isinstance(checkpoint.tokenizer, TiktokenTokenizer) and checkpoint.config.n_embd == 16
    assert main(["sample", "--checkpoint", str(out), "--max-new-tokens", "3", "--seed", "0"]) == 0
    (tmp_path / "tiny-gpt2" / "model.safetensors").unlink()  # resuming a fine-tune needs only the checkpoint
    assert main(["train", "--data", str(text_file), "--init-from", str(tmp_path / "tiny-gpt2"), "--out", str(out),
                 "--resume", str(out), *options, "--max-iters", "3"]) == 0
    assert load_checkpoint(out).step == 3
    capsys.readouterr()
    err = one_line_error(capsys, main(["train", "--data", str(text_file), "--init-from", str(tmp_path / "tiny-gpt2"),
                                       "--tokenizer", "char", "--out", str(out), *options]))
    assert "GPT-2's tokenizer" in err


# -- bad input: one line, exit 2 ---------------------------------------------------------------------


def test_non_utf8_file_names_the_byte_offset(tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes(TEXT[:100].encode() + "café".encode("latin-1") + b"\n" * 50)
    err = one_line_error(capsys, train(path, tmp_path / "r.safetensors"))
    assert "not UTF-8" in err and "byte 103" in err


def test_text_shorter_than_two_context_windows(tmp_path, capsys):
    path = tmp_path / "short.txt"
    path.write_text("hello world\n", encoding="utf-8")
    err = one_line_error(capsys, train(path, tmp_path / "r.safetensors"))
    assert "the text has 12 tokens, fewer than the" in err and "(block_size + 2 for training and as many for validation)" in err
    assert "use more text or a smaller block_size (at most 4 for this text)" in err


def test_unknown_character_when_sampling_a_char_checkpoint(text_file, tmp_path, capsys):
    out = tmp_path / "run.safetensors"
    assert train(text_file, out, "--tokenizer", "char") == 0
    capsys.readouterr()
    err = one_line_error(capsys, main(["sample", "--checkpoint", str(out), "--prompt", "Zebra €"]))
    assert "not in the vocabulary" in err and "'€'" in err


def test_resume_refuses_another_data_set_or_tokenizer(text_file, tmp_path, capsys):
    out = tmp_path / "run.safetensors"
    assert train(text_file, out, "--tokenizer", "char") == 0
    other = tmp_path / "other.txt"
    other.write_text(TEXT.replace("speak", "shout"), encoding="utf-8")
    options = ["--resume", str(out), "--max-iters", "8"]
    err = one_line_error(capsys, train(other, tmp_path / "r.safetensors", *options))
    assert "different data set" in err
    err = one_line_error(capsys, train(text_file, tmp_path / "r.safetensors", "--tokenizer", "bpe:20", *options))
    assert "--tokenizer char, not bpe:20" in err
    err = one_line_error(capsys, main(["train", "--recipe", "tiny", "--out", str(tmp_path / "r.safetensors"),
                                       "--resume", str(out), "--no-progress"]))
    assert "--data" in err


# -- the token cache --------------------------------------------------------------------------------


def test_cache_is_reused_and_re_encoded_after_an_edit(text_file, cache):
    tokenizer = CharTokenizer.from_text(TEXT + "!")
    first = token_cache(text_file, tokenizer, progress=False)
    assert first.ids().dtype == np.uint16
    assert first.ids().tolist() == tokenizer.encode(TEXT)
    mtime = first.bin_path.stat().st_mtime_ns
    again = token_cache(text_file, tokenizer, progress=False)
    assert again.bin_path == first.bin_path and again.bin_path.stat().st_mtime_ns == mtime  # not rewritten
    text_file.write_text(TEXT + "!", encoding="utf-8")
    edited = token_cache(text_file, tokenizer, progress=False)
    assert edited.bin_path != first.bin_path and edited.ids().tolist() == tokenizer.encode(TEXT + "!")
    assert json.loads(edited.bin_path.with_suffix(".json").read_text())["data_sha256"] == fingerprint(text_file)
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temp file left


def test_an_interrupted_encode_leaves_no_entry_and_no_temp_file(text_file, cache):
    class Failing(CharTokenizer):
        def encode(self, text):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        token_cache(text_file, Failing(sorted(set(TEXT))), progress=False)
    assert list(cache.iterdir()) == []


def test_streaming_encode_equals_whole_text_encode(monkeypatch, text_file):
    import minigpt.data.tokens as tokens

    text = TEXT + "  indented\n\n\nend.\n<|endoftext|>next é ü 中文\n  \n"
    text_file.write_text(text, encoding="utf-8")
    monkeypatch.setattr(tokens, "READ_BYTES", 7)  # tiny reads: many cuts, characters split across reads
    bpe = BPETokenizer.train(TEXT, 256 + 40 + 1, progress=False)
    for tokenizer in (CharTokenizer.from_text(text), bpe, TiktokenTokenizer("gpt2")):
        ids = token_cache(text_file, tokenizer, progress=False).ids()
        assert ids.tolist() == tokenizer.encode(text)
        pieces = [text[i:i + 5] for i in range(0, len(text), 5)]
        assert list(chain(*encode_stream(pieces, tokenizer))) == tokenizer.encode(text)


def test_safe_cut_is_after_a_newline_before_a_non_space():
    assert safe_cut("ab\ncd\n\n  e") == 3
    assert safe_cut("a.\nB\n\nC") == 3
    assert safe_cut("no newline") == 0
    assert safe_cut("x\n\n") == 0


def test_memmap_batches_are_windows_of_the_array():
    ids = np.arange(200, dtype=np.uint16)
    batches = MemmapBatches(ids, batch_size=3, block_size=8)
    x, y = batches("train", torch.Generator().manual_seed(0))
    assert x.dtype == torch.long and x.shape == (3, 8) and torch.equal(x[:, 1:], y[:, :-1])
    assert int(x.max()) < 180
    xv, _ = batches("val", torch.Generator().manual_seed(0))
    assert int(xv.min()) >= 180


def test_set_max_iters_stretches_the_schedule_like_the_option(text_file, tmp_path, capsys):
    out = tmp_path / "run.safetensors"
    assert train(text_file, out, "--set", "max_iters=3") == 2  # and SMALL's --max-iters 4: given twice, refused
    assert "both set max_iters; give it once" in capsys.readouterr().err and not out.exists()
    assert main(["train", "--data", str(text_file), "--out", str(out), *SMALL[2:], "--set", "max_iters=3"]) == 0
    saved = load_checkpoint(out).train_config
    assert saved["max_iters"] == 3 and saved["lr_decay_iters"] == 3


def test_the_resume_command_after_a_ctrl_c_repeats_the_data_options(text_file):
    from minigpt.cli import _resume_command

    args = build_parser().parse_args(["train", "--data", str(text_file), "--tokenizer", "bpe:20", "--set", "lr=2e-3"])
    command = _resume_command(args, "out/my.safetensors")
    assert f"--data {text_file}" in command and "--tokenizer bpe:20" in command and "--set lr=2e-3" in command
    assert command.endswith("--out out/my.safetensors --resume out/my.safetensors")
