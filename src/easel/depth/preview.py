"""Colour-mapped previews of depth maps (near = warm and bright)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from easel.depth.convert import depth_to_disparity
from easel.image import FloatImage


def colorize_depth(depth: ArrayLike) -> FloatImage:
    """A colour preview of a depth map: near is bright yellow, far is dark purple.

    Inverse depth (what parallax follows) is normalized to [0, 1] over the
    map and colour-mapped with *inferno*, so equal colour steps are equal
    parallax steps.

    Args:
        depth: ``(H, W)`` depth, finite and > 0 (larger = farther).

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Raises:
        InputError: invalid depth (non-finite or non-positive values).

    Example:
        >>> colorize_depth(np.array([[1.0, 10.0]])).shape
        (1, 2, 3)
    """
    import cv2

    inv = depth_to_disparity(depth).astype(np.float64)
    lo, hi = float(inv.min()), float(inv.max())
    t = (inv - lo) / (hi - lo) if hi > lo else np.ones_like(inv)
    gray = np.clip(np.rint(t * 255.0), 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)
    return np.ascontiguousarray(bgr[:, :, ::-1], dtype=np.float32) / np.float32(255.0)
