import numpy as np
import pytest
import torch

from minigpt.attention import Attention
from minigpt.capture import attention_for_widgets, capture, captured_to_numpy
from minigpt.config import get_config
from minigpt.model import GPT


def tiny(**overrides):
    return get_config("tiny", n_layer=3, n_head=4, n_embd=32, block_size=16, **overrides)


class CharTokenizer:  # the two methods the adapter uses, without depending on minigpt.tokenizers
    def encode(self, text):
        return [ord(c) - ord("a") for c in text]

    def token_str(self, i):
        return chr(i + ord("a"))


def test_capture_records_attention_and_residual_stream():
    torch.manual_seed(0)
    model = GPT(tiny(pos="alibi")).eval()
    idx = torch.randint(0, 65, (2, 9))
    with capture(model) as cap:
        logits, _ = model(idx)
    assert [a.shape for a in cap.attention] == [(2, 4, 9, 9)] * 3
    assert len(cap.residual) == 4 and cap.residual[0].shape == (2, 9, 32)
    assert torch.allclose(cap.residual[0], model.transformer.wte(idx))  # ALiBi adds nothing to the embedding
    # the last residual, through the final norm and head, gives the logits (the logit lens at the top)
    assert torch.allclose(model.lm_head(model.transformer.ln_f(cap.residual[-1])), logits, atol=1e-5)
    assert torch.allclose(cap.attention[0].sum(-1), torch.ones(2, 4, 9), atol=1e-6)


def test_capture_is_removed_afterwards():
    model = GPT(tiny())
    with capture(model):
        pass
    assert model._capture is None
    assert all(m._record is None for m in model.modules() if isinstance(m, Attention))
    with capture(model) as cap:
        model(torch.zeros(1, 4, dtype=torch.long))
    model(torch.zeros(1, 4, dtype=torch.long))  # outside: nothing more is recorded
    assert len(cap.attention) == 3


def test_captured_to_numpy():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    with capture(model) as cap:
        model(torch.randint(0, 65, (2, 5)))
    arrays = captured_to_numpy(cap, batch_index=1)
    assert arrays["attention"].shape == (3, 4, 5, 5) and arrays["attention"].dtype == np.float32
    assert arrays["residual"].shape == (4, 5, 32)
    assert np.allclose(arrays["attention"][2], cap.attention[2][1].numpy())
    with pytest.raises(ValueError, match="nothing was captured"):
        with capture(model) as empty:
            pass
        captured_to_numpy(empty)


def test_attention_for_widgets():
    torch.manual_seed(0)
    model = GPT(tiny(vocab_size=26))
    out = attention_for_widgets(model, CharTokenizer(), "hello")
    assert out["tokens"] == ["h", "e", "l", "l", "o"]
    assert out["weights"].shape == (3, 4, 5, 5) and out["weights"].dtype == np.float32
    assert np.allclose(out["weights"].sum(-1), 1, atol=1e-5)
    assert model.training  # the mode is restored
    with pytest.raises(ValueError, match="block_size"):
        attention_for_widgets(model, CharTokenizer(), "a" * 17)
