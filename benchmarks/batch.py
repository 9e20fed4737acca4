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

Reported per way: wall time, CPU time of the processes it started (``cpu_s``:
the children's user + system time; Ray's own daemons are included only as far
as they were waited for), throughput (jobs per minute), the optimization time
summed over the jobs (``timings_s.stylize`` of the run records), the **per-job
overhead**: ``(wall x workers - optimization) / jobs``, the seconds a worker
spends per job on anything but optimizing (process start, imports, weights,
style targets, reading, writing, scheduling), and the load average around it.

``--video`` adds one ``stylize-video`` job on a synthetic pan (known motion), run
three ways in the same run: as one job, in chained chunks (``chunk``: each chunk
continues the one before, one after another) and in parallel chunks
(``chunk`` + ``overlap``: independent, cross-faded), with the warping error
(flicker against the true motion) inside chunks and across chunk borders.

Usage::

    python benchmarks/batch.py            # 16 jobs (a few minutes on two busy cores)
    python benchmarks/batch.py --quick    # 4 jobs, 2 iterations: a smoke run
    python benchmarks/batch.py --quick --video   # and the chunked video
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measured(fn: Any) -> dict[str, Any]:
    """Run ``fn()``; its row with wall and children's CPU seconds and the load average around it."""
    load, cpu = os.getloadavg()[0], _children_cpu()
    start = time.perf_counter()
    row: dict[str, Any] = fn()
    row["wall_s"] = time.perf_counter() - start
    row["cpu_s"] = _children_cpu() - cpu
    row["load"] = f"{load:.1f}-{os.getloadavg()[0]:.1f}"
    return row


def run_naive(work: Path, photos: list[Path], args: dict[str, Any], home: Path) -> dict[str, Any]:
    out_dir = work / "out-naive"
    out_dir.mkdir()
    outputs = []
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
    return {
        "way": "naive loop: one easel stylize process per job",
        "workers": 1,
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
    subprocess.run(argv, cwd=work, env=_env(home), check=True)
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
        "compute_s": _compute_seconds(outputs),
        "median_job_s": seconds[len(seconds) // 2],
    }


VIDEO_TITLE = (
    "one stylize-video job, {frames}-frame synthetic pan at 64 px (3 px/frame), 2 workers; warping error: "
    "mean |frame - previous frame moved by the true motion|, 0-1 units"
)
VIDEO_COLUMNS = ["way", "wall_s", "cpu_s", "warp_inside", "warp_border", "warp_border_max", "load"]


def _pan_frames(folder: Path, count: int, shift: int) -> None:
    import cv2
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    width = 64 + shift * count + 16
    blocks = rng.random((24, width // 4 + 1, 3)).astype(np.float32).repeat(4, 0).repeat(4, 1)
    scene = np.clip(cv2.GaussianBlur(blocks, (0, 0), 2), 0, 1)
    for t in range(count):
        frame = scene[24:72, 8 + shift * t : 72 + shift * t]
        Image.fromarray((frame * 255).round().astype(np.uint8)).save(folder / f"f{t:03d}.png")


def _warping(folder: Path, shift: int, borders: set[int]) -> tuple[float, float, float]:
    """Mean warping error of consecutive frames inside chunks, and across borders (mean, max)."""
    from easel.io.images import read_image
    from easel.style.flow import warping_error

    frames = [read_image(p, max_size=None, min_side=1).rgb for p in sorted(folder.glob("frame_*.png"))]
    flow = np.zeros((*frames[0].shape[:2], 2), np.float32)
    flow[..., 0] = shift
    mask = np.ones(frames[0].shape[:2], np.float32)
    mask[:, -shift - 1 :] = 0
    errors = {i: warping_error(frames[i - 1], frames[i], flow, mask) for i in range(1, len(frames))}
    inside = [e for i, e in errors.items() if i not in borders]
    border = [e for i, e in errors.items() if i in borders] or [float("nan")]
    return float(np.mean(inside)), float(np.mean(border)), float(np.max(border))


def run_video(work: Path, home: Path, quick: bool) -> list[dict[str, Any]]:
    """One stylize-video job three ways: whole, chained chunks, parallel chunks (see the module doc)."""
    from easel.jobs.video import plan_chunks

    frames, chunk, overlap = (12, 4, 2) if quick else (24, 8, 3)
    shift = 3
    _pan_frames(work / "clip", frames, shift)
    args = {
        "weights": "vgg19-random.pth",
        "size": 64,
        "precision": "fp32",
        "device": "cpu",
        "seed": 0,
        "iterations-first": 10,
        "coarse-iterations": 10,
        "iterations": 6,
        "temporal-weight": 0.05,
    }
    rows = []
    ways = [
        ("one job (one chain of frames)", {"chunk": frames + 1}, set()),
        (
            f"chained chunks (chunk: {chunk})",
            {"chunk": chunk},
            {c.start for c in plan_chunks(frames, chunk, 0)[1:]},
        ),
        (
            f"parallel chunks (chunk: {chunk}, overlap: {overlap}, cross-faded)",
            {"chunk": chunk, "overlap": overlap},
            {
                i
                for c in plan_chunks(frames, chunk, overlap)[1:]
                for i in range(c.start, c.start + c.fade + 1)
            },
        ),
    ]
    for index, (name, keys, borders) in enumerate(ways):
        manifest = work / f"video{index}.json"
        out = f"video-out{index}"
        job = {
            "command": "stylize-video",
            "input": "clip",
            "style": ["style.png"],
            "output": out,
            "args": args,
        }
        manifest.write_text(json.dumps({"jobs": [{**job, **keys}]}))
        report = work / f"video-report{index}"
        report.mkdir()
        argv = [
            sys.executable,
            "-m",
            "easel",
            "batch",
            str(manifest),
            "--workers",
            "2",
            "--report",
            str(report),
            "-q",
        ]
        row = _measured(lambda argv=argv: (subprocess.run(argv, cwd=work, env=_env(home), check=True), {})[1])
        inside, border, border_max = _warping(work / out, shift, borders)
        rows.append(
            {
                "way": name,
                "frames": frames,
                **row,
                "warp_inside": inside,
                "warp_border": border,
                "warp_border_max": border_max,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 jobs, 2 iterations: a smoke run")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument(
        "--video",
        action="store_true",
        help="also one stylize-video job: whole, chained chunks, parallel chunks",
    )
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
            rows.append(_measured(lambda: run_naive(work, photos, args, home)))
        rows.append(_measured(lambda: run_batch(work, photos, args, home, "local")))
        rows.append(_measured(lambda: run_batch(work, photos, args, home, "ray")))
        if cli.naive_last:
            rows.insert(0, _measured(lambda: run_naive(work, photos, args, home)))
        video_rows = run_video(work, home, cli.quick) if cli.video else []
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
        "cpu_s",
        "jobs_per_min",
        "per_job_s",
        "compute_s",
        "overhead_per_job_s",
        "speedup_vs_naive",
        "load",
    ]
    title = (
        f"{jobs} stylize jobs at {size} px, {iterations} iterations (+{max(1, iterations // 2)} coarse), fp32, CPU; "
        "random-init VGG-19 at the real widths (real file format)"
    )
    table = title + "\n\n" + markdown_table(rows, columns)
    name = ("batch-quick" if cli.quick else "batch") + ("-naive-last" if cli.naive_last else "")
    order = "naive loop last" if cli.naive_last else "naive loop first"
    text = f"{table}\n\n({order})"
    if video_rows:
        text += "\n\n" + VIDEO_TITLE.format(frames=video_rows[0]["frames"]) + "\n\n"
        text += markdown_table(video_rows, VIDEO_COLUMNS)
    payload = {"rows": rows, "video_rows": video_rows, "quick": cli.quick, "order": order}
    write_results(name + ("-video" if video_rows else ""), payload, text)


if __name__ == "__main__":
    main()
