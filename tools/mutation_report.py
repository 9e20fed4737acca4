"""Mutation score per module, from the results `mutmut run` left in ``mutants/``.

Usage: python tools/mutation_report.py [--mutants DIR] [--wall-s S --cpu-s S --load L --note TEXT]

Reads ``mutants/src/easel/**.py.meta`` (mutmut 3 writes one per mutated file, a JSON map of
mutant name -> exit code) for the files named by ``only_mutate`` in ``[tool.mutmut]``, and
the equivalent mutants listed in ``docs/mutation.md`` (every backquoted mutant name in the
"Equivalent mutants" section). Writes ``benchmarks/results/mutation.json`` and
``mutation.md`` and prints the table.

Score = (killed + timeout) / (total - equivalent - not run). "survived" counts only the
survivors not listed as equivalent; "no tests" (no selected test reaches the function) counts
as not killed; "not run" are mutants of a run that was stopped before reaching them.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "mutation.md"

# mutmut 3.8 exit codes (mutmut/stats.py, status_by_exit_code)
KILLED = {1, 3}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {36, -24, 24, 152, 255}
MUTANT_NAME = re.compile(r"`(easel\.[\w.\u01c1]+__mutmut_\d+)`")


def equivalent_mutants(doc: Path = DOC) -> set[str]:
    """The mutant names listed in the "Equivalent mutants" section of ``docs/mutation.md``."""
    if not doc.exists():
        return set()
    text = doc.read_text(encoding="utf-8")
    start = text.find("## Equivalent mutants")
    if start < 0:
        return set()
    end = text.find("\n## ", start + 1)
    return set(MUTANT_NAME.findall(text[start : end if end > 0 else len(text)]))


def module_of(path: str) -> str:
    """``src/easel/io/atomic.py`` -> ``easel.io.atomic``."""
    return path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def count(exit_codes: dict[str, int | None], equivalent: set[str]) -> dict[str, Any]:
    """Tally one module's mutants by outcome."""
    row: dict[str, Any] = {
        "total": len(exit_codes),
        "killed": 0,
        "timeout": 0,
        "survived": 0,
        "equivalent": 0,
        "no_tests": 0,
        "not_checked": 0,
        "other": 0,
    }
    survivors = []
    for name, code in sorted(exit_codes.items()):
        if code in KILLED:
            row["killed"] += 1
        elif name in equivalent and code in SURVIVED | NO_TESTS | TIMEOUT:
            row["equivalent"] += 1  # (a "timeout" of an equivalent mutant is a slow machine)
        elif code in TIMEOUT:
            row["timeout"] += 1
        elif code in SURVIVED:
            row["survived"] += 1
            survivors.append(name)
        elif code in NO_TESTS:
            row["no_tests"] += 1
            survivors.append(name)
        elif code is None:
            row["not_checked"] += 1
        else:
            row["other"] += 1
    scored = row["total"] - row["equivalent"] - row["not_checked"]
    row["score"] = round(100.0 * (row["killed"] + row["timeout"]) / scored, 1) if scored else None
    row["not_killed"] = survivors
    return row


def collect(mutants: Path, equivalent: set[str]) -> dict[str, dict[str, Any]]:
    """One row per file named in ``[tool.mutmut] only_mutate`` whose mutants were run."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    rows = {}
    for path in config["only_mutate"]:
        meta = mutants / (path + ".meta")
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if all(code is None for code in codes.values()):
            continue  # generated but not run (not among `make mutate`'s MUTANTS)
        rows[module_of(path)] = count(codes, equivalent)
    return rows


def table(rows: dict[str, dict[str, Any]]) -> str:
    """The Markdown table (one line per module, then the total)."""
    keys = ("total", "killed", "timeout", "survived", "equivalent", "no_tests", "not_checked")
    lines = [
        "| module | mutants | killed | timeout | survived | equivalent | no tests | not run | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    totals = dict.fromkeys(keys, 0)
    for module, row in rows.items():
        for key in keys:
            totals[key] += row[key]
        score = "-" if row["score"] is None else f"{row['score']:.1f} %"
        lines.append(f"| {module} | " + " | ".join(str(row[k]) for k in keys) + f" | {score} |")
    scored = totals["total"] - totals["equivalent"] - totals["not_checked"]
    score = f"{100.0 * (totals['killed'] + totals['timeout']) / scored:.1f} %" if scored else "-"
    lines.append("| **all** | " + " | ".join(str(totals[k]) for k in keys) + f" | **{score}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants", help="mutmut's working folder")
    parser.add_argument("--wall-s", type=float, help="wall seconds of the `mutmut run` (recorded)")
    parser.add_argument("--cpu-s", type=float, help="CPU seconds of the `mutmut run` (recorded)")
    parser.add_argument("--load", help="load average during the run (recorded)")
    parser.add_argument("--note", help="how the results were obtained (recorded)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for mutation.json and .md")
    parser.add_argument("--doc", type=Path, default=DOC, help="the page listing equivalent mutants")
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        print(f"no mutmut results in {args.mutants}: run `make mutate` first", file=sys.stderr)
        return 2
    rows = collect(args.mutants, equivalent_mutants(args.doc))
    if not rows:
        print(f"no .meta files under {args.mutants}", file=sys.stderr)
        return 2
    given = (("wall_s", args.wall_s), ("cpu_s", args.cpu_s), ("load", args.load), ("note", args.note))
    run = {k: v for k, v in given if v}
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"name": "mutation", "cpu": cpu, "run": run, "modules": rows}
    (args.out / "mutation.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    text = table(rows)
    note = ""
    if run:
        note = "\n\n" + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in run.items()) + f" ({cpu})"
    (args.out / "mutation.md").write_text(
        "# Mutation score per module\n\n" + text + note + "\n", encoding="utf-8"
    )
    print(text + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
