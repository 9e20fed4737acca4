"""Edge-aware refinement: snap depth edges to colour edges.

Network depth is predicted at a low resolution (518 px for Depth Anything)
and upsampled, so depth edges are soft and may sit a few pixels off the
object's outline. A renderer then drags background colour onto foreground
depth ("halos") and stretches triangles across the soft ramp. The
refinement replaces each disparity by the *weighted median* of its
neighbourhood, weighting neighbours by how similar their colour is
(``cv2.ximgproc.weightedMedianFilter``): a pixel takes the disparity of the
pixels that look like it, so a blurred ramp between a foreground and a
background of different colours becomes a step exactly on the colour edge,
while smooth slopes (floors, walls) stay smooth -- the median of a ramp is
the ramp.

Guided and joint-bilateral filters were measured on a blurred step and
*widen* it (they average the blurred values of the same side); the weighted
median restores it (``tests/test_depth_refine.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from easel.depth.convert import DepthMap, DisparityMap, depth_to_disparity
from easel.errors import InputError
from easel.image import as_float_rgb, to_uint8


def default_radius(shape: tuple[int, int]) -> int:
    """The default window radius: 1 % of the long side, at least 4 pixels.

    Depth Anything predicts at about 518 px, so its soft edges span a few
    pixels at that scale and proportionally more on larger photos.

    Example:
        >>> default_radius((768, 1024)), default_radius((100, 100))
        (10, 4)
    """
    return max(4, round(0.01 * max(shape)))


def refine_disparity(
    disparity: ArrayLike,
    image: ArrayLike,
    radius: int | None = None,
    sigma: float = 25.5,
) -> DisparityMap:
    """Align the edges of a disparity map with the colour edges of ``image``.

    Args:
        disparity: ``(H, W)`` disparity (relative or metric; larger = nearer).
        image: ``(H, W, 3)`` RGB float in [0, 1] (or uint8), the same size.
        radius: window radius in pixels; edges blurred over more than about
            this many pixels are only partly restored. Default
            :func:`default_radius` (1 % of the long side, at least 4).
        sigma: colour similarity scale in 8-bit levels (larger = colour
            matters less).

    Returns:
        ``(H, W)`` float32 disparity within the input's range.

    Raises:
        InputError: shapes differ, or the disparity is not finite.

    Example:
        >>> img = np.zeros((32, 32, 3), np.float32); img[:, 16:] = 1.0
        >>> disp = np.tile(np.linspace(1.0, 0.0, 32, dtype=np.float32), (32, 1))
        >>> refine_disparity(disp, img, radius=8).shape
        (32, 32)
    """
    import cv2

    disp = np.asarray(disparity, dtype=np.float32)
    rgb = as_float_rgb(image)
    if disp.ndim != 2 or disp.shape != rgb.shape[:2]:
        raise InputError(f"disparity {disp.shape} and image {rgb.shape[:2]} must have the same size")
    if not np.isfinite(disp).all():
        raise InputError("disparity must be finite to refine it")
    r = default_radius(disp.shape) if radius is None else int(radius)
    if r < 1:
        raise InputError(f"refinement radius must be >= 1, got {r}")
    lo, hi = float(disp.min()), float(disp.max())
    if hi <= lo:
        return disp.copy()
    t = ((disp - lo) / (hi - lo)).astype(np.float32)
    guide = np.ascontiguousarray(to_uint8(rgb))
    # The filter quantizes the guide's colours with OpenCV's (thread-local) RNG: seed it so
    # the result is reproducible.
    cv2.setRNGSeed(0)
    out = cv2.ximgproc.weightedMedianFilter(guide, t, r, sigma=float(sigma))
    out = np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
    return (lo + out * (hi - lo)).astype(np.float32)


def refine_depth(
    depth: ArrayLike,
    image: ArrayLike,
    radius: int | None = None,
    sigma: float = 25.5,
) -> DepthMap:
    """:func:`refine_disparity` for depth: filters ``1 / depth`` and converts back.

    Args:
        depth: ``(H, W)`` depth, finite and > 0.
        image: ``(H, W, 3)`` RGB in [0, 1], the same size.
        radius: window radius in pixels (default 1 % of the long side, at least 4).
        sigma: colour similarity scale in 8-bit levels.

    Returns:
        ``(H, W)`` float32 depth within the input's range.

    Example:
        >>> img = np.zeros((16, 16, 3), np.float32)
        >>> bool(refine_depth(np.full((16, 16), 2.0) + np.eye(16), img).min() >= 2.0)
        True
    """
    inv = depth_to_disparity(depth)
    refined = refine_disparity(inv, image, radius=radius, sigma=sigma)
    return (1.0 / np.maximum(refined, float(inv.min()))).astype(np.float32)
