"""Triangle meshes of layered RGB-D images: trimesh objects, PLY (binary or ASCII) and GLB files.

Every :class:`~easel.scene3d.render.GridLayer` contributes its kept triangles
(two per 2x2 block of pixel centres, none across a cut link) and the pixels
they use as vertices with colours. Coordinates are OpenGL (x right, y up, z
backward; the input camera at the origin looking down ``-z``), like the
camera-path JSON and the point clouds, and faces wind counter-clockwise seen
from the input camera, so viewers (Blender, a browser's glTF viewer) show
their front.

Example:
    >>> mesh = ldi_mesh(p3d.grid_layers)              # doctest: +SKIP
    >>> write_mesh("photo.glb", mesh)                 # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from easel.errors import InputError
from easel.image import to_uint8
from easel.io.atomic import atomic_path
from easel.scene3d.render import GridLayer

if TYPE_CHECKING:
    import trimesh

MESH_SUFFIXES = (".ply", ".glb")
"""The mesh formats :func:`write_mesh` writes."""


def layer_faces(layer: GridLayer) -> NDArray[np.int64]:
    """``(F, 3)`` int64 vertex indices (into the layer's ``H * W`` pixel grid) of its kept triangles.

    Wound ``a, c, b`` so that they face the input camera once y and z are flipped to OpenGL.

    Example:
        >>> from easel.cameras import Intrinsics
        >>> layer = GridLayer.from_rgbd(np.zeros((2, 2, 3)), np.ones((2, 2)), Intrinsics.from_focal(2, 2, 1.0))
        >>> layer_faces(layer).tolist()
        [[0, 2, 1], [1, 2, 3]]
    """
    h, w = layer.shape
    if h < 2 or w < 2:
        return np.zeros((0, 3), np.int64)
    r, c = np.divmod(np.arange((h - 1) * (w - 1)), w - 1)
    a = r * w + c
    b, cc, d = a + 1, a + w, a + w + 1
    m = layer.mask.reshape(-1)
    t0 = np.stack([a, cc, b], 1)[(m & 1) > 0]
    t1 = np.stack([b, cc, d], 1)[(m & 2) > 0]
    return np.concatenate([t0, t1]).astype(np.int64)


def count_cut_crossings(mask: NDArray[np.uint8], cut_h: NDArray[np.bool_], cut_v: NDArray[np.bool_]) -> int:
    """How many kept triangles of a triangle ``mask`` join two pixels across a cut link (stretched triangles).

    Args:
        mask: ``(H-1, W-1)`` uint8 triangle mask (:func:`~easel.scene3d.render.break_mask`,
            :func:`~easel.scene3d.render.link_mask`).
        cut_h: ``(H, W-1)`` bool cut horizontal links.
        cut_v: ``(H-1, W)`` bool cut vertical links.

    Example:
        >>> cut_h = np.zeros((2, 1), bool); cut_h[0, 0] = True
        >>> count_cut_crossings(np.full((1, 1), 3, np.uint8), cut_h, np.zeros((1, 2), bool))
        1
    """
    tri0 = (mask & 1) > 0
    tri1 = (mask & 2) > 0
    bad0 = tri0 & (cut_h[:-1] | cut_v[:, :-1])
    bad1 = tri1 & (cut_h[1:] | cut_v[:, 1:])
    return int(bad0.sum() + bad1.sum())


def ldi_mesh(layers: Sequence[GridLayer]) -> trimesh.Trimesh:
    """One mesh of every layer's kept triangles, with vertex colours, in OpenGL axes.

    Only the pixels some triangle uses become vertices.

    Args:
        layers: grid layers (e.g. :attr:`easel.scene3d.photo3d.Photo3D.grid_layers`).

    Returns:
        A :class:`trimesh.Trimesh` (``process=False``: vertices stay as given).

    Example:
        >>> from easel.cameras import Intrinsics
        >>> layer = GridLayer.from_rgbd(np.full((3, 3, 3), 0.5), np.ones((3, 3)), Intrinsics.from_focal(3, 3, 2.0))
        >>> mesh = ldi_mesh([layer])
        >>> len(mesh.vertices), len(mesh.faces)
        (9, 8)
    """
    import trimesh

    verts, cols, faces = [], [], []
    offset = 0
    flip = np.array([1.0, -1.0, -1.0], np.float32)
    for layer in layers:
        f = layer_faces(layer)
        if len(f) == 0:
            continue
        used = np.unique(f)
        remap = np.full(layer.shape[0] * layer.shape[1], -1, np.int64)
        remap[used] = np.arange(len(used)) + offset
        verts.append(layer.points.reshape(-1, 3)[used] * flip)
        cols.append(to_uint8(np.clip(layer.colors.reshape(-1, 3)[used], 0.0, 1.0)))
        faces.append(remap[f])
        offset += len(used)
    if not faces:
        raise InputError("the mesh is empty: no layer has a triangle")
    vertices = np.concatenate(verts).astype(np.float32)
    rgb = np.concatenate(cols)
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], 1)
    return trimesh.Trimesh(vertices=vertices, faces=np.concatenate(faces), vertex_colors=rgba, process=False)


def write_mesh(path: str | os.PathLike[str], mesh: trimesh.Trimesh, ascii: bool = False) -> Path:
    """Write ``mesh`` as ``.ply`` (binary little-endian, or ASCII) or ``.glb`` (binary glTF), atomically.

    Args:
        path: the file; its suffix picks the format.
        mesh: the mesh (:func:`ldi_mesh`).
        ascii: ASCII PLY (larger, readable); only for ``.ply``.

    Returns:
        ``Path(path)``.

    Raises:
        InputError: another suffix, or ``ascii`` with ``.glb``.

    Example:
        >>> write_mesh("photo.glb", mesh)  # doctest: +SKIP
        PosixPath('photo.glb')
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise InputError(
            f"{out}: a mesh is written as {' or '.join(MESH_SUFFIXES)}; got {out.suffix or 'no suffix'}"
        )
    if ascii and suffix != ".ply":
        raise InputError(f"{out}: --ascii is for PLY files; GLB is always binary")
    if suffix == ".ply":
        data = mesh.export(file_type="ply", encoding="ascii" if ascii else "binary")
    else:
        data = mesh.export(file_type="glb")
    payload = data.encode("ascii") if isinstance(data, str) else bytes(data)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        fh.write(payload)
    return out


def read_mesh(path: str | os.PathLike[str]) -> trimesh.Trimesh:
    """Read a mesh written by :func:`write_mesh` (PLY or GLB) as one :class:`trimesh.Trimesh`.

    Example:
        >>> len(read_mesh("photo.glb").faces)  # doctest: +SKIP
        1562112
    """
    import trimesh

    loaded = trimesh.load(str(path), process=False)
    if isinstance(loaded, trimesh.Scene):
        geoms = list(loaded.geometry.values())
        if len(geoms) != 1:
            raise InputError(f"{path}: expected one mesh, found {len(geoms)}")
        loaded = geoms[0]
    if not isinstance(loaded, trimesh.Trimesh):
        raise InputError(f"{path}: not a triangle mesh")
    return loaded
