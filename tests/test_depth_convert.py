"""Depth/disparity conversion, validation and resizing."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from easel.depth.convert import (
    DEFAULT_DEPTH_RANGE,
    check_aspect,
    check_depth_range,
    depth_to_disparity,
    disparity_to_depth,
    fill_invalid,
    rescale_depth,
    resize_depth,
    validate_depth,
)
from easel.errors import InputError

ranges = st.tuples(
    st.floats(0.01, 100.0, allow_nan=False, allow_infinity=False),
    st.floats(1.01, 1000.0, allow_nan=False, allow_infinity=False),
).map(lambda t: (t[0], t[0] * t[1]))


def test_default_range_is_documented_value():
    assert DEFAULT_DEPTH_RANGE == (1.0, 10.0)


def test_disparity_extremes_map_to_near_and_far():
    disp = np.array([[0.0, 0.5, 2.0]], np.float32)
    depth = disparity_to_depth(disp, (2.0, 20.0))
    assert depth.dtype == np.float32
    assert depth[0, 2] == pytest.approx(2.0)  # largest disparity -> near
    assert depth[0, 0] == pytest.approx(20.0)  # smallest -> far
    # in between, 1/depth is affine in disparity
    t = 0.25
    assert 1.0 / depth[0, 1] == pytest.approx(1 / 20 + t * (1 / 2 - 1 / 20), rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(ranges, st.floats(0.1, 50.0), st.floats(-5.0, 5.0), st.integers(0, 2**31 - 1))
def test_disparity_to_depth_is_affine_invariant_and_ordered(depth_range, scale, shift, seed):
    rng = np.random.default_rng(seed)
    disp = rng.random((6, 7))  # float64: the affine map itself must not lose precision
    disp[0, 0], disp[0, 1] = 0.0, 1.0
    a = disparity_to_depth(disp, depth_range)
    b = disparity_to_depth(disp * scale + shift, depth_range)
    np.testing.assert_allclose(a, b, rtol=1e-4)
    near, far = depth_range
    assert a.min() >= near * (1 - 1e-5) and a.max() <= far * (1 + 1e-5)
    order = np.argsort(disp.ravel(), kind="stable")
    assert np.all(np.diff(a.ravel()[order]) <= 1e-3 * far)  # more disparity, less depth


@settings(max_examples=40, deadline=None)
@given(ranges, st.integers(0, 2**31 - 1))
def test_depth_disparity_round_trip(depth_range, seed):
    rng = np.random.default_rng(seed)
    near, far = depth_range
    depth = (near + (far - near) * rng.random((5, 8))).astype(np.float32)
    depth[0, 0], depth[-1, -1] = near, far
    back = disparity_to_depth(depth_to_disparity(depth), (float(depth.min()), float(depth.max())))
    np.testing.assert_allclose(back, depth, rtol=1e-4)


def test_rescale_depth_keeps_inverse_depth_structure():
    depth = np.array([[1.0, 2.0, 4.0]], np.float32)
    out = rescale_depth(depth, (10.0, 40.0))
    assert out[0, 0] == pytest.approx(10.0) and out[0, 2] == pytest.approx(40.0)
    t = (1 / 2 - 1 / 4) / (1 / 1 - 1 / 4)
    assert 1 / out[0, 1] == pytest.approx(1 / 40 + t * (1 / 10 - 1 / 40), rel=1e-5)


@pytest.mark.parametrize(
    "bad",
    [(0.0, 1.0), (-1.0, 2.0), (5.0, 5.0), (10.0, 1.0), (1.0, float("inf")), (1.0,), (1.0, 2.0, 3.0), "a,b"],
)
def test_bad_depth_ranges(bad):
    with pytest.raises(InputError):
        check_depth_range(bad)


def test_constant_disparity_is_rejected():
    with pytest.raises(InputError, match="no parallax"):
        disparity_to_depth(np.full((4, 4), 0.3, np.float32))


def test_constant_depth_is_rejected():
    with pytest.raises(InputError, match="constant"):
        validate_depth(np.full((4, 4), 2.0))


def test_validate_fills_a_few_holes_with_a_warning(caplog):
    depth = np.tile(np.linspace(1.0, 5.0, 8, dtype=np.float32), (6, 1))
    depth[2, 3] = np.nan
    depth[4, 5] = -1.0
    depth[0, 0] = 0.0
    depth[1, 1] = np.inf
    with caplog.at_level(logging.WARNING, logger="easel.depth.convert"):
        out = validate_depth(depth, name="d.npy")
    assert np.isfinite(out).all() and (out > 0).all()
    assert out[2, 3] == pytest.approx(depth[2, 2]) or out[2, 3] == pytest.approx(depth[2, 4])
    assert "4 invalid depth values" in caplog.text


@pytest.mark.parametrize(
    ("fill", "match"),
    [(np.nan, "NaN"), (-2.0, "disparity"), (0.0, "zero")],
)
def test_validate_rejects_mostly_invalid(fill, match):
    depth = np.full((6, 6), fill, np.float32)
    depth[0, :2] = (1.0, 2.0)
    with pytest.raises(InputError, match=match):
        validate_depth(depth)


def test_validate_rejects_wrong_shapes_and_types():
    with pytest.raises(InputError):
        validate_depth(np.ones((2, 3, 3)))
    with pytest.raises(InputError):
        validate_depth(np.ones((0, 3)))
    with pytest.raises(InputError):
        validate_depth(np.array([["a", "b"]]))


def test_fill_invalid_uses_nearest_valid_pixel():
    values = np.array([[1.0, 0.0, 0.0, 9.0]], np.float32)
    out = fill_invalid(values, values == 0)
    assert out.tolist() == [[1.0, 1.0, 9.0, 9.0]]


def test_resize_same_aspect_and_wrong_aspect():
    depth = np.tile(np.linspace(1.0, 4.0, 16, dtype=np.float32), (12, 1))
    up = resize_depth(depth, (24, 32))
    assert up.shape == (24, 32) and up.dtype == np.float32
    assert up.min() >= 1.0 - 1e-5 and up.max() <= 4.0 + 1e-5
    down = resize_depth(depth, (6, 8))
    assert down.shape == (6, 8)
    assert resize_depth(depth, (12, 16)) is depth
    with pytest.raises(InputError, match="aspect"):
        resize_depth(depth, (16, 16))


def test_check_aspect_tolerates_rounding():
    check_aspect((480, 640), (361, 480))  # 360 expected, one pixel off
    with pytest.raises(InputError):
        check_aspect((480, 640), (480, 480))


def test_depth_to_disparity_rejects_non_positive():
    with pytest.raises(InputError):
        depth_to_disparity(np.array([[1.0, 0.0]]))
