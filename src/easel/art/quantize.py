"""Colour quantization: K-means in RGB or CIELAB, the K centroids replace the colours of their cluster.

The K-means runs on a weighted histogram of the image's colours (the mean colour of
each occupied cell of a 64x64x64 RGB grid, weighted by its pixel count), seeded by
greedy k-means++ (three restarts) and refined by Lloyd iterations; Lloyd passes
over every pixel (one, then the final assignment, after which each colour is
the mean of its pixels) turn it into a K-means solution of the full image, not
of the histogram. The loops (histogram, k-means++, assignment, Floyd-Steinberg
dithering) are numba kernels in :mod:`easel.art._kernels`. A 12-megapixel photo
takes about a second on two cores. An image with fewer distinct colours than
asked -- a 1x1 pixel, a flat logo -- gets a palette of exactly those colours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.options import OptionError, option
from easel.progress import ProgressFn, report

__all__ = ["QuantizeOptions", "QuantizeResult", "quantize_colors", "palette_swatch", "to_hex", "SPACES"]

Space = Literal["rgb", "lab"]
SPACES: tuple[str, ...] = ("rgb", "lab")
"""Colour spaces K-means can run in."""

MAX_COLORS = 4096
"""Largest supported ``n_colors``."""

_HIST_BITS = 6  # histogram grid: 2**6 levels per channel


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
        n_init: k-means++ restarts on the colour histogram; the best is kept.
        max_iter: Lloyd iterations per restart on the histogram.
        refine_passes: Lloyd passes over every pixel after the histogram stage.

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
    n_init: int = option(3, help="k-means++ restarts on the colour histogram; the best is kept", cli=False)
    max_iter: int = option(100, help="Lloyd iterations per restart on the histogram", cli=False)
    refine_passes: int = option(1, help="Lloyd passes over every pixel after the histogram stage", cli=False)

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
        for name, least in (("n_init", 1), ("max_iter", 1), ("refine_passes", 0)):
            value = getattr(self, name)
            if not (_whole(value) and value >= least):
                raise OptionError(name, f"must be a whole number >= {least}, got {value!r}")
        return self


@dataclass(frozen=True)
class QuantizeResult:
    """The result of :func:`quantize_colors`.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1]: every pixel replaced by its palette colour.
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

    image: FloatImage
    palette: NDArray[np.float32]
    labels: NDArray[np.int32]
    counts: NDArray[np.int64]
    mse: float
    requested_colors: int
    note: str = ""

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
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Mean working-space colour and pixel count of each occupied cell of a 2**bits RGB grid."""
    from easel.art import _kernels

    means, weights = _kernels.color_histogram(rgb_flat, points, bits)
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
            ``n_init`` restarts, ``max_iter`` Lloyd iterations per restart and
            ``refine_passes`` over every pixel.
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
    total_steps = n_init + refine_passes + 2
    report(progress, "quantize", 0, total_steps)

    pixels = np.ascontiguousarray(_rgb_to_space(rgb, space).reshape(-1, 3), dtype=np.float32)
    # the pixels that choose the palette (copies only when masked)
    fit_rgb = rgb_flat if keep is None else np.ascontiguousarray(rgb_flat[keep])
    fit_pixels = pixels if keep is None else np.ascontiguousarray(pixels[keep])
    points, weights = _histogram(fit_rgb, fit_pixels, _HIST_BITS)
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

    # tolerance on the centre shift, relative to the data's spread (as scikit-learn does)
    spread = float(np.mean(np.var(points, axis=0)))
    tol = 1e-4 * spread
    rng = np.random.default_rng(opts.seed)
    best_centers: NDArray[np.float32] | None = None
    best_inertia = np.inf
    for run in range(n_init):
        init = _kmeans_pp(points, weights, k, rng)
        centers, inertia = _lloyd(points, weights, init, opts.max_iter, tol)
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
        sums, cnt = _kernels.assign_and_sum(fit_pixels, centers, fit_labels, fit_pixels, n_chunks)
        full = cnt > 0
        updated = centers.astype(np.float64)
        updated[full] = sums[full] / cnt[full, None]
        centers = updated.astype(np.float32)
        report(progress, "quantize", 2 + n_init + step, total_steps)

    palette = _space_to_rgb(centers, space)
    if opts.dither:
        grid = np.ascontiguousarray(pixels.reshape(height, width, 3))
        labels2d = np.empty((height, width), np.int32)
        _kernels.dither_floyd_steinberg(grid, centers, labels2d)
        labels = labels2d.reshape(-1)
    else:
        # the final assignment; each colour becomes the RGB mean of its pixels, which is
        # the K-means update in RGB and, for Lab, the RGB colour that fits the cluster best
        sums, cnt = _kernels.assign_and_sum(pixels, centers, labels, rgb_flat, n_chunks)
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
        requested_colors=requested,
        note=note,
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
