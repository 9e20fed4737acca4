"""``tools/mutation_report.py`` (the `make mutate` score table) on a hand-made mutmut result."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_report", ROOT / "tools" / "mutation_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scores_count_equivalents_apart_and_skip_modules_not_run(tmp_path: Path) -> None:
    name = "easel.io.atomic.x_f__mutmut_{}".format
    codes = {name(1): 1, name(2): 1, name(3): -24, name(4): 0, name(5): 0, name(6): 33, name(7): None}
    meta = tmp_path / "mutants" / "src" / "easel" / "io"
    meta.mkdir(parents=True)
    (meta / "atomic.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    (meta / "images.py.meta").write_text(
        json.dumps({"exit_code_by_key": {"easel.io.images.x_g__mutmut_1": None}})
    )
    doc = tmp_path / "mutation.md"
    doc.write_text(f"# x\n\n## Equivalent mutants\n\n| `{name(5)}` | why |\n\n## Other\n\n`{name(4)}`\n")
    out = tmp_path / "results"
    assert _report().main(["--mutants", str(tmp_path / "mutants"), "--doc", str(doc), "--out", str(out)]) == 0
    modules = json.loads((out / "mutation.json").read_text())["modules"]
    assert list(modules) == ["easel.io.atomic"]  # images: generated, never run
    row = modules["easel.io.atomic"]
    assert (row["killed"], row["timeout"], row["survived"], row["equivalent"]) == (2, 1, 1, 1)
    assert (row["no_tests"], row["not_checked"], row["total"]) == (1, 1, 7)
    assert row["score"] == 60.0  # (2 killed + 1 timeout) / (7 - 1 equivalent - 1 not run)
    assert row["not_killed"] == [name(4), name(6)]
    assert "| easel.io.atomic | 7 | 2 | 1 | 1 | 1 | 1 | 1 | 60.0 % |" in (out / "mutation.md").read_text()
