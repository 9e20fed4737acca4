"""A synthetic multi-view dataset with exact cameras: a textured room seen from an arc of cameras.

The scene is a closed room (floor, ceiling, three walls) holding three boxes
and two posters, every surface a textured rectangle: scikit-image's bundled
photos and textures (``skimage.data``) and procedural colour noise with discs
that SIFT can match (no repeated tiles, so feature matching is unambiguous).
Views are ray-cast exactly (ray-rectangle intersection in NumPy) and
anti-aliased by supersampling; each view has its own exposure and white
balance (``image = clip(radiance * exposure * white_balance, 0, 1)``), to
exercise a tonemapper.

:func:`write_synthetic_scene` writes ``images/view_NNN.png``, a COLMAP text
model in ``sparse/0`` (the true cameras, and a dense point cloud sampled on the
surfaces with their true colours) and ``truth.json`` (poses, exposures, white
balance). :func:`render_view` renders any other camera of the same scene, so a
test can compare a model's render with the exact image.

World frame: OpenCV-like, x right, y **down** (the floor is at ``y = 1``), z
forward (the back wall is at ``z = 7``), in metres. Cameras are OpenCV
world-to-camera poses, the COLMAP convention.

Example:
    >>> poses, intr = arc_poses(4, shape=(48, 64))
    >>> image = render_view(poses[0], intr, supersample=1)
    >>> image.shape, image.dtype.name, bool(image.max() <= 1.0)
    ((48, 64, 3), 'float32', True)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras import (
    ColmapCamera,
    ColmapImage,
    ColmapModel,
    Intrinsics,
    pose_from_center,
    write_colmap_model,
)
from easel.errors import InputError
from easel.io.atomic import write_text_atomic
from easel.io.images import write_image

__all__ = [
    "Surface",
    "SyntheticScene",
    "arc_poses",
    "cast_rays",
    "render_view",
    "sample_surface_points",
    "scene_surfaces",
    "write_synthetic_scene",
]

FloatImage = NDArray[np.float32]

TEXELS_PER_METRE = 96.0
"""Texture resolution on every surface: about one texel per pixel at 2 m for a 256x192 view."""

BACKGROUND = np.array([0.0, 0.0, 0.0], dtype=np.float32)
"""Colour of rays that hit nothing (none do from the arc's cameras: the room is closed)."""

FOV_Y = 55.0
"""Vertical field of view of the synthetic cameras, degrees."""

_TARGET = np.array([0.0, 0.25, 4.0])
_RADIUS = 3.4


@dataclass(frozen=True)
class Surface:
    """A textured rectangle ``origin + s * axis_u + t * axis_v``, ``s`` in [0, size_u], ``t`` in [0, size_v].

    ``axis_u`` and ``axis_v`` are perpendicular unit vectors (metres); the
    texture covers the rectangle once, texel ``(row, col)`` at
    ``s = (col + 0.5) / texels_per_metre`` and ``t = (row + 0.5) / texels_per_metre``.

    Example:
        >>> len(scene_surfaces(0)) > 10
        True
    """

    name: str
    origin: NDArray[np.float64]
    axis_u: NDArray[np.float64]
    axis_v: NDArray[np.float64]
    size_u: float
    size_v: float
    texture: FloatImage

    @property
    def normal(self) -> NDArray[np.float64]:
        """Unit normal ``axis_u x axis_v``."""
        return np.cross(self.axis_u, self.axis_v)

    @property
    def area(self) -> float:
        """Area in square metres."""
        return self.size_u * self.size_v


# ----------------------------------------------------------------------------- textures


def _procedural_texture(height: int, width: int, rng: np.random.Generator) -> FloatImage:
    """Colour noise at three scales plus random discs and squares: blobs and corners everywhere."""
    import cv2

    out = np.zeros((height, width, 3))
    for sigma, weight in ((24.0, 0.5), (6.0, 0.3), (1.5, 0.2)):
        # smooth noise made at a coarser grid and upsampled: the same look, a fraction of the cost
        factor = max(1, int(sigma // 3))
        small = rng.normal(size=(-(-height // factor) + 1, -(-width // factor) + 1, 3))
        blurred = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REFLECT)
        size = (small.shape[1] * factor, small.shape[0] * factor)
        field = np.asarray(cv2.resize(blurred, size, interpolation=cv2.INTER_CUBIC), dtype=np.float64)
        field = field[:height, :width] / (field[:height, :width].std() + 1e-12)
        out += weight * field
    out = 0.5 + 0.18 * out
    yy, xx = np.mgrid[0:height, 0:width]
    count = int(height * width / 900)
    for _ in range(count):
        r = rng.uniform(2.0, 9.0)
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        y0, y1 = max(0, int(cy - r)), min(height, int(cy + r) + 2)
        x0, x1 = max(0, int(cx - r)), min(width, int(cx + r) + 2)
        if rng.random() < 0.5:
            mask = (yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2 <= r * r
        else:
            mask = (np.abs(yy[y0:y1, x0:x1] - cy) <= r) & (np.abs(xx[y0:y1, x0:x1] - cx) <= r)
        out[y0:y1, x0:x1][mask] = rng.uniform(0.0, 1.0, size=3)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _photo_texture(name: str, height: int, width: int) -> FloatImage:
    """A scikit-image sample (``skimage.data``), grey ones tinted, resized to ``height`` x ``width``."""
    import skimage.data
    from skimage.transform import resize

    image = np.asarray(getattr(skimage.data, name)(), dtype=np.float64) / 255.0
    if image.ndim == 2:
        image = image[..., None] * np.array([0.95, 0.85, 0.7])
    image = image[..., :3]
    return resize(image, (height, width), anti_aliasing=True, order=1).astype(np.float32)


def _texture_shape(size_u: float, size_v: float) -> tuple[int, int]:
    return max(2, round(size_v * TEXELS_PER_METRE)), max(2, round(size_u * TEXELS_PER_METRE))


def _surface(
    name: str, origin: ArrayLike, u: ArrayLike, v: ArrayLike, texture: str | None, rng: np.random.Generator
) -> Surface:
    edge_u, edge_v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    size_u, size_v = float(np.linalg.norm(edge_u)), float(np.linalg.norm(edge_v))
    h, w = _texture_shape(size_u, size_v)
    image = _procedural_texture(h, w, rng) if texture is None else _photo_texture(texture, h, w)
    # radiance in [0.04, 0.8]: room for exposures above 1 before clipping
    image = (0.04 + 0.76 * image).astype(np.float32)
    return Surface(
        name, np.asarray(origin, dtype=np.float64), edge_u / size_u, edge_v / size_v, size_u, size_v, image
    )


def _box(
    name: str,
    center: Sequence[float],
    half: Sequence[float],
    yaw_deg: float,
    textures: Sequence[str | None],
    rng: np.random.Generator,
) -> list[Surface]:
    """The five visible faces (not the bottom) of a box standing on the floor, turned ``yaw_deg`` about y."""
    c = np.asarray(center, dtype=np.float64)
    a = math.radians(yaw_deg)
    ex = np.array([math.cos(a), 0.0, -math.sin(a)]) * half[0]
    ey = np.array([0.0, 1.0, 0.0]) * half[1]
    ez = np.array([math.sin(a), 0.0, math.cos(a)]) * half[2]
    faces = [
        ("front", c - ez - ex - ey, 2 * ex, 2 * ey),  # faces -z (towards the cameras)
        ("back", c + ez + ex - ey, -2 * ex, 2 * ey),
        ("left", c + ez - ex - ey, -2 * ez, 2 * ey),
        ("right", c - ez + ex - ey, 2 * ez, 2 * ey),
        ("top", c + ez - ex - ey, 2 * ex, -2 * ez),
    ]
    return [
        _surface(f"{name}.{face}", o, u, v, textures[i % len(textures)], rng)
        for i, (face, o, u, v) in enumerate(faces)
    ]


@lru_cache(maxsize=4)
def scene_surfaces(seed: int = 0) -> tuple[Surface, ...]:
    """The textured rectangles of the synthetic room (the procedural textures follow ``seed``).

    Args:
        seed: seeds the procedural textures; the geometry is the same for every seed.

    Returns:
        The surfaces: floor, ceiling, three walls, two posters on the back wall, three boxes.

    Example:
        >>> sorted({s.name.split(".")[0] for s in scene_surfaces(0)})[:4]
        ['back_wall', 'box_a', 'box_b', 'box_c']
    """
    rng = np.random.default_rng(seed)
    x0, x1, y_floor, y_ceiling, z_back, z_front = -4.0, 4.0, 1.0, -3.0, 7.0, -1.5
    width, height, depth = x1 - x0, y_floor - y_ceiling, z_back - z_front
    surfaces = [
        _surface("floor", [x0, y_floor, z_front], [width, 0, 0], [0, 0, depth], None, rng),
        _surface("ceiling", [x0, y_ceiling, z_back], [width, 0, 0], [0, 0, -depth], "gravel", rng),
        _surface("back_wall", [x0, y_ceiling, z_back], [width, 0, 0], [0, height, 0], None, rng),
        _surface("left_wall", [x0, y_ceiling, z_front], [0, 0, depth], [0, height, 0], None, rng),
        _surface("right_wall", [x1, y_ceiling, z_back], [0, 0, -depth], [0, height, 0], None, rng),
        # posters 2 cm in front of the back wall
        _surface("poster_astronaut", [-2.6, -1.9, z_back - 0.02], [1.8, 0, 0], [0, 1.8, 0], "astronaut", rng),
        _surface("poster_coffee", [0.9, -1.6, z_back - 0.02], [2.1, 0, 0], [0, 1.4, 0], "coffee", rng),
    ]
    surfaces += _box("box_a", [-1.1, 0.5, 4.3], [0.5, 0.5, 0.5], 20.0, ["chelsea", None, "brick"], rng)
    surfaces += _box("box_b", [1.2, 0.6, 3.4], [0.4, 0.4, 0.4], -15.0, ["rocket", "grass", None], rng)
    surfaces += _box("box_c", [0.2, 0.05, 5.4], [0.35, 0.95, 0.35], 35.0, [None, "immunohistochemistry"], rng)
    return tuple(surfaces)


# ----------------------------------------------------------------------------- cameras


def arc_poses(
    num_views: int = 24, shape: tuple[int, int] = (192, 256), arc_deg: float = 70.0
) -> tuple[NDArray[np.float64], Intrinsics]:
    """The cameras of the synthetic dataset: ``num_views`` on a horizontal arc, all looking at the scene centre.

    The cameras sit 3.4 m from the centre of the boxes, from ``-arc_deg / 2``
    to ``+arc_deg / 2`` degrees, their height waving by 15 cm.

    Args:
        num_views: number of cameras (>= 2).
        shape: ``(height, width)`` of the images.
        arc_deg: the angle the arc spans, degrees.

    Returns:
        ``(poses, intrinsics)``: ``(N, 4, 4)`` world-to-camera poses (OpenCV) and the shared pinhole camera
        (vertical field of view 55 degrees).

    Example:
        >>> poses, intr = arc_poses(3, shape=(48, 64))
        >>> poses.shape, intr.width
        ((3, 4, 4), 64)
    """
    if num_views < 2:
        raise InputError(f"a synthetic scene needs at least 2 views; got {num_views}")
    height, width = shape
    intrinsics = Intrinsics.from_fov(width, height, FOV_Y)
    poses = []
    for i, angle in enumerate(np.radians(np.linspace(-arc_deg / 2, arc_deg / 2, num_views))):
        center = _TARGET + _RADIUS * np.array([math.sin(angle), 0.0, -math.cos(angle)])
        center[1] = -0.55 + 0.15 * math.sin(2.3 * i)
        forward = _TARGET - center
        forward /= np.linalg.norm(forward)
        right = np.cross([0.0, 1.0, 0.0], forward)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        poses.append(pose_from_center(center, np.stack([right, down, forward], axis=1)))
    return np.stack(poses), intrinsics


# ----------------------------------------------------------------------------- rendering


def _bilinear(texture: FloatImage, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sample ``texture`` at texel coordinates (centres at +0.5), clamped at the border."""
    h, w = texture.shape[:2]
    x = np.clip(x - 0.5, 0.0, w - 1.0)
    y = np.clip(y - 0.5, 0.0, h - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x0 + 1] * fx
    bottom = texture[y0 + 1, x0] * (1 - fx) + texture[y0 + 1, x0 + 1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64)


def _colour_at(surface: Surface, s: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    return _bilinear(surface.texture, s * TEXELS_PER_METRE, t * TEXELS_PER_METRE)


def cast_rays(
    origin: ArrayLike, directions: ArrayLike, surfaces: Sequence[Surface]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Radiance and distance of the nearest surface along each ray.

    Args:
        origin: ``(3,)`` the rays' common origin (a camera centre).
        directions: ``(R, 3)`` ray directions (any length; distances are in their units).
        surfaces: the scene.

    Returns:
        ``(radiance, t)``: ``(R, 3)`` float64 colours (background where nothing is hit) and ``(R,)``
        ray parameters of the hits (``inf`` where nothing is hit).

    Example:
        >>> rgb, t = cast_rays([0.0, -2.0, 0.0], [[0.0, 0.0, 1.0]], scene_surfaces(0))  # to the back wall
        >>> round(float(t[0]), 6)
        7.0
    """
    o = np.asarray(origin, dtype=np.float64)
    d = np.asarray(directions, dtype=np.float64).reshape(-1, 3)
    best_t = np.full(len(d), np.inf)
    best_i = np.full(len(d), -1, dtype=np.int64)
    best_s = np.zeros(len(d))
    best_r = np.zeros(len(d))
    for i, surf in enumerate(surfaces):
        n = surf.normal
        denom = d @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((surf.origin - o) @ n) / denom
        ok = np.isfinite(t) & (t > 1e-9) & (t < best_t)
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            continue
        rel = o + d[idx] * t[idx, None] - surf.origin
        s = rel @ surf.axis_u
        r = rel @ surf.axis_v
        inside = (s >= 0) & (s <= surf.size_u) & (r >= 0) & (r <= surf.size_v)
        idx = idx[inside]
        best_t[idx] = t[idx]
        best_i[idx] = i
        best_s[idx] = s[inside]
        best_r[idx] = r[inside]
    radiance = np.tile(BACKGROUND.astype(np.float64), (len(d), 1))
    for i, surf in enumerate(surfaces):
        sel = best_i == i
        if sel.any():
            radiance[sel] = _colour_at(surf, best_s[sel], best_r[sel])
    return radiance, best_t


def render_view(
    world_to_camera: ArrayLike,
    intrinsics: Intrinsics,
    *,
    seed: int = 0,
    exposure: float = 1.0,
    white_balance: ArrayLike = (1.0, 1.0, 1.0),
    supersample: int = 3,
) -> FloatImage:
    """Render the synthetic room exactly from a camera.

    Each pixel averages ``supersample`` x ``supersample`` rays spread evenly
    over its square; ``image = clip(radiance * exposure * white_balance, 0, 1)``.

    Args:
        world_to_camera: ``(4, 4)`` pose, OpenCV axes.
        intrinsics: the pinhole camera (its size is the image's).
        seed: the scene's seed (its procedural textures).
        exposure: linear gain.
        white_balance: ``(3,)`` per-channel gains.
        supersample: rays per pixel along each axis (1: pixel centres only).

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Example:
        >>> poses, intr = arc_poses(2, shape=(24, 32))
        >>> bool(render_view(poses[0], intr, exposure=0.0, supersample=1).max() == 0.0)
        True
    """
    if supersample < 1:
        raise InputError(f"supersample must be at least 1; got {supersample}")
    pose = np.asarray(world_to_camera, dtype=np.float64)
    rot, trans = pose[:3, :3], pose[:3, 3]
    center = -rot.T @ trans
    h, w = intrinsics.height, intrinsics.width
    offsets = (np.arange(supersample) + 0.5) / supersample
    total = np.zeros((h * w, 3))
    cols, rows = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    surfaces = scene_surfaces(seed)
    for dy in offsets:
        for dx in offsets:
            x = ((cols + dx).ravel() - intrinsics.cx) / intrinsics.fx
            y = ((rows + dy).ravel() - intrinsics.cy) / intrinsics.fy
            dirs = np.stack([x, y, np.ones_like(x)], axis=1) @ rot  # camera -> world: R^T d
            radiance, _ = cast_rays(center, dirs, surfaces)
            total += radiance
    gain = float(exposure) * np.asarray(white_balance, dtype=np.float64).reshape(1, 3)
    image = np.clip(total / supersample**2 * gain, 0.0, 1.0)
    return image.reshape(h, w, 3).astype(np.float32)


def sample_surface_points(
    seed: int, num_points: int, visible_from: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
    """A dense point cloud on the room's surfaces, area-uniform, with the true colours (exposure 1).

    Args:
        seed: the scene's seed (textures) and the sampling's.
        num_points: how many points.
        visible_from: ``(K, 4, 4)`` world-to-camera poses: keep only points that at least one of
            these cameras sees unoccluded (as a multi-view stereo cloud would be: no points under
            the boxes or behind the posters). ``None`` keeps every surface point.

    Returns:
        ``(xyz, rgb)``: ``(N, 3)`` float64 positions and ``(N, 3)`` uint8 colours.

    Example:
        >>> xyz, rgb = sample_surface_points(0, 1000)
        >>> xyz.shape, rgb.dtype.name
        ((1000, 3), 'uint8')
    """
    if num_points < 1:
        raise InputError(f"the point cloud needs at least one point; got {num_points}")
    surfaces = scene_surfaces(seed)
    rng = np.random.default_rng(seed + 7919)
    areas = np.array([s.area for s in surfaces])
    centers = None
    if visible_from is not None:
        poses = np.asarray(visible_from, dtype=np.float64).reshape(-1, 4, 4)
        centers = [-p[:3, :3].T @ p[:3, 3] for p in poses]
    xyz_parts: list[NDArray[np.float64]] = []
    rgb_parts: list[NDArray[np.float64]] = []
    found = 0
    for _ in range(20):
        batch = int((num_points - found) * (1.6 if centers else 1.0)) + (256 if centers else 0)
        counts = rng.multinomial(batch, areas / areas.sum())
        for surf, count in zip(surfaces, counts, strict=True):
            s = rng.uniform(0.0, surf.size_u, count)
            t = rng.uniform(0.0, surf.size_v, count)
            pts = surf.origin + s[:, None] * surf.axis_u + t[:, None] * surf.axis_v
            if centers:
                seen = np.zeros(count, dtype=bool)
                for c in centers:
                    _, hit = cast_rays(c, pts - c, surfaces)
                    seen |= hit >= 1.0 - 1e-7
                pts, s, t = pts[seen], s[seen], t[seen]
            xyz_parts.append(pts)
            rgb_parts.append(_colour_at(surf, s, t))
            found += len(pts)
        if found >= num_points:
            break
    xyz = np.concatenate(xyz_parts)
    rgb = np.concatenate(rgb_parts)
    if found < num_points:
        raise InputError(f"only {found} of {num_points} surface points are visible from the cameras")
    keep = np.sort(rng.permutation(len(xyz))[:num_points])
    return xyz[keep], np.clip(np.round(rgb[keep] * 255.0), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- the dataset


@dataclass
class SyntheticScene:
    """A written synthetic dataset and its ground truth.

    Attributes:
        folder: the dataset folder.
        images_dir: ``folder/images`` (``view_000.png`` ...).
        model_dir: ``folder/sparse/0``, the COLMAP text model (true cameras, dense points).
        truth_path: ``folder/truth.json``.
        names: image file names, in arc order (sorted).
        poses: ``(N, 4, 4)`` true world-to-camera poses (OpenCV).
        intrinsics: the shared pinhole camera.
        exposures: ``(N,)`` per-image exposure gains.
        white_balance: ``(N, 3)`` per-image channel gains.
        seed: the scene's seed.

    Example:
        >>> scene = write_synthetic_scene("synthetic/", num_views=8, shape=(48, 64))  # doctest: +SKIP
        >>> image = scene.render(2)  # doctest: +SKIP
    """

    folder: Path
    images_dir: Path
    model_dir: Path
    truth_path: Path
    names: list[str]
    poses: NDArray[np.float64]
    intrinsics: Intrinsics
    exposures: NDArray[np.float64]
    white_balance: NDArray[np.float64]
    seed: int
    supersample: int = 3

    def render(self, index: int, *, neutral: bool = False) -> FloatImage:
        """View ``index`` exactly as written (or with exposure 1 and neutral white balance when ``neutral``).

        Example:
            >>> scene.render(0).shape  # doctest: +SKIP
            (192, 256, 3)
        """
        return render_view(
            self.poses[index],
            self.intrinsics,
            seed=self.seed,
            exposure=1.0 if neutral else float(self.exposures[index]),
            white_balance=(1.0, 1.0, 1.0) if neutral else self.white_balance[index],
            supersample=self.supersample,
        )


def write_synthetic_scene(
    folder: str | os.PathLike[str],
    num_views: int = 24,
    shape: tuple[int, int] = (192, 256),
    seed: int = 0,
    points: int = 200_000,
    *,
    exposure_stops: float = 0.5,
    supersample: int = 3,
) -> SyntheticScene:
    """Render and write a synthetic multi-view dataset with exact cameras.

    Writes ``images/view_NNN.png`` (8-bit), ``sparse/0/{cameras,images,points3D}.txt``
    (one PINHOLE camera, the true poses, ``points`` surface points with their
    true colours, no 2D observations) and ``truth.json``.

    Args:
        folder: the dataset folder (created; files in it are replaced).
        num_views: cameras on the arc.
        shape: ``(height, width)`` of the images.
        seed: seeds the textures, the exposures and the point sampling.
        points: number of points in the dense cloud.
        exposure_stops: exposures are ``2 ** uniform(-stops, +stops)``; white balance gains are
            within about 6 % of 1.
        supersample: rays per pixel along each axis.

    Returns:
        The :class:`SyntheticScene` (paths and truth).

    Example:
        >>> scene = write_synthetic_scene("synthetic/", num_views=8, shape=(48, 64))  # doctest: +SKIP
        >>> scene.names[:2]  # doctest: +SKIP
        ['view_000.png', 'view_001.png']
    """
    height, width = shape
    if height < 8 or width < 8:
        raise InputError(f"synthetic images must be at least 8x8; got {width}x{height}")
    out = Path(folder)
    images_dir = out / "images"
    model_dir = out / "sparse" / "0"
    images_dir.mkdir(parents=True, exist_ok=True)
    poses, intrinsics = arc_poses(num_views, shape)
    rng = np.random.default_rng(seed)
    exposures = 2.0 ** rng.uniform(-exposure_stops, exposure_stops, num_views)
    white_balance = np.exp(rng.uniform(-0.06, 0.06, (num_views, 3)))
    names = [f"view_{i:03d}.png" for i in range(num_views)]
    scene = SyntheticScene(
        out,
        images_dir,
        model_dir,
        out / "truth.json",
        names,
        poses,
        intrinsics,
        exposures,
        white_balance,
        seed,
        supersample,
    )
    for i, name in enumerate(names):
        write_image(images_dir / name, scene.render(i))
    xyz, rgb = sample_surface_points(seed, points, visible_from=poses[:: max(1, num_views // 8)])
    camera = ColmapCamera.from_intrinsics(1, intrinsics)
    images = {i + 1: ColmapImage.from_pose(i + 1, poses[i], 1, name) for i, name in enumerate(names)}
    write_colmap_model(ColmapModel({1: camera}, images, xyz, rgb), model_dir)
    truth = {
        "seed": seed,
        "shape": [height, width],
        "intrinsics": {"fx": intrinsics.fx, "fy": intrinsics.fy, "cx": intrinsics.cx, "cy": intrinsics.cy},
        "num_points": int(points),
        "views": [
            {
                "name": name,
                "world_to_camera": [float(v) for v in poses[i].reshape(-1)],
                "exposure": float(exposures[i]),
                "white_balance": [float(v) for v in white_balance[i]],
            }
            for i, name in enumerate(names)
        ],
    }
    write_text_atomic(scene.truth_path, json.dumps(truth, indent=1) + "\n")
    return scene
