"""Benchmark: easel's default style transfer against the plain Gatys loop, in one process.

Both runs use the same content/style pair, the same encoder weights (the real
``vgg19-caffe`` file when cached, otherwise a random-initialized VGG-19 saved
in the real file format) and are scored by one fp32 evaluator (same layers,
weights and Gram normalization).

1. reference: single scale, fp32, full resolution from the first iteration,
   ``--ref-iterations`` L-BFGS iterations (500 in the issue) and optionally
   ``--adam-iterations`` Adam iterations (2000 in the issue) at lr 10/255
   (neural-style's 1e1 in 0-255 units);
2. easel: :class:`easel.StyleOptions` defaults (multiscale, bf16 autocast, ...).

Timings: wall seconds and CPU seconds of the process (``time.process_time``);
on a shared machine the CPU time is the steadier figure. Also measured: seconds per iteration of each speed lever at ``--size``, and peak
memory of a 1024 px run in a fresh process. Results go to
``benchmarks/results/stylize.json`` and ``.md``.

Usage::

    python benchmarks/stylize.py                       # the issue's configuration (long on 2 cores)
    python benchmarks/stylize.py --size 256 --ref-iterations 100 --adam-iterations 0   # minutes
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, run_isolated, write_results  # noqa: E402


def weights_path() -> tuple[Path, str]:
    """The real cached file when present, else a random VGG-19 in the real format."""
    from easel import weights
    from easel.nets.vgg import save_random_vgg19

    if weights.is_present("vgg19-caffe"):
        return weights.local_path("vgg19-caffe"), "vgg19-caffe (real)"
    path = weights.cache_dir().parent / "bench" / "vgg19-random-caffe-format.pth"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_random_vgg19(path, seed=0)
    return path, "random-init VGG-19 (real file format; real weights not cached)"


def images(size: int) -> tuple[Any, Any]:
    from easel.image import fit_long_side, resize
    from easel.samples import sample_image

    content = sample_image("astronaut")
    style = sample_image("immunohistochemistry")
    return (
        resize(content, fit_long_side(content.shape[:2], size)),
        resize(style, fit_long_side(style.shape[:2], size)),
    )


def run_method(name: str, options: Any, content: Any, style: Any) -> dict[str, Any]:
    from easel.style import Stylizer

    stylizer = Stylizer(options)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = stylizer.run(content, [style])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"method": name, "wall_s": wall, "cpu_s": cpu, "result": result, "stylizer": stylizer}


def lever_times(path: Path, size: int, repeats: int) -> list[dict[str, Any]]:
    """Seconds per forward+backward evaluation for each lever (best of ``repeats`` after a warm-up)."""
    import torch

    from easel.nets.vgg import load_vgg19
    from easel.style.losses import gram_matrix
    from easel.style.options import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS

    used = [*DEFAULT_STYLE_LAYERS, *DEFAULT_CONTENT_LAYERS]
    configs = [
        ("fp32, full VGG-19 conv stack, style Grams recomputed each step", dict(full=True, recompute=True)),
        ("fp32, full conv stack", dict(full=True)),
        ("fp32, truncated after relu5_1", dict()),
        ("fp32 + channels-last", dict(cl=True)),
        ("bf16 autocast", dict(bf16=True)),
        ("bf16 autocast + channels-last", dict(bf16=True, cl=True)),
    ]
    rows = []
    x0 = torch.rand(1, 3, size, size)
    style_img = torch.rand(1, 3, size, size)
    for label, cfg in configs:
        layers = used + (["relu5_4"] if cfg.get("full") else [])
        enc = load_vgg19(path, layers)
        if cfg.get("cl"):
            enc.use_channels_last()
        x = x0.clone().requires_grad_(True)
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(cfg.get("bf16"))):
                feats = enc(x)
                if cfg.get("recompute"):
                    with torch.no_grad():
                        sfeats = enc(style_img)
                        _ = [gram_matrix(sfeats[k]) for k in DEFAULT_STYLE_LAYERS]
            loss = (
                sum(gram_matrix(feats[k]).square().sum() for k in DEFAULT_STYLE_LAYERS)
                + feats["relu4_2"].float().square().mean()
            )
            loss.backward()  # type: ignore[union-attr]
            x.grad = None
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "lever": label,
                "size": size,
                "s_per_iter": min(times[1:]),
                "median_s": sorted(times[1:])[len(times[1:]) // 2],
            }
        )
        print(f"  {label}: {min(times[1:]):.3f} s/iter", flush=True)
    return rows


_MEMORY_CHILD = """
import json, sys, time, numpy as np
from easel.style import stylize, StyleOptions
from easel.samples import sample_image
from easel.image import resize
size, iters, weights, tile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
coarse = int(sys.argv[5])
content = resize(sample_image("astronaut"), (size, size))
style = sample_image("immunohistochemistry")
opts = StyleOptions(size=size, iterations=iters, coarse_iterations=coarse, weights=weights,
                    tile_size=int(tile) if tile != "none" else None)
t = time.perf_counter()
r = stylize(content, [style], opts)
import resource
print(json.dumps({"size": size, "status": r.status, "seconds": time.perf_counter() - t,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "timings": r.timings}))
"""


def memory_run(
    path: Path, size: int, num_steps: int, tile: int | None = None, coarse_num_steps: int | None = None
) -> dict[str, Any]:
    """Peak memory of a stylize run of ``num_steps`` at the finest scale, in a fresh process."""
    coarse = num_steps if coarse_num_steps is None else coarse_num_steps
    out = run_isolated(
        ["-c", _MEMORY_CHILD, str(size), str(num_steps), str(path), str(tile or "none"), str(coarse)]
    )
    out["tile"] = tile
    out["iterations"] = f"{coarse} per coarser scale + {num_steps}"
    from easel.style import StyleOptions
    from easel.style.transfer import estimate_memory

    side = min(size, tile) if tile else size
    out["estimate_mib"] = estimate_memory((side, side), StyleOptions(size=size)) / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--ref-iterations", type=int, default=500)
    parser.add_argument("--adam-iterations", type=int, default=2000)
    parser.add_argument(
        "--easel-iterations", type=int, default=None, help="override easel's default iterations"
    )
    parser.add_argument(
        "--min-scale", type=int, default=None, help="easel's coarsest scale (default: StyleOptions' 256)"
    )
    parser.add_argument("--lever-size", type=int, default=None, help="image size of the lever timings")
    parser.add_argument("--lever-repeats", type=int, default=3)
    parser.add_argument("--skip-levers", action="store_true")
    parser.add_argument(
        "--parts",
        default="levers,runs,memory",
        help="comma-separated parts to run: levers, runs, memory (results go to stylize-<parts>.json "
        "unless all three run)",
    )
    parser.add_argument(
        "--memory-sizes", type=str, default="1024", help="comma-separated sizes for peak memory"
    )
    parser.add_argument("--tag", default="", help="suffix of the results' file name (keeps earlier results)")
    parser.add_argument("--memory-iterations", type=int, default=3, help="iterations at the finest scale")
    parser.add_argument(
        "--memory-coarse-iterations",
        type=int,
        default=None,
        help="iterations at each coarser scale (default: --memory-iterations)",
    )
    parser.add_argument(
        "--memory-tile", type=int, default=None, help="tile size for memory runs larger than it (e.g. 1024)"
    )
    args = parser.parse_args()

    import torch

    from easel.style import StyleOptions

    path, weights_label = weights_path()
    content, style = images(args.size)
    print(f"weights: {weights_label}; size {args.size}; torch threads {torch.get_num_threads()}", flush=True)

    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    levers = (
        []
        if args.skip_levers or "levers" not in parts
        else lever_times(path, args.lever_size or args.size, args.lever_repeats)
    )

    reference = StyleOptions(
        size=args.size,
        iterations=args.ref_iterations,
        multiscale=False,
        precision="fp32",
        lbfgs_history=100,
        weights=path,
        seed=0,
    )
    easel_opts = StyleOptions(size=args.size, weights=path, seed=0)
    if args.easel_iterations is not None:
        easel_opts.iterations = args.easel_iterations
    if args.min_scale is not None:
        easel_opts.min_scale = args.min_scale
    runs = [("reference: Gatys L-BFGS, single scale, fp32", reference), ("easel defaults", easel_opts)]
    if args.adam_iterations:
        adam = StyleOptions(
            size=args.size,
            iterations=args.adam_iterations,
            multiscale=False,
            precision="fp32",
            optimizer="adam",
            learning_rate=10 / 255,
            weights=path,
            seed=0,
        )
        runs.insert(1, ("reference: Gatys Adam, single scale, fp32", adam))
    if args.ref_iterations == 0:
        # Only the Adam reference (the L-BFGS one is a separate long run): it becomes rows[0].
        runs = runs[1:]
        if not args.adam_iterations:
            parser.error("--ref-iterations 0 needs --adam-iterations")
    rows: list[dict[str, Any]] = []
    evaluator = None
    for label, opts in runs if "runs" in parts else []:
        print(f"running {label} ...", flush=True)
        out = run_method(label, opts, content, style)
        if evaluator is None:
            evaluator = out["stylizer"]
        terms = evaluator.evaluate(out["result"].image, content, [style])
        rows.append(
            {
                "method": label,
                "iterations": f"{opts.resolved_coarse_iterations()}x{len(out['result'].scales) - 1} "
                f"+ {opts.resolved_iterations()}"
                if opts.multiscale and len(out["result"].scales) > 1
                else str(opts.resolved_iterations()),
                "wall_s": out["wall_s"],
                "cpu_s": out["cpu_s"],
                "eval_total": float(terms.total),
                "eval_content": float(terms.content),
                "eval_style": float(terms.style),
                "status": out["result"].status,
            }
        )
        print(f"  {rows[-1]}", flush=True)
    for row in rows:
        ref_row = rows[0]
        row["time_vs_ref"] = row["wall_s"] / ref_row["wall_s"]
        row["cpu_vs_ref"] = row["cpu_s"] / ref_row["cpu_s"]
        row["loss_vs_ref"] = row["eval_total"] / ref_row["eval_total"]

    memory = []
    for size in [int(s) for s in args.memory_sizes.split(",") if s.strip() and "memory" in parts]:
        print(f"peak memory at {size} px ...", flush=True)
        try:
            tile = args.memory_tile if args.memory_tile and size > args.memory_tile else None
            memory.append(memory_run(path, size, args.memory_iterations, tile, args.memory_coarse_iterations))
        except RuntimeError as exc:
            memory.append({"size": size, "error": str(exc)[-300:]})
        print(f"  {memory[-1]}", flush=True)

    table = "\n\n".join(
        [
            f"Style transfer at {args.size} px, weights: {weights_label}\n\n"
            + markdown_table(
                rows,
                [
                    "method",
                    "iterations",
                    "wall_s",
                    "cpu_s",
                    "eval_total",
                    "time_vs_ref",
                    "cpu_vs_ref",
                    "loss_vs_ref",
                ],
            ),
            markdown_table(levers, ["lever", "size", "s_per_iter", "median_s"]) if levers else "",
            markdown_table(
                memory, ["size", "tile", "iterations", "status", "seconds", "peak_rss_mib", "estimate_mib"]
            )
            if memory
            else "",
        ]
    )
    name = "stylize" if parts >= {"levers", "runs", "memory"} else "stylize-" + "-".join(sorted(parts))
    if args.ref_iterations == 0 and "runs" in parts:
        name += "-adam"
    if args.tag:
        name += f"-{args.tag}"
    write_results(
        name,
        {
            "config": vars(args),
            "weights": weights_label,
            "runs": rows,
            "levers": levers,
            "memory": memory,
            "targets": {"time_vs_ref_max": 0.2, "peak_1024_mib_max": 4096},
        },
        table,
    )
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
