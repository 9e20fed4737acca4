"""Coloured point clouds as binary PLY files (by default in OpenGL axes, like the camera-path JSON)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from easel.errors import InputError
from easel.image import to_uint8
from easel.io.atomic import atomic_path


def write_ply(
    path: str | os.PathLike[str],
    points: ArrayLike,
    colors: ArrayLike,
    opengl: bool = True,
    comment: str = "written by easel",
) -> Path:
    """Write a coloured point cloud as binary little-endian PLY, atomically.

    Args:
        path: the ``.ply`` file.
        points: ``(N, 3)`` world points in easel's frame (OpenCV input camera).
        colors: ``(N, 3)`` float RGB in [0, 1].
        opengl: flip y and z to OpenGL axes (x right, y up, z backward), the
            convention of the camera-path JSON and of most viewers; ``False``
            writes the points as given (a COLMAP world, say).
        comment: the header's comment line (say which frame the points are in).

    Returns:
        ``Path(path)``.

    Example:
        >>> write_ply("cloud.ply", np.zeros((1, 3)), np.ones((1, 3)))  # doctest: +SKIP
    """
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    cols = np.asarray(colors, dtype=np.float32).reshape(-1, 3)
    if len(pts) != len(cols):
        raise InputError(f"PLY export: {len(pts)} points but {len(cols)} colours")
    if opengl:
        pts = pts * np.array([1.0, -1.0, -1.0], np.float32)
    rec = np.empty(
        len(pts), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")]
    )
    rec["x"], rec["y"], rec["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
    c8 = to_uint8(cols)
    rec["r"], rec["g"], rec["b"] = c8[:, 0], c8[:, 1], c8[:, 2]
    header = (
        f"ply\nformat binary_little_endian 1.0\ncomment {comment}\n"
        f"element vertex {len(pts)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    out = Path(path)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(rec.tobytes())
    return out


def read_ply(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a PLY written by :func:`write_ply`: ``(N, 3)`` float32 points (as stored) and uint8 colours.

    Example:
        >>> points, colors = read_ply("cloud.ply")  # doctest: +SKIP
        >>> points.shape, colors.dtype  # doctest: +SKIP
        ((786432, 3), dtype('uint8'))
    """
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    count = next(int(line.split()[2]) for line in header if line.startswith("element vertex"))
    rec = np.frombuffer(
        data[end:],
        dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")],
        count=count,
    )
    pts = np.stack([rec["x"], rec["y"], rec["z"]], 1)
    cols = np.stack([rec["r"], rec["g"], rec["b"]], 1)
    return pts, cols
