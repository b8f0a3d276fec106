import pytest
import torch

from minigpt.capture import capture
from minigpt.config import get_config
from minigpt.model import GPT
from minigpt.seq2seq import Seq2Seq, mask_tokens

V, BOS, EOS = 12, 10, 11  # digits 0-9 plus two special tokens


def config(**overrides):
    return get_config("tiny", **{**dict(vocab_size=V, n_layer=2, n_head=4, n_embd=32, block_size=16), **overrides})


def reverse_batch(generator, B=32, S=5):
    src = torch.randint(0, 10, (B, S), generator=generator)
    tgt = torch.cat([torch.full((B, 1), BOS), src.flip(1)], dim=1)  # decoder input: BOS + reversed
    targets = torch.cat([src.flip(1), torch.full((B, 1), EOS)], dim=1)  # next token at each position
    return src, tgt, targets


def test_seq2seq_learns_to_reverse_and_generates_greedily():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = Seq2Seq(config(n_layer=1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    for _ in range(120):
        src, tgt, targets = reverse_batch(g)
        _, loss = model(src, tgt, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2
    model.eval()
    src, _, targets = reverse_batch(g, B=16)
    out = model.generate(src, max_new_tokens=10, bos_id=BOS, eos_id=EOS)
    assert out[:, 0].eq(BOS).all() and out.shape[1] == 7  # stopped after everyone's EOS
    accuracy = (out[:, 1:] == targets).float().mean().item()
    assert accuracy > 0.9


def test_decoder_is_causal_and_encoder_is_bidirectional():
    torch.manual_seed(0)
    model = Seq2Seq(config()).eval()
    src = torch.randint(0, 10, (1, 6))
    tgt = torch.randint(0, 10, (1, 5))
    logits = model(src, tgt)[0]
    tgt2 = tgt.clone()
    tgt2[0, 4] = (tgt2[0, 4] + 1) % 10
    assert torch.allclose(model(src, tgt2)[0][:, :4], logits[:, :4], atol=1e-6)  # future target ignored
    src2 = src.clone()
    src2[0, 5] = (src2[0, 5] + 1) % 10
    assert not torch.allclose(model(src2, tgt)[0][:, 0], logits[:, 0])  # first target sees the whole source


def test_cross_attention_is_captured_and_skips_source_padding():
    torch.manual_seed(0)
    model = Seq2Seq(config()).eval()
    src, tgt = torch.randint(0, 10, (2, 6)), torch.randint(0, 10, (2, 4))
    src_mask = torch.ones(2, 6, dtype=torch.bool)
    src_mask[1, 4:] = False
    with capture(model) as cap:
        model(src, tgt, src_mask=src_mask)
    assert len(cap.cross_attention) == 2 and cap.cross_attention[0].shape == (2, 4, 4, 6)
    assert len(cap.attention) == 2 and cap.attention[0].shape == (2, 4, 4, 4)
    assert len(cap.encoder_attention) == 2 and cap.encoder_attention[0].shape == (2, 4, 6, 6)
    assert torch.all(cap.cross_attention[0][1, :, :, 4:] == 0)
    assert torch.allclose(cap.cross_attention[1].sum(-1), torch.ones(2, 4, 4), atol=1e-6)


def test_mask_tokens():
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 10, (8, 50), generator=g)
    inputs, targets = mask_tokens(idx, mask_id=V - 1, p=0.3, generator=g)
    hidden = inputs == V - 1
    assert 0.2 < hidden.float().mean() < 0.4
    assert torch.equal(targets[hidden], idx[hidden]) and torch.all(targets[~hidden] == -100)
    assert torch.equal(inputs[~hidden], idx[~hidden])
    with pytest.raises(ValueError, match="p must be"):
        mask_tokens(idx, 0, p=1.5)


def test_encoder_only_masked_lm_trains():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = GPT(config(causal=False, n_layer=1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    # toy language: each sequence repeats one random 4-digit pattern, so a hidden digit can be read off
    pattern = torch.randint(0, 10, (256, 4), generator=g).repeat(1, 3)
    losses = []
    for _ in range(100):
        batch = pattern[torch.randint(0, 256, (32,), generator=g)]
        inputs, targets = mask_tokens(batch, mask_id=BOS, p=0.2, generator=g)
        _, loss = model(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[:10]) / 10 > 2.0  # about chance, ln(10) = 2.3
    assert sum(losses[-10:]) / 10 < 0.6
