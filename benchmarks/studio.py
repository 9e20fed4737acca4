"""Benchmark: what the studio adds to a fly-through run, against the library and the CLI in the same run.

The same small fly-through (a synthetic scene from ``easel.flythrough.synthetic``
with its exact COLMAP model: fit, then a video along the cameras) three ways,
alternated ``--repeat`` times so that load changes hit each the same:

1. **library** -- ``easel.flythrough.fit_photos`` then ``render_video`` (the baseline);
2. **cli** -- ``easel flythrough fit`` then ``easel flythrough render``, in-process
   (``easel.cli.main``): output plans, run records;
3. **studio** -- ``Studio.watch`` of the Fly-through tab, no browser: the uploads
   copied into a job folder (and one zip unpacked), the queue, the record, the
   scene zipped for download.

Each way runs once untimed first (imports, first calls). Wall and CPU seconds
(this process: the studio's job thread included), medians.
The studio's own overhead is its time over the library's.

Usage::

    python benchmarks/studio.py            # 12 views at 128x96, 300 steps, 3 s at 12 fps
    python benchmarks/studio.py --quick    # 6 views at 48x64, 30 steps
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, write_results  # noqa: E402


def _measure(fn: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each way, alternated")
    parser.add_argument("--name", default=None, help="results name (default studio / studio_quick)")
    args = parser.parse_args(argv)

    import torch

    from easel.cli import main as easel_main
    from easel.flythrough.options import FitOptions, RenderOptions
    from easel.flythrough.pipeline import fit_photos, render_video
    from easel.flythrough.synthetic import write_synthetic_scene
    from easel.web.app import Studio, StudioSettings

    torch.set_num_threads(1)  # the studio's job thread and the CLI alike
    views, shape, steps, seconds, fps = (
        (6, (48, 64), 30, 1.0, 8.0) if args.quick else (12, (96, 128), 300, 3.0, 12.0)
    )
    root = Path(tempfile.mkdtemp(prefix="easel-bench-studio-"))
    try:
        data = write_synthetic_scene(root / "data", views, shape, points=20_000, supersample=1)
        fit_opts = FitOptions(steps=steps, eval_every=100, checkpoint_every=0)
        render_opts = RenderOptions(seconds=seconds, fps=fps)
        photos_zip = root / "photos.zip"
        with zipfile.ZipFile(photos_zip, "w") as zf:  # the photos as a zip, as a page may send them
            for p in sorted(data.images_dir.iterdir()):
                zf.write(p, f"trip/{p.name}")
        model_files = [str(p) for p in sorted(data.model_dir.iterdir())]
        studio = Studio(StudioSettings(root / "studio-out", temp=root / "studio-tmp"))
        fields = studio.fields["flythrough"]
        changed = {"steps": steps, "eval_every": 100, "checkpoint_every": 0, "seconds": seconds, "fps": fps}
        values: list[Any] = [[str(photos_zip)], model_files] + [
            changed.get(f.name, f.initial) for f in fields
        ]
        counter = iter(range(10_000))

        def library() -> None:
            out = root / f"lib{next(counter)}"
            fit_photos(data.images_dir, out / "scene", fit_opts, colmap=data.model_dir)
            render_video(out / "scene", out / "flythrough.mp4", render_opts)

        def cli() -> None:
            out = root / f"cli{next(counter)}"
            out.mkdir()
            common = ["--steps", str(steps), "--eval-every", "100", "--checkpoint-every", "0", "-q"]
            fit = ["flythrough", "fit", str(data.images_dir), "--colmap", str(data.model_dir), *common]
            assert easel_main([*fit, "-o", str(out / "scene")]) == 0
            render = [
                "flythrough",
                "render",
                str(out / "scene"),
                "--seconds",
                str(seconds),
                "--fps",
                str(fps),
            ]
            assert easel_main([*render, "-o", str(out / "flythrough.mp4"), "-q"]) == 0

        def web() -> None:
            last = list(studio.watch("flythrough", "bench", values))[-1]
            assert 'data-state="finished"' in last["status"], last["status"]

        ways = {"library": library, "cli": cli, "studio": web}
        for fn in ways.values():  # warm-up, untimed: imports, first calls, encoder start
            fn()
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in ways}
        for _ in range(args.repeat):
            for name, fn in ways.items():
                times[name].append(_measure(fn))
        load = os.getloadavg()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    base_wall = statistics.median(w for w, _ in times["library"])
    base_cpu = statistics.median(c for _, c in times["library"])
    rows = []
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        rows.append(
            {
                "way": name,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "wall_vs_library": f"{wall / base_wall:.2f}x",
                "cpu_vs_library": f"{cpu / base_cpu:.2f}x",
                "runs": len(runs),
            }
        )
    setup = f"{views} views at {shape[1]}x{shape[0]}, {steps} steps, {seconds:g} s at {fps:g} fps"
    table = (
        f"Fly-through through the studio vs the library and the CLI ({setup}; medians of {args.repeat}; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})\n\n"
        + markdown_table(rows, ["way", "wall_s", "cpu_s", "wall_vs_library", "cpu_vs_library", "runs"])
    )
    payload = {
        "setup": {"views": views, "shape": list(shape), "steps": steps, "seconds": seconds, "fps": fps},
        "load_average": [round(x, 2) for x in load],
        "rows": rows,
        "raw": {k: [[round(w, 3), round(c, 3)] for w, c in v] for k, v in times.items()},
    }
    write_results(args.name or ("studio_quick" if args.quick else "studio"), payload, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
