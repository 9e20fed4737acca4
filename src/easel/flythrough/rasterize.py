"""A differentiable one-pixel point rasterizer at several resolutions (ADOP's first module).

Each point is projected with a pinhole camera (OpenCV axes, world-to-camera
pose, pixel centres at +0.5) and lands in exactly one pixel of each pyramid
level (level ``l`` is ``2**l`` times coarser, ``ceil(H / 2**l)`` rows). Per
pixel a z-buffer keeps the nearest depth (``scatter_reduce`` with ``amin``);
the **fuzzy depth test** then blends, with equal weights, every point whose
depth is within ``depth_band`` (relative) of that nearest one, so neighbouring
samples of one surface average instead of flickering, while points behind it
are hidden. The blended descriptors are differentiable with respect to the
per-point descriptors (the positions enter only through which pixel a point
falls in).

:func:`rasterize_reference` is the same computation written as plain loops,
the test reference.

Example:
    >>> pts = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    >>> desc = torch.tensor([[1.0], [5.0]])
    >>> K = torch.tensor([[4.0, 0, 2], [0, 4.0, 2], [0, 0, 1]])
    >>> levels = rasterize(pts, desc, K, torch.eye(4), (4, 4), num_levels=2)
    >>> levels[0].features[0, 0, 2, 2].item(), levels[0].weight[0, 0, 2, 2].item()
    (1.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "RasterLevel",
    "RasterPlan",
    "level_shape",
    "project_points",
    "pull_push",
    "raster_plan",
    "rasterize",
    "rasterize_planned",
    "rasterize_reference",
]

NEAR = 1e-3
"""Points nearer than this (camera-frame ``z``) are not drawn."""


@dataclass
class RasterLevel:
    """One pyramid level of a rasterized point cloud.

    Attributes:
        features: ``(1, C, h, w)`` blended descriptors (0 where no point landed).
        weight: ``(1, 1, h, w)`` number of points blended into each pixel (0: a hole).
        depth: ``(1, 1, h, w)`` nearest depth per pixel (``inf`` in holes).

    Example:
        >>> lvl = rasterize(torch.zeros(0, 3), torch.zeros(0, 2), torch.eye(3), torch.eye(4), (2, 2))[0]
        >>> lvl.features.shape, float(lvl.weight.sum())
        (torch.Size([1, 2, 2, 2]), 0.0)
    """

    features: torch.Tensor
    weight: torch.Tensor
    depth: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """``(1, 1, h, w)`` float: 1 where at least one point landed."""
        return (self.weight > 0).to(self.features.dtype)


def level_shape(shape: tuple[int, int], level: int) -> tuple[int, int]:
    """``(height, width)`` of pyramid level ``level`` of an image of ``shape`` (ceil division).

    Example:
        >>> level_shape((192, 256), 2), level_shape((5, 7), 1)
        ((48, 64), (3, 4))
    """
    f = 2**level
    return -(-shape[0] // f), -(-shape[1] // f)


def project_points(
    points: torch.Tensor,
    K: torch.Tensor,
    world_to_camera: torch.Tensor,  # noqa: N803
) -> tuple[torch.Tensor, torch.Tensor]:
    """Project world points to pixel coordinates.

    Args:
        points: ``(N, 3)`` world points.
        K: ``(3, 3)`` camera matrix in pixels.
        world_to_camera: ``(4, 4)`` OpenCV pose.

    Returns:
        ``uv`` ``(N, 2)`` pixel coordinates (centres at +0.5) and ``z`` ``(N,)``
        camera-frame depth.

    Example:
        >>> uv, z = project_points(torch.tensor([[1.0, 0.0, 2.0]]), torch.eye(3), torch.eye(4))
        >>> uv.tolist(), z.tolist()
        ([[0.5, 0.0]], [2.0])
    """
    cam = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
    z = cam[:, 2]
    zs = z.clamp_min(NEAR)
    u = K[0, 0] * cam[:, 0] / zs + K[0, 2]
    v = K[1, 1] * cam[:, 1] / zs + K[1, 2]
    return torch.stack([u, v], dim=1), z


def rasterize(
    points: torch.Tensor,
    descriptors: torch.Tensor,
    K: torch.Tensor,  # noqa: N803
    world_to_camera: torch.Tensor,
    shape: tuple[int, int],
    *,
    num_levels: int = 4,
    depth_band: float = 0.01,
    displacement: torch.Tensor | None = None,
) -> list[RasterLevel]:
    """Rasterize a point cloud with descriptors at ``num_levels`` resolutions.

    Args:
        points: ``(N, 3)`` float world points.
        descriptors: ``(N, C)`` float per-point descriptors (gradients flow to them).
        K: ``(3, 3)`` camera matrix for the full-resolution image.
        world_to_camera: ``(4, 4)`` OpenCV world-to-camera pose.
        shape: ``(height, width)`` of level 0.
        num_levels: pyramid levels (level ``l`` is ``2**l`` times coarser), >= 1.
        depth_band: the fuzzy depth test's relative band: a point is blended into a
            pixel when its depth is at most ``nearest * (1 + depth_band)``.
        displacement: optional ``(N, 2)`` screen-space motion of each point in
            full-resolution pixels, **zero-valued** but carrying gradients (e.g.
            ``uv(p + dp) - uv(p + dp.detach())``): the rasterized values do not
            change, but the gradient of the loss reaches the point positions or
            the camera pose through the first-order image-space approximation
            of ADOP: moving a point by ``d`` changes its pixel by ``-grad(F) . d``
            (central differences of the level's features, where covered), shared
            among the points blended there.

    Returns:
        One :class:`RasterLevel` per level, finest first.

    Example:
        >>> levels = rasterize(torch.rand(100, 3) + 1, torch.rand(100, 4), torch.eye(3) * 8, torch.eye(4), (16, 16))
        >>> [tuple(lv.features.shape[2:]) for lv in levels]
        [(16, 16), (8, 8), (4, 4), (2, 2)]
    """
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1, got {num_levels}")
    dtype = descriptors.dtype
    channels = descriptors.shape[1]
    uv, z = project_points(points.to(dtype), K.to(dtype), world_to_camera.to(dtype))
    front = (z > NEAR) & torch.isfinite(uv).all(dim=1)
    zd = z.detach()
    out: list[RasterLevel] = []
    for level in range(num_levels):
        h, w = level_shape(shape, level)
        scale = 2.0**level
        index, keep, weight, nearest = _bins(uv, zd, front, (h, w), scale, depth_band)
        feats = torch.zeros(h * w + 1, channels, dtype=dtype, device=z.device).index_add(
            0, index, descriptors * keep[:, None]
        )
        weight, feats, nearest = weight[:-1], feats[:-1], nearest[:-1]
        feats = feats / weight.clamp_min(1.0)[:, None]
        if displacement is not None:
            feats = feats + _displacement_term(feats, weight, (h, w), index, keep, displacement / scale)
        out.append(
            RasterLevel(
                feats.T.reshape(1, channels, h, w),
                weight.reshape(1, 1, h, w),
                nearest.reshape(1, 1, h, w),
            )
        )
    return out


def _bins(
    uv: torch.Tensor,
    zd: torch.Tensor,
    front: torch.Tensor,
    shape: tuple[int, int],
    scale: float,
    depth_band: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per point its bin (``h * w`` for points outside) and whether the depth test keeps it; per bin
    the number kept and the nearest depth (all with the extra bin last)."""
    h, w = shape
    dtype = zd.dtype
    # pixel (row, col) of a level-l image covers [col * 2^l, (col + 1) * 2^l) in full-resolution units
    col = torch.floor(uv[:, 0] / scale)
    row = torch.floor(uv[:, 1] / scale)
    inside = front & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    # points outside the view go to one extra bin (h * w), dropped at the end: no boolean indexing
    index = torch.where(inside, row.clamp(0, h - 1) * w + col.clamp(0, w - 1), float(h * w)).long()
    zi = torch.where(inside, zd, torch.full_like(zd, float("inf")))
    nearest = torch.full((h * w + 1,), float("inf"), dtype=dtype, device=zd.device)
    nearest = nearest.scatter_reduce(0, index, zi, reduce="amin", include_self=True)
    keep = (inside & (zi <= nearest[index] * (1.0 + depth_band))).to(dtype)
    weight = torch.zeros(h * w + 1, dtype=dtype, device=zd.device).index_add_(0, index, keep)
    return index, keep, weight, nearest


@dataclass
class RasterPlan:
    """Where the points of one camera land, per level, for rasterizing descriptors again cheaply.

    The pixel assignment and the depth test depend only on the positions and
    the camera, not on the descriptors: a fit with fixed points and cameras
    computes them once per training view (:func:`raster_plan`) and then only
    averages the current descriptors into their pixels (:func:`rasterize_planned`).

    Attributes:
        shapes: ``(h, w)`` per level.
        points: per level, ``(M,)`` indices of the points the depth test keeps.
        pixels: per level, ``(M,)`` their flat pixel index.
        weights: per level, ``(1, 1, h, w)`` points blended per pixel.
        depths: per level, ``(1, 1, h, w)`` nearest depth (``inf`` in holes).

    Example:
        >>> plan = raster_plan(torch.tensor([[0.0, 0.0, 2.0]]), torch.eye(3) * 2, torch.eye(4), (2, 2), num_levels=1)
        >>> plan.points[0].tolist(), plan.pixels[0].tolist()
        ([0], [0])
    """

    shapes: list[tuple[int, int]]
    points: list[torch.Tensor]
    pixels: list[torch.Tensor]
    weights: list[torch.Tensor]
    depths: list[torch.Tensor]


@torch.no_grad()
def raster_plan(
    points: torch.Tensor,
    K: torch.Tensor,  # noqa: N803
    world_to_camera: torch.Tensor,
    shape: tuple[int, int],
    *,
    num_levels: int = 4,
    depth_band: float = 0.01,
) -> RasterPlan:
    """The :class:`RasterPlan` of ``points`` seen by a camera (the arguments of :func:`rasterize`).

    Example:
        >>> plan = raster_plan(torch.rand(100, 3) + 1, torch.eye(3) * 8, torch.eye(4), (16, 16))
        >>> [tuple(w.shape[2:]) for w in plan.weights]
        [(16, 16), (8, 8), (4, 4), (2, 2)]
    """
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1, got {num_levels}")
    pts = points.float()
    uv, z = project_points(pts, K.to(pts.dtype), world_to_camera.to(pts.dtype))
    front = (z > NEAR) & torch.isfinite(uv).all(dim=1)
    plan = RasterPlan([], [], [], [], [])
    for level in range(num_levels):
        h, w = level_shape(shape, level)
        index, keep, weight, nearest = _bins(uv, z, front, (h, w), 2.0**level, depth_band)
        chosen = torch.nonzero(keep > 0).squeeze(1)
        plan.shapes.append((h, w))
        plan.points.append(chosen)
        plan.pixels.append(index[chosen])
        plan.weights.append(weight[:-1].reshape(1, 1, h, w))
        plan.depths.append(nearest[:-1].reshape(1, 1, h, w))
    return plan


def rasterize_planned(plan: RasterPlan, descriptors: torch.Tensor) -> list[RasterLevel]:
    """:func:`rasterize` of ``descriptors`` ``(N, C)`` with a precomputed :class:`RasterPlan` (the same values).

    Example:
        >>> pts, desc = torch.rand(100, 3) + 1, torch.rand(100, 4)
        >>> plan = raster_plan(pts, torch.eye(3) * 8, torch.eye(4), (16, 16))
        >>> fast = rasterize_planned(plan, desc)[0].features
        >>> bool(torch.allclose(fast, rasterize(pts, desc, torch.eye(3) * 8, torch.eye(4), (16, 16))[0].features))
        True
    """
    out: list[RasterLevel] = []
    channels = descriptors.shape[1]
    for (h, w), chosen, pixels, weight, depth in zip(
        plan.shapes, plan.points, plan.pixels, plan.weights, plan.depths, strict=True
    ):
        feats = torch.zeros(h * w, channels, dtype=descriptors.dtype, device=descriptors.device)
        feats = feats.index_add(0, pixels, descriptors[chosen])
        feats = feats / weight.reshape(-1).clamp_min(1.0)[:, None]
        out.append(RasterLevel(feats.T.reshape(1, channels, h, w), weight, depth))
    return out


def _displacement_term(
    feats: torch.Tensor,
    weight: torch.Tensor,
    shape: tuple[int, int],
    index: torch.Tensor,
    keep: torch.Tensor,
    displacement: torch.Tensor,
) -> torch.Tensor:
    """``(h * w, C)``: per pixel, the mean over its blended points of ``-grad(F) . d`` (zero when ``d`` is)."""
    h, w = shape
    f = feats.detach().T.reshape(1, -1, h, w)
    m = (weight > 0).to(f.dtype).reshape(1, 1, h, w)
    pad_f = torch.nn.functional.pad(f, (1, 1, 1, 1))
    pad_m = torch.nn.functional.pad(m, (1, 1, 1, 1))
    # central differences where both neighbours are covered (holes hold zeros, not colour)
    gx = (pad_f[..., 1:-1, 2:] - pad_f[..., 1:-1, :-2]) * 0.5 * pad_m[..., 1:-1, 2:] * pad_m[..., 1:-1, :-2]
    gy = (pad_f[..., 2:, 1:-1] - pad_f[..., :-2, 1:-1]) * 0.5 * pad_m[..., 2:, 1:-1] * pad_m[..., :-2, 1:-1]
    channels = f.shape[1]
    grads = torch.cat([gx.reshape(channels, -1).T, gy.reshape(channels, -1).T], dim=1)
    grads = torch.cat([grads, grads.new_zeros(1, 2 * channels)])  # the bin of points outside
    g = grads[index]  # (N, 2C)
    per_point = (
        -(g[:, :channels] * displacement[:, :1] + g[:, channels:] * displacement[:, 1:]) * keep[:, None]
    )
    total = torch.zeros(h * w + 1, channels, dtype=f.dtype, device=f.device).index_add(0, index, per_point)
    return total[:-1] / weight.clamp_min(1.0)[:, None]


def rasterize_reference(
    points: torch.Tensor,
    descriptors: torch.Tensor,
    K: torch.Tensor,  # noqa: N803
    world_to_camera: torch.Tensor,
    shape: tuple[int, int],
    *,
    num_levels: int = 4,
    depth_band: float = 0.01,
) -> list[RasterLevel]:
    """:func:`rasterize` as plain Python loops over points and pixels (slow; the test reference).

    Example:
        >>> pts, desc = torch.tensor([[0.0, 0.0, 2.0]]), torch.tensor([[3.0]])
        >>> ref = rasterize_reference(pts, desc, torch.eye(3), torch.eye(4), (1, 1), num_levels=1)
        >>> ref[0].features.item()
        3.0
    """
    out: list[RasterLevel] = []
    p = points.detach().double().tolist()
    d = descriptors.detach().double()
    R = world_to_camera.double()[:3, :3].tolist()  # noqa: N806
    t = world_to_camera.double()[:3, 3].tolist()
    fx, fy, cx, cy = (float(v) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))
    for level in range(num_levels):
        h, w = level_shape(shape, level)
        hits: dict[tuple[int, int], list[tuple[float, int]]] = {}
        for i, point in enumerate(p):
            x, y, zc = (sum(R[row][k] * point[k] for k in range(3)) + t[row] for row in range(3))
            if zc <= NEAR:
                continue
            u = (fx * x / zc + cx) / 2**level
            v = (fy * y / zc + cy) / 2**level
            c, r = math.floor(u), math.floor(v)
            if 0 <= c < w and 0 <= r < h:
                hits.setdefault((r, c), []).append((zc, i))
        feats = torch.zeros(1, d.shape[1], h, w, dtype=torch.float64)
        weight = torch.zeros(1, 1, h, w, dtype=torch.float64)
        depth = torch.full((1, 1, h, w), float("inf"), dtype=torch.float64)
        for (r, c), items in hits.items():
            zmin = min(zc for zc, _ in items)
            chosen = [i for zc, i in items if zc <= zmin * (1.0 + depth_band)]
            feats[0, :, r, c] = d[chosen].mean(dim=0)
            weight[0, 0, r, c] = len(chosen)
            depth[0, 0, r, c] = zmin
        out.append(RasterLevel(feats, weight, depth))
    return out


def pull_push(levels: list[RasterLevel], channels: int = 3) -> torch.Tensor:
    """Fill the holes of level 0 from coarser levels (pull-push): ``(1, channels, H, W)``.

    Working from the coarsest level up, each level's holes take the upsampled
    (bilinear) values of the filled level below it; covered pixels keep their
    own. Holes that no level covers stay 0.

    Args:
        levels: :func:`rasterize`'s output.
        channels: how many leading descriptor channels to fill.

    Example:
        >>> pts = torch.tensor([[0.0, 0.0, 1.0]])
        >>> levels = rasterize(pts, torch.ones(1, 3), torch.tensor([[2.0, 0, 2], [0, 2.0, 2], [0, 0, 1]]), torch.eye(4), (4, 4), num_levels=3)
        >>> float(pull_push(levels).amin())  # the one point fills the whole image
        1.0
    """
    # premultiplied colour and coverage, so the bilinear upsampling of a partly covered level
    # does not darken the fill with the zeros of its holes
    colour = levels[-1].features[:, :channels] * levels[-1].mask
    cover = levels[-1].mask
    for lvl in reversed(levels[:-1]):
        h, w = lvl.features.shape[2:]
        up_colour = torch.nn.functional.interpolate(colour, size=(h, w), mode="bilinear", align_corners=False)
        up_cover = torch.nn.functional.interpolate(cover, size=(h, w), mode="bilinear", align_corners=False)
        m = lvl.mask
        colour = lvl.features[:, :channels] * m + up_colour * (1 - m)
        cover = m + up_cover * (1 - m)
    return colour / cover.clamp_min(1e-6)
