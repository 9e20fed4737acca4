"""Docstrings: every public function and class shows a short example, and every example runs.

Public means: not underscored, in a module that is not underscored, and in the
module's ``__all__`` when it has one. Examples that need files or weights are
marked ``# doctest: +SKIP``; all others are run here, as ``pytest
--doctest-modules src/easel`` would.
"""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "easel"


def _public_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if any(p.startswith("_") and p != "__init__" for p in parts):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _declared_all(tree: ast.Module) -> set[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return None


def _module_path(module: str) -> Path:
    base = SRC.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _without_example(tree: ast.Module) -> list[tuple[str, int]]:
    """Public top-level functions and classes of ``tree`` whose docstring has no ``Example``."""
    exported = _declared_all(tree)
    found = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if node.name.startswith("_") or (exported is not None and node.name not in exported):
            continue
        if "Example" not in (ast.get_docstring(node) or ""):
            found.append((node.name, node.lineno))
    return found


def test_every_public_function_and_class_has_an_example() -> None:
    missing = [
        f"{module}.{name} ({_module_path(module).relative_to(SRC)}:{line})"
        for module in _public_modules()
        for name, line in _without_example(ast.parse(_module_path(module).read_text()))
    ]
    assert not missing, "public names without an Example section:\n" + "\n".join(missing)


def test_the_example_check_finds_public_names_without_one() -> None:
    source = (
        '__all__ = ["shown", "Shown", "documented"]\n'
        'def shown():\n    """No example."""\n'
        "class Shown:\n    pass\n"
        'def documented():\n    """Example:\n    >>> documented()\n    """\n'
        "def not_exported():\n    pass\n"
        "def _private():\n    pass\n"
    )
    assert [name for name, _ in _without_example(ast.parse(source))] == ["shown", "Shown"]


@pytest.mark.parametrize("module", _public_modules())
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures = []
    for test in finder.find(mod, module):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, f"{test.name}:\n" + "".join(failures)
