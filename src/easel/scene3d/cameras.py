"""Pinhole cameras, poses, camera paths and the nerfstudio camera-path JSON format.

Conventions (written once in ``docs/conventions.md``):

* Inside easel cameras are **OpenCV**: x right, y down, z forward; ``K`` in
  pixels; poses are **world-to-camera** 4x4 matrices; the centre of pixel
  ``(row, col)`` is at ``(col + 0.5, row + 0.5)``.
* The world frame is the **input camera's frame**: the input view has the
  identity pose, and world units are those of the depth map.
* Depth is the distance along the optical axis (the camera-frame ``z``).
* External formats (nerfstudio camera-path JSON, PLY files) use **OpenGL**
  axes (x right, y up, z backward) and camera-to-world poses; the converters
  :func:`opengl_to_opencv_c2w` / :func:`opencv_to_opengl_c2w` sit at the edge.

Example:
    >>> intr = Intrinsics.from_fov(640, 480, fov_deg=60.0)
    >>> path = kenburns_path(intr, focus_depth=2.0, zoom=1.25, shift=(0.05, 0.0), num_frames=30)
    >>> len(path), path.poses.shape
    (30, (30, 4, 4))
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.io.atomic import write_text_atomic

Float64Array = NDArray[np.float64]
Easing = Literal["smooth", "linear"]

GL_FLIP = np.diag([1.0, -1.0, -1.0, 1.0])
"""Flips y and z: OpenCV camera axes <-> OpenGL camera axes (its own inverse)."""

DEFAULT_FOCAL_FRACTION = 0.5
"""Default focal length as a fraction of the long side (the reference's 512 px at 1024 px)."""


# ---------------------------------------------------------------- intrinsics


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera's intrinsics, OpenCV style, for an image of ``width`` x ``height``.

    Attributes:
        fx: focal length along x, in pixels.
        fy: focal length along y, in pixels.
        cx: principal point x, in pixels (the image centre is ``width / 2``).
        cy: principal point y, in pixels.
        width: image width in pixels.
        height: image height in pixels.

    Example:
        >>> round(Intrinsics.from_fov(640, 480, 90.0).fy, 6)
        240.0
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0 and math.isfinite(self.fx) and math.isfinite(self.fy)):
            raise InputError(f"focal lengths must be positive and finite; got fx={self.fx}, fy={self.fy}")
        if self.width < 1 or self.height < 1:
            raise InputError(f"camera image size must be positive; got {self.width}x{self.height}")

    @classmethod
    def from_fov(cls, width: int, height: int, fov_deg: float) -> Intrinsics:
        """Square pixels, centred principal point, vertical field of view ``fov_deg`` degrees."""
        if not (0.0 < fov_deg < 180.0):
            raise InputError(f"--fov must be between 0 and 180 degrees (vertical); got {fov_deg}")
        f = 0.5 * height / math.tan(math.radians(fov_deg) / 2.0)
        return cls(f, f, width / 2.0, height / 2.0, int(width), int(height))

    @classmethod
    def from_focal(cls, width: int, height: int, focal: float) -> Intrinsics:
        """Square pixels of focal length ``focal`` pixels, centred principal point."""
        return cls(float(focal), float(focal), width / 2.0, height / 2.0, int(width), int(height))

    @classmethod
    def default(cls, width: int, height: int) -> Intrinsics:
        """The reference's default: focal length half the long side (90 degrees across it)."""
        return cls.from_focal(width, height, DEFAULT_FOCAL_FRACTION * max(width, height))

    @property
    def K(self) -> Float64Array:  # noqa: N802 - the usual name
        """The 3x3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def fov_y(self) -> float:
        """Vertical field of view in degrees."""
        return math.degrees(2.0 * math.atan(0.5 * self.height / self.fy))

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    def resized(self, width: int, height: int) -> Intrinsics:
        """The same camera for an output of ``width`` x ``height`` that covers the view.

        The image is scaled to fill the new size and centre-cropped (the
        principal point keeps its offset from the centre, scaled).
        """
        scale = max(width / self.width, height / self.height)
        return Intrinsics(
            self.fx * scale,
            self.fy * scale,
            (self.cx - self.width / 2.0) * scale + width / 2.0,
            (self.cy - self.height / 2.0) * scale + height / 2.0,
            int(width),
            int(height),
        )


def intrinsics_from_exif(path: str | os.PathLike[str], width: int, height: int) -> Intrinsics | None:
    """Intrinsics from an image's EXIF 35 mm-equivalent focal length, or ``None`` when absent.

    The 35 mm equivalent refers to a 36 mm wide frame, matched to the long side.

    Example:
        >>> intrinsics_from_exif("photo.jpg", 1024, 768)  # doctest: +SKIP
        Intrinsics(fx=739.5, ...)
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            exif = img.getexif()
            value = exif.get_ifd(0x8769).get(0xA405) or exif.get(0xA405)
    except (OSError, SyntaxError, ValueError):
        return None
    try:
        f35 = float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return None
    if not (5.0 <= f35 <= 2000.0):
        return None
    return Intrinsics.from_focal(width, height, f35 / 36.0 * max(width, height))


# ---------------------------------------------------------------- poses and projection


def check_pose(pose: ArrayLike, name: str = "pose", atol: float = 1e-3) -> Float64Array:
    """Validate a 4x4 rigid transform and return it as float64.

    Raises:
        InputError: wrong shape, non-finite values, a last row other than
            ``[0, 0, 0, 1]``, or a rotation that is not orthonormal with
            determinant +1 (within ``atol``).
    """
    mat = np.asarray(pose, dtype=np.float64)
    if mat.shape == (3, 4):
        mat = np.vstack([mat, [0.0, 0.0, 0.0, 1.0]])
    if mat.shape != (4, 4):
        raise InputError(f"{name} must be a 4x4 (or 3x4) matrix; got shape {mat.shape}")
    if not np.isfinite(mat).all():
        raise InputError(f"{name} contains NaN or infinite values")
    if not np.allclose(mat[3], [0.0, 0.0, 0.0, 1.0], atol=atol):
        raise InputError(f"{name}: last row must be [0, 0, 0, 1]; got {mat[3].tolist()}")
    rot = mat[:3, :3]
    err = float(np.abs(rot.T @ rot - np.eye(3)).max())
    if err > atol:
        raise InputError(f"{name}: rotation is not orthonormal (R^T R differs from I by {err:.3g})")
    det = float(np.linalg.det(rot))
    if det < 0:
        raise InputError(f"{name}: rotation has determinant {det:.3g} (a reflection, not a rotation)")
    return mat


def invert_pose(pose: ArrayLike) -> Float64Array:
    """Inverse of a rigid 4x4 transform (``[R | t]`` -> ``[R^T | -R^T t]``)."""
    mat = np.asarray(pose, dtype=np.float64)
    out = np.eye(4)
    out[:3, :3] = mat[:3, :3].T
    out[:3, 3] = -mat[:3, :3].T @ mat[:3, 3]
    return out


def pose_from_center(center: ArrayLike, rotation: ArrayLike | None = None) -> Float64Array:
    """World-to-camera pose of a camera at ``center`` (world) with camera-to-world ``rotation``."""
    c2w = np.eye(4)
    if rotation is not None:
        c2w[:3, :3] = np.asarray(rotation, dtype=np.float64)
    c2w[:3, 3] = np.asarray(center, dtype=np.float64)
    return invert_pose(c2w)


def camera_center(world_to_camera: ArrayLike) -> Float64Array:
    """The camera centre in world coordinates, ``(3,)``."""
    mat = np.asarray(world_to_camera, dtype=np.float64)
    return -mat[:3, :3].T @ mat[:3, 3]


def opengl_to_opencv_c2w(c2w_gl: ArrayLike) -> Float64Array:
    """A nerfstudio/OpenGL camera-to-world pose as an OpenCV one, in easel's world.

    The OpenGL world is the input camera's OpenGL frame (x right, y up, z
    backward); easel's world is the input camera's OpenCV frame, so both the
    camera axes and the world axes flip y and z.
    """
    return GL_FLIP @ np.asarray(c2w_gl, dtype=np.float64) @ GL_FLIP


def opencv_to_opengl_c2w(c2w_cv: ArrayLike) -> Float64Array:
    """Inverse of :func:`opengl_to_opencv_c2w`."""
    return GL_FLIP @ np.asarray(c2w_cv, dtype=np.float64) @ GL_FLIP


def pixel_grid(height: int, width: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``(u, v)`` pixel-centre coordinates, each ``(H, W)`` float32 (centres at +0.5)."""
    u = np.arange(width, dtype=np.float32) + np.float32(0.5)
    v = np.arange(height, dtype=np.float32) + np.float32(0.5)
    uu, vv = np.meshgrid(u, v)
    return uu, vv


def unproject(
    depth: ArrayLike, intrinsics: Intrinsics, world_to_camera: ArrayLike | None = None
) -> NDArray[np.float32]:
    """Lift every pixel to a 3D point.

    Args:
        depth: ``(H, W)`` depth along the optical axis (> 0), matching ``intrinsics``' size.
        intrinsics: the camera that took the image.
        world_to_camera: its pose (default identity: the point is in the camera frame).

    Returns:
        ``(H, W, 3)`` float32 world points (x, y, z).

    Example:
        >>> pts = unproject(np.full((4, 6), 2.0), Intrinsics.from_focal(6, 4, 3.0))
        >>> pts[0, 0].tolist()
        [-1.6666666269302368, -1.0, 2.0]
    """
    z = np.asarray(depth, dtype=np.float64)
    if z.shape != intrinsics.size:
        raise InputError(
            f"depth is {z.shape[::-1]} (WxH) but the camera is {intrinsics.width}x{intrinsics.height}"
        )
    uu, vv = pixel_grid(*z.shape)
    x = (uu - intrinsics.cx) / intrinsics.fx * z
    y = (vv - intrinsics.cy) / intrinsics.fy * z
    pts = np.stack([x, y, z], axis=-1)
    if world_to_camera is not None:
        c2w = invert_pose(world_to_camera)
        pts = pts @ c2w[:3, :3].T + c2w[:3, 3]
    return pts.astype(np.float32)


def project(
    points: ArrayLike, intrinsics: Intrinsics, world_to_camera: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project world points into a camera.

    Args:
        points: ``(..., 3)`` world points.
        intrinsics: the camera.
        world_to_camera: its pose (default identity).

    Returns:
        ``(uv, z)``: ``(..., 2)`` pixel coordinates (centres at +0.5) and
        ``(...)`` depths; points with ``z <= 0`` are behind the camera and
        their ``uv`` is meaningless.

    Example:
        >>> uv, z = project([[0.0, 0.0, 2.0]], Intrinsics.from_focal(6, 4, 3.0))
        >>> uv.tolist(), z.tolist()
        ([[3.0, 2.0]], [2.0])
    """
    pts = np.asarray(points, dtype=np.float64)
    if world_to_camera is not None:
        w2c = np.asarray(world_to_camera, dtype=np.float64)
        pts = pts @ w2c[:3, :3].T + w2c[:3, 3]
    z = pts[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = intrinsics.fx * pts[..., 0] / z + intrinsics.cx
        v = intrinsics.fy * pts[..., 1] / z + intrinsics.cy
    return np.stack([u, v], axis=-1), z


@dataclass(frozen=True)
class Camera:
    """A posed camera: intrinsics and a world-to-camera pose (OpenCV)."""

    intrinsics: Intrinsics
    world_to_camera: Float64Array = field(default_factory=lambda: np.eye(4))

    @property
    def center(self) -> Float64Array:
        return camera_center(self.world_to_camera)


# ---------------------------------------------------------------- camera paths


@dataclass
class CameraPath:
    """A sequence of posed cameras to render, at ``fps`` frames per second.

    Attributes:
        poses: ``(N, 4, 4)`` float64 world-to-camera poses (OpenCV, easel's world).
        intrinsics: one :class:`Intrinsics` for every frame, or one per frame.
        fps: frames per second of the clip.

    Example:
        >>> cam = Intrinsics.from_fov(64, 48, 60.0)
        >>> path = CameraPath(np.stack([np.eye(4)] * 3), cam, fps=24)
        >>> [c.intrinsics.width for c in path]
        [64, 64, 64]
    """

    poses: Float64Array
    intrinsics: Intrinsics | Sequence[Intrinsics]
    fps: float = 30.0

    def __post_init__(self) -> None:
        poses = np.asarray(self.poses, dtype=np.float64)
        if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) == 0:
            raise InputError(f"camera path poses must have shape (N, 4, 4) with N >= 1; got {poses.shape}")
        self.poses = np.stack([check_pose(p, f"camera_path[{i}]") for i, p in enumerate(poses)])
        if not isinstance(self.intrinsics, Intrinsics) and len(self.intrinsics) != len(poses):
            raise InputError(f"camera path has {len(poses)} poses but {len(self.intrinsics)} intrinsics")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise InputError(f"fps must be positive; got {self.fps}")

    def __len__(self) -> int:
        return len(self.poses)

    def intrinsics_at(self, index: int) -> Intrinsics:
        if isinstance(self.intrinsics, Intrinsics):
            return self.intrinsics
        return self.intrinsics[index]

    def __getitem__(self, index: int) -> Camera:
        return Camera(self.intrinsics_at(index), self.poses[index])

    def __iter__(self) -> Iterator[Camera]:
        for i in range(len(self)):
            yield self[i]

    @property
    def output_size(self) -> tuple[int, int]:
        """``(height, width)`` of the first frame (all frames of a clip share it)."""
        return self.intrinsics_at(0).size

    @property
    def centers(self) -> Float64Array:
        """``(N, 3)`` camera centres in world coordinates."""
        return np.stack([camera_center(p) for p in self.poses])

    @property
    def duration_s(self) -> float:
        return len(self) / self.fps

    def with_intrinsics(self, intrinsics: Intrinsics | Sequence[Intrinsics]) -> CameraPath:
        return CameraPath(self.poses.copy(), intrinsics, self.fps)

    def validate(self, near_depth: float, name: str = "camera path") -> None:
        """Refuse paths that leave the space in front of the input camera.

        Args:
            near_depth: depth of the nearest scene point (world units).
            name: how to call the path in messages.

        Raises:
            InputError: a camera centre behind the input camera (``z < 0``), or
                at or beyond the nearest surface (it would fly through the scene).
        """
        eps = 1e-6 * max(near_depth, 1e-12)
        for i, center in enumerate(self.centers):
            if center[2] < -eps:
                raise InputError(
                    f"{name}[{i}] moves behind the input camera (z = {center[2]:.4g} in the input "
                    "camera's frame); the path must stay in front of it"
                )
            if center[2] >= near_depth * 0.98:
                raise InputError(
                    f"{name}[{i}] moves through the nearest surface (camera z = {center[2]:.4g}, "
                    f"nearest depth {near_depth:.4g})"
                )


def path_progress(num_frames: int, boomerang: bool = True, easing: Easing = "smooth") -> NDArray[np.float64]:
    """Per-frame position along a path, in [0, 1].

    One-way runs from 0 to 1 (both included); a boomerang goes out and back
    over ``num_frames`` frames and loops seamlessly (its last frame is one
    step before the first). ``"smooth"`` eases in and out (cosine).

    Example:
        >>> path_progress(5, boomerang=False, easing="linear").tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if num_frames < 1:
        raise InputError(f"a path needs at least one frame; got {num_frames}")
    if num_frames == 1:
        return np.zeros(1)
    k = np.arange(num_frames, dtype=np.float64)
    s = 1.0 - np.abs(1.0 - 2.0 * k / num_frames) if boomerang else k / (num_frames - 1)
    if easing == "smooth":
        s = 0.5 - 0.5 * np.cos(np.pi * s)
    elif easing != "linear":
        raise InputError(f"unknown easing {easing!r}; choose smooth or linear")
    return s


def kenburns_offset(
    intrinsics: Intrinsics, focus_depth: float, zoom: float, shift: tuple[float, float]
) -> Float64Array:
    """Camera displacement (world units) of the path's end point.

    The camera moves forward so that the focus plane (at ``focus_depth``,
    usually the nearest scene depth) appears ``zoom`` times larger, and
    sideways so that the focus plane pans by ``shift`` (x, y), a fraction of
    the image's long side (positive x moves the camera right, so the picture
    slides left).
    """
    if not (zoom >= 1.0 and math.isfinite(zoom)):
        raise InputError(f"--zoom must be at least 1 (the camera only moves forward); got {zoom}")
    if not (focus_depth > 0 and math.isfinite(focus_depth)):
        raise InputError(f"focus depth must be positive; got {focus_depth}")
    long_side = max(intrinsics.width, intrinsics.height)
    tx = shift[0] * long_side * focus_depth / intrinsics.fx
    ty = shift[1] * long_side * focus_depth / intrinsics.fy
    tz = focus_depth * (1.0 - 1.0 / zoom)
    return np.array([tx, ty, tz])


def kenburns_path(
    intrinsics: Intrinsics,
    focus_depth: float,
    zoom: float = 1.25,
    shift: tuple[float, float] = (0.0, 0.0),
    num_frames: int = 75,
    fps: float = 25.0,
    boomerang: bool = True,
    easing: Easing = "smooth",
    output: Intrinsics | None = None,
) -> CameraPath:
    """The 3D Ken Burns camera path: a straight move from the input view to a zoomed, shifted one.

    Args:
        intrinsics: the input camera.
        focus_depth: depth (world units) of the plane that ``zoom`` and
            ``shift`` refer to; the reference uses the nearest scene depth.
        zoom: magnification of the focus plane at the path's end (>= 1).
        shift: ``(x, y)`` pan of the focus plane at the end, as a fraction of
            the long side (the reference's 100 px at 1024 px is about 0.1).
        num_frames: frames in the clip.
        fps: frames per second.
        boomerang: out and back (loops) or one way.
        easing: ``"smooth"`` (ease in and out) or ``"linear"``.
        output: the output camera (default: ``intrinsics``).

    Returns:
        A :class:`CameraPath` with identity rotations.

    Example:
        >>> cam = Intrinsics.default(1024, 768)
        >>> p = kenburns_path(cam, 2.0, zoom=1.25, num_frames=10, boomerang=False)
        >>> round(float(p.centers[-1, 2]), 3)
        0.4
    """
    end = kenburns_offset(intrinsics, focus_depth, zoom, shift)
    progress = path_progress(num_frames, boomerang=boomerang, easing=easing)
    poses = np.stack([pose_from_center(s * end) for s in progress])
    return CameraPath(poses, output or intrinsics, fps=fps)


AUTOZOOM_MAX_SHIFT = 100 / 1024
"""Autozoom's largest shift, a fraction of the long side (the reference's 100 px at 1024 px)."""


def focus_depth(depth: ArrayLike) -> float:
    """The depth the Ken Burns path zooms towards: the nearest surface near the middle.

    As in the reference, the border (an eighth of the long side on each side,
    the reference's 128 px at 1024 px) is left out, so a foreground object
    cut by the frame's edge does not set the zoom; the 1st percentile of the
    rest (robust to a few stray pixels) is returned.

    Args:
        depth: ``(H, W)`` depth, > 0.
    """
    z = np.asarray(depth, dtype=np.float64)
    border = max(z.shape) // 8
    inner = z[border : z.shape[0] - border, border : z.shape[1] - border]
    return float(np.percentile(inner if inner.size else z, 1.0))


def crop_limits(width: int, height: int, zoom: float) -> tuple[float, float]:
    """The largest ``(x, y)`` end shifts (fractions of the long side) the reference's crop rule allows.

    At the path's end the view shows a window ``1/zoom`` the size of the input
    around the input's centre moved by the shift; the reference only considers
    shifts that keep that window inside the input image.

    Example:
        >>> crop_limits(1000, 500, 1.25)
        (0.1, 0.05)
    """
    long_side = max(width, height)
    keep = (zoom - 1.0) / zoom
    return (width * keep / (2 * long_side), height * keep / (2 * long_side))


def autozoom_shift(
    coverage: Callable[[tuple[float, float]], float],
    max_shift: float = AUTOZOOM_MAX_SHIFT,
    grid: int = 16,
    limits: tuple[float, float] | None = None,
) -> tuple[tuple[float, float], float]:
    """The reference's autozoom search: the end shift that keeps the most pixels covered.

    Args:
        coverage: scores a candidate ``(x, y)`` shift (fraction of the long
            side): the fraction of the end frame's pixels the input covers.
        max_shift: candidates lie on a ``grid`` x ``grid`` lattice over
            ``[-max_shift, max_shift]`` in x and y (the reference: 100 px at 1024 px).
        grid: lattice size (the reference uses 16).
        limits: candidates with ``|x| > limits[0]`` or ``|y| > limits[1]`` are
            skipped (see :func:`crop_limits`); ``None`` keeps them all.

    Returns:
        ``(shift, score)``; scores equal to 0.1 % prefer the larger shift (more
        motion), then the first found. ``((0, 0), score)`` when no candidate is allowed.

    Example:
        >>> autozoom_shift(lambda s: 1.0 - abs(s[0] - 0.05), max_shift=0.1, grid=5)[0]
        (0.05, -0.1)
        >>> autozoom_shift(lambda s: 1.0 - abs(s[0] - 0.05), max_shift=0.1, grid=5, limits=(0.1, 0.0))[0]
        (0.05, 0.0)
    """
    if grid < 1:
        raise InputError(f"autozoom grid must be at least 1; got {grid}")
    values = np.linspace(-max_shift, max_shift, grid) if grid > 1 else np.zeros(1)
    best: tuple[float, float] = (0.0, 0.0)
    best_key = (-math.inf, -math.inf)
    tol = 1e-9
    for sy in values:
        for sx in values:
            if limits is not None and (abs(sx) > limits[0] + tol or abs(sy) > limits[1] + tol):
                continue
            shift = (round(float(sx), 9), round(float(sy), 9))
            score = float(coverage(shift))
            key = (round(score, 3), math.hypot(sx, sy))
            if key > best_key:
                best_key, best = key, shift
    if best_key[0] == -math.inf:
        return (0.0, 0.0), float(coverage((0.0, 0.0)))
    return best, best_key[0]


# ---------------------------------------------------------------- nerfstudio camera-path JSON


def _require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise InputError(f"{where} has no {key!r} key")
    return obj[key]


def _number(value: Any, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where} must be a number; got {value!r}") from None
    if not math.isfinite(out):
        raise InputError(f"{where} must be finite; got {value!r}")
    return out


def camera_path_from_dict(
    data: Mapping[str, Any],
    default_size: tuple[int, int] | None = None,
    source: str = "camera path JSON",
) -> CameraPath:
    """Parse a nerfstudio camera path (see :func:`read_camera_path`)."""
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a JSON object at the top level")
    frames = _require(data, "camera_path", source)
    if not isinstance(frames, list) or not frames:
        raise InputError(f"{source}: 'camera_path' must be a non-empty list of cameras")
    if "render_width" in data or "render_height" in data or default_size is None:
        width = int(_number(_require(data, "render_width", source), f"{source}: render_width"))
        height = int(_number(_require(data, "render_height", source), f"{source}: render_height"))
    else:
        height, width = default_size
    if width < 1 or height < 1:
        raise InputError(f"{source}: render size must be positive; got {width}x{height}")
    fps = _number(data.get("fps", 30.0), f"{source}: fps")
    if fps <= 0:
        raise InputError(f"{source}: fps must be positive; got {fps}")
    poses = []
    intrinsics = []
    for i, cam in enumerate(frames):
        where = f"{source}: camera_path[{i}]"
        if not isinstance(cam, Mapping):
            raise InputError(f"{where} must be an object")
        raw = _require(cam, "camera_to_world", where)
        try:
            mat = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{where}: 'camera_to_world' must be 16 numbers (a 4x4 matrix)") from None
        if mat.size == 16:
            mat = mat.reshape(4, 4)
        elif mat.size == 12:
            mat = np.vstack([mat.reshape(3, 4), [0.0, 0.0, 0.0, 1.0]])
        else:
            raise InputError(f"{where}: 'camera_to_world' must be 16 numbers (a 4x4 matrix); got {mat.size}")
        c2w_gl = check_pose(mat, f"{where}.camera_to_world")
        poses.append(invert_pose(opengl_to_opencv_c2w(c2w_gl)))
        fov = _number(_require(cam, "fov", where), f"{where}.fov")
        intrinsics.append(Intrinsics.from_fov(width, height, fov))
    same = all(k == intrinsics[0] for k in intrinsics)
    return CameraPath(np.stack(poses), intrinsics[0] if same else intrinsics, fps=fps)


def read_camera_path(path: str | os.PathLike[str], default_size: tuple[int, int] | None = None) -> CameraPath:
    """Read a nerfstudio-format camera path JSON.

    The file holds ``camera_path``, a list of cameras each with
    ``camera_to_world`` (4x4, 16 numbers row-major; OpenGL axes, the input
    camera is the identity, units of the depth map) and ``fov`` (vertical,
    degrees), plus ``render_width``, ``render_height`` and ``fps``. Other keys
    (``keyframes``, ``seconds``, ``aspect`` ...) are ignored.

    Args:
        path: the JSON file.
        default_size: ``(height, width)`` used when the file has no render size.

    Returns:
        The path in easel's conventions (OpenCV world-to-camera poses).

    Raises:
        InputError: unreadable JSON, a missing key (named), a bad matrix or a
            rotation that is not orthonormal.

    Example:
        >>> path = read_camera_path("path.json")  # doctest: +SKIP
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read camera path ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return camera_path_from_dict(data, default_size=default_size, source=str(p))


def camera_path_to_dict(path: CameraPath) -> dict[str, Any]:
    """The nerfstudio camera-path JSON object of ``path`` (see :func:`read_camera_path`)."""
    height, width = path.output_size
    cams = []
    for i, pose in enumerate(path.poses):
        c2w_gl = opencv_to_opengl_c2w(invert_pose(pose))
        intr = path.intrinsics_at(i)
        cams.append(
            {
                "camera_to_world": [float(v) for v in c2w_gl.reshape(-1)],
                "fov": intr.fov_y,
                "aspect": intr.width / intr.height,
            }
        )
    return {
        "camera_type": "perspective",
        "render_width": width,
        "render_height": height,
        "fps": path.fps,
        "seconds": path.duration_s,
        "camera_path": cams,
    }


def write_camera_path(path: str | os.PathLike[str], camera_path: CameraPath) -> Path:
    """Write ``camera_path`` as nerfstudio camera-path JSON (atomically).

    Example:
        >>> write_camera_path("path.json", kenburns_path(Intrinsics.default(64, 48), 2.0))  # doctest: +SKIP
    """
    out = Path(path)
    write_text_atomic(out, json.dumps(camera_path_to_dict(camera_path), indent=2) + "\n")
    return out
