"""``easel info``: what easel runs on, for bug reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from conftest import CliResult


def test_info_lists_numba(run_cli: Callable[..., CliResult], tmp_easel_home: Path) -> None:
    """Issue #8: the numba kernels (quantize, superpixels, the renderer) depend on its version."""
    result = run_cli("info", "--json")
    assert result.code == 0 and result.err == ""
    libraries = json.loads(result.out)["libraries"]
    assert libraries["numba"] == metadata.version("numba")
    assert libraries["safetensors"] == metadata.version("safetensors")
    text = run_cli("info").out
    assert any(line.split()[:2] == ["numba", metadata.version("numba")] for line in text.splitlines())
