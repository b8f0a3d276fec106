"""Every notebook trains where its later cells compute: on the CPU.

A ``TrainConfig``'s device defaults to "auto", which moves the model to a CUDA GPU or Apple's mps where there is
one, while the notebooks build their inputs on the CPU (``torch.tensor(...)``, ``get_batch``); on such a machine a
later cell would stop with "Expected all tensors to be on the same device". The notebooks are sized for a CPU, so
each training config they build, or copy from a recipe, names it. Notebook 00 alone shows the choice of device and
follows it in every cell."""

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
DEVICE_AWARE = {"00_the_whole_flow.ipynb"}


def training_configs(source: str) -> list[ast.Call]:
    """The calls in ``source`` that make a training config: ``TrainConfig(...)``, or ``replace(<recipe>.train, ...)``
    (a recipe's config with changes). A config copied from one of these inherits its device."""
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        first = node.args[0] if node.args else None
        copied = node.func.id == "replace" and isinstance(first, ast.Attribute) and first.attr == "train"
        if node.func.id == "TrainConfig" or copied:
            found.append(node)
    return found


def test_the_finder_sees_both_ways_of_making_a_config():
    source = ("a = TrainConfig(max_iters=3)\nb = replace(recipe.train, seed=1, device='cpu')\n"
              "c = replace(recipe.model, n_layer=2)\n%time d = TrainConfig()")
    assert [call.lineno for call in training_configs(source)] == [1, 2]


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name not in DEVICE_AWARE], ids=lambda p: p.name)
def test_every_training_config_of_a_notebook_names_the_cpu(path):
    nb = nbformat.read(path, as_version=4)
    loose = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for call in training_configs(cell.source):
            device = next((k.value for k in call.keywords if k.arg == "device"), None)
            passes_on = any(k.arg is None for k in call.keywords)  # **changes: the caller's config decides
            if not passes_on and not (isinstance(device, ast.Constant) and device.value == "cpu"):
                loose.append(f"cell {index}, line {call.lineno}")
    assert not loose, f"{path.name}: a training config without device='cpu' ({', '.join(loose)})"
