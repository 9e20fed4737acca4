"""Hole filling behind one interface: classical (OpenCV Telea / Navier-Stokes) or learned (LaMa).

An :class:`Inpainter` fills the masked pixels of an image. :func:`fill_holes`
makes any inpainter **background-aware** for disocclusions: the pixels a
moving camera newly sees lie behind the foreground, so their colour and
depth must come from the background side of the hole only. Foreground pixels
near the hole (nearer than the farthest depth around them) are hidden from
the inpainter, which then draws only on the background; the hole's depth is
filled the same way.

Example:
    >>> filled, depth = fill_holes(image, holes, depth, get_inpainter("telea"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from easel.errors import InputError
from easel.image import FloatImage

log = logging.getLogger(__name__)

INPAINT_METHODS = ("telea", "ns", "lama")


class Inpainter(Protocol):
    """Fills the pixels of ``mask`` in ``image``.

    ``__call__(image, mask)``: ``image`` is ``(H, W, 3)`` float32 RGB in [0, 1],
    ``mask`` ``(H, W)`` bool (True = fill); returns a new ``(H, W, 3)`` float32
    image whose unmasked pixels equal the input's.

    Example:
        >>> fill: Inpainter = get_inpainter("telea")
        >>> img = np.full((8, 8, 3), 0.5, np.float32); mask = np.zeros((8, 8), bool); mask[3:5, 3:5] = True
        >>> fill(img, mask).shape
        (8, 8, 3)
    """

    @property
    def name(self) -> str: ...

    def __call__(self, image: FloatImage, mask: NDArray[np.bool_]) -> FloatImage: ...


@dataclass
class OpenCVInpainter:
    """Classical inpainting with OpenCV: Telea's fast marching or Navier-Stokes.

    Args:
        method: ``"telea"`` or ``"ns"``.
        radius: neighbourhood radius in pixels.

    Example:
        >>> img = np.full((8, 8, 3), 0.5, np.float32); mask = np.zeros((8, 8), bool); mask[3:5, 3:5] = True
        >>> float(abs(OpenCVInpainter()(img, mask) - 0.5).max()) < 0.01
        True
    """

    method: Literal["telea", "ns"] = "telea"
    radius: float = 4.0

    @property
    def name(self) -> str:
        return self.method

    def __call__(self, image: FloatImage, mask: NDArray[np.bool_]) -> FloatImage:
        import cv2

        flag = cv2.INPAINT_TELEA if self.method == "telea" else cv2.INPAINT_NS
        out = image.copy()
        box = mask_bbox(mask, int(self.radius) + 2)
        if box is None:
            return out
        sl = (slice(box[0], box[1]), slice(box[2], box[3]))
        m8 = mask[sl].astype(np.uint8)
        src = np.clip(np.rint(image[sl] * 255.0), 0, 255).astype(np.uint8)
        filled = cv2.inpaint(src, m8, self.radius, flag).astype(np.float32) / np.float32(255.0)
        out[sl][mask[sl]] = filled[mask[sl]]
        return out

    def fill_float(self, values: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float32]:
        """Fill a one-channel float32 map (e.g. depth) the same way."""
        import cv2

        flag = cv2.INPAINT_TELEA if self.method == "telea" else cv2.INPAINT_NS
        out = values.copy()
        box = mask_bbox(mask, int(self.radius) + 2)
        if box is None:
            return out
        sl = (slice(box[0], box[1]), slice(box[2], box[3]))
        src = np.where(mask[sl], 0.0, values[sl]).astype(np.float32)
        filled = cv2.inpaint(src, mask[sl].astype(np.uint8), self.radius, flag)
        out[sl][mask[sl]] = filled[mask[sl]]
        return out


class LamaInpainter:
    """LaMa (big-lama TorchScript) through the weights registry (``easel weights download big-lama``).

    Args:
        weights: a local ``big-lama.pt``; default: the cached registry file.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` ...

    Raises:
        WeightsError: the weights are not cached and no path was given.

    Example:
        >>> fill = LamaInpainter(device="cpu")  # needs `easel weights download big-lama`  # doctest: +SKIP
        >>> fill(image, holes).shape  # doctest: +SKIP
        (768, 1024, 3)
    """

    @property
    def name(self) -> str:
        return "lama"

    def __init__(self, weights: str | os.PathLike[str] | None = None, device: str = "auto") -> None:
        import torch

        from easel import weights as registry
        from easel.devices import resolve_device

        path = registry.resolve("big-lama", override=weights)
        self.device = resolve_device(device)
        try:
            with warnings.catch_warnings():
                # big-lama ships as TorchScript, which torch marks deprecated
                warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
                self.model: Any = torch.jit.load(str(path), map_location=self.device).eval()
        except (RuntimeError, ValueError) as exc:
            raise InputError(f"{path}: not a LaMa TorchScript file ({exc})") from None

    def __call__(self, image: FloatImage, mask: NDArray[np.bool_]) -> FloatImage:
        import torch

        if not mask.any():
            return image.copy()
        h, w = mask.shape
        ph, pw = (-h) % 8, (-w) % 8
        img = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        msk = np.pad(mask, ((0, ph), (0, pw)), mode="reflect")
        with torch.inference_mode():
            t_img = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].to(self.device)
            t_msk = torch.from_numpy(msk.astype(np.float32))[None, None].to(self.device)
            res = self.model(t_img, t_msk)
        arr = res[0].permute(1, 2, 0).float().cpu().numpy()[:h, :w]
        if arr.max() > 1.5:  # the common export returns 0..255
            arr = arr / 255.0
        out = image.copy()
        out[mask] = np.clip(arr[mask], 0.0, 1.0)
        return out


def get_inpainter(
    method: str = "telea",
    weights: str | os.PathLike[str] | None = None,
    device: str = "auto",
    radius: float = 4.0,
) -> Inpainter:
    """The inpainter called ``method`` (``telea``, ``ns`` or ``lama``).

    Example:
        >>> get_inpainter("ns").name
        'ns'
    """
    if method in ("telea", "ns"):
        return OpenCVInpainter("telea" if method == "telea" else "ns", radius)
    if method == "lama":
        return LamaInpainter(weights, device)
    raise InputError(f"unknown inpainting method {method!r}; choose one of {', '.join(INPAINT_METHODS)}")


def mask_bbox(mask: NDArray[np.bool_], margin: int) -> tuple[int, int, int, int] | None:
    """``(row0, row1, col0, col1)`` of the ``True`` pixels grown by ``margin`` (clipped), or ``None``.

    Example:
        >>> m = np.zeros((5, 5), bool); m[2, 3] = True
        >>> mask_bbox(m, 1)
        (1, 4, 2, 5)
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        max(int(rows[0]) - margin, 0),
        min(int(rows[-1]) + margin + 1, h),
        max(int(cols[0]) - margin, 0),
        min(int(cols[-1]) + margin + 1, w),
    )


def hole_thickness(holes: NDArray[np.bool_]) -> float:
    """Half the width of the thickest hole: the largest distance from a hole pixel to its rim.

    Example:
        >>> holes = np.zeros((7, 9), bool); holes[2:5, 2:7] = True  # a 3-pixel-tall hole
        >>> round(hole_thickness(holes))  # the middle row is 2 pixels from the rim
        2
    """
    import cv2

    box = mask_bbox(holes, 1)
    if box is None:
        return 0.0
    crop = holes[box[0] : box[1], box[2] : box[3]].astype(np.uint8)
    return float(cv2.distanceTransform(np.pad(crop, 1), cv2.DIST_L2, 3).max())


def background_depth(
    holes: NDArray[np.bool_],
    depth: NDArray[np.float32],
    window: int | None = None,
    ratio: float = 1.05,
) -> NDArray[np.float32]:
    """Depth with each hole pixel taken from the nearest *background* pixel of the hole's rim.

    The rim is the known pixels touching a hole; a rim pixel is background
    when it is within ``ratio`` of the farthest rim depth in a ``window`` x
    ``window`` neighbourhood (the far side of the occlusion edge).

    Args:
        holes: ``(H, W)`` bool.
        depth: ``(H, W)`` float32 depth (any value in holes).
        window: neighbourhood size in pixels for "farthest nearby"; default
            from the holes' thickness (:func:`hole_thickness`).
        ratio: depth ratio that separates foreground from background.

    Returns:
        ``(H, W)`` float32: ``depth`` outside holes, background depth inside.

    Example:
        >>> holes = np.zeros((5, 7), bool); holes[1:4, 2:5] = True
        >>> depth = np.full((5, 7), 2.0, np.float32); depth[:, 5:] = 8.0  # near on the left, far on the right
        >>> float(background_depth(holes, depth)[2, 3])  # the hole takes the far side's depth
        8.0
    """
    import cv2
    from scipy import ndimage

    out = np.array(depth, dtype=np.float32, copy=True)
    if window is None:
        window = int(min(4 * hole_thickness(holes) + 3, 127)) | 1
    box = mask_bbox(holes, window + 2)
    if box is None:
        return out
    sl = (slice(box[0], box[1]), slice(box[2], box[3]))
    h = holes[sl]
    d = np.where(h | ~np.isfinite(depth[sl]), 0.0, depth[sl]).astype(np.float32)
    rim = cv2.dilate(h.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~h & (d > 0)
    if not rim.any():
        out[sl][h] = (
            1.0
            if not np.isfinite(depth).any()
            else float(np.nanmax(np.where(np.isfinite(depth), depth, np.nan)))
        )
        return out
    rim_d = np.where(rim, d, 0.0).astype(np.float32)
    local_far = cv2.dilate(rim_d, np.ones((window, window), np.uint8))
    seeds = rim & (d * np.float32(ratio) >= local_far)
    _, (rows, cols) = ndimage.distance_transform_edt(~seeds, return_distances=True, return_indices=True)
    out[sl][h] = d[rows[h], cols[h]]
    return out


def foreground_guard(
    holes: NDArray[np.bool_],
    depth: NDArray[np.float32],
    radius: int = 6,
    ratio: float = 1.05,
    filled_depth: NDArray[np.float32] | None = None,
) -> NDArray[np.bool_]:
    """Known pixels near ``holes`` that are foreground: nearer than ``1/ratio`` of the hole's background depth.

    Args:
        holes: ``(H, W)`` bool.
        depth: ``(H, W)`` float32 depth (any value in holes).
        radius: how far from the hole to look, in pixels.
        ratio: depth ratio that separates foreground from background.
        filled_depth: :func:`background_depth` of the holes, when already computed.

    Returns:
        ``(H, W)`` bool guard mask (never overlapping ``holes``).

    Example:
        >>> holes = np.zeros((5, 7), bool); holes[1:4, 2:5] = True
        >>> depth = np.full((5, 7), 2.0, np.float32); depth[:, 5:] = 8.0
        >>> guard = foreground_guard(holes, depth)
        >>> bool(guard[:, :2].all()), bool(guard[:, 5:].any())  # the near side is guarded, the far side not
        (True, False)
    """
    import cv2

    guard = np.zeros_like(holes)
    box = mask_bbox(holes, radius + 1)
    if box is None:
        return guard
    if filled_depth is None:
        filled_depth = background_depth(holes, depth, ratio=ratio)
    sl = (slice(box[0], box[1]), slice(box[2], box[3]))
    h = holes[sl]
    d = np.where(h | ~np.isfinite(depth[sl]), 0.0, depth[sl]).astype(np.float32)
    hole_d = np.where(h, filled_depth[sl], 0.0).astype(np.float32)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    far = cv2.dilate(hole_d, kernel)
    near_hole = cv2.dilate(h.astype(np.uint8), kernel).astype(bool) & ~h
    guard[sl] = near_hole & (d * np.float32(ratio) < far)
    return guard


CLUSTER_GAP = 32
"""Holes closer than this (pixels) are filled together; farther groups are filled in their own crops."""
MAX_CLUSTERS = 64
"""More groups than this are filled as one (the per-group overhead would outweigh the smaller crops)."""


def hole_clusters(
    holes: NDArray[np.bool_], gap: int = CLUSTER_GAP
) -> list[tuple[tuple[int, int, int, int], NDArray[np.bool_]]]:
    """The holes split into groups lying more than ``gap`` pixels apart.

    A moving camera's holes are often slivers at opposite borders of the
    frame and small gaps beside each object: filling each group in a crop of
    its own costs what its area costs, not what the bounding box of all the
    holes (often the whole frame) would.

    Returns:
        ``[(box, mask), ...]``: each group's bounding box ``(row0, row1, col0,
        col1)`` and its ``(row1 - row0, col1 - col0)`` bool mask; one group
        when there are more than :data:`MAX_CLUSTERS`; none without holes.

    Example:
        >>> holes = np.zeros((8, 100), bool); holes[2:4, 1] = True; holes[5, 98] = True
        >>> [(box, int(mask.sum())) for box, mask in hole_clusters(holes, gap=8)]
        [((2, 4, 1, 2), 2), ((5, 6, 98, 99), 1)]
    """
    import cv2

    box = mask_bbox(holes, 0)
    if box is None:
        return []
    r0, _, c0, _ = box
    crop = holes[box[0] : box[1], box[2] : box[3]]
    size = 2 * (gap // 2) + 1
    grown = cv2.dilate(crop.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    if count <= 2 or count - 1 > MAX_CLUSTERS:
        return [(box, crop)]
    clusters = []
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        own = (labels[y : y + h, x : x + w] == label) & crop[y : y + h, x : x + w]
        sub = mask_bbox(own, 0)
        assert sub is not None  # every group holds holes (the dilation grew from them)
        clusters.append(
            (
                (r0 + y + sub[0], r0 + y + sub[1], c0 + x + sub[2], c0 + x + sub[3]),
                own[sub[0] : sub[1], sub[2] : sub[3]],
            )
        )
    return clusters


def fill_holes(
    image: FloatImage,
    holes: NDArray[np.bool_],
    depth: NDArray[np.float32],
    inpainter: Inpainter,
    background_aware: bool = True,
    guard_radius: int = 6,
    ratio: float = 1.05,
    *,
    in_place: bool = False,
) -> tuple[FloatImage, NDArray[np.float32]]:
    """Fill disocclusion holes from the background side; return the image and a filled depth.

    Each group of nearby holes (:func:`hole_clusters`) is filled in a crop
    around it wide enough for the windows, so the result is that of filling
    the whole frame at once at the cost of the holes' surroundings only.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (hole pixels ignored).
        holes: ``(H, W)`` bool, the pixels to fill.
        depth: ``(H, W)`` float32 depth (``inf`` or anything in holes).
        inpainter: fills colour (:func:`get_inpainter`).
        background_aware: take hole depth from the background side of the rim
            and hide nearby foreground from the inpainter (see module docs).
        guard_radius: how far around holes foreground is hidden, in pixels,
            beyond twice the hole's thickness.
        ratio: depth ratio that makes a pixel foreground.
        in_place: fill ``image`` and ``depth`` themselves (float32 arrays) instead of copies.

    Returns:
        ``(image, depth)``: the filled image and depth (both unchanged outside ``holes``).

    Example:
        >>> img, z = fill_holes(img, res.holes, res.depth, get_inpainter("telea"))  # doctest: +SKIP
    """
    if not holes.any():
        return image, depth
    if holes.all():
        if in_place:
            image[...] = 0.5
            depth[...] = 1.0
            return image, depth
        return np.full_like(image, 0.5), np.ones_like(depth)
    out = image if in_place else image.copy()
    out_depth = depth if in_place else np.array(depth, dtype=np.float32, copy=True)
    height, width = holes.shape
    clusters = hole_clusters(holes)
    # windows sized by the thickest hole of all (the guard must outreach the widest gap)
    thickness = max(hole_thickness(own) for _, own in clusters)
    window = int(min(4 * thickness + 3, 127)) | 1
    radius = int(min(2.0 * thickness + guard_radius, 96))
    margin = max(window, radius, 8) + 4
    for (r0, r1, c0, c1), own in clusters:
        top, left = max(r0 - margin, 0), max(c0 - margin, 0)
        sl = (slice(top, min(r1 + margin, height)), slice(left, min(c1 + margin, width)))
        filled, filled_depth = _fill_region(
            image[sl], holes[sl], depth[sl], inpainter, window, radius, background_aware, ratio
        )
        own_sl = (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
        out[sl][own_sl][own] = filled[own_sl][own]
        out_depth[sl][own_sl][own] = filled_depth[own_sl][own]
    return out, out_depth


def _fill_region(
    image: FloatImage,
    holes: NDArray[np.bool_],
    depth: NDArray[np.float32],
    inpainter: Inpainter,
    window: int,
    radius: int,
    background_aware: bool,
    ratio: float,
) -> tuple[FloatImage, NDArray[np.float32]]:
    """:func:`fill_holes` on one crop, with the depth ``window`` and the guard ``radius`` given."""
    if holes.all():
        return np.full_like(image, 0.5), np.ones_like(depth)
    if background_aware:
        filled_depth = background_depth(holes, depth, window, ratio)
        # hide foreground over more than the hole's width, so the fill reaches
        # every hole pixel from the background side first
        guard = foreground_guard(holes, depth, radius, ratio, filled_depth)
    else:
        filled_depth = _nearest_fill(depth, holes)
        guard = np.zeros_like(holes)
    return inpainter(image, holes | guard), filled_depth


def _nearest_fill(values: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``values`` with masked pixels taken from the nearest unmasked pixel."""
    from scipy import ndimage

    out = values.copy()
    box = mask_bbox(mask, 2)
    if box is None:
        return out
    sl = (slice(box[0], box[1]), slice(box[2], box[3]))
    m = mask[sl]
    if m.all():
        out[sl][m] = 1.0
        return out
    _, (rows, cols) = ndimage.distance_transform_edt(m, return_distances=True, return_indices=True)
    crop = values[sl]
    out[sl][m] = crop[rows[m], cols[m]]
    return out
