"""A z-buffer renderer for RGB-D images as meshes that break at depth discontinuities.

An RGB-D image becomes a :class:`GridLayer`: one vertex per pixel centre,
two triangles per 2x2 block of pixels, and a triangle is dropped where the
depth jumps (``max(z) / min(z) > 1 + edge_threshold`` along any of its
edges). No "rubber sheet" is stretched across an occlusion boundary: what the
moving camera newly sees is a hole, reported exactly in
:attr:`RenderResult.holes`. Pixels next to a break (and on the image border)
also get their own footprint, the pixel's square at its depth, drawn with a
small depth bias behind the mesh, so that every source pixel covers its full
area and holes are as wide as the disocclusion, not a pixel wider.

Two backends share one definition (see :mod:`easel.scene3d._kernels`): a
numba CPU kernel (parallel, buffers reused between frames) and a vectorized
PyTorch rasterizer that is the reference and runs on CUDA. Tests check that
they agree.

Example:
    >>> layer = GridLayer.from_rgbd(image, depth, Intrinsics.default(w, h))  # doctest: +SKIP
    >>> renderer = Renderer([layer])                                          # doctest: +SKIP
    >>> result = renderer.render(Camera(Intrinsics.default(w, h), pose))      # doctest: +SKIP
    >>> result.image.shape, result.holes.mean()                               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras import Camera, Intrinsics, invert_pose, unproject
from easel.errors import InputError
from easel.image import as_float_rgb

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

Backend = Literal["auto", "numba", "torch"]

DEFAULT_EDGE_THRESHOLD = 0.04
"""Relative depth jump (``max/min - 1``) between neighbouring pixels that breaks the mesh."""
SMALL_WORK = 200_000
"""Vertices + output pixels below which the numba kernel runs on one thread."""
AUTO_THREAD_TRIALS = 3
"""Frames timed with all threads and with one before the renderer keeps the faster."""
FOOTPRINT_BIAS = 1e-3
"""Footprints are drawn this much (relative depth) behind the mesh, so the mesh wins where both exist."""


def check_depth(
    depth: ArrayLike, shape: tuple[int, int] | None = None, name: str = "depth"
) -> NDArray[np.float32]:
    """Validate a depth map: ``(H, W)`` (``shape`` when given), finite and positive.

    Args:
        depth: ``(H, W)`` (or ``(H, W, 1)``) depth along the optical axis.
        shape: the expected ``(height, width)``; ``None`` skips the check.
        name: how to call it in messages.

    Returns:
        ``(H, W)`` float32 depth.

    Raises:
        InputError: wrong shape or size, NaN/inf, values <= 0.

    Example:
        >>> check_depth(np.ones((2, 3))).dtype
        dtype('float32')
    """
    z = np.asarray(depth)
    if z.ndim == 3 and z.shape[2] == 1:
        z = z[:, :, 0]
    if z.ndim != 2:
        raise InputError(f"{name} must be a 2-D (H, W) array; got shape {z.shape}")
    if shape is not None and z.shape != tuple(shape):
        raise InputError(
            f"{name} is {z.shape[1]}x{z.shape[0]} but the image is {shape[1]}x{shape[0]}; "
            "resize it to the image (easel.depth.read_depth does)"
        )
    z = z.astype(np.float32, copy=False)
    if not np.isfinite(z).all():
        raise InputError(f"{name} contains NaN or infinite values")
    if float(z.min()) <= 0.0:
        raise InputError(
            f"{name} must be > 0 everywhere (distance along the optical axis); min is {z.min():.4g}"
        )
    return np.ascontiguousarray(z)


def break_mask(
    depth: NDArray[np.float32], valid: NDArray[np.bool_], edge_threshold: float
) -> NDArray[np.uint8]:
    """Which triangles of the pixel-centre grid survive: ``(H-1, W-1)`` uint8, bit k = triangle k.

    Triangle 0 of a quad joins pixels (r, c), (r, c+1), (r+1, c); triangle 1
    joins (r, c+1), (r+1, c+1), (r+1, c). An edge is broken when an end is
    invalid or ``max(z) / min(z) > 1 + edge_threshold``.

    Example:
        >>> z = np.ones((3, 3), np.float32); z[:, 2] = 2.0  # a depth jump between columns 1 and 2
        >>> break_mask(z, np.ones((3, 3), bool), edge_threshold=0.04).tolist()
        [[3, 0], [3, 0]]
    """
    lim = np.float32(1.0 + edge_threshold)

    def joined(
        za: NDArray[np.float32], zb: NDArray[np.float32], va: NDArray[np.bool_], vb: NDArray[np.bool_]
    ) -> NDArray[np.bool_]:
        hi = np.maximum(za, zb)
        lo = np.minimum(za, zb)
        return va & vb & (hi <= lo * lim)

    z_a, z_b, z_c, z_d = depth[:-1, :-1], depth[:-1, 1:], depth[1:, :-1], depth[1:, 1:]
    v_a, v_b, v_c, v_d = valid[:-1, :-1], valid[:-1, 1:], valid[1:, :-1], valid[1:, 1:]
    ab = joined(z_a, z_b, v_a, v_b)
    ac = joined(z_a, z_c, v_a, v_c)
    bc = joined(z_b, z_c, v_b, v_c)
    bd = joined(z_b, z_d, v_b, v_d)
    cd = joined(z_c, z_d, v_c, v_d)
    tri0 = ab & ac & bc
    tri1 = bd & cd & bc
    return (tri0.astype(np.uint8) | (tri1.astype(np.uint8) << 1)).astype(np.uint8)


def link_mask(
    cut_h: NDArray[np.bool_], cut_v: NDArray[np.bool_], valid: NDArray[np.bool_]
) -> NDArray[np.uint8]:
    """Which triangles survive when given 4-neighbour links are cut: ``(H-1, W-1)`` uint8, bit k = triangle k.

    The layered depth image (:mod:`easel.scene3d.ldi`) decides where the mesh
    breaks from linked depth edges rather than a per-triangle threshold. A
    triangle is kept when its three pixels are valid and neither of its two
    axis-aligned links is cut (triangle 0: ``a-b`` and ``a-c``; triangle 1:
    ``b-d`` and ``c-d``), so no triangle spans a cut link.

    Args:
        cut_h: ``(H, W-1)`` bool, the link between ``(r, c)`` and ``(r, c+1)`` is cut.
        cut_v: ``(H-1, W)`` bool, the link between ``(r, c)`` and ``(r+1, c)`` is cut.
        valid: ``(H, W)`` bool, the pixels that exist.

    Example:
        >>> cut_h = np.zeros((3, 2), bool); cut_h[:, 1] = True  # columns 1 and 2 are cut apart
        >>> link_mask(cut_h, np.zeros((2, 3), bool), np.ones((3, 3), bool)).tolist()
        [[3, 0], [3, 0]]
    """
    va, vb, vc, vd = valid[:-1, :-1], valid[:-1, 1:], valid[1:, :-1], valid[1:, 1:]
    ab, cd = ~cut_h[:-1], ~cut_h[1:]
    ac, bd = ~cut_v[:, :-1], ~cut_v[:, 1:]
    tri0 = va & vb & vc & ab & ac
    tri1 = vb & vc & vd & bd & cd
    return (tri0.astype(np.uint8) | (tri1.astype(np.uint8) << 1)).astype(np.uint8)


def footprint_pixels(mask: NDArray[np.uint8], valid: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Flat indices of the valid pixels whose surroundings the mesh does not fully cover.

    A pixel's square is covered by the mesh when the four quads around it
    keep both triangles; border pixels never are.

    Example:
        >>> z = np.ones((3, 3), np.float32); z[:, 2] = 2.0
        >>> valid = np.ones((3, 3), bool)
        >>> footprint_pixels(break_mask(z, valid, 0.04), valid).tolist()  # all border pixels, here
        [0, 1, 2, 3, 4, 5, 6, 7, 8]
    """
    height, width = valid.shape
    full = np.zeros((height + 1, width + 1), dtype=bool)
    full[1:-1, 1:-1] = mask == 3
    covered = full[:-1, :-1] & full[:-1, 1:] & full[1:, :-1] & full[1:, 1:]
    return np.flatnonzero(valid & ~covered)


@dataclass
class GridLayer:
    """An RGB-D view as a mesh over its pixel centres, broken at depth discontinuities.

    Attributes:
        points: ``(H, W, 3)`` float32 world points of the pixel centres.
        colors: ``(H, W, 3)`` float32 RGB in [0, 1].
        mask: ``(H-1, W-1)`` uint8 triangle mask (see :func:`break_mask`).
        footprints: ``(F,)`` flat indices of the pixels drawn as footprints.
        corners: ``(F, 4, 3)`` float32 world points of those pixels' corners
            (top-left, top-right, bottom-right, bottom-left) at their depth.
        depth_scale: depth bias of the whole layer (fill layers use > 1 so
            that the original surfaces win at equal depth).

    Example:
        >>> from easel.scene3d.synthetic import layered_scene
        >>> scene, cam = layered_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> layer = GridLayer.from_rgbd(view.image, view.depth, cam)
        >>> layer.points.shape, layer.mask.shape
        ((48, 64, 3), (47, 63))
    """

    points: NDArray[np.float32]
    colors: NDArray[np.float32]
    mask: NDArray[np.uint8]
    footprints: NDArray[np.intp]
    corners: NDArray[np.float32]
    depth_scale: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.points.shape[0], self.points.shape[1]

    @classmethod
    def from_rgbd(
        cls,
        image: ArrayLike,
        depth: ArrayLike,
        intrinsics: Intrinsics,
        world_to_camera: ArrayLike | None = None,
        valid: ArrayLike | None = None,
        edge_threshold: float = DEFAULT_EDGE_THRESHOLD,
        depth_scale: float = 1.0,
        cuts: tuple[ArrayLike, ArrayLike] | None = None,
    ) -> GridLayer:
        """Build a layer from an image and its depth, seen by ``intrinsics`` at ``world_to_camera``.

        Args:
            image: ``(H, W, 3)`` float32 RGB in [0, 1] (uint8 accepted).
            depth: ``(H, W)`` depth along the optical axis (> 0 where valid).
            intrinsics: the camera of the view (its ``shape`` must be the image's ``(H, W)``).
            world_to_camera: its pose (default identity: the input view).
            valid: ``(H, W)`` bool, the pixels that exist (default all); the
                layer keeps only their bounding box.
            edge_threshold: relative depth jump that breaks the mesh
                (``inf`` never breaks: the "rubber sheet" baseline).
            depth_scale: depth bias of the layer (>= 1).
            cuts: ``(cut_h, cut_v)``, ``(H, W-1)`` and ``(H-1, W)`` bool: the
                mesh breaks exactly at these cut links (:func:`link_mask`)
                instead of at ``edge_threshold``.

        Example:
            >>> cam = Intrinsics.from_focal(4, 3, 2.0)
            >>> layer = GridLayer.from_rgbd(np.zeros((3, 4, 3)), np.ones((3, 4)), cam)
            >>> layer.mask.shape, len(layer.footprints)
            ((2, 3), 10)
        """
        rgb = as_float_rgb(image)
        h, w = rgb.shape[:2]
        vmask = np.ones((h, w), bool) if valid is None else np.asarray(valid, dtype=bool)
        if vmask.shape != (h, w):
            raise InputError(f"valid mask is {vmask.shape}, image is {(h, w)}")
        z = np.asarray(depth, dtype=np.float32)
        if z.shape != (h, w):
            raise InputError(f"depth is {z.shape[1]}x{z.shape[0]} but the image is {w}x{h}")
        if (intrinsics.height, intrinsics.width) != (h, w):
            raise InputError(f"camera is {intrinsics.width}x{intrinsics.height}, image is {w}x{h}")
        vmask = vmask & np.isfinite(z) & (z > 0)
        cut_h = cut_v = None
        if cuts is not None:
            cut_h, cut_v = (np.asarray(c, dtype=bool) for c in cuts)
            if cut_h.shape != (h, max(w - 1, 0)) or cut_v.shape != (max(h - 1, 0), w):
                raise InputError(
                    f"cuts are {cut_h.shape} and {cut_v.shape}; expected {(h, w - 1)} and {(h - 1, w)}"
                )
        if valid is not None and vmask.any() and not vmask.all():
            # keep only the bounding box of the valid pixels (fill layers are sparse)
            rows = np.flatnonzero(vmask.any(axis=1))
            cols = np.flatnonzero(vmask.any(axis=0))
            r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            if (r1 - r0, c1 - c0) != (h, w):
                rgb, z, vmask = rgb[r0:r1, c0:c1], z[r0:r1, c0:c1], vmask[r0:r1, c0:c1]
                if cut_h is not None and cut_v is not None:
                    cut_h, cut_v = cut_h[r0:r1, c0 : c1 - 1], cut_v[r0 : r1 - 1, c0:c1]
                h, w = r1 - r0, c1 - c0
                intrinsics = Intrinsics(
                    intrinsics.fx, intrinsics.fy, intrinsics.cx - c0, intrinsics.cy - r0, w, h
                )
        z = np.where(vmask, z, np.float32(1.0)).astype(np.float32)
        points = unproject(z, intrinsics, world_to_camera)
        if h < 2 or w < 2:
            mask = np.zeros((max(h - 1, 0), max(w - 1, 0)), np.uint8)
        elif cut_h is not None and cut_v is not None:
            mask = link_mask(cut_h, cut_v, vmask)
        else:
            mask = break_mask(z, vmask, edge_threshold)
        fp = footprint_pixels(mask, vmask) if h >= 2 and w >= 2 else np.flatnonzero(vmask)
        rows, cols = np.divmod(fp, w)
        zf = z.reshape(-1)[fp].astype(np.float64)
        cu = np.stack([cols, cols + 1, cols + 1, cols], axis=1).astype(np.float64)
        cv = np.stack([rows, rows, rows + 1, rows + 1], axis=1).astype(np.float64)
        cam_pts = np.stack(
            [
                (cu - intrinsics.cx) / intrinsics.fx * zf[:, None],
                (cv - intrinsics.cy) / intrinsics.fy * zf[:, None],
                np.broadcast_to(zf[:, None], cu.shape),
            ],
            axis=-1,
        )
        if world_to_camera is not None:
            c2w = invert_pose(world_to_camera)
            cam_pts = cam_pts @ c2w[:3, :3].T + c2w[:3, 3]
        return cls(
            points=points,
            colors=rgb,
            mask=mask,
            footprints=fp,
            corners=np.ascontiguousarray(cam_pts, dtype=np.float32),
            depth_scale=float(depth_scale),
        )

    def point_cloud(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The valid points and their colours: ``(N, 3)`` and ``(N, 3)`` float32 (world frame)."""
        h, w = self.shape
        valid = np.zeros(h * w, bool)
        if h >= 2 and w >= 2:
            used = np.zeros((h, w), bool)
            m = self.mask > 0
            used[:-1, :-1] |= m
            used[:-1, 1:] |= m
            used[1:, :-1] |= m
            used[1:, 1:] |= m
            valid |= used.reshape(-1)
        valid[self.footprints] = True
        return self.points.reshape(-1, 3)[valid], self.colors.reshape(-1, 3)[valid]


@dataclass
class RenderResult:
    """One rendered view.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1]; holes are black.
        depth: ``(H, W)`` float32 depth along the view's optical axis; ``inf`` in holes.
        holes: ``(H, W)`` bool, pixels no surface covers (to be filled).

    Example:
        >>> from easel.scene3d.synthetic import layered_scene
        >>> scene, cam = layered_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> result = Renderer([GridLayer.from_rgbd(view.image, view.depth, cam)]).render(Camera(cam))
        >>> result.image.shape, int(result.holes.sum())  # the input view itself has no holes
        ((48, 64, 3), 0)
    """

    image: NDArray[np.float32]
    depth: NDArray[np.float32]
    holes: NDArray[np.bool_]


@dataclass
class _Packed:
    verts: NDArray[np.float32]
    colors: NDArray[np.float32]
    grid_h: NDArray[np.int64]
    grid_w: NDArray[np.int64]
    grid_voff: NDArray[np.int64]
    grid_moff: NDArray[np.int64]
    grid_poff: NDArray[np.int64]
    grid_zscale: NDArray[np.float32]
    masks: NDArray[np.uint8]
    fp_corners: NDArray[np.float32]
    fp_vertex: NDArray[np.int64]
    fp_colors: NDArray[np.float32]
    fp_zscale: NDArray[np.float32]
    fp_offset: int
    # the numba kernel's view (see ``_kernels.render``): grid vertices then footprint corners,
    # projected row by row, and the table of drawing rows
    all_verts: NDArray[np.float32]
    all_colors: NDArray[np.float32]
    row_start: NDArray[np.int64]
    draw: NDArray[np.int64]
    draw_zscale: NDArray[np.float32]


FOOTPRINTS_PER_ROW = 64
"""Footprints projected (and tested against a band of output rows) together."""
DRAW_COLUMNS = 11
"""Columns of the numba kernel's drawing-row table (see ``_kernels.render``)."""


def _drawing_rows(
    layers: Sequence[GridLayer],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Projection row starts, the drawing-row table and its depth scales (see ``_kernels.render``)."""
    starts: list[NDArray[np.int64]] = []
    draw: list[NDArray[np.int64]] = []
    zscale: list[NDArray[np.float32]] = []
    n_grid = sum(layer.shape[0] * layer.shape[1] for layer in layers)
    voff = moff = poff = prow = 0
    for layer in layers:  # every grid layer's rows of quads, between its vertex rows r and r + 1
        h, w = layer.shape
        r = np.arange(max(h - 1, 0), dtype=np.int64)
        starts.append(voff + w * np.arange(h, dtype=np.int64))
        ones = np.ones_like(r)
        draw.append(
            np.stack(
                [
                    prow + r,
                    prow + r + 1,
                    voff + r * w,
                    ones * (w - 1),
                    ones,
                    0 * ones,
                    ones,
                    ones * w,
                    ones * (w + 1),
                    moff + r * (w - 1),
                    poff + 2 * r * w,
                ],
                axis=1,
            ).reshape(-1, DRAW_COLUMNS)
        )
        zscale.append(np.full(len(r), layer.depth_scale, np.float32))
        voff += h * w
        moff += layer.mask.size
        poff += 2 * h * w
        prow += h
    f0 = 0  # then every layer's footprints, FOOTPRINTS_PER_ROW at a time
    for layer in layers:
        nf = len(layer.footprints)
        first = np.arange(0, nf, FOOTPRINTS_PER_ROW, dtype=np.int64)
        count = np.minimum(first + FOOTPRINTS_PER_ROW, nf) - first
        rows = prow + np.arange(len(first), dtype=np.int64)
        starts.append(n_grid + 4 * (f0 + first))
        ones = np.ones_like(first)
        draw.append(
            np.stack(
                [
                    rows,
                    rows,
                    n_grid + 4 * (f0 + first),
                    count,
                    4 * ones,
                    ones,
                    0 * ones,
                    2 * ones,
                    3 * ones,
                    -ones,
                    poff + 2 * (f0 + first),
                ],
                axis=1,
            ).reshape(-1, DRAW_COLUMNS)
        )
        zscale.append(np.full(len(first), layer.depth_scale * (1.0 + FOOTPRINT_BIAS), np.float32))
        f0 += nf
        prow += len(first)
    row_start = np.concatenate([*starts, [n_grid + 4 * f0]]).astype(np.int64)
    return row_start, np.ascontiguousarray(np.concatenate(draw)), np.concatenate(zscale).astype(np.float32)


def _pack(layers: Sequence[GridLayer]) -> _Packed:
    if not layers:
        raise InputError("nothing to render: no layers")
    verts, colors, masks, corners, fpv, fpz = [], [], [], [], [], []
    gh, gw, gvoff, gmoff, gpoff, gz = [], [], [], [], [], []
    voff = moff = poff = 0
    for layer in layers:
        h, w = layer.shape
        gh.append(h)
        gw.append(w)
        gvoff.append(voff)
        gmoff.append(moff)
        gpoff.append(poff)
        gz.append(layer.depth_scale)
        verts.append(layer.points.reshape(-1, 3))
        colors.append(layer.colors.reshape(-1, 3))
        masks.append(layer.mask.reshape(-1))
        corners.append(layer.corners.reshape(-1, 4, 3))
        fpv.append(layer.footprints.astype(np.int64) + voff)
        fpz.append(np.full(len(layer.footprints), layer.depth_scale * (1.0 + FOOTPRINT_BIAS), np.float32))
        voff += h * w
        moff += layer.mask.size
        poff += 2 * h * w
    if poff + 2 * sum(len(f) for f in fpv) >= 2**31:
        raise InputError("scene too large to render (more than 2^31 triangles)")
    all_colors = np.ascontiguousarray(np.concatenate(colors), dtype=np.float32)
    fp_vertex = np.concatenate(fpv)
    grid_verts = np.ascontiguousarray(np.concatenate(verts), dtype=np.float32)
    fp_corners = np.ascontiguousarray(np.concatenate(corners), dtype=np.float32)
    row_start, draw, draw_zscale = _drawing_rows(layers)
    return _Packed(
        verts=grid_verts,
        colors=all_colors,
        grid_h=np.array(gh, np.int64),
        grid_w=np.array(gw, np.int64),
        grid_voff=np.array(gvoff, np.int64),
        grid_moff=np.array(gmoff, np.int64),
        grid_poff=np.array(gpoff, np.int64),
        grid_zscale=np.array(gz, np.float32),
        masks=np.ascontiguousarray(np.concatenate(masks)),
        fp_corners=fp_corners,
        fp_vertex=fp_vertex,
        fp_colors=np.ascontiguousarray(all_colors[fp_vertex]),
        fp_zscale=np.concatenate(fpz),
        fp_offset=poff,
        all_verts=np.concatenate([grid_verts, fp_corners.reshape(-1, 3)]),
        all_colors=np.concatenate([all_colors, np.repeat(all_colors[fp_vertex], 4, axis=0)]),
        row_start=row_start,
        draw=draw,
        draw_zscale=draw_zscale,
    )


def resolve_backend(backend: Backend = "auto", device: str | None = None) -> Backend:
    """``"auto"`` is numba on CPU and torch on CUDA/MPS.

    Example:
        >>> resolve_backend("auto", "cpu")
        'numba'
    """
    if backend != "auto":
        if backend not in ("numba", "torch"):
            raise InputError(f"unknown renderer backend {backend!r}; choose auto, numba or torch")
        return backend
    if device in (None, "cpu"):
        return "numba"
    if device == "auto":
        from easel.devices import resolve_device

        return "numba" if resolve_device("auto").type == "cpu" else "torch"
    return "torch"


class Renderer:
    """Renders a list of :class:`GridLayer` from any camera, reusing its buffers.

    Args:
        layers: the scene (e.g. the input view, then fill layers).
        backend: ``"numba"`` (CPU kernel), ``"torch"`` (reference, CPU or
            CUDA) or ``"auto"`` (numba on CPU, torch elsewhere).
        device: torch device for the torch backend (``"cpu"``, ``"cuda"``, ``"auto"``).
        threads: numba threads; default: numba's setting, or one thread when
            the first frames show that one is faster (a busy machine).

    Example:
        >>> cam = Intrinsics.from_focal(8, 6, 4.0)
        >>> layer = GridLayer.from_rgbd(np.full((6, 8, 3), 0.5), np.full((6, 8), 2.0), cam)
        >>> out = Renderer([layer]).render(Camera(cam))
        >>> float(abs(out.image - 0.5).max()) < 1e-5, bool(out.holes.any())
        (True, False)
    """

    def __init__(
        self,
        layers: Sequence[GridLayer],
        backend: Backend = "auto",
        device: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.backend = resolve_backend(backend, device)
        self.device = device
        self.threads = threads
        self.layers = list(layers)
        self._packed = _pack(self.layers)
        self._bufs: dict[str, NDArray[np.generic]] = {}
        self._torch: _TorchScene | None = None
        self._trials: dict[tuple[int, int], dict[int, list[float]]] = {}

    def add_layer(self, layer: GridLayer) -> None:
        """Add a layer (e.g. a fill layer) to the scene."""
        self.layers.append(layer)
        self._packed = _pack(self.layers)
        self._bufs.pop("vbuf", None)
        self._torch = None

    def _threads(self, height: int, width: int) -> int:
        import numba

        if self.threads:
            return min(self.threads, int(numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
        # small scenes: a parallel launch costs more than it saves
        most = int(numba.get_num_threads())
        if len(self._packed.verts) + height * width < SMALL_WORK or most == 1:
            return 1
        # On a busy machine OpenMP threads wait for each other and one thread
        # can be several times faster: time both for the first frames, keep the faster.
        trials = self._trials.setdefault((height, width), {most: [], 1: []})
        pending = [n for n, times in trials.items() if len(times) < AUTO_THREAD_TRIALS]
        if pending:
            return pending[0] if len(trials[pending[0]]) <= len(trials[pending[-1]]) else pending[-1]
        return min(trials, key=lambda n: float(np.median(trials[n])))

    def _buffers(self, height: int, width: int) -> dict[str, NDArray[np.generic]]:
        b = self._bufs
        p = self._packed
        if "vbuf" not in b or len(b["vbuf"]) != len(p.all_verts):
            vbuf = np.zeros((len(p.all_verts), 8), np.float32)
            vbuf[:, 3:6] = p.all_colors
            b["vbuf"] = vbuf
            b["row_vmin"] = np.empty(len(p.row_start) - 1, np.float32)
            b["row_vmax"] = np.empty(len(p.row_start) - 1, np.float32)
        if "zbuf" not in b or b["zbuf"].shape != (height, width):
            b["zbuf"] = np.empty((height, width), np.float32)
            b["ibuf"] = np.empty((height, width), np.int32)
        return b

    def render(self, camera: Camera, out: RenderResult | None = None) -> RenderResult:
        """Render the scene from ``camera``.

        Args:
            camera: intrinsics (output size) and world-to-camera pose.
            out: a previous result of the same size whose arrays are reused
                (overwritten).

        Returns:
            A :class:`RenderResult` (image, depth, holes).
        """
        if self.backend == "torch":
            return self._render_torch(camera)
        import numba

        intr = camera.intrinsics
        height, width = intr.height, intr.width
        threads = self._threads(height, width)
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        start = time.perf_counter()
        try:
            result = self._render_numba(camera, threads, out)
        finally:
            numba.set_num_threads(previous)
        trials = self._trials.get((height, width))
        if trials is not None and threads in trials and len(trials[threads]) < AUTO_THREAD_TRIALS:
            trials[threads].append(time.perf_counter() - start)
        return result

    def _render_numba(self, camera: Camera, threads: int, out: RenderResult | None) -> RenderResult:
        """Project the vertices, then draw ``threads`` bands of output rows at once (see ``_kernels``)."""
        from easel._parallel import run_chunks
        from easel.scene3d import _kernels as kern

        intr = camera.intrinsics
        height, width = intr.height, intr.width
        b = self._buffers(height, width)
        p = self._packed
        pose = np.asarray(camera.world_to_camera, dtype=np.float64)
        rot = np.ascontiguousarray(pose[:3, :3], dtype=np.float32)
        trans = np.ascontiguousarray(pose[:3, 3], dtype=np.float32)
        fx, fy, cx, cy = (np.float32(val) for val in (intr.fx, intr.fy, intr.cx, intr.cy))
        if out is None or out.image.shape != (height, width, 3):
            out = RenderResult(
                image=np.empty((height, width, 3), np.float32),
                depth=np.empty((height, width), np.float32),
                holes=np.empty((height, width), bool),
            )
        result = out  # (``out`` narrowed to a RenderResult, for the lambda)

        def phase(number: int, items: int) -> None:
            run_chunks(
                lambda start, stop: kern.render(
                    number,
                    p.all_verts,
                    p.row_start,
                    rot,
                    trans,
                    fx,
                    fy,
                    cx,
                    cy,
                    b["vbuf"],
                    b["row_vmin"],
                    b["row_vmax"],
                    p.draw,
                    p.draw_zscale,
                    p.masks,
                    b["zbuf"],
                    b["ibuf"],
                    result.image,
                    result.depth,
                    result.holes,
                    start,
                    stop,
                ),
                items,
                threads,
            )

        phase(0, len(p.row_start) - 1)  # project the vertices, row by row
        phase(1, height)  # draw bands of output rows
        return out

    def _render_torch(self, camera: Camera) -> RenderResult:
        from easel.devices import resolve_device

        if self._torch is None:
            self._torch = _TorchScene(self._packed, resolve_device(self.device or "cpu"))
        return self._torch.render(camera)


class _TorchScene:
    """The reference rasterizer: vectorized PyTorch, same semantics as the numba kernel."""

    def __init__(self, packed: _Packed, device: torch.device) -> None:
        import torch

        self.device = device
        self.p = packed
        t = lambda a, dt=torch.float32: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device)  # noqa: E731
        self.verts = t(packed.verts)
        self.colors = t(packed.colors)
        self.corners = t(packed.fp_corners.reshape(-1, 3))
        tris, prims, zs = [], [], []
        for g in range(len(packed.grid_h)):
            h, w = int(packed.grid_h[g]), int(packed.grid_w[g])
            m = packed.masks[packed.grid_moff[g] : packed.grid_moff[g] + (h - 1) * (w - 1)]
            q = np.arange((h - 1) * (w - 1))
            r, c = np.divmod(q, max(w - 1, 1))
            ia = packed.grid_voff[g] + r * w + c
            t0 = np.stack([ia, ia + 1, ia + w], 1)
            t1 = np.stack([ia + 1, ia + w + 1, ia + w], 1)
            for k, tri in ((0, t0), (1, t1)):
                keep = (m >> k) & 1 == 1
                tris.append(tri[keep])
                prims.append(packed.grid_poff[g] + 2 * (r * w + c)[keep] + k)
                zs.append(np.full(int(keep.sum()), packed.grid_zscale[g], np.float32))
        self.mesh_tris = t(np.concatenate(tris).astype(np.int64), torch.long)
        self.mesh_prims = t(np.concatenate(prims).astype(np.int64), torch.long)
        self.mesh_zs = t(np.concatenate(zs))
        nf = len(packed.fp_vertex)
        f = np.arange(nf)
        self.fp_tris = t(
            np.concatenate(
                [np.stack([4 * f, 4 * f + 1, 4 * f + 2], 1), np.stack([4 * f, 4 * f + 2, 4 * f + 3], 1)]
            ),
            torch.long,
        )
        self.fp_prims = t(
            np.concatenate([packed.fp_offset + 2 * f, packed.fp_offset + 2 * f + 1]), torch.long
        )
        self.fp_zs = t(np.concatenate([packed.fp_zscale, packed.fp_zscale]))
        self.fp_color_vertex = t(np.concatenate([packed.fp_vertex, packed.fp_vertex]), torch.long)

    def _project(self, pts: torch.Tensor, camera: Camera) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        import torch

        pose = torch.as_tensor(np.asarray(camera.world_to_camera, np.float32), device=self.device)
        cam = pts @ pose[:3, :3].T + pose[:3, 3]
        intr = camera.intrinsics
        z = cam[:, 2]
        front = z > 1e-6
        iz = torch.where(front, 1.0 / torch.where(front, z, torch.ones_like(z)), torch.zeros_like(z))
        u = torch.where(front, intr.fx * cam[:, 0] * iz + intr.cx, torch.zeros_like(z))
        v = torch.where(front, intr.fy * cam[:, 1] * iz + intr.cy, torch.zeros_like(z))
        return u, v, iz

    def render(self, camera: Camera) -> RenderResult:
        import torch

        intr = camera.intrinsics
        height, width = intr.height, intr.width
        u, v, iz = self._project(self.verts, camera)
        fu, fv, fiz = self._project(self.corners, camera)
        su = torch.cat([u[self.mesh_tris], fu[self.fp_tris]])
        sv = torch.cat([v[self.mesh_tris], fv[self.fp_tris]])
        siz = torch.cat([iz[self.mesh_tris], fiz[self.fp_tris]])
        prims = torch.cat([self.mesh_prims, self.fp_prims])
        zscale = torch.cat([self.mesh_zs, self.fp_zs])
        n_mesh = len(self.mesh_prims)

        ok = (siz > 0).all(1)
        umin, umax = su.min(1).values, su.max(1).values
        vmin, vmax = sv.min(1).values, sv.max(1).values
        ok &= (umax >= 0) & (vmax >= 0) & (umin <= width) & (vmin <= height)
        x0 = torch.ceil(umin - 0.5).clamp(min=0)
        x1 = torch.floor(umax - 0.5).clamp(max=width - 1)
        y0 = torch.ceil(vmin - 0.5).clamp(min=0)
        y1 = torch.floor(vmax - 0.5).clamp(max=height - 1)
        u0, u1, u2 = su.unbind(1)
        v0, v1, v2 = sv.unbind(1)
        area = (u1 - u0) * (v2 - v0) - (v1 - v0) * (u2 - u0)
        ok &= (x0 <= x1) & (y0 <= y1) & (area.abs() >= 1e-12)
        idx = torch.nonzero(ok).squeeze(1)
        bw = (x1[idx] - x0[idx] + 1).long()
        bh = (y1[idx] - y0[idx] + 1).long()
        counts = bw * bh
        tri = torch.repeat_interleave(idx, counts)
        starts = torch.cumsum(counts, 0) - counts
        local = torch.arange(int(counts.sum()), device=self.device) - torch.repeat_interleave(starts, counts)
        bw_rep = torch.repeat_interleave(bw, counts)
        xs = x0[tri].long() + local % bw_rep
        ys = y0[tri].long() + local // bw_rep
        px = xs.float() + 0.5
        py = ys.float() + 0.5
        a0, a1, a2 = u0[tri], u1[tri], u2[tri]
        c0, c1, c2 = v0[tri], v1[tri], v2[tri]
        inv_area = 1.0 / area[tri]
        b0 = ((a1 - px) * (c2 - py) - (c1 - py) * (a2 - px)) * inv_area
        b1 = ((a2 - px) * (c0 - py) - (c2 - py) * (a0 - px)) * inv_area
        b2 = ((a0 - px) * (c1 - py) - (c0 - py) * (a1 - px)) * inv_area
        w = siz[tri]
        izp = b0 * w[:, 0] + b1 * w[:, 1] + b2 * w[:, 2]
        inside = (b0 >= -1e-4) & (b1 >= -1e-4) & (b2 >= -1e-4) & (izp > 0)
        sel = torch.nonzero(inside).squeeze(1)
        tri, xs, ys = tri[sel], xs[sel], ys[sel]
        b0, b1, b2, izp = b0[sel], b1[sel], b2[sel], izp[sel]
        z = zscale[tri] / izp
        pix = ys * width + xs
        key = (z.view(torch.int32).long() << 32) | prims[tri]
        best = torch.full(
            (height * width,), torch.iinfo(torch.long).max, dtype=torch.long, device=self.device
        )
        best.scatter_reduce_(0, pix, key, reduce="amin")
        win = key == best[pix]
        tri, pix, z = tri[win], pix[win], z[win]
        b0, b1, b2 = b0[win].clamp(min=0), b1[win].clamp(min=0), b2[win].clamp(min=0)
        is_mesh = tri < n_mesh
        rgb = torch.zeros((height * width, 3), device=self.device)
        depth = torch.full((height * width,), float("inf"), device=self.device)
        depth[pix] = z / zscale[tri]
        # mesh triangles: perspective-correct barycentric colour
        mt = tri[is_mesh]
        vid = self.mesh_tris[mt]
        wv = iz[vid]
        bb = torch.stack([b0[is_mesh], b1[is_mesh], b2[is_mesh]], 1) * wv
        total = bb.sum(1, keepdim=True)
        bb = torch.where(
            total > 0, bb / total.clamp(min=1e-30), torch.tensor([1.0, 0.0, 0.0], device=self.device)
        )
        rgb[pix[is_mesh]] = (bb[:, :, None] * self.colors[vid]).sum(1)
        ft = tri[~is_mesh] - n_mesh
        rgb[pix[~is_mesh]] = self.colors[self.fp_color_vertex[ft]]
        holes = best == torch.iinfo(torch.long).max
        return RenderResult(
            image=rgb.reshape(height, width, 3).cpu().numpy(),
            depth=depth.reshape(height, width).cpu().numpy(),
            holes=holes.reshape(height, width).cpu().numpy(),
        )
