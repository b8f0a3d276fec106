import sys

import numpy as np
import pytest
import torch
from torch import nn

import minigpt.capture as capture_module
from minigpt.block import Block
from minigpt.capture import attention_for_widgets, capture, captured_to_numpy
from minigpt.config import get_config
from minigpt.hooks import hook_points, patch
from minigpt.model import GPT
from minigpt.seq2seq import Seq2Seq


def tiny(**overrides):
    return get_config("tiny", **{"n_layer": 3, "n_head": 4, "n_embd": 32, "block_size": 16, **overrides})


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
        assert any(m._forward_hooks for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())
    with capture(model) as cap:
        model(torch.zeros(1, 4, dtype=torch.long))
    model(torch.zeros(1, 4, dtype=torch.long))  # outside: nothing more is recorded
    assert len(cap.attention) == 3


def test_captures_nest_and_record_named_points():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    idx = torch.randint(0, 65, (2, 6))
    with capture(model) as outer:
        model(idx)
        with capture(model, "blocks.*.mlp", "blocks.1.attn.head") as inner:
            model(idx)
        model(idx)  # the inner exit must not remove the outer capture's hooks
    assert len(outer.attention) == 3 * 3 and len(outer.residual) == 3 * 4
    assert sorted(inner.points) == ["blocks.0.mlp", "blocks.1.attn.head", "blocks.1.mlp", "blocks.2.mlp"]
    assert inner["blocks.1.attn.head"][0].shape == (2, 4, 6, 8)  # [B, H, T, head_dim]
    # the residual stream is the sum of what attention and the MLP add to it
    with capture(model, "embed", "blocks.0", "blocks.0.attn", "blocks.0.mlp") as parts:
        model(idx)
    total = parts["embed"][0] + parts["blocks.0.attn"][0] + parts["blocks.0.mlp"][0]
    assert torch.allclose(total, parts["blocks.0"][0], atol=1e-6)
    with pytest.raises(KeyError, match="was not recorded"):
        parts["blocks.2.mlp"]
    with pytest.raises(ValueError, match="no hook point matches 'blocks.9.mlp'"):
        with capture(model, "blocks.9.mlp"):
            pass


def test_hook_points_name_every_layer_of_gpt_and_seq2seq():
    assert list(hook_points(GPT(tiny(n_layer=1)))) == [
        "embed", "blocks.0", "blocks.0.attn", "blocks.0.attn.scores", "blocks.0.attn.weights",
        "blocks.0.attn.head", "blocks.0.mlp"]
    names = hook_points(Seq2Seq(tiny(n_layer=1)))
    assert {"encoder.0.attn.weights", "decoder.0.attn.weights", "decoder.0.cross_attn.weights",
            "decoder.0.cross_attn.head", "decoder.0.mlp"} <= set(names)


def test_hook_names_are_declared_where_the_points_are_made_not_read_from_module_paths():
    model = GPT(tiny(n_layer=2))
    wrapped = nn.ModuleDict({"renamed": model})  # every module path changes, no public name may
    assert list(hook_points(wrapped)) == list(hook_points(model))
    assert all(module.hook_name == name for name, module in hook_points(model).items())
    assert "head.attn.weights" in hook_points(Block(tiny(), name="head"))
    with pytest.raises(ValueError, match="two modules of ModuleList are the hook point 'embed'"):
        hook_points(nn.ModuleList([model, GPT(tiny(n_layer=2))]))


def test_seq2seq_capture_records_each_kind_of_attention():
    torch.manual_seed(0)
    model = Seq2Seq(tiny()).eval()
    src, tgt = torch.randint(0, 65, (2, 7)), torch.randint(0, 65, (2, 5))
    with capture(model) as cap:
        model(src, tgt)
    assert [a.shape for a in cap.encoder_attention] == [(2, 4, 7, 7)] * 3
    assert [a.shape for a in cap.attention] == [(2, 4, 5, 5)] * 3
    assert [a.shape for a in cap.cross_attention] == [(2, 4, 5, 7)] * 3
    assert cap.residual == []  # the residual points are named for a GPT only


def test_watching_the_weights_does_not_change_the_output():
    """A hook on the scores switches attention from the fused kernel to the explicit path: same result."""
    torch.manual_seed(0)
    model = GPT(tiny(pos="rope", n_kv_head=2)).eval()
    idx = torch.randint(0, 65, (2, 9))
    fused, _ = model(idx)
    with patch(model, "blocks.0.attn.scores", lambda scores: scores), capture(model):
        explicit, _ = model(idx)
    assert torch.allclose(fused, explicit, atol=1e-5)


def test_patch_ablates_one_head_exactly():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    idx = torch.randint(0, 65, (1, 8))
    with capture(model, "blocks.2.attn.head") as clean:
        clean_logits, _ = model(idx)
    with patch(model, "blocks.2.attn.head.1", torch.zeros_like):
        ablated, _ = model(idx)
    # by hand: the last layer's attention output without head 1, through the rest of the model
    attn = model.transformer.h[2].attn
    heads = clean["blocks.2.attn.head"][0].clone()
    heads[:, 1] = 0
    with capture(model, "blocks.1") as before:
        model(idx)
    x = before["blocks.1"][0]
    block = model.transformer.h[2]
    x = x + attn.merge(heads)
    x = x + block.mlp(block.ln_2(x))
    assert torch.allclose(ablated, model.lm_head(model.transformer.ln_f(x)), atol=1e-5)
    assert not torch.allclose(ablated, clean_logits, atol=1e-3)
    assert not any(m._forward_hooks for m in model.modules())  # the patch is gone


def test_activation_patching_from_a_clean_run_restores_it():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    clean, corrupt = torch.randint(0, 65, (1, 8)), torch.randint(0, 65, (1, 8))
    with capture(model, "blocks.2") as run:
        clean_logits, _ = model(clean)
    stream = run["blocks.2"][0]
    with patch(model, "blocks.2", lambda x: stream):  # the whole last residual: the clean output
        patched, _ = model(corrupt)
    assert torch.allclose(patched, clean_logits, atol=1e-6)
    with patch(model, "blocks.0.attn.weights.3", lambda w: torch.full_like(w, 0.5)):
        with pytest.raises(ValueError, match="head 4 does not exist"):
            with patch(model, "blocks.0.attn.head.4", torch.zeros_like):
                pass
    with pytest.raises(ValueError, match=r"fn must return a tensor shaped \(1, 8, 8\)"):
        with patch(model, "blocks.0.attn.head.1", lambda a: a[0]):
            model(corrupt)
    with pytest.raises(ValueError, match="matches 3"):
        with patch(model, "blocks.*.mlp", torch.zeros_like):
            pass


def test_a_capture_opened_before_a_patch_records_the_unpatched_value_and_one_inside_the_patched():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    idx = torch.randint(0, 65, (1, 6))
    with capture(model, "blocks.0.mlp") as plain:
        model(idx)
    computed = plain["blocks.0.mlp"][0]
    assert computed.abs().sum() > 0
    for ablate in (torch.zeros_like, lambda a: a.zero_()):  # an in-place fn must not change the earlier record
        with capture(model, "blocks.0.mlp") as before, patch(model, "blocks.0.mlp", ablate):
            with capture(model, "blocks.0.mlp") as inside:
                model(idx)
        assert torch.equal(before["blocks.0.mlp"][0], computed)
        assert torch.equal(inside["blocks.0.mlp"][0], torch.zeros_like(computed))
    # one head: the same order rule, and the other heads pass through untouched
    with capture(model, "blocks.0.attn.head") as before, patch(model, "blocks.0.attn.head.1", lambda a: a.zero_()):
        with capture(model, "blocks.0.attn.head") as inside:
            model(idx)
    head_before, head_inside = before["blocks.0.attn.head"][0], inside["blocks.0.attn.head"][0]
    assert head_before[:, 1].abs().sum() > 0 and torch.equal(head_inside[:, 1], torch.zeros_like(head_before[:, 1]))
    assert torch.equal(head_inside[:, [0, 2, 3]], head_before[:, [0, 2, 3]])


@pytest.mark.parametrize("point", ["blocks.0.mlp", "blocks.0.attn.weights.2"])
@pytest.mark.parametrize("make", [lambda a: a.long(), lambda a: a > 0], ids=["int64", "bool"])
def test_a_patch_of_another_dtype_is_refused(point, make):
    model = GPT(tiny()).eval()
    with pytest.raises(ValueError, match=rf"patch '{point}': fn must return a tensor of the activation's dtype "
                                         r"torch.float32, got torch.(int64|bool)"):
        with patch(model, point, make):
            model(torch.zeros(1, 4, dtype=torch.long))


def capture_code_run_by(run) -> list[str]:
    """The names of the functions of minigpt.capture that Python runs while ``run()`` runs."""
    called = []

    def profile(frame, event, _arg):
        if event == "call" and frame.f_code.co_filename == capture_module.__file__:
            called.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return called


@pytest.mark.parametrize("make", [GPT, Seq2Seq])
def test_the_forward_passes_run_no_capture_code(make):
    """A capture is only forward hooks: outside one a forward pass runs none of minigpt.capture's code,
    and inside one only the recorder each hook calls, once per recorded point."""
    torch.manual_seed(0)
    model = make(tiny()).eval()
    inputs = (torch.randint(0, 65, (1, 6)),) * (2 if make is Seq2Seq else 1)
    assert capture_code_run_by(lambda: model(*inputs)) == []
    with capture(model) as cap:
        called = capture_code_run_by(lambda: model(*inputs))
    recorded = sum(len(tensors) for tensors in cap.points.values())
    assert recorded > 0 and called == ["record"] * recorded


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
