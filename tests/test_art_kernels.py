"""The numba kernels of easel.art, each against a plain NumPy reference on a small input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from easel.art import _kernels


def random_points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3), dtype=np.float32)


def sq_distances(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``(N, K)`` float64 squared distances."""
    diff = points[:, None, :].astype(np.float64) - centers[None, :, :].astype(np.float64)
    return np.einsum("nkc,nkc->nk", diff, diff)


# ---------------------------------------------------------------- K-means kernels


def test_weighted_sums() -> None:
    points = random_points(50)
    weights = np.random.default_rng(1).random(50) * 10
    labels = np.random.default_rng(2).integers(0, 4, 50).astype(np.int32)
    labels[labels == 2] = 1  # cluster 2 stays empty
    sums, totals = _kernels.weighted_sums(points, weights, labels, 4)
    for c in range(3):
        np.testing.assert_allclose(sums[:, c], np.bincount(labels, weights * points[:, c], minlength=4))
    np.testing.assert_allclose(totals, np.bincount(labels, weights, minlength=4))
    assert totals[2] == 0.0 and sums.shape == (4, 3) and sums.dtype == np.float64


def test_nearest_center_assign_and_distance() -> None:
    points, centers = random_points(200, 3), random_points(7, 4)
    dist = sq_distances(points, centers)
    best, best_d = _kernels.nearest_center(*points[5].tolist(), centers)
    assert best == int(np.argmin(dist[5])) and best_d == pytest.approx(dist[5].min(), rel=1e-5)

    labels = np.full(200, -1, np.int32)
    _kernels.assign_nearest(points, centers, labels)
    np.testing.assert_array_equal(labels, np.argmin(dist, axis=1))
    nearest = np.empty(200, np.float32)
    _kernels.nearest_sq_distance(points, centers, nearest)
    np.testing.assert_allclose(nearest, dist.min(axis=1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n_chunks", [1, 5, 16])
def test_assign_and_sum(n_chunks: int) -> None:
    points, centers = random_points(101, 5), random_points(6, 6)
    values = random_points(101, 7)
    labels = np.empty(101, np.int32)
    sums, counts, sq_sums = _kernels.assign_and_sum(points, centers, labels, values, n_chunks)
    expected = np.argmin(sq_distances(points, centers), axis=1)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(counts, np.bincount(expected, minlength=6))
    for c in range(3):
        np.testing.assert_allclose(sums[:, c], np.bincount(expected, values[:, c], minlength=6), rtol=1e-12)
    norms = (values.astype(np.float64) ** 2).sum(axis=1)
    np.testing.assert_allclose(sq_sums, np.bincount(expected, norms, minlength=6), rtol=1e-12)


def test_nearest_lut_cells_are_sure() -> None:
    """Every cell the table fills has that nearest centre at its middle and at all 8 corners;
    the table gives the same labels as the search, and many cells are filled."""
    centers = random_points(9, 20)
    bits = 4
    lut = _kernels.nearest_lut(centers, bits)
    levels = (1 << bits) - 1
    assert lut.shape == (16, 16, 16) and lut.dtype == np.int16
    filled = np.argwhere(lut >= 0)
    assert 0.3 * lut.size < len(filled) < lut.size
    half = 0.5 / levels
    corners = np.array([[dr, dg, db] for dr in (-half, half) for dg in (-half, half) for db in (-half, half)])
    for cell in filled[::7]:
        probes = (cell / levels + np.vstack([np.zeros(3), corners])).astype(np.float32)
        assert set(np.argmin(sq_distances(probes, centers), axis=1)) == {int(lut[tuple(cell)])}
    # the table only skips the search: labels, sums and squares are those of the search
    points = random_points(3000, 21)
    plain, fast = np.empty(3000, np.int32), np.empty(3000, np.int32)
    expected = _kernels.assign_and_sum(points, centers, plain, points, 4)
    got = _kernels.assign_and_sum(points, centers, fast, points, 4, lut)
    np.testing.assert_array_equal(fast, plain)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # lut_summed: the table's points are labelled but left out of the sums
    skipped = np.empty(3000, np.int32)
    _, counts, _ = _kernels.assign_and_sum(points, centers, skipped, points, 4, lut, lut_summed=True)
    q = np.rint(points * levels).astype(int)
    in_table = lut[q[:, 0], q[:, 1], q[:, 2]] >= 0
    np.testing.assert_array_equal(skipped, plain)
    np.testing.assert_array_equal(counts, np.bincount(plain[~in_table], minlength=9))


def test_histogram_sums() -> None:
    rgb = random_points(500, 22)
    points = rgb * 2.0 - 0.5  # another working space
    counts, sums = _kernels.histogram_sums(rgb, points, 3)
    q = np.rint(rgb * 7).astype(int)
    cell = (q[:, 0] << 6) | (q[:, 1] << 3) | q[:, 2]
    np.testing.assert_array_equal(counts, np.bincount(cell, minlength=512))
    for c in range(3):
        np.testing.assert_allclose(sums[:, c], np.bincount(cell, points[:, c], minlength=512), rtol=1e-9)
    norms = (points.astype(np.float64) ** 2).sum(axis=1)
    np.testing.assert_allclose(sums[:, 3], np.bincount(cell, norms, minlength=512), rtol=1e-9)


def kmeans_pp_reference(
    points: np.ndarray, weights: np.ndarray, k: int, trials: int, uniforms: np.ndarray
) -> np.ndarray:
    """Greedy weighted k-means++ in NumPy, drawing from ``uniforms`` in the kernel's order."""
    n = len(points)
    cum = np.cumsum(weights)
    chosen = [min(int(np.searchsorted(cum, uniforms[0] * cum[-1])), n - 1)]
    closest = sq_distances(points, points[chosen[0]][None])[:, 0]
    draw = 1
    for _ in range(1, k):
        cum = np.cumsum(weights * closest)
        best_pot, best_idx = np.inf, 0
        for _ in range(trials):
            idx = min(int(np.searchsorted(cum, uniforms[draw] * cum[-1])), n - 1)
            draw += 1
            pot = float(np.sum(weights * np.minimum(sq_distances(points, points[idx][None])[:, 0], closest)))
            if pot < best_pot:
                best_pot, best_idx = pot, idx
        chosen.append(best_idx)
        closest = np.minimum(closest, sq_distances(points, points[best_idx][None])[:, 0])
    return points[chosen]


def test_kmeans_pp_seeds() -> None:
    points = random_points(80, 8)
    weights = np.random.default_rng(9).integers(1, 20, 80).astype(np.float64)
    k, trials = 6, 3
    uniforms = np.random.default_rng(10).random(1 + (k - 1) * trials)
    seeds = _kernels.kmeans_pp_seeds(points, weights, k, trials, uniforms)
    assert seeds.shape == (k, 3) and seeds.dtype == np.float32
    np.testing.assert_array_equal(seeds, kmeans_pp_reference(points, weights, k, trials, uniforms))


def test_kmeans_pp_seeds_when_every_point_is_a_seed() -> None:
    """k equal to the number of points (a tiny image): every point becomes a seed once."""
    points = random_points(5, 11)
    uniforms = np.random.default_rng(12).random(1 + 4 * 2)
    seeds = _kernels.kmeans_pp_seeds(points, np.ones(5), 5, 2, uniforms)
    assert sorted(map(tuple, seeds.tolist())) == sorted(map(tuple, points.tolist()))


def dither_reference(image: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Serpentine Floyd-Steinberg written out plainly (float64 error buffer)."""
    h, w, _ = image.shape
    err = np.zeros((h + 1, w + 2, 3))
    labels = np.empty((h, w), np.int32)
    for y in range(h):
        step = -1 if y % 2 else 1
        for x in range(w)[::step]:
            value = image[y, x] + err[y, x + 1]
            best = int(np.argmin(((centers - value) ** 2).sum(axis=1)))
            labels[y, x] = best
            e = value - centers[best]
            err[y, x + 1 + step] += e * 7 / 16
            err[y + 1, x + 1 - step] += e * 3 / 16
            err[y + 1, x + 1] += e * 5 / 16
            err[y + 1, x + 1 + step] += e * 1 / 16
    return labels


def test_dither_floyd_steinberg() -> None:
    image = np.random.default_rng(13).random((7, 9, 3), dtype=np.float32)
    centers = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 0.5, 1]], np.float32)
    labels = np.empty((7, 9), np.int32)
    _kernels.dither_floyd_steinberg(image, centers, labels)
    np.testing.assert_array_equal(labels, dither_reference(image, centers))


def test_color_histogram() -> None:
    rng = np.random.default_rng(14)
    rgb = rng.integers(0, 4, (300, 3)).astype(np.float32) / 3  # 64 possible colours
    rgb[:5] = [0.49, 0.51, 1.0]  # rounding to the nearest level
    points = rng.random((300, 3), dtype=np.float32)  # the same pixels in a working space
    bits = 2
    means, counts = _kernels.color_histogram(rgb, points, bits)
    levels = np.float32(2**bits - 1)
    cell = (rgb * levels + np.float32(0.5)).astype(np.int64)
    key = (cell[:, 0] << (2 * bits)) | (cell[:, 1] << bits) | cell[:, 2]
    occupied, inverse = np.unique(key, return_inverse=True)
    expected_counts = np.bincount(inverse)
    np.testing.assert_array_equal(counts, expected_counts)
    assert means.shape == (occupied.size, 3) and means.dtype == np.float32
    for c in range(3):
        np.testing.assert_allclose(
            means[:, c], np.bincount(inverse, points[:, c]) / expected_counts, rtol=1e-6
        )


# ---------------------------------------------------------------- SLIC kernels


def slic_step_reference(
    lab: np.ndarray, centers: np.ndarray, ny: int, nx: int, wspace: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel takes the nearest of the 3x3 grid centres around its cell; centres become means."""
    h, w = lab.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    gi = np.minimum((ys // (h / ny)).astype(int), ny - 1)
    gj = np.minimum((xs // (w / nx)).astype(int), nx - 1)
    best_d = np.full((h, w), np.inf)
    labels = np.full((h, w), -1, np.int32)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            i, j = gi + di, gj + dj
            valid = (i >= 0) & (i < ny) & (j >= 0) & (j < nx)
            c = np.clip(i, 0, ny - 1) * nx + np.clip(j, 0, nx - 1)
            ctr = centers[c].astype(np.float64)
            d = ((lab - ctr[..., :3]) ** 2).sum(axis=2) + wspace * (
                (ys - ctr[..., 3]) ** 2 + (xs - ctr[..., 4]) ** 2
            )
            better = valid & (d < best_d)
            best_d[better], labels[better] = d[better], c[better]
    features = np.concatenate([lab, ys[..., None], xs[..., None]], axis=2).reshape(-1, 5)
    new = centers.astype(np.float64).copy()
    counts = np.bincount(labels.ravel(), minlength=len(centers))
    for f in range(5):
        sums = np.bincount(labels.ravel(), features[:, f], minlength=len(centers))
        new[counts > 0, f] = sums[counts > 0] / counts[counts > 0]
    return labels, new


@pytest.mark.parametrize("n_chunks", [1, 4])
def test_slic_step(n_chunks: int) -> None:
    rng = np.random.default_rng(15)
    h, w, ny, nx = 12, 15, 3, 5  # 4 x 3 pixel cells
    lab = (rng.random((h, w, 3), dtype=np.float32) * [100, 60, 60]).astype(np.float32)
    cy = (np.arange(ny) + 0.5) * (h / ny)
    cx = (np.arange(nx) + 0.5) * (w / nx)
    gy, gx = np.meshgrid(cy, cx, indexing="ij")
    centers = np.empty((ny * nx, 5), np.float32)
    centers[:, :3] = lab[gy.astype(int).ravel(), gx.astype(int).ravel()]
    centers[:, 3], centers[:, 4] = gy.ravel(), gx.ravel()
    centers[7, :3] = [1000, 0, 0]  # a centre no pixel picks keeps its place
    wspace = np.float32(30.0)
    labels = np.empty((h, w), np.int32)
    new = _kernels.slic_step(lab, centers, ny, nx, wspace, labels, n_chunks)
    expected_labels, expected_centers = slic_step_reference(lab, centers, ny, nx, float(wspace))
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(new, expected_centers, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(new[7], centers[7])


def slic_refine_reference(
    lab: np.ndarray, coarse: np.ndarray, centers: np.ndarray, wspace: float
) -> np.ndarray:
    """Each pixel takes the best label of the 3x3 coarse neighbourhood of its coarse pixel."""
    h, w = lab.shape[:2]
    ch, cw = coarse.shape
    out = np.empty((h, w), np.int32)
    for y in range(h):
        for x in range(w):
            cy, cx = min(y // 2, ch - 1), min(x // 2, cw - 1)
            window = coarse[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2]
            options = np.unique(window)
            if options.size == 1:
                out[y, x] = options[0]
                continue
            c = centers[options].astype(np.float64)
            d = ((lab[y, x].astype(np.float64) - c[:, :3]) ** 2).sum(1) + wspace * (
                (y - c[:, 3]) ** 2 + (x - c[:, 4]) ** 2
            )
            out[y, x] = options[int(np.argmin(d))]
    return out


@pytest.mark.parametrize("shape", [(10, 14), (11, 15)])
def test_slic_refine(shape: tuple[int, int]) -> None:
    """Odd sizes too: the last coarse row and column cover the extra full-size row and column."""
    rng = np.random.default_rng(18)
    h, w = shape
    lab = (rng.random((h, w, 3), dtype=np.float32) * [100, 60, 60]).astype(np.float32)
    coarse = np.repeat(np.repeat(np.arange(6, dtype=np.int32).reshape(2, 3), 3, axis=0), 3, axis=1)[
        : h // 2, : w // 2
    ]
    coarse = np.ascontiguousarray(coarse)
    centers = np.empty((6, 5), np.float32)
    centers[:, :3] = rng.random((6, 3)) * [100, 60, 60]
    centers[:, 3] = np.repeat([2.5, 8.5], 3)
    centers[:, 4] = np.tile([2.5, 8.5, 14.5], 2)
    labels = np.full((h, w), -1, np.int32)
    _kernels.slic_refine(lab, coarse, centers, np.float32(2.0), labels, 3)
    expected = slic_refine_reference(lab, coarse, centers, 2.0)
    np.testing.assert_array_equal(labels, expected)
    assert (labels[: 2 * (h // 2 // 3 * 3 - 3)] >= 0).all()


def test_lab_affine_reads_opencv_8_bit_lab() -> None:
    import cv2

    rgb = np.random.default_rng(19).random((8, 8, 3), dtype=np.float32)
    lab8 = cv2.cvtColor(cv2.convertScaleAbs(rgb, alpha=255.0), cv2.COLOR_RGB2Lab)
    affine = _kernels.lab_affine(lab8)
    as_lab = lab8 * affine[:3] + affine[3:]
    np.testing.assert_allclose(as_lab, cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab), atol=4.0)
    np.testing.assert_array_equal(_kernels.lab_affine(rgb), [1, 1, 1, 0, 0, 0])


def components_in_raster_order(labels: np.ndarray) -> np.ndarray:
    """4-connected components of equal labels, numbered by their first pixel in raster order."""
    comp = np.full(labels.shape, -1, np.int64)
    offset = 0
    for value in np.unique(labels):
        pieces, n = ndimage.label(labels == value)
        comp[pieces > 0] = pieces[pieces > 0] - 1 + offset
        offset += n
    first = np.full(offset, labels.size)
    np.minimum.at(first, comp.ravel(), np.arange(labels.size))
    rank = np.empty(offset, np.int64)
    rank[np.argsort(first)] = np.arange(offset)
    return rank[comp]


def test_connect_regions_without_merging_numbers_components() -> None:
    labels = np.random.default_rng(16).integers(0, 3, (9, 11)).astype(np.int32)
    lab = np.zeros((9, 11, 3), np.float32)
    out, count = _kernels.connect_regions(labels, lab, np.zeros((3, 3), np.float32), 0)
    expected = components_in_raster_order(labels)
    np.testing.assert_array_equal(out, expected)
    assert count == int(expected.max()) + 1


@pytest.mark.parametrize("lab_type", ["float32", "uint8"])
def test_connect_regions_merges_small_fragments_by_colour(lab_type: str) -> None:
    """Fragments under min_size join the earlier neighbour whose cluster colour is closest;
    each cluster's largest piece and pieces of min_size or more stay. With OpenCV's 8-bit
    Lab the colours are read as CIELAB."""
    rng = np.random.default_rng(17)
    labels = rng.integers(0, 4, (10, 12)).astype(np.int32)
    labels[:4, :5] = 0  # a few large pieces among the salt and pepper
    labels[6:, 7:] = 3
    if lab_type == "uint8":
        stored = rng.integers(0, 256, (10, 12, 3)).astype(np.uint8)
        lab = (stored * [100 / 255, 1, 1] - [0, 128, 128]).astype(np.float32)
        centers = (rng.random((4, 3)) * [100, 60, 60] - [0, 30, 30]).astype(np.float32)
    else:
        stored = lab = rng.random((10, 12, 3), dtype=np.float32)
        centers = rng.random((4, 3), dtype=np.float32)
    min_size = 3
    out, count = _kernels.connect_regions(labels, stored, centers, min_size)

    comp = components_in_raster_order(labels)
    n = int(comp.max()) + 1
    sizes = np.bincount(comp.ravel())
    value = np.zeros(n, np.int64)
    value[comp.ravel()] = labels.ravel()
    means = np.stack([np.bincount(comp.ravel(), lab[..., c].ravel()) / sizes for c in range(3)], axis=1)
    core = {v: max(np.flatnonzero(value == v), key=lambda i: (sizes[i], -i)) for v in np.unique(value)}
    # earlier components touching each component (4-neighbours)
    touching: list[set[int]] = [set() for _ in range(n)]
    for a, b in ((comp[:, :-1], comp[:, 1:]), (comp[:-1, :], comp[1:, :])):
        for p, q in zip(a.ravel(), b.ravel(), strict=True):
            if p != q:
                touching[max(p, q)].add(int(min(p, q)))
    label_of = np.zeros(n, np.int64)
    label_of[comp.ravel()] = out.ravel()
    for i in range(n):  # every component maps to one output label
        assert np.unique(out[comp == i]).size == 1
    kept = [i for i in range(n) if sizes[i] >= min_size or not touching[i] or core[value[i]] == i]
    np.testing.assert_array_equal(label_of[kept], np.arange(len(kept)))  # consecutive, raster order
    assert count == len(kept) and int(out.max()) + 1 == count
    merged = [i for i in range(n) if i not in kept]
    assert merged, "the input should have fragments to merge"
    for i in merged:
        dist = {j: float(((means[i] - centers[value[j]]) ** 2).sum()) for j in touching[i]}
        best = min(dist.values())
        allowed = {label_of[j] for j, d in dist.items() if d <= best * (1 + 1e-4) + 1e-9}
        assert label_of[i] in allowed
