"""The suite never skips a test because something it should have is missing.

A test that skips when a command, an extra or a module is absent hides exactly
the breakage it exists to catch, so the test files are read here: no
``pytest.importorskip``, no ``pytest.mark.skip``, and every ``pytest.skip`` or
``skipif`` gives one of the reasons below -- absent hardware or operating-system facility, or a data file
that some Python builds do not ship.
"""

from __future__ import annotations

import ast
from pathlib import Path

ALLOWED_REASONS = {
    "no CUDA device": "hardware: GPU paths run only where a CUDA device is",
    "CPython test data not installed": "a real OpenEXR file that some Python builds leave out",
    "finds the worker through /proc (Linux)": (
        "an operating-system facility: the killed-worker test finds the worker's process in Linux's /proc"
    ),
    "no Chromium browser": (
        "a system package (Debian's chromium) that .ci/run installs; Playwright's own browser download is not used"
    ),
}

TESTS = Path(__file__).parent


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _reason(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    return None


def skips_in(source: str, filename: str = "<test>") -> list[str]:
    """Every skip in ``source`` that the rule refuses, as ``file:line: what``."""
    refused = []
    for node in ast.walk(ast.parse(source, filename)):
        name = _dotted(node) if isinstance(node, (ast.Call, ast.Attribute)) else ""
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and name.endswith("importorskip"):
            refused.append(f"{where}: importorskip (a missing dependency must fail, not skip)")
        elif isinstance(node, ast.Call) and name in ("pytest.skip", "pytest.mark.skipif", "skip", "skipif"):
            reason = _reason(node)
            if reason not in ALLOWED_REASONS:
                refused.append(f"{where}: skip with reason {reason!r}")
        elif isinstance(node, ast.Attribute) and name == "pytest.mark.skip":
            refused.append(f"{where}: pytest.mark.skip")
    return refused


def test_no_test_skips_for_a_missing_command_or_dependency() -> None:
    refused = []
    for path in sorted(TESTS.glob("*.py")):
        refused += skips_in(path.read_text(), path.name)
    assert not refused, "\n".join(refused)


def test_the_rule_catches_each_kind_of_skip() -> None:
    assert skips_in("import pytest\npytest.importorskip('transformers')\n")
    assert skips_in("import pytest\nif x:\n    pytest.skip('command vanished')\n")
    assert skips_in("import pytest\n@pytest.mark.skipif(True, reason='no quantize')\ndef test(): pass\n")
    assert skips_in("import pytest\n@pytest.mark.skip\ndef test(): pass\n")
    assert not skips_in("import pytest\nif not cuda:\n    pytest.skip('no CUDA device')\n")
