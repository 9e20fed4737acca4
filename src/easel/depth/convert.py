"""Depth and disparity: conversions, validation, resizing.

Two quantities, never mixed up:

- **depth** (:data:`DepthMap`): distance along the camera's optical axis, in
  scene units (metres for metric sources, otherwise the arbitrary units set by
  a depth range). Positive; larger is farther.
- **disparity** (:data:`DisparityMap`): proportional to ``1 / depth``; larger
  is nearer. Monocular networks (Depth Anything, MiDaS/DPT) predict *relative*
  (affine-invariant) disparity: ``disparity = a / depth + b`` for an unknown
  scale ``a > 0`` and shift ``b``.

Relative disparity becomes depth through a **depth range** ``(near, far)``:
the largest disparity maps to ``near``, the smallest to ``far``, and values in
between are affine in inverse depth, which is exactly the family of maps the
network cannot tell apart. The default range is :data:`DEFAULT_DEPTH_RANGE`,
``(1, 10)`` scene units: the nearest pixel is one unit from the camera and the
farthest ten. A wider ratio ``far / near`` gives more parallax between near and
far objects; scaling both by the same factor scales the scene (and so the
effect of a camera translation).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError

log = logging.getLogger(__name__)

DepthMap = NDArray[np.float32]
"""``(H, W)`` float32 depth: distance along the optical axis, > 0, larger = farther."""
DisparityMap = NDArray[np.float32]
"""``(H, W)`` float32 disparity, proportional to ``1 / depth`` (relative or metric); larger = nearer."""

DEFAULT_DEPTH_RANGE: tuple[float, float] = (1.0, 10.0)
"""``(near, far)`` in scene units used when relative disparity is turned into depth."""

MAX_INVALID_FRACTION = 0.5
"""Depth maps with more invalid (NaN, infinite, zero or negative) pixels than this are rejected."""

_FLAT_RTOL = 1e-6


def check_depth_range(
    depth_range: tuple[float, float] | ArrayLike, name: str = "depth range"
) -> tuple[float, float]:
    """Validate ``(near, far)``: two finite numbers with ``0 < near < far``.

    Returns:
        ``(near, far)`` as Python floats.

    Raises:
        InputError: wrong length, non-finite, non-positive, or ``near >= far``.

    Example:
        >>> check_depth_range((1, 10))
        (1.0, 10.0)
    """
    try:
        values = [float(v) for v in np.asarray(depth_range, dtype=np.float64).ravel()]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be two numbers near,far; got {depth_range!r}") from None
    if len(values) != 2:
        raise InputError(f"{name} must be two numbers near,far; got {len(values)} values")
    near, far = values
    if not (math.isfinite(near) and math.isfinite(far)):
        raise InputError(f"{name} must be finite; got {near:g},{far:g}")
    if near <= 0:
        raise InputError(
            f"{name}: near must be > 0 (depth is a distance in front of the camera); got {near:g}"
        )
    if far <= near:
        raise InputError(f"{name}: far must be larger than near; got near={near:g}, far={far:g}")
    return near, far


def _as_2d(array: ArrayLike, name: str, dtype: type[np.floating[Any]] = np.float32) -> NDArray[Any]:
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise InputError(f"{name} must have shape (H, W); got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InputError(f"{name} must hold numbers; got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


def _check_not_flat(values: NDArray[Any], name: str) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    if not (hi - lo) > _FLAT_RTOL * max(abs(hi), abs(lo)):
        raise InputError(
            f"{name} is constant ({lo:g} everywhere): a flat depth map has no parallax; "
            "check the file, or estimate depth from the image instead"
        )
    return lo, hi


def fill_invalid(values: NDArray[np.float32], invalid: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Replace ``values[invalid]`` with the value of the nearest valid pixel.

    Args:
        values: ``(H, W)`` float32 array.
        invalid: ``(H, W)`` bool mask of the pixels to replace; some pixel must be valid.

    Returns:
        A new ``(H, W)`` float32 array.

    Example:
        >>> a = np.array([[1.0, np.nan], [3.0, 4.0]], np.float32)
        >>> fill_invalid(a, np.isnan(a))[0, 1] in (1.0, 4.0)
        True
    """
    from scipy import ndimage

    if not invalid.any():
        return values.copy()
    _, (rows, cols) = ndimage.distance_transform_edt(invalid, return_indices=True)
    return np.ascontiguousarray(values[rows, cols], dtype=np.float32)


def validate_depth(
    depth: ArrayLike,
    name: str = "depth",
    max_invalid_fraction: float = MAX_INVALID_FRACTION,
) -> DepthMap:
    """Check a depth map and fill its holes.

    NaN, infinite, zero and negative values are *holes*. When they are at most
    ``max_invalid_fraction`` of the pixels they are filled with the nearest
    valid depth and a warning is logged; otherwise the map is rejected. A map
    whose valid values are all equal is rejected too: it has no parallax.

    Args:
        depth: ``(H, W)`` (or ``(H, W, 1)``) depth, any float or integer dtype.
        name: what to call it in messages (a file name).
        max_invalid_fraction: largest accepted fraction of holes, in [0, 1].

    Returns:
        ``(H, W)`` float32 depth, finite and > 0 everywhere.

    Raises:
        InputError: wrong shape, too many holes, or a constant map.

    Example:
        >>> float(validate_depth(np.array([[1.0, 2.0], [0.0, 4.0]])).min())
        1.0
    """
    arr = _as_2d(depth, name)
    finite = np.isfinite(arr)
    invalid = ~finite | (arr <= 0)
    count = int(invalid.sum())
    if count:
        fraction = count / invalid.size
        if fraction > max_invalid_fraction:
            n_nan = int((~finite).sum())
            n_neg = int((finite & (arr < 0)).sum())
            n_zero = count - n_nan - n_neg
            hint = ""
            if n_neg > count // 2:
                hint = " (negative values: is this disparity? use --depth-kind disparity)"
            raise InputError(
                f"{name}: {fraction:.0%} of the depth values are invalid "
                f"({n_nan} NaN/infinite, {n_zero} zero, {n_neg} negative){hint}; "
                f"depth must be a positive distance"
            )
        log.warning(
            "%s: %d invalid depth values (NaN, infinite, zero or negative; %.1f%% of pixels) "
            "were filled from their nearest valid neighbours",
            name,
            count,
            100.0 * fraction,
        )
        arr = fill_invalid(arr, invalid)
    _check_not_flat(arr, name)
    return np.ascontiguousarray(arr, dtype=np.float32)


def disparity_to_depth(
    disparity: ArrayLike,
    depth_range: tuple[float, float] = DEFAULT_DEPTH_RANGE,
    *,
    name: str = "disparity",
) -> DepthMap:
    """Turn relative disparity into depth spanning ``depth_range``.

    The largest disparity becomes ``near``, the smallest ``far``; in between,
    ``1 / depth`` is affine in disparity (the ambiguity of relative disparity)::

        t = (disparity - min) / (max - min)            # 0 = farthest, 1 = nearest
        depth = 1 / (1 / far + t * (1 / near - 1 / far))

    Args:
        disparity: ``(H, W)`` relative disparity (any affine scale and shift),
            larger = nearer. NaN/infinite pixels are filled from their
            neighbours (rejected when more than half of them).
        depth_range: ``(near, far)`` with ``0 < near < far``, in scene units.
        name: what to call the input in messages.

    Returns:
        ``(H, W)`` float32 depth in ``[near, far]``.

    Raises:
        InputError: a bad range, too many non-finite values, or constant disparity.

    Example:
        >>> d = disparity_to_depth(np.array([[0.0, 1.0]]), (1.0, 10.0))
        >>> d.tolist()
        [[10.0, 1.0]]
    """
    near, far = check_depth_range(depth_range)
    arr = _as_2d(disparity, name, np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        fraction = 1.0 - finite.mean()
        if fraction > MAX_INVALID_FRACTION:
            raise InputError(f"{name}: {fraction:.0%} of the values are NaN or infinite")
        log.warning(
            "%s: %d NaN/infinite values were filled from their neighbours", name, int((~finite).sum())
        )
        arr = fill_invalid(arr.astype(np.float32), ~finite).astype(np.float64)
    lo, hi = _check_not_flat(arr, name)
    t = (arr - lo) / (hi - lo)
    inv = 1.0 / far + np.clip(t, 0.0, 1.0) * (1.0 / near - 1.0 / far)
    return np.clip(1.0 / inv, near, far).astype(np.float32)


def depth_to_disparity(depth: ArrayLike) -> DisparityMap:
    """``1 / depth``: metric disparity in inverse scene units (larger = nearer).

    :func:`disparity_to_depth` inverts it up to the depth range:
    ``disparity_to_depth(depth_to_disparity(d), (d.min(), d.max()))`` equals ``d``.

    Args:
        depth: ``(H, W)`` depth, > 0.

    Returns:
        ``(H, W)`` float32 disparity.

    Raises:
        InputError: non-positive or non-finite depth.

    Example:
        >>> depth_to_disparity(np.array([[2.0, 4.0]])).tolist()
        [[0.5, 0.25]]
    """
    arr = _as_2d(depth, "depth")
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise InputError("depth must be finite and > 0 everywhere to convert it to disparity")
    return (1.0 / arr.astype(np.float64)).astype(np.float32)


def rescale_depth(depth: ArrayLike, depth_range: tuple[float, float]) -> DepthMap:
    """Map a depth map onto ``depth_range``, keeping its inverse-depth (parallax) structure.

    The nearest pixel becomes ``near`` and the farthest ``far``; ``1 / depth``
    is transformed affinely, so relative parallax is kept.

    Example:
        >>> rescale_depth(np.array([[2.0, 4.0]]), (1.0, 2.0)).tolist()
        [[1.0, 2.0]]
    """
    return disparity_to_depth(depth_to_disparity(depth), depth_range, name="depth")


def depth_range_of(depth: ArrayLike) -> tuple[float, float]:
    """``(min, max)`` of a depth map, as floats.

    Example:
        >>> depth_range_of(np.array([[1.0, 4.0]], np.float32))
        (1.0, 4.0)
    """
    arr = np.asarray(depth)
    return float(arr.min()), float(arr.max())


def check_aspect(
    src: tuple[int, int], dst: tuple[int, int], name: str = "depth", tolerance: float = 0.02
) -> None:
    """Raise when ``src`` and ``dst`` ``(height, width)`` shapes differ in aspect ratio.

    Shapes that differ by rounding (at most one pixel after scaling) or by less
    than ``tolerance`` (relative) are accepted.

    Raises:
        InputError: the aspect ratios differ.

    Example:
        >>> check_aspect((480, 640), (361, 480))  # 360 expected: one pixel of rounding is fine
        >>> check_aspect((480, 640), (480, 480))
        Traceback (most recent call last):
        ...
        easel.errors.InputError: depth is 640x480 but the image is 480x480: the aspect ratios differ (1.333 vs 1.000); the depth map must cover the same view as the image
    """
    (sh, sw), (dh, dw) = src, dst
    expected_h = sh * dw / sw
    if abs(expected_h - dh) <= 1.0 or abs(expected_h - dh) <= tolerance * dh:
        return
    raise InputError(
        f"{name} is {sw}x{sh} but the image is {dw}x{dh}: the aspect ratios differ "
        f"({sw / sh:.3f} vs {dw / dh:.3f}); the depth map must cover the same view as the image"
    )


def resize_depth(depth: DepthMap, shape: tuple[int, int], name: str = "depth") -> DepthMap:
    """Resize depth to ``(height, width)`` (same aspect ratio), interpolating ``1 / depth``.

    Interpolating disparity rather than depth keeps the parallax of a
    boundary pixel between those of its neighbours, as a renderer sees it.

    Raises:
        InputError: a different aspect ratio, or an empty shape.

    Example:
        >>> resize_depth(np.full((4, 6), 2.0, np.float32), (2, 3)).tolist()
        [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """
    import cv2

    height, width = shape
    if height < 1 or width < 1:
        raise InputError(f"cannot resize {name} to {width}x{height}")
    src = depth.shape[:2]
    if src == (height, width):
        return depth
    check_aspect(src, (height, width), name)
    inv = (1.0 / depth).astype(np.float32)
    shrinking = height * width < src[0] * src[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    out = cv2.resize(inv, (width, height), interpolation=interp)
    lo, hi = float(inv.min()), float(inv.max())
    return (1.0 / np.clip(out, lo, hi)).astype(np.float32)
