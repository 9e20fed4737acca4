"""Synthetic RGB-D scenes with exact ground truth, ray-cast from any camera.

A scene is a set of textured rectangles (planes, and boxes made of six
rectangles) with textures from scikit-image's bundled photos. Casting one ray
per pixel centre gives the image, the exact depth (distance along the optical
axis) and which object each pixel sees, from the input camera and from every
camera of a path: the ground truth for tests and the quality benchmark,
including what lies behind foreground objects.

Example:
    >>> scene, cam = layered_scene(96, 72)
    >>> view = scene.render(Camera(cam))
    >>> view.image.shape, float(view.depth.min()) > 0
    ((72, 96, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras import Camera, Intrinsics, invert_pose, pixel_grid, project


@dataclass
class Rect:
    """A textured rectangle ``origin + a * edge_u + b * edge_v`` for ``a, b`` in [0, 1).

    ``edge_u`` and ``edge_v`` must be perpendicular; texture pixel
    ``(row, col)`` maps to ``a = (col + 0.5) / W_t``, ``b = (row + 0.5) / H_t``.

    Example:
        >>> wall = Rect(np.array([-1.0, -1.0, 5.0]), np.array([2.0, 0, 0]), np.array([0, 2.0, 0]), texture("brick"))
        >>> float(SyntheticScene([wall]).render(Camera(Intrinsics.default(32, 24))).depth[12, 16])
        5.0
    """

    origin: NDArray[np.float64]
    edge_u: NDArray[np.float64]
    edge_v: NDArray[np.float64]
    texture: NDArray[np.float32]

    def __post_init__(self) -> None:
        self.origin = np.asarray(self.origin, np.float64)
        self.edge_u = np.asarray(self.edge_u, np.float64)
        self.edge_v = np.asarray(self.edge_v, np.float64)
        self.texture = np.ascontiguousarray(self.texture, np.float32)


@dataclass
class SyntheticView:
    """A ray-cast view: ``image`` (H, W, 3) float32 [0, 1], ``depth`` (H, W) float32
    (``inf`` where no object), ``object_id`` (H, W) int32 (-1 where none).

    Example:
        >>> scene, cam = layered_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> view.image.shape, float(view.depth.min()), float(view.depth.max())
        ((48, 64, 3), 2.200000047683716, 10.0)
    """

    image: NDArray[np.float32]
    depth: NDArray[np.float32]
    object_id: NDArray[np.int32]


@dataclass
class SyntheticScene:
    """A list of textured rectangles; see :func:`layered_scene` for a ready-made one.

    Example:
        >>> scene = SyntheticScene().add_box([0.0, 0.0, 3.0], [1.0, 1.0, 1.0], texture("rocket"))
        >>> float(scene.render(Camera(Intrinsics.default(32, 24))).depth[12, 16])  # the box's front face
        2.5
    """

    rects: list[Rect] = field(default_factory=list)
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def add_plane(
        self, origin: ArrayLike, edge_u: ArrayLike, edge_v: ArrayLike, texture: ArrayLike
    ) -> SyntheticScene:
        self.rects.append(
            Rect(np.asarray(origin), np.asarray(edge_u), np.asarray(edge_v), np.asarray(texture))
        )
        return self

    def add_box(self, center: ArrayLike, extent: ArrayLike, texture: ArrayLike) -> SyntheticScene:
        """An axis-aligned box with sides ``extent`` (x, y, z) centred at ``center``; every face wears ``texture``."""
        c = np.asarray(center, np.float64)
        sx, sy, sz = (float(s) for s in np.asarray(extent, np.float64))
        lo = c - np.array([sx, sy, sz]) / 2
        ex, ey, ez = np.array([sx, 0, 0.0]), np.array([0, sy, 0.0]), np.array([0, 0, sz])
        tex = np.asarray(texture)
        self.add_plane(lo, ex, ey, tex)  # front (z = lo)
        self.add_plane(lo + ez, ex, ey, tex)  # back
        self.add_plane(lo, ez, ey, tex)  # left (x = lo)
        self.add_plane(lo + ex, ez, ey, tex)  # right
        self.add_plane(lo, ex, ez, tex)  # top (y = lo, up in OpenCV)
        self.add_plane(lo + ey, ex, ez, tex)  # bottom
        return self

    def render(self, camera: Camera) -> SyntheticView:
        """Cast one ray per pixel centre of ``camera``; return image, depth and object ids."""
        import cv2

        intr = camera.intrinsics
        h, w = intr.height, intr.width
        uu, vv = pixel_grid(h, w)
        c2w = invert_pose(camera.world_to_camera)
        dcam = np.stack([(uu - intr.cx) / intr.fx, (vv - intr.cy) / intr.fy, np.ones_like(uu)], -1).astype(
            np.float64
        )
        dirs = dcam @ c2w[:3, :3].T  # camera z of C + t * d is t: t is the depth
        origin = c2w[:3, 3]
        best = np.full((h, w), np.inf)
        ids = np.full((h, w), -1, np.int32)
        image = np.empty((h, w, 3), np.float32)
        image[:] = np.asarray(self.background, np.float32)
        for k, rect in enumerate(self.rects):
            normal = np.cross(rect.edge_u, rect.edge_v)
            denom = dirs @ normal
            with np.errstate(divide="ignore", invalid="ignore"):
                t = float(normal @ (rect.origin - origin)) / denom
            pts = origin + t[..., None] * dirs
            rel = pts - rect.origin
            a = rel @ rect.edge_u / float(rect.edge_u @ rect.edge_u)
            b = rel @ rect.edge_v / float(rect.edge_v @ rect.edge_v)
            hit = np.isfinite(t) & (t > 1e-9) & (a >= 0) & (a < 1) & (b >= 0) & (b < 1) & (t < best)
            if not hit.any():
                continue
            th, tw = rect.texture.shape[:2]
            map_x = (a * tw - 0.5).astype(np.float32)
            map_y = (b * th - 0.5).astype(np.float32)
            colour = cv2.remap(rect.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            best = np.where(hit, t, best)
            ids[hit] = k
            image[hit] = colour[hit]
        return SyntheticView(np.clip(image, 0, 1), best.astype(np.float32), ids)


@lru_cache(maxsize=8)
def texture(name: str) -> NDArray[np.float32]:
    """A scikit-image sample as an RGB float32 texture (gray samples are replicated).

    Example:
        >>> texture("camera").shape  # a gray sample, as RGB
        (512, 512, 3)
    """
    import skimage.data

    from easel.image import as_float_rgb

    img = getattr(skimage.data, name)()
    out = as_float_rgb(img, name=name)
    out.setflags(write=False)
    return out


def layered_scene(width: int = 1024, height: int = 768) -> tuple[SyntheticScene, Intrinsics]:
    """A Ken Burns test scene: a textured back wall, a middle plane and a near box.

    Depths (input camera): wall 10, middle plane 5, box front 2.2 (units of
    the depth map). The camera is the reference's default (focal length half
    the long side), so the same scene works at any resolution.

    Returns:
        ``(scene, intrinsics)`` of the input camera (identity pose).

    Example:
        >>> scene, cam = layered_scene(64, 48)
        >>> cam.fx, cam.shape
        (32.0, (48, 64))
    """
    cam = Intrinsics.default(width, height)
    scene = SyntheticScene()
    aspect = height / width
    # back wall, much wider than the view so moving cameras never see past it
    scene.add_plane(
        [-16.0, -16.0 * aspect - 2.0, 10.0], [32.0, 0, 0], [0, 32.0 * aspect + 4.0, 0], texture("coffee")
    )
    # middle plane, left of centre
    scene.add_plane([-4.2, -2.4, 5.0], [3.6, 0, 0], [0, 2.7, 0], texture("chelsea"))
    # a second middle plane, lower right
    scene.add_plane([0.8, 0.6, 6.0], [3.2, 0, 0], [0, 2.4, 0], texture("astronaut"))
    # near box, right of centre, whose left face shows
    scene.add_box([0.9, -0.3, 2.8], [1.1, 1.1, 1.2], texture("rocket"))
    return scene, cam


def disocclusion_mask(
    scene: SyntheticScene,
    source: Camera,
    target: Camera,
    source_depth: NDArray[np.float32] | None = None,
    rtol: float = 0.01,
) -> NDArray[np.bool_]:
    """Ground truth: target pixels whose surface the source camera does not see.

    A target pixel's surface point is visible in the source when it projects
    inside the source image and its depth matches (relative tolerance
    ``rtol``) the source depth of the pixel it lands in, or lies within the
    depths of the four surrounding pixel centres when those belong to one
    surface.

    Returns:
        ``(H, W)`` bool over the target image (True = disoccluded, or no surface).

    Example:
        >>> from easel.cameras import pose_from_center
        >>> scene, cam = layered_scene(64, 48)
        >>> moved = Camera(cam, pose_from_center([0.3, 0.0, 0.0], np.eye(3)))
        >>> mask = disocclusion_mask(scene, Camera(cam), moved)
        >>> mask.shape, bool(mask.any())  # moving sideways uncovers what the box hid
        ((48, 64), True)
    """
    view = scene.render(target)
    if source_depth is None:
        source_depth = scene.render(source).depth
    intr = target.intrinsics
    uu, vv = pixel_grid(intr.height, intr.width)
    z = view.depth.astype(np.float64)
    finite = np.isfinite(z)
    zt = np.where(finite, z, 1.0)
    cam_pts = np.stack([(uu - intr.cx) / intr.fx * zt, (vv - intr.cy) / intr.fy * zt, zt], -1)
    c2w = invert_pose(target.world_to_camera)
    world = cam_pts @ c2w[:3, :3].T + c2w[:3, 3]
    uv, zs = project(world, source.intrinsics, source.world_to_camera)
    sh, sw = source_depth.shape
    inside = finite & (zs > 0) & (uv[..., 0] >= 0) & (uv[..., 0] < sw) & (uv[..., 1] >= 0) & (uv[..., 1] < sh)
    col = np.clip(np.floor(uv[..., 0]).astype(np.int64), 0, sw - 1)
    row = np.clip(np.floor(uv[..., 1]).astype(np.int64), 0, sh - 1)
    nearest = source_depth[row, col].astype(np.float64)
    seen = inside & (np.abs(nearest - zs) <= rtol * zs)
    # between pixel centres of one surface (2x2 neighbours within 5 %), linear interpolation decides
    c0 = np.clip(np.floor(uv[..., 0] - 0.5).astype(np.int64), 0, sw - 1)
    r0 = np.clip(np.floor(uv[..., 1] - 0.5).astype(np.int64), 0, sh - 1)
    c1, r1 = np.minimum(c0 + 1, sw - 1), np.minimum(r0 + 1, sh - 1)
    quad = np.stack(
        [source_depth[r0, c0], source_depth[r0, c1], source_depth[r1, c0], source_depth[r1, c1]], -1
    )
    lo, hi = quad.min(-1).astype(np.float64), quad.max(-1).astype(np.float64)
    same_surface = hi <= lo * 1.05
    seen |= inside & same_surface & (zs >= lo * (1 - rtol)) & (zs <= hi * (1 + rtol))
    return ~seen


def occluder_scene(width: int = 1024, height: int = 768) -> tuple[SyntheticScene, Intrinsics]:
    """A large disocclusion: a near textured panel (depth 2.5) before a textured wall (depth 8).

    Example:
        >>> scene, cam = occluder_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> float(view.depth.min()), float(view.depth.max())
        (2.5, 8.0)
    """
    cam = Intrinsics.default(width, height)
    scene = SyntheticScene()
    aspect = height / width
    scene.add_plane(
        [-14.0, -14.0 * aspect - 2.0, 8.0], [28.0, 0, 0], [0, 28.0 * aspect + 4.0, 0], texture("coffee")
    )
    scene.add_plane([-0.7, -0.6, 2.5], [1.3, 0, 0], [0, 1.2, 0], texture("astronaut"))
    return scene, cam


def slanted_scene(width: int = 1024, height: int = 768) -> tuple[SyntheticScene, Intrinsics]:
    """Slanted planes: a wall receding to the right (depth 4 to 11) and a tilted panel before it, a far wall behind.

    Example:
        >>> scene, cam = slanted_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> bool(view.depth[24, 10] < view.depth[24, 50])  # the slanted wall recedes to the right
        True
    """
    cam = Intrinsics.default(width, height)
    scene = SyntheticScene()
    aspect = height / width
    scene.add_plane(
        [-20.0, -20.0 * aspect - 2.0, 14.0], [40.0, 0, 0], [0, 40.0 * aspect + 4.0, 0], texture("chelsea")
    )
    # a wall slanting away: from (x=-4, z=4) to (x=4, z=11); edges perpendicular
    scene.add_plane([-5.0, -3.5, 3.5], [8.0, 0, 7.0], [0, 7.0, 0], texture("coffee"))
    # a panel tilted towards the camera at its bottom, in front of the slanted wall
    scene.add_plane([-0.9, -0.8, 2.8], [1.2, 0, 0], [0, 1.3, -0.4], texture("rocket"))
    return scene, cam


def pole_scene(width: int = 1024, height: int = 768) -> tuple[SyntheticScene, Intrinsics]:
    """A thin pole (depth 3) before a textured wall (depth 7), and a box on the right.

    Example:
        >>> scene, cam = pole_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> float(view.depth[24, 30])  # the pole, just left of centre
        3.0
    """
    cam = Intrinsics.default(width, height)
    scene = SyntheticScene()
    aspect = height / width
    scene.add_plane(
        [-14.0, -14.0 * aspect - 2.0, 7.0], [28.0, 0, 0], [0, 28.0 * aspect + 4.0, 0], texture("astronaut")
    )
    scene.add_plane([-0.2, -6.0, 3.0], [0.12, 0, 0], [0, 12.0, 0], texture("rocket"))
    scene.add_box([1.2, 0.4, 3.6], [0.9, 0.9, 0.9], texture("chelsea"))
    return scene, cam


SCENES = {
    "layered": layered_scene,
    "occluder": occluder_scene,
    "slanted": slanted_scene,
    "pole": pole_scene,
}
"""The synthetic scenes with exact novel views, by name: ``SCENES[name](width, height)``."""
