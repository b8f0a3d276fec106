"""The course settings: the scale and the seed come from the environment, with clear errors."""

import pytest
import torch

from minigpt import course


def test_seed_comes_from_the_environment_and_seeds_torch(monkeypatch, capsys):
    monkeypatch.setenv("MINIGPT_SEED", "2")
    assert course.setup() == 2
    first = torch.rand(3)
    torch.manual_seed(2)
    assert torch.equal(first, torch.rand(3))
    assert "seed=2" in capsys.readouterr().out


def test_seed_defaults_to_zero(monkeypatch):
    monkeypatch.delenv("MINIGPT_SEED", raising=False)
    assert course.seed() == 0


@pytest.mark.parametrize("bad", ["-1", "one", "1.5", ""])
def test_a_bad_seed_is_named(monkeypatch, bad):
    monkeypatch.setenv("MINIGPT_SEED", bad)
    with pytest.raises(ValueError, match="MINIGPT_SEED must be a non-negative integer"):
        course.seed()


def test_a_bad_scale_is_named(monkeypatch):
    monkeypatch.setenv("MINIGPT_SCALE", "huge")
    with pytest.raises(ValueError, match="MINIGPT_SCALE must be one of"):
        course.scale()
    monkeypatch.setenv("MINIGPT_SCALE", "learner")
    assert course.pick(ci=1, learner=2) == 2
