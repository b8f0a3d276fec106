"""The config is plain data: it names the variants itself, and the layer registries are keyed by those names."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from minigpt.config import MLP_TYPES, NORM_TYPES, POS_TYPES
from minigpt.mlp import MLPS
from minigpt.norm import NORMS
from minigpt.positional import POSITIONS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("registry, names", [(POSITIONS, POS_TYPES), (NORMS, NORM_TYPES), (MLPS, MLP_TYPES)],
                         ids=["positions", "norms", "mlps"])
def test_each_layer_registry_has_exactly_the_names_the_config_allows(registry, names):
    # a variant added to one side only would be a name the config accepts and no layer builds (or the reverse)
    assert set(registry) == set(names) and len(names) == len(set(names))


def test_importing_the_config_imports_no_torch():
    code = "import sys, minigpt.config; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_only_the_config_says_that_n_kv_head_follows_n_head():
    # the rule reads `"n_kv_head" not in changes` (GPTConfig.replace); any other module writing it is a second copy
    writers = []
    for path in sorted((ROOT / "minigpt").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and node.left.value == "n_kv_head"
                    and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)):
                writers.append(path.relative_to(ROOT).as_posix())
    assert writers == ["minigpt/config.py"]
