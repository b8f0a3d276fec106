"""The course settings: the scale and the seed come from the environment, with clear errors; the course's
tooling stays apart from the model."""

import ast
from pathlib import Path

import pytest
import torch

import minigpt

from minigpt.course import settings


def test_seed_comes_from_the_environment_and_seeds_torch(monkeypatch, capsys):
    monkeypatch.setenv("MINIGPT_SEED", "2")
    assert settings.setup() == 2
    first = torch.rand(3)
    torch.manual_seed(2)
    assert torch.equal(first, torch.rand(3))
    assert "seed=2" in capsys.readouterr().out


def test_seed_defaults_to_zero(monkeypatch):
    monkeypatch.delenv("MINIGPT_SEED", raising=False)
    assert settings.seed() == 0


@pytest.mark.parametrize("bad", ["-1", "one", "1.5", ""])
def test_a_bad_seed_is_named(monkeypatch, bad):
    monkeypatch.setenv("MINIGPT_SEED", bad)
    with pytest.raises(ValueError, match="MINIGPT_SEED must be a non-negative integer"):
        settings.seed()


def test_a_bad_scale_is_named(monkeypatch):
    monkeypatch.setenv("MINIGPT_SCALE", "huge")
    with pytest.raises(ValueError, match="MINIGPT_SCALE must be one of"):
        settings.scale()
    monkeypatch.setenv("MINIGPT_SCALE", "learner")
    assert settings.pick(ci=1, learner=2) == 2


def test_the_model_never_imports_the_course_tooling():
    """``minigpt.course`` (settings, exercise checks, editions) is built around the model, never inside it."""
    package = Path(minigpt.__file__).parent
    for path in package.rglob("*.py"):
        if (package / "course") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module == "minigpt":
                names += [f"minigpt.{alias.name}" for alias in node.names]
            assert not any(name == "minigpt.course" or name.startswith("minigpt.course.") for name in names), \
                f"{path.relative_to(package.parent)} imports the course tooling ({names})"
