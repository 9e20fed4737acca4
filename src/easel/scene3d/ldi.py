"""A layered depth image (LDI) with context-aware inpainting of what hides behind each occluding edge.

After Shih et al., "3D Photography using Context-aware Layered Depth
Inpainting" (CVPR 2020), in array code instead of a graph library:

1. the depth is smoothed (edge-preserving) and its **depth edges** found and
   linked (:mod:`easel.scene3d.depth_edges`): every pixel is a node with 4
   links, and links across an edge are **cut** into a near (foreground) and a
   far (background) side;
2. for the far side of every cut, the background surface is **extended
   behind the foreground**: each background edge pixel gets a plane fitted
   (in disparity, exact for planar surfaces) to its *context* -- the pixels
   around it that are not in front of it -- and the plane is continued into
   the *synthesis region*: the foreground pixels within ``width`` of the edge
   (:func:`scipy.ndimage.distance_transform_edt` finds the nearest edge pixel)
   that lie in front of the extended surface. The synthesized depth is
   therefore always behind the occluder; foreground depth is never pulled in;
3. colour is inpainted in the synthesis region by any
   :class:`~easel.scene3d.inpaint.Inpainter` (Telea by default, LaMa as an
   option), with every pixel that is not on the extended surface (the
   foreground, and farther surfaces) hidden from it: it copies only from the
   context;
4. the synthesized pixels, joined to the background pixels of the edge, form
   a new layer with its own cut links (where two extended surfaces meet at
   different depths); step 2 runs again on it, up to ``num_layers`` times, so
   that new layers can themselves be occluded.

Every layer becomes a :class:`~easel.scene3d.render.GridLayer` whose
triangles never span a cut link (:func:`~easel.scene3d.render.link_mask`).

Example:
    >>> from easel.cameras import Camera
    >>> from easel.scene3d.synthetic import layered_scene
    >>> scene, cam = layered_scene(96, 72)
    >>> view = scene.render(Camera(cam))
    >>> ldi = build_ldi(view.image, view.depth)
    >>> len(ldi.layers) >= 2, bool(ldi.layers[1].synthesized.any())
    (True, True)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras import Intrinsics
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.progress import ProgressFn, report
from easel.scene3d.depth_edges import (
    DepthEdges,
    cut_sides,
    find_depth_edges,
    smooth_log_depth,
)
from easel.scene3d.inpaint import Inpainter, get_inpainter, mask_bbox
from easel.scene3d.render import GridLayer

log = logging.getLogger(__name__)

LAYER_DEPTH_STEP = 2e-3
"""Layer ``k`` is drawn with depth bias ``1 + k * LAYER_DEPTH_STEP``: at equal depth the input wins."""


@dataclass
class LDILayer:
    """One layer of a layered depth image, on the input's pixel grid.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (zeros where not valid).
        depth: ``(H, W)`` float32 depth along the optical axis (1 where not valid).
        valid: ``(H, W)`` bool, the pixels the layer holds.
        cut_h: ``(H, W-1)`` bool, cut horizontal links (the mesh breaks there).
        cut_v: ``(H-1, W)`` bool, cut vertical links.
        synthesized: ``(H, W)`` bool, pixels made by inpainting (the others are
            copied from the input: all of layer 0, the joining rim of the others).
        level: 0 for the input, 1, 2 ... for the layers behind.

    Example:
        >>> layer = LDILayer.from_rgbd(np.zeros((2, 3, 3)), np.ones((2, 3)))
        >>> layer.level, layer.cut_h.shape, int(layer.valid.sum())
        (0, (2, 2), 6)
    """

    image: NDArray[np.float32]
    depth: NDArray[np.float32]
    valid: NDArray[np.bool_]
    cut_h: NDArray[np.bool_]
    cut_v: NDArray[np.bool_]
    synthesized: NDArray[np.bool_]
    level: int = 0

    @classmethod
    def from_rgbd(cls, image: ArrayLike, depth: ArrayLike) -> LDILayer:
        """A single layer without cuts (all pixels valid and linked).

        Example:
            >>> LDILayer.from_rgbd(np.zeros((4, 4, 3)), np.ones((4, 4))).num_cuts
            0
        """
        rgb = as_float_rgb(image)
        h, w = rgb.shape[:2]
        return cls(
            rgb,
            np.asarray(depth, np.float32),
            np.ones((h, w), bool),
            np.zeros((h, max(w - 1, 0)), bool),
            np.zeros((max(h - 1, 0), w), bool),
            np.zeros((h, w), bool),
        )

    @property
    def num_cuts(self) -> int:
        """How many links are cut."""
        return int(self.cut_h.sum() + self.cut_v.sum())

    def grid_layer(self, intrinsics: Intrinsics) -> GridLayer:
        """The layer as a renderable mesh that breaks exactly at its cut links.

        Example:
            >>> layer = LDILayer.from_rgbd(np.zeros((3, 4, 3)), np.ones((3, 4)))
            >>> layer.grid_layer(Intrinsics.from_focal(4, 3, 2.0)).mask.tolist()
            [[3, 3, 3], [3, 3, 3]]
        """
        return GridLayer.from_rgbd(
            self.image,
            self.depth,
            intrinsics,
            valid=None if self.level == 0 else self.valid,
            depth_scale=1.0 + LAYER_DEPTH_STEP * self.level,
            cuts=(self.cut_h, self.cut_v),
        )


@dataclass
class LDI:
    """A layered depth image: the input layer and the layers synthesized behind it.

    Attributes:
        layers: layer 0 is the input (with its cut links), then the synthesized ones.
        intrinsics: the input camera.
        edges: the input's depth edges (after pruning).
        stats: counts and timings (``cuts``, ``edges``, ``edges_removed``,
            ``synthesized_pixels``, seconds per stage).

    Example:
        >>> from easel.cameras import Camera
        >>> from easel.scene3d.synthetic import layered_scene
        >>> scene, cam = layered_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> ldi = build_ldi(view.image, view.depth, cam)
        >>> ldi.layers[0].level, ldi.stats["edges"] > 0
        (0, True)
    """

    layers: list[LDILayer]
    intrinsics: Intrinsics
    edges: DepthEdges
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the layers."""
        h, w = self.layers[0].depth.shape
        return h, w

    def grid_layers(self) -> list[GridLayer]:
        """Every layer as a :class:`~easel.scene3d.render.GridLayer` (for the renderer)."""
        return [layer.grid_layer(self.intrinsics) for layer in self.layers]


def _dilate4(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def fit_background_planes(
    disparity: NDArray[np.float64],
    context: NDArray[np.bool_],
    seeds: NDArray[np.bool_],
    radius: int,
    tolerance: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Local planes ``q = a * (x - x0) + b * (y - y0) + c`` of disparity around each seed pixel.

    The plane is a least-squares fit to the ``context`` pixels in a
    ``(2 radius + 1)``-pixel square around the seed (moments by box filters).
    A fit with too few pixels, ill-conditioned, or more than ``tolerance``
    (relative) off the seed's own disparity falls back to the constant
    ``a = b = 0, c = q(seed)``.

    Args:
        disparity: ``(H, W)`` float64 ``1 / depth`` (anything outside ``context``).
        context: ``(H, W)`` bool, the pixels the fits may use.
        seeds: ``(H, W)`` bool, where a plane is wanted.
        radius: half-size of the fitting window in pixels.
        tolerance: relative disparity error allowed at the seed.

    Returns:
        ``(a, b, c)``: three ``(H, W)`` float64 arrays, meaningful at the seeds.

    Example:
        >>> yy, xx = np.mgrid[0:9, 0:9].astype(np.float64)
        >>> q = 0.1 + 0.01 * xx  # a slanted plane
        >>> seeds = np.zeros((9, 9), bool); seeds[4, 4] = True
        >>> a, b, c = fit_background_planes(q, np.ones((9, 9), bool), seeds, 3, 0.02)
        >>> round(float(a[4, 4]), 6), abs(round(float(b[4, 4]), 6)), round(float(c[4, 4]), 6)
        (0.01, 0.0, 0.14)
    """
    import cv2

    h, w = disparity.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    m = context.astype(np.float64)
    q = np.where(context, disparity, 0.0)
    size = (2 * radius + 1, 2 * radius + 1)

    def box(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(
            cv2.boxFilter(values, cv2.CV_64F, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
        )

    rows, cols = np.nonzero(seeds)
    pick = lambda values: box(values)[rows, cols]  # noqa: E731
    n = pick(m)
    sx, sy = pick(m * xx), pick(m * yy)
    sxx, sxy, syy = pick(m * xx * xx), pick(m * xx * yy), pick(m * yy * yy)
    sq, sxq, syq = pick(q), pick(q * xx), pick(q * yy)
    x0, y0 = cols.astype(np.float64), rows.astype(np.float64)
    # moments about the seed
    dx, dy = sx - n * x0, sy - n * y0
    dxx = sxx - 2 * x0 * sx + n * x0 * x0
    dyy = syy - 2 * y0 * sy + n * y0 * y0
    dxy = sxy - x0 * sy - y0 * sx + n * x0 * y0
    dxq, dyq = sxq - x0 * sq, syq - y0 * sq
    mat = np.stack(
        [np.stack([dxx, dxy, dx], -1), np.stack([dxy, dyy, dy], -1), np.stack([dx, dy, n], -1)], -2
    )
    rhs = np.stack([dxq, dyq, sq], -1)
    det = np.linalg.det(mat)
    scale = np.maximum(np.abs(mat).max(axis=(1, 2)), 1e-12) ** 3
    ok = (n >= 6) & (np.abs(det) > 1e-9 * scale)
    coef = np.zeros((len(rows), 3))
    if ok.any():
        coef[ok] = np.linalg.solve(mat[ok], rhs[ok][..., None])[..., 0]
    q_seed = disparity[rows, cols]
    ok &= np.abs(coef[:, 2] - q_seed) <= tolerance * np.abs(q_seed)
    coef[~ok] = 0.0
    coef[~ok, 2] = q_seed[~ok]
    a, b, c = np.zeros((h, w)), np.zeros((h, w)), np.zeros((h, w))
    a[rows, cols], b[rows, cols], c[rows, cols] = coef[:, 0], coef[:, 1], coef[:, 2]
    return a, b, c


def grow_layer(
    parent: LDILayer,
    inpainter: Inpainter,
    threshold: float = 0.04,
    width: int = 48,
    context: int = 96,
    min_length: int = 8,
) -> LDILayer | None:
    """Synthesize the layer behind ``parent``'s cut links: extended background depth, then colour.

    Args:
        parent: the layer whose occluding edges to look behind.
        inpainter: fills colour (:func:`~easel.scene3d.inpaint.get_inpainter`).
        threshold: relative depth jump that cuts a link (also: how much
            nearer than the extended background a pixel must be to hide it).
        width: how far the background extends behind the foreground, in pixels.
        context: how far the context reaches on the background side, in pixels.
        min_length: the fewest near-side pixels a depth edge of the new layer keeps.

    Returns:
        The new layer (``level = parent.level + 1``), or ``None`` when there is
        nothing to synthesize.

    Example:
        >>> z = np.full((24, 24), 4.0, np.float32); z[:, :10] = 1.0  # near on the left
        >>> parent = LDILayer.from_rgbd(np.full((24, 24, 3), 0.5), z)
        >>> from easel.scene3d.depth_edges import find_depth_edges
        >>> edges = find_depth_edges(z, min_length=2)
        >>> parent.cut_h, parent.cut_v = edges.cut_h, edges.cut_v
        >>> layer = grow_layer(parent, get_inpainter("telea"), width=6)
        >>> bool(layer.synthesized[:, 4:10].all()), float(layer.depth[layer.synthesized].min())
        (True, 4.0)
    """
    from scipy import ndimage

    depth, valid = parent.depth, parent.valid
    near, far = cut_sides(depth, parent.cut_h, parent.cut_v)
    far &= valid
    if not far.any() or width < 1:
        return None
    reach = 2 * width + 4
    bounds = mask_bbox(far, reach)
    assert bounds is not None
    box = (slice(bounds[0], bounds[1]), slice(bounds[2], bounds[3]))
    d = depth[box].astype(np.float64)
    v = valid[box]
    far_c = far[box]
    near_c = near[box] & v
    q = np.where(v, 1.0 / np.where(v, d, 1.0), 0.0)
    dist, (ri, ci) = ndimage.distance_transform_edt(~far_c, return_indices=True)
    ratio = 1.0 + threshold
    # context: valid pixels near the edge that are not in front of the (constant) background
    q_near_far = q[ri, ci]
    front0 = v & (q > q_near_far * ratio)
    ctx = v & ~front0 & (dist <= context)
    radius = int(max(3, min(context // 4, 12)))
    a, b, c = fit_background_planes(q, ctx, far_c, radius, threshold / 2)
    hh, ww = d.shape
    yy, xx = np.mgrid[0:hh, 0:ww]
    q_ext = a[ri, ci] * (xx - ci) + b[ri, ci] * (yy - ri) + c[ri, ci]
    q_ext = np.maximum(q_ext, 0.25 * c[ri, ci])  # never more than 4x farther than the edge
    # the synthesis region: pixels near the edge, in front of the extended background,
    # connected to the edge's foreground side
    cand = v & (dist <= width) & (q > q_ext * ratio)
    labels, count = ndimage.label(cand)
    if count == 0:
        return None
    touching = np.unique(labels[near_c & cand])
    keep = np.zeros(count + 1, bool)
    keep[touching] = True
    keep[0] = False
    synth = keep[labels]
    if not synth.any():
        return None
    # colour: hide everything that is not on the extended surface (the foreground, farther
    # surfaces, pixels the parent does not hold) so the inpainter copies from the context only
    lim = math.log(ratio)
    with np.errstate(divide="ignore"):
        off_surface = np.abs(np.log(np.where(v, q, 1.0) / np.maximum(q_ext, 1e-12))) > lim
    hide = (dist <= reach) & (~v | off_surface) & ~synth
    mask = synth | hide
    filled = inpainter(np.clip(parent.image[box], 0.0, 1.0).astype(np.float32), mask)
    # the new layer: the synthesized pixels and the background edge pixels they join
    rim = far_c & _dilate4(synth)
    h, w = depth.shape
    new_valid = np.zeros((h, w), bool)
    new_synth = np.zeros((h, w), bool)
    new_depth = np.ones((h, w), np.float32)
    new_image = np.zeros((h, w, 3), np.float32)
    new_valid[box] = synth | rim
    new_synth[box] = synth
    new_depth[box] = np.where(synth, 1.0 / np.maximum(q_ext, 1e-12), np.where(rim, d, 1.0)).astype(np.float32)
    new_image[box] = np.where(synth[..., None], filled, np.where(rim[..., None], parent.image[box], 0.0))
    edges = find_depth_edges(new_depth, threshold, min_length, valid=new_valid)
    return LDILayer(new_image, new_depth, new_valid, edges.cut_h, edges.cut_v, new_synth, parent.level + 1)


def build_ldi(
    image: ArrayLike,
    depth: ArrayLike,
    intrinsics: Intrinsics | None = None,
    *,
    inpainter: Inpainter | None = None,
    edge_threshold: float = 0.04,
    min_edge_length: int = 8,
    width: int | None = None,
    context: int | None = None,
    num_layers: int = 2,
    smoothing: int = 1,
    progress: ProgressFn | None = None,
) -> LDI:
    """Build the layered depth image of an RGB-D image (see the module's docs for the steps).

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (uint8 accepted).
        depth: ``(H, W)`` depth along the optical axis (> 0).
        intrinsics: the input camera (default: :meth:`Intrinsics.default`).
        inpainter: colour inpainter (default Telea).
        edge_threshold: relative depth jump that cuts a link.
        min_edge_length: the fewest pixels an occlusion boundary keeps.
        width: how far backgrounds extend behind foregrounds, in pixels
            (default 5 % of the long side).
        context: how far the context reaches, in pixels (default twice ``width``).
        num_layers: how many layers to synthesize behind the input (each one
            behind the cut links of the previous).
        smoothing: bilateral smoothing passes over the log-depth (0: none).
        progress: called with ``("layers", i, num_layers)`` updates.

    Returns:
        An :class:`LDI`.

    Raises:
        InputError: image and depth of different sizes; depth not finite or <= 0.

    Example:
        >>> z = np.full((32, 32), 5.0, np.float32); z[8:24, 8:24] = 2.0  # a near square
        >>> ldi = build_ldi(np.full((32, 32, 3), 0.5), z, width=4, min_edge_length=4)
        >>> behind = ldi.layers[1]
        >>> bool((behind.depth[behind.synthesized] > 2.0 * 1.04).all())  # always behind the square
        True
    """
    import time

    from easel.scene3d.render import check_depth

    rgb = as_float_rgb(image)
    h, w = rgb.shape[:2]
    z = check_depth(depth, (h, w))
    if num_layers < 0:
        raise InputError(f"num_layers must be >= 0; got {num_layers}")
    intr = intrinsics or Intrinsics.default(w, h)
    fill = inpainter or get_inpainter("telea")
    long_side = max(h, w)
    width = max(1, round(0.05 * long_side)) if width is None else int(width)
    context = 2 * width if context is None else int(context)
    stats: dict[str, float] = {}
    start = time.perf_counter()
    smooth = smooth_log_depth(z, edge_threshold, smoothing) if smoothing > 0 else z.copy()
    edges = find_depth_edges(smooth, edge_threshold, min_edge_length)
    stats["edges_s"] = time.perf_counter() - start
    stats["cuts"] = edges.num_cuts
    stats["edges"] = edges.num_edges
    stats["edges_removed"] = edges.removed
    base = LDILayer(rgb, smooth, np.ones((h, w), bool), edges.cut_h, edges.cut_v, np.zeros((h, w), bool), 0)
    layers = [base]
    report(progress, "layers", 0, num_layers)
    start = time.perf_counter()
    parent = base
    for i in range(num_layers):
        grown = grow_layer(parent, fill, edge_threshold, width, context, min_edge_length)
        if grown is None:
            break
        layers.append(grown)
        parent = grown
        report(progress, "layers", i + 1, num_layers)
    stats["inpaint_s"] = time.perf_counter() - start
    stats["synthesized_pixels"] = float(sum(int(layer.synthesized.sum()) for layer in layers))
    stats["layers"] = len(layers)
    return LDI(layers, intr, edges, stats)


def synthesized_image(ldi: LDI) -> FloatImage:
    """What the layers behind the input hold, composited back to front over grey (for pictures).

    Example:
        >>> z = np.full((16, 16), 5.0, np.float32); z[4:12, 4:12] = 2.0
        >>> ldi = build_ldi(np.zeros((16, 16, 3)), z, width=3, min_edge_length=2)
        >>> synthesized_image(ldi)[0, 0].tolist()  # nothing was synthesized there
        [0.5, 0.5, 0.5]
    """
    h, w = ldi.shape
    out = np.full((h, w, 3), 0.5, np.float32)
    for layer in ldi.layers[:0:-1]:
        out[layer.synthesized] = layer.image[layer.synthesized]
    return out
