"""Our GPT holding GPT-2 weights computes what transformers' GPT2LMHeadModel computes.

Random tiny GPT-2s stand in for the real one (no download): the conversion, the file formats,
the KV cache and ``capture`` do not depend on the size.
"""

import pytest
import safetensors.torch as safetensors_torch
import torch
import transformers

from minigpt.capture import capture
from minigpt.config import GPTConfig
from minigpt.gpt2 import read_checkpoint
from minigpt.model import GPT

SHAPE = dict(vocab_size=97, n_positions=32, n_embd=64, n_layer=2, n_head=4)


def random_hf_gpt2(**shape):
    """A GPT2LMHeadModel with random values everywhere (biases and norms too), so every mapping is tested."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(**{**SHAPE, **shape}, bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def hub_format_file(hf, path):
    """Save ``hf`` the way the hub's GPT-2 model.safetensors is laid out: GPT2Model keys ("h.0.attn.c_attn.weight",
    no "transformer." prefix, no lm_head) plus each layer's causal-mask buffer "h.{i}.attn.bias"."""
    n = hf.config.n_positions
    tensors = {k: v.contiguous() for k, v in hf.transformer.state_dict().items()}
    tensors |= {f"h.{i}.attn.bias": torch.tril(torch.ones(n, n)).view(1, 1, n, n) for i in range(hf.config.n_layer)}
    safetensors_torch.save_file(tensors, str(path))
    return path


def assert_same_logits(model, hf, T=32):
    idx = torch.randint(0, hf.config.vocab_size, (2, T))
    with torch.no_grad():
        assert torch.allclose(model(idx)[0], hf(idx).logits, atol=1e-4)


def test_logits_match_transformers_gpt2():
    hf = random_hf_gpt2()
    model = GPT.from_gpt2_state_dict(hf.state_dict(), GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=64))
    assert_same_logits(model.eval(), hf)


def test_config_is_inferred_from_the_state_dict_except_n_head():
    hf = random_hf_gpt2()  # 4 heads of 16
    with torch.no_grad():
        for block in hf.transformer.h:
            block.ln_1.weight.fill_(1.0)  # scores large enough for the split into heads to change the logits
    sd = hf.state_dict()
    shape = dict(vocab_size=97, block_size=32, n_layer=2, n_embd=64)
    # n_head is not in the tensors: 1, 2 or 4 heads give the same shapes, only the split of c_attn's columns differs
    shapes = [{k: v.shape for k, v in GPT(GPTConfig(**shape, n_head=n)).state_dict().items()} for n in (1, 2, 4)]
    assert shapes[0] == shapes[1] == shapes[2]
    # so without a config the loader reads the rest from the shapes and takes GPT-2's rule for the heads,
    # head_dim 64 (true of every GPT-2 size): here 1 head instead of 4, a guess it cannot check, and the logits differ
    model = GPT.from_gpt2_state_dict(sd).eval()
    assert model.config == GPTConfig(**shape, n_head=1)
    idx = torch.randint(0, 97, (2, 32))
    with torch.no_grad():
        assert (model(idx)[0] - hf(idx).logits).abs().max() > 0.01  # 100 times assert_same_logits' tolerance
    # the caller who knows the heads says so (from_pretrained reads n_head from config.json)
    assert_same_logits(GPT.from_gpt2_state_dict(sd, GPTConfig(**shape, n_head=4)).eval(), hf)


def test_bad_state_dict_is_a_clear_error():
    sd = random_hf_gpt2().state_dict()
    with pytest.raises(ValueError, match="pos='learned'"):
        GPT.from_gpt2_state_dict(sd, GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=64, pos="rope"))
    with pytest.raises(ValueError, match="missing"):
        GPT.from_gpt2_state_dict(sd, GPTConfig(vocab_size=97, block_size=32, n_layer=3, n_head=4, n_embd=64))
    with pytest.raises(ValueError, match="not a GPT-2 state dict"):
        GPT.from_gpt2_state_dict({"foo": torch.zeros(1)})


def test_from_pretrained_reads_a_save_pretrained_folder(tmp_path):
    hf = random_hf_gpt2()
    hf.save_pretrained(tmp_path)
    model = GPT.from_pretrained(tmp_path)  # shape from config.json: 4 heads of 16, which the tensors cannot tell
    assert model.config.n_head == 4 and not model.training
    assert_same_logits(model, hf)


def test_from_pretrained_reads_a_sharded_folder(tmp_path):
    hf = random_hf_gpt2()
    hf.save_pretrained(tmp_path, max_shard_size="50KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert_same_logits(GPT.from_pretrained(str(tmp_path)), hf)


def test_from_pretrained_reads_a_hub_format_file(tmp_path):
    hf = random_hf_gpt2(n_embd=128, n_head=2)  # head_dim 64, as in every GPT-2 size: the file alone gives the shape
    model = GPT.from_pretrained(hub_format_file(hf, tmp_path / "model.safetensors"))
    assert model.config.n_head == 2
    assert_same_logits(model, hf)


def test_kv_cache_and_capture_work_on_a_loaded_model(tmp_path):
    hf = random_hf_gpt2()
    hf.save_pretrained(tmp_path)
    model = GPT.from_pretrained(tmp_path)
    idx = torch.randint(0, 97, (1, 20))
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_kv_cache(1)  # a prompt of 12, then one token at a time
        steps = [model(idx[:, :12], kv_cache=cache)[0]]
        steps += [model(idx[:, t : t + 1], kv_cache=cache)[0] for t in range(12, 20)]
        assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)

        with capture(model) as cap:
            model(idx)
        expected = hf(idx, output_attentions=True, output_hidden_states=True)
    assert len(cap.attention) == 2 and len(cap.residual) == 3
    for ours, theirs in zip(cap.attention, expected.attentions):
        assert torch.allclose(ours, theirs, atol=1e-5)
    # hidden_states[:-1] are the residual stream before each block; transformers applies ln_f to its last entry
    for ours, theirs in zip(cap.residual[:-1], expected.hidden_states[:-1]):
        assert torch.allclose(ours, theirs, atol=1e-5)


def test_from_pretrained_errors_say_what_to_give(tmp_path):
    with pytest.raises(ValueError, match="neither a GPT-2 size"):
        GPT.from_pretrained("gpt3")
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="not a .safetensors file"):
        GPT.from_pretrained(tmp_path / "weights.bin")
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        read_checkpoint(tmp_path)
    random_hf_gpt2(activation_function="relu").save_pretrained(tmp_path / "relu")
    with pytest.raises(ValueError, match="activation_function='relu'"):
        GPT.from_pretrained(tmp_path / "relu")


@pytest.mark.parametrize("damage, pattern", [
    (lambda t: torch.full_like(t, float("nan")), r"holds 16384 NaN or infinite values \(of 16384\)"),
    (lambda t: t.to(torch.int32), "holds torch.int32 values"),
])
def test_from_pretrained_refuses_weights_that_are_not_finite_floats(tmp_path, damage, pattern):
    path = hub_format_file(random_hf_gpt2(), tmp_path / "model.safetensors")
    tensors = safetensors_torch.load_file(path)
    tensors["h.1.mlp.c_fc.weight"] = damage(tensors["h.1.mlp.c_fc.weight"])
    tensors["h.0.attn.bias"] = tensors["h.0.attn.bias"].to(torch.uint8)  # a mask buffer: never read, any type
    safetensors_torch.save_file(tensors, str(path))
    with pytest.raises(ValueError, match=f"{path}: tensor 'h.1.mlp.c_fc.weight' {pattern}"):
        GPT.from_pretrained(path)
    tensors["h.1.mlp.c_fc.weight"] = torch.zeros(64, 256)
    safetensors_torch.save_file(tensors, str(path))
    assert GPT.from_pretrained(path).transformer.h[1].mlp.c_fc.weight.abs().sum() == 0  # the check is not in the way
