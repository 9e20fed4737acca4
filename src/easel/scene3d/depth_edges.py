"""Depth edges for the layered depth image: smoothing, detection on disparity jumps, linking, pruning.

The pixels of an RGB-D image are nodes joined to their 4 neighbours by
*links*. A link is **cut** where the depth jumps: the two pixels lie on
different surfaces, one occluding the other. The steps, all array code:

1. :func:`smooth_log_depth`: edge-preserving (bilateral) smoothing of the
   log-depth (a depth ratio is the same step whatever the distance, and the
   disparity of a plane, ``-log`` of its depth locally, is kept);
2. :func:`detect_cuts`: a link is cut where ``max(z) / min(z) > 1 + threshold``
   and the jump stands out from its neighbours' (a steep slope is not an edge);
3. :func:`link_edges`: the near-side pixels of the cut links, joined into
   connected occlusion boundaries (8-connected components,
   :func:`scipy.ndimage.label`), and boundaries shorter than ``min_length``
   pixels removed (their links joined again): isolated specks of a noisy
   depth map do not tear the mesh.

Example:
    >>> depth = np.full((6, 8), 4.0, np.float32); depth[:, :3] = 1.0  # a near strip on the left
    >>> edges = find_depth_edges(depth, threshold=0.04, min_length=2)
    >>> bool(edges.cut_h[:, 2].all()), int(edges.cut_h.sum()), edges.num_edges
    (True, 6, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass
class DepthEdges:
    """Cut links of an ``(H, W)`` pixel grid and the occlusion boundaries they form.

    Attributes:
        cut_h: ``(H, W-1)`` bool, the link ``(r, c)``-``(r, c+1)`` is cut.
        cut_v: ``(H-1, W)`` bool, the link ``(r, c)``-``(r+1, c)`` is cut.
        labels: ``(H, W)`` int32, the boundary (1, 2, ...) of each near-side
            edge pixel; 0 elsewhere.
        num_edges: how many boundaries were kept.
        removed: how many short boundaries were removed.

    Example:
        >>> depth = np.full((4, 4), 2.0, np.float32); depth[:2] = 1.0
        >>> edges = find_depth_edges(depth, min_length=1)
        >>> bool(edges.cut_v[1].all()), int(edges.foreground().sum())
        (True, 4)
    """

    cut_h: NDArray[np.bool_]
    cut_v: NDArray[np.bool_]
    labels: NDArray[np.int32]
    num_edges: int
    removed: int = 0

    @property
    def num_cuts(self) -> int:
        """How many links are cut."""
        return int(self.cut_h.sum() + self.cut_v.sum())

    def foreground(self) -> NDArray[np.bool_]:
        """``(H, W)`` bool: the near-side pixels of the cut links."""
        return self.labels > 0


def smooth_log_depth(depth: NDArray[np.float32], threshold: float, passes: int = 1) -> NDArray[np.float32]:
    """Edge-preserving smoothing of a depth map, in log-depth: noise goes, steps stay.

    A bilateral filter (5x5) whose range sigma is a quarter of the edge
    ``threshold`` in log-depth: a step of ``threshold`` or more gets a weight
    below 1e-3 from the other side, so occlusion edges stay sharp.

    Args:
        depth: ``(H, W)`` float32 depth (> 0).
        threshold: the relative depth jump that makes an edge (0.04 = 4 %).
        passes: how many times to filter (0 returns a copy).

    Returns:
        ``(H, W)`` float32 smoothed depth.

    Example:
        >>> z = np.full((5, 5), 2.0, np.float32); z[2, 2] = 2.02  # a 1 % bump
        >>> float(smooth_log_depth(z, 0.04)[2, 2]) < 2.02
        True
    """
    import cv2

    out = np.log(np.asarray(depth, np.float32))
    sigma = max(math.log1p(threshold) / 4.0, 1e-6)
    for _ in range(max(passes, 0)):
        out = cv2.bilateralFilter(out, 5, sigma, 2.0)
    return np.exp(out).astype(np.float32)


def _jump_cuts(jumps: NDArray[np.float32], lim: float, dominance: float) -> NDArray[np.bool_]:
    """Cut where a jump (along axis 1) exceeds ``lim`` and ``dominance`` times both neighbouring jumps, or 4 ``lim``."""
    pad = np.pad(jumps, ((0, 0), (1, 1)))
    neighbours = np.maximum(pad[:, :-2], pad[:, 2:])
    return (jumps > lim) & ((jumps > dominance * neighbours) | (jumps > 4.0 * lim))


def detect_cuts(
    depth: NDArray[np.float32],
    threshold: float,
    valid: NDArray[np.bool_] | None = None,
    dominance: float = 2.0,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Links where the depth jumps: ``(cut_h, cut_v)``.

    A link is cut when the depth ratio across it exceeds ``1 + threshold``
    and the jump is ``dominance`` times larger than the jumps of the links
    on either side of it along the same row (column) -- or larger than four
    times the threshold. A steeply slanted surface, whose every link jumps
    by about the same ratio, stays joined; a step between two surfaces is
    cut. Links with an invalid end are not cut (they are not links at all;
    the mesh drops them anyway).

    Example:
        >>> z = np.ones((2, 3), np.float32); z[:, 2] = 1.5
        >>> cut_h, cut_v = detect_cuts(z, 0.04)
        >>> cut_h.tolist(), bool(cut_v.any())
        ([[False, True], [False, True]], False)
        >>> slope = np.tile(1.06 ** np.arange(8, dtype=np.float32), (2, 1))  # 6 % per pixel, one surface
        >>> bool(detect_cuts(slope, 0.04)[0].any())
        False
    """
    lz = np.log(np.asarray(depth, np.float32))
    lim = float(math.log1p(threshold))
    cut_h = _jump_cuts(np.abs(lz[:, 1:] - lz[:, :-1]), lim, dominance)
    cut_v = _jump_cuts(np.abs(lz[1:] - lz[:-1]).T, lim, dominance).T
    if valid is not None:
        cut_h &= valid[:, 1:] & valid[:, :-1]
        cut_v &= valid[1:] & valid[:-1]
    return cut_h, cut_v


def cut_sides(
    depth: NDArray[np.float32], cut_h: NDArray[np.bool_], cut_v: NDArray[np.bool_]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The near (foreground) and far (background) end pixels of the cut links: two ``(H, W)`` bool masks.

    A pixel can be both (a thin surface between a nearer and a farther one).

    Example:
        >>> z = np.ones((1, 3), np.float32); z[0, 2] = 3.0
        >>> near, far = cut_sides(z, *detect_cuts(z, 0.04))
        >>> near.tolist(), far.tolist()
        ([[False, True, False]], [[False, False, True]])
    """
    near = np.zeros(depth.shape, bool)
    far = np.zeros(depth.shape, bool)
    right_far = depth[:, 1:] > depth[:, :-1]
    near[:, :-1] |= cut_h & right_far
    far[:, 1:] |= cut_h & right_far
    near[:, 1:] |= cut_h & ~right_far
    far[:, :-1] |= cut_h & ~right_far
    down_far = depth[1:] > depth[:-1]
    near[:-1] |= cut_v & down_far
    far[1:] |= cut_v & down_far
    near[1:] |= cut_v & ~down_far
    far[:-1] |= cut_v & ~down_far
    return near, far


def link_edges(
    depth: NDArray[np.float32],
    cut_h: NDArray[np.bool_],
    cut_v: NDArray[np.bool_],
    min_length: int = 8,
) -> DepthEdges:
    """Join cut links into occlusion boundaries and remove the short ones.

    The near-side pixels of the cut links are grouped into 8-connected
    components; a component of fewer than ``min_length`` pixels is an
    isolated speck (noise) and its links are joined again.

    Args:
        depth: ``(H, W)`` float32 depth.
        cut_h: ``(H, W-1)`` bool horizontal cuts (:func:`detect_cuts`).
        cut_v: ``(H-1, W)`` bool vertical cuts.
        min_length: the fewest near-side pixels a boundary keeps.

    Returns:
        :class:`DepthEdges` with the kept cuts and the boundaries' labels.

    Example:
        >>> z = np.full((9, 9), 5.0, np.float32); z[4, 4] = 1.0  # one stray near pixel
        >>> link_edges(z, *detect_cuts(z, 0.04), min_length=3).num_cuts
        0
    """
    from scipy import ndimage

    near, _ = cut_sides(depth, cut_h, cut_v)
    labels, count = ndimage.label(near, structure=np.ones((3, 3), bool))
    if count == 0:
        return DepthEdges(cut_h.copy(), cut_v.copy(), labels.astype(np.int32), 0, 0)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= max(min_length, 1)
    keep[0] = False
    # each cut link belongs to the boundary of its near pixel
    right_far = depth[:, 1:] > depth[:, :-1]
    near_h = np.where(right_far, labels[:, :-1], labels[:, 1:])
    down_far = depth[1:] > depth[:-1]
    near_v = np.where(down_far, labels[:-1], labels[1:])
    new_h = cut_h & keep[near_h]
    new_v = cut_v & keep[near_v]
    # renumber the kept boundaries 1..n
    renumber = np.zeros(count + 1, np.int32)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return DepthEdges(new_h, new_v, renumber[labels], int(keep.sum()), int(count - keep.sum()))


def find_depth_edges(
    depth: NDArray[np.float32],
    threshold: float = 0.04,
    min_length: int = 8,
    valid: NDArray[np.bool_] | None = None,
) -> DepthEdges:
    """Cut links and occlusion boundaries of a depth map (:func:`detect_cuts` then :func:`link_edges`).

    Args:
        depth: ``(H, W)`` float32 depth (> 0 where valid), already smoothed
            when it needs to be (:func:`smooth_log_depth`).
        threshold: the relative depth jump that cuts a link.
        min_length: the fewest near-side pixels a boundary keeps.
        valid: ``(H, W)`` bool, the pixels that exist (default all).

    Example:
        >>> z = np.full((6, 6), 3.0, np.float32); z[:3] = 1.0
        >>> find_depth_edges(z, min_length=2).num_edges
        1
    """
    z = np.asarray(depth, np.float32)
    safe = z if valid is None else np.where(valid, z, np.float32(1.0))
    cut_h, cut_v = detect_cuts(safe, threshold, valid)
    return link_edges(safe, cut_h, cut_v, min_length)
