"""COLMAP sparse models: cameras, images and 3D points, text and binary, read and written exactly.

A COLMAP model is a folder with ``cameras``, ``images`` and ``points3D``,
either all ``.bin`` or all ``.txt`` (COLMAP 4 adds ``rigs`` and ``frames``,
which easel neither needs nor writes; COLMAP reads a model without them).
COLMAP's cameras are easel's: OpenCV axes, world-to-camera poses
(``X_cam = R(qvec) X_world + tvec``), pixel centres at +0.5, so poses and
pinhole intrinsics are used as they are. Reading then writing a model, in
either format, gives back the same numbers (floats are written with Python's
shortest exact ``repr``).

Example:
    >>> cam = ColmapCamera(1, "SIMPLE_PINHOLE", 64, 48, np.array([40.0, 32.0, 24.0]))
    >>> cam.intrinsics().fy, cam.intrinsics().shape
    (40.0, (48, 64))
"""

from __future__ import annotations

import difflib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras.intrinsics import Intrinsics
from easel.cameras.poses import Camera
from easel.errors import InputError
from easel.io.atomic import write_bytes_atomic, write_text_atomic

__all__ = [
    "CAMERA_MODELS",
    "ColmapCamera",
    "ColmapImage",
    "ColmapModel",
    "find_colmap_model",
    "qvec_to_rotmat",
    "read_colmap_model",
    "rotmat_to_qvec",
    "write_colmap_model",
]

CAMERA_MODELS: dict[str, tuple[int, int]] = {
    "SIMPLE_PINHOLE": (0, 3),
    "PINHOLE": (1, 4),
    "SIMPLE_RADIAL": (2, 4),
    "RADIAL": (3, 5),
    "OPENCV": (4, 8),
    "OPENCV_FISHEYE": (5, 8),
    "FULL_OPENCV": (6, 12),
    "FOV": (7, 5),
    "SIMPLE_RADIAL_FISHEYE": (8, 4),
    "RADIAL_FISHEYE": (9, 5),
    "THIN_PRISM_FISHEYE": (10, 12),
    "RAD_TAN_THIN_PRISM_FISHEYE": (11, 16),
    "SIMPLE_DIVISION": (12, 4),
    "DIVISION": (13, 5),
    "SIMPLE_FISHEYE": (14, 3),
    "FISHEYE": (15, 4),
    "EUCM": (16, 6),
    "EQUIRECTANGULAR": (17, 2),
}
"""COLMAP camera model name -> ``(model_id, number of parameters)``, as in COLMAP 4."""

_MODEL_NAMES = {model_id: name for name, (model_id, _) in CAMERA_MODELS.items()}
# models with one focal length: params start (f, cx, cy); the others (except EQUIRECTANGULAR) (fx, fy, cx, cy)
_ONE_FOCAL = {
    "SIMPLE_PINHOLE",
    "SIMPLE_RADIAL",
    "RADIAL",
    "SIMPLE_RADIAL_FISHEYE",
    "RADIAL_FISHEYE",
    "SIMPLE_DIVISION",
    "SIMPLE_FISHEYE",
}
_EMPTY_XYS = np.zeros((0, 2))
_EMPTY_IDS = np.zeros(0, dtype=np.int64)

Float64Array = NDArray[np.float64]


def qvec_to_rotmat(qvec: ArrayLike) -> Float64Array:
    """The 3x3 rotation of a quaternion ``(w, x, y, z)`` (normalized first), COLMAP's order.

    Example:
        >>> qvec_to_rotmat([1.0, 0.0, 0.0, 0.0]).tolist() == np.eye(3).tolist()
        True
    """
    q = np.asarray(qvec, dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if q.shape != (4,) or not np.isfinite(norm) or norm == 0.0:
        raise InputError(f"a quaternion must be 4 finite numbers, not all zero; got {q.tolist()}")
    w, x, y, z = q / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotmat_to_qvec(rotation: ArrayLike) -> Float64Array:
    """The unit quaternion ``(w, x, y, z)`` with ``w >= 0`` of a 3x3 rotation matrix.

    Example:
        >>> rotmat_to_qvec(np.eye(3)).tolist()
        [1.0, 0.0, 0.0, 0.0]
    """
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape != (3, 3) or not np.isfinite(r).all():
        raise InputError(f"a rotation must be a finite 3x3 matrix; got shape {r.shape}")
    (rxx, ryx, rzx), (rxy, ryy, rzy), (rxz, ryz, rzz) = r
    k = (
        np.array(
            [
                [rxx - ryy - rzz, 0, 0, 0],
                [ryx + rxy, ryy - rxx - rzz, 0, 0],
                [rzx + rxz, rzy + ryz, rzz - rxx - ryy, 0],
                [ryz - rzy, rzx - rxz, rxy - ryx, rxx + ryy + rzz],
            ]
        )
        / 3.0
    )
    eigvals, eigvecs = np.linalg.eigh(k)
    q = eigvecs[[3, 0, 1, 2], int(np.argmax(eigvals))]
    if q[0] < 0:
        q = -q
    q = q / np.linalg.norm(q)
    if np.array_equal(np.abs(q), [1.0, 0.0, 0.0, 0.0]):
        q = np.array([1.0, 0.0, 0.0, 0.0])  # no negative zeros for the identity
    return q


@dataclass
class ColmapCamera:
    """One COLMAP camera: a model name, image size and the model's parameters.

    Attributes:
        camera_id: COLMAP's id (a positive int).
        model: one of :data:`CAMERA_MODELS` (``"PINHOLE"``, ``"SIMPLE_RADIAL"`` ...).
        width: image width in pixels.
        height: image height in pixels.
        params: ``(P,)`` float64, the model's parameters in COLMAP's order.

    Example:
        >>> ColmapCamera(1, "PINHOLE", 64, 48, np.array([50.0, 50.0, 32.0, 24.0])).intrinsics().cx
        32.0
    """

    camera_id: int
    model: str
    width: int
    height: int
    params: Float64Array

    def __post_init__(self) -> None:
        self.params = np.asarray(self.params, dtype=np.float64).reshape(-1)
        if self.model not in CAMERA_MODELS:
            raise InputError(f"unknown COLMAP camera model {self.model!r}{_did_you_mean(self.model)}")
        expected = CAMERA_MODELS[self.model][1]
        if self.params.size != expected:
            raise InputError(
                f"COLMAP camera {self.camera_id} ({self.model}) needs {expected} parameters; "
                f"got {self.params.size}"
            )

    @classmethod
    def from_intrinsics(cls, camera_id: int, intrinsics: Intrinsics) -> ColmapCamera:
        """A ``PINHOLE`` camera of easel intrinsics.

        Example:
            >>> ColmapCamera.from_intrinsics(1, Intrinsics.from_focal(64, 48, 40.0)).params.tolist()
            [40.0, 40.0, 32.0, 24.0]
        """
        k = intrinsics
        return cls(camera_id, "PINHOLE", k.width, k.height, np.array([k.fx, k.fy, k.cx, k.cy]))

    def intrinsics(self) -> Intrinsics:
        """The pinhole part of the camera (focal lengths, principal point); distortion is ignored.

        Raises:
            InputError: an ``EQUIRECTANGULAR`` camera (no pinhole part).

        Example:
            >>> ColmapCamera(1, "SIMPLE_RADIAL", 64, 48, np.array([40.0, 32.0, 24.0, 0.1])).intrinsics().fx
            40.0
        """
        p = self.params
        if self.model == "EQUIRECTANGULAR":
            raise InputError(f"COLMAP camera {self.camera_id} is EQUIRECTANGULAR, not a pinhole camera")
        if self.model in _ONE_FOCAL:
            fx = fy = float(p[0])
            cx, cy = float(p[1]), float(p[2])
        else:
            fx, fy, cx, cy = (float(v) for v in p[:4])
        return Intrinsics(fx, fy, cx, cy, int(self.width), int(self.height))

    @property
    def is_pinhole(self) -> bool:
        """True for ``SIMPLE_PINHOLE`` and ``PINHOLE`` (no distortion)."""
        return self.model in ("SIMPLE_PINHOLE", "PINHOLE")


@dataclass
class ColmapImage:
    """One registered COLMAP image: its pose, camera, file name and 2D observations.

    Attributes:
        image_id: COLMAP's id.
        qvec: ``(4,)`` float64 quaternion ``(w, x, y, z)`` of the world-to-camera rotation.
        tvec: ``(3,)`` float64 world-to-camera translation.
        camera_id: the :class:`ColmapCamera` that took it.
        name: file name, relative to the images folder.
        xys: ``(M, 2)`` float64 keypoint positions in pixels (centres at +0.5).
        point3d_ids: ``(M,)`` int64 the 3D point each keypoint observes, ``-1`` for none.

    Example:
        >>> img = ColmapImage(1, np.array([1.0, 0, 0, 0]), np.array([0.0, 0.0, 2.0]), 1, "a.png")
        >>> float(img.world_to_camera()[2, 3]), img.center.tolist()
        (2.0, [0.0, 0.0, -2.0])
    """

    image_id: int
    qvec: Float64Array
    tvec: Float64Array
    camera_id: int
    name: str
    xys: Float64Array = field(default_factory=lambda: _EMPTY_XYS.copy())
    point3d_ids: NDArray[np.int64] = field(default_factory=lambda: _EMPTY_IDS.copy())

    def __post_init__(self) -> None:
        self.qvec = np.asarray(self.qvec, dtype=np.float64).reshape(-1)
        self.tvec = np.asarray(self.tvec, dtype=np.float64).reshape(-1)
        self.xys = np.asarray(self.xys, dtype=np.float64).reshape(-1, 2)
        self.point3d_ids = np.asarray(self.point3d_ids, dtype=np.int64).reshape(-1)
        if self.qvec.shape != (4,) or self.tvec.shape != (3,):
            raise InputError(f"COLMAP image {self.image_id}: qvec needs 4 numbers and tvec 3")
        if len(self.xys) != len(self.point3d_ids):
            raise InputError(
                f"COLMAP image {self.image_id}: {len(self.xys)} keypoints but {len(self.point3d_ids)} point ids"
            )

    @classmethod
    def from_pose(cls, image_id: int, world_to_camera: ArrayLike, camera_id: int, name: str) -> ColmapImage:
        """An image of a world-to-camera 4x4 pose (OpenCV), without observations.

        Example:
            >>> ColmapImage.from_pose(1, np.eye(4), 1, "a.png").qvec.tolist()
            [1.0, 0.0, 0.0, 0.0]
        """
        pose = np.asarray(world_to_camera, dtype=np.float64)
        return cls(image_id, rotmat_to_qvec(pose[:3, :3]), pose[:3, 3].copy(), camera_id, name)

    def rotation(self) -> Float64Array:
        """The 3x3 world-to-camera rotation."""
        return qvec_to_rotmat(self.qvec)

    def world_to_camera(self) -> Float64Array:
        """The 4x4 world-to-camera pose, OpenCV axes (easel's convention, and COLMAP's).

        Example:
            >>> ColmapImage(1, np.array([1.0, 0, 0, 0]), np.zeros(3), 1, "a.png").world_to_camera().shape
            (4, 4)
        """
        pose = np.eye(4)
        pose[:3, :3] = self.rotation()
        pose[:3, 3] = self.tvec
        return pose

    @property
    def center(self) -> Float64Array:
        """The camera centre in world coordinates, ``(3,)``."""
        return -self.rotation().T @ self.tvec


@dataclass
class ColmapModel:
    """A COLMAP sparse model: cameras, registered images and the 3D point cloud.

    Attributes:
        cameras: ``camera_id -> ColmapCamera``.
        images: ``image_id -> ColmapImage``.
        points_xyz: ``(N, 3)`` float64 world positions.
        points_rgb: ``(N, 3)`` uint8 colours.
        points_error: ``(N,)`` float64 mean reprojection error in pixels.
        point_ids: ``(N,)`` int64 COLMAP's point ids.
        point_tracks: per point, a ``(K, 2)`` int64 array of ``(image_id, keypoint index)``;
            ``None`` when unknown (the writer then derives tracks from the images'
            ``point3d_ids``).

    Example:
        >>> cam = ColmapCamera.from_intrinsics(1, Intrinsics.from_focal(64, 48, 40.0))
        >>> model = ColmapModel({1: cam}, {1: ColmapImage.from_pose(1, np.eye(4), 1, "a.png")})
        >>> model.num_points, model.image_names()
        (0, ['a.png'])
    """

    cameras: dict[int, ColmapCamera]
    images: dict[int, ColmapImage]
    points_xyz: Float64Array = field(default_factory=lambda: np.zeros((0, 3)))
    points_rgb: NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, 3), dtype=np.uint8))
    points_error: Float64Array = field(default_factory=lambda: np.zeros(0))
    point_ids: NDArray[np.int64] = field(default_factory=lambda: _EMPTY_IDS.copy())
    point_tracks: list[NDArray[np.int64]] | None = None

    def __post_init__(self) -> None:
        self.points_xyz = np.asarray(self.points_xyz, dtype=np.float64).reshape(-1, 3)
        n = len(self.points_xyz)
        rgb = np.asarray(self.points_rgb)
        if rgb.dtype != np.uint8:
            if rgb.size and not (np.all(rgb == np.round(rgb)) and rgb.min() >= 0 and rgb.max() <= 255):
                raise InputError("COLMAP model: point colours must be integers 0..255 (uint8)")
            rgb = rgb.astype(np.uint8)
        self.points_rgb = rgb.reshape(-1, 3)
        self.points_error = np.asarray(self.points_error, dtype=np.float64).reshape(-1)
        self.point_ids = np.asarray(self.point_ids, dtype=np.int64).reshape(-1)
        if len(self.point_ids) == 0 and n:
            self.point_ids = np.arange(1, n + 1, dtype=np.int64)
        if len(self.points_error) == 0 and n:
            self.points_error = np.zeros(n)
        sizes = {len(self.points_rgb), len(self.points_error), len(self.point_ids)}
        if sizes != {n}:
            raise InputError(
                f"COLMAP model: {n} points but {len(self.points_rgb)} colours, "
                f"{len(self.points_error)} errors and {len(self.point_ids)} ids"
            )
        if self.point_tracks is not None and len(self.point_tracks) != n:
            raise InputError(f"COLMAP model: {n} points but {len(self.point_tracks)} tracks")

    @property
    def num_points(self) -> int:
        """Number of 3D points."""
        return len(self.points_xyz)

    def image_names(self) -> list[str]:
        """The images' file names, sorted.

        Example:
            >>> ColmapModel({}, {}).image_names()
            []
        """
        return sorted(img.name for img in self.images.values())

    def image_by_name(self, name: str) -> ColmapImage:
        """The image called ``name`` (its file name relative to the images folder).

        Raises:
            InputError: no such image (with the closest names).

        Example:
            >>> ColmapModel({}, {}).image_by_name("a.png")  # doctest: +SKIP
        """
        for img in self.images.values():
            if img.name == name:
                return img
        close = difflib.get_close_matches(name, self.image_names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"the COLMAP model has no image {name!r}{hint}")

    def camera(self, image_id: int) -> Camera:
        """The easel :class:`~easel.cameras.Camera` (pinhole intrinsics and pose) of an image.

        Example:
            >>> cam = ColmapCamera.from_intrinsics(1, Intrinsics.from_focal(64, 48, 40.0))
            >>> model = ColmapModel({1: cam}, {7: ColmapImage.from_pose(7, np.eye(4), 1, "a.png")})
            >>> model.camera(7).intrinsics.fx
            40.0
        """
        img = self.images[image_id]
        return Camera(self.cameras[img.camera_id].intrinsics(), img.world_to_camera())

    def tracks(self) -> list[NDArray[np.int64]]:
        """Per point, ``(K, 2)`` int64 ``(image_id, keypoint index)``: stored, or derived from the images.

        Example:
            >>> ColmapModel({}, {}).tracks()
            []
        """
        if self.point_tracks is not None:
            return self.point_tracks
        found: dict[int, list[tuple[int, int]]] = {int(pid): [] for pid in self.point_ids}
        for image_id in sorted(self.images):
            ids = self.images[image_id].point3d_ids
            for idx in np.flatnonzero(ids >= 0):
                entry = found.get(int(ids[idx]))
                if entry is not None:
                    entry.append((image_id, int(idx)))
        return [np.array(found[int(pid)], dtype=np.int64).reshape(-1, 2) for pid in self.point_ids]


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.upper(), list(CAMERA_MODELS), n=1)
    return f"; did you mean {close[0]}?" if close else ""


# ----------------------------------------------------------------------------- finding the files

_PARTS = ("cameras", "images", "points3D")


def find_colmap_model(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The folder holding a COLMAP model, and its format (``"bin"`` or ``"txt"``).

    ``path`` may be the model folder itself, or a COLMAP project with the
    model in ``sparse/0`` (or ``sparse``, or ``0``). When both formats are
    present the binary one is used, as COLMAP does.

    Raises:
        InputError: no such folder, or no complete model in it (naming what is missing).

    Example:
        >>> find_colmap_model("scene/")  # doctest: +SKIP
        (PosixPath('scene/sparse/0'), 'bin')
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{root}: is a file; a COLMAP model is a folder with cameras, images, points3D")
    for folder in (root, root / "sparse" / "0", root / "sparse", root / "0"):
        for ext in ("bin", "txt"):
            if all((folder / f"{part}.{ext}").is_file() for part in _PARTS):
                return folder, ext
    present = sorted(p.name for p in root.iterdir() if p.suffix in (".bin", ".txt"))
    have = f" (it has {', '.join(present)})" if present else ""
    raise InputError(
        f"{root}: no COLMAP model: expected cameras, images and points3D, all .bin or all .txt{have}"
    )


def read_colmap_model(path: str | os.PathLike[str]) -> ColmapModel:
    """Read a COLMAP sparse model, binary or text (detected), from a folder.

    Args:
        path: the model folder (``cameras.bin``/``.txt``, ``images``, ``points3D``),
            or a project folder with the model in ``sparse/0``.

    Returns:
        The :class:`ColmapModel`; point tracks are kept, so writing it back gives the same files' numbers.

    Raises:
        InputError: one line naming the file and the line (text) or record (binary)
            that cannot be read, an unknown camera model, a wrong number of
            parameters, an image of an unknown camera, a truncated file.

    Example:
        >>> model = read_colmap_model("scene/sparse/0")  # doctest: +SKIP
        >>> len(model.images), model.points_xyz.shape  # doctest: +SKIP
        (24, (3100, 3))
    """
    folder, ext = find_colmap_model(path)
    if ext == "bin":
        cameras = _read_cameras_bin(folder / "cameras.bin")
        images = _read_images_bin(folder / "images.bin")
        points = _read_points_bin(folder / "points3D.bin")
    else:
        cameras = _read_cameras_txt(folder / "cameras.txt")
        images = _read_images_txt(folder / "images.txt")
        points = _read_points_txt(folder / "points3D.txt")
    for img in images.values():
        if img.camera_id not in cameras:
            raise InputError(
                f"{folder / f'images.{ext}'}: image {img.image_id} ({img.name}) uses camera "
                f"{img.camera_id}, which {folder / f'cameras.{ext}'} does not have"
            )
    xyz, rgb, err, ids, tracks = points
    return ColmapModel(cameras, images, xyz, rgb, err, ids, tracks)


# ----------------------------------------------------------------------------- text


def _data_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        yield number, stripped.split()


def _parse(kind: type, token: str, path: Path, line: int, what: str) -> int | float:
    try:
        return kind(token)  # type: ignore[no-any-return]
    except ValueError:
        raise InputError(f"{path} line {line}: {what} must be {kind.__name__}; got {token!r}") from None


def _read_cameras_txt(path: Path) -> dict[int, ColmapCamera]:
    cameras: dict[int, ColmapCamera] = {}
    for line, tokens in _data_lines(path):
        if not tokens:
            continue
        if len(tokens) < 4:
            raise InputError(
                f"{path} line {line}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...; got {' '.join(tokens)!r}"
            )
        camera_id = int(_parse(int, tokens[0], path, line, "CAMERA_ID"))
        model = tokens[1]
        if model not in CAMERA_MODELS:
            raise InputError(f"{path} line {line}: unknown camera model {model!r}{_did_you_mean(model)}")
        width = int(_parse(int, tokens[2], path, line, "WIDTH"))
        height = int(_parse(int, tokens[3], path, line, "HEIGHT"))
        params = np.array([_parse(float, t, path, line, "a parameter") for t in tokens[4:]])
        cameras[camera_id] = _camera(camera_id, model, width, height, params, f"{path} line {line}")
    return cameras


def _camera(
    camera_id: int, model: str, width: int, height: int, params: Float64Array, where: str
) -> ColmapCamera:
    expected = CAMERA_MODELS[model][1]
    if params.size != expected:
        raise InputError(f"{where}: camera model {model} needs {expected} parameters; got {params.size}")
    if width < 1 or height < 1:
        raise InputError(f"{where}: camera size must be positive; got {width}x{height}")
    if not np.isfinite(params).all():
        raise InputError(f"{where}: camera parameters must be finite; got {params.tolist()}")
    return ColmapCamera(camera_id, model, width, height, params)


def _image(
    image_id: int,
    qvec: Float64Array,
    tvec: Float64Array,
    camera_id: int,
    name: str,
    xys: Float64Array,
    ids: NDArray[np.int64],
    where: str,
) -> ColmapImage:
    if not (np.isfinite(qvec).all() and np.isfinite(tvec).all()) or not np.any(qvec):
        raise InputError(
            f"{where}: image {image_id} has a bad pose (qvec {qvec.tolist()}, tvec {tvec.tolist()})"
        )
    return ColmapImage(image_id, qvec, tvec, camera_id, name, xys, ids)


def _read_images_txt(path: Path) -> dict[int, ColmapImage]:
    images: dict[int, ColmapImage] = {}
    lines = _data_lines(path)
    for line, tokens in lines:
        if not tokens:
            continue  # blank lines between images (not the points line, read below)
        if len(tokens) < 10:
            raise InputError(
                f"{path} line {line}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME; "
                f"got {len(tokens)} fields"
            )
        image_id = int(_parse(int, tokens[0], path, line, "IMAGE_ID"))
        pose = np.array([_parse(float, t, path, line, "a pose value") for t in tokens[1:8]])
        camera_id = int(_parse(int, tokens[8], path, line, "CAMERA_ID"))
        name = " ".join(tokens[9:])
        try:
            points_line, points = next(lines)
        except StopIteration:
            points_line, points = line + 1, []  # a last image without its (empty) points line
        if len(points) % 3:
            raise InputError(
                f"{path} line {points_line}: the points of image {image_id} must be X Y POINT3D_ID triples; "
                f"got {len(points)} numbers"
            )
        try:
            arr = np.array(points, dtype=np.float64).reshape(-1, 3)
        except ValueError:
            raise InputError(
                f"{path} line {points_line}: the points of image {image_id} must be numbers"
            ) from None
        if image_id in images:
            raise InputError(f"{path} line {line}: image id {image_id} appears twice")
        images[image_id] = _image(
            image_id,
            pose[:4],
            pose[4:],
            camera_id,
            name,
            arr[:, :2],
            arr[:, 2].astype(np.int64),
            f"{path} line {line}",
        )
    return images


def _read_points_txt(
    path: Path,
) -> tuple[Float64Array, NDArray[np.uint8], Float64Array, NDArray[np.int64], list[NDArray[np.int64]]]:
    ids, xyz, rgb, err, tracks = [], [], [], [], []
    for line, tokens in _data_lines(path):
        if not tokens:
            continue
        if len(tokens) < 8 or len(tokens) % 2:
            raise InputError(
                f"{path} line {line}: expected POINT3D_ID X Y Z R G B ERROR and (IMAGE_ID POINT2D_IDX) pairs; "
                f"got {len(tokens)} fields"
            )
        try:
            ids.append(int(tokens[0]))
            xyz.append([float(t) for t in tokens[1:4]])
            colour = [int(t) for t in tokens[4:7]]
            err.append(float(tokens[7]))
            tracks.append(np.array([int(t) for t in tokens[8:]], dtype=np.int64).reshape(-1, 2))
        except ValueError:
            raise InputError(f"{path} line {line}: a field is not a number of the right kind") from None
        if min(colour) < 0 or max(colour) > 255:
            raise InputError(f"{path} line {line}: colour must be 0..255; got {colour}")
        rgb.append(colour)
    return (
        np.array(xyz, dtype=np.float64).reshape(-1, 3),
        np.array(rgb, dtype=np.uint8).reshape(-1, 3),
        np.array(err, dtype=np.float64),
        np.array(ids, dtype=np.int64),
        tracks,
    )


def _fmt(value: float) -> str:
    return repr(float(value))


def _cameras_txt(model: ColmapModel) -> str:
    out = [
        "# Camera list with one line of data per camera:",
        "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
        f"# Number of cameras: {len(model.cameras)}",
    ]
    for cid in sorted(model.cameras):
        cam = model.cameras[cid]
        out.append(" ".join([str(cid), cam.model, str(cam.width), str(cam.height), *map(_fmt, cam.params)]))
    return "\n".join(out) + "\n"


def _images_txt(model: ColmapModel) -> str:
    n_obs = sum(len(img.xys) for img in model.images.values())
    mean = n_obs / len(model.images) if model.images else 0.0
    out = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
        f"# Number of images: {len(model.images)}, mean observations per image: {mean:g}",
    ]
    for iid in sorted(model.images):
        img = model.images[iid]
        if not img.name or any(c in img.name for c in "\r\n"):
            raise InputError(f"COLMAP image {iid}: its name {img.name!r} cannot be written in a text model")
        out.append(
            " ".join([str(iid), *map(_fmt, img.qvec), *map(_fmt, img.tvec), str(img.camera_id), img.name])
        )
        out.append(
            " ".join(
                f"{_fmt(x)} {_fmt(y)} {int(p)}" for (x, y), p in zip(img.xys, img.point3d_ids, strict=True)
            )
        )
    return "\n".join(out) + "\n"


def _points_txt(model: ColmapModel) -> str:
    tracks = model.tracks()
    mean = float(np.mean([len(t) for t in tracks])) if tracks else 0.0
    out = [
        "# 3D point list with one line of data per point:",
        "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
        f"# Number of points: {model.num_points}, mean track length: {mean:g}",
    ]
    xyz = model.points_xyz.tolist()
    rgb = model.points_rgb.tolist()
    err = model.points_error.tolist()
    for i, pid in enumerate(model.point_ids.tolist()):
        fields = [str(pid), *map(repr, xyz[i]), *map(str, rgb[i]), repr(err[i])]
        fields.extend(map(str, tracks[i].reshape(-1).tolist()))
        out.append(" ".join(fields))
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- binary


class _Reader:
    def __init__(self, path: Path) -> None:
        try:
            self.data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc})") from None
        self.path = path
        self.pos = 0
        self.record = "the header"

    def take(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise InputError(f"{self.path}: truncated in {self.record}")
        out = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return out

    def array(self, dtype: np.dtype[Any], count: int) -> NDArray[Any]:
        size = dtype.itemsize * count
        if count < 0 or self.pos + size > len(self.data):
            raise InputError(f"{self.path}: truncated in {self.record}")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += size
        return out

    def name(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise InputError(f"{self.path}: truncated in {self.record} (image name without its end)")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{self.path}: {self.record} has a name that is not UTF-8") from None

    def count(self) -> int:
        (n,) = self.take("<Q")
        return int(n)

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise InputError(
                f"{self.path}: {len(self.data) - self.pos} unexpected bytes after the last record"
            )


def _read_cameras_bin(path: Path) -> dict[int, ColmapCamera]:
    reader = _Reader(path)
    cameras: dict[int, ColmapCamera] = {}
    for i in range(reader.count()):
        reader.record = f"camera record {i}"
        camera_id, model_id, width, height = reader.take("<iiQQ")
        name = _MODEL_NAMES.get(int(model_id))
        if name is None:
            raise InputError(f"{path}: camera record {i} has an unknown camera model id {model_id}")
        params = np.array(reader.array(np.dtype("<f8"), CAMERA_MODELS[name][1]), dtype=np.float64)
        where = f"{path}: camera record {i}"
        cameras[int(camera_id)] = _camera(int(camera_id), name, int(width), int(height), params, where)
    reader.finish()
    return cameras


_POINT2D = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<i8")])


def _read_images_bin(path: Path) -> dict[int, ColmapImage]:
    reader = _Reader(path)
    images: dict[int, ColmapImage] = {}
    for i in range(reader.count()):
        reader.record = f"image record {i}"
        values = reader.take("<i7di")
        image_id, camera_id = int(values[0]), int(values[8])
        pose = np.array(values[1:8], dtype=np.float64)
        name = reader.name()
        reader.record = f"image record {i} ({name})"
        pts = reader.array(_POINT2D, reader.count())
        xys = np.stack([pts["x"], pts["y"]], axis=1).astype(np.float64)
        if image_id in images:
            raise InputError(f"{path}: image id {image_id} appears twice (record {i})")
        images[image_id] = _image(
            image_id,
            pose[:4],
            pose[4:],
            camera_id,
            name,
            xys,
            pts["id"].astype(np.int64),
            f"{path}: record {i}",
        )
    reader.finish()
    return images


def _read_points_bin(
    path: Path,
) -> tuple[Float64Array, NDArray[np.uint8], Float64Array, NDArray[np.int64], list[NDArray[np.int64]]]:
    reader = _Reader(path)
    n = reader.count()
    if n * 51 > len(reader.data):
        raise InputError(f"{path}: says it holds {n} points but is only {len(reader.data)} bytes")
    ids = np.empty(n, dtype=np.int64)
    xyz = np.empty((n, 3))
    rgb = np.empty((n, 3), dtype=np.uint8)
    err = np.empty(n)
    tracks = []
    track_dtype = np.dtype("<i4")
    for i in range(n):
        reader.record = f"point record {i}"
        pid, x, y, z, r, g, b, e, length = reader.take("<Q3d3BdQ")
        ids[i] = pid
        xyz[i] = (x, y, z)
        rgb[i] = (r, g, b)
        err[i] = e
        tracks.append(reader.array(track_dtype, 2 * int(length)).astype(np.int64).reshape(-1, 2))
    reader.finish()
    return xyz, rgb, err, ids, tracks


def _cameras_bin(model: ColmapModel) -> bytes:
    parts = [struct.pack("<Q", len(model.cameras))]
    for cid in sorted(model.cameras):
        cam = model.cameras[cid]
        parts.append(struct.pack("<iiQQ", cid, CAMERA_MODELS[cam.model][0], cam.width, cam.height))
        parts.append(cam.params.astype("<f8").tobytes())
    return b"".join(parts)


def _images_bin(model: ColmapModel) -> bytes:
    parts = [struct.pack("<Q", len(model.images))]
    for iid in sorted(model.images):
        img = model.images[iid]
        name = img.name.encode("utf-8")
        if not name or b"\x00" in name:
            raise InputError(f"COLMAP image {iid}: its name {img.name!r} cannot be written in a binary model")
        parts.append(struct.pack("<i7di", iid, *img.qvec, *img.tvec, img.camera_id))
        parts.append(name + b"\x00")
        pts = np.empty(len(img.xys), dtype=_POINT2D)
        pts["x"], pts["y"], pts["id"] = img.xys[:, 0], img.xys[:, 1], img.point3d_ids
        parts.append(struct.pack("<Q", len(pts)) + pts.tobytes())
    return b"".join(parts)


def _points_bin(model: ColmapModel) -> bytes:
    tracks = model.tracks()
    parts = [struct.pack("<Q", model.num_points)]
    head = struct.Struct("<Q3d3BdQ")
    xyz = model.points_xyz.tolist()
    rgb = model.points_rgb.tolist()
    err = model.points_error.tolist()
    for i, pid in enumerate(model.point_ids.tolist()):
        track = tracks[i]
        parts.append(head.pack(pid, *xyz[i], *rgb[i], err[i], len(track)))
        parts.append(track.astype("<i4").tobytes())
    return b"".join(parts)


def write_colmap_model(model: ColmapModel, path: str | os.PathLike[str], binary: bool = False) -> Path:
    """Write a COLMAP sparse model (``cameras``, ``images``, ``points3D``) into a folder.

    Each file is written atomically; the folder is created when missing.
    ``read_colmap_model`` gives back exactly the same model, in either format.

    Args:
        model: the model.
        path: the folder (COLMAP's layout puts it at ``sparse/0``).
        binary: ``.bin`` files (COLMAP's default) instead of ``.txt``.

    Returns:
        The folder.

    Example:
        >>> cam = ColmapCamera.from_intrinsics(1, Intrinsics.from_focal(64, 48, 40.0))
        >>> model = ColmapModel({1: cam}, {1: ColmapImage.from_pose(1, np.eye(4), 1, "a.png")})
        >>> write_colmap_model(model, "scene/sparse/0")  # doctest: +SKIP
        PosixPath('scene/sparse/0')
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    if binary:
        write_bytes_atomic(folder / "cameras.bin", _cameras_bin(model))
        write_bytes_atomic(folder / "images.bin", _images_bin(model))
        write_bytes_atomic(folder / "points3D.bin", _points_bin(model))
    else:
        write_text_atomic(folder / "cameras.txt", _cameras_txt(model))
        write_text_atomic(folder / "images.txt", _images_txt(model))
        write_text_atomic(folder / "points3D.txt", _points_txt(model))
    return folder
