"""The nerfstudio camera-path JSON format: read and write :class:`~easel.cameras.paths.CameraPath`.

The file holds ``camera_path``, a list of cameras each with
``camera_to_world`` (4x4, 16 numbers row-major; OpenGL axes, the input camera
is the identity, units of the depth map) and ``fov`` (vertical, degrees), plus
``render_width``, ``render_height`` and ``fps``. See ``docs/conventions.md``.

Example:
    >>> data = camera_path_to_dict(CameraPath(np.eye(4)[None], Intrinsics.from_fov(64, 48, 50.0)))
    >>> data["render_width"], round(data["camera_path"][0]["fov"], 6)
    (64, 50.0)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from easel.cameras.intrinsics import Intrinsics, check_fov
from easel.cameras.paths import CameraPath
from easel.cameras.poses import check_pose, invert_pose, opencv_to_opengl_c2w, opengl_to_opencv_c2w
from easel.errors import InputError
from easel.io.atomic import write_text_atomic


def _require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise InputError(f"{where} has no {key!r} key")
    return obj[key]


def _number(value: Any, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{where} must be a number; got {value!r}") from None
    if not math.isfinite(out):
        raise InputError(f"{where} must be finite; got {value!r}")
    return out


def camera_path_from_dict(
    data: Mapping[str, Any],
    default_shape: tuple[int, int] | None = None,
    source: str = "camera path JSON",
) -> CameraPath:
    """Parse a nerfstudio camera path (see :func:`read_camera_path`).

    Args:
        data: the parsed JSON object.
        default_shape: ``(height, width)`` used when it has no render size.
        source: how to call it in messages (its file name).

    Example:
        >>> cam = {"camera_to_world": np.eye(4).ravel().tolist(), "fov": 50}
        >>> len(camera_path_from_dict({"camera_path": [cam]}, default_shape=(48, 64)))
        1
    """
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a JSON object at the top level")
    frames = _require(data, "camera_path", source)
    if not isinstance(frames, list) or not frames:
        raise InputError(f"{source}: 'camera_path' must be a non-empty list of cameras")
    if "render_width" in data or "render_height" in data or default_shape is None:
        width = int(_number(_require(data, "render_width", source), f"{source}: render_width"))
        height = int(_number(_require(data, "render_height", source), f"{source}: render_height"))
    else:
        height, width = default_shape
    if width < 1 or height < 1:
        raise InputError(f"{source}: render size must be positive; got {width}x{height}")
    fps = _number(data.get("fps", 30.0), f"{source}: fps")
    if fps <= 0:
        raise InputError(f"{source}: fps must be positive; got {fps:g}")
    poses = []
    intrinsics = []
    for i, cam in enumerate(frames):
        where = f"{source}: camera_path[{i}]"
        if not isinstance(cam, Mapping):
            raise InputError(f"{where} must be an object")
        raw = _require(cam, "camera_to_world", where)
        try:
            mat = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{where}: 'camera_to_world' must be 16 numbers (a 4x4 matrix)") from None
        if mat.size == 16:
            mat = mat.reshape(4, 4)
        elif mat.size == 12:
            mat = np.vstack([mat.reshape(3, 4), [0.0, 0.0, 0.0, 1.0]])
        else:
            raise InputError(f"{where}: 'camera_to_world' must be 16 numbers (a 4x4 matrix); got {mat.size}")
        c2w_gl = check_pose(mat, f"{where}.camera_to_world")
        poses.append(invert_pose(opengl_to_opencv_c2w(c2w_gl)))
        fov = check_fov(_number(_require(cam, "fov", where), f"{where}.fov"), f"{where}.fov")
        intrinsics.append(Intrinsics.from_fov(width, height, fov))
    same = all(k == intrinsics[0] for k in intrinsics)
    return CameraPath(np.stack(poses), intrinsics[0] if same else intrinsics, fps=fps, source=source)


def read_camera_path(
    path: str | os.PathLike[str], default_shape: tuple[int, int] | None = None
) -> CameraPath:
    """Read a nerfstudio-format camera path JSON.

    The file holds ``camera_path``, a list of cameras each with
    ``camera_to_world`` (4x4, 16 numbers row-major; OpenGL axes, the input
    camera is the identity, units of the depth map) and ``fov`` (vertical,
    degrees), plus ``render_width``, ``render_height`` and ``fps``. Other keys
    (``keyframes``, ``seconds``, ``aspect`` ...) are ignored.

    Args:
        path: the JSON file.
        default_shape: ``(height, width)`` used when the file has no render size.

    Returns:
        The path in easel's conventions (OpenCV world-to-camera poses); its
        ``source`` is the file name, so later messages can name it.

    Raises:
        InputError: unreadable JSON, a missing key (named), a bad number
            (named: ``path.json: camera_path[2].fov must be ...``), a bad
            matrix or a rotation that is not orthonormal.

    Example:
        >>> path = read_camera_path("path.json")  # doctest: +SKIP
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not a camera path JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read camera path ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply to be a camera path") from None
    return camera_path_from_dict(data, default_shape=default_shape, source=str(p))


def camera_path_to_dict(path: CameraPath) -> dict[str, Any]:
    """The nerfstudio camera-path JSON object of ``path`` (see :func:`read_camera_path`).

    Example:
        >>> camera_path_to_dict(CameraPath(np.eye(4)[None], Intrinsics.default(64, 48)))["fps"]
        30.0
    """
    height, width = path.output_shape
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
        >>> write_camera_path("path.json", CameraPath(np.eye(4)[None], Intrinsics.default(64, 48)))  # doctest: +SKIP
    """
    out = Path(path)
    write_text_atomic(out, json.dumps(camera_path_to_dict(camera_path), indent=2) + "\n")
    return out
