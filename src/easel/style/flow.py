"""Optical flow for video style transfer: flow, warping and the consistency mask (Ruder et al.).

:func:`optical_flow` estimates dense flow between two frames with OpenCV's
DIS (the default; fast and accurate enough at video sizes) or Farneback (the
fallback, in every OpenCV build). :func:`warp` moves an image along a flow,
and :func:`consistency_mask` marks the pixels where warping can be trusted:
not disoccluded (the forward and backward flows disagree) and not on a motion
boundary, the two tests of Ruder et al. 2016 (after Sundaram et al. 2010).
:func:`flow_link` bundles all three for one pair of frames.

Flow convention: ``flow[y, x] = (u, v)`` says that the pixel at ``(x, y)`` of
the *first* image is at ``(x + u, y + v)`` in the second, in pixels of the
images' size. ``warp(image, flow)`` samples ``image`` at ``(x + u, y + v)``:
with ``flow = optical_flow(current, previous)`` it brings the previous frame
(or its stylization) to the current one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from easel.image import FloatImage, as_float_rgb

__all__ = [
    "FLOW_METHODS",
    "FlowLink",
    "consistency_mask",
    "flow_link",
    "optical_flow",
    "warp",
    "warping_error",
]

FLOW_METHODS = ("dis", "farneback")
"""Flow estimators: OpenCV's DIS (default) and Farneback (fallback)."""

FlowField = NDArray[np.float32]
"""``(H, W, 2)`` float32: ``(u, v)`` displacement in pixels of each pixel of the first image."""


def _gray(image: FloatImage) -> NDArray[np.uint8]:
    rgb = as_float_rgb(image, name="frame")
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(gray * 255.0), 0, 255).astype(np.uint8)


def optical_flow(first: FloatImage, second: FloatImage, method: str = "dis") -> FlowField:
    """Dense optical flow from ``first`` to ``second``.

    Args:
        first: ``(H, W, 3)`` float32 RGB in [0, 1] (uint8 accepted).
        second: the same shape.
        method: ``"dis"`` (OpenCV DIS, medium preset) or ``"farneback"``.

    Returns:
        ``(H, W, 2)`` float32: pixel ``(x, y)`` of ``first`` is at ``(x + u, y + v)`` in ``second``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> scene = rng.random((8, 8, 3)).repeat(8, 0).repeat(8, 1).astype(np.float32)
        >>> flow = optical_flow(scene[:, 4:60], scene[:, 0:56])  # the view moved 4 px left
        >>> round(float(np.median(flow[..., 0])))
        4
    """
    if method not in FLOW_METHODS:
        raise ValueError(f"flow method must be one of {', '.join(FLOW_METHODS)}, got {method!r}")
    import cv2

    a, b = _gray(first), _gray(second)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in shape: {a.shape} and {b.shape}")
    if method == "dis" and hasattr(cv2, "DISOpticalFlow_create"):
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(a, b, None)
    else:
        levels = max(1, min(5, int(np.log2(max(2, min(a.shape) // 8)))))
        start = np.zeros((*a.shape, 2), np.float32)
        flow = cv2.calcOpticalFlowFarneback(a, b, start, 0.5, levels, 15, 3, 5, 1.2, 0)
    return np.ascontiguousarray(flow, dtype=np.float32)


def _sample_grid(flow: FlowField) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: NDArray[np.float32], flow: FlowField, interpolation: str = "linear") -> NDArray[np.float32]:
    """Sample ``image`` at ``(x + u, y + v)`` for every pixel ``(x, y)`` (edges repeated).

    Args:
        image: ``(H, W, C)`` or ``(H, W)`` float32 (an image, a mask or a flow field).
        flow: ``(H, W, 2)`` float32 from :func:`optical_flow` of the target frame to ``image``'s frame.
        interpolation: ``"linear"`` (bilinear) or ``"cubic"`` (bicubic: sharper, so a
            frame warped again and again keeps its fine texture; it may overshoot [0, 1]).

    Returns:
        ``image`` moved to the target frame, same shape and dtype.

    Example:
        >>> ramp = np.tile(np.arange(6, dtype=np.float32), (3, 1))
        >>> shift = np.zeros((3, 6, 2), np.float32); shift[..., 0] = -1  # each pixel comes from 1 px left
        >>> warp(ramp, shift)[0].tolist()
        [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    """
    import cv2

    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in shape")
    map_x, map_y = _sample_grid(flow)
    src = np.ascontiguousarray(image, dtype=np.float32)
    if interpolation not in ("linear", "cubic"):
        raise ValueError(f"interpolation must be 'linear' or 'cubic', got {interpolation!r}")
    mode = cv2.INTER_CUBIC if interpolation == "cubic" else cv2.INTER_LINEAR
    out = cv2.remap(src, map_x, map_y, interpolation=mode, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape).astype(np.float32, copy=False)


def consistency_mask(backward: FlowField, forward: FlowField) -> NDArray[np.float32]:
    """Where a warp from the previous frame can be trusted: 1, else 0 (Ruder et al., eq. 5-6).

    A pixel is masked out when the two flows disagree (disocclusion:
    ``|ŵ + w̃|² > 0.01 (|ŵ|² + |w̃|²) + 0.5``, ``w̃`` the forward flow at the
    pixel's source), when it lies on a motion boundary (``|∇u|² + |∇v|² >
    0.01 |ŵ|² + 0.002``) or when its source is outside the previous frame.

    Args:
        backward: ``(H, W, 2)`` flow from the current frame to the previous one (``ŵ``).
        forward: ``(H, W, 2)`` flow from the previous frame to the current one (``w``).

    Returns:
        ``(H, W)`` float32 in {0, 1}, at the current frame.

    Example:
        >>> still = np.zeros((4, 4, 2), np.float32)
        >>> consistency_mask(still, still).min()
        np.float32(1.0)
    """
    h, w = backward.shape[:2]
    forward_at_source = warp(forward, backward)
    total = forward_at_source + backward
    disagree = (total**2).sum(axis=2) > 0.01 * (
        (forward_at_source**2).sum(axis=2) + (backward**2).sum(axis=2)
    ) + 0.5
    du_y, du_x = np.gradient(backward[..., 0])
    dv_y, dv_x = np.gradient(backward[..., 1])
    boundary = du_x**2 + du_y**2 + dv_x**2 + dv_y**2 > 0.01 * (backward**2).sum(axis=2) + 0.002
    sx, sy = _sample_grid(backward)
    outside = (sx < -0.5) | (sx > w - 0.5) | (sy < -0.5) | (sy > h - 0.5)
    return (~(disagree | boundary | outside)).astype(np.float32)


@dataclass(frozen=True)
class FlowLink:
    """How one frame follows an earlier one: the backward flow and where it holds.

    Attributes:
        flow: ``(H, W, 2)`` flow from the current frame to the earlier one (for :func:`warp`).
        mask: ``(H, W)`` float32 in {0, 1}: 1 where the warped earlier frame can be trusted.

    Example:
        >>> link = flow_link(frame0, frame1)  # doctest: +SKIP
        >>> warped = warp(styled0, link.flow); link.overlap  # doctest: +SKIP
        0.93
    """

    flow: FlowField
    mask: NDArray[np.float32]

    @property
    def outside(self) -> NDArray[np.bool_]:
        """``(H, W)`` bool: pixels whose source lies outside the earlier frame (they entered the view)."""
        h, w = self.flow.shape[:2]
        sx, sy = _sample_grid(self.flow)
        return (sx < -0.5) | (sx > w - 0.5) | (sy < -0.5) | (sy > h - 0.5)

    @property
    def overlap(self) -> float:
        """The fraction of the current frame the earlier one covers consistently (0-1)."""
        return float(self.mask.mean())


def flow_link(earlier: FloatImage, current: FloatImage, method: str = "dis") -> FlowLink:
    """Backward and forward flow between two frames and their consistency mask.

    Args:
        earlier: ``(H, W, 3)`` float32 RGB in [0, 1], an earlier frame.
        current: the current frame, same shape.
        method: ``"dis"`` or ``"farneback"``.

    Returns:
        A :class:`FlowLink` at ``current``'s pixels.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> scene = rng.random((8, 8, 3)).repeat(8, 0).repeat(8, 1).astype(np.float32)
        >>> link = flow_link(scene[:, 0:56], scene[:, 4:60])
        >>> link.overlap > 0.8
        True
    """
    backward = optical_flow(current, earlier, method)
    forward = optical_flow(earlier, current, method)
    return FlowLink(backward, consistency_mask(backward, forward))


def warping_error(
    earlier: NDArray[np.float32], current: NDArray[np.float32], flow: FlowField, mask: NDArray[np.float32]
) -> float:
    """Mean absolute colour difference between ``current`` and ``earlier`` warped by ``flow``, inside ``mask``.

    The flicker measure of video style transfer: with the true motion, a
    temporally consistent stylization scores near 0 and independent frames high.

    Args:
        earlier: ``(H, W, 3)`` float32 in [0, 1], the earlier (stylized) frame.
        current: ``(H, W, 3)`` float32 in [0, 1], the current one.
        flow: ``(H, W, 2)`` flow from the current frame to the earlier one.
        mask: ``(H, W)`` in [0, 1], the pixels to count (not occluded).

    Returns:
        The mean over masked pixels and channels, in [0, 1] units (``nan`` when the mask is empty).

    Example:
        >>> still = np.zeros((4, 4, 2), np.float32)
        >>> warping_error(np.zeros((4, 4, 3), np.float32), np.ones((4, 4, 3), np.float32), still, np.ones((4, 4)))
        1.0
    """
    diff = np.abs(warp(earlier, flow) - current).mean(axis=2)
    weight = float(mask.sum())
    return float((diff * mask).sum() / weight) if weight > 0 else float("nan")
