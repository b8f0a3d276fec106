"""Notebook 13 on both of its paths. With GPT-2's weights: the tests never download the real 548 MB; a small random
model saved in GPT-2's hub format stands in for them (``$MINIGPT_GPT2``), so every cell runs its GPT-2 branch (the
claims about GPT-2 small itself are checked in the notebook only when the real 124M model is loaded). Without them:
every section runs on the stand-in the notebook trains (06's ``shakespeare-char-cpu`` recipe), and no output holds a
path of the machine. That path is the one the notebook is stored with, so it is checked on the stored outputs: the
test suite runs the notebook itself without the weights (nbval, strictly, and the solutions edition), and a fresh
run whose compared outputs differ from these fails there."""

import os
from pathlib import Path

import nbformat
import pytest
import torch
import transformers

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "13_looking_inside_gpt2.ipynb"


@pytest.fixture
def gpt2_tokenizer():
    from minigpt.tokenizers import TiktokenTokenizer

    try:
        return TiktokenTokenizer("gpt2")
    except Exception as e:  # no network and no TIKTOKEN_CACHE_DIR holding gpt2's file
        pytest.skip(f"tiktoken's gpt2 encoding is not available offline here: {e}")


def _run_notebook(kernel_env: dict[str, str]) -> str:
    """Execute notebook 13 in a fresh kernel (an error in any cell fails the test); all its outputs as one text."""
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute(env={**os.environ, **kernel_env})
    return outputs_text(nb)


def test_notebook_13_runs_every_gpt2_cell_when_weights_are_present(tmp_path, monkeypatch, gpt2_tokenizer, kernel_env):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=gpt2_tokenizer.vocab_size, n_positions=128, n_embd=32, n_layer=2,
                                     n_head=2)  # fmt: skip
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path / "stand-in")
    monkeypatch.setenv("MINIGPT_GPT2", str(tmp_path / "stand-in"))

    text = _run_notebook(kernel_env)
    assert "loaded GPT-2: 2 layers x 2 heads, d_model 32" in text
    assert "stand-in:" not in text, "the notebook trained the stand-in although GPT-2's weights were there"
    for expected in ("AttentionView(layers=2, heads=2", "SamplingExplorer(vocab=50257", "induction score",
                     "after block 1: loss", "30 new tokens:", "on the first token"):  # fmt: skip
        assert expected in text, f"missing output: {expected}"


def outputs_text(nb) -> str:
    """Every code cell's printed text and plain-text results, as one text."""
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)


def test_the_stored_notebook_ran_every_section_on_the_stand_in_without_weights():
    text = outputs_text(nbformat.read(NOTEBOOK, as_version=4))
    assert "it is not in the cache and HF_HUB_OFFLINE is set." in text, "the reason, in one line"
    assert "stand-in: shakespeare-char-cpu, 3 layers x 4 heads" in text and "trained 400 steps here" in text
    for expected in ("AttentionView(layers=3, heads=4", "SamplingExplorer(vocab=65", "induction score",
                     "after block 2: loss", "30 new tokens:", "on the first token"):  # fmt: skip
        assert expected in text, f"missing output: {expected}"
    for path in (str(Path.home()), "/tmp/", str(NOTEBOOK.parent.parent), "It needs model.safetensors"):
        assert path not in text, f"an output holds {path!r}: a machine path or the whole download advice"
