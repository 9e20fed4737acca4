"""Benchmark: easel dream's octaves against a naive loop; a tiled large image; a zoom video.

Issue #9. Three parts, each in a fresh process (so each reports its own peak memory):

1. **octaves** -- a ``--size`` px input (default 1024), ``relu4_2``: easel's defaults
   (4 octaves x 10 iterations at scale 1.4, precision ``auto``, channels-last,
   automatic tiles) against a **naive loop in the same run**: the same objective,
   jitter and normalized step at full resolution, fp32, the plain (channels-first)
   layout, no octaves, untiled, the same number of gradient steps (40). A third
   run, ``octaves_only`` (easel's octaves, but fp32 channels-first), splits the
   gain between the octaves and the arithmetic levers. Reported: wall and CPU time
   of each and their ratios (target <= 1/5), easel's seconds per octave, and the
   activation energy each output reaches, scored by one fp32 evaluator
   (``Dreamer.energy``: mean squared ``relu4_2`` activation, no jitter) -- with the
   input's energy for reference. The encoder load and the ``auto`` measurement are
   timed apart (``setup_s``); with ``--repeat N`` the runs alternate N times and
   the best time of each counts.
2. **tiled** -- a ``--big`` px input (default 4096) dreamed with tiles
   (``--tile-size``, default 1024): wall time and the process's peak resident
   memory (target <= 6 GiB). ``--big-iterations`` per octave (default 10).
3. **zoom** -- a ``--zoom-frames``-frame zoom video (default 60) at ``--zoom-size`` px
   (default 512) with ``--zoom-octaves`` / ``--zoom-iterations`` per frame:
   seconds per frame (the encode included).

Wall time and the process's CPU time are both reported: on a shared machine the
CPU time is the steadier of the two.

The encoder is the cached ``vgg19-caffe`` when present; otherwise a
random-initialized VGG-19 of the real widths (saved with
:func:`easel.nets.vgg.save_random_vgg19`; the output says so): the timings and
memory are the real network's, the energies are not comparable with real
weights'.

Usage::

    python benchmarks/dream.py            # the issue's configuration (long: hours on 2 shared cores)
    python benchmarks/dream.py --quick    # 256 px octaves, 512 px tiled (tiles of 128), 4 frames at 96 px
    python benchmarks/dream.py --parts octaves --size 512
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, peak_rss_mib, run_isolated, write_results  # noqa: E402

PARTS = ("octaves", "tiled", "zoom")


def _encoder_weights(folder: Path) -> tuple[str | None, bool]:
    """``(weights path or None for the cached real one, is_random)``."""
    from easel import weights

    if weights.is_present("vgg19-caffe"):
        return None, False
    from easel.nets.vgg import save_random_vgg19

    path = folder / "vgg19-random-init.pth"
    if not path.exists():
        save_random_vgg19(path, seed=0)
    return str(path), True


def _photo(long_side: int) -> Any:
    from easel.image import resize
    from easel.pyramid import shape_with_long_side
    from easel.samples import sample_image

    image = sample_image("chelsea")
    return resize(image, shape_with_long_side(image.shape[:2], long_side))


def part_octaves(args: argparse.Namespace, weights: str | None) -> dict[str, Any]:
    from easel.dream import Dreamer, DreamOptions
    from easel.nets.precision import precision_name

    image = _photo(args.size)
    easel_opts = DreamOptions(layers=("relu4_2",), weights=weights, seed=0, iterations=args.iterations)
    steps = easel_opts.total_steps(image.shape[:2])
    plain = {"precision": "fp32", "channels_last": False}
    naive_opts = replace(easel_opts, octaves=1, iterations=steps, tile_size=max(image.shape[:2]), **plain)
    evaluator = Dreamer(DreamOptions(layers=("relu4_2",), weights=weights, precision="fp32"))
    start = time.perf_counter()
    dreamer = Dreamer(easel_opts)  # the encoder (loaded above, shared) and the precision auto measurement
    setup_s = time.perf_counter() - start
    runners = {
        "easel": dreamer,
        "octaves_only": Dreamer(replace(easel_opts, **plain), encoder=evaluator.encoder),  # type: ignore[arg-type]
        "naive": Dreamer(naive_opts, encoder=evaluator.encoder),
    }
    octave_seconds: list[float] = []
    seconds: dict[str, float] = {name: float("inf") for name in runners}
    cpu: dict[str, float] = {name: float("inf") for name in runners}
    images: dict[str, Any] = {}
    for _ in range(args.repeat):  # alternated, best of: the machine is shared
        for name, runner in runners.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            result = runner.run(image)
            images[name] = result.image
            if name == "easel" and time.perf_counter() - start < seconds[name]:
                octave_seconds = result.octave_seconds
            seconds[name] = min(seconds[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
            print(f"  {name}: {seconds[name]:.1f} s wall, {cpu[name]:.1f} s CPU", file=sys.stderr, flush=True)
    choice = dreamer.precision_choice
    return {
        "size": [image.shape[1], image.shape[0]],
        "steps": steps,
        "octaves": [[w, h] for h, w in easel_opts.octave_shapes(image.shape[:2])[0]],
        "easel_precision": precision_name(dreamer.dtype),
        "easel_channels_last": dreamer.channels_last,
        "precision_measurement": choice.as_record() if choice is not None else None,
        "easel_octave_s": octave_seconds,
        "setup_s": setup_s,
        **{f"{name}_s": value for name, value in seconds.items()},
        **{f"{name}_cpu_s": value for name, value in cpu.items()},
        "ratio": seconds["easel"] / seconds["naive"],
        "ratio_octaves_only": seconds["octaves_only"] / seconds["naive"],
        "cpu_ratio": cpu["easel"] / cpu["naive"],
        "cpu_ratio_octaves_only": cpu["octaves_only"] / cpu["naive"],
        "energy_input": evaluator.energy(image),
        **{f"energy_{name}": evaluator.energy(img) for name, img in images.items()},
        "peak_rss_mib": peak_rss_mib(),
    }


def part_tiled(args: argparse.Namespace, weights: str | None) -> dict[str, Any]:
    from easel.dream import Dreamer, DreamOptions

    image = _photo(args.big)
    options = DreamOptions(
        layers=("relu4_2",), weights=weights, seed=0, iterations=args.big_iterations, tile_size=args.tile_size
    )
    from easel.nets.precision import precision_name

    start = time.perf_counter()
    dreamer = Dreamer(options)
    result = dreamer.run(image)
    return {
        "precision": precision_name(dreamer.dtype),
        "octave_s": result.octave_seconds,
        "size": [image.shape[1], image.shape[0]],
        "tile_size": args.tile_size,
        "iterations": args.big_iterations,
        "steps": len(result.history),
        "status": result.status,
        "seconds": time.perf_counter() - start,
        "peak_rss_mib": peak_rss_mib(),
    }


def part_zoom(args: argparse.Namespace, weights: str | None) -> dict[str, Any]:
    from easel.dream import DreamOptions, ZoomOptions, dream_zoom

    image = _photo(args.zoom_size)
    options = DreamOptions(
        layers=("relu4_2",),
        weights=weights,
        seed=0,
        octaves=args.zoom_octaves,
        iterations=args.zoom_iterations,
    )
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = dream_zoom(image, Path(tmp) / "zoom.mp4", options, ZoomOptions(zoom_frames=args.zoom_frames))
        seconds = time.perf_counter() - start
    return {
        "size": [image.shape[1], image.shape[0]],
        "frames": result.frames_written,
        "octaves": args.zoom_octaves,
        "iterations": args.zoom_iterations,
        "status": result.status,
        "seconds": seconds,
        "s_per_frame": seconds / max(1, result.frames_written),
        "peak_rss_mib": peak_rss_mib(),
    }


def _child(args: argparse.Namespace) -> int:
    import os

    import torch

    folder = Path(args.weights_dir)
    weights, random_init = _encoder_weights(folder)
    fn = {"octaves": part_octaves, "tiled": part_tiled, "zoom": part_zoom}[args.child]
    load_before = os.getloadavg()[0]
    start_cpu = time.process_time()
    out = fn(args, weights)
    out["cpu_s"] = time.process_time() - start_cpu
    out["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    out["torch_threads"] = torch.get_num_threads()
    out["random_init_encoder"] = random_init
    print(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in a few minutes")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--size", type=int, default=1024, help="octaves part: input long side")
    parser.add_argument("--repeat", type=int, default=1, help="octaves part: runs of each (best of)")
    parser.add_argument(
        "--iterations",
        type=int,
        default=10,
        help="octaves part: steps per octave (the issue's 10; the naive loop makes octaves x this many)",
    )
    parser.add_argument("--big", type=int, default=4096, help="tiled part: input long side")
    parser.add_argument("--big-iterations", type=int, default=10, help="tiled part: iterations per octave")
    parser.add_argument("--tile-size", type=int, default=1024, help="tiled part: tile side")
    parser.add_argument("--zoom-frames", type=int, default=60)
    parser.add_argument("--zoom-size", type=int, default=512)
    parser.add_argument("--zoom-octaves", type=int, default=4)
    parser.add_argument("--zoom-iterations", type=int, default=10)
    parser.add_argument("--name", help="results file name (default dream, or dream_quick)")
    parser.add_argument("--child", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--weights-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    if args.quick:
        args.size, args.big, args.tile_size, args.big_iterations = 256, 512, 128, 2
        args.zoom_frames, args.zoom_size, args.zoom_octaves, args.zoom_iterations = 4, 96, 2, 3
    parts = [p for p in args.parts.split(",") if p]
    with tempfile.TemporaryDirectory() as folder:
        common = [
            f"--size={args.size}",
            f"--repeat={args.repeat}",
            f"--iterations={args.iterations}",
            f"--big={args.big}",
            f"--big-iterations={args.big_iterations}",
            f"--tile-size={args.tile_size}",
            f"--zoom-frames={args.zoom_frames}",
            f"--zoom-size={args.zoom_size}",
            f"--zoom-octaves={args.zoom_octaves}",
            f"--zoom-iterations={args.zoom_iterations}",
            f"--weights-dir={folder}",
        ]
        results: dict[str, Any] = {}
        for part in parts:
            results[part] = run_isolated([__file__, f"--child={part}", *common])
            print(f"{part}: {json.dumps(results[part])}", flush=True)
    random_init = any(r.get("random_init_encoder") for r in results.values())
    rows = []
    if "octaves" in results:
        r = results["octaves"]
        layout = "channels-last" if r["easel_channels_last"] else "channels-first"
        per_octave = ", ".join(f"{s:.1f}" for s in r["easel_octave_s"])
        rows.append(
            {
                "part": f"octaves {r['size'][0]}x{r['size'][1]}, {len(r['octaves'])} x "
                f"{r['steps'] // len(r['octaves'])} = {r['steps']} steps",
                "easel": f"{r['easel_s']:.1f} s wall / {r['easel_cpu_s']:.1f} s CPU ({r['easel_precision']}, "
                f"{layout}; per octave {per_octave} s), energy {r['energy_easel']:.4g}; octaves only (fp32, "
                f"channels-first) {r['octaves_only_s']:.1f} s / {r['octaves_only_cpu_s']:.1f} s CPU, "
                f"energy {r['energy_octaves_only']:.4g}",
                "baseline": f"naive fp32 {r['naive_s']:.1f} s wall / {r['naive_cpu_s']:.1f} s CPU, "
                f"energy {r['energy_naive']:.4g}",
                "figure": f"time ratio {r['ratio']:.3f} (octaves only {r['ratio_octaves_only']:.3f}; target "
                f"<= 0.2), CPU-time ratio {r['cpu_ratio']:.3f} (octaves only {r['cpu_ratio_octaves_only']:.3f}); "
                f"input energy {r['energy_input']:.4g}; load {r['load_average'][0]}-{r['load_average'][1]}",
            }
        )
    if "tiled" in results:
        r = results["tiled"]
        rows.append(
            {
                "part": f"tiled {r['size'][0]}x{r['size'][1]}, tiles {r['tile_size']}, {r['iterations']} it/octave",
                "easel": f"{r['seconds']:.1f} s wall / {r['cpu_s']:.1f} s CPU ({r['precision']}), {r['status']}; "
                f"load {r['load_average'][0]}-{r['load_average'][1]}",
                "baseline": "-",
                "figure": f"peak RSS {r['peak_rss_mib'] / 1024:.2f} GiB (target <= 6)",
            }
        )
    if "zoom" in results:
        r = results["zoom"]
        rows.append(
            {
                "part": f"zoom {r['frames']} frames {r['size'][0]}x{r['size'][1]}, "
                f"{r['octaves']} oct x {r['iterations']} it",
                "easel": f"{r['seconds']:.1f} s wall / {r['cpu_s']:.1f} s CPU; "
                f"load {r['load_average'][0]}-{r['load_average'][1]}",
                "baseline": "-",
                "figure": f"{r['s_per_frame']:.2f} s/frame ({r['cpu_s'] / max(1, r['frames']):.2f} s CPU/frame)",
            }
        )
    table = markdown_table(rows, ["part", "easel", "baseline", "figure"])
    if random_init:
        table += (
            "\n\nEncoder: RANDOM-INITIALIZED VGG-19 of the real widths (vgg19-caffe not cached): timings and "
            "memory are the real network's; energies are not those of real weights."
        )
    name = args.name or ("dream_quick" if args.quick else "dream")
    write_results(name, {"parts": results, "random_init_encoder": random_init, "args": vars(args)}, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
