"""Tests for easel.art.superpixels: exact answers on synthetic images, properties, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import easel
from easel.art.superpixels import (
    boundary_mask,
    mark_boundaries,
    mean_color,
    relabel_consecutive,
    slic_superpixels,
)
from easel.errors import InputError

QUADRANT_COLORS = np.array(
    [[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.15, 0.2, 0.9], [0.95, 0.9, 0.3]], dtype=np.float32
)


def quadrants(h: int = 60, w: int = 90, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four coloured quadrants (off-grid split point) and their region ids."""
    regions = np.zeros((h, w), np.int32)
    cy, cx = 27, 41  # deliberately not on the SLIC grid
    regions[:cy, cx:] = 1
    regions[cy:, :cx] = 2
    regions[cy:, cx:] = 3
    img = QUADRANT_COLORS[regions].copy()
    if noise:
        img += np.random.default_rng(seed).normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32), regions


def assert_connected(labels: np.ndarray) -> None:
    for value in np.unique(labels):
        _, n = ndimage.label(labels == value)  # 4-connectivity by default
        assert n == 1, f"label {value} has {n} pieces"


@pytest.mark.parametrize("noise", [0.0, 0.03])
@pytest.mark.parametrize("n_segments", [4, 30, 200])
def test_superpixels_never_straddle_quadrants(n_segments: int, noise: float) -> None:
    img, regions = quadrants(noise=noise)
    labels = slic_superpixels(img, n_segments=n_segments, compactness=10)
    for value in np.unique(labels):
        assert np.unique(regions[labels == value]).size == 1, f"superpixel {value} crosses a border"


@pytest.mark.parametrize("n_segments", [12, 40])
def test_coarse_to_fine_path_respects_borders(n_segments: int) -> None:
    """Large superpixels (grid step >= 16 px) start at half resolution; borders must still hold."""
    regions = np.zeros((192, 256), np.int32)
    regions[:101, 131:] = 1
    regions[101:, :131] = 2
    regions[101:, 131:] = 3
    img = QUADRANT_COLORS[regions] + np.random.default_rng(4).normal(0, 0.02, (192, 256, 3)).astype(
        np.float32
    )
    img = np.clip(img, 0, 1)
    labels = slic_superpixels(img, n_segments=n_segments, compactness=10)
    assert abs(int(labels.max()) + 1 - n_segments) <= n_segments // 4 + 4
    for value in np.unique(labels):
        assert np.unique(regions[labels == value]).size == 1
    assert_connected(labels)


def test_four_segments_on_four_quadrants_are_the_quadrants() -> None:
    img, regions = quadrants(h=64, w=64)
    img, regions = img, regions
    labels = slic_superpixels(img, n_segments=4, compactness=1)
    # one superpixel per quadrant: the partitions are identical up to renaming
    pairs = np.unique(np.stack([labels.ravel(), regions.ravel()]), axis=1)
    assert pairs.shape[1] == 4 and np.unique(pairs[0]).size == 4


def test_mean_color_exact_on_quadrants() -> None:
    img, regions = quadrants()
    labels = slic_superpixels(img, n_segments=30, compactness=10)
    np.testing.assert_allclose(mean_color(img, labels), img, atol=1e-6)
    np.testing.assert_allclose(mean_color(img, regions), img, atol=1e-6)


def test_mean_color_is_region_mean() -> None:
    rng = np.random.default_rng(1)
    img = rng.random((20, 30, 3), dtype=np.float32)
    labels = rng.integers(0, 7, size=(20, 30)) * 3  # non-consecutive labels are fine
    out = mean_color(img, labels)
    assert out.shape == img.shape and out.dtype == np.float32
    for value in np.unique(labels):
        mask = labels == value
        np.testing.assert_allclose(
            out[mask], np.broadcast_to(img[mask].mean(axis=0), out[mask].shape), atol=1e-5
        )


@pytest.mark.parametrize("shape", [(40, 70), (73, 31), (9, 9)])
def test_labels_properties(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    img = rng.random((*shape, 3), dtype=np.float32)
    labels = slic_superpixels(img, n_segments=25, compactness=5)
    assert labels.shape == shape and labels.dtype == np.int32
    n = int(labels.max()) + 1
    np.testing.assert_array_equal(np.unique(labels), np.arange(n))  # consecutive from 0
    assert labels[0, 0] == 0  # raster order
    assert_connected(labels)


def test_count_near_request_and_deterministic() -> None:
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    img = np.stack([xx / 160, yy / 120, 0.5 * np.ones_like(xx)], axis=2)
    a = slic_superpixels(img, n_segments=100, compactness=10)
    b = slic_superpixels(img, n_segments=100, compactness=10)
    np.testing.assert_array_equal(a, b)
    assert 80 <= int(a.max()) + 1 <= 120
    assert_connected(a)


def _roughness(labels: np.ndarray) -> float:
    """Mean over superpixels of border pixels / sqrt(area): lower is more compact."""
    border = np.bincount(labels[boundary_mask(labels)], minlength=labels.max() + 1)
    area = np.bincount(labels.ravel())
    return float(np.mean(border / np.sqrt(area)))


def test_compactness_makes_rounder_cells() -> None:
    import skimage.data

    photo = skimage.data.chelsea()[::3, ::3]  # a real texture: fur
    loose = slic_superpixels(photo, n_segments=60, compactness=1)
    tight = slic_superpixels(photo, n_segments=60, compactness=40)
    assert _roughness(tight) < 0.8 * _roughness(loose)


def test_noise_does_not_collapse_segments() -> None:
    """Salt-and-pepper clusters on pure noise still leave about n_segments regions."""
    rng = np.random.default_rng(2)
    img = rng.random((96, 96, 3), dtype=np.float32)
    labels = slic_superpixels(img, n_segments=36, compactness=1)
    assert int(labels.max()) + 1 >= 30
    assert_connected(labels)


def test_single_segment_and_tiny_image() -> None:
    img, _ = quadrants(h=16, w=16)
    assert np.all(slic_superpixels(img * 0 + 0.5, n_segments=1) == 0)
    one = slic_superpixels(np.full((1, 1, 3), 0.3, np.float32), n_segments=5)
    assert one.shape == (1, 1) and one[0, 0] == 0
    many = slic_superpixels(img, n_segments=10_000, min_size_factor=0.0)
    assert many.shape == (16, 16)
    assert_connected(many)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (3, 3)])
def test_tiny_images_more_segments_than_pixels(shape: tuple[int, int]) -> None:
    """n_segments larger than the pixel count: every pixel becomes its own superpixel."""
    img = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    labels = slic_superpixels(img, n_segments=500)
    assert labels.shape == shape and labels.dtype == np.int32
    np.testing.assert_array_equal(labels.ravel(), np.arange(shape[0] * shape[1]))
    np.testing.assert_allclose(mean_color(img, labels), img, atol=1e-7)
    assert mark_boundaries(img, labels).shape == img.shape


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (3, 3)])
def test_tiny_images_one_segment(shape: tuple[int, int]) -> None:
    img = np.random.default_rng(1).random((*shape, 3), dtype=np.float32)
    labels = slic_superpixels(img, n_segments=1)
    assert labels.shape == shape and np.all(labels == 0)
    np.testing.assert_allclose(
        mean_color(img, labels), np.broadcast_to(img.mean(axis=(0, 1)), img.shape), atol=1e-6
    )


@pytest.mark.parametrize("shape", [(1, 60), (60, 1), (4, 400)])
def test_thin_strip_gets_the_asked_count(shape: tuple[int, int]) -> None:
    """A strip thinner than half a grid step gets one row of seeds holding all n_segments."""
    n = 6
    length = max(shape)
    block = np.arange(length) * n // length  # n equal blocks along the long side
    colors = np.random.default_rng(2).random((n, 3)).astype(np.float32)
    along = block[None, :] if shape[1] == length else block[:, None]
    img = np.ascontiguousarray(colors[np.broadcast_to(along, shape)])
    labels = slic_superpixels(img, n_segments=n, compactness=1)
    assert int(labels.max()) + 1 == n
    np.testing.assert_allclose(mean_color(img, labels), img, atol=1e-6)  # the blocks, exactly
    assert_connected(labels)


def test_uint8_input_and_export() -> None:
    img, _ = quadrants()
    labels8 = slic_superpixels((img * 255).round().astype(np.uint8), n_segments=30)
    assert labels8.shape == img.shape[:2]
    assert easel.slic_superpixels is slic_superpixels and easel.mean_color is mean_color


def test_boundaries() -> None:
    labels = np.array([[0, 0, 1], [2, 2, 1]])
    np.testing.assert_array_equal(
        boundary_mask(labels), np.array([[True, True, False], [False, True, False]])
    )
    out = mark_boundaries(np.zeros((2, 3, 3), np.float32), labels, color=(0.0, 0.0, 1.0))
    np.testing.assert_array_equal(out[0, 0], [0, 0, 1])
    np.testing.assert_array_equal(out[1, 0], [0, 0, 0])
    with pytest.raises(InputError, match="color"):
        mark_boundaries(np.zeros((2, 3, 3), np.float32), labels, color=(2.0, 0.0, 0.0))


def test_relabel_consecutive() -> None:
    np.testing.assert_array_equal(relabel_consecutive(np.array([[7, 7], [3, 12]])), [[1, 1], [0, 2]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_segments": 0}, "n_segments"),
        ({"n_segments": -5}, "n_segments"),
        ({"n_segments": 2.5}, "n_segments"),
        ({"compactness": 0}, "compactness"),
        ({"compactness": float("nan")}, "compactness"),
        ({"num_steps": 0}, "num_steps"),
        ({"min_size_factor": 2.0}, "min_size_factor"),
    ],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    img, _ = quadrants()
    with pytest.raises(InputError, match=match):
        slic_superpixels(img, **kwargs)


def test_bad_images_and_labels() -> None:
    img, regions = quadrants()
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        slic_superpixels(img * 2.0 + 0.5, n_segments=10)
    with pytest.raises(InputError, match="shape"):
        mean_color(img, regions[:10])
    with pytest.raises(InputError, match=">= 0"):
        mean_color(img, regions - 1)
    with pytest.raises(InputError, match="integers"):
        mean_color(img, regions.astype(np.float32))


def test_progress_reported() -> None:
    img, _ = quadrants()
    updates = []
    slic_superpixels(img, n_segments=20, num_steps=3, progress=updates.append)
    assert [u.step for u in updates] == [0, 1, 2, 3, 4]
    assert all(u.total == 4 for u in updates)
    assert updates[-1].metrics["segments"] >= 4


def test_same_result_with_any_thread_count() -> None:
    import numba
    import skimage.data

    photo = skimage.data.astronaut()  # 512x512: large enough for the multi-threaded path
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = slic_superpixels(photo, n_segments=100)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, slic_superpixels(photo, n_segments=100))


# ---------------------------------------------------------------- SuperpixelOptions and the mosaic (issue #18)


def test_options_object_equals_arguments() -> None:
    from easel.art.superpixels import SuperpixelOptions

    img, _ = quadrants(noise=0.03)
    options = SuperpixelOptions(n_segments=40, compactness=5, num_steps=4)
    by_options = slic_superpixels(img, options=options)
    np.testing.assert_array_equal(by_options, slic_superpixels(img, 40, 5, num_steps=4))
    # explicit arguments override the options' fields
    np.testing.assert_array_equal(
        slic_superpixels(img, 12, options=options),
        slic_superpixels(img, n_segments=12, compactness=5, num_steps=4),
    )
    assert options.n_segments == 40


@pytest.mark.parametrize("mode", ["fill", "boundaries", "boundaries_only"])
def test_mosaic_draws_what_the_options_ask(mode: str) -> None:
    from easel.art.superpixels import superpixel_mosaic

    img, _ = quadrants(noise=0.03)
    flags = {"boundaries": mode == "boundaries", "boundaries_only": mode == "boundaries_only"}
    result = superpixel_mosaic(img, n_segments=30, boundary_color=(1.0, 0.0, 1.0), **flags)
    labels = slic_superpixels(img, n_segments=30)
    np.testing.assert_array_equal(result.labels, labels)
    assert result.n_segments == int(labels.max()) + 1
    expected = {
        "fill": mean_color(img, labels),
        "boundaries": mark_boundaries(mean_color(img, labels), labels, (1.0, 0.0, 1.0)),
        "boundaries_only": mark_boundaries(img, labels, (1.0, 0.0, 1.0)),
    }[mode]
    np.testing.assert_array_equal(result.image, expected)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"boundaries": True, "boundaries_only": True}, "boundaries_only"),
        ({"boundary_color": (1.5, 0.0, 0.0)}, "boundary_color"),
        ({"boundary_color": (1.0, 0.0)}, "boundary_color"),
        ({"compactness": float("inf")}, "compactness"),
        ({"n_segments": 0}, "n_segments"),
    ],
)
def test_option_errors_name_the_field(fields: dict[str, object], field: str) -> None:
    from easel.art.superpixels import SuperpixelOptions, superpixel_mosaic
    from easel.options import OptionError

    img, _ = quadrants()
    with pytest.raises(OptionError) as exc:
        SuperpixelOptions(**fields).validate()  # type: ignore[arg-type]
    assert exc.value.field == field and str(exc.value).startswith(f"{field} ")
    with pytest.raises(OptionError, match=f"^{field} "):
        superpixel_mosaic(img, **fields)


def test_parse_hex_color() -> None:
    import argparse

    from easel.art.superpixels import parse_hex_color

    assert parse_hex_color("#ffff00") == (1.0, 1.0, 0.0) and parse_hex_color(" 0f0 ") == (0.0, 1.0, 0.0)
    for bad in ("nope", "#12345", "#gggggg", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a colour like"):
            parse_hex_color(bad)
