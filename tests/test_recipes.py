"""Configs (model shapes, ``get_config``) and recipes (how to train one, ``get_recipe``, ``--recipe``): one
vocabulary, where a name shared by both means the same model, and an unknown name lists the known ones."""

import pytest

from minigpt.cli import main
from minigpt.config import CONFIGS, get_config
from minigpt.recipes import RECIPES, get_recipe


def test_a_recipe_named_like_a_config_trains_exactly_that_config():
    shared = sorted(set(CONFIGS) & set(RECIPES))
    assert shared == ["shakespeare-char", "tiny"]
    for name in shared:
        assert get_recipe(name).model == get_config(name), name


def test_an_unknown_config_lists_the_configs_and_points_to_a_recipe_of_that_name():
    with pytest.raises(KeyError, match="unknown config 'tiny2'; choose one of: tiny, shakespeare-char, gpt2"):
        get_config("tiny2")
    with pytest.raises(KeyError, match=r"'nanogpt-cpu' is a training recipe: its model is get_recipe\('nanogpt-cpu'\)"):
        get_config("nanogpt-cpu")


def test_an_unknown_recipe_lists_the_recipes_and_points_to_a_config_of_that_name():
    with pytest.raises(KeyError, match="unknown recipe 'nope'; choose one of: " + ", ".join(RECIPES)):
        get_recipe("nope")
    with pytest.raises(KeyError, match=r"'gpt2' is a model config: get_config\('gpt2'\)"):
        get_recipe("gpt2")


def test_get_recipe_gives_a_copy_of_the_training_settings():
    recipe = get_recipe("tiny")
    recipe.train.max_iters = 1
    assert get_recipe("tiny").train.max_iters == RECIPES["tiny"].train.max_iters != 1


def test_the_command_line_chooses_a_recipe_with_recipe(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    assert "--recipe {" + ",".join(RECIPES) + "}" in help_text and "preset" not in help_text
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--recipe", "gpt2"])  # a config, not a recipe: the error lists the recipes
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --recipe: invalid choice: 'gpt2' (choose from 'tiny', 'shakespeare-char'" in err
