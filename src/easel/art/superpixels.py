"""SLIC superpixels, each superpixel filled with the mean colour of its pixels.

:func:`slic_superpixels` runs SLIC (Achanta et al., 2012) in CIELAB with numba
kernels: each pixel picks the best of the nine nearest grid seeds (as in
gSLICr), so rows run in parallel. With large superpixels the iterations run on
the image halved up to three times (as long as a superpixel stays about 10
pixels wide there), and the labels are then brought back to full size one
octave at a time: a pixel whose neighbourhood has one coarse label keeps it, the
others -- along the borders -- choose among the labels around them. Full size
needs Lab only there, so OpenCV's 8-bit Lab (fast, and precise enough) is used.
Parameters follow scikit-image's meaning: ``n_segments`` is the approximate
number of superpixels and ``compactness`` weighs space against colour as in
``skimage.segmentation.slic`` (distance ``d_lab^2 + (compactness * d_xy / S)^2``
with grid step ``S = sqrt(H * W / n_segments)``), so ``compactness=10`` gives
the shapes scikit-image users expect. Each label is then made one connected
region -- the largest piece of each cluster is kept, stray fragments join the
neighbour of most similar colour, found on runs of equal labels -- and labels
are numbered consecutively from 0.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.options import OptionError, option
from easel.progress import ProgressFn, report

__all__ = [
    "SuperpixelOptions",
    "SuperpixelResult",
    "boundary_mask",
    "load_kernels",
    "mark_boundaries",
    "mean_color",
    "parse_hex_color",
    "relabel_consecutive",
    "slic_superpixels",
    "superpixel_mosaic",
]

RGB = tuple[float, float, float]


def parse_hex_color(text: str) -> RGB:
    """``"#ffcc00"`` or ``"#fc0"`` (the ``#`` is optional) -> RGB in [0, 1] (the CLI's ``--boundary-color``).

    Example:
        >>> parse_hex_color("#ff0000")
        (1.0, 0.0, 0.0)
    """
    value = text.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    try:
        if len(value) != 6:
            raise ValueError
        red, green, blue = (int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a colour like '#ffcc00', got {text!r}") from None
    return red, green, blue


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class SuperpixelOptions:
    """Settings of :func:`superpixel_mosaic` and :func:`slic_superpixels` (``easel superpixels``).

    Attributes:
        n_segments: approximate number of superpixels, >= 1. Seeds start on a
            grid of step ``S = sqrt(H * W / n_segments)`` pixels.
        compactness: > 0, on scikit-image's scale: larger values give squarer
            superpixels, smaller ones follow colour edges more closely (1-40 is useful).
        boundaries: draw the outlines over the mean-colour fill.
        boundaries_only: draw the outlines over the original image, no fill
            (not with ``boundaries``).
        boundary_color: RGB in [0, 1] of the outlines (default yellow).
        num_steps: SLIC (k-means) iterations.
        min_size_factor: after clustering, each label is split into 4-connected
            pieces; the largest piece of each cluster stays, and other pieces
            smaller than this fraction of ``S^2`` pixels join the neighbour of
            most similar colour.

    Example:
        >>> SuperpixelOptions(n_segments=300, boundaries=True).validate().n_segments
        300
    """

    n_segments: int = option(
        500, help="approximate number of superpixels", flag="--segments", short="-n", metavar="N"
    )
    compactness: float = option(
        10.0, help="shape regularity vs colour fidelity, scikit-image's scale", metavar="M"
    )
    boundaries: bool = option(False, help="draw the outlines over the mean-colour fill")
    boundaries_only: bool = option(False, help="draw the outlines over the original image, no fill")
    boundary_color: RGB = option(
        (1.0, 1.0, 0.0),
        help="outline colour (default '#ffff00', yellow)",
        metavar="HEX",
        parse=parse_hex_color,
    )
    num_steps: int = option(10, help="SLIC (k-means) iterations", cli=False)
    min_size_factor: float = option(
        0.25, help="stray pieces smaller than this fraction of a cell join a neighbour", cli=False
    )

    def validate(self) -> SuperpixelOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the first bad one.

        Example:
            >>> SuperpixelOptions(compactness=0).validate()
            Traceback (most recent call last):
            ...
            easel.options.OptionError: compactness must be a number > 0, got 0
        """
        if not _whole(self.n_segments):
            raise OptionError("n_segments", f"must be a whole number, got {self.n_segments!r}")
        if self.n_segments < 1:
            raise OptionError("n_segments", f"must be >= 1, got {self.n_segments}")
        if not (_finite(self.compactness) and self.compactness > 0):
            raise OptionError("compactness", f"must be a number > 0, got {self.compactness}")
        if self.boundaries and self.boundaries_only:
            raise OptionError(
                "boundaries_only",
                "draws the outlines over the original image; it cannot be combined with boundaries",
            )
        color = tuple(self.boundary_color)
        if len(color) != 3 or not all(_finite(c) and 0.0 <= c <= 1.0 for c in color):
            raise OptionError(
                "boundary_color", f"must be three numbers in [0, 1]; got {self.boundary_color!r}"
            )
        if not (_whole(self.num_steps) and self.num_steps >= 1):
            raise OptionError("num_steps", f"must be >= 1, got {self.num_steps}")
        if not (_finite(self.min_size_factor) and 0.0 <= self.min_size_factor <= 1.0):
            raise OptionError("min_size_factor", f"must be in [0, 1], got {self.min_size_factor}")
        return self


@dataclass(frozen=True)
class SuperpixelResult:
    """The result of :func:`superpixel_mosaic`.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1]: the mosaic (or the outlines over the image).
        labels: ``(H, W)`` int32 superpixel labels, consecutive from 0.

    Example:
        >>> result = superpixel_mosaic(np.zeros((4, 4, 3), np.float32), n_segments=4)
        >>> result.image.shape, result.n_segments
        ((4, 4, 3), 4)
    """

    image: FloatImage
    labels: NDArray[np.int32]

    @property
    def n_segments(self) -> int:
        """How many superpixels were made (about ``n_segments``; at most one per pixel)."""
        return int(self.labels.max()) + 1 if self.labels.size else 0


def _check_labels(labels: ArrayLike, shape: tuple[int, int] | None = None) -> NDArray[np.intp]:
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise InputError(f"labels must have shape (H, W); got {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise InputError(f"labels have shape {arr.shape} but the image is {shape[0]}x{shape[1]} (H x W)")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"labels must be integers; got dtype {arr.dtype}")
    if arr.size and int(arr.min()) < 0:
        raise InputError(f"labels must be >= 0; found {int(arr.min())}")
    return arr.astype(np.intp, copy=False)


def relabel_consecutive(labels: ArrayLike) -> NDArray[np.int32]:
    """Renumber non-negative integer labels to ``0 .. n-1``, keeping their order.

    Args:
        labels: ``(H, W)`` non-negative integer labels.

    Returns:
        ``(H, W)`` int32 labels, consecutive from 0.

    Example:
        >>> relabel_consecutive(np.array([[5, 5], [2, 9]])).tolist()
        [[1, 1], [0, 2]]
    """
    arr = _check_labels(labels)
    if arr.size == 0:
        return arr.astype(np.int32)
    used = np.bincount(arr.ravel()) > 0
    lut = np.cumsum(used, dtype=np.int64) - 1
    return lut.astype(np.int32)[arr]


# ---------------------------------------------------------------- public API


def slic_superpixels(
    image: ArrayLike,
    n_segments: int | None = None,
    compactness: float | None = None,
    *,
    options: SuperpixelOptions | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> NDArray[np.int32]:
    """Segment an image into about ``n_segments`` compact regions of similar colour (SLIC in CIELAB).

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8``, gray and RGBA are
            accepted as in :func:`easel.image.as_float_rgb`; alpha is ignored).
        n_segments: approximate number of superpixels, >= 1 (default
            ``options.n_segments``, 500). Seeds start on a grid of step
            ``S = sqrt(H * W / n_segments)`` pixels.
        compactness: > 0, on scikit-image's scale (default ``options.compactness``,
            10): larger values give squarer superpixels, smaller ones follow colour
            edges more closely (1-40 is useful).
        options: :class:`SuperpixelOptions` (defaults when ``None``); its
            ``num_steps`` (SLIC iterations) and ``min_size_factor`` (stray pieces
            smaller than this fraction of ``S^2`` pixels join the neighbour of
            most similar colour) apply here too.
        progress: optional callback receiving :class:`easel.progress.ProgressUpdate`.
        **overrides: fields of :class:`SuperpixelOptions` to change (``num_steps=5``).

    Returns:
        ``(H, W)`` int32 labels, consecutive from 0 in raster order; every label
        is one 4-connected region. SLIC is deterministic, so there is no seed.

    Raises:
        OptionError: ``n_segments < 1``, ``compactness <= 0`` or another bad option, naming the field.
        InputError: an invalid image.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((64, 64, 3), np.float32); img[:, 32:] = 1.0
        >>> labels = slic_superpixels(img, n_segments=16, compactness=10)
        >>> labels.shape, labels.dtype.name, bool(np.intersect1d(labels[:, :32], labels[:, 32:]).size == 0)
        ((64, 64), 'int32', True)
    """
    opts = _resolve(options, n_segments, compactness, overrides)
    return _segment(as_float_rgb(image), opts, progress)


def superpixel_mosaic(
    image: ArrayLike,
    options: SuperpixelOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> SuperpixelResult:
    """SLIC superpixels drawn as ``easel superpixels`` draws them: a mean-colour mosaic, with outlines if asked.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8`` etc. accepted).
        options: :class:`SuperpixelOptions` (defaults when ``None``): the
            segmentation (``n_segments``, ``compactness`` ...) and what is drawn:
            the mosaic (default), the mosaic with outlines (``boundaries``), or
            the outlines over the original image (``boundaries_only``), in
            ``boundary_color``.
        progress: optional callback receiving :class:`easel.progress.ProgressUpdate`.
        **overrides: fields of :class:`SuperpixelOptions` to change (``n_segments=300``).

    Returns:
        A :class:`SuperpixelResult`: the ``(H, W, 3)`` float32 picture and the ``(H, W)`` labels.

    Raises:
        OptionError: a bad option, naming the field. InputError: an invalid image.

    Example:
        >>> img = np.zeros((32, 32, 3), np.float32); img[:, 16:] = 1.0
        >>> result = superpixel_mosaic(img, n_segments=4, boundaries=True)
        >>> result.image.shape, result.n_segments >= 2
        ((32, 32, 3), True)
    """
    opts = _resolve(options, None, None, overrides)
    rgb = as_float_rgb(image)
    labels = _segment(rgb, opts, progress)
    if opts.boundaries_only:
        picture = mark_boundaries(rgb, labels, opts.boundary_color)
    else:
        picture = mean_color(rgb, labels)
        if opts.boundaries:
            picture = mark_boundaries(picture, labels, opts.boundary_color)
    return SuperpixelResult(image=picture, labels=labels)


def load_kernels() -> None:
    """Load the compiled loops every :func:`slic_superpixels` call runs, compiling them on a first run.

    Numba loads (or, with an empty cache, compiles) each loop on its first call
    in a process; ``easel superpixels`` calls this in a thread while it reads
    the image, so that the two overlap. A 32x32 image with four superpixels
    runs the SLIC iteration and the connected regions with the types a real
    image brings; the refinement to full size, which only large superpixels
    need, is left to the call that needs it (on a small image, compiling it
    here would only delay the run).

    Example:
        >>> load_kernels()  # doctest: +SKIP
    """
    ramp = np.linspace(0.0, 1.0, 32, dtype=np.float32)
    tiny = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], ramp[::-1, None]), axis=-1)
    slic_superpixels(tiny, n_segments=4)


def _resolve(
    options: SuperpixelOptions | None,
    n_segments: int | None,
    compactness: float | None,
    overrides: dict[str, Any],
) -> SuperpixelOptions:
    """``options`` (or the defaults) with the explicit arguments and ``overrides`` applied, validated."""
    if n_segments is not None:
        overrides["n_segments"] = n_segments
    if compactness is not None:
        overrides["compactness"] = compactness
    return replace(options or SuperpixelOptions(), **overrides).validate()


def _segment(rgb: FloatImage, opts: SuperpixelOptions, progress: ProgressFn | None) -> NDArray[np.int32]:
    from easel.art._kernels import threads_for  # numba loads here, not at import

    with threads_for(rgb.shape[0] * rgb.shape[1]):
        return _slic(
            rgb, int(opts.n_segments), float(opts.compactness), opts.num_steps, opts.min_size_factor, progress
        )


def _seed_grid(height: int, width: int, n_segments: int) -> tuple[int, int]:
    """Rows and columns of the SLIC seed grid: cells of side about ``S = sqrt(H * W / n_segments)``.

    At most one seed per pixel. A side shorter than half a step (a thin strip,
    such as a 1 x N image) gets a single row or column of seeds, and the other
    side then takes all ``n_segments`` of them.

    Example:
        >>> _seed_grid(60, 90, 6), _seed_grid(3, 3, 500), _seed_grid(1, 40, 4)
        ((2, 3), (3, 3), (1, 4))
    """
    step = math.sqrt(height * width / n_segments)
    rows, cols = round(height / step), round(width / step)
    if rows < 1:
        return 1, max(1, min(width, n_segments))
    if cols < 1:
        return max(1, min(height, n_segments)), 1
    return min(height, rows), min(width, cols)


_MAX_LEVELS = 3  # the iterations run on the image halved at most this many times


def _levels(height: int, width: int, step: float) -> int:
    """How many times SLIC's iterations halve the image: 0 to :data:`_MAX_LEVELS`.

    The iterations run where a superpixel is still at least ~10 pixels wide
    (``step / 2**levels >= 10``) and the image at least 64 pixels on its short
    side; :func:`easel.art._kernels.slic_refine` then brings the labels back to
    full size one octave at a time, deciding only near the borders.

    Example:
        >>> _levels(3000, 4000, 110.0), _levels(600, 800, 24.0), _levels(100, 100, 10.0)
        (3, 1, 0)
    """
    levels = 0
    while (
        levels < _MAX_LEVELS and step / 2 ** (levels + 1) >= 10 and min(height, width) >> (levels + 1) >= 64
    ):
        levels += 1
    return levels


def _slic(
    rgb: FloatImage,
    n_segments: int,
    compactness: float,
    num_steps: int,
    min_size_factor: float,
    progress: ProgressFn | None,
) -> NDArray[np.int32]:
    import cv2

    from easel.art import _kernels

    height, width = rgb.shape[:2]
    total = num_steps + 1
    report(progress, "superpixels", 0, total)

    step = math.sqrt(height * width / int(n_segments))
    levels = _levels(height, width, step)
    # OpenCV's 8-bit Lab (a quarter of the work of float Lab, and precise enough for SLIC);
    # the iterations see it as CIELAB: L in [0, 100], a and b about [-128, 127], the scale
    # scikit-image's slic uses
    lab = cv2.cvtColor(cv2.convertScaleAbs(rgb, alpha=255.0), cv2.COLOR_RGB2Lab)
    ny, nx = _seed_grid(height, width, int(n_segments))
    k = ny * nx
    # rows are split into a fixed number of chunks (not the thread count), so the sums and
    # labels do not depend on the machine; accumulators cost n_chunks * K * 48 bytes (<= 256 MB)
    n_chunks = max(1, min(height, 32, (256 << 20) // (48 * k)))

    # Coarse to fine: with large superpixels the iterations run on the image halved once or
    # twice (a quarter or a sixteenth of the work), then the labels are brought back to full
    # size one octave at a time, each pixel deciding only near a border.
    pyramid = [lab]
    for _ in range(levels):
        below = pyramid[-1]
        pyramid.append(
            cv2.resize(below, (below.shape[1] // 2, below.shape[0] // 2), interpolation=cv2.INTER_AREA)
        )
    affine = _kernels.lab_affine(pyramid[-1])
    level = np.ascontiguousarray(pyramid[-1] * affine[:3] + affine[3:], dtype=np.float32)
    lh, lw = level.shape[:2]
    scale = 2**levels
    cy = ((np.arange(ny) + 0.5) * (lh / ny)).astype(np.int64)
    cx = ((np.arange(nx) + 0.5) * (lw / nx)).astype(np.int64)
    gy, gx = np.meshgrid(cy, cx, indexing="ij")
    centers = np.empty((k, 5), np.float32)
    centers[:, :3] = level[gy.ravel(), gx.ravel()]
    centers[:, 3] = gy.ravel()
    centers[:, 4] = gx.ravel()

    labels = np.empty((lh, lw), np.int32)
    wlevel = np.float32(float(compactness) ** 2 / (step / scale) ** 2)
    for done in range(num_steps):
        centers = _kernels.slic_step(level, centers, ny, nx, wlevel, labels, n_chunks)
        report(progress, "superpixels", done + 1, total)
    for finer in reversed(pyramid[:-1]):
        # a pixel of the coarser level covers two of this one: centre 2i + 0.5
        centers[:, 3:] = centers[:, 3:] * 2.0 + 0.5
        scale //= 2
        wfiner = np.float32(float(compactness) ** 2 / (step / scale) ** 2)
        refined = np.empty(finer.shape[:2], np.int32)
        _kernels.slic_refine(finer, labels, centers, wfiner, refined, n_chunks)
        labels = refined

    min_size = int(min_size_factor * step * step)
    out, _n = _kernels.connect_regions(labels, lab, centers, min_size)
    report(progress, "superpixels", total, total, segments=float(out.max() + 1))
    return out


def mean_color(image: ArrayLike, labels: ArrayLike) -> FloatImage:
    """Fill each labelled region with the mean colour of its pixels.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8`` etc. accepted).
        labels: ``(H, W)`` non-negative integer labels (any numbering).

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Example:
        >>> img = np.array([[[0, 0, 0], [1, 1, 1]]], np.float32)
        >>> mean_color(img, np.array([[0, 0]]))[0, 0].tolist()
        [0.5, 0.5, 0.5]
    """
    rgb = as_float_rgb(image)
    lab = _check_labels(labels, rgb.shape[:2]).ravel()
    counts = np.bincount(lab)
    safe = np.maximum(counts, 1).astype(np.float64)
    flat = rgb.reshape(-1, 3)
    means = np.empty((counts.size, 3), np.float32)
    for c in range(3):
        means[:, c] = np.bincount(lab, weights=flat[:, c], minlength=counts.size) / safe
    out = means[lab].reshape(rgb.shape)
    return np.clip(out, 0.0, 1.0, out=out)


def boundary_mask(labels: ArrayLike) -> NDArray[np.bool_]:
    """Pixels on a superpixel border: those whose right or lower neighbour has another label.

    Lines are one pixel wide (drawn on the upper/left side of each border).

    Args:
        labels: ``(H, W)`` non-negative integer labels.

    Returns:
        ``(H, W)`` bool mask.

    Example:
        >>> boundary_mask(np.array([[0, 0, 1], [0, 0, 1]])).astype(int).tolist()
        [[0, 1, 0], [0, 1, 0]]
    """
    arr = _check_labels(labels)
    mask = np.zeros(arr.shape, np.bool_)
    mask[:, :-1] |= arr[:, :-1] != arr[:, 1:]
    mask[:-1, :] |= arr[:-1, :] != arr[1:, :]
    return mask


def mark_boundaries(
    image: ArrayLike,
    labels: ArrayLike,
    color: tuple[float, float, float] = (1.0, 1.0, 0.0),
) -> FloatImage:
    """Draw superpixel borders over an image.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8`` etc. accepted).
        labels: ``(H, W)`` non-negative integer labels.
        color: RGB in [0, 1] of the lines (default yellow).

    Returns:
        A new ``(H, W, 3)`` float32 RGB image in [0, 1].

    Example:
        >>> out = mark_boundaries(np.zeros((2, 3, 3)), np.array([[0, 0, 1], [0, 0, 1]]))
        >>> out[0, 1].tolist(), out[0, 0].tolist()
        ([1.0, 1.0, 0.0], [0.0, 0.0, 0.0])
    """
    rgb = as_float_rgb(image).copy()
    rgb_color = np.asarray(color, dtype=np.float32)
    if rgb_color.shape != (3,) or not np.all((rgb_color >= 0) & (rgb_color <= 1)):
        raise InputError(f"color must be three numbers in [0, 1]; got {color!r}")
    mask = boundary_mask(labels)
    if mask.shape != rgb.shape[:2]:
        raise InputError(f"labels have shape {mask.shape} but the image is {rgb.shape[0]}x{rgb.shape[1]}")
    rgb[mask] = rgb_color
    return rgb
