import pytest
import torch

from minigpt.config import GPTConfig
from minigpt.model import GPT

transformers = pytest.importorskip("transformers")


def random_hf_gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=97, n_positions=32, n_embd=64, n_layer=2, n_head=4,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # random values everywhere (biases and norms too) so every mapping is tested
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def test_logits_match_transformers_gpt2():
    hf = random_hf_gpt2()
    model = GPT.from_gpt2_state_dict(hf.state_dict(), GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=64))
    model.eval()
    idx = torch.randint(0, 97, (2, 32))
    with torch.no_grad():
        expected = hf(idx).logits
        logits, _ = model(idx)
    assert torch.allclose(logits, expected, atol=1e-4)


def test_config_is_inferred_from_the_state_dict():
    hf = random_hf_gpt2()
    model = GPT.from_gpt2_state_dict(hf.state_dict())
    assert (model.config.vocab_size, model.config.block_size, model.config.n_layer, model.config.n_embd) == (97, 32, 2, 64)
    assert model.config.n_head == 1  # head_dim 64 rule; logits then differ, the shapes fit


def test_bad_state_dict_is_a_clear_error():
    sd = random_hf_gpt2().state_dict()
    with pytest.raises(ValueError, match="pos='learned'"):
        GPT.from_gpt2_state_dict(sd, GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=64, pos="rope"))
    with pytest.raises(ValueError, match="missing"):
        GPT.from_gpt2_state_dict(sd, GPTConfig(vocab_size=97, block_size=32, n_layer=3, n_head=4, n_embd=64))
    with pytest.raises(ValueError, match="not a GPT-2 state dict"):
        GPT.from_gpt2_state_dict({"foo": torch.zeros(1)})
