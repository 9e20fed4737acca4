"""Tests for easel.art.quantize: exact answers on synthetic images, properties, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

import easel
from easel.art.quantize import QuantizeResult, palette_swatch, quantize_colors, to_hex
from easel.errors import InputError

QUADRANT_COLORS = np.array(
    [[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.15, 0.2, 0.9], [0.95, 0.9, 0.3]], dtype=np.float32
)


def quadrants(h: int = 40, w: int = 60, colors: np.ndarray = QUADRANT_COLORS) -> np.ndarray:
    img = np.empty((h, w, 3), np.float32)
    img[: h // 2, : w // 2] = colors[0]
    img[: h // 2, w // 2 :] = colors[1]
    img[h // 2 :, : w // 2] = colors[2]
    img[h // 2 :, w // 2 :] = colors[3]
    return img


def random_image(seed: int = 0, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # smooth-ish content: a gradient plus noise, so clusters are not trivial
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    base = np.stack([xx / shape[1], yy / shape[0], 0.5 + 0.5 * np.sin(xx / 7)], axis=2)
    return np.clip(base + rng.normal(0, 0.05, size=base.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("space", ["rgb", "lab"])
def test_four_quadrants_recover_colors_exactly(space: str) -> None:
    img = quadrants()
    result = quantize_colors(img, n_colors=4, space=space, seed=3)
    assert isinstance(result, QuantizeResult)
    # palette is the set of the four colours (order: by count, all equal -> any order)
    found = sorted(map(tuple, np.round(result.palette, 5).tolist()))
    expected = sorted(map(tuple, np.round(QUADRANT_COLORS, 5).tolist()))
    np.testing.assert_allclose(np.array(found), np.array(expected), atol=2e-4 if space == "lab" else 1e-6)
    np.testing.assert_allclose(result.image, img, atol=2e-4 if space == "lab" else 1e-6)
    assert result.mse < 1e-7
    # each quadrant is one label, and the four labels differ
    quads = [
        result.labels[:20, :30],
        result.labels[:20, 30:],
        result.labels[20:, :30],
        result.labels[20:, 30:],
    ]
    assert all(np.unique(q).size == 1 for q in quads)
    assert len({int(q[0, 0]) for q in quads}) == 4
    assert result.counts.tolist() == [600, 600, 600, 600]


def test_palette_is_ordered_by_use_and_labels_index_it() -> None:
    img = quadrants()
    img[:, :10] = QUADRANT_COLORS[3]  # make the fourth colour the most used
    result = quantize_colors(img, n_colors=4)
    assert np.all(np.diff(result.counts) <= 0)
    np.testing.assert_allclose(result.palette[0], QUADRANT_COLORS[3], atol=1e-6)
    np.testing.assert_array_equal(result.image, result.palette[result.labels])
    assert result.counts.tolist() == np.bincount(result.labels.ravel(), minlength=4).tolist()


@pytest.mark.parametrize("dither", [False, True])
@pytest.mark.parametrize("space", ["rgb", "lab"])
def test_properties_shape_dtype_range(space: str, dither: bool) -> None:
    img = random_image()
    result = quantize_colors(img, n_colors=6, space=space, dither=dither, seed=1)
    assert result.image.shape == img.shape and result.image.dtype == np.float32
    assert result.palette.shape == (6, 3) and result.palette.dtype == np.float32
    assert result.labels.shape == img.shape[:2] and result.labels.dtype == np.int32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert 0 <= result.labels.min() and result.labels.max() < 6
    assert np.unique(result.image.reshape(-1, 3), axis=0).shape[0] <= 6
    assert result.counts.sum() == img.shape[0] * img.shape[1]
    assert len(result.hex_codes) == 6 and all(h.startswith("#") and len(h) == 7 for h in result.hex_codes)


def test_deterministic_under_seed() -> None:
    img = random_image(5)
    a = quantize_colors(img, n_colors=7, seed=11)
    b = quantize_colors(img, n_colors=7, seed=11)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.palette, b.palette)


def test_kmeans_quality_matches_sklearn() -> None:
    from sklearn.cluster import KMeans

    img = random_image(2, shape=(64, 80))
    ours = quantize_colors(img, n_colors=8, seed=0)
    km = KMeans(n_clusters=8, n_init=4, random_state=0).fit(img.reshape(-1, 3))
    sk_mse = float(np.mean((km.cluster_centers_[km.labels_] - img.reshape(-1, 3)) ** 2))
    assert ours.mse <= 1.02 * sk_mse
    # the reported mse is the real one
    assert ours.mse == pytest.approx(float(np.mean((ours.image - img) ** 2)), rel=1e-5)


def test_lloyd_centroids_are_cluster_means() -> None:
    """After the full-data refinement each palette colour is (close to) the mean of its pixels."""
    img = random_image(3)
    result = quantize_colors(img, n_colors=5, refine_passes=5)
    flat = img.reshape(-1, 3)
    for j in range(5):
        members = flat[result.labels.ravel() == j]
        np.testing.assert_allclose(result.palette[j], members.mean(axis=0), atol=5e-3)


def test_dither_preserves_mean_color_better() -> None:
    # a smooth gray ramp quantized to 2 colours: dithering keeps the local average
    ramp = np.tile(np.linspace(0.2, 0.8, 64, dtype=np.float32)[None, :, None], (32, 1, 3))
    plain = quantize_colors(ramp, n_colors=2, seed=0)
    dithered = quantize_colors(ramp, n_colors=2, seed=0, dither=True)
    assert np.unique(dithered.labels).size == 2
    lo, hi = float(dithered.palette[:, 0].min()), float(dithered.palette[:, 0].max())
    inside = (ramp[0, :, 0] > lo + 0.02) & (ramp[0, :, 0] < hi - 0.02)  # reachable by mixing the two
    assert inside.sum() > 10
    col_err_plain = np.abs(plain.image.mean(axis=0) - ramp.mean(axis=0))[inside].mean()
    col_err_dither = np.abs(dithered.image.mean(axis=0) - ramp.mean(axis=0))[inside].mean()
    assert col_err_dither < 0.3 * col_err_plain


def test_uint8_and_gray_inputs() -> None:
    img8 = (quadrants() * 255).round().astype(np.uint8)
    result = quantize_colors(img8, n_colors=4)
    np.testing.assert_allclose(result.image, img8 / 255.0, atol=1e-6)
    gray = np.tile(np.array([0.0, 1.0], np.float32), (8, 4))
    assert quantize_colors(gray, n_colors=2).image.shape == (8, 8, 3)


def test_top_level_export() -> None:
    assert easel.quantize_colors is quantize_colors


@pytest.mark.parametrize("k", [0, -3, 5000])
def test_bad_n_colors(k: int) -> None:
    with pytest.raises(InputError, match="n_colors"):
        quantize_colors(random_image(), n_colors=k)


def test_non_integer_n_colors() -> None:
    with pytest.raises(InputError, match="whole number"):
        quantize_colors(random_image(), n_colors=2.5)  # type: ignore[arg-type]


def test_more_colors_than_distinct_gives_one_colour_each() -> None:
    """Asking for more colours than the image has: the palette is exactly its colours, and says so."""
    img = quadrants()
    result = quantize_colors(img, n_colors=5)
    assert result.n_colors == 4 and result.palette.shape == (4, 3) and result.requested_colors == 5
    assert result.note == "the image has only 4 distinct colours; the palette has 4, not the 5 asked"
    np.testing.assert_allclose(result.image, img, atol=1e-6)
    assert result.counts.tolist() == [600, 600, 600, 600] and result.labels.max() == 3
    enough = quantize_colors(img, n_colors=4)
    assert enough.note == "" and enough.requested_colors == enough.n_colors == 4


@pytest.mark.parametrize("dither", [False, True])
@pytest.mark.parametrize("space", ["rgb", "lab"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (3, 3)])
def test_tiny_images(shape: tuple[int, int], space: str, dither: bool) -> None:
    """1x1, 1xN, Nx1 and 3x3 images with k larger than their pixel count: one colour per pixel."""
    img = np.random.default_rng(sum(shape)).random((*shape, 3), dtype=np.float32)
    n_pixels = shape[0] * shape[1]
    result = quantize_colors(img, n_colors=16, space=space, dither=dither, seed=0)
    assert result.image.shape == img.shape and result.labels.shape == shape
    assert result.n_colors == n_pixels and result.requested_colors == 16
    plural = "" if n_pixels == 1 else "s"
    assert result.note == (
        f"the image has only {n_pixels} distinct colour{plural}; the palette has {n_pixels}, not the 16 asked"
    )
    assert sorted(result.labels.ravel().tolist()) == list(range(n_pixels))  # each pixel its own colour
    assert result.counts.tolist() == [1] * n_pixels
    np.testing.assert_allclose(result.image, img, atol=2e-3 if space == "lab" else 1e-6)


def test_one_pixel_asking_for_one_colour() -> None:
    result = quantize_colors(np.array([[[0.2, 0.4, 0.6]]], np.float32), n_colors=1)
    assert result.note == "" and result.n_colors == 1
    np.testing.assert_allclose(result.palette, [[0.2, 0.4, 0.6]], atol=1e-7)
    assert result.mse == 0.0


def test_float_out_of_range() -> None:
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        quantize_colors(random_image() * 255.0, n_colors=4)


def test_bad_space() -> None:
    with pytest.raises(InputError, match="space"):
        quantize_colors(random_image(), n_colors=4, space="hsv")  # type: ignore[arg-type]


def test_bad_shape() -> None:
    with pytest.raises(InputError, match="shape"):
        quantize_colors(np.zeros((4, 4, 2), np.float32), n_colors=1)


def test_progress_reported() -> None:
    updates = []
    quantize_colors(random_image(), n_colors=3, progress=updates.append)
    assert updates and updates[-1].step == updates[-1].total
    assert {u.stage for u in updates} == {"quantize"}


def test_to_hex_and_swatch() -> None:
    assert to_hex([1.0, 0.5, 0.0]) == "#ff8000"
    palette = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 1]], np.float32)
    sw = palette_swatch(palette, counts=[1, 1, 2], swatch_size=64)
    assert sw.shape == (64, 192, 3) and sw.dtype == np.float32
    # the swatch corners carry the palette colours, and labels were drawn (pixels differ)
    np.testing.assert_allclose(sw[2, 2], [1, 0, 0])
    np.testing.assert_allclose(sw[2, 130], [1, 1, 1])
    assert np.unique(sw[:, :64].reshape(-1, 3), axis=0).shape[0] > 1
    wrapped = palette_swatch(np.zeros((5, 3), np.float32), per_row=2, swatch_size=32)
    assert wrapped.shape == (96, 64, 3)
    with pytest.raises(InputError):
        palette_swatch(np.zeros((3, 4), np.float32))


def test_close_colors_are_told_apart() -> None:
    """Colours closer than the coarse histogram's cells (4/255) still get their own palette entry."""
    img = np.full((10, 10, 3), 128 / 255, np.float32)
    img[:, 5:] = 130 / 255
    img[:3, :3] = 129 / 255
    result = quantize_colors(img, n_colors=3)
    np.testing.assert_allclose(np.sort(result.palette[:, 0]), np.array([128, 129, 130]) / 255, atol=1e-6)
    np.testing.assert_allclose(result.image, img, atol=1e-6)


def test_same_result_with_any_thread_count() -> None:
    import numba

    img = random_image(7, shape=(512, 520))  # large enough for the multi-threaded path
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = quantize_colors(img, n_colors=6, seed=2)
    finally:
        numba.set_num_threads(before)
    many = quantize_colors(img, n_colors=6, seed=2)
    np.testing.assert_array_equal(one.labels, many.labels)
    np.testing.assert_array_equal(one.palette, many.palette)


def test_mask_ignores_hidden_pixels() -> None:
    img = quadrants()
    img[:, :12] = 0.0  # e.g. the black RGB under transparent pixels
    mask = np.ones(img.shape[:2], bool)
    mask[:, :12] = False
    result = quantize_colors(img, n_colors=4, mask=mask)
    found = sorted(map(tuple, np.round(result.palette, 5).tolist()))
    np.testing.assert_allclose(
        np.array(found), np.array(sorted(map(tuple, np.round(QUADRANT_COLORS, 5).tolist())))
    )
    np.testing.assert_allclose(result.image[mask], img[mask], atol=1e-6)
    assert result.mse < 1e-7  # measured on the mask
    assert result.labels[:, :12].max() < 4  # hidden pixels are still mapped
    # without the mask, black takes one of the four colours
    plain = quantize_colors(img, n_colors=4)
    assert np.min(np.abs(plain.palette).sum(axis=1)) < 1e-6


def test_bad_mask() -> None:
    img = quadrants()
    with pytest.raises(InputError, match="mask"):
        quantize_colors(img, n_colors=2, mask=np.ones((3, 3), bool))
    with pytest.raises(InputError, match="no pixels"):
        quantize_colors(img, n_colors=2, mask=np.zeros(img.shape[:2], bool))
    only_two = np.zeros(img.shape[:2], bool)
    only_two[:20] = True  # the top two quadrants
    two = quantize_colors(img, n_colors=3, mask=only_two)
    assert two.n_colors == 2 and two.note.startswith(
        "the masked part of the image has only 2 distinct colours"
    )
    np.testing.assert_allclose(np.sort(two.palette, axis=0), np.sort(QUADRANT_COLORS[:2], axis=0), atol=1e-6)


# ---------------------------------------------------------------- QuantizeOptions (issue #18)


def test_options_object_equals_keyword_arguments() -> None:
    from easel.art.quantize import QuantizeOptions

    img = random_image(4)
    by_keywords = quantize_colors(img, n_colors=5, space="lab", dither=True, seed=9)
    options = QuantizeOptions(n_colors=5, space="lab", dither=True, seed=9)
    by_options = quantize_colors(img, options=options)
    np.testing.assert_array_equal(by_keywords.image, by_options.image)
    np.testing.assert_array_equal(by_keywords.palette, by_options.palette)
    # keywords and a positional n_colors override the options' fields; the options object is untouched
    fewer = quantize_colors(img, 3, options=options, dither=False)
    assert fewer.requested_colors == 3 and options.n_colors == 5 and options.dither
    np.testing.assert_array_equal(fewer.image, quantize_colors(img, n_colors=3, space="lab", seed=9).image)


def test_default_colour_count_is_the_cli_default() -> None:
    from easel.art.quantize import QuantizeOptions

    assert QuantizeOptions().n_colors == 16
    assert quantize_colors(random_image()).requested_colors == 16


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n_colors": 0}, "n_colors must be between 1 and 4096, got 0"),
        ({"n_colors": True}, "n_colors must be a whole number, got True"),
        ({"space": "hsv"}, "space must be one of rgb, lab; got 'hsv'"),
        ({"seed": -1}, "seed must be a whole number >= 0, got -1"),
        ({"seed": 1.5}, "seed must be a whole number >= 0, got 1.5"),
        ({"n_init": 0}, "n_init must be a whole number >= 1, got 0"),
        ({"max_iter": 0}, "max_iter must be a whole number >= 1, got 0"),
        ({"refine_passes": -1}, "refine_passes must be a whole number >= 0, got -1"),
        ({"sample_size": 0}, "sample_size must be a whole number >= 1, got 0"),
        ({"sample_iter": -1}, "sample_iter must be a whole number >= 0, got -1"),
    ],
)
def test_option_errors_name_the_field(fields: dict[str, object], message: str) -> None:
    from easel.art.quantize import QuantizeOptions
    from easel.options import OptionError

    field = next(iter(fields))
    with pytest.raises(OptionError) as exc:
        QuantizeOptions(**fields).validate()  # type: ignore[arg-type]
    assert str(exc.value) == message and exc.value.field == field
    with pytest.raises(OptionError, match=f"^{field} "):  # the library call validates the same way
        quantize_colors(random_image(), **fields)


def test_unknown_override_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="colours"):
        quantize_colors(random_image(), colours=4)
