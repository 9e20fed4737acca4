"""Colour quantization: K-means in RGB or CIELAB, the K centroids replace the colours of their cluster.

Three stages, each on more of the real pixels (the loops are numba kernels in
:mod:`easel.art._kernels`):

1. one pass builds a weighted histogram of the colours (the count and mean
   colour of each occupied cell of a 64x64x64 RGB grid, merged to a coarser
   grid when there are very many); ``n_init`` greedy k-means++ restarts run
   Lloyd iterations on it, which is cheap;
2. the best few restarts run Lloyd on a random sample of real pixels (32768),
   the best one continues on a larger sample (2**18 pixels, or all of a smaller
   image) to a tight tolerance: the histogram cells are too coarse for smooth,
   dark or 16-bit images, whose K-means must be solved on their pixels;
3. a final pass assigns every pixel to its nearest centre, and each colour
   becomes the mean of its pixels (a last Lloyd update). In RGB, a lookup table
   over the histogram's grid gives the nearest centre of every cell whose whole
   cube is nearer one centre than any other, so most pixels skip the search and
   their sums come from the histogram.

A 12-megapixel photo takes well under a second on two idle cores, with the
MSE of scikit-learn's ``KMeans(n_init=1)`` on all pixels or lower. An image
with fewer distinct colours than asked -- a 1x1 pixel, a flat logo -- gets a
palette of exactly those colours. :func:`write_quantized` writes the result as
an indexed-colour PNG (the palette and one index per pixel).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.options import OptionError, option
from easel.progress import ProgressFn, report

__all__ = [
    "QuantizeOptions",
    "QuantizeResult",
    "load_kernels",
    "quantize_colors",
    "palette_swatch",
    "to_hex",
    "write_quantized",
    "SPACES",
]

Space = Literal["rgb", "lab"]
SPACES: tuple[str, ...] = ("rgb", "lab")
"""Colour spaces K-means can run in."""

MAX_COLORS = 4096
"""Largest supported ``n_colors``."""

_HIST_BITS = 6  # histogram grid: 2**6 levels per channel
_SELECT_SIZE = 1 << 15  # pixels of the sample that ranks the k-means++ restarts
_SELECT_ITER = 15  # most Lloyd iterations of each restart on that sample
_CANDIDATES = 3  # restarts (the best by histogram inertia) ranked on that sample
_COARSE_CELLS = 8192  # more occupied histogram cells: the restarts run on coarser grids (down to 16 levels)


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass
class QuantizeOptions:
    """Settings of :func:`quantize_colors`; each field's help is also its ``easel quantize`` help.

    Attributes:
        n_colors: the palette size K asked for, ``1 <= K <= 4096``.
        space: ``"rgb"`` or ``"lab"``: the colour space K-means runs in.
        dither: serpentine Floyd-Steinberg error diffusion against the palette.
        seed: seed of the k-means++ initialisation (>= 0); equal seeds give equal results.
        n_init: k-means++ restarts on the colour histogram; the best few are
            compared on a pixel sample and the best of those is kept.
        max_iter: most Lloyd iterations per restart on the histogram.
        sample_size: pixels of the random sample the centres are refined on
            (all pixels when the image has fewer).
        sample_iter: most Lloyd iterations on that sample (it stops when converged).
        refine_passes: extra Lloyd passes over every pixel after the sample stage.

    Example:
        >>> QuantizeOptions(n_colors=8, space="lab").validate().n_colors
        8
    """

    n_colors: int = option(
        16, help=f"number of colours, 1 to {MAX_COLORS}", flag="--colors", short="-k", metavar="K"
    )
    space: str = option("rgb", help="colour space K-means runs in", choices=SPACES)
    dither: bool = option(False, help="Floyd-Steinberg dithering against the palette")
    seed: int = option(0, help="random seed, for reproducible results")
    n_init: int = option(10, help="k-means++ restarts on the colour histogram; the best few go on", cli=False)
    max_iter: int = option(30, help="Lloyd iterations per restart on the histogram", cli=False)
    sample_size: int = option(
        1 << 18, help="pixels of the random sample the centres are refined on", cli=False
    )
    sample_iter: int = option(30, help="most Lloyd iterations on the pixel sample", cli=False)
    refine_passes: int = option(
        0, help="extra Lloyd passes over every pixel after the sample stage", cli=False
    )

    def validate(self) -> QuantizeOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the first bad one.

        Example:
            >>> QuantizeOptions(n_colors=0).validate()
            Traceback (most recent call last):
            ...
            easel.options.OptionError: n_colors must be between 1 and 4096, got 0
        """
        if not _whole(self.n_colors):
            raise OptionError("n_colors", f"must be a whole number, got {self.n_colors!r}")
        if not 1 <= self.n_colors <= MAX_COLORS:
            raise OptionError("n_colors", f"must be between 1 and {MAX_COLORS}, got {self.n_colors}")
        if self.space not in SPACES:
            raise OptionError("space", f"must be one of {', '.join(SPACES)}; got {self.space!r}")
        if not (_whole(self.seed) and self.seed >= 0):
            raise OptionError("seed", f"must be a whole number >= 0, got {self.seed!r}")
        for name, least in (
            ("n_init", 1),
            ("max_iter", 1),
            ("sample_size", 1),
            ("sample_iter", 0),
            ("refine_passes", 0),
        ):
            value = getattr(self, name)
            if not (_whole(value) and value >= least):
                raise OptionError(name, f"must be a whole number >= {least}, got {value!r}")
        return self


@dataclass(frozen=True)
class QuantizeResult:
    """The result of :func:`quantize_colors`.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1]: every pixel replaced by its palette
            colour (``palette[labels]``, made on first use and kept).
        palette: ``(K, 3)`` float32 RGB in [0, 1], ordered by pixel count, most used first.
        labels: ``(H, W)`` int32 in ``[0, K)``: the palette index of each pixel.
        counts: ``(K,)`` int64: how many pixels use each palette colour.
        mse: mean squared error of ``image`` against the input, in RGB [0, 1] units.
        requested_colors: the ``n_colors`` asked for. ``K`` is smaller when the
            image (or its masked part) has fewer distinct colours.
        note: one line saying why ``K < requested_colors`` (``""`` otherwise),
            e.g. ``"the image has only 1 distinct colour; the palette has 1, not the 16 asked"``.

    Example:
        >>> result = quantize_colors(np.zeros((1, 1, 3), np.float32), n_colors=16)
        >>> result.n_colors, result.requested_colors, result.hex_codes
        (1, 16, ['#000000'])
    """

    palette: NDArray[np.float32]
    labels: NDArray[np.int32]
    counts: NDArray[np.int64]
    mse: float
    requested_colors: int
    note: str = ""

    @cached_property
    def image(self) -> FloatImage:
        """``(H, W, 3)`` float32 RGB in [0, 1]: ``palette[labels]``, made on first use."""
        return self.palette[self.labels]

    @property
    def n_colors(self) -> int:
        """``K``, the palette size: ``requested_colors`` or the number of distinct colours, if fewer."""
        return int(self.palette.shape[0])

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


# ---------------------------------------------------------------- K-means on weighted points


def _kmeans_pp(
    points: NDArray[np.float32], weights: NDArray[np.float64], k: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Greedy weighted k-means++ seeding (as in scikit-learn: 2 + log k trials per centre)."""
    from easel.art import _kernels

    trials = 2 + int(math.log(k))
    uniforms = rng.random(1 + (k - 1) * trials)
    return _kernels.kmeans_pp_seeds(points, weights, k, trials, uniforms)  # type: ignore[no-any-return]


def _lloyd(
    points: NDArray[np.float32],
    weights: NDArray[np.float64],
    centers: NDArray[np.float32],
    max_iter: int,
    tol: float,
) -> tuple[NDArray[np.float32], float]:
    """Weighted Lloyd iterations; empty clusters are re-seeded at the worst-fit point."""
    from easel.art import _kernels

    n = points.shape[0]
    labels = np.empty(n, np.int32)
    prev = np.full(n, -1, np.int32)
    dists = np.empty(n, np.float32)
    centers = centers.copy()
    for _ in range(max_iter):
        sums, wsum = _kernels.lloyd_step(points, weights, centers, labels)
        empty = np.flatnonzero(wsum == 0)
        new = centers.astype(np.float64)
        full = wsum > 0
        new[full] = sums[full] / wsum[full, None]
        if empty.size:
            _kernels.nearest_sq_distance(points, new.astype(np.float32), dists)
            worst = np.argsort(-(dists * weights))[: empty.size]
            new[empty] = points[worst]
        shift = float(np.max(np.sum((new - centers) ** 2, axis=1)))
        centers = new.astype(np.float32)
        if empty.size == 0 and (np.array_equal(labels, prev) or shift <= tol):
            break
        prev, labels = labels, prev
    _kernels.nearest_sq_distance(points, centers, dists)
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


def _histogram(
    rgb_flat: NDArray[np.float32], points: NDArray[np.float32], bits: int
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Mean working-space colour and pixel count of each occupied cell of a 2**bits RGB grid,
    and the counts and sums (coordinates, squared norm) of every cell."""
    from easel.art import _kernels

    counts, sums = _kernels.histogram_sums(rgb_flat, points, bits)
    occupied = np.flatnonzero(counts)
    weights = counts[occupied].astype(np.float64)
    means = (sums[occupied, :3] / weights[:, None]).astype(np.float32)
    return means, weights, counts, sums


def _merge_cells(
    counts: NDArray[np.int64], sums: NDArray[np.float64], bits: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The counts and sums of every cell of a ``2**bits`` grid histogram on a grid half as fine."""
    side = 1 << (bits - 1)
    merged_counts = counts.reshape(side, 2, side, 2, side, 2).sum(axis=(1, 3, 5)).ravel()
    merged_sums = sums[:, :3].reshape(side, 2, side, 2, side, 2, 3).sum(axis=(1, 3, 5)).reshape(-1, 3)
    return merged_counts, merged_sums


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
    n_colors: int | None = None,
    *,
    options: QuantizeOptions | None = None,
    mask: ArrayLike | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> QuantizeResult:
    """Reduce an image to ``n_colors`` colours with K-means.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8``, gray and RGBA are
            accepted as in :func:`easel.image.as_float_rgb`; alpha is ignored).
        n_colors: the palette size K asked for, ``1 <= K <= 4096`` (default:
            ``options.n_colors``, 16). An image with fewer distinct colours (at
            8-bit precision), such as a tiny one, gets a palette of just those
            colours; the result's ``note`` says so.
        options: :class:`QuantizeOptions` (defaults when ``None``): ``space``
            (``"rgb"`` or ``"lab"``, which spends the palette closer to how colour
            differences look), ``dither`` (serpentine Floyd-Steinberg instead of
            the nearest colour), ``seed`` of the k-means++ initialisation,
            ``n_init`` restarts, ``max_iter`` Lloyd iterations per restart,
            ``sample_size`` and ``sample_iter`` of the refinement on a pixel
            sample and ``refine_passes`` over every pixel.
        mask: optional ``(H, W)`` bool: only these pixels choose the palette (e.g.
            ``alpha > 0`` to ignore the hidden colours of transparent pixels);
            every pixel is still mapped to it. ``mse`` is then measured on the mask.
        progress: optional callback receiving :class:`easel.progress.ProgressUpdate`.
        **overrides: fields of :class:`QuantizeOptions` to change (``space="lab", seed=1``).

    Returns:
        A :class:`QuantizeResult` with the quantized ``image`` ``(H, W, 3)``
        float32, the ``palette`` ``(K, 3)`` float32 RGB in [0, 1] (most used
        first; ``K = min(n_colors, distinct colours)``), the ``labels``
        ``(H, W)`` int32 and per-colour ``counts``.
        Without dithering each palette colour is the RGB mean of its pixels
        (the cluster centroid); with dithering it is the centroid the error
        diffusion used.

    Raises:
        OptionError: a bad option (``n_colors`` out of range, an unknown
            ``space``, a negative ``seed`` ...), naming the field.
        InputError: an invalid image or mask.

    Example:
        >>> import numpy as np
        >>> img = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
        >>> result = quantize_colors(img, n_colors=8, seed=0)
        >>> result.image.shape, result.palette.shape, int(result.labels.max()) < 8
        ((32, 32, 3), (8, 3), True)
    """
    if n_colors is not None:
        overrides["n_colors"] = n_colors
    opts = replace(options or QuantizeOptions(), **overrides).validate()
    rgb = as_float_rgb(image)
    from easel.art._kernels import threads_for  # numba loads here, not at import

    with threads_for(rgb.shape[0] * rgb.shape[1]):
        return _quantize(rgb, opts, mask, progress)


def load_kernels(options: QuantizeOptions | None = None) -> None:
    """Load the compiled loops :func:`quantize_colors` runs with ``options``, compiling them on a first run.

    Numba loads (or, with an empty cache, compiles) each loop on its first call
    in a process, about a second in all; ``easel quantize`` calls this in a
    thread while it reads the image, so that the two overlap. Quantizing a
    16x16 image with the same colour space and dithering exercises every loop
    with the types a real image brings, so nothing is compiled twice.

    Example:
        >>> load_kernels(QuantizeOptions(space="lab", dither=True))  # doctest: +SKIP
    """
    opts = replace(options or QuantizeOptions(), n_colors=8, n_init=1, sample_iter=1).validate()
    tiny = np.random.default_rng(0).random((16, 16, 3), dtype=np.float32)
    quantize_colors(tiny, options=opts)


def _quantize(
    rgb: FloatImage, opts: QuantizeOptions, mask: ArrayLike | None, progress: ProgressFn | None
) -> QuantizeResult:
    from easel.art import _kernels

    k, space, n_init, refine_passes = int(opts.n_colors), opts.space, opts.n_init, opts.refine_passes

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
    total_steps = n_init + refine_passes + 3
    report(progress, "quantize", 0, total_steps)

    pixels = np.ascontiguousarray(_rgb_to_space(rgb, space).reshape(-1, 3), dtype=np.float32)
    # the pixels that choose the palette (copies only when masked)
    fit_rgb = rgb_flat if keep is None else np.ascontiguousarray(rgb_flat[keep])
    fit_pixels = pixels if keep is None else np.ascontiguousarray(pixels[keep])
    points, weights, cell_counts, cell_sums = _histogram(fit_rgb, fit_pixels, _HIST_BITS)
    requested = k
    note = ""
    if points.shape[0] < k:
        points, weights = _exact_histogram(fit_rgb, fit_pixels)
        if points.shape[0] < k:  # a tiny or flat image: one cluster per distinct colour
            k = points.shape[0]
            where = "the image" if keep is None else "the masked part of the image"
            note = (
                f"{where} has only {k} distinct colour{'' if k == 1 else 's'}; "
                f"the palette has {k}, not the {requested} asked"
            )
    report(progress, "quantize", 1, total_steps)

    # a random sample of the real pixels (all of them when few), and a smaller one (every
    # m-th of it) that picks the best restart
    rng = np.random.default_rng(opts.seed)
    n_fit = fit_pixels.shape[0]
    n_chunks = 16  # fixed (not the thread count), so sums and results do not depend on the machine
    if n_fit <= opts.sample_size:
        sample = fit_pixels
    else:
        picks = np.sort(rng.integers(0, n_fit, size=opts.sample_size))
        sample = np.ascontiguousarray(fit_pixels[picks])
    select = sample
    if sample.shape[0] > 2 * _SELECT_SIZE:
        select = np.ascontiguousarray(sample[:: sample.shape[0] // _SELECT_SIZE])
    spread = _spread(sample)

    # 1. n_init k-means++ restarts, each run by Lloyd on the colour histogram (cheap: a few
    # thousand weighted cells, merged to a coarser grid when there are many; tolerance
    # relative to the data's spread, as scikit-learn's); the best few by histogram inertia
    # then run on the selection sample, which ranks them: the histogram cells are too
    # coarse to rank the restarts of smooth, low-contrast or 16-bit images
    coarse_points, coarse_weights = points, weights
    if points.shape[0] == np.count_nonzero(cell_counts):  # the grid histogram, not the exact one
        merged_counts, merged_sums, bits = cell_counts, cell_sums, _HIST_BITS
        while coarse_points.shape[0] > _COARSE_CELLS and bits > 4:
            merged_counts, merged_sums, bits = *_merge_cells(merged_counts, merged_sums, bits), bits - 1
            occupied = np.flatnonzero(merged_counts)
            if occupied.size < k:
                break
            coarse_weights = merged_counts[occupied].astype(np.float64)
            coarse_points = (merged_sums[occupied, :3] / coarse_weights[:, None]).astype(np.float32)
    tol = 1e-4 * float(np.mean(np.var(coarse_points, axis=0)))
    runs: list[tuple[float, int, NDArray[np.float32]]] = []
    for run in range(n_init):
        init = _kmeans_pp(coarse_points, coarse_weights, k, rng)
        found, inertia = _lloyd(coarse_points, coarse_weights, init, opts.max_iter, tol)
        runs.append((inertia, run, found))
        report(progress, "quantize", 2 + run, total_steps, inertia=inertia / coarse_weights.sum())
    centers = np.empty((0, 3), np.float32)
    best_sse = np.inf
    for _, _, found in sorted(runs, key=lambda item: item[:2])[:_CANDIDATES]:
        found, found_counts, sse = _refine(
            select, found, min(opts.sample_iter, _SELECT_ITER), 1e-4 * spread, n_chunks
        )
        if sse < best_sse:
            centers, best_sse, sample_counts = found, sse, found_counts

    # 2. Lloyd iterations on the whole sample from the best restart, to a tight tolerance
    if opts.sample_iter > 0:
        centers, sample_counts, _ = _refine(sample, centers, opts.sample_iter, 1e-6 * spread, n_chunks)
    report(progress, "quantize", 2 + n_init, total_steps)
    # Lloyd passes over every pixel, if asked
    fit_labels = np.empty(n_fit, np.int32)
    for step in range(refine_passes):
        sums, cnt, _ = _kernels.assign_and_sum(fit_pixels, centers, fit_labels, fit_pixels, n_chunks)
        full = cnt > 0
        updated = centers.astype(np.float64)
        updated[full] = sums[full] / cnt[full, None]
        centers = updated.astype(np.float32)
        sample_counts = cnt
        report(progress, "quantize", 3 + n_init + step, total_steps)

    # the palette in the order of its expected use (most used first), so that the labels
    # of the final pass need no renumbering unless the full counts disagree
    order = np.lexsort((np.arange(k), -sample_counts))
    centers = np.ascontiguousarray(centers[order])
    palette = _space_to_rgb(centers, space)
    labels = np.empty(height * width, np.int32)
    mse: float | None = None
    if opts.dither:
        grid = np.ascontiguousarray(pixels.reshape(height, width, 3))
        labels2d = np.empty((height, width), np.int32)
        _kernels.dither_floyd_steinberg(grid, centers, labels2d)
        labels = labels2d.reshape(-1)
        counts = np.bincount(labels, minlength=k).astype(np.int64)
    else:
        # 3. the final assignment of every pixel; each colour becomes the RGB mean of its
        # pixels, which is the K-means update in RGB and, for Lab, the RGB colour that
        # fits the cluster best. In RGB a lookup table skips the search for most pixels.
        lut = _kernels.nearest_lut(centers, _HIST_BITS) if space == "rgb" else None
        # the LUT's cells are the histogram's: their pixels' sums are already known
        summed = lut is not None and keep is None
        sums, cnt, sq_sums = _kernels.assign_and_sum(
            pixels, centers, labels, rgb_flat, n_chunks, lut, lut_summed=summed
        )
        if summed:
            assert lut is not None
            cells = np.flatnonzero((cell_counts > 0) & (lut.reshape(-1) >= 0))
            owner = lut.reshape(-1)[cells]
            cnt += np.bincount(owner, weights=cell_counts[cells], minlength=k)
            for c in range(3):
                sums[:, c] += np.bincount(owner, weights=cell_sums[cells, c], minlength=k)
            sq_sums += np.bincount(owner, weights=cell_sums[cells, 3], minlength=k)
        if keep is not None:
            kept = labels[keep]
            cnt = np.bincount(kept, minlength=k).astype(np.float64)
            for c in range(3):
                sums[:, c] = np.bincount(kept, weights=fit_rgb[:, c], minlength=k)
        used = cnt > 0
        palette[used] = np.clip(sums[used] / cnt[used, None], 0.0, 1.0).astype(np.float32)
        counts = cnt.astype(np.int64)
        if keep is None:
            # sum over clusters of |x - mean|^2 = sum |x|^2 - |sum x|^2 / n (no clipping moved a mean)
            sse = float(np.sum(sq_sums[used] - np.sum(sums[used] ** 2, axis=1) / cnt[used]))
            mse = max(sse, 0.0) / (3.0 * height * width)
        if keep is not None:
            counts = np.bincount(labels, minlength=k).astype(np.int64)

    # order the palette by use, most frequent first; drop nothing (unused colours keep count 0)
    order = np.lexsort((np.arange(k), -counts))
    if not np.array_equal(order, np.arange(k)):
        rank = np.empty(k, np.int32)
        rank[order] = np.arange(k, dtype=np.int32)
        palette = palette[order]
        counts = counts[order]
        labels = rank[labels]
    palette = np.ascontiguousarray(palette, dtype=np.float32)
    labels2 = labels.reshape(height, width)
    if mse is None:
        diff = palette[labels] - rgb_flat
        if keep is not None:
            diff = diff[keep]
        mse = float(np.einsum("ij,ij->", diff, diff, dtype=np.float64) / diff.size)
    report(progress, "quantize", total_steps, total_steps)
    return QuantizeResult(
        palette=palette,
        labels=labels2,
        counts=counts,
        mse=mse,
        requested_colors=requested,
        note=note,
    )


def _spread(points: NDArray[np.float32]) -> float:
    """Mean per-channel variance of ``points`` (N, 3), computed on at most 65536 of them."""
    step = max(1, points.shape[0] // 65536)
    return float(np.mean(np.var(points[::step], axis=0, dtype=np.float64)))


def _refine(
    sample: NDArray[np.float32], centers: NDArray[np.float32], max_iter: int, tol: float, n_chunks: int
) -> tuple[NDArray[np.float32], NDArray[np.float64], float]:
    """Lloyd iterations on the pixels of ``sample`` (N, 3).

    Returns the centres, their pixel counts and the sum of squared distances
    of the pixels to the centres (measured before the last update, which only
    lowers it).

    Stops when no centre moves more than ``tol`` (squared), after ``max_iter``
    iterations, or when the labels repeat. An empty cluster is re-seeded at the
    sample pixel farthest from its centre.
    """
    from easel.art import _kernels as kern

    labels = np.empty(sample.shape[0], np.int32)
    prev = np.full(sample.shape[0], -1, np.int32)
    counts = np.zeros(centers.shape[0], np.float64)
    sse = np.inf
    for _ in range(max_iter):
        sums, counts, sq_sums = kern.assign_and_sum(sample, centers, labels, sample, n_chunks)
        new = centers.astype(np.float64)
        full = counts > 0
        new[full] = sums[full] / counts[full, None]
        sse = float(np.sum(sq_sums[full] - np.sum(sums[full] ** 2, axis=1) / counts[full]))
        empty = np.flatnonzero(~full)
        if empty.size:
            dists = np.empty(sample.shape[0], np.float32)
            kern.nearest_sq_distance(sample, new.astype(np.float32), dists)
            new[empty] = sample[np.argsort(-dists, kind="stable")[: empty.size]]
        shift = float(np.max(np.sum((new - centers) ** 2, axis=1)))
        centers = new.astype(np.float32)
        if empty.size == 0 and (shift <= tol or np.array_equal(labels, prev)):
            break
        prev, labels = labels, prev
    if max_iter == 0 or np.any(counts == 0):
        sums, counts, sq_sums = kern.assign_and_sum(sample, centers, labels, sample, n_chunks)
        d2 = (
            sq_sums
            - 2.0 * np.sum(sums * centers, axis=1)
            + counts * np.sum(centers.astype(np.float64) ** 2, axis=1)
        )
        sse = float(np.sum(d2))
    return centers, counts, sse


def write_quantized(
    path: str | os.PathLike[str],
    result: QuantizeResult,
    *,
    alpha: NDArray[np.float32] | None = None,
    compress_level: int | None = None,
) -> Path:
    """Write a quantized image atomically; a ``.png`` without alpha becomes an indexed-colour PNG.

    An indexed PNG stores the palette once and one 1-, 2-, 4- or 8-bit index per
    pixel, so it is smaller and much faster to write than the same picture in
    RGB, with exactly the same colours (the palette rounded to 8 bits, as
    :func:`easel.io.write_image` rounds). Other formats, an ``alpha`` channel or
    more than 256 colours go through :func:`easel.io.write_image`.

    Args:
        path: output file; the format follows the suffix (``.png``, ``.jpg``, ``.webp``, ``.tif``).
        result: what :func:`quantize_colors` returned.
        alpha: optional ``(H, W)`` float32 in [0, 1] (an RGBA PNG is written then).
        compress_level: PNG zlib level 0-9 (``None``: fast for large images, see
            :func:`easel.io.images.png_compress_level`).

    Returns:
        ``Path(path)``.

    Example:
        >>> result = quantize_colors(np.zeros((4, 4, 3), np.float32), n_colors=2)
        >>> write_quantized("poster.png", result)  # doctest: +SKIP
        PosixPath('poster.png')
    """
    from easel.io.images import check_image_suffix, png_compress_level, write_image

    out = Path(path)
    if check_image_suffix(out) != ".png" or alpha is not None or result.n_colors > 256:
        return write_image(out, result.image, alpha=alpha, compress_level=compress_level)
    if not out.resolve().parent.is_dir():
        raise InputError(f"{out}: output folder {out.resolve().parent} does not exist")
    from PIL import Image

    from easel.image import to_uint8
    from easel.io.atomic import atomic_path

    height, width = result.labels.shape
    level = png_compress_level(height * width, compress_level)
    index = np.ascontiguousarray(result.labels, dtype=np.uint8)
    picture = Image.frombuffer("P", (width, height), index.tobytes(), "raw", "P", 0, 1)
    picture.putpalette(to_uint8(result.palette).ravel().tobytes())
    bits = next(b for b in (1, 2, 4, 8) if result.n_colors <= 1 << b)
    with atomic_path(out) as tmp:
        picture.save(tmp, format="PNG", compress_level=level, bits=bits)
    return out


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
