"""Benchmark: ``easel batch`` (local pool, Ray) against a naive loop of ``easel stylize`` processes.

16 small style-transfer jobs (16 content photos x 1 style, 32 px, a few
iterations, fp32 on the CPU) with a random-initialized VGG-19 in the real file
format and at the real widths (80 MB of convolutions, made by this script), run
three ways in one run:

* **naive loop**: one ``easel stylize`` process per job, one after the other (a
  shell loop): every job starts Python, imports torch and loads the weights;
* **easel batch, local engine**: ``easel batch jobs.yaml`` (a spawned process
  pool, one worker per core; each worker loads the weights once);
* **easel batch, Ray**: ``easel batch jobs.yaml --engine ray``, which starts a
  local Ray instance with the machine's CPUs and shuts it down (its start-up is
  part of the wall time).

Reported per way: wall time, throughput (jobs per minute), the optimization
time summed over the jobs (``timings_s.stylize`` of the run records), and the
**per-job overhead**: ``(wall x workers - optimization) / jobs``, the seconds a
worker spends per job on anything but optimizing (process start, imports,
weights, reading, writing, scheduling).

Usage::

    python benchmarks/batch.py            # 16 jobs (a few minutes on two busy cores)
    python benchmarks/batch.py --quick    # 4 jobs, 2 iterations: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, write_results  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _photos(folder: Path, count: int, side: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:side, 0:side] / side
        rgb = np.stack([xx, yy, rng.random((side, side))], axis=2) * 255
        path = folder / f"photo{i:02d}.png"
        Image.fromarray(rgb.astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _job_args(size: int, iterations: int) -> dict[str, Any]:
    return {
        "weights": "vgg19-random.pth",
        "size": size,
        "iterations": iterations,
        "coarse-iterations": max(1, iterations // 2),
        "precision": "fp32",
        "device": "cpu",
        "seed": 0,
    }


def _cli_argv(args: dict[str, Any]) -> list[str]:
    return [f"--{k}={v}" for k, v in args.items()]


def _compute_seconds(outputs: list[Path]) -> float:
    total = 0.0
    for out in outputs:
        record = json.loads(out.with_name(out.name + ".json").read_text())
        total += float(record["timings_s"].get("stylize", 0.0))
    return total


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "EASEL_HOME": str(home), "EASEL_PROGRESS": "0"}


def run_naive(work: Path, photos: list[Path], args: dict[str, Any], home: Path) -> dict[str, Any]:
    out_dir = work / "out-naive"
    out_dir.mkdir()
    outputs = []
    start = time.perf_counter()
    for photo in photos:
        out = out_dir / f"{photo.stem}__style.png"
        argv = [
            sys.executable,
            "-m",
            "easel",
            "stylize",
            str(photo.relative_to(work)),
            "--style",
            "style.png",
        ]
        argv += [*_cli_argv(args), "-o", str(out.relative_to(work)), "-q"]
        subprocess.run(argv, cwd=work, env=_env(home), check=True)
        outputs.append(out)
    wall = time.perf_counter() - start
    return {
        "way": "naive loop: one easel stylize process per job",
        "workers": 1,
        "wall_s": wall,
        "compute_s": _compute_seconds(outputs),
    }


def run_batch(
    work: Path, photos: list[Path], args: dict[str, Any], home: Path, engine: str
) -> dict[str, Any]:
    out_dir = work / f"out-{engine}"
    out_dir.mkdir()
    manifest = work / f"jobs-{engine}.json"
    manifest.write_text(
        json.dumps(
            {
                "jobs": [
                    {
                        "command": "stylize",
                        "input": "photos/*.png",
                        "style": ["style.png"],
                        "output": f"{out_dir.name}/{{stem}}__style.png",
                        "args": args,
                    }
                ]
            }
        )
    )
    report = work / f"report-{engine}"
    report.mkdir()
    argv = [
        sys.executable,
        "-m",
        "easel",
        "batch",
        str(manifest),
        "--engine",
        engine,
        "--report",
        str(report),
        "-q",
    ]
    start = time.perf_counter()
    subprocess.run(argv, cwd=work, env=_env(home), check=True)
    wall = time.perf_counter() - start
    summary = json.loads((report / "batch-summary.json").read_text())
    assert summary["counts"]["done"] == len(photos), summary["counts"]
    outputs = [out_dir / f"{p.stem}__style.png" for p in photos]
    seconds = sorted(job["seconds"] for job in summary["jobs"])
    workers = min(os.cpu_count() or 1, len(photos))
    name = (
        "easel batch, local engine (process pool)"
        if engine == "local"
        else "easel batch --engine ray (local Ray started)"
    )
    return {
        "way": name,
        "workers": workers,
        "wall_s": wall,
        "compute_s": _compute_seconds(outputs),
        "median_job_s": seconds[len(seconds) // 2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 jobs, 2 iterations: a smoke run")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument(
        "--naive-last",
        action="store_true",
        help="run the naive loop after the batches (on a shared machine whose load drifts, run both orders)",
    )
    cli = parser.parse_args()
    jobs = cli.jobs or (4 if cli.quick else 16)
    side = 40
    size = 32
    iterations = 2 if cli.quick else 4

    from easel.nets.vgg import save_random_vgg19

    rows = []
    with tempfile.TemporaryDirectory(prefix="easel-bench-batch-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        photos = _photos(work / "photos", jobs, side)
        _photos(work / "style-src", 1, side)[0].rename(work / "style.png")
        save_random_vgg19(work / "vgg19-random.pth", seed=0)  # the real VGG-19 widths
        args = _job_args(size, iterations)
        # one warm-up run so numba/torch caches and the page cache are equally warm for every way
        warm = work / "warm"
        warm.mkdir()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "easel",
                "stylize",
                str(photos[0].relative_to(work)),
                "--style",
                "style.png",
                *_cli_argv(args),
                "-o",
                "warm/w.png",
                "-q",
            ],
            cwd=work,
            env=_env(home),
            check=True,
        )
        if not cli.naive_last:
            rows.append(run_naive(work, photos, args, home))
        rows.append(run_batch(work, photos, args, home, "local"))
        rows.append(run_batch(work, photos, args, home, "ray"))
        if cli.naive_last:
            rows.insert(0, run_naive(work, photos, args, home))
    naive_wall = rows[0]["wall_s"]
    for row in rows:
        row["jobs"] = jobs
        row["jobs_per_min"] = 60.0 * jobs / row["wall_s"]
        row["per_job_s"] = row["wall_s"] / jobs
        row["overhead_per_job_s"] = max(0.0, (row["wall_s"] * row["workers"] - row["compute_s"]) / jobs)
        row["speedup_vs_naive"] = naive_wall / row["wall_s"]
    columns = [
        "way",
        "workers",
        "wall_s",
        "jobs_per_min",
        "per_job_s",
        "compute_s",
        "overhead_per_job_s",
        "speedup_vs_naive",
    ]
    title = (
        f"{jobs} stylize jobs at {size} px, {iterations} iterations (+{max(1, iterations // 2)} coarse), fp32, CPU; "
        "random-init VGG-19 at the real widths (real file format)"
    )
    table = title + "\n\n" + markdown_table(rows, columns)
    name = ("batch-quick" if cli.quick else "batch") + ("-naive-last" if cli.naive_last else "")
    order = "naive loop last" if cli.naive_last else "naive loop first"
    write_results(name, {"rows": rows, "quick": cli.quick, "order": order}, f"{table}\n\n({order})")


if __name__ == "__main__":
    main()
