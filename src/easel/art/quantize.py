"""Colour quantization: K-means in RGB or CIELAB, the K centroids replace the colours of their cluster.

The K-means runs on a weighted histogram of the image's colours (the mean colour of
each occupied cell of a 64x64x64 RGB grid, weighted by its pixel count), seeded by
greedy k-means++ (three restarts) and refined by Lloyd iterations; Lloyd passes
over every pixel (one, then the final assignment, after which each colour is
the mean of its pixels) turn it into a K-means solution of the full image, not
of the histogram. Nearest-colour assignment and Floyd-Steinberg dithering are
numba kernels. A 12-megapixel photo takes about a second on two cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.art import threads_for
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.progress import ProgressFn, report

__all__ = ["QuantizeResult", "quantize_colors", "palette_swatch", "to_hex", "SPACES"]

Space = Literal["rgb", "lab"]
SPACES: tuple[str, ...] = ("rgb", "lab")
"""Colour spaces K-means can run in."""

MAX_COLORS = 4096
"""Largest supported ``n_colors``."""

_HIST_BITS = 6  # histogram grid: 2**6 levels per channel


@dataclass(frozen=True)
class QuantizeResult:
    """The result of :func:`quantize_colors`.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1]: every pixel replaced by its palette colour.
        palette: ``(K, 3)`` float32 RGB in [0, 1], ordered by pixel count, most used first.
        labels: ``(H, W)`` int32 in ``[0, K)``: the palette index of each pixel.
        counts: ``(K,)`` int64: how many pixels use each palette colour.
        mse: mean squared error of ``image`` against the input, in RGB [0, 1] units.
    """

    image: FloatImage
    palette: NDArray[np.float32]
    labels: NDArray[np.int32]
    counts: NDArray[np.int64]
    mse: float

    @property
    def hex_codes(self) -> list[str]:
        """The palette as ``#rrggbb`` strings."""
        return [to_hex(color) for color in self.palette]


def to_hex(color: ArrayLike) -> str:
    """``(3,)`` RGB in [0, 1] -> ``"#rrggbb"``.

    Example:
        >>> to_hex([1.0, 0.5, 0.0])
        '#ff8000'
    """
    rgb = np.clip(np.rint(np.asarray(color, dtype=np.float64) * 255.0), 0, 255).astype(int)
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


# ---------------------------------------------------------------- numba kernels


@numba.njit(cache=True)
def _accumulate(
    points: np.ndarray, weights: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Weighted per-cluster sums and weights for the current labels."""
    sums = np.zeros((k, 3), np.float64)
    wsum = np.zeros(k, np.float64)
    for i in range(points.shape[0]):
        j = labels[i]
        w = weights[i]
        sums[j, 0] += w * points[i, 0]
        sums[j, 1] += w * points[i, 1]
        sums[j, 2] += w * points[i, 2]
        wsum[j] += w
    return sums, wsum


@numba.njit(cache=True, inline="always")
def _nearest_center(
    v0: float, v1: float, v2: float, centers: np.ndarray
) -> tuple[int, float]:  # pragma: no cover
    """Index of the row of ``centers`` (K, 3) nearest to ``(v0, v1, v2)``, and its squared distance."""
    best = 0
    best_d = np.inf
    for j in range(centers.shape[0]):
        d0 = v0 - centers[j, 0]
        d1 = v1 - centers[j, 1]
        d2 = v2 - centers[j, 2]
        d = d0 * d0 + d1 * d1 + d2 * d2
        if d < best_d:
            best_d = d
            best = j
    return best, best_d


@numba.njit(cache=True, fastmath=True)
def _assign_serial(points: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> None:  # pragma: no cover
    """labels[i] = index of the centre nearest to points[i] (squared Euclidean), serially."""
    for i in range(points.shape[0]):
        labels[i] = _nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)[0]


@numba.njit(cache=True, fastmath=True)
def _min_sq_dist(points: np.ndarray, centers: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    for i in range(points.shape[0]):
        out[i] = _nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)[1]


@numba.njit(cache=True, fastmath=True)
def _kmeans_pp_kernel(
    points: np.ndarray, weights: np.ndarray, k: int, trials: int, uniforms: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    """Greedy weighted k-means++; ``uniforms`` holds ``1 + (k - 1) * trials`` draws in [0, 1)."""
    n = points.shape[0]
    centers = np.empty((k, 3), np.float32)
    cum = np.empty(n, np.float64)
    acc = 0.0
    for i in range(n):
        acc += weights[i]
        cum[i] = acc
    first = min(np.searchsorted(cum, uniforms[0] * acc), n - 1)
    centers[0] = points[first]
    closest = np.empty(n, np.float64)
    for i in range(n):
        d0 = points[i, 0] - centers[0, 0]
        d1 = points[i, 1] - centers[0, 1]
        d2 = points[i, 2] - centers[0, 2]
        closest[i] = d0 * d0 + d1 * d1 + d2 * d2
    u = 1
    for c in range(1, k):
        acc = 0.0
        for i in range(n):
            acc += weights[i] * closest[i]
            cum[i] = acc
        best_pot = np.inf
        best_idx = 0
        for _t in range(trials):
            if acc > 0.0:
                idx = min(np.searchsorted(cum, uniforms[u] * acc), n - 1)
            else:  # every point already sits on a centre
                idx = min(int(uniforms[u] * n), n - 1)
            u += 1
            pot = 0.0
            for i in range(n):
                d0 = points[i, 0] - points[idx, 0]
                d1 = points[i, 1] - points[idx, 1]
                d2 = points[i, 2] - points[idx, 2]
                d = d0 * d0 + d1 * d1 + d2 * d2
                pot += weights[i] * min(d, closest[i])
            if pot < best_pot:
                best_pot = pot
                best_idx = idx
        centers[c] = points[best_idx]
        for i in range(n):
            d0 = points[i, 0] - centers[c, 0]
            d1 = points[i, 1] - centers[c, 1]
            d2 = points[i, 2] - centers[c, 2]
            d = d0 * d0 + d1 * d1 + d2 * d2
            if d < closest[i]:
                closest[i] = d
    return centers


@numba.njit(cache=True, parallel=True, fastmath=True)
def _assign_accumulate(
    points: np.ndarray, centers: np.ndarray, labels: np.ndarray, values: np.ndarray, n_chunks: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """:func:`_assign` fused with per-cluster sums of ``values`` (N, 3) and counts."""
    n = points.shape[0]
    k = centers.shape[0]
    partial = np.zeros((n_chunks, k, 4), np.float64)
    per = (n + n_chunks - 1) // n_chunks
    for chunk in numba.prange(n_chunks):
        acc = partial[chunk]
        for i in range(chunk * per, min(n, (chunk + 1) * per)):
            best = _nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)[0]
            labels[i] = best
            acc[best, 0] += values[i, 0]
            acc[best, 1] += values[i, 1]
            acc[best, 2] += values[i, 2]
            acc[best, 3] += 1.0
    total = np.zeros((k, 4), np.float64)
    for chunk in range(n_chunks):
        total += partial[chunk]
    return total[:, :3].copy(), total[:, 3].copy()


@numba.njit(cache=True)
def _dither(image: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> None:  # pragma: no cover
    """Serpentine Floyd-Steinberg error diffusion of ``image`` (H, W, 3) against ``centers``."""
    h, w, _ = image.shape
    cur = np.zeros((w + 2, 3), np.float32)  # error carried into the current row (offset by 1)
    nxt = np.zeros((w + 2, 3), np.float32)
    for y in range(h):
        reverse = y % 2 == 1
        for t in range(w):
            x = w - 1 - t if reverse else t
            v0 = image[y, x, 0] + cur[x + 1, 0]
            v1 = image[y, x, 1] + cur[x + 1, 1]
            v2 = image[y, x, 2] + cur[x + 1, 2]
            best = _nearest_center(v0, v1, v2, centers)[0]
            labels[y, x] = best
            e0 = v0 - centers[best, 0]
            e1 = v1 - centers[best, 1]
            e2 = v2 - centers[best, 2]
            step = -1 if reverse else 1
            ahead = x + 1 + step  # neighbour in the scan direction (buffer index)
            behind = x + 1 - step
            cur[ahead, 0] += e0 * 0.4375
            cur[ahead, 1] += e1 * 0.4375
            cur[ahead, 2] += e2 * 0.4375
            nxt[behind, 0] += e0 * 0.1875
            nxt[behind, 1] += e1 * 0.1875
            nxt[behind, 2] += e2 * 0.1875
            nxt[x + 1, 0] += e0 * 0.3125
            nxt[x + 1, 1] += e1 * 0.3125
            nxt[x + 1, 2] += e2 * 0.3125
            nxt[ahead, 0] += e0 * 0.0625
            nxt[ahead, 1] += e1 * 0.0625
            nxt[ahead, 2] += e2 * 0.0625
        cur, nxt = nxt, cur
        nxt[:, :] = 0.0


# ---------------------------------------------------------------- K-means on weighted points


def _kmeans_pp(
    points: NDArray[np.float32], weights: NDArray[np.float64], k: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Greedy weighted k-means++ seeding (as in scikit-learn: 2 + log k trials per centre)."""
    trials = 2 + int(math.log(k))
    uniforms = rng.random(1 + (k - 1) * trials)
    return _kmeans_pp_kernel(points, weights, k, trials, uniforms)  # type: ignore[no-any-return]


def _lloyd(
    points: NDArray[np.float32],
    weights: NDArray[np.float64],
    centers: NDArray[np.float32],
    max_iter: int,
    tol: float,
) -> tuple[NDArray[np.float32], float]:
    """Weighted Lloyd iterations; empty clusters are re-seeded at the worst-fit point."""
    n, k = points.shape[0], centers.shape[0]
    labels = np.empty(n, np.int32)
    prev = np.full(n, -1, np.int32)
    dists = np.empty(n, np.float32)
    centers = centers.copy()
    for _ in range(max_iter):
        _assign_serial(points, centers, labels)
        sums, wsum = _accumulate(points, weights, labels, k)
        empty = np.flatnonzero(wsum == 0)
        new = centers.astype(np.float64)
        full = wsum > 0
        new[full] = sums[full] / wsum[full, None]
        if empty.size:
            _min_sq_dist(points, new.astype(np.float32), dists)
            worst = np.argsort(-(dists * weights))[: empty.size]
            new[empty] = points[worst]
        shift = float(np.max(np.sum((new - centers) ** 2, axis=1)))
        centers = new.astype(np.float32)
        if empty.size == 0 and (np.array_equal(labels, prev) or shift <= tol):
            break
        prev, labels = labels, prev
    _min_sq_dist(points, centers, dists)
    inertia = float(np.dot(weights, dists))
    return centers, inertia


# ---------------------------------------------------------------- colour spaces


def _rgb_to_space(rgb: NDArray[np.float32], space: str) -> NDArray[np.float32]:
    """``(..., 3)`` float32 RGB -> the working space (a new array for Lab)."""
    if space == "rgb":
        return rgb
    import cv2

    flat = np.ascontiguousarray(rgb.reshape(-1, 1, 3), dtype=np.float32)
    return np.asarray(cv2.cvtColor(flat, cv2.COLOR_RGB2Lab), dtype=np.float32).reshape(rgb.shape)


def _space_to_rgb(points: NDArray[np.float32], space: str) -> NDArray[np.float32]:
    if space == "rgb":
        return np.clip(points, 0.0, 1.0).astype(np.float32)
    import cv2

    flat = np.ascontiguousarray(points.reshape(-1, 1, 3), dtype=np.float32)
    rgb = cv2.cvtColor(flat, cv2.COLOR_Lab2RGB).reshape(points.shape)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


@numba.njit(cache=True)
def _histogram_kernel(
    rgb_flat: np.ndarray, points: np.ndarray, bits: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    levels = np.float32((1 << bits) - 1)
    n_cells = 1 << (3 * bits)
    counts = np.zeros(n_cells, np.int64)
    sums = np.zeros((n_cells, 3), np.float64)
    for i in range(rgb_flat.shape[0]):
        r = int(rgb_flat[i, 0] * levels + np.float32(0.5))
        g = int(rgb_flat[i, 1] * levels + np.float32(0.5))
        b = int(rgb_flat[i, 2] * levels + np.float32(0.5))
        key = (r << (2 * bits)) | (g << bits) | b
        counts[key] += 1
        sums[key, 0] += points[i, 0]
        sums[key, 1] += points[i, 1]
        sums[key, 2] += points[i, 2]
    n = 0
    for key in range(n_cells):
        if counts[key] > 0:
            n += 1
    means = np.empty((n, 3), np.float32)
    weights = np.empty(n, np.float64)
    j = 0
    for key in range(n_cells):
        c = counts[key]
        if c > 0:
            means[j, 0] = sums[key, 0] / c
            means[j, 1] = sums[key, 1] / c
            means[j, 2] = sums[key, 2] / c
            weights[j] = c
            j += 1
    return means, weights


def _histogram(
    rgb_flat: NDArray[np.float32], points: NDArray[np.float32], bits: int
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Mean working-space colour and pixel count of each occupied cell of a 2**bits RGB grid."""
    means, weights = _histogram_kernel(rgb_flat, points, bits)
    return means, weights  # type: ignore[no-any-return]


def _exact_histogram(
    rgb_flat: NDArray[np.float32], points: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Like :func:`_histogram` for the distinct 8-bit colours (for images with few colours)."""
    q = np.rint(rgb_flat * np.float32(255.0)).astype(np.int32)
    key = (q[:, 0] << 16) | (q[:, 1] << 8) | q[:, 2]
    _, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse).astype(np.float64)
    means = np.empty((counts.size, 3), np.float32)
    for c in range(3):
        means[:, c] = np.bincount(inverse, weights=points[:, c], minlength=counts.size) / counts
    return means, counts


# ---------------------------------------------------------------- public API


def quantize_colors(
    image: ArrayLike,
    n_colors: int,
    *,
    space: Space = "rgb",
    seed: int = 0,
    dither: bool = False,
    n_init: int = 3,
    max_iter: int = 100,
    refine_passes: int = 1,
    mask: ArrayLike | None = None,
    progress: ProgressFn | None = None,
) -> QuantizeResult:
    """Reduce an image to ``n_colors`` colours with K-means.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8``, gray and RGBA are
            accepted as in :func:`easel.image.as_float_rgb`; alpha is ignored).
        n_colors: the palette size K, ``1 <= K <= 4096``; the image must have at
            least K distinct colours (at 8-bit precision).
        space: ``"rgb"`` clusters RGB values; ``"lab"`` clusters CIELAB values,
            which spends the palette closer to how colour differences look.
        seed: seed of the k-means++ initialisation; equal seeds give equal results.
        dither: spread each pixel's quantization error to its neighbours
            (serpentine Floyd-Steinberg) instead of mapping it to the nearest colour.
        n_init: k-means++ restarts on the colour histogram; the best is kept.
        max_iter: Lloyd iterations per restart on the histogram.
        refine_passes: Lloyd passes over every pixel after the histogram stage
            (the final assignment, with each colour set to its pixels' mean, adds one).
        mask: optional ``(H, W)`` bool: only these pixels choose the palette (e.g.
            ``alpha > 0`` to ignore the hidden colours of transparent pixels);
            every pixel is still mapped to it. ``mse`` is then measured on the mask.
        progress: optional callback receiving :class:`easel.progress.ProgressUpdate`.

    Returns:
        A :class:`QuantizeResult` with the quantized ``image`` ``(H, W, 3)``
        float32, the ``palette`` ``(K, 3)`` float32 RGB in [0, 1] (most used
        first), the ``labels`` ``(H, W)`` int32 and per-colour ``counts``.
        Without dithering each palette colour is the RGB mean of its pixels
        (the cluster centroid); with dithering it is the centroid the error
        diffusion used.

    Raises:
        InputError: ``n_colors`` out of range, an unknown ``space``, an invalid
            image or mask, or fewer distinct colours than ``n_colors``.

    Example:
        >>> import numpy as np
        >>> img = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
        >>> result = quantize_colors(img, n_colors=8, seed=0)
        >>> result.image.shape, result.palette.shape, int(result.labels.max()) < 8
        ((32, 32, 3), (8, 3), True)
    """
    if isinstance(n_colors, bool) or not isinstance(n_colors, (int, np.integer)):
        raise InputError(f"n_colors must be a whole number, got {n_colors!r}")
    k = int(n_colors)
    if not 1 <= k <= MAX_COLORS:
        raise InputError(f"n_colors must be between 1 and {MAX_COLORS}, got {k}")
    if space not in SPACES:
        raise InputError(f"space must be one of {', '.join(SPACES)}; got {space!r}")
    if n_init < 1 or max_iter < 1 or refine_passes < 0:
        raise InputError("n_init and max_iter must be >= 1 and refine_passes >= 0")
    rgb = as_float_rgb(image)
    with threads_for(rgb.shape[0] * rgb.shape[1]):
        return _quantize(rgb, k, space, seed, dither, n_init, max_iter, refine_passes, mask, progress)


def _quantize(
    rgb: FloatImage,
    k: int,
    space: str,
    seed: int,
    dither: bool,
    n_init: int,
    max_iter: int,
    refine_passes: int,
    mask: ArrayLike | None,
    progress: ProgressFn | None,
) -> QuantizeResult:
    height, width = rgb.shape[:2]
    rgb_flat = rgb.reshape(-1, 3)
    keep: NDArray[np.bool_] | None = None
    if mask is not None:
        keep = np.asarray(mask)
        if keep.shape != (height, width) or keep.dtype != np.bool_:
            raise InputError(
                f"mask must be a bool array of shape {(height, width)}; got {keep.dtype} {keep.shape}"
            )
        keep = keep.reshape(-1)
        if not keep.any():
            raise InputError("mask selects no pixels")
        if keep.all():
            keep = None
    total_steps = n_init + refine_passes + 2
    report(progress, "quantize", 0, total_steps)

    pixels = np.ascontiguousarray(_rgb_to_space(rgb, space).reshape(-1, 3), dtype=np.float32)
    # the pixels that choose the palette (copies only when masked)
    fit_rgb = rgb_flat if keep is None else np.ascontiguousarray(rgb_flat[keep])
    fit_pixels = pixels if keep is None else np.ascontiguousarray(pixels[keep])
    points, weights = _histogram(fit_rgb, fit_pixels, _HIST_BITS)
    if points.shape[0] < k:
        points, weights = _exact_histogram(fit_rgb, fit_pixels)
        if points.shape[0] < k:
            where = "the image" if keep is None else "the masked part of the image"
            raise InputError(
                f"{where} has only {points.shape[0]} distinct colour(s), fewer than n_colors={k}; "
                f"ask for at most {points.shape[0]}"
            )
    report(progress, "quantize", 1, total_steps)

    # tolerance on the centre shift, relative to the data's spread (as scikit-learn does)
    spread = float(np.mean(np.var(points, axis=0)))
    tol = 1e-4 * spread
    rng = np.random.default_rng(seed)
    best_centers: NDArray[np.float32] | None = None
    best_inertia = np.inf
    for run in range(n_init):
        init = _kmeans_pp(points, weights, k, rng)
        centers, inertia = _lloyd(points, weights, init, max_iter, tol)
        if inertia < best_inertia:
            best_centers, best_inertia = centers, inertia
        report(progress, "quantize", 2 + run, total_steps, inertia=inertia / weights.sum())
    assert best_centers is not None
    centers = best_centers

    # Lloyd passes on every pixel: the histogram cells are 4/255 wide in RGB
    labels = np.empty(pixels.shape[0], np.int32)
    fit_labels = labels if keep is None else np.empty(fit_pixels.shape[0], np.int32)
    n_chunks = 16  # fixed (not the thread count), so sums and results do not depend on the machine
    for step in range(refine_passes):
        sums, cnt = _assign_accumulate(fit_pixels, centers, fit_labels, fit_pixels, n_chunks)
        full = cnt > 0
        updated = centers.astype(np.float64)
        updated[full] = sums[full] / cnt[full, None]
        centers = updated.astype(np.float32)
        report(progress, "quantize", 2 + n_init + step, total_steps)

    palette = _space_to_rgb(centers, space)
    if dither:
        grid = np.ascontiguousarray(pixels.reshape(height, width, 3))
        labels2d = np.empty((height, width), np.int32)
        _dither(grid, centers, labels2d)
        labels = labels2d.reshape(-1)
    else:
        # the final assignment; each colour becomes the RGB mean of its pixels, which is
        # the K-means update in RGB and, for Lab, the RGB colour that fits the cluster best
        sums, cnt = _assign_accumulate(pixels, centers, labels, rgb_flat, n_chunks)
        if keep is not None:
            kept = labels[keep]
            cnt = np.bincount(kept, minlength=k).astype(np.float64)
            for c in range(3):
                sums[:, c] = np.bincount(kept, weights=fit_rgb[:, c], minlength=k)
        used = cnt > 0
        palette[used] = np.clip(sums[used] / cnt[used, None], 0.0, 1.0).astype(np.float32)

    # order the palette by use, most frequent first; drop nothing (unused colours keep count 0)
    counts = np.bincount(labels, minlength=k).astype(np.int64)
    order = np.lexsort((np.arange(k), -counts))
    rank = np.empty(k, np.int32)
    rank[order] = np.arange(k, dtype=np.int32)
    palette = np.ascontiguousarray(palette[order])
    labels = rank[labels]
    out = palette[labels].reshape(height, width, 3)
    diff = out.reshape(-1, 3) - rgb_flat
    if keep is not None:
        diff = diff[keep]
    mse = float(np.einsum("ij,ij->", diff, diff, dtype=np.float64) / diff.size)
    report(progress, "quantize", total_steps, total_steps)
    return QuantizeResult(
        image=out,
        palette=palette,
        labels=labels.reshape(height, width),
        counts=counts[order],
        mse=mse,
    )


def palette_swatch(
    palette: ArrayLike,
    counts: ArrayLike | None = None,
    *,
    swatch_size: int = 96,
    per_row: int = 16,
) -> FloatImage:
    """Render a palette as a strip of colour swatches, each labelled with its hex code.

    Args:
        palette: ``(K, 3)`` RGB in [0, 1] (float) or ``uint8``.
        counts: optional ``(K,)`` pixel counts; each swatch then also shows its share in percent.
        swatch_size: side of each square swatch in pixels (>= 32).
        per_row: swatches per row; longer palettes wrap onto more rows.

    Returns:
        ``(rows * swatch_size, min(K, per_row) * swatch_size, 3)`` float32 RGB in [0, 1].
        Labels are drawn with Pillow's default font, in black or white, whichever
        contrasts more with the swatch.

    Example:
        >>> palette_swatch(np.array([[1, 0, 0], [0, 0, 1]], np.float32)).shape
        (96, 192, 3)
    """
    from PIL import Image, ImageDraw, ImageFont

    colors = np.asarray(palette)
    if colors.ndim != 2 or colors.shape[1] != 3 or colors.shape[0] < 1:
        raise InputError(f"palette must have shape (K, 3) with K >= 1; got {colors.shape}")
    colors = as_float_rgb(colors[None], name="palette")[0]
    shares: NDArray[np.float64] | None = None
    if counts is not None:
        cnt = np.asarray(counts, dtype=np.float64)
        if cnt.shape != (colors.shape[0],):
            raise InputError(f"counts must have shape ({colors.shape[0]},); got {cnt.shape}")
        shares = 100.0 * cnt / max(float(cnt.sum()), 1.0)
    if swatch_size < 32 or per_row < 1:
        raise InputError("swatch_size must be >= 32 and per_row >= 1")
    k = colors.shape[0]
    cols = min(k, per_row)
    rows = -(-k // per_row)
    canvas = Image.new("RGB", (cols * swatch_size, rows * swatch_size), "white")
    draw = ImageDraw.Draw(canvas)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        font = ImageFont.load_default(size=max(10, swatch_size // 7))
    except (OSError, TypeError):  # Pillow built without FreeType: the bitmap font
        font = ImageFont.load_default()
    for i, color in enumerate(colors):
        r, c = divmod(i, per_row)
        x0, y0 = c * swatch_size, r * swatch_size
        rgb8 = tuple(int(v) for v in np.clip(np.rint(color * 255.0), 0, 255))
        draw.rectangle([x0, y0, x0 + swatch_size - 1, y0 + swatch_size - 1], fill=rgb8)
        luminance = 0.2126 * color[0] + 0.7152 * color[1] + 0.0722 * color[2]
        ink = (0, 0, 0) if luminance > 0.5 else (255, 255, 255)
        lines = [to_hex(color)]
        if shares is not None:
            lines.append(f"{shares[i]:.1f}%")
        ty = float(y0 + swatch_size - 6)
        for line in reversed(lines):
            left, top, right, bottom = draw.textbbox((0, 0), line, font=font)
            ty -= bottom - top + 2
            draw.text((x0 + (swatch_size - (right - left)) / 2 - left, ty - top), line, fill=ink, font=font)
    return np.asarray(canvas, dtype=np.float32) / np.float32(255.0)
