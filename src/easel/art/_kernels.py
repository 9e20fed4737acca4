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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from easel._parallel import run_chunks

__all__ = [
    "assign_and_sum",
    "assign_nearest",
    "color_histogram",
    "connect_regions",
    "dither_floyd_steinberg",
    "kmeans_pp_seeds",
    "lloyd_step",
    "nearest_center",
    "nearest_sq_distance",
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
    partial: np.ndarray,
    sq_dists: np.ndarray,
    first: int,
    stop: int,
) -> None:  # pragma: no cover - numba
    """Chunks ``[first, stop)`` of the points: point ``i`` joins its nearest centre (``assign``:
    written to ``labels[i]``, the squared distance to ``sq_dists[i]`` unless it is empty) or
    cluster ``labels[i]``, and chunk ``c`` adds ``(w_i * values[i], w_i)`` to ``partial[c, label]``
    (``w_i = weights[i]``, or 1 when ``weights`` is empty).

    One loop serves every K-means step, so that a first run compiles it once. With integer
    weights (pixel counts) and float32 values every product is exact, so the fused multiply-add
    sums the same as a multiply and an add.
    """
    n = points.shape[0]
    n_chunks = partial.shape[0]
    per = (n + n_chunks - 1) // n_chunks
    weighted = weights.shape[0] > 0
    keep_dists = sq_dists.shape[0] > 0
    for chunk in range(first, stop):
        start = chunk * per
        end = start + per
        end = end if end < n else n
        for i in range(start, end):
            if assign:
                best, best_d = nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)
                labels[i] = best
                if keep_dists:
                    sq_dists[i] = best_d
            else:
                best = labels[i]
            w = weights[i] if weighted else 1.0
            partial[chunk, best, 0] += w * values[i, 0]
            partial[chunk, best, 1] += w * values[i, 1]
            partial[chunk, best, 2] += w * values[i, 2]
            partial[chunk, best, 3] += w


_NO_WEIGHTS = np.empty(0, np.float64)
_NO_DISTANCES = np.empty(0, np.float32)
_NO_CENTERS = np.empty((0, 3), np.float32)


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
    partial = np.zeros((1, k, 4), np.float64)
    _assign_and_sum_chunks(points, centers, labels, assign, points, weights, partial, sq_dists, 0, 1)
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


def assign_and_sum(
    points: NDArray[np.float32],
    centers: NDArray[np.float32],
    labels: NDArray[np.int32],
    values: NDArray[np.float32],
    n_chunks: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`assign_nearest` (*parallel*) fused with per-cluster sums of ``values`` (N, 3) and counts.

    Returns ``(sums, counts)``: ``(K, 3)`` and ``(K,)`` float64; the chunk
    partial sums are added in chunk order, so the result is the same on any
    number of threads.

    Example:
        >>> pts = np.array([[0, 0, 0], [1, 1, 1], [0.9, 1, 1]], np.float32)
        >>> labels = np.empty(3, np.int32)
        >>> sums, counts = assign_and_sum(pts, pts[:2].copy(), labels, pts, 2)
        >>> labels.tolist(), counts.tolist()
        ([0, 1, 1], [1.0, 2.0])
    """
    partial = np.zeros((n_chunks, centers.shape[0], 4), np.float64)
    run_chunks(
        lambda first, stop: _assign_and_sum_chunks(
            points, centers, labels, True, values, _NO_WEIGHTS, partial, _NO_DISTANCES, first, stop
        ),
        n_chunks,
    )
    total = np.zeros(partial.shape[1:], np.float64)
    for chunk in range(n_chunks):  # in chunk order: the same sums on any number of threads
        total += partial[chunk]
    return total[:, :3].copy(), total[:, 3].copy()


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
        sums[key, 0] += points[i, 0]
        sums[key, 1] += points[i, 1]
        sums[key, 2] += points[i, 2]


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
    n_cells = 1 << (3 * bits)
    counts = np.zeros(n_cells, np.int64)
    sums = np.zeros((n_cells, 3), np.float64)
    _color_histogram(rgb_flat, points, bits, counts, sums)
    occupied = np.flatnonzero(counts)
    cell_counts = counts[occupied].astype(np.float64)
    means = (sums[occupied] / cell_counts[:, None]).astype(np.float32)
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


@numba.njit(**_KERNEL)
def _connect_regions(
    flat: np.ndarray,
    width: int,
    colors: np.ndarray,
    centers: np.ndarray,
    min_size: int,
    comp: np.ndarray,
    queue: np.ndarray,
    cand: np.ndarray,
    sizes: np.ndarray,
    values: np.ndarray,
    target: np.ndarray,
    core: np.ndarray,
    final: np.ndarray,
) -> int:  # pragma: no cover - numba
    npix = flat.shape[0]
    height = npix // width
    cap = cand.shape[0]
    n = 0
    for start in range(npix):
        if comp[start] >= 0:
            continue
        value = flat[start]
        comp[start] = n
        queue[0] = start
        head = 0
        tail = 1
        n_cand = 0
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        while head < tail:
            p = queue[head]
            head += 1
            y = p // width
            x = p - y * width
            s0 += colors[p, 0]
            s1 += colors[p, 1]
            s2 += colors[p, 2]
            for t in range(4):
                if t == 0:
                    if x == 0:
                        continue
                    q = p - 1
                elif t == 1:
                    if x + 1 >= width:
                        continue
                    q = p + 1
                elif t == 2:
                    if y == 0:
                        continue
                    q = p - width
                else:
                    if y + 1 >= height:
                        continue
                    q = p + width
                if flat[q] == value:
                    if comp[q] < 0:
                        comp[q] = n
                        queue[tail] = q
                        tail += 1
                elif comp[q] >= 0 and tail <= min_size and n_cand < cap:
                    cand[n_cand] = q
                    n_cand += 1
        sizes[n] = tail
        values[n] = value
        if tail < min_size and n_cand > 0:
            m0 = s0 / tail
            m1 = s1 / tail
            m2 = s2 / tail
            best_d = np.inf
            for i in range(n_cand):
                q = cand[i]
                c = flat[q]
                d0 = m0 - centers[c, 0]
                d1 = m1 - centers[c, 1]
                d2 = m2 - centers[c, 2]
                d = d0 * d0 + d1 * d1 + d2 * d2
                if d < best_d:
                    best_d = d
                    target[n] = comp[q]
        n += 1
    # the largest component of each cluster is its core and is never merged away
    for c in range(n):
        v = values[c]
        if core[v] < 0 or sizes[c] > sizes[core[v]]:
            core[v] = c
    count = 0
    for c in range(n):
        if target[c] < 0 or core[values[c]] == c:
            final[c] = count
            count += 1
        else:
            final[c] = final[target[c]]
    for i in range(npix):
        comp[i] = final[comp[i]]
    return count


def connect_regions(
    labels: NDArray[np.int32], lab: NDArray[np.float32], centers: NDArray[np.float32], min_size: int
) -> tuple[NDArray[np.int32], int]:
    """Split SLIC clusters into 4-connected regions; merge stray fragments.

    ``labels`` (H, W) int32 are cluster indices into ``centers`` (K, >= 3)
    float32, whose first three columns are colours in the space of ``lab``
    (H, W, 3) float32. A raster-order flood fill numbers the connected
    components. The largest component of each cluster is always kept, as is
    any component of at least ``min_size`` pixels; other fragments merge into
    the earlier neighbouring component whose cluster colour is closest to the
    fragment's mean colour (the pixels above and left of a fragment's first
    pixel come earlier, so there is always one). Returns ``(H, W)`` int32
    labels consecutive from 0 in raster order and their count.

    Example:
        >>> labels = np.array([[0, 0, 1, 0]], np.int32)
        >>> out, count = connect_regions(labels, np.zeros((1, 4, 3), np.float32), np.zeros((2, 3), np.float32), 0)
        >>> out.tolist(), count
        ([[0, 0, 1, 2]], 3)
    """
    height, width = labels.shape
    npix = height * width
    comp = np.full(npix, -1, np.int32)
    count = _connect_regions(
        labels.reshape(npix),
        width,
        lab.reshape(npix, 3),
        centers,
        min_size,
        comp,
        np.empty(npix, np.int32),  # flood-fill queue
        np.empty(4 * max(min_size, 1) + 4, np.int32),  # neighbour pixels in earlier components
        np.empty(npix, np.int32),  # component sizes
        np.empty(npix, np.int32),  # component cluster
        np.full(npix, -1, np.int32),  # best earlier component to merge into
        np.full(centers.shape[0], -1, np.int32),  # each cluster's largest component
        np.empty(npix, np.int32),  # final label of each component
    )
    return comp.reshape(height, width), int(count)
