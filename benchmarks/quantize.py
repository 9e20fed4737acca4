"""Benchmark: easel colour quantization against scikit-learn, libimagequant and Pillow, end to end.

Two parts, in one run:

1. **Quality on a varied corpus** (``benchmarks/_corpus.py``: photo, smooth
   gradient, flat graphics, noise, low light, 16-bit, textured regions; 1200x900
   each, 320x240 with ``--quick``): every image is quantized to K colours by

   * easel ``quantize_colors`` (RGB),
   * ``sklearn.cluster.KMeans(n_clusters=K, n_init=1)`` on all pixels,
   * libimagequant (the engine of pngquant, through the ``imagequant`` package,
     at its best quality) without and with dithering,
   * Pillow's median cut (and Pillow's ``LIBIMAGEQUANT`` method where its build
     has it),

   and scored by the MSE against the original (RGB in [0, 1]). The **worst** easel
   / sklearn and easel / libimagequant (no dithering) ratios over the corpus are
   the figures that count, not the mean.

2. **Speed on a 12-megapixel photo** (4000x3000; 800x600 with ``--quick``): the
   photo is written as a PNG, and ``easel quantize BIG.png -k K -o OUT.png``
   is timed as a whole process (start-up, read, quantize, write; the best of two
   runs after a warm-up run on a small image, so numba's cache is warm), against
   scikit-learn's in-process ``KMeans(K, n_init=1)`` on the same pixels. The
   in-process times of easel, libimagequant and Pillow are listed too.

The CLI's CPU seconds (all its threads) are reported beside its wall time,
and scikit-learn's too, with the load average: on a shared machine the CPU
ratio is the steadier figure. ``--before SRC`` also times the CLI of another
source tree (e.g. ``git archive HEAD src | tar -x -C /tmp/old``), alternating
with this one, as a before/after under the same load.

Targets (full run): the CLI end to end >= 10x faster than scikit-learn in
process; easel's MSE <= scikit-learn's on every corpus image, and <=
libimagequant's (no dithering) on every corpus image. A peer that is not
installed is reported as absent, and the targets that need it as not checked.

Usage::

    python benchmarks/quantize.py            # full run (about a minute or two on two cores)
    python benchmarks/quantize.py --quick    # small smoke run
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
from _common import markdown_table, timed, write_results  # noqa: E402
from _corpus import corpus, photo_mosaic  # noqa: E402

SPEED_TARGET = 10.0
REPO = Path(__file__).resolve().parent.parent


def mse(a: np.ndarray, b: np.ndarray) -> float:
    diff = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(diff * diff))


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def imagequant_available() -> bool:
    try:
        import imagequant  # noqa: F401
    except ImportError:
        return False
    return True


def liq_quantize(image: np.ndarray, k: int, dither: bool) -> np.ndarray:
    """libimagequant at its best quality (``imagequant`` package): the quantized float image."""
    import imagequant

    height, width = image.shape[:2]
    rgba = np.dstack([to_uint8(image), np.full((height, width), 255, np.uint8)])
    data, palette = imagequant.quantize_raw_rgba_bytes(
        rgba.tobytes(), width, height, dithering_level=1.0 if dither else 0.0, max_colors=k
    )
    index = np.frombuffer(data, np.uint8).reshape(height, width)
    colors = np.asarray(palette, np.float32).reshape(-1, 4)[:, :3] / np.float32(255.0)
    return colors[index]  # type: ignore[no-any-return]


def pillow_quantize(image: np.ndarray, k: int, method: str) -> np.ndarray:
    from PIL import Image

    pil = Image.fromarray(to_uint8(image))
    q = pil.quantize(colors=k, method=getattr(Image.Quantize, method), dither=Image.Dither.NONE)
    return np.asarray(q.convert("RGB"), dtype=np.float32) / np.float32(255.0)


def pillow_has_liq() -> bool:
    from PIL import features

    return bool(features.check_feature("libimagequant"))


def sklearn_quantize(image: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    pixels = image.reshape(-1, 3)
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(pixels)
    return km.cluster_centers_[km.labels_].reshape(image.shape)  # type: ignore[no-any-return]


def quality_sweep(size: tuple[int, int], k: int, seed: int) -> list[dict[str, Any]]:
    from easel.art.quantize import quantize_colors

    height, width = size
    have_liq, have_pil_liq = imagequant_available(), pillow_has_liq()
    warm = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    quantize_colors(warm, n_colors=8, seed=0)  # numba kernels load (or compile) outside the timing
    rows = []
    for name, (image, _) in corpus(height, width, seed).items():
        row: dict[str, Any] = {"image": name}
        res, row["easel_s"] = timed(lambda image=image: quantize_colors(image, n_colors=k, seed=seed))
        row["easel"] = mse(res.image, image)
        sk, row["sklearn_s"] = timed(lambda image=image: sklearn_quantize(image, k, seed))
        row["sklearn"] = mse(sk, image)
        if have_liq:
            row["liq"] = mse(liq_quantize(image, k, dither=False), image)
            row["liq_dither"] = mse(liq_quantize(image, k, dither=True), image)
        if have_pil_liq:
            row["pillow_liq"] = mse(pillow_quantize(image, k, "LIBIMAGEQUANT"), image)
        row["median_cut"] = mse(pillow_quantize(image, k, "MEDIANCUT"), image)
        row["easel_vs_sklearn"] = row["easel"] / max(row["sklearn"], 1e-30)
        if have_liq:
            row["easel_vs_liq"] = row["easel"] / max(row["liq"], 1e-30)
        rows.append(row)
        print(f"  {name}: " + ", ".join(f"{key} {value:.4g}" for key, value in row.items() if key != "image"))
    return rows


def run_cli(args: list[str], src: str | None = None) -> tuple[float, float]:
    """``python -m easel ARGS`` in a new process (``src``: the easel tree to import): wall and CPU seconds."""
    env = None if src is None else {**os.environ, "PYTHONPATH": src}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "easel", *args], capture_output=True, text=True, cwd=REPO, check=False, env=env
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"easel {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def cpu_timed(fn: Any) -> tuple[Any, float, float]:
    """``fn()``: its result, wall seconds and CPU seconds of this process (all threads)."""
    cpu = time.process_time()
    result, wall = timed(fn)
    return result, wall, time.process_time() - cpu


def speed(
    size: tuple[int, int], k: int, seed: int, before: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from PIL import Image

    from easel.art.quantize import quantize_colors

    height, width = size
    image = photo_mosaic(height, width, seed=seed)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        big, out = Path(tmp) / "big.png", Path(tmp) / "out.png"
        Image.fromarray(to_uint8(image)).save(big, compress_level=1)
        small = Path(tmp) / "small.png"
        Image.fromarray(to_uint8(image[:96, :128])).save(small)
        warm_up = ["quantize", str(small), "-k", str(k), "-o", str(Path(tmp) / "s.png"), "-q", "-y"]
        cli_args = ["quantize", str(big), "-k", str(k), "-o", str(out), "--seed", str(seed), "-q", "-y"]
        trees = [None] if before is None else [before, None]
        for src in trees:
            run_cli(warm_up, src)  # numba's cache is warm for each tree
        runs: dict[str | None, list[tuple[float, float]]] = {src: [] for src in trees}
        for _ in range(2):
            for src in trees:  # alternating, so both trees see the same load
                runs[src].append(run_cli(cli_args, src))
        cli_s = min(wall for wall, _ in runs[None])
        cli_cpu = min(cpu for _, cpu in runs[None])
        record = json.loads(out.with_name(out.name + ".json").read_text())
        written = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32) / np.float32(255.0)
        cli_mse = mse(written, image)
        out_bytes = out.stat().st_size

    quantize_colors(image[:64, :64], n_colors=min(k, 8), seed=0)  # numba kernels load outside the timing
    res, easel_s, easel_cpu = cpu_timed(lambda: quantize_colors(image, n_colors=k, seed=seed))
    sk, sk_s, sk_cpu = cpu_timed(lambda: sklearn_quantize(image, k, seed))
    sk_mse = mse(sk, image)
    if before is not None:
        rows.append(
            {
                "method": f"easel quantize (CLI, whole process) of the tree before ({before})",
                "seconds": min(wall for wall, _ in runs[before]),
                "cpu_seconds": min(cpu for _, cpu in runs[before]),
            }
        )
    rows.append(
        {
            "method": "easel quantize (CLI, whole process: start-up, read, quantize, write)",
            "seconds": cli_s,
            "cpu_seconds": cli_cpu,
            "mse": cli_mse,
        }
    )
    rows.append(
        {
            "method": "easel quantize_colors (in process)",
            "seconds": easel_s,
            "cpu_seconds": easel_cpu,
            "mse": res.mse,
        }
    )
    rows.append(
        {
            "method": "sklearn KMeans(n_init=1), all pixels (in process)",
            "seconds": sk_s,
            "cpu_seconds": sk_cpu,
            "mse": sk_mse,
        }
    )
    if imagequant_available():
        liq, liq_s = timed(lambda: liq_quantize(image, k, dither=False))
        rows.append(
            {"method": "libimagequant, no dithering (in process)", "seconds": liq_s, "mse": mse(liq, image)}
        )
    else:
        rows.append({"method": "libimagequant: absent (pip install imagequant)", "seconds": float("nan")})
    pil, pil_s = timed(lambda: pillow_quantize(image, k, "MEDIANCUT"))
    rows.append({"method": "Pillow median cut (in process)", "seconds": pil_s, "mse": mse(pil, image)})
    for row in rows:
        row["speedup_vs_sklearn"] = (
            sk_s / row["seconds"] if row["seconds"] == row["seconds"] else float("nan")
        )
        if "cpu_seconds" in row:
            row["cpu_speedup_vs_sklearn"] = sk_cpu / row["cpu_seconds"]
        if "mse" in row:
            row["mse_vs_sklearn"] = row["mse"] / sk_mse
    cli = {
        "seconds": cli_s,
        "cpu_seconds": cli_cpu,
        "timings_s": record.get("timings_s", {}),
        "output_bytes": out_bytes,
        "speedup_vs_sklearn": sk_s / cli_s,
        "cpu_speedup_vs_sklearn": sk_cpu / cli_cpu,
        "runs": {("this tree" if src is None else src): value for src, value in runs.items()},
    }
    return rows, cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small images (a smoke run)")
    parser.add_argument("-k", type=int, default=16, help="number of colours (default 16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", metavar="SRC", help="also time the CLI of the easel tree under SRC")
    args = parser.parse_args(argv)
    k, seed = args.k, args.seed
    load_before = os.getloadavg()

    corpus_size = (240, 320) if args.quick else (900, 1200)
    big_size = (600, 800) if args.quick else (3000, 4000)
    print(f"quality on the corpus ({corpus_size[1]}x{corpus_size[0]}):")
    quality = quality_sweep(corpus_size, k, seed)
    print(f"speed on a {big_size[1]}x{big_size[0]} photo:")
    rows, cli = speed(big_size, k, seed, args.before)
    load_after = os.getloadavg()
    load = f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"

    have_liq = imagequant_available()
    worst_sk = max(quality, key=lambda r: r["easel_vs_sklearn"])
    worst_liq = max(quality, key=lambda r: r["easel_vs_liq"]) if have_liq else None
    mse_ok = worst_sk["easel_vs_sklearn"] <= 1.0
    liq_ok = worst_liq is not None and worst_liq["easel_vs_liq"] <= 1.0
    speed_ok = cli["speedup_vs_sklearn"] >= SPEED_TARGET
    passed = mse_ok and liq_ok and speed_ok

    quality_cols = ["image", "easel", "sklearn", "liq", "liq_dither", "pillow_liq", "median_cut"]
    quality_cols += ["easel_vs_sklearn", "easel_vs_liq", "easel_s", "sklearn_s"]
    quality_cols = [c for c in quality_cols if any(c in r for r in quality)]
    mp = big_size[0] * big_size[1] / 1e6
    timings = ", ".join(f"{key} {value:.2f} s" for key, value in cli["timings_s"].items())
    table = (
        f"Colour quantization, k={k}: MSE (RGB in [0, 1]) on the corpus, {corpus_size[1]}x{corpus_size[0]} "
        "(liq: libimagequant at best quality; "
        + ("present" if have_liq else "ABSENT: pip install imagequant")
        + ")\n\n"
        + markdown_table(quality, quality_cols)
        + f"\n\nWorst easel / sklearn MSE: {worst_sk['easel_vs_sklearn']:.4f} ({worst_sk['image']})"
        + (
            f"; worst easel / libimagequant (no dithering): {worst_liq['easel_vs_liq']:.4f} ({worst_liq['image']})"
            if worst_liq is not None
            else "; libimagequant absent: not compared"
        )
        + f"\n\nSpeed, {big_size[1]}x{big_size[0]} ({mp:.1f} MP) photo; the CLI is timed as a whole process "
        f"({timings} inside it; PNG of {cli['output_bytes'] / 1e6:.1f} MB); {load}\n\n"
        + markdown_table(
            rows,
            [
                "method",
                "seconds",
                "speedup_vs_sklearn",
                "cpu_seconds",
                "cpu_speedup_vs_sklearn",
                "mse",
                "mse_vs_sklearn",
            ],
        )
        + f"\n\nTargets: CLI end to end >= {SPEED_TARGET:g}x sklearn "
        + ("PASS" if speed_ok else "FAIL")
        + "; MSE <= sklearn on every corpus image "
        + ("PASS" if mse_ok else "FAIL")
        + "; MSE <= libimagequant (no dithering) on every corpus image "
        + ("PASS" if liq_ok else ("FAIL" if have_liq else "NOT CHECKED (absent)"))
        + (" (smoke run: the targets apply to the full run)" if args.quick else "")
    )
    payload = {
        "k": k,
        "seed": seed,
        "quick": args.quick,
        "corpus_size": list(corpus_size),
        "big_size": list(big_size),
        "quality": quality,
        "worst_vs_sklearn": {"image": worst_sk["image"], "ratio": worst_sk["easel_vs_sklearn"]},
        "worst_vs_libimagequant": None
        if worst_liq is None
        else {"image": worst_liq["image"], "ratio": worst_liq["easel_vs_liq"]},
        "speed": rows,
        "cli": cli,
        "load_average": {"before": load_before, "after": load_after},
        "peers": {"imagequant": have_liq, "pillow_libimagequant": pillow_has_liq()},
        "targets": {"cli_speedup": SPEED_TARGET, "mse_ratio": 1.0},
        "passed": passed,
    }
    write_results("quantize_quick" if args.quick else "quantize", payload, table)
    return 0 if passed or args.quick else 1  # --quick is a smoke run: targets are for the full size


if __name__ == "__main__":
    sys.exit(main())
