"""Poses (world-to-camera 4x4, OpenCV axes), their OpenGL converters, projection and posed cameras.

Conventions (written once in ``docs/conventions.md``): camera axes x right,
y down, z forward; poses are world-to-camera; the centre of pixel
``(row, col)`` is at ``(col + 0.5, row + 0.5)``; depth is the camera-frame
``z``. External formats use OpenGL camera-to-world poses and are converted at
the edge with :func:`opengl_to_opencv_c2w` / :func:`opencv_to_opengl_c2w`.

Example:
    >>> pose = pose_from_center([0.0, 0.0, 1.0])
    >>> camera_center(pose).tolist()
    [0.0, 0.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras.intrinsics import Intrinsics
from easel.errors import InputError

Float64Array = NDArray[np.float64]

GL_FLIP = np.diag([1.0, -1.0, -1.0, 1.0])
"""Flips y and z: OpenCV camera axes <-> OpenGL camera axes (its own inverse)."""


def check_pose(pose: ArrayLike, name: str = "pose", atol: float = 1e-3) -> Float64Array:
    """Validate a 4x4 rigid transform and return it as float64.

    Args:
        pose: a 4x4 (or 3x4) matrix.
        name: how to call it in messages (``camera_path[3]``).
        atol: tolerance of the orthonormality and last-row checks.

    Returns:
        The ``(4, 4)`` float64 matrix.

    Raises:
        InputError: wrong shape, non-finite values, a last row other than
            ``[0, 0, 0, 1]``, or a rotation that is not orthonormal with
            determinant +1 (within ``atol``).

    Example:
        >>> check_pose(np.eye(4)).shape
        (4, 4)
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
    """Inverse of a rigid 4x4 transform (``[R | t]`` -> ``[R^T | -R^T t]``).

    Example:
        >>> invert_pose(pose_from_center([1.0, 2.0, 3.0]))[:3, 3].tolist()
        [1.0, 2.0, 3.0]
    """
    mat = np.asarray(pose, dtype=np.float64)
    out = np.eye(4)
    out[:3, :3] = mat[:3, :3].T
    out[:3, 3] = -mat[:3, :3].T @ mat[:3, 3]
    return out


def pose_from_center(center: ArrayLike, rotation: ArrayLike | None = None) -> Float64Array:
    """World-to-camera pose of a camera at ``center`` (world) with camera-to-world ``rotation``.

    Example:
        >>> float(pose_from_center([0.0, 0.0, 2.0])[2, 3])
        -2.0
    """
    c2w = np.eye(4)
    if rotation is not None:
        c2w[:3, :3] = np.asarray(rotation, dtype=np.float64)
    c2w[:3, 3] = np.asarray(center, dtype=np.float64)
    return invert_pose(c2w)


def camera_center(world_to_camera: ArrayLike) -> Float64Array:
    """The camera centre in world coordinates, ``(3,)``.

    Example:
        >>> camera_center(np.eye(4)).tolist()
        [0.0, 0.0, 0.0]
    """
    mat = np.asarray(world_to_camera, dtype=np.float64)
    return -mat[:3, :3].T @ mat[:3, 3]


def opengl_to_opencv_c2w(c2w_gl: ArrayLike) -> Float64Array:
    """A nerfstudio/OpenGL camera-to-world pose as an OpenCV one, in easel's world.

    The OpenGL world is the input camera's OpenGL frame (x right, y up, z
    backward); easel's world is the input camera's OpenCV frame, so both the
    camera axes and the world axes flip y and z.

    Example:
        >>> gl = np.eye(4); gl[2, 3] = 1.0  # one step backwards
        >>> float(opengl_to_opencv_c2w(gl)[2, 3])
        -1.0
    """
    return GL_FLIP @ np.asarray(c2w_gl, dtype=np.float64) @ GL_FLIP


def opencv_to_opengl_c2w(c2w_cv: ArrayLike) -> Float64Array:
    """Inverse of :func:`opengl_to_opencv_c2w` (the same formula).

    Example:
        >>> opencv_to_opengl_c2w(np.eye(4)).tolist() == np.eye(4).tolist()
        True
    """
    return GL_FLIP @ np.asarray(c2w_cv, dtype=np.float64) @ GL_FLIP


def pixel_grid(height: int, width: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``(u, v)`` pixel-centre coordinates, each ``(H, W)`` float32 (centres at +0.5).

    Example:
        >>> u, v = pixel_grid(2, 3)
        >>> u[0].tolist(), v[:, 0].tolist()
        ([0.5, 1.5, 2.5], [0.5, 1.5])
    """
    u = np.arange(width, dtype=np.float32) + np.float32(0.5)
    v = np.arange(height, dtype=np.float32) + np.float32(0.5)
    uu, vv = np.meshgrid(u, v)
    return uu, vv


def unproject(
    depth: ArrayLike, intrinsics: Intrinsics, world_to_camera: ArrayLike | None = None
) -> NDArray[np.float32]:
    """Lift every pixel to a 3D point.

    Args:
        depth: ``(H, W)`` depth along the optical axis (> 0), matching ``intrinsics``' shape.
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
    if z.shape != intrinsics.shape:
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
    """A posed camera: intrinsics and a world-to-camera pose (OpenCV).

    Example:
        >>> Camera(Intrinsics.default(64, 48)).center.tolist()
        [0.0, 0.0, 0.0]
    """

    intrinsics: Intrinsics
    world_to_camera: Float64Array = field(default_factory=lambda: np.eye(4))

    @property
    def center(self) -> Float64Array:
        """The camera centre in world coordinates, ``(3,)``."""
        return camera_center(self.world_to_camera)
