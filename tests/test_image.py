"""Conversions between the package's image conventions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from easel.errors import InputError
from easel.image import (
    as_float_rgb,
    fit_long_side,
    from_tensor,
    resize,
    split_alpha,
    to_tensor,
    to_uint8,
    to_uint16,
)


def test_uint8_is_divided_by_255() -> None:
    img = np.array([[[0, 128, 255]]], dtype=np.uint8)
    out = as_float_rgb(img)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [0.0, 128 / 255, 1.0], rtol=1e-6)


def test_uint16_is_divided_by_65535() -> None:
    img = np.full((2, 2, 3), 65535, dtype=np.uint16)
    assert as_float_rgb(img).max() == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1)])
def test_gray_becomes_three_equal_channels(shape: tuple[int, ...]) -> None:
    gray = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = as_float_rgb(gray)
    assert out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_float_out_of_range_raises_and_names_the_range() -> None:
    img = np.full((3, 3, 3), 255.0, dtype=np.float32)
    img[0, 0, 0] = 0.0
    with pytest.raises(InputError, match=r"\[0, 255\]"):
        as_float_rgb(img)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_raise(bad: float) -> None:
    img = np.full((3, 3, 3), 0.5, np.float32)
    img[1, 1, 1] = bad
    with pytest.raises(InputError, match="NaN or infinite"):
        as_float_rgb(img)


@pytest.mark.parametrize("shape", [(3, 3, 2), (3,), (2, 3, 3, 3), (0, 4, 3)])
def test_bad_shapes_raise(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError):
        as_float_rgb(np.zeros(shape, np.float32))


def test_split_alpha_keeps_alpha() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 3] = 51
    rgb, alpha = split_alpha(rgba)
    assert rgb.shape == (4, 4, 3)
    assert alpha is not None and alpha.shape == (4, 4)
    np.testing.assert_allclose(alpha, 0.2, rtol=1e-6)
    assert split_alpha(np.zeros((4, 4, 3), np.uint8))[1] is None


def test_to_uint8_rounds_and_clips() -> None:
    arr = np.array([-0.5, 0.0, 0.5 / 255, 1.6 / 255, 1.0, 2.0], np.float32)
    assert to_uint8(arr).tolist() == [0, 0, 0, 2, 255, 255]
    assert to_uint16(np.array([1.0], np.float32)).tolist() == [65535]


def test_tensor_round_trip_is_exact() -> None:
    img = np.random.default_rng(1).random((6, 9, 3), dtype=np.float32)
    tensor = to_tensor(img)
    assert tuple(tensor.shape) == (1, 3, 6, 9)
    assert tensor.dtype == torch.float32
    np.testing.assert_array_equal(from_tensor(tensor), img)


def test_from_tensor_rejects_batches() -> None:
    with pytest.raises(InputError):
        from_tensor(torch.zeros(2, 3, 4, 4))


def test_fit_long_side_never_upscales() -> None:
    assert fit_long_side((3000, 4000), 1000) == (750, 1000)
    assert fit_long_side((30, 40), 1000) == (30, 40)


def test_resize_keeps_range_and_mean() -> None:
    img = np.random.default_rng(2).random((64, 48, 3), dtype=np.float32)
    small = resize(img, (16, 12))
    assert small.shape == (16, 12, 3) and small.dtype == np.float32
    assert 0.0 <= small.min() and small.max() <= 1.0
    assert abs(float(small.mean()) - float(img.mean())) < 0.01
