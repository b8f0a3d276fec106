"""int8 weight quantization: rounding error bounds, size report, tied weights, bad input."""

import pytest
import torch
from torch import nn

from minigpt.quantize import Int8Linear, dequantize, model_nbytes, quantize_model, quantize_per_channel


class TinyLM(nn.Module):
    """Embedding -> Linear -> head tied to the embedding, like a GPT in miniature."""

    def __init__(self, vocab=11, dim=16):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.fc = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx):
        return self.head(torch.relu(self.fc(self.wte(idx))))


def test_per_channel_scales_and_error_bound():
    torch.manual_seed(0)
    w = torch.randn(8, 32) * torch.logspace(-3, 1, 8)[:, None]  # rows of very different magnitude
    q, scale = quantize_per_channel(w)
    assert q.dtype == torch.int8 and q.shape == (8, 32) and scale.shape == (8, 1)
    assert torch.allclose(scale[:, 0], w.abs().amax(dim=1) / 127)
    assert q.abs().max() == 127  # the largest weight of each row uses the full range
    err = (dequantize(q, scale) - w).abs()
    assert (err <= scale / 2 + 1e-7).all()  # rounding to nearest: at most half a step
    # per-channel keeps small rows precise: relative error per row stays below 1/254
    assert ((err.amax(dim=1) / w.abs().amax(dim=1)) <= 0.5 / 127 + 1e-6).all()


def test_zero_row_and_symmetry():
    w = torch.zeros(3, 4)
    w[1] = torch.tensor([-2.0, 1.0, 0.0, 2.0])
    q, scale = quantize_per_channel(w)
    assert torch.isfinite(scale).all()
    assert q[0].eq(0).all() and q[2].eq(0).all()
    assert q[1].tolist() == [-127, 64, 0, 127]  # 1/2*127 = 63.5 rounds half to even -> 64
    assert torch.equal(quantize_per_channel(-w)[0], -q)  # symmetric: negating the weights negates q


def test_int8_linear_matches_float_linear():
    torch.manual_seed(0)
    lin = nn.Linear(32, 16)
    qlin = Int8Linear(lin)
    x = torch.randn(4, 5, 32)
    assert qlin.qweight.dtype == torch.int8
    assert not hasattr(qlin, "weight")  # only the int8 copy and its scales are kept
    out, ref = qlin(x), lin(x)
    assert out.shape == ref.shape
    assert (out - ref).abs().max() < 0.02 * ref.abs().max()
    assert not torch.equal(out, ref)  # it really is rounded


def test_quantize_model_report_and_tied_head():
    torch.manual_seed(0)
    model = TinyLM()
    idx = torch.randint(0, 11, (2, 7))
    qmodel, report = quantize_model(model)
    assert report.quantized == ("fc",) and report.skipped == ("head",)
    assert isinstance(qmodel.fc, Int8Linear) and isinstance(model.fc, nn.Linear)  # original untouched
    assert qmodel.head.weight is qmodel.wte.weight  # still tied in the copy
    # fc weight 16*16*4 bytes -> 16*16*1 + 16*4 (scales)
    assert report.bytes_before == model_nbytes(model) == (11 * 16 + 16 * 16 + 16) * 4
    assert report.bytes_after == model_nbytes(qmodel) == (11 * 16 + 16) * 4 + 16 * 16 + 16 * 4
    assert report.ratio == pytest.approx(report.bytes_before / report.bytes_after)
    assert "1 Linear layers quantized" in str(report)
    assert torch.allclose(qmodel(idx), model(idx), atol=0.05)


def test_linear_heavy_model_shrinks_almost_4x():
    model = nn.Sequential(nn.Linear(256, 256, bias=False), nn.ReLU(), nn.Linear(256, 256, bias=False))
    _, report = quantize_model(model)
    assert len(report.quantized) == 2
    assert 3.9 < report.ratio < 4.0  # 4 bytes -> 1 byte, plus one float scale per row


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="2-D float"):
        quantize_per_channel(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="2-D float"):
        quantize_per_channel(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        quantize_per_channel([[1.0]])
    with pytest.raises(TypeError, match="nn.Module"):
        quantize_model("model.pt")
    with pytest.raises(ValueError, match="no nn.Linear"):
        quantize_model(nn.Embedding(4, 4))


def test_quantized_gpt_and_seq2seq_still_work():
    from minigpt.config import get_config
    from minigpt.model import GPT
    from minigpt.seq2seq import Seq2Seq

    torch.manual_seed(0)
    config = get_config("tiny", vocab_size=20, block_size=16, n_embd=32)
    gpt = GPT(config).eval()
    idx = torch.randint(0, 20, (2, 10))
    qgpt, report = quantize_model(gpt)
    assert report.skipped == ("lm_head",)  # tied to the token embedding
    assert len(report.quantized) == 4 * config.n_layer  # c_attn, c_proj, c_fc, mlp c_proj per block
    with torch.no_grad():
        assert (qgpt(idx)[0] - gpt(idx)[0]).abs().max() < 0.05
    s2s = Seq2Seq(config).eval()
    qs2s, _ = quantize_model(s2s)  # cross-attention's own c_q and c_kv are quantized too
    with torch.no_grad():
        assert (qs2s(idx, idx[:, :5])[0] - s2s(idx, idx[:, :5])[0]).abs().max() < 0.05
