"""SLIC superpixels, each superpixel filled with the mean colour of its pixels.

:func:`slic_superpixels` runs SLIC (Achanta et al., 2012) in CIELAB with a
numba kernel: each pixel picks the best of the nine nearest grid seeds (as in
gSLICr), so rows run in parallel; with large superpixels the first iterations
run at half resolution. Parameters follow scikit-image's meaning:
``n_segments`` is the approximate number of superpixels and ``compactness``
weighs space against colour as in ``skimage.segmentation.slic`` (distance
``d_lab^2 + (compactness * d_xy / S)^2`` with grid step
``S = sqrt(H * W / n_segments)``), so ``compactness=10`` gives the shapes
scikit-image users expect. Each label is then made one connected region -- the
largest piece of each cluster is kept, stray fragments join the neighbour of
most similar colour -- and labels are numbered consecutively from 0.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.art import threads_for
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.progress import ProgressFn, report

_FINE_STEPS = 2  # full-resolution iterations after the half-resolution ones

__all__ = ["slic_superpixels", "mean_color", "boundary_mask", "mark_boundaries", "relabel_consecutive"]


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


# ---------------------------------------------------------------- numba kernels


@numba.njit(cache=True, parallel=True, fastmath=True)
def _slic_step(
    lab: np.ndarray,
    centers: np.ndarray,
    ny: int,
    nx: int,
    wspace: np.float32,
    labels: np.ndarray,
    n_chunks: int,
) -> np.ndarray:  # pragma: no cover - numba
    """One SLIC iteration: assign every pixel to the best of the 3x3 nearest grid centres,
    then return the updated centres ``(K, 5)``: L, a, b, y, x.

    Pixel-centric (as in gSLICr), so rows run in parallel; each chunk of rows
    accumulates its own sums, which are added at the end.
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
def _connect(
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


# ---------------------------------------------------------------- public API


def slic_superpixels(
    image: ArrayLike,
    n_segments: int = 500,
    compactness: float = 10.0,
    *,
    num_steps: int = 10,
    min_size_factor: float = 0.25,
    progress: ProgressFn | None = None,
) -> NDArray[np.int32]:
    """Segment an image into about ``n_segments`` compact regions of similar colour (SLIC in CIELAB).

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8``, gray and RGBA are
            accepted as in :func:`easel.image.as_float_rgb`; alpha is ignored).
        n_segments: approximate number of superpixels, >= 1. Seeds start on a
            grid of step ``S = sqrt(H * W / n_segments)`` pixels.
        compactness: > 0, on scikit-image's scale: larger values give squarer
            superpixels, smaller ones follow colour edges more closely (1-40 is useful).
        num_steps: SLIC (k-means) iterations.
        min_size_factor: after clustering, each label is split into 4-connected
            pieces; the largest piece of each cluster stays, and other pieces
            smaller than this fraction of ``S^2`` pixels join the neighbour of
            most similar colour.
        progress: optional callback receiving :class:`easel.progress.ProgressUpdate`.

    Returns:
        ``(H, W)`` int32 labels, consecutive from 0 in raster order; every label
        is one 4-connected region. SLIC is deterministic, so there is no seed.

    Raises:
        InputError: ``n_segments < 1``, ``compactness <= 0``, bad option values or an invalid image.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((64, 64, 3), np.float32); img[:, 32:] = 1.0
        >>> labels = slic_superpixels(img, n_segments=16, compactness=10)
        >>> labels.shape, labels.dtype.name, bool(np.intersect1d(labels[:, :32], labels[:, 32:]).size == 0)
        ((64, 64), 'int32', True)
    """
    if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)):
        raise InputError(f"n_segments must be a whole number, got {n_segments!r}")
    if n_segments < 1:
        raise InputError(f"n_segments must be >= 1, got {n_segments}")
    if not (
        isinstance(compactness, (int, float, np.number)) and math.isfinite(compactness) and compactness > 0
    ):
        raise InputError(f"compactness must be a number > 0, got {compactness}")
    if num_steps < 1:
        raise InputError(f"num_steps must be >= 1, got {num_steps}")
    if not 0.0 <= min_size_factor <= 1.0:
        raise InputError(f"min_size_factor must be in [0, 1], got {min_size_factor}")
    rgb = as_float_rgb(image)
    with threads_for(rgb.shape[0] * rgb.shape[1]):
        return _slic(rgb, int(n_segments), float(compactness), num_steps, min_size_factor, progress)


def _slic(
    rgb: FloatImage,
    n_segments: int,
    compactness: float,
    num_steps: int,
    min_size_factor: float,
    progress: ProgressFn | None,
) -> NDArray[np.int32]:
    import cv2

    height, width = rgb.shape[:2]
    total = num_steps + 1
    report(progress, "superpixels", 0, total)

    # L in [0, 100], a and b about [-128, 127]: the scale scikit-image's slic uses
    lab = np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab), dtype=np.float32)
    step = math.sqrt(height * width / int(n_segments))
    ny = max(1, min(height, int(round(height / step))))
    nx = max(1, min(width, int(round(width / step))))
    k = ny * nx
    # rows are split into a fixed number of chunks (not the thread count), so the sums and
    # labels do not depend on the machine; accumulators cost n_chunks * K * 48 bytes (<= 256 MB)
    n_chunks = max(1, min(height, 32, (256 << 20) // (48 * k)))

    # Coarse to fine: with large superpixels the first iterations run at half
    # resolution (a quarter of the work), the last ones at full resolution.
    fine_steps = num_steps
    level = lab
    scale = 1.0
    if step >= 16 and num_steps > _FINE_STEPS and min(height, width) >= 64:
        fine_steps = _FINE_STEPS
        level = np.ascontiguousarray(
            cv2.resize(lab, (width // 2, height // 2), interpolation=cv2.INTER_AREA), dtype=np.float32
        )
        scale = 0.5
    lh, lw = level.shape[:2]
    cy = ((np.arange(ny) + 0.5) * (lh / ny)).astype(np.int64)
    cx = ((np.arange(nx) + 0.5) * (lw / nx)).astype(np.int64)
    gy, gx = np.meshgrid(cy, cx, indexing="ij")
    centers = np.empty((k, 5), np.float32)
    centers[:, :3] = level[gy.ravel(), gx.ravel()]
    centers[:, 3] = gy.ravel()
    centers[:, 4] = gx.ravel()

    done = 0
    if level is not lab:
        coarse_labels = np.empty((lh, lw), np.int32)
        wcoarse = np.float32(float(compactness) ** 2 / (step * scale) ** 2)
        for _ in range(num_steps - fine_steps):
            centers = _slic_step(level, centers, ny, nx, wcoarse, coarse_labels, n_chunks)
            done += 1
            report(progress, "superpixels", done, total)
        # coarse pixel i covers full-resolution pixels [2i, 2i + 2): centre 2i + 0.5
        centers[:, 3] = centers[:, 3] * (height / lh) + 0.5 * (height / lh - 1)
        centers[:, 4] = centers[:, 4] * (width / lw) + 0.5 * (width / lw - 1)

    wspace = np.float32(float(compactness) ** 2 / step**2)
    labels = np.empty((height, width), np.int32)
    for _ in range(fine_steps):
        centers = _slic_step(lab, centers, ny, nx, wspace, labels, n_chunks)
        done += 1
        report(progress, "superpixels", done, total)

    min_size = int(min_size_factor * step * step)
    out, _n = _connect(labels, lab, centers, min_size)
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
