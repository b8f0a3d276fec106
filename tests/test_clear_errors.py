"""Bad input gets an error that names what is wrong, never a bare traceback from deep inside or a silent NaN."""

import pytest
import torch

from minigpt.config import get_config
from minigpt.data import load_text
from minigpt.course.exercises.flow import check_next_token_distribution, next_token_distribution
from minigpt.model import GPT
from minigpt.tokenizers import CharTokenizer


def test_load_text_of_a_binary_file_names_the_file_and_the_byte(tmp_path):
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"hello \x89PNG\x00")
    with pytest.raises(ValueError) as error:
        load_text(None, path=picture)
    assert str(error.value) == (f"load_text: {picture} is not UTF-8 text: byte 6 (0x89) cannot be decoded "
                                "(invalid start byte); pass a text file, saved as UTF-8")


@pytest.mark.parametrize("model", ["gpt", torch.nn.Linear(2, 2)])
def test_next_token_check_says_the_model_must_be_a_minigpt_model(model):
    with pytest.raises(TypeError, match=r"model must be a minigpt model \(a torch.nn.Module with config.vocab_size"):
        check_next_token_distribution(next_token_distribution, model=model)


def test_next_token_check_takes_a_model_of_ones_own():
    torch.manual_seed(0)
    assert check_next_token_distribution(next_token_distribution, model=GPT(get_config("tiny", vocab_size=12))).passed


def test_a_batch_whose_every_target_is_ignored_has_loss_zero_and_changes_nothing_not_nan():
    model = GPT(get_config("tiny", vocab_size=20, block_size=16))
    idx = torch.zeros(2, 5, dtype=torch.long)
    _, loss = model(idx, torch.full((2, 5), -100))
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    # one real target is enough: the loss is that target's cross-entropy, the ignored ones left out
    targets = torch.full((2, 5), -100)
    targets[1, 3] = 7
    logits, loss = model(idx, targets)
    assert torch.isclose(loss, torch.nn.functional.cross_entropy(logits[1, 3], torch.tensor(7)))


def test_a_checkpoint_refusing_a_tokenizer_says_what_differs(tmp_path):
    from minigpt.checkpoint import load_checkpoint, save_checkpoint

    config = get_config("tiny", vocab_size=8, block_size=8, n_layer=1, n_head=1, n_embd=8)
    path = save_checkpoint(tmp_path / "ckpt.safetensors", GPT(config), tokenizer=CharTokenizer.from_text("abcdefgh"))
    with pytest.raises(ValueError, match=r"different tokenizer \(the checkpoint's vs yours: token 4 is 'e' vs 'f'\)"):
        load_checkpoint(path, tokenizer=CharTokenizer.from_text("abcdxfgh"))
