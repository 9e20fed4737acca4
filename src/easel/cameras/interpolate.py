"""A smooth camera path through given poses, and nerfstudio camera paths in a COLMAP model's world.

:func:`smooth_path` runs a centripetal Catmull-Rom spline through the camera
centres and a cubic rotation spline (scipy's ``RotationSpline``; a slerp for
two poses) through their orientations, both keyed to the same parameter, then
places the frames at equal arc length (constant speed, or eased with
:func:`~easel.cameras.paths.path_progress`). A path that only turns (all
centres equal) is spaced by rotation angle instead.

A fly-through's world is a COLMAP model's, not an input camera's frame, so
its nerfstudio camera-path JSON only flips the **camera** axes (OpenCV <->
OpenGL): ``camera_to_world_gl = camera_to_world_colmap @ diag(1, -1, -1, 1)``
(:func:`colmap_camera_path_to_dict`, :func:`read_colmap_camera_path`), while
:mod:`easel.cameras.nerfstudio` (single-image 3D) flips the world axes too.
See ``docs/conventions.md``.

Example:
    >>> from easel.cameras import Intrinsics, pose_from_center
    >>> keys = np.stack([pose_from_center([x, 0.0, 0.0]) for x in (0.0, 1.0, 3.0)])
    >>> path = smooth_path(keys, 7, Intrinsics.from_fov(64, 48, 50.0))
    >>> np.round(path.centers[:, 0], 4).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras.intrinsics import Intrinsics
from easel.cameras.nerfstudio import camera_path_from_dict, camera_path_to_dict
from easel.cameras.paths import CameraPath, Easing, path_progress
from easel.cameras.poses import GL_FLIP, check_pose, invert_pose
from easel.errors import InputError
from easel.io.atomic import write_text_atomic

__all__ = [
    "colmap_camera_path_from_dict",
    "colmap_camera_path_to_dict",
    "read_colmap_camera_path",
    "smooth_path",
    "write_colmap_camera_path",
]

Float64Array = NDArray[np.float64]

_DENSE = 256  # spline samples per segment for the arc-length table


def _knots(points: Float64Array) -> Float64Array:
    """Centripetal parameter of each key (sqrt of chord length), never two equal."""
    steps = np.sqrt(np.linalg.norm(np.diff(points, axis=0), axis=1))
    floor = max(float(steps.max(initial=0.0)) * 1e-3, 1e-9)
    return np.concatenate([[0.0], np.cumsum(np.maximum(steps, floor))])


def _catmull_rom(points: Float64Array, u: Float64Array) -> Float64Array:
    """Centripetal Catmull-Rom spline through ``points`` (K, 3) at global parameters ``u`` in [0, K-1].

    Segment ``i`` joins key ``i`` and ``i + 1`` for ``u`` in [i, i+1]; the ends
    use mirrored phantom keys, so the curve starts and ends at the first and last key.
    """
    k = len(points)
    if k == 1:
        return np.repeat(points, len(u), axis=0)
    ext = np.concatenate([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
    t = _knots(ext)
    seg = np.clip(np.floor(u).astype(np.int64), 0, k - 2)
    frac = (u - seg)[:, None]
    # keys p0..p3 of each segment (indices into ext, shifted by the phantom key)
    p0, p1, p2, p3 = (ext[seg + j] for j in range(4))
    t0, t1, t2, t3 = (t[seg + j][:, None] for j in range(4))
    tt = t1 + frac * (t2 - t1)
    a1 = (t1 - tt) / (t1 - t0) * p0 + (tt - t0) / (t1 - t0) * p1
    a2 = (t2 - tt) / (t2 - t1) * p1 + (tt - t1) / (t2 - t1) * p2
    a3 = (t3 - tt) / (t3 - t2) * p2 + (tt - t2) / (t3 - t2) * p3
    b1 = (t2 - tt) / (t2 - t0) * a1 + (tt - t0) / (t2 - t0) * a2
    b2 = (t3 - tt) / (t3 - t1) * a2 + (tt - t1) / (t3 - t1) * a3
    return np.asarray((t2 - tt) / (t2 - t1) * b1 + (tt - t1) / (t2 - t1) * b2, dtype=np.float64)


def _rotations(c2w_rotations: Float64Array, u: Float64Array) -> Float64Array:
    """Camera-to-world rotations at parameters ``u`` (keys at 0, 1, ..., K-1): cubic spline, or slerp for two."""
    from scipy.spatial.transform import Rotation, RotationSpline, Slerp

    keys = Rotation.from_matrix(c2w_rotations)
    times = np.arange(len(c2w_rotations), dtype=np.float64)
    if len(c2w_rotations) == 1:
        return np.repeat(c2w_rotations, len(u), axis=0)
    if len(c2w_rotations) == 2:
        return np.asarray(Slerp(times, keys)(u).as_matrix(), dtype=np.float64)
    return np.asarray(RotationSpline(times, keys)(u).as_matrix(), dtype=np.float64)


def smooth_path(
    world_to_camera: ArrayLike,
    num_frames: int,
    intrinsics: Intrinsics | Sequence[Intrinsics],
    *,
    fps: float = 30.0,
    easing: Easing = "linear",
    boomerang: bool = False,
) -> CameraPath:
    """A smooth camera path through key poses, at constant speed.

    Positions follow a centripetal Catmull-Rom spline through the camera
    centres (through every key, no overshoot loops), orientations a cubic
    rotation spline (a slerp for two keys); frames are spaced at equal arc
    length along the positions (by rotation angle when the centres do not
    move). The first and last frames are the first and last keys.

    Args:
        world_to_camera: ``(K, 4, 4)`` key poses (OpenCV, world-to-camera), in path order, K >= 1.
        num_frames: frames of the path (>= 1).
        intrinsics: the camera of every frame (one, or one per frame).
        fps: frames per second of the clip.
        easing: ``"linear"`` (constant speed) or ``"smooth"`` (eases in and out).
        boomerang: go to the end and back (a seamless loop) instead of one way.

    Returns:
        The :class:`~easel.cameras.CameraPath`.

    Raises:
        InputError: no key poses, a key that is not a rigid pose, ``num_frames < 1``.

    Example:
        >>> from easel.cameras import Intrinsics, pose_from_center
        >>> keys = np.stack([pose_from_center([0.0, 0.0, z]) for z in (0.0, 1.0)])
        >>> len(smooth_path(keys, 10, Intrinsics.default(64, 48), fps=24))
        10
    """
    poses = np.asarray(world_to_camera, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) == 0:
        raise InputError(f"key poses must have shape (K, 4, 4) with K >= 1; got {poses.shape}")
    c2w = np.stack([invert_pose(check_pose(p, f"key pose {i}")) for i, p in enumerate(poses)])
    progress = path_progress(num_frames, boomerang=boomerang, easing=easing)
    centers, rots = c2w[:, :3, 3], c2w[:, :3, :3]
    k = len(poses)
    if k == 1:
        u = np.zeros(num_frames)
    else:
        dense_u = np.linspace(0.0, k - 1.0, (k - 1) * _DENSE + 1)
        dense = _catmull_rom(centers, dense_u)
        step = np.linalg.norm(np.diff(dense, axis=0), axis=1)
        scale = float(np.linalg.norm(centers - centers.mean(axis=0), axis=1).max())
        if step.sum() <= 1e-9 * max(scale, 1.0):  # turning on the spot: space by rotation angle
            from scipy.spatial.transform import Rotation

            dense_rot = Rotation.from_matrix(_rotations(rots, dense_u))
            step = (dense_rot[1:] * dense_rot[:-1].inv()).magnitude()
        length = np.concatenate([[0.0], np.cumsum(step)])
        if length[-1] <= 0.0:
            u = progress * (k - 1)
        else:
            u = np.interp(progress * length[-1], length, dense_u)
    out_c2w = np.tile(np.eye(4), (num_frames, 1, 1))
    out_c2w[:, :3, :3] = _rotations(rots, u)
    out_c2w[:, :3, 3] = _catmull_rom(centers, u)
    return CameraPath(np.stack([invert_pose(m) for m in out_c2w]), intrinsics, fps=fps)


# ----------------------------------------------------------------------------- nerfstudio JSON, COLMAP world


def _reframe(path: CameraPath) -> CameraPath:
    """Swap between the COLMAP world and the flipped world :mod:`easel.cameras.nerfstudio` assumes.

    ``camera_path_to_dict`` writes ``F @ c2w @ F``; with ``w2c @ F`` instead of
    ``w2c`` that is ``c2w @ F`` (camera axes flipped only). ``F`` is its own
    inverse, so the same swap serves reading.
    """
    return CameraPath(path.poses @ GL_FLIP, path.intrinsics, path.fps, source=path.source)


def colmap_camera_path_to_dict(camera_path: CameraPath) -> dict[str, Any]:
    """The nerfstudio camera-path JSON object of a path in a COLMAP model's world.

    ``camera_to_world`` is the camera's pose in the COLMAP world with OpenGL
    camera axes (x right, y up, z backward): ``inv(world_to_camera) @ diag(1, -1, -1, 1)``.

    Example:
        >>> from easel.cameras import Intrinsics, pose_from_center
        >>> path = CameraPath(pose_from_center([1.0, 2.0, 3.0])[None], Intrinsics.default(64, 48))
        >>> colmap_camera_path_to_dict(path)["camera_path"][0]["camera_to_world"][:4]
        [1.0, 0.0, 0.0, 1.0]
    """
    return camera_path_to_dict(_reframe(camera_path))


def colmap_camera_path_from_dict(
    data: Mapping[str, Any],
    default_shape: tuple[int, int] | None = None,
    source: str = "camera path JSON",
) -> CameraPath:
    """Parse a nerfstudio camera path whose world is a COLMAP model's (see :func:`read_colmap_camera_path`).

    Example:
        >>> cam = {"camera_to_world": np.diag([1.0, -1.0, -1.0, 1.0]).ravel().tolist(), "fov": 50}
        >>> colmap_camera_path_from_dict({"camera_path": [cam]}, default_shape=(48, 64)).poses[0].tolist() == np.eye(4).tolist()
        True
    """
    return _reframe(camera_path_from_dict(data, default_shape=default_shape, source=source))


def read_colmap_camera_path(
    path: str | os.PathLike[str], default_shape: tuple[int, int] | None = None
) -> CameraPath:
    """Read a nerfstudio camera-path JSON given in a COLMAP model's world frame (OpenGL camera axes).

    The file's format and checks are those of :func:`easel.cameras.read_camera_path`
    (``camera_path[i].camera_to_world``, ``fov``, ``render_width`` ...); only the
    world differs: here it is the COLMAP model's, unchanged, and
    ``world_to_camera = inv(camera_to_world @ diag(1, -1, -1, 1))``.

    Args:
        path: the JSON file.
        default_shape: ``(height, width)`` used when the file has no render size.

    Returns:
        The path with OpenCV world-to-camera poses in the COLMAP world.

    Example:
        >>> path = read_colmap_camera_path("path.json")  # doctest: +SKIP
    """
    from easel.cameras.nerfstudio import read_camera_path

    return _reframe(read_camera_path(path, default_shape=default_shape))


def write_colmap_camera_path(path: str | os.PathLike[str], camera_path: CameraPath) -> Path:
    """Write a path in a COLMAP model's world as nerfstudio camera-path JSON (atomically).

    Example:
        >>> write_colmap_camera_path("path.json", path)  # doctest: +SKIP
    """
    out = Path(path)
    write_text_atomic(out, json.dumps(colmap_camera_path_to_dict(camera_path), indent=2) + "\n")
    return out
