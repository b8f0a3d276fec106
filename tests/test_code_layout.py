"""The import graph follows the layers, read from the source with ``ast`` (nothing is imported or run).

- ``minigpt`` never imports ``widgets`` (the views build on the library, not the other way round);
- ``minigpt/config.py`` is data: at import time it needs only the standard library and the argument checks;
- ``minigpt/tokenizers`` does not import ``minigpt.data`` (data is made with tokenizers, not the reverse);
- ``widgets`` modules import no torch when they are imported (a view must open without it);
- no function or method in minigpt/, widgets/ or benchmarks/ is longer than ``MAX_FUNCTION_LINES``.
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 60
ARGUMENT_CHECKS = "minigpt.arguments"


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT).as_posix()}:{node.lineno}"


def module_level_nodes(tree: ast.Module):
    """Every node that runs when the module is imported: all but the bodies of functions (class bodies do run)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def imported_from(path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement names: ``import a.b`` -> a.b; ``from a import b`` -> a (b may be one too)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not node.level:
        return [node.module]
    package = path.relative_to(ROOT).with_suffix("").parts[: -node.level]  # `from . import x` inside that package
    return [".".join(package + ((node.module,) if node.module else ()))]


def imported(path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Every module an import statement may load, ``from a import b`` counting as a and a.b."""
    modules = imported_from(path, node)
    if isinstance(node, ast.ImportFrom):
        modules += [f"{modules[0]}.{alias.name}" for alias in node.names]
    return modules


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def imports_of(paths: list[Path], package: str, nodes=ast.walk) -> list[str]:
    """``file:line`` of each import, among ``nodes`` of the files, that loads ``package`` or a module inside it."""
    return [where(path, node) for path in paths for node in nodes(parse(path))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            and any(is_within(module, package) for module in imported(path, node))]


def test_minigpt_never_imports_widgets():
    assert imports_of(python_files("minigpt"), "widgets") == []


def test_the_config_imports_only_the_standard_library_and_the_argument_checks():
    path = ROOT / "minigpt" / "config.py"
    others = [f"{where(path, node)} {module}" for node in module_level_nodes(parse(path))
              if isinstance(node, (ast.Import, ast.ImportFrom)) for module in imported_from(path, node)
              if module.split(".")[0] not in sys.stdlib_module_names and module != ARGUMENT_CHECKS]
    assert others == []


def test_tokenizers_do_not_import_the_data_package():
    assert imports_of(python_files("minigpt/tokenizers"), "minigpt.data") == []


def test_widgets_import_no_torch_when_imported():
    assert imports_of(python_files("widgets"), "torch", nodes=module_level_nodes) == []


def test_no_function_is_longer_than_the_limit():
    too_long = [f"{where(path, node)} {node.name}: {node.end_lineno - node.lineno + 1} lines"
                for folder in ("minigpt", "widgets", "benchmarks") for path in python_files(folder)
                for node in ast.walk(parse(path))
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert too_long == []


def test_check_means_an_exercise_check():
    """Argument validators are require_*; a function named check_* is an exercise check, and lives with them."""
    exercises = ROOT / "minigpt" / "course" / "exercises"
    misnamed = [f"{path.relative_to(ROOT)}: {node.name}" for folder in ("minigpt", "widgets", "benchmarks")
                for path in python_files(folder) if exercises not in path.parents
                for node in ast.walk(parse(path))
                if isinstance(node, ast.FunctionDef) and node.name.lstrip("_").startswith("check_")]
    assert misnamed == [], "name argument validators require_*: " + ", ".join(misnamed)
