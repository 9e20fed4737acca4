"""Numba kernels of the classical art filters (colour quantization, SLIC superpixels).

The drivers -- :mod:`easel.art.quantize` and :mod:`easel.art.superpixels` --
check their input, choose the parameters and call these loops; the loops
themselves take plain NumPy arrays, check nothing and allocate little, as
scikit-image keeps ``_slic.pyx`` beside ``slic.py``. Each kernel has a plain
NumPy reference in ``tests/test_art_kernels.py``.

Conventions: colour points are ``(N, 3)`` float32 in the working colour space
(RGB in [0, 1] or CIELAB); centres are ``(K, 3)`` float32 in the same space;
labels are int32 indices into the centres. Kernels marked *parallel* split
their work into a fixed number of chunks (not the thread count), so their
results do not depend on the machine.

Cold start: every loop is compiled on its first call and kept in numba's
cache (``cache=True``: ``__pycache__`` beside this file, or numba's user-wide
cache folder when the package folder is read-only; ``NUMBA_CACHE_DIR``
overrides both), so only the first run on a machine compiles. To keep that
first run short (issue #15, ``benchmarks/cold_start.py``):

* the compiled loops (the ``_``-prefixed ``@njit`` functions) use nothing numba
  compiles from Python on the fly: no NumPy allocation (the public wrappers
  allocate, in NumPy), no ``min``/``max`` builtins, no slice assignment (whose
  shape check formats error strings), no ``np.searchsorted``; they count no
  references and have no C-callable wrapper;
* there are few of them: one loop serves every K-means step;
* *parallel* kernels are serial loops over a range of chunks, compiled with
  ``nogil=True`` and run on numba's thread count by
  :func:`easel._parallel.run_chunks`, not ``prange`` (whose parallel passes
  cost a second of compilation or more per kernel);
* each loop is called with one signature (C-contiguous arrays of fixed dtypes,
  Python ints, ``np.float32`` scalars), so one compiled version serves every
  image. ``tests/test_kernel_cache.py`` checks that a second process compiles
  nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from easel._parallel import run_chunks

__all__ = [
    "LUT_BITS",
    "assign_and_sum",
    "assign_nearest",
    "color_histogram",
    "connect_regions",
    "dither_floyd_steinberg",
    "histogram_sums",
    "kmeans_pp_seeds",
    "lab_affine",
    "lloyd_step",
    "nearest_lut",
    "nearest_center",
    "nearest_sq_distance",
    "slic_refine",
    "slic_step",
    "threads_for",
    "weighted_sums",
]

SMALL_WORK = 1 << 18
"""Pixel counts below this run the kernels on one thread."""

# Options of every loop: cached, no reference counting (nothing here allocates or returns an
# array) and no C-callable wrapper, which keeps the first compilation short.
_KERNEL: dict[str, Any] = {"cache": True, "no_cfunc_wrapper": True, "_nrt": False}


@contextmanager
def threads_for(n_items: int) -> Iterator[None]:
    """Run the *parallel* kernels on one thread for inputs of fewer than :data:`SMALL_WORK` items.

    Starting the thread team costs little on an idle machine but can cost
    milliseconds per kernel call on a busy one, more than small images need.
    Numba's thread count is per calling thread, so this does not affect others.

    Example:
        >>> with threads_for(64 * 64):
        ...     numba.get_num_threads()
        1
    """
    if n_items >= SMALL_WORK:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


# ---------------------------------------------------------------- K-means (colour quantization)


@numba.njit(inline="always", **_KERNEL)
def nearest_center(
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


@numba.njit(nogil=True, fastmath=True, **_KERNEL)
def _assign_and_sum_chunks(
    points: np.ndarray,
    centers: np.ndarray,
    labels: np.ndarray,
    assign: bool,
    values: np.ndarray,
    weights: np.ndarray,
    lut: np.ndarray,
    lut_summed: bool,
    partial: np.ndarray,
    sq_dists: np.ndarray,
    first: int,
    stop: int,
) -> None:  # pragma: no cover - numba
    """Chunks ``[first, stop)`` of the points: point ``i`` joins its nearest centre (``assign``:
    written to ``labels[i]``, the squared distance to ``sq_dists[i]`` unless it is empty) or
    cluster ``labels[i]``, and chunk ``c`` adds ``(w_i * values[i], w_i, w_i * |values[i]|^2)``
    to ``partial[c, label]`` (``w_i = weights[i]``, or 1 when ``weights`` is empty).

    A non-empty ``lut`` (L, L, L) int16 (see :func:`nearest_lut`; points are then RGB in
    [0, 1]) gives the nearest centre of every point in a grid cell at once, or -1 where
    the cell is near a border between centres and the point is searched as usual.
    With ``lut_summed`` the points found in ``lut`` are only labelled, not summed (the
    caller adds their cells' sums from a histogram).

    One loop serves every K-means step, so that a first run compiles it once. With integer
    weights (pixel counts) and float32 values every product is exact, so the fused multiply-add
    sums the same as a multiply and an add.
    """
    n = points.shape[0]
    n_chunks = partial.shape[0]
    per = (n + n_chunks - 1) // n_chunks
    weighted = weights.shape[0] > 0
    keep_dists = sq_dists.shape[0] > 0
    use_lut = lut.shape[0] > 0
    levels = np.float32(lut.shape[0] - 1)
    for chunk in range(first, stop):
        start = chunk * per
        end = start + per
        end = end if end < n else n
        for i in range(start, end):
            if assign:
                best = -1
                if use_lut:
                    r = int(points[i, 0] * levels + np.float32(0.5))
                    g = int(points[i, 1] * levels + np.float32(0.5))
                    b = int(points[i, 2] * levels + np.float32(0.5))
                    best = lut[r, g, b]
                    if best >= 0 and lut_summed:
                        labels[i] = best
                        continue
                if best < 0:
                    best, best_d = nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)
                    if keep_dists:
                        sq_dists[i] = best_d
                labels[i] = best
            else:
                best = labels[i]
            w = weights[i] if weighted else 1.0
            v0 = np.float64(values[i, 0])
            v1 = np.float64(values[i, 1])
            v2 = np.float64(values[i, 2])
            partial[chunk, best, 0] += w * v0
            partial[chunk, best, 1] += w * v1
            partial[chunk, best, 2] += w * v2
            partial[chunk, best, 3] += w
            partial[chunk, best, 4] += w * (v0 * v0 + v1 * v1 + v2 * v2)


_NO_WEIGHTS = np.empty(0, np.float64)
_NO_DISTANCES = np.empty(0, np.float32)
_NO_CENTERS = np.empty((0, 3), np.float32)
_NO_LUT = np.empty((0, 0, 0), np.int16)


def _serial_sums(
    points: NDArray[np.float32],
    centers: NDArray[np.float32],
    labels: NDArray[np.int32],
    assign: bool,
    weights: NDArray[np.float64],
    sq_dists: NDArray[np.float32],
    k: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One chunk, in point order: per-cluster ``(weighted sums of points, weight totals)``."""
    partial = np.zeros((1, k, 5), np.float64)
    _assign_and_sum_chunks(
        points, centers, labels, assign, points, weights, _NO_LUT, False, partial, sq_dists, 0, 1
    )
    return partial[0, :, :3].copy(), partial[0, :, 3].copy()


def weighted_sums(
    points: NDArray[np.float32], weights: NDArray[np.float64], labels: NDArray[np.int32], k: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-cluster weighted sums of ``points`` (N, 3) and of ``weights`` (N,) under ``labels`` (N,).

    Returns ``(sums, weight_totals)``: ``(k, 3)`` and ``(k,)`` float64.

    Example:
        >>> pts = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
        >>> sums, totals = weighted_sums(pts, np.array([1.0, 2.0, 3.0]), np.array([0, 1, 1], np.int32), 2)
        >>> sums.tolist(), totals.tolist()
        ([[1.0, 0.0, 0.0], [0.0, 2.0, 3.0]], [1.0, 5.0])
    """
    return _serial_sums(points, _NO_CENTERS, labels, False, weights, _NO_DISTANCES, k)


def lloyd_step(
    points: NDArray[np.float32],
    weights: NDArray[np.float64],
    centers: NDArray[np.float32],
    labels: NDArray[np.int32],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`assign_nearest` then :func:`weighted_sums` in one pass: the assignment half of a Lloyd step.

    Sets ``labels`` (N,) int32 and returns ``(sums, weight_totals)``: ``(K, 3)``
    and ``(K,)`` float64 per centre of ``centers`` (K, 3).

    Example:
        >>> pts = np.array([[0, 0, 0], [1, 1, 1], [0.8, 1, 1]], np.float32)
        >>> labels = np.empty(3, np.int32)
        >>> sums, totals = lloyd_step(pts, np.array([1.0, 1.0, 3.0]), pts[:2].copy(), labels)
        >>> labels.tolist(), totals.tolist()
        ([0, 1, 1], [1.0, 4.0])
    """
    return _serial_sums(points, centers, labels, True, weights, _NO_DISTANCES, centers.shape[0])


def assign_nearest(
    points: NDArray[np.float32], centers: NDArray[np.float32], labels: NDArray[np.int32]
) -> None:
    """Set ``labels[i]`` (N,) int32 to the index of the centre (K, 3) nearest to ``points[i]`` (N, 3), serially.

    Example:
        >>> labels = np.empty(2, np.int32)
        >>> assign_nearest(np.array([[0.1, 0.9, 0], [0, 0, 0.8]], np.float32), np.eye(3, dtype=np.float32), labels)
        >>> labels.tolist()
        [1, 2]
    """
    _serial_sums(points, centers, labels, True, _NO_WEIGHTS, _NO_DISTANCES, centers.shape[0])


def nearest_sq_distance(
    points: NDArray[np.float32], centers: NDArray[np.float32], out: NDArray[np.float32]
) -> None:
    """Set ``out[i]`` (N,) float32 to the squared distance from ``points[i]`` (N, 3) to its nearest centre (K, 3).

    Example:
        >>> out = np.empty(1, np.float32)
        >>> nearest_sq_distance(np.array([[0, 0, 0.5]], np.float32), np.eye(3, dtype=np.float32), out)
        >>> out.tolist()
        [0.25]
    """
    labels = np.empty(points.shape[0], np.int32)
    _serial_sums(points, centers, labels, True, _NO_WEIGHTS, out, centers.shape[0])


LUT_BITS = 6
"""Side of :func:`nearest_lut`'s grid: ``2**LUT_BITS`` levels per RGB channel."""


@numba.njit(fastmath=False, **_KERNEL)
def _nearest_lut(
    centers: np.ndarray, levels: int, margin: float, lut: np.ndarray
) -> None:  # pragma: no cover
    k = centers.shape[0]
    side = levels + 1
    for r in range(side):
        m0 = r / levels
        for g in range(side):
            m1 = g / levels
            for b in range(side):
                m2 = b / levels
                best = 0
                first = np.inf
                second = np.inf
                for j in range(k):
                    d0 = m0 - centers[j, 0]
                    d1 = m1 - centers[j, 1]
                    d2 = m2 - centers[j, 2]
                    d = d0 * d0 + d1 * d1 + d2 * d2
                    if d < first:
                        second = first
                        first = d
                        best = j
                    elif d < second:
                        second = d
                lut[(r * side + g) * side + b] = best if np.sqrt(second) - np.sqrt(first) > margin else -1


def nearest_lut(centers: NDArray[np.float32], bits: int = LUT_BITS) -> NDArray[np.int16]:
    """The nearest centre of each cell of a ``2**bits`` RGB grid where it is the same for the whole cell.

    Cell ``(r, g, b)`` holds the RGB points that round to those levels
    (``round(v * (L - 1))``, ``L = 2**bits``): a cube of side ``1 / (L - 1)``
    around its middle ``m``. When the nearest centre ``c1`` and the second
    ``c2`` of ``m`` satisfy ``|m - c2| - |m - c1| > diagonal`` (with a margin
    for rounding), ``c1`` is the nearest centre of every point of the cube (the
    triangle inequality), so the cell stores it; other cells store -1.

    Args:
        centers: ``(K, 3)`` float32 RGB centres, ``1 <= K <= 32767``.
        bits: grid levels per channel, as a power of two (1-8).

    Returns:
        ``(L, L, L)`` int16 centre indices or -1.

    Example:
        >>> lut = nearest_lut(np.array([[0, 0, 0], [1, 1, 1]], np.float32), bits=2)
        >>> int(lut[0, 0, 0]), int(lut[3, 3, 3]), int(lut[1, 2, 1])
        (0, 1, -1)
    """
    levels = (1 << bits) - 1
    lut = np.empty((levels + 1) ** 3, np.int16)
    margin = math.sqrt(3.0) / levels + 1e-4
    _nearest_lut(np.ascontiguousarray(centers, dtype=np.float64), levels, margin, lut)
    return lut.reshape(levels + 1, levels + 1, levels + 1)


def assign_and_sum(
    points: NDArray[np.float32],
    centers: NDArray[np.float32],
    labels: NDArray[np.int32],
    values: NDArray[np.float32],
    n_chunks: int,
    lut: NDArray[np.int16] | None = None,
    lut_summed: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """:func:`assign_nearest` (*parallel*) fused with per-cluster sums of ``values`` (N, 3), counts and squares.

    ``lut`` (optional, from :func:`nearest_lut` for these ``centers``; the
    ``points`` are then RGB in [0, 1]) skips the search for points in cells
    with one sure nearest centre; the labels are the same as without it.
    With ``lut_summed`` those points are labelled but left out of the sums.
    Returns ``(sums, counts, sq_sums)``: ``(K, 3)``, ``(K,)`` and ``(K,)``
    float64 (``sq_sums``: the sum of ``|values[i]|^2`` per cluster); the chunk
    partial sums are added in chunk order, so the result is the same on any
    number of threads.

    Example:
        >>> pts = np.array([[0, 0, 0], [1, 1, 1], [0.9, 1, 1]], np.float32)
        >>> labels = np.empty(3, np.int32)
        >>> sums, counts, sq_sums = assign_and_sum(pts, pts[:2].copy(), labels, pts, 2)
        >>> labels.tolist(), counts.tolist(), sq_sums.round(2).tolist()
        ([0, 1, 1], [1.0, 2.0], [0.0, 5.81])
    """
    partial = np.zeros((n_chunks, centers.shape[0], 5), np.float64)
    table = _NO_LUT if lut is None else lut
    run_chunks(
        lambda first, stop: _assign_and_sum_chunks(
            points,
            centers,
            labels,
            True,
            values,
            _NO_WEIGHTS,
            table,
            lut_summed,
            partial,
            _NO_DISTANCES,
            first,
            stop,
        ),
        n_chunks,
    )
    total = np.zeros(partial.shape[1:], np.float64)
    for chunk in range(n_chunks):  # in chunk order: the same sums on any number of threads
        total += partial[chunk]
    return total[:, :3].copy(), total[:, 3].copy(), total[:, 4].copy()


@numba.njit(fastmath=True, **_KERNEL)
def _kmeans_pp_seeds(
    points: np.ndarray,
    weights: np.ndarray,
    trials: int,
    uniforms: np.ndarray,
    centers: np.ndarray,
    cum: np.ndarray,
    closest: np.ndarray,
) -> None:  # pragma: no cover - numba
    n = points.shape[0]
    k = centers.shape[0]
    u = 0
    for c in range(k):
        # the cumulative weights the candidates are drawn by: the weights for the first
        # centre, then weight * squared distance to the nearest centre so far
        acc = 0.0
        if c == 0:
            for i in range(n):
                acc += weights[i]
                cum[i] = acc
        else:
            for i in range(n):
                acc += weights[i] * closest[i]
                cum[i] = acc
        best_pot = np.inf
        best_idx = 0
        for _t in range(1 if c == 0 else trials):
            if c == 0 or acc > 0.0:
                # np.searchsorted(cum, target): the first index whose value is >= target
                target = uniforms[u] * acc
                lo = 0
                hi = n
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if cum[mid] < target:
                        lo = mid + 1
                    else:
                        hi = mid
                idx = lo
            else:  # every point already sits on a centre
                idx = int(uniforms[u] * n)
            idx = idx if idx < n - 1 else n - 1
            u += 1
            if c == 0:
                best_idx = idx
                break
            pot = 0.0
            for i in range(n):
                d0 = points[i, 0] - points[idx, 0]
                d1 = points[i, 1] - points[idx, 1]
                d2 = points[i, 2] - points[idx, 2]
                d = d0 * d0 + d1 * d1 + d2 * d2
                pot += weights[i] * (closest[i] if closest[i] < d else d)
            if pot < best_pot:
                best_pot = pot
                best_idx = idx
        for f in range(3):
            centers[c, f] = points[best_idx, f]
        for i in range(n):
            d0 = points[i, 0] - centers[c, 0]
            d1 = points[i, 1] - centers[c, 1]
            d2 = points[i, 2] - centers[c, 2]
            d = d0 * d0 + d1 * d1 + d2 * d2
            if c == 0 or d < closest[i]:
                closest[i] = d


def kmeans_pp_seeds(
    points: NDArray[np.float32],
    weights: NDArray[np.float64],
    k: int,
    trials: int,
    uniforms: NDArray[np.float64],
) -> NDArray[np.float32]:
    """Greedy weighted k-means++ seeds: ``(k, 3)`` float32 rows of ``points`` (N, 3).

    The first seed is drawn by weight (``weights`` (N,) float64); each next one
    is the best of ``trials`` candidates drawn by ``weight * squared distance to
    the nearest seed`` (the one that lowers the weighted potential most).
    ``uniforms`` holds the ``1 + (k - 1) * trials`` float64 draws in [0, 1)
    this consumes, in order.

    Example:
        >>> pts = np.array([[0, 0, 0], [1, 1, 1]], np.float32)
        >>> kmeans_pp_seeds(pts, np.ones(2), 2, 1, np.array([0.1, 0.5])).tolist()
        [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """
    n = points.shape[0]
    centers = np.empty((k, 3), np.float32)
    _kmeans_pp_seeds(points, weights, trials, uniforms, centers, np.empty(n), np.zeros(n))
    return centers


@numba.njit(**_KERNEL)
def _dither_floyd_steinberg(
    image: np.ndarray, centers: np.ndarray, labels: np.ndarray, cur: np.ndarray, nxt: np.ndarray
) -> None:  # pragma: no cover
    h = image.shape[0]
    w = image.shape[1]
    for y in range(h):
        reverse = y % 2 == 1
        for t in range(w):
            x = w - 1 - t if reverse else t
            v0 = image[y, x, 0] + cur[x + 1, 0]
            v1 = image[y, x, 1] + cur[x + 1, 1]
            v2 = image[y, x, 2] + cur[x + 1, 2]
            best = nearest_center(v0, v1, v2, centers)[0]
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
        for x in range(w + 2):
            nxt[x, 0] = 0.0
            nxt[x, 1] = 0.0
            nxt[x, 2] = 0.0


def dither_floyd_steinberg(
    image: NDArray[np.float32], centers: NDArray[np.float32], labels: NDArray[np.int32]
) -> None:
    """Serpentine Floyd-Steinberg error diffusion of ``image`` (H, W, 3) against ``centers``.

    Even rows run left to right, odd rows right to left; each pixel (plus the
    error carried to it) takes its nearest centre, written to ``labels``
    (H, W), and passes the error on with weights 7/16 ahead, 3/16 behind-below,
    5/16 below and 1/16 ahead-below.

    Example:
        >>> black_white = np.array([[0, 0, 0], [1, 1, 1]], np.float32)
        >>> labels = np.empty((1, 2), np.int32)
        >>> dither_floyd_steinberg(np.full((1, 2, 3), 0.6, np.float32), black_white, labels)
        >>> labels.tolist()
        [[1, 0]]
    """
    width = image.shape[1]
    # the error carried into the current row and the next one (offset by 1)
    carried = np.zeros((2, width + 2, 3), np.float32)
    _dither_floyd_steinberg(image, centers, labels, carried[0], carried[1])


@numba.njit(**_KERNEL)
def _color_histogram(
    rgb_flat: np.ndarray, points: np.ndarray, bits: int, counts: np.ndarray, sums: np.ndarray
) -> None:  # pragma: no cover - numba
    levels = np.float32((1 << bits) - 1)
    for i in range(rgb_flat.shape[0]):
        r = int(rgb_flat[i, 0] * levels + np.float32(0.5))
        g = int(rgb_flat[i, 1] * levels + np.float32(0.5))
        b = int(rgb_flat[i, 2] * levels + np.float32(0.5))
        key = (r << (2 * bits)) | (g << bits) | b
        counts[key] += 1
        p0 = np.float64(points[i, 0])
        p1 = np.float64(points[i, 1])
        p2 = np.float64(points[i, 2])
        sums[key, 0] += p0
        sums[key, 1] += p1
        sums[key, 2] += p2
        sums[key, 3] += p0 * p0 + p1 * p1 + p2 * p2


def histogram_sums(
    rgb_flat: NDArray[np.float32], points: NDArray[np.float32], bits: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Pixel count and sums of ``points`` per cell of a ``2**bits`` RGB grid, every cell.

    ``rgb_flat`` (N, 3) RGB in [0, 1] picks each pixel's cell (rounded to the
    nearest level: cell ``(r << 2 * bits) | (g << bits) | b``); ``points``
    (N, 3) are the same pixels in the working space. Returns ``(counts, sums)``:
    ``(L**3,)`` int64 and ``(L**3, 4)`` float64, whose columns are the sums of
    the three coordinates and of their squared norm ``|p|^2``.

    Example:
        >>> rgb = np.array([[0, 0, 0], [1, 1, 1], [0.25, 0, 0]], np.float32)
        >>> counts, sums = histogram_sums(rgb, rgb, 1)
        >>> counts.tolist(), sums[7].tolist()
        ([2, 0, 0, 0, 0, 0, 0, 1], [1.0, 1.0, 1.0, 3.0])
    """
    n_cells = 1 << (3 * bits)
    counts = np.zeros(n_cells, np.int64)
    sums = np.zeros((n_cells, 4), np.float64)
    _color_histogram(rgb_flat, points, bits, counts, sums)
    return counts, sums


def color_histogram(
    rgb_flat: NDArray[np.float32], points: NDArray[np.float32], bits: int
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Mean of ``points`` (N, 3) and pixel count per occupied cell of a ``2**bits`` RGB grid.

    ``rgb_flat`` (N, 3) RGB in [0, 1] picks each pixel's cell (rounded to the
    nearest level); ``points`` are the same pixels in the working space.
    Returns ``(means, counts)``: ``(M, 3)`` float32 and ``(M,)`` float64 for
    the ``M`` occupied cells, in cell-index order (red major).

    Example:
        >>> rgb = np.array([[0, 0, 0], [1, 1, 1], [0.25, 0, 0]], np.float32)
        >>> means, counts = color_histogram(rgb, rgb, 1)
        >>> means[:, 0].tolist(), counts.tolist()
        ([0.125, 1.0], [2.0, 1.0])
    """
    counts, sums = histogram_sums(rgb_flat, points, bits)
    occupied = np.flatnonzero(counts)
    cell_counts = counts[occupied].astype(np.float64)
    means = (sums[occupied, :3] / cell_counts[:, None]).astype(np.float32)
    return means, cell_counts


# ---------------------------------------------------------------- SLIC superpixels


@numba.njit(nogil=True, fastmath=True, **_KERNEL)
def _slic_chunks(
    lab: np.ndarray,
    centers: np.ndarray,
    ny: int,
    nx: int,
    wspace: np.float32,
    labels: np.ndarray,
    partial: np.ndarray,
    col_start: np.ndarray,
    cand_f: np.ndarray,
    cand_id: np.ndarray,
    first: int,
    stop: int,
) -> None:  # pragma: no cover - numba
    """Row chunks ``[first, stop)`` of :func:`slic_step`: labels, and chunk ``c``'s sums into ``partial[c]``.

    ``col_start`` (n_chunks, nx + 1), ``cand_f`` (n_chunks, 5, 9) and
    ``cand_id`` (n_chunks, 9) are each chunk's scratch.
    """
    height, width = labels.shape
    n_chunks = partial.shape[0]
    cell_h = height / ny
    cell_w = width / nx
    rows_per = (height + n_chunks - 1) // n_chunks
    for chunk in range(first, stop):
        # the first column of each grid cell, consistent with gj = floor(x / cell_w)
        cols = col_start[chunk]
        for j in range(nx + 1):
            start = int(np.ceil(j * cell_w))
            cols[j] = start if start < width else width
        cols[nx] = width
        y0 = chunk * rows_per
        y1 = y0 + rows_per
        y1 = y1 if y1 < height else height
        cl = cand_f[chunk, 0]
        ca = cand_f[chunk, 1]
        cb = cand_f[chunk, 2]
        cx = cand_f[chunk, 3]
        cyw = cand_f[chunk, 4]
        cid = cand_id[chunk]
        acc = partial[chunk]
        for y in range(y0, y1):
            gi = int(y / cell_h)
            gi = gi if gi < ny - 1 else ny - 1
            i0 = gi - 1 if gi - 1 > 0 else 0
            i1 = gi + 1 if gi + 1 < ny - 1 else ny - 1
            fy = np.float32(y)
            for gj in range(nx):
                j0 = gj - 1 if gj - 1 > 0 else 0
                j1 = gj + 1 if gj + 1 < nx - 1 else nx - 1
                m = 0
                for i in range(i0, i1 + 1):
                    for j in range(j0, j1 + 1):
                        c = i * nx + j
                        cid[m] = c
                        cl[m] = centers[c, 0]
                        ca[m] = centers[c, 1]
                        cb[m] = centers[c, 2]
                        dy = fy - centers[c, 3]
                        cyw[m] = wspace * dy * dy
                        cx[m] = centers[c, 4]
                        m += 1
                for x in range(cols[gj], cols[gj + 1]):
                    p0 = lab[y, x, 0]
                    p1 = lab[y, x, 1]
                    p2 = lab[y, x, 2]
                    fx = np.float32(x)
                    best = 0
                    best_d = np.float32(np.inf)
                    for t in range(m):
                        d0 = p0 - cl[t]
                        d1 = p1 - ca[t]
                        d2 = p2 - cb[t]
                        dx = fx - cx[t]
                        d = d0 * d0 + d1 * d1 + d2 * d2 + cyw[t] + wspace * dx * dx
                        if d < best_d:
                            best_d = d
                            best = t
                    c = cid[best]
                    labels[y, x] = c
                    acc[c, 0] += p0
                    acc[c, 1] += p1
                    acc[c, 2] += p2
                    acc[c, 3] += y
                    acc[c, 4] += x
                    acc[c, 5] += 1.0


def slic_step(
    lab: NDArray[np.float32],
    centers: NDArray[np.float32],
    ny: int,
    nx: int,
    wspace: np.float32,
    labels: NDArray[np.int32],
    n_chunks: int,
) -> NDArray[np.float32]:
    """One SLIC iteration (*parallel*): label every pixel, return the updated centres.

    ``lab`` is the ``(H, W, 3)`` float32 CIELAB image and ``centers`` the
    ``(K, 5)`` float32 rows ``L, a, b, y, x`` of a ``ny x nx`` seed grid
    (``K = ny * nx``, row major). Each pixel takes the best of the (up to) 3x3
    centres around its grid cell under ``d_lab^2 + wspace * d_xy^2``, written
    to ``labels`` (H, W) int32; the new centres are the means of their pixels
    (a centre with no pixels stays). Pixel-centric (as in gSLICr), so rows run
    in parallel; each of ``n_chunks`` row chunks accumulates its own sums,
    added in chunk order at the end.

    Example:
        >>> lab = np.zeros((4, 4, 3), np.float32)
        >>> centers = np.array([[0, 0, 0, 1.5, 0], [0, 0, 0, 1.5, 3]], np.float32)
        >>> labels = np.empty((4, 4), np.int32)
        >>> new = slic_step(lab, centers, 1, 2, np.float32(1.0), labels, 2)
        >>> labels[0].tolist(), new[:, 4].tolist()
        ([0, 0, 1, 1], [0.5, 2.5])
    """
    k = centers.shape[0]
    partial = np.zeros((n_chunks, k, 6), np.float64)
    col_start = np.empty((n_chunks, nx + 1), np.int64)
    cand_f = np.empty((n_chunks, 5, 9), np.float32)  # per chunk: L, a, b, x, wspace * dy^2 of 9 centres
    cand_id = np.empty((n_chunks, 9), np.int64)
    run_chunks(
        lambda first, stop: _slic_chunks(
            lab, centers, ny, nx, wspace, labels, partial, col_start, cand_f, cand_id, first, stop
        ),
        n_chunks,
    )
    # the new centres: the means of their pixels, the chunk sums added in chunk order
    total = np.zeros(partial.shape[1:], np.float64)
    for chunk in range(n_chunks):
        total += partial[chunk]
    new = centers.copy()
    found = total[:, 5] > 0
    new[found] = (total[found, :5] / total[found, 5:]).astype(np.float32)
    return new


@numba.njit(nogil=True, fastmath=True, **_KERNEL)
def _slic_refine_chunks(
    lab: np.ndarray,
    coarse: np.ndarray,
    centers: np.ndarray,
    wspace: np.float32,
    affine: np.ndarray,
    labels: np.ndarray,
    cand: np.ndarray,
    first: int,
    stop: int,
) -> None:  # pragma: no cover - numba
    """Chunks ``[first, stop)`` of the coarse rows of :func:`slic_refine`; ``cand`` (n_chunks, 9)
    is each chunk's scratch. Coarse pixel ``(i, j)`` covers rows ``2i, 2i + 1`` and columns
    ``2j, 2j + 1`` (the last coarse row and column also cover an odd last row or column)."""
    height, width = labels.shape
    ch, cw = coarse.shape
    n_chunks = cand.shape[0]
    rows_per = (ch + n_chunks - 1) // n_chunks
    for chunk in range(first, stop):
        ids = cand[chunk]
        r0 = chunk * rows_per
        r1 = r0 + rows_per
        r1 = r1 if r1 < ch else ch
        for cy in range(r0, r1):
            i0 = cy - 1 if cy > 0 else 0
            i1 = cy + 1 if cy + 1 < ch else ch - 1
            y0 = 2 * cy
            y1 = height if cy == ch - 1 else y0 + 2
            for cx in range(cw):
                j0 = cx - 1 if cx > 0 else 0
                j1 = cx + 1 if cx + 1 < cw else cw - 1
                x0 = 2 * cx
                x1 = width if cx == cw - 1 else x0 + 2
                here = coarse[cy, cx]
                m = 0
                for i in range(i0, i1 + 1):
                    for j in range(j0, j1 + 1):
                        c = coarse[i, j]
                        if c == here:
                            continue
                        seen = False
                        for t in range(m):
                            if ids[t] == c:
                                seen = True
                        if not seen:
                            ids[m] = c
                            m += 1
                if m == 0:  # the whole neighbourhood has one label
                    for y in range(y0, y1):
                        for x in range(x0, x1):
                            labels[y, x] = here
                    continue
                ids[m] = here
                m += 1
                for y in range(y0, y1):
                    fy = np.float32(y)
                    for x in range(x0, x1):
                        p0 = np.float32(lab[y, x, 0]) * affine[0] + affine[3]
                        p1 = np.float32(lab[y, x, 1]) * affine[1] + affine[4]
                        p2 = np.float32(lab[y, x, 2]) * affine[2] + affine[5]
                        fx = np.float32(x)
                        best = here
                        best_d = np.float32(np.inf)
                        for t in range(m):
                            c = ids[t]
                            d0 = p0 - centers[c, 0]
                            d1 = p1 - centers[c, 1]
                            d2 = p2 - centers[c, 2]
                            dy = fy - centers[c, 3]
                            dx = fx - centers[c, 4]
                            d = d0 * d0 + d1 * d1 + d2 * d2 + wspace * (dy * dy + dx * dx)
                            if d < best_d or (d == best_d and c < best):
                                best_d = d
                                best = c
                        labels[y, x] = best


def lab_affine(lab: NDArray[Any]) -> NDArray[np.float32]:
    """``(6,)`` float32 ``scale, offset`` taking ``lab``'s values to CIELAB (L in [0, 100]).

    OpenCV's 8-bit Lab stores ``L * 255 / 100``, ``a + 128`` and ``b + 128``;
    float32 Lab is already CIELAB.

    Example:
        >>> [round(float(v), 3) for v in lab_affine(np.zeros((1, 1, 3), np.uint8))]
        [0.392, 1.0, 1.0, 0.0, -128.0, -128.0]
    """
    if lab.dtype == np.uint8:
        return np.array([100.0 / 255.0, 1.0, 1.0, 0.0, -128.0, -128.0], np.float32)
    return np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0], np.float32)


def slic_refine(
    lab: NDArray[Any],
    coarse: NDArray[np.int32],
    centers: NDArray[np.float32],
    wspace: np.float32,
    labels: NDArray[np.int32],
    n_chunks: int,
) -> None:
    """Labels at twice the resolution of ``coarse``, deciding only near its borders (*parallel*).

    ``coarse`` (h, w) int32 are the SLIC labels of the image at half size
    (``h = H // 2``, ``w = W // 2``; pixel ``(y, x)`` lies in coarse pixel
    ``(y // 2, x // 2)``, clipped). A pixel whose 3x3 coarse neighbourhood has
    one label keeps it; any other pixel takes the best of the labels in that
    neighbourhood under ``d_lab^2 + wspace * d_xy^2`` against ``centers`` (K, 5)
    float32 rows ``L, a, b, y, x`` in this resolution's coordinates (ties: the
    lower label). ``lab`` is the ``(H, W, 3)`` image, float32 CIELAB or
    OpenCV's uint8 Lab (see :func:`lab_affine`); ``labels`` (H, W) int32
    receives the result. Coarse rows are split into ``n_chunks`` chunks.

    Example:
        >>> lab = np.zeros((4, 4, 3), np.float32); lab[:, 1:] = 50.0
        >>> centers = np.array([[0, 0, 0, 1.5, 0.5], [50, 0, 0, 1.5, 2.5]], np.float32)
        >>> labels = np.empty((4, 4), np.int32)
        >>> slic_refine(lab, np.array([[0, 1], [0, 1]], np.int32), centers, np.float32(0.01), labels, 2)
        >>> labels[0].tolist()
        [0, 1, 1, 1]
    """
    cand = np.empty((n_chunks, 9), np.int32)
    affine = lab_affine(lab)
    run_chunks(
        lambda first, stop: _slic_refine_chunks(
            lab, coarse, centers, wspace, affine, labels, cand, first, stop
        ),
        n_chunks,
    )


@numba.njit(inline="always", **_KERNEL)
def _find(parent: np.ndarray, r: int) -> int:  # pragma: no cover - numba
    root = r
    while parent[root] != root:
        root = parent[root]
    while parent[r] != root:  # path compression
        nxt = parent[r]
        parent[r] = root
        r = nxt
    return root


@numba.njit(inline="always", **_KERNEL)
def _first_run_ending_after(run_x1: np.ndarray, lo: int, hi: int, x: int) -> int:  # pragma: no cover
    """The first run in ``[lo, hi)`` (sorted by x) whose end is after column ``x``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if run_x1[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(**_KERNEL)
def _connect_regions(
    labels: np.ndarray,
    lab: np.ndarray,
    affine: np.ndarray,
    centers: np.ndarray,
    min_size: int,
    run_y: np.ndarray,
    run_x0: np.ndarray,
    run_x1: np.ndarray,
    row_first: np.ndarray,
    parent: np.ndarray,
    comp: np.ndarray,
    sizes: np.ndarray,
    values: np.ndarray,
    sums: np.ndarray,
    target: np.ndarray,
    best_d: np.ndarray,
    core: np.ndarray,
    final: np.ndarray,
    out: np.ndarray,
) -> int:  # pragma: no cover - numba
    height, width = labels.shape
    # 1. runs of equal labels, row by row
    r = 0
    for y in range(height):
        row_first[y] = r
        x0 = 0
        for x in range(1, width + 1):
            if x == width or labels[y, x] != labels[y, x0]:
                run_y[r] = y
                run_x0[r] = x0
                run_x1[r] = x
                parent[r] = r
                r += 1
                x0 = x
    n_runs = r
    row_first[height] = n_runs
    # 2. union of 4-connected runs of equal label in consecutive rows
    for y in range(1, height):
        a = row_first[y - 1]
        a_end = row_first[y]
        for b in range(row_first[y], row_first[y + 1]):
            value = labels[y, run_x0[b]]
            while a < a_end and run_x1[a] <= run_x0[b]:
                a += 1
            t = a
            while t < a_end and run_x0[t] < run_x1[b]:
                if labels[y - 1, run_x0[t]] == value:
                    ra = _find(parent, t)
                    rb = _find(parent, b)
                    if ra != rb:
                        if ra < rb:
                            parent[rb] = ra
                        else:
                            parent[ra] = rb
                t += 1
            if t > a:
                a = t - 1  # the last overlapping run may overlap the next run too
    # 3. components numbered by their first pixel in raster order (their first run)
    n = 0
    for r in range(n_runs):
        root = _find(parent, r)
        if root == r:
            comp[r] = n
            sizes[n] = 0
            values[n] = labels[run_y[r], run_x0[r]]
            target[n] = -1
            best_d[n] = np.inf
            n += 1
        else:
            comp[r] = comp[root]
        sizes[comp[r]] += run_x1[r] - run_x0[r]
    # 4. the largest component of each cluster is its core and is never merged away
    for c in range(n):
        v = values[c]
        if core[v] < 0 or sizes[c] > sizes[core[v]]:
            core[v] = c
    # 5. mean colour of each fragment (small, not a core), then its earlier neighbour of
    # closest cluster colour
    for r in range(n_runs):
        c = comp[r]
        if sizes[c] >= min_size or core[values[c]] == c:
            continue
        y = run_y[r]
        for x in range(run_x0[r], run_x1[r]):
            sums[c, 0] += lab[y, x, 0] * affine[0] + affine[3]
            sums[c, 1] += lab[y, x, 1] * affine[1] + affine[4]
            sums[c, 2] += lab[y, x, 2] * affine[2] + affine[5]
    for r in range(n_runs):
        c = comp[r]
        if sizes[c] >= min_size or core[values[c]] == c:
            continue
        y = run_y[r]
        m0 = sums[c, 0] / sizes[c]
        m1 = sums[c, 1] / sizes[c]
        m2 = sums[c, 2] / sizes[c]
        for side in range(4):
            lo = 0
            hi = 0
            if side == 0:  # the run before, same row
                if run_x0[r] == 0:
                    continue
                lo = r - 1
                hi = r
            elif side == 1:  # the run after, same row
                if run_x1[r] == width:
                    continue
                lo = r + 1
                hi = r + 2
            else:  # overlapping runs in the row above / below
                yy = y - 1 if side == 2 else y + 1
                if yy < 0 or yy >= height:
                    continue
                lo = _first_run_ending_after(run_x1, row_first[yy], row_first[yy + 1], run_x0[r])
                hi = row_first[yy + 1]
            for t in range(lo, hi):
                if side >= 2 and run_x0[t] >= run_x1[r]:
                    break
                j = comp[t]
                if j >= c:
                    continue
                v = values[j]
                d0 = m0 - centers[v, 0]
                d1 = m1 - centers[v, 1]
                d2 = m2 - centers[v, 2]
                d = d0 * d0 + d1 * d1 + d2 * d2
                if d < best_d[c] or (d == best_d[c] and j < target[c]):
                    best_d[c] = d
                    target[c] = j
    # 6. final labels: kept components numbered in raster order, fragments take their target's
    count = 0
    for c in range(n):
        if target[c] < 0 or sizes[c] >= min_size or core[values[c]] == c:
            final[c] = count
            count += 1
        else:
            final[c] = final[target[c]]
    for r in range(n_runs):
        value = final[comp[r]]
        y = run_y[r]
        for x in range(run_x0[r], run_x1[r]):
            out[y, x] = value
    return count


def connect_regions(
    labels: NDArray[np.int32], lab: NDArray[Any], centers: NDArray[np.float32], min_size: int
) -> tuple[NDArray[np.int32], int]:
    """Split SLIC clusters into 4-connected regions; merge stray fragments.

    ``labels`` (H, W) int32 are cluster indices into ``centers`` (K, >= 3)
    float32, whose first three columns are CIELAB colours, as ``lab`` (H, W, 3)
    float32 or OpenCV's uint8 Lab (see :func:`lab_affine`). The connected components are found on runs of equal
    labels (a union-find over the runs of consecutive rows) and numbered by
    their first pixel in raster order. The largest component of each cluster
    is always kept, as is any component of at least ``min_size`` pixels; other
    fragments merge into the earlier neighbouring component whose cluster
    colour is closest to the fragment's mean colour (the pixels above and left
    of a fragment's first pixel come earlier, so there is always one). Returns
    ``(H, W)`` int32 labels consecutive from 0 in raster order and their count.

    Example:
        >>> labels = np.array([[0, 0, 1, 0]], np.int32)
        >>> out, count = connect_regions(labels, np.zeros((1, 4, 3), np.float32), np.zeros((2, 3), np.float32), 0)
        >>> out.tolist(), count
        ([[0, 0, 1, 2]], 3)
    """
    height, width = labels.shape
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    n_runs = height + int(np.count_nonzero(labels[:, 1:] != labels[:, :-1]))
    out = np.empty((height, width), np.int32)
    count = _connect_regions(
        labels,
        np.ascontiguousarray(lab) if lab.dtype == np.uint8 else np.ascontiguousarray(lab, dtype=np.float32),
        lab_affine(lab),
        np.ascontiguousarray(centers, dtype=np.float32),
        int(min_size),
        np.empty(n_runs, np.int32),  # run row
        np.empty(n_runs, np.int32),  # run first column
        np.empty(n_runs, np.int32),  # run end column (exclusive)
        np.empty(height + 1, np.int64),  # first run of each row
        np.empty(n_runs, np.int64),  # union-find parent
        np.empty(n_runs, np.int64),  # component of each run
        np.empty(n_runs, np.int64),  # component sizes
        np.empty(n_runs, np.int64),  # component cluster
        np.zeros((n_runs, 3), np.float64),  # colour sums of fragments
        np.empty(n_runs, np.int64),  # merge target of each fragment
        np.empty(n_runs, np.float64),  # its colour distance
        np.full(centers.shape[0], -1, np.int64),  # each cluster's largest component
        np.empty(n_runs, np.int64),  # final label of each component
        out,
    )
    return out, int(count)
