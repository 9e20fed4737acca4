"""Benchmark: the first run on a fresh install (numba compiles its kernels) against later runs.

easel's numba kernels are compiled on their first call and kept in numba's
cache. This measures, for

* ``easel quantize`` and ``easel superpixels`` on a 480x360 image (the CLI, in a new process),
* the Ken Burns renderer's first frame (``easel.kenburns`` on a 320x240 RGB-D image, then frame 0),

the wall time of a fresh process with an empty cache folder (*cold*: the
first run after an install) and of a second fresh process that finds the
cache (*warm*: every later run), each ``--repeats`` times with a new cache
folder (``NUMBA_CACHE_DIR``), in the same run. The child processes also report
how many kernels numba compiled and how long that took (its compile events).
Target (issue #15): cold <= warm + 2 s for each case, on medians.

The machine is shared: the load average before and after is in the results,
with the CPU model. ``--src`` measures another source tree in the same run
(e.g. an older release unpacked with ``git archive``), as a before/after.

Usage::

    python benchmarks/cold_start.py                   # 3 cold/warm pairs per case
    python benchmarks/cold_start.py --quick           # 1 pair per case
    python benchmarks/cold_start.py --src /tmp/old/src --label before
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, run_isolated, write_results  # noqa: E402

TARGET_S = 2.0

# Child prologue: count numba's compilations (outermost only; nested ones are part of them).
_COUNT = """
import json, sys, time
from numba.core import event
_state = {"depth": 0, "start": 0.0, "seconds": 0.0, "kernels": 0}
class _Compiles(event.Listener):
    def on_start(self, ev):
        if _state["depth"] == 0:
            _state["start"] = time.perf_counter()
        _state["depth"] += 1
    def on_end(self, ev):
        _state["depth"] -= 1
        if _state["depth"] == 0:
            _state["seconds"] += time.perf_counter() - _state["start"]
            _state["kernels"] += 1
event.register("numba:compile", _Compiles())
def _report(**extra):
    print(json.dumps({"compile_s": _state["seconds"], "compiled": _state["kernels"],
                      "cpu_s": time.process_time(), **extra}))
"""

_CLI = (
    _COUNT
    + """
from easel.cli import main
rc = main(sys.argv[1:])
_report(rc=rc)
"""
)

_KENBURNS = (
    _COUNT
    + """
import numpy as np
from easel.scene3d.kenburns import kenburns
h, w = 240, 320
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
image = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin(xx / 9)], axis=2).astype(np.float32)
depth = (2.0 + 1.5 * (xx > w / 2) + 0.2 * np.sin(yy / 13)).astype(np.float32)
clip = kenburns(image, depth, duration_s=1.0, fps=10, shift=(0.05, 0.0))
frame = clip.frame_uint8(0)
_report(rc=0, frame=list(frame.shape))
"""
)


def test_image(path: Path) -> None:
    """A 480x360 photo-like PNG: smooth colour fields, edges and mild noise (8 bits)."""
    import numpy as np
    from PIL import Image

    h, w = 360, 480
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = (
        np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin(xx / 23.0) * np.cos(yy / 17.0)], axis=2)
        + 0.3 * ((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 3) ** 2)[..., None]
    )
    rgb = np.clip(rgb + rng.normal(0.0, 0.02, rgb.shape), 0.0, 1.0)
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(path)


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with ``None``, remove) environment variables for the child processes."""
    before = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cpu_model() -> str:
    """The CPU model as ``lscpu`` names it (``/proc/cpuinfo`` when lscpu is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    from _common import machine

    return str(machine()["cpu"])


def measure(case: str, argv: list[str], repeats: int, workdir: Path, src: str | None) -> dict[str, Any]:
    """``repeats`` cold/warm pairs of one case; medians, minima and the raw runs."""
    runs: list[dict[str, Any]] = []
    for i in range(repeats):
        with tempfile.TemporaryDirectory(prefix="numba-cache-", dir=workdir) as cache:
            with environment(NUMBA_CACHE_DIR=cache, PYTHONPATH=src):
                cold = run_isolated(argv, timeout=600)
                warm = run_isolated(argv, timeout=600)
            index_files = sorted(p.name for p in Path(cache).rglob("*.nbi"))
        for kind, result in (("cold", cold), ("warm", warm)):
            if result.get("rc") != 0:
                raise RuntimeError(f"{case} ({kind}) exited with {result.get('rc')}")
        runs.append({"repeat": i, "cold": cold, "warm": warm, "cached_kernels": len(index_files)})
        print(
            f"  {case} #{i}: cold {cold['wall_s']:.2f} s ({cold['compiled']} compiled in "
            f"{cold['compile_s']:.2f} s), warm {warm['wall_s']:.2f} s ({warm['compiled']} compiled)",
            flush=True,
        )
    cold_s = statistics.median(r["cold"]["wall_s"] for r in runs)
    warm_s = statistics.median(r["warm"]["wall_s"] for r in runs)
    cold_cpu = statistics.median(r["cold"]["cpu_s"] for r in runs)
    warm_cpu = statistics.median(r["warm"]["cpu_s"] for r in runs)
    return {
        "case": case,
        "cold_s": cold_s,
        "warm_s": warm_s,
        "extra_s": cold_s - warm_s,
        "cold_cpu_s": cold_cpu,
        "warm_cpu_s": warm_cpu,
        "extra_cpu_s": cold_cpu - warm_cpu,
        "cold_min_s": min(r["cold"]["wall_s"] for r in runs),
        "warm_min_s": min(r["warm"]["wall_s"] for r in runs),
        "compile_s": statistics.median(r["cold"]["compile_s"] for r in runs),
        "compiled_cold": runs[0]["cold"]["compiled"],
        "compiled_warm": max(r["warm"]["compiled"] for r in runs),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one cold/warm pair per case")
    parser.add_argument("--repeats", type=int, default=3, help="cold/warm pairs per case (default 3)")
    parser.add_argument("--src", help="measure the easel package under this folder (PYTHONPATH)")
    parser.add_argument("--label", default="", help="a name for this tree in the results (with --src)")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else max(1, args.repeats)
    src = str(Path(args.src).resolve()) if args.src else None

    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="easel-cold-start-") as tmp:
        work = Path(tmp)
        image = work / "photo.png"
        test_image(image)
        cases = {
            "easel quantize": ["-c", _CLI, "quantize", str(image), "-o", str(work / "q.png"), "-y", "-q"],
            "easel superpixels": [
                "-c",
                _CLI,
                "superpixels",
                str(image),
                "-o",
                str(work / "s.png"),
                "-y",
                "-q",
            ],
            "Ken Burns first frame": ["-c", _KENBURNS],
        }
        for case, child in cases.items():
            rows.append(measure(case, child, repeats, work, src))
    load_after = os.getloadavg()

    for row in rows:
        row["target_met"] = "yes" if row["extra_s"] <= TARGET_S and row["compiled_warm"] == 0 else "no"
    passed = all(r["target_met"] == "yes" for r in rows)
    columns = [
        "case",
        "cold_s",
        "warm_s",
        "extra_s",
        "extra_cpu_s",
        "compile_s",
        "compiled_cold",
        "compiled_warm",
        "target_met",
    ]
    label = f" ({args.label})" if args.label else ""
    table = (
        f"Cold start{label}: a fresh process with an empty numba cache (cold) and a second one "
        f"that finds it (warm), median of {repeats}; {cpu_model()}, {os.cpu_count()} cores, "
        f"load average {load_before[0]:.2f} before and {load_after[0]:.2f} after\n\n"
        + markdown_table(rows, columns)
        + "\n\nextra_cpu_s: the same difference in CPU seconds of the child processes (all threads), "
        "the steadier figure on a shared machine"
        + f"\n\nTarget: cold <= warm + {TARGET_S:g} s (extra_s) and nothing compiled when warm, "
        + "for every case: "
        + ("PASS" if passed else "FAIL")
    )
    import numba

    payload = {
        "cpu_model": cpu_model(),
        "load_average": {"before": list(load_before), "after": list(load_after)},
        "numba": numba.__version__,
        "source": src or "this checkout",
        "label": args.label,
        "repeats": repeats,
        "target_extra_s": TARGET_S,
        "rows": rows,
        "passed": passed,
    }
    name = "cold_start" + (f"_{args.label}" if args.label else "") + ("_quick" if args.quick else "")
    write_results(name, payload, table)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
