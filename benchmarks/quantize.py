"""Benchmark: easel.quantize_colors against scikit-learn KMeans and Pillow's median cut.

A 12-megapixel photo-like image (scikit-image's bundled photos, upscaled into a
2x2 mosaic of 2000x1500 tiles with mild noise and lighting gradients, rounded to
8 bits) is quantized to 16 colours by

* easel (histogram K-means + full-data refinement),
* ``sklearn.cluster.KMeans(n_clusters=16, n_init=1)`` on all pixels,
* Pillow ``Image.quantize(16, method=MEDIANCUT)`` (a reference, not a target),

in one run. Targets: easel >= 5x faster than scikit-learn, and
``easel_mse <= 1.02 * sklearn_mse`` (MSE of the quantized image against the
original, RGB in [0, 1]).

Usage::

    python benchmarks/quantize.py            # full 4000x3000 run
    python benchmarks/quantize.py --quick    # 800x600 smoke run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, timed, write_results  # noqa: E402

SPEED_TARGET = 5.0
MSE_TARGET = 1.02


def photo_mosaic(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like ``(height, width, 3)`` float32 image from skimage's bundled samples.

    Four photos upscaled into 2x2 tiles, each with a smooth lighting gradient and
    mild sensor-like noise, then rounded to 8 bits like a decoded JPEG/PNG.
    """
    import cv2
    import skimage.data

    rng = np.random.default_rng(seed)
    names = ["astronaut", "coffee", "chelsea", "rocket"]
    th, tw = height // 2, width // 2
    out = np.empty((th * 2, tw * 2, 3), np.float32)
    yy, xx = np.mgrid[0:th, 0:tw].astype(np.float32)
    for i, name in enumerate(names):
        tile = getattr(skimage.data, name)().astype(np.float32) / 255.0
        tile = cv2.resize(tile, (tw, th), interpolation=cv2.INTER_CUBIC)
        gx, gy = rng.uniform(-0.15, 0.15, size=2)
        light = 1.0 + gx * (xx / tw - 0.5) + gy * (yy / th - 0.5)
        tile = tile * light[:, :, None] + rng.normal(0.0, 0.015, size=tile.shape).astype(np.float32)
        r, c = divmod(i, 2)
        out[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = tile
    return (np.clip(np.rint(out * 255.0), 0, 255) / 255.0).astype(np.float32)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    diff = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(diff * diff))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="800x600 image instead of 4000x3000")
    parser.add_argument("-k", type=int, default=16, help="number of colours (default 16)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from PIL import Image
    from sklearn.cluster import KMeans

    from easel.art.quantize import quantize_colors

    height, width = (600, 800) if args.quick else (3000, 4000)
    image = photo_mosaic(height, width, seed=args.seed)
    pixels = image.reshape(-1, 3)
    k = args.k
    n_unique = int(np.unique(np.rint(pixels * 255).astype(np.int32) @ np.array([65536, 256, 1])).size)

    # warm-up: numba kernels compile (or load from cache) outside the timing
    quantize_colors(image[:64, :64], n_colors=min(k, 8), seed=0)
    quantize_colors(image[:64, :64], n_colors=min(k, 8), seed=0, space="lab")

    easel_res, easel_s = timed(lambda: quantize_colors(image, n_colors=k, seed=args.seed))
    easel_mse = mse(easel_res.image, image)
    lab_res, lab_s = timed(lambda: quantize_colors(image, n_colors=k, seed=args.seed, space="lab"))
    lab_mse = mse(lab_res.image, image)

    def sk() -> np.ndarray:
        km = KMeans(n_clusters=k, n_init=1, random_state=args.seed).fit(pixels)
        return km.cluster_centers_[km.labels_].reshape(image.shape)

    sk_img, sk_s = timed(sk)
    sk_mse = mse(sk_img, image)

    uint8 = Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8))

    def pil() -> np.ndarray:
        q = uint8.quantize(colors=k, method=Image.Quantize.MEDIANCUT).convert("RGB")
        return np.asarray(q, dtype=np.float32) / 255.0

    pil_img, pil_s = timed(pil)
    pil_mse = mse(pil_img, image)

    speedup = sk_s / easel_s
    ratio = easel_mse / sk_mse
    rows = [
        {
            "method": "easel quantize_colors (rgb)",
            "seconds": easel_s,
            "speedup_vs_sklearn": speedup,
            "mse": easel_mse,
            "mse_vs_sklearn": ratio,
        },
        {
            "method": "easel quantize_colors (lab)",
            "seconds": lab_s,
            "speedup_vs_sklearn": sk_s / lab_s,
            "mse": lab_mse,
            "mse_vs_sklearn": lab_mse / sk_mse,
        },
        {
            "method": "sklearn KMeans(n_init=1), all pixels",
            "seconds": sk_s,
            "speedup_vs_sklearn": 1.0,
            "mse": sk_mse,
            "mse_vs_sklearn": 1.0,
        },
        {
            "method": "Pillow quantize (median cut)",
            "seconds": pil_s,
            "speedup_vs_sklearn": sk_s / pil_s,
            "mse": pil_mse,
            "mse_vs_sklearn": pil_mse / sk_mse,
        },
    ]
    passed = speedup >= SPEED_TARGET and ratio <= MSE_TARGET
    table = (
        f"Colour quantization, k={k}, {width}x{height} ({width * height / 1e6:.1f} MP, "
        f"{n_unique} distinct colours)\n\n"
        + markdown_table(rows, ["method", "seconds", "speedup_vs_sklearn", "mse", "mse_vs_sklearn"])
        + f"\n\nTargets: speedup >= {SPEED_TARGET}x and mse_vs_sklearn <= {MSE_TARGET} (rgb): "
        + ("PASS" if passed else "FAIL")
        + (" (smoke run: the targets apply to the full 12 MP run)" if args.quick else "")
    )
    payload = {
        "image": {"height": height, "width": width, "distinct_colors": n_unique, "quick": args.quick},
        "k": k,
        "seed": args.seed,
        "rows": rows,
        "targets": {"speedup": SPEED_TARGET, "mse_ratio": MSE_TARGET},
        "passed": passed,
    }
    write_results("quantize_quick" if args.quick else "quantize", payload, table)
    return 0 if passed or args.quick else 1  # --quick is a smoke run: targets are for the full size


if __name__ == "__main__":
    sys.exit(main())
