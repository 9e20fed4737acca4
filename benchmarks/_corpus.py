"""The varied image corpus the art benchmarks (quantize, superpixels) run on.

Every image is synthetic or built from scikit-image's bundled photos, so the
corpus is the same on every machine and needs no download:

* ``photo``: four photos upscaled into 2x2 tiles, with lighting gradients and mild
  noise, rounded to 8 bits (like a decoded JPEG/PNG);
* ``gradient``: smooth colour ramps and a radial glow, 8 bits (banding-prone);
* ``flat``: flat graphics: 24-colour rectangles, discs and bars with anti-aliased
  edges (a logo or a chart); its shapes are ground-truth regions;
* ``noise``: uniform RGB noise, 8 bits (no structure at all);
* ``lowlight``: the photo at a twelfth of its brightness with sensor noise, 8 bits
  (everything in a few dark levels);
* ``deep16``: the photo without the 8-bit rounding, at 16-bit precision (a 16-bit
  PNG/TIFF, read as float);
* ``voronoi``: regions with wavy borders, each with its own colour, texture and
  noise; its regions are ground truth for superpixels.

:func:`corpus` builds them all at one size; :func:`photo_mosaic` at 4000x3000 is
the 12-megapixel image the timings use.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Entry = tuple[np.ndarray, "np.ndarray | None"]


def _round(image: np.ndarray, levels: int = 255) -> np.ndarray:
    return (np.clip(np.rint(image * levels), 0, levels) / levels).astype(np.float32)


def _photo_float(height: int, width: int, seed: int) -> np.ndarray:
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
    return np.clip(out, 0.0, 1.0)


def photo_mosaic(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like ``(height, width, 3)`` float32 image rounded to 8 bits (see the module doc)."""
    return _round(_photo_float(height, width, seed))


def gradient(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth ramps in each channel and a radial glow, rounded to 8 bits."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xx / max(1, width - 1), yy / max(1, height - 1)
    cy, cx = rng.uniform(0.3, 0.7, size=2)
    glow = np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / 0.08)
    image = np.stack([0.1 + 0.8 * u, 0.2 + 0.6 * v * (1 - 0.5 * u), 0.15 + 0.7 * glow], axis=-1)
    return _round(image)


def flat_graphics(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """24-colour shapes with anti-aliased edges, and the ``(H, W)`` int32 shape regions."""
    import cv2

    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, size=(24, 3))
    ids = np.zeros((height, width), np.int32)
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:] = palette[0]
    scale = max(height, width)
    for shape in range(1, 60):
        color = tuple(int(c) for c in palette[shape % 24])
        kind = shape % 3
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        size = int(rng.uniform(0.04, 0.2) * scale)
        if kind == 0:
            pts = (x, y), (min(width - 1, x + size), min(height - 1, y + size // 2))
            cv2.rectangle(canvas, *pts, color, -1, cv2.LINE_AA)
            cv2.rectangle(ids, *pts, shape, -1)
        elif kind == 1:
            cv2.circle(canvas, (x, y), size // 2, color, -1, cv2.LINE_AA)
            cv2.circle(ids, (x, y), size // 2, shape, -1)
        else:
            end = (min(width - 1, x + size), max(0, y - size))
            thickness = max(2, size // 12)
            cv2.line(canvas, (x, y), end, color, thickness, cv2.LINE_AA)
            cv2.line(ids, (x, y), end, shape, thickness)
    from skimage.measure import label as cc_label

    from easel.art.superpixels import relabel_consecutive

    gt = relabel_consecutive(cc_label(ids, background=-1, connectivity=1))
    return canvas.astype(np.float32) / np.float32(255.0), gt


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Uniform RGB noise, 8 bits."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(height, width, 3)) / 255.0).astype(np.float32)


def lowlight(height: int, width: int, seed: int = 0) -> np.ndarray:
    """The photo mosaic at a twelfth of its brightness with sensor noise, 8 bits."""
    rng = np.random.default_rng(seed + 1)
    dark = _photo_float(height, width, seed) / 12.0
    dark += rng.normal(0.0, 0.004, size=dark.shape).astype(np.float32)
    return _round(dark)


def deep16(height: int, width: int, seed: int = 0) -> np.ndarray:
    """The photo mosaic at 16-bit precision (not rounded to 8 bits)."""
    return _round(_photo_float(height, width, seed), 65535)


def voronoi_scene(
    height: int, width: int, n_regions: int = 300, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A textured ``(H, W, 3)`` float32 image and its ``(H, W)`` int32 ground-truth regions."""
    import cv2
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    # domain warp: smooth random displacement fields, up to ~3 % of the image size
    amp = 0.03 * max(height, width)
    warp = []
    for _ in range(2):
        coarse = rng.normal(0.0, 1.0, size=(12, 16)).astype(np.float32)
        warp.append(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * amp)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    coords = np.stack([(yy + warp[0]).ravel(), (xx + warp[1]).ravel()], axis=1)
    seeds = rng.uniform([0, 0], [height, width], size=(n_regions, 2))
    _, gt = cKDTree(seeds).query(coords, workers=-1)
    gt = gt.astype(np.int32).reshape(height, width)
    # keep one connected piece per region id: relabel 4-connected components
    from skimage.measure import label as cc_label

    from easel.art.superpixels import relabel_consecutive

    gt = relabel_consecutive(cc_label(gt, background=-1, connectivity=1))
    n = int(gt.max()) + 1
    base = rng.uniform(0.1, 0.9, size=(n, 3)).astype(np.float32)
    freq = rng.uniform(0.005, 0.03, size=(n, 2)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=n).astype(np.float32)
    pattern = np.sin(freq[gt, 0] * yy + freq[gt, 1] * xx + phase[gt]) * np.float32(0.06)
    image = base[gt] + pattern[:, :, None]
    image += rng.normal(0.0, 0.02, size=image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0).astype(np.float32), gt


def _plain(make: Callable[[int, int, int], np.ndarray]) -> Callable[[int, int, int], Entry]:
    return lambda height, width, seed: (make(height, width, seed), None)


MAKERS: dict[str, Callable[[int, int, int], Entry]] = {
    "photo": _plain(photo_mosaic),
    "gradient": _plain(gradient),
    "flat": flat_graphics,
    "noise": _plain(noise),
    "lowlight": _plain(lowlight),
    "deep16": _plain(deep16),
    "voronoi": lambda height, width, seed: voronoi_scene(height, width, seed=seed),
}
"""Corpus name -> ``maker(height, width, seed)`` returning ``(image, ground_truth_regions or None)``."""


def corpus(height: int, width: int, seed: int = 0, names: list[str] | None = None) -> dict[str, Entry]:
    """Every corpus image (or those in ``names``) at ``height x width``: name -> ``(image, regions)``."""
    return {name: MAKERS[name](height, width, seed) for name in (names or list(MAKERS))}
