"""Camera trajectories of 3D photos: zoom-in, dolly-zoom, swing and circle, as :class:`CameraPath`\\ s.

The shapes follow the 3D-photo reference (Shih et al. 2020): a straight move
forward and back, the same with the focal length changed to keep the focus
plane the same size (dolly zoom), and two loops. Shifts are fractions of
``unit``, a distance of the scene (easel uses the subject's depth), so a
trajectory fits any scene scale. Poses are OpenCV world-to-camera with the
input camera at the identity (see ``docs/conventions.md``).

===========  ======================================================================
zoom-in      out along ``(x, y, z)`` shift and back (``z`` > 0 moves forward)
dolly-zoom   backwards by ``z_shift`` and back, the focal length scaled by
             ``(focus + back) / focus`` so that the focus plane keeps its size
swing        ``x = x_shift cos t``, ``z = z_shift (1 + cos(t / 2)) / 2``, ``t`` over two turns
circle       ``x = x_shift cos t``, ``y = y_shift sin t``, ``z`` as for swing
===========  ======================================================================

Example:
    >>> intr = Intrinsics.from_fov(64, 48, 60.0)
    >>> path = trajectory_path("circle", intr, focus_depth=2.0, num_frames=8)
    >>> len(path), path.output_shape
    (8, (48, 64))
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from easel.cameras.intrinsics import Intrinsics
from easel.cameras.paths import CameraPath, Easing, path_progress
from easel.cameras.poses import pose_from_center
from easel.errors import InputError

Trajectory = Literal["zoom-in", "dolly-zoom", "swing", "circle"]
TRAJECTORIES: tuple[Trajectory, ...] = ("zoom-in", "dolly-zoom", "swing", "circle")


def trajectory_centers(
    kind: Trajectory,
    num_frames: int,
    x_shift: float = 0.0,
    y_shift: float = 0.0,
    z_shift: float = 0.1,
    easing: Easing = "smooth",
) -> np.ndarray:
    """``(N, 3)`` camera centres of trajectory ``kind`` in units of the scene (OpenCV axes).

    Args:
        kind: one of :data:`TRAJECTORIES`.
        num_frames: frames of the path (>= 1).
        x_shift: sideways amplitude (right is positive).
        y_shift: vertical amplitude (down is positive, OpenCV).
        z_shift: forward amplitude (zoom-in, swing, circle) or how far the
            dolly zoom moves back.
        easing: speed profile of the straight moves (``smooth`` or ``linear``);
            the loops run at constant speed.

    Example:
        >>> trajectory_centers("zoom-in", 4, z_shift=0.5)[:, 2].round(6).tolist()  # out and back
        [0.0, 0.25, 0.5, 0.25]
    """
    if kind not in TRAJECTORIES:
        raise InputError(f"unknown trajectory {kind!r}; choose one of {', '.join(TRAJECTORIES)}")
    if num_frames < 1:
        raise InputError(f"a trajectory needs at least one frame; got {num_frames}")
    if kind in ("zoom-in", "dolly-zoom"):
        s = path_progress(num_frames, boomerang=True, easing=easing)
        if kind == "dolly-zoom":
            return np.stack([np.zeros_like(s), np.zeros_like(s), -z_shift * s], 1)
        return np.stack([x_shift * s, y_shift * s, z_shift * s], 1)
    # the reference's loops: t runs over two turns, z follows cos(t / 2); here z stays in
    # [0, z_shift] (forward only: moving back would show what lies beyond the picture's border)
    t = np.linspace(-2.0 * math.pi, 2.0 * math.pi, num_frames, endpoint=False)
    y = y_shift * np.sin(t) if kind == "circle" else np.zeros_like(t)
    return np.stack([x_shift * np.cos(t), y, z_shift * 0.5 * (1.0 + np.cos(t / 2.0))], 1)


def trajectory_path(
    kind: Trajectory,
    intrinsics: Intrinsics,
    focus_depth: float,
    num_frames: int = 240,
    fps: float = 25.0,
    *,
    x_shift: float = 0.0,
    y_shift: float = 0.0,
    z_shift: float = 0.1,
    unit: float | None = None,
    output: Intrinsics | None = None,
    easing: Easing = "smooth",
) -> CameraPath:
    """The camera path of trajectory ``kind``.

    Args:
        kind: ``zoom-in``, ``dolly-zoom``, ``swing`` or ``circle``.
        intrinsics: the input camera.
        focus_depth: depth of the plane a dolly zoom keeps the same size (> 0).
        num_frames: frames of the path.
        fps: frames per second.
        x_shift: sideways amplitude, a fraction of ``unit``.
        y_shift: vertical amplitude (down is positive), a fraction of ``unit``.
        z_shift: forward amplitude (for the dolly zoom: how far it moves back),
            a fraction of ``unit``.
        unit: the distance the shifts are fractions of (default ``focus_depth``).
        output: the output camera (default ``intrinsics``); the dolly zoom
            scales its focal length per frame.
        easing: speed profile of zoom-in and dolly-zoom (``smooth`` or ``linear``).

    Returns:
        A :class:`CameraPath` with one intrinsics per frame for the dolly zoom.

    Example:
        >>> intr = Intrinsics.from_fov(64, 48, 60.0)
        >>> path = trajectory_path("dolly-zoom", intr, focus_depth=2.0, num_frames=4, z_shift=0.5)
        >>> [path.intrinsics_at(i).fx / intr.fx for i in range(4)]  # (2 + 1) / 2 at the far end
        [1.0, 1.25, 1.5, 1.25]
    """
    if not (math.isfinite(focus_depth) and focus_depth > 0):
        raise InputError(f"focus_depth must be a positive distance; got {focus_depth}")
    scale = focus_depth if unit is None else float(unit)
    centers = trajectory_centers(kind, num_frames, x_shift, y_shift, z_shift, easing) * scale
    out = output or intrinsics
    poses = np.stack([pose_from_center(c) for c in centers])
    if kind != "dolly-zoom":
        return CameraPath(poses, out, fps)
    back = -centers[:, 2]
    per_frame = []
    for b in back:
        k = float((focus_depth + b) / focus_depth)
        per_frame.append(Intrinsics(out.fx * k, out.fy * k, out.cx, out.cy, out.width, out.height))
    return CameraPath(poses, per_frame, fps)
