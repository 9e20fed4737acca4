"""Ken Burns camera geometry: the zoom-and-shift path, its focus depth, and the autozoom search.

The path moves the camera straight from the input view towards the nearest
surface away from the border (:func:`focus_depth`) so that it looks ``zoom``
times larger, and sideways so that it pans by ``shift`` (a fraction of the
image's long side). Without a shift, :func:`autozoom_shift` searches a grid
of shifts for the one that keeps the most pixels covered, as the 3D Ken Burns
reference (Niklaus et al. 2019) does.

Example:
    >>> intr = Intrinsics.from_fov(640, 480, fov_deg=60.0)
    >>> path = kenburns_path(intr, focus_depth=2.0, zoom=1.25, shift=(0.05, 0.0), num_frames=30)
    >>> len(path), path.poses.shape
    (30, (30, 4, 4))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from easel.cameras import CameraPath, Easing, Intrinsics, path_progress, pose_from_center
from easel.cameras.poses import Float64Array
from easel.errors import InputError
from easel.options import OptionError

AUTOZOOM_MAX_SHIFT = 100 / 1024
"""Autozoom's largest shift, a fraction of the long side (the reference's 100 px at 1024 px)."""

CAMERA_STOP = 0.9
"""The camera moves at most this fraction of the way to the nearest surface."""

MAX_ZOOM = 1.0 / (1.0 - CAMERA_STOP)
"""The largest zoom any picture allows (10): the camera stops at 90 % of the nearest depth."""


def kenburns_offset(
    intrinsics: Intrinsics, focus_depth: float, zoom: float, shift: tuple[float, float]
) -> Float64Array:
    """Camera displacement (world units) of the path's end point.

    The camera moves forward so that the focus plane (at ``focus_depth``,
    usually the nearest scene depth) appears ``zoom`` times larger, and
    sideways so that the focus plane pans by ``shift`` (x, y), a fraction of
    the image's long side (positive x moves the camera right, so the picture
    slides left).

    Args:
        intrinsics: the input camera.
        focus_depth: depth of the focus plane (> 0, world units).
        zoom: magnification of the focus plane (>= 1).
        shift: ``(x, y)`` pan of the focus plane, fraction of the long side.

    Returns:
        ``(3,)`` float64 camera centre at the path's end.

    Example:
        >>> kenburns_offset(Intrinsics.default(100, 50), 2.0, 2.0, (0.0, 0.0)).tolist()
        [0.0, 0.0, 1.0]
    """
    if not (zoom >= 1.0 and math.isfinite(zoom)):
        raise InputError(f"zoom must be at least 1 (the camera only moves forward); got {zoom:g}")
    if not (focus_depth > 0 and math.isfinite(focus_depth)):
        raise InputError(f"focus depth must be positive; got {focus_depth:g}")
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
        A :class:`~easel.cameras.CameraPath` with identity rotations.

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


def focus_depth(depth: ArrayLike) -> float:
    """The depth the Ken Burns path zooms towards: the nearest surface near the middle.

    As in the reference, the border (an eighth of the long side on each side,
    the reference's 128 px at 1024 px) is left out, so a foreground object
    cut by the frame's edge does not set the zoom; the 1st percentile of the
    rest (robust to a few stray pixels) is returned.

    Args:
        depth: ``(H, W)`` depth, > 0.

    Returns:
        The focus depth, in the depth's units.

    Example:
        >>> focus_depth(np.full((8, 8), 2.0))
        2.0
    """
    z = np.asarray(depth, dtype=np.float64)
    border = max(z.shape) // 8
    inner = z[border : z.shape[0] - border, border : z.shape[1] - border]
    return float(np.percentile(inner if inner.size else z, 1.0))


def zoom_target(focus: float, near: float, zoom: float) -> tuple[float, float]:
    """Where the path's zoom and shift refer to, so the camera stops short of the nearest surface.

    The camera's forward move is ``(1 - 1/zoom) * focus``; it must stay below
    ``CAMERA_STOP`` (0.9) times the nearest depth anywhere in the picture. When
    it would not, the plane the zoom refers to moves nearer and the subject
    at ``focus`` is magnified less than ``zoom``.

    Args:
        focus: depth of the subject (:func:`focus_depth`), > 0.
        near: the nearest depth in the picture, > 0.
        zoom: the asked magnification of the subject (>= 1).

    Returns:
        ``(plane, subject_zoom)``: the depth of the plane magnified ``zoom``
        times, and the magnification the subject actually gets (``zoom``
        unless the camera had to stop early).

    Example:
        >>> zoom_target(2.0, 2.0, 1.25)
        (2.0, 1.25)
        >>> plane, achieved = zoom_target(2.0, 1.0, 4.0)
        >>> round(plane, 3), round(achieved, 3)
        (1.2, 1.818)
    """
    if zoom <= 1.0:
        return focus, zoom
    limit = CAMERA_STOP * near * zoom / (zoom - 1.0)
    if focus <= limit:
        return focus, zoom
    move = CAMERA_STOP * near
    return limit, focus / (focus - move) if focus > move else zoom


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


def shift_limits(width: int, height: int) -> tuple[float, float]:
    """The largest ``(x, y)`` shifts (fractions of the long side) whose end view is centred on the picture.

    Beyond them the end view is centred outside the input: more than half of
    it along that axis shows nothing of the picture (only inpainted smear).

    Example:
        >>> shift_limits(1024, 768)
        (0.5, 0.375)
    """
    long_side = max(width, height)
    return width / (2 * long_side), height / (2 * long_side)


def check_shift(
    shift: tuple[float, float], width: int, height: int, name: str = "shift"
) -> tuple[float, float]:
    """Refuse a shift whose end view would be centred outside a ``width`` x ``height`` picture.

    Args:
        shift: ``(x, y)``, fractions of the long side.
        width: input width in pixels.
        height: input height in pixels.
        name: how to call the shift in messages.

    Returns:
        ``shift`` as two floats.

    Raises:
        OptionError: (field ``name``) a non-finite value, or ``|x|`` / ``|y|`` beyond
            :func:`shift_limits`.

    Example:
        >>> check_shift((0.1, 0.0), 1024, 768)
        (0.1, 0.0)
    """
    sx, sy = (float(v) for v in shift)
    if not (math.isfinite(sx) and math.isfinite(sy)):
        raise OptionError(name, f"must be finite; got {sx:g},{sy:g}")
    lx, ly = shift_limits(width, height)
    tol = 1e-9
    if abs(sx) > lx + tol or abs(sy) > ly + tol:
        raise OptionError(
            name,
            f"{sx:g},{sy:g} moves the view off the picture (a {width}x{height} image allows "
            f"at most {lx:.3g},{ly:.3g}; beyond that most of the end frame would be inpainted)",
        )
    return sx, sy


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
        raise InputError(f"autozoom_grid must be at least 1; got {grid}")
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
