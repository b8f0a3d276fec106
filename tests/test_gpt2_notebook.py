"""Notebook 11 with GPT-2's weights present. The tests never download the real 548 MB: a small random model
saved in GPT-2's hub format stands in for them (``$MINIGPT_GPT2``), so every GPT-2 cell runs its code. The claims
about GPT-2 small itself are asserted in the notebook only when the real 124M model is loaded."""

from pathlib import Path

import nbformat
import pytest
import torch
import transformers

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "11_looking_inside_gpt2.ipynb"


@pytest.fixture
def gpt2_tokenizer():
    from minigpt.tokenizers import TiktokenTokenizer

    try:
        return TiktokenTokenizer("gpt2")
    except Exception as e:  # no network and no TIKTOKEN_CACHE_DIR holding gpt2's file
        pytest.skip(f"tiktoken's gpt2 encoding is not available offline here: {e}")


def test_notebook_11_runs_every_gpt2_cell_when_weights_are_present(tmp_path, monkeypatch, gpt2_tokenizer):
    from nbclient import NotebookClient

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=gpt2_tokenizer.vocab_size, n_positions=128, n_embd=32, n_layer=2,
                                     n_head=2)  # fmt: skip
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path / "stand-in")
    monkeypatch.setenv("MINIGPT_GPT2", str(tmp_path / "stand-in"))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()  # fmt: skip
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "loaded: 2 layers x 2 heads, d_model 32" in text
    assert "needs GPT-2's weights" not in text, "a GPT-2 cell took the no-weights branch with weights present"
    for expected in ("AttentionView(layers=2, heads=2", "SamplingExplorer(vocab=50257", "induction score",
                     "after block 1: loss", "30 new tokens:", "on the first token"):  # fmt: skip
        assert expected in text, f"missing output: {expected}"
