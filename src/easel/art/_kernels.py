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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np

__all__ = [
    "assign_and_sum",
    "assign_nearest",
    "color_histogram",
    "connect_regions",
    "dither_floyd_steinberg",
    "kmeans_pp_seeds",
    "nearest_center",
    "nearest_sq_distance",
    "slic_step",
    "threads_for",
    "weighted_sums",
]

SMALL_WORK = 1 << 18
"""Pixel counts below this run the kernels on one thread."""


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


@numba.njit(cache=True)
def weighted_sums(
    points: np.ndarray, weights: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Per-cluster weighted sums of ``points`` (N, 3) and of ``weights`` (N,) under ``labels`` (N,).

    Returns ``(sums, weight_totals)``: ``(k, 3)`` and ``(k,)`` float64.
    """
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


@numba.njit(cache=True, fastmath=True)
def assign_nearest(points: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> None:  # pragma: no cover
    """Set ``labels[i]`` (N,) int32 to the index of the centre nearest to ``points[i]``, serially."""
    for i in range(points.shape[0]):
        labels[i] = nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)[0]


@numba.njit(cache=True, fastmath=True)
def nearest_sq_distance(points: np.ndarray, centers: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """Set ``out[i]`` (N,) to the squared distance from ``points[i]`` to its nearest centre."""
    for i in range(points.shape[0]):
        out[i] = nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)[1]


@numba.njit(cache=True, fastmath=True)
def kmeans_pp_seeds(
    points: np.ndarray, weights: np.ndarray, k: int, trials: int, uniforms: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    """Greedy weighted k-means++ seeds: ``(k, 3)`` float32 rows of ``points``.

    The first seed is drawn by weight; each next one is the best of ``trials``
    candidates drawn by ``weight * squared distance to the nearest seed`` (the
    one that lowers the weighted potential most). ``uniforms`` holds the
    ``1 + (k - 1) * trials`` draws in [0, 1) this consumes, in order.
    """
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
def assign_and_sum(
    points: np.ndarray, centers: np.ndarray, labels: np.ndarray, values: np.ndarray, n_chunks: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """:func:`assign_nearest` (*parallel*) fused with per-cluster sums of ``values`` (N, 3) and counts.

    Returns ``(sums, counts)``: ``(K, 3)`` and ``(K,)`` float64; the chunk
    partial sums are added in chunk order, so the result is the same on any
    number of threads.
    """
    n = points.shape[0]
    k = centers.shape[0]
    partial = np.zeros((n_chunks, k, 4), np.float64)
    per = (n + n_chunks - 1) // n_chunks
    for chunk in numba.prange(n_chunks):
        acc = partial[chunk]
        for i in range(chunk * per, min(n, (chunk + 1) * per)):
            best = nearest_center(points[i, 0], points[i, 1], points[i, 2], centers)[0]
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
def dither_floyd_steinberg(
    image: np.ndarray, centers: np.ndarray, labels: np.ndarray
) -> None:  # pragma: no cover
    """Serpentine Floyd-Steinberg error diffusion of ``image`` (H, W, 3) against ``centers``.

    Even rows run left to right, odd rows right to left; each pixel (plus the
    error carried to it) takes its nearest centre, written to ``labels``
    (H, W), and passes the error on with weights 7/16 ahead, 3/16 behind-below,
    5/16 below and 1/16 ahead-below.
    """
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
        nxt[:, :] = 0.0


@numba.njit(cache=True)
def color_histogram(
    rgb_flat: np.ndarray, points: np.ndarray, bits: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Mean of ``points`` (N, 3) and pixel count per occupied cell of a ``2**bits`` RGB grid.

    ``rgb_flat`` (N, 3) RGB in [0, 1] picks each pixel's cell (rounded to the
    nearest level); ``points`` are the same pixels in the working space.
    Returns ``(means, counts)``: ``(M, 3)`` float32 and ``(M,)`` float64 for
    the ``M`` occupied cells, in cell-index order (red major).
    """
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


# ---------------------------------------------------------------- SLIC superpixels


@numba.njit(cache=True, parallel=True, fastmath=True)
def slic_step(
    lab: np.ndarray,
    centers: np.ndarray,
    ny: int,
    nx: int,
    wspace: np.float32,
    labels: np.ndarray,
    n_chunks: int,
) -> np.ndarray:  # pragma: no cover - numba
    """One SLIC iteration (*parallel*): label every pixel, return the updated centres.

    ``lab`` is the ``(H, W, 3)`` float32 CIELAB image and ``centers`` the
    ``(K, 5)`` float32 rows ``L, a, b, y, x`` of a ``ny x nx`` seed grid
    (``K = ny * nx``, row major). Each pixel takes the best of the (up to) 3x3
    centres around its grid cell under ``d_lab^2 + wspace * d_xy^2``, written
    to ``labels`` (H, W) int32; the new centres are the means of their pixels
    (a centre with no pixels stays). Pixel-centric (as in gSLICr), so rows run
    in parallel; each of ``n_chunks`` row chunks accumulates its own sums,
    added in chunk order at the end.
    """
    height, width = labels.shape
    k = centers.shape[0]
    cell_h = height / ny
    cell_w = width / nx
    partial = np.zeros((n_chunks, k, 6), np.float64)
    rows_per = (height + n_chunks - 1) // n_chunks
    # column range of each grid cell, consistent with gj = floor(x / cell_w)
    col_start = np.empty(nx + 1, np.int64)
    for j in range(nx + 1):
        col_start[j] = min(width, int(np.ceil(j * cell_w)))
    col_start[nx] = width
    for chunk in numba.prange(n_chunks):
        y0 = chunk * rows_per
        y1 = min(height, y0 + rows_per)
        cl = np.empty(9, np.float32)
        ca = np.empty(9, np.float32)
        cb = np.empty(9, np.float32)
        cx = np.empty(9, np.float32)
        cyw = np.empty(9, np.float32)
        cid = np.empty(9, np.int64)
        acc = partial[chunk]
        for y in range(y0, y1):
            gi = min(int(y / cell_h), ny - 1)
            i0 = max(gi - 1, 0)
            i1 = min(gi + 1, ny - 1)
            fy = np.float32(y)
            for gj in range(nx):
                j0 = max(gj - 1, 0)
                j1 = min(gj + 1, nx - 1)
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
                for x in range(col_start[gj], col_start[gj + 1]):
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
    new = centers.copy()
    for c in range(k):
        total = 0.0
        for chunk in range(n_chunks):
            total += partial[chunk, c, 5]
        if total > 0:
            for f in range(5):
                acc = 0.0
                for chunk in range(n_chunks):
                    acc += partial[chunk, c, f]
                new[c, f] = acc / total
    return new


@numba.njit(cache=True)
def connect_regions(
    labels: np.ndarray, lab: np.ndarray, centers: np.ndarray, min_size: int
) -> tuple[np.ndarray, int]:  # pragma: no cover - numba
    """Split SLIC clusters into 4-connected regions; merge stray fragments.

    A raster-order flood fill numbers the connected components. The largest
    component of each cluster is always kept, as is any component of at least
    ``min_size`` pixels; other fragments merge into the earlier neighbouring
    component whose cluster colour is closest to the fragment's mean colour
    (the pixels above and left of a fragment's first pixel come earlier, so
    there is always one). Returns labels consecutive from 0 in raster order and
    their count.
    """
    height, width = labels.shape
    npix = height * width
    flat = labels.ravel()
    colors = lab.reshape(npix, 3)
    comp = np.full(npix, -1, np.int32)
    queue = np.empty(npix, np.int32)
    cap = 4 * max(min_size, 1) + 4
    cand = np.empty(cap, np.int32)  # neighbour pixels in earlier components
    sizes = np.empty(npix, np.int32)
    values = np.empty(npix, np.int32)
    target = np.full(npix, -1, np.int32)  # best earlier component to merge into
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
    core = np.full(centers.shape[0], -1, np.int32)
    for c in range(n):
        v = values[c]
        if core[v] < 0 or sizes[c] > sizes[core[v]]:
            core[v] = c
    final = np.empty(n, np.int32)
    count = 0
    for c in range(n):
        if target[c] < 0 or core[values[c]] == c:
            final[c] = count
            count += 1
        else:
            final[c] = final[target[c]]
    for i in range(npix):
        comp[i] = final[comp[i]]
    return comp.reshape(height, width), count
