"""A recipe's model trained once per machine (notebooks 09 and 13): the first call trains and keeps it, the next
loads exactly that model, anything the weights depend on makes another run, and a damaged file or a cache that
cannot be written costs time, never the model."""

import pytest
import torch

from minigpt.course.trained import recipe_model

SHORT = dict(max_iters=3, eval_iters=2)  # the tiny recipe, cut to a few steps


@pytest.fixture
def data(monkeypatch, tmp_path):
    """Token ids for the tiny recipe (65 ids), and an empty cache folder."""
    monkeypatch.setenv("MINIGPT_CACHE_DIR", str(tmp_path / "cache"))
    generator = torch.Generator().manual_seed(0)
    return torch.randint(65, (3000,), generator=generator), torch.randint(65, (1000,), generator=generator)


def kept(tmp_path):
    return sorted((tmp_path / "cache" / "models").glob("*.safetensors"))


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_next_call_loads_bit_for_bit_the_model_a_fresh_run_trains(data, tmp_path, monkeypatch):
    first = recipe_model("tiny", *data, seed=0, **SHORT)
    again = recipe_model("tiny", *data, seed=0, **SHORT)
    assert first.trained_here and not again.trained_here
    assert len(kept(tmp_path)) == 1
    assert same_weights(first.model, again.model) and not again.model.training
    assert again.history == first.history and again.history.last("val_loss") == first.history.last("val_loss")
    x = data[1][:64][None]
    with torch.no_grad():
        assert torch.equal(first.model(x)[0], again.model(x)[0])
    # and what was loaded is what the call trains where nothing is cached
    monkeypatch.setenv("MINIGPT_CACHE_DIR", str(tmp_path / "another cache"))
    fresh = recipe_model("tiny", *data, seed=0, **SHORT)
    assert fresh.trained_here and same_weights(fresh.model, again.model)


def test_another_seed_other_data_or_other_settings_are_other_runs(data, tmp_path):
    base = recipe_model("tiny", *data, seed=0, **SHORT)
    others = [
        recipe_model("tiny", *data, seed=1, **SHORT),
        recipe_model("tiny", data[0].flip(0), data[1], seed=0, **SHORT),
        recipe_model("tiny", *data, seed=0, max_iters=4, eval_iters=2),
    ]
    assert all(run.trained_here for run in others)
    assert len(kept(tmp_path)) == 4
    assert not same_weights(base.model, others[0].model)


def test_a_damaged_file_is_trained_again_with_a_warning_and_replaced(data, tmp_path):
    first = recipe_model("tiny", *data, seed=0, **SHORT)
    (path,) = kept(tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.warns(UserWarning, match=r"could not load the cached model .*; training it again"):
        again = recipe_model("tiny", *data, seed=0, **SHORT)
    assert again.trained_here and same_weights(first.model, again.model)
    assert not recipe_model("tiny", *data, seed=0, **SHORT).trained_here  # a whole file again


def test_a_cache_that_cannot_be_written_still_gives_the_model(data, tmp_path, monkeypatch):
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("MINIGPT_CACHE_DIR", str(blocked))
    with pytest.warns(UserWarning, match=r"cannot write .*; the next notebook will train this model again"):
        run = recipe_model("tiny", *data, seed=0, **SHORT)
    assert run.trained_here and not run.model.training and run.history.last("val_loss") is not None
