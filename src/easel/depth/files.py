"""Reading and writing depth maps: ``.npy``, 16-bit PNG, ``.exr``, float ``.tif``, ``.pfm``.

Files written by :func:`write_depth` can be read back exactly by
:func:`read_depth` (PNG to 16-bit precision, the others losslessly):

==========  =====================================================================
``.npy``     float32 depth in scene units (NumPy).
``.png``     16-bit grey, *inverse depth* scaled to 0..65535 (65535 = nearest), so a
             viewer shows near as bright; the depth range is kept in a PNG text chunk
             (``easel:depth``) that :func:`read_depth` decodes.
``.exr``     float32 depth in scene units, channel ``Y`` (ZIP compression).
``.tif``     float32 depth in scene units.
``.pfm``     float32 depth in scene units (Portable Float Map, as MiDaS writes).
==========  =====================================================================

Files from elsewhere (a phone's portrait-mode depth, another tool) are read as
``kind="depth"`` (values are distances; 0, NaN and negative values are holes)
or ``kind="disparity"`` (larger = nearer, converted with a depth range). 8-bit
and 16-bit PNGs without easel's text chunk hold raw integer values.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.depth.convert import (
    DEFAULT_DEPTH_RANGE,
    DepthMap,
    check_depth_range,
    depth_to_disparity,
    disparity_to_depth,
    rescale_depth,
    resize_depth,
    validate_depth,
)
from easel.errors import InputError
from easel.io.atomic import atomic_path
from easel.io.guard import (
    check_dimensions,
    check_input_file,
    describe_array,
    open_image,
    probe_image_shape,
    quiet_opencv,
    read_npy,
    read_npy_header,
)

log = logging.getLogger(__name__)

DEPTH_SUFFIXES = (".npy", ".png", ".exr", ".tif", ".tiff", ".pfm")
"""Suffixes :func:`read_depth` and :func:`write_depth` accept."""
DepthKind = Literal["depth", "disparity"]
DEPTH_KINDS: tuple[str, ...] = ("depth", "disparity")
_PNG_KEY = "easel:depth"


@dataclass
class RawDepth:
    """The numbers of a depth file before interpretation.

    Attributes:
        values: ``(H, W)`` float32 values as stored (holes not yet filled).
        kind: ``"depth"``/``"disparity"`` when the file says (easel's own
            files), ``None`` when the caller must say.
        path: the file.

    Example:
        >>> raw = load_depth_file("depth.npy")  # doctest: +SKIP
        >>> raw.kind, raw.values.dtype  # .npy files do not say what they hold  # doctest: +SKIP
        (None, dtype('float32'))
    """

    values: NDArray[np.float32]
    kind: DepthKind | None
    path: Path


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in DEPTH_SUFFIXES:
        raise InputError(
            f"{path}: unsupported depth format {suffix or '(none)'!r}; use one of {', '.join(DEPTH_SUFFIXES)}"
        )
    return suffix


def _single_channel(arr: NDArray[np.generic], path: Path) -> NDArray[np.generic]:
    """The one channel of an image-file depth map: grey RGB(A) files are fine, colour is refused."""
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            return arr[:, :, 0]
        first = arr[:, :, 0]
        rest = arr[:, :, 1:3] if arr.shape[2] >= 3 else arr[:, :, 1:2]
        if all(np.array_equal(first, rest[:, :, i]) for i in range(rest.shape[2])):
            return first
        raise InputError(
            f"{path}: a colour image ({arr.shape[2]} different channels), not a depth map "
            "(a colour-mapped preview cannot be read back as depth; use the .npy/.png/.exr depth file)"
        )
    if arr.ndim != 2:
        raise InputError(f"{path}: expected a (H, W) depth map, got {describe_array(arr.shape, arr.dtype)}")
    return arr


def _expect_2d(path: Path, shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[int, int]:
    """``(height, width)`` of an array file's declared shape; a one-line refusal for any other shape."""
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    if len(shape) == 2:
        return shape[0], shape[1]
    got = describe_array(shape, dtype)
    hint = ""
    if len(shape) == 3 and shape[2] > 1:
        hint = f": {shape[2]} channels, like a colour image, not one depth value per pixel"
    raise InputError(f"{path}: expected a (H, W) float depth map, got {got}{hint}")


def _read_npy(path: Path) -> NDArray[np.generic]:
    header = read_npy_header(path, what="depth map")
    height, width = _expect_2d(path, header.shape, header.dtype)
    check_dimensions(path, width, height, what="depth map")
    arr = read_npy(path, header, what="depth map")
    return arr.reshape(height, width)


def _read_png(path: Path) -> RawDepth:
    with open_image(path, what="PNG depth map", min_side=1, format_name="PNG image") as img:
        if img.format != "PNG":
            raise InputError(f"{path}: not a PNG image (the file holds {img.format or 'another format'})")
        img.load()
        text = dict(getattr(img, "text", {}) or {})
        mode = img.mode
        decoded = img.convert("RGBA" if "A" in mode else "RGB") if mode in ("P", "PA") else img
        arr = np.asarray(decoded)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):  # drop alpha
        arr = arr[:, :, :-1]
    values = _single_channel(arr, path).astype(np.float32)
    meta = text.get(_PNG_KEY)
    if meta is None:
        return RawDepth(values, None, path)
    try:
        info = json.loads(meta)
        near, far = check_depth_range((info["near"], info["far"]))
        scale = float(info.get("scale", 65535))
        if info.get("encoding") != "inverse-depth":
            raise ValueError(f"unknown encoding {info.get('encoding')!r}")
    except (ValueError, KeyError, TypeError, InputError) as exc:
        raise InputError(f"{path}: bad {_PNG_KEY} metadata ({exc})") from None
    t = values.astype(np.float64) / scale
    inv = 1.0 / far + t * (1.0 / near - 1.0 / far)
    return RawDepth((1.0 / inv).astype(np.float32), "depth", path)


def _pfm_shape(path: Path) -> tuple[int, int] | None:
    """``(height, width)`` from a PFM header (``Pf``/``PF``, then ``W H``), or ``None`` when it is not one."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    tokens = head.split()
    if len(tokens) < 3 or tokens[0] not in (b"Pf", b"PF"):
        return None
    try:
        return int(tokens[2]), int(tokens[1])
    except ValueError:
        return None


def _read_opencv(path: Path) -> NDArray[np.generic]:
    import cv2

    if path.suffix.lower() == ".pfm":
        shape = _pfm_shape(path)
        if shape is not None:
            check_dimensions(path, shape[1], shape[0], what="depth map")
    else:
        probe_image_shape(path, what="depth map")  # checks the header's size when Pillow can parse it
    try:
        with quiet_opencv():
            arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        arr = None
    if arr is None:
        raise InputError(
            f"{path}: cannot decode {path.suffix} file; it may be corrupt or an unsupported variant"
        )
    check_dimensions(path, arr.shape[1], arr.shape[0], what="depth map")
    if arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[:, :, [2, 1, 0]]  # BGR -> RGB (only matters for the colour check)
    return arr


def load_depth_file(path: str | os.PathLike[str]) -> RawDepth:
    """Read the raw values of a depth file without interpreting them.

    Raises:
        InputError: missing, empty, unreadable or unsupported files.

    Example:
        >>> load_depth_file("depth.png").kind  # easel's own PNGs say  # doctest: +SKIP
        'depth'
    """
    p = Path(path)
    suffix = _suffix(p)
    check_input_file(p, "depth file")
    if suffix == ".png":
        return _read_png(p)
    if suffix == ".npy":
        arr = _read_npy(p)
    elif suffix == ".exr":
        from easel.depth.exr import read_exr

        arr = read_exr(p)
    else:
        arr = _read_opencv(p)
    values = _single_channel(np.asarray(arr), p)
    return RawDepth(np.asarray(values, dtype=np.float32), None, p)


def read_depth(
    path: str | os.PathLike[str],
    shape: tuple[int, int] | None = None,
    kind: DepthKind = "depth",
    depth_range: tuple[float, float] | None = None,
) -> DepthMap:
    """Read a depth (or disparity) file as validated ``(H, W)`` float32 depth.

    Args:
        path: ``.npy``, ``.png`` (8/16-bit), ``.exr``, ``.tif``/``.tiff`` (float) or ``.pfm``.
        shape: ``(height, width)`` to resize to (usually the image's); the
            aspect ratio must match (within rounding). ``None`` keeps the file's shape.
        kind: what the file holds when it does not say itself: ``"depth"``
            (distance, larger = farther) or ``"disparity"`` (larger = nearer;
            relative is fine). easel's own PNGs say, and ``kind`` is ignored for them.
        depth_range: ``(near, far)`` in scene units. Disparity is converted
            to depth spanning it (default :data:`~easel.depth.convert.DEFAULT_DEPTH_RANGE`);
            depth is rescaled onto it (in inverse depth) when given and kept in
            the file's units otherwise.

    Returns:
        ``(H, W)`` float32 depth, finite and > 0, larger = farther.

    Raises:
        InputError: missing/unreadable file, unsupported format, colour image,
            more than half the pixels invalid (NaN/inf/zero/negative depth;
            fewer are filled from their neighbours with a logged warning), a
            constant map (no parallax), or a different aspect ratio than ``shape``.

    Example:
        >>> depth = read_depth("depth.png", shape=(768, 1024))  # doctest: +SKIP
        >>> depth.shape, depth.dtype                           # doctest: +SKIP
        ((768, 1024), dtype('float32'))
    """
    if kind not in DEPTH_KINDS:
        raise InputError(f"depth kind must be 'depth' or 'disparity', got {kind!r}")
    if depth_range is not None:
        depth_range = check_depth_range(depth_range)
    raw = load_depth_file(path)
    name = str(raw.path)
    effective = raw.kind or kind
    if effective == "disparity":
        depth = disparity_to_depth(raw.values, depth_range or DEFAULT_DEPTH_RANGE, name=name)
    else:
        depth = validate_depth(raw.values, name=name)
        if depth_range is not None:
            depth = rescale_depth(depth, depth_range)
    if shape is not None:
        depth = resize_depth(depth, shape, name=name)
    return depth


def write_depth(path: str | os.PathLike[str], depth: ArrayLike) -> Path:
    """Write ``(H, W)`` depth atomically; the format follows the suffix.

    Args:
        path: ``.npy`` (float32), ``.png`` (16-bit inverse depth with its range
            in a text chunk), ``.exr``, ``.tif``/``.tiff`` or ``.pfm`` (float32).
        depth: ``(H, W)`` depth, finite and > 0.

    Returns:
        ``Path(path)``.

    Raises:
        InputError: unsupported suffix or invalid depth.

    Example:
        >>> write_depth("depth.png", np.full((4, 4), 2.0) + np.eye(4))  # doctest: +SKIP
        PosixPath('depth.png')
    """
    out = Path(path)
    suffix = _suffix(out)
    arr = np.asarray(depth)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    depth_to_disparity(arr)  # validates shape, finiteness and sign
    values = np.ascontiguousarray(arr, dtype=np.float32)
    with atomic_path(out) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, values)
        elif suffix == ".png":
            _write_png(tmp, values)
        elif suffix == ".exr":
            from easel.depth.exr import write_exr

            write_exr(tmp, values)
        else:
            import cv2

            if not cv2.imwrite(str(tmp), values):
                raise InputError(f"{out}: could not write a float32 {suffix} file")
    return out


def _write_png(path: Path, depth: NDArray[np.float32]) -> None:
    from PIL import Image, PngImagePlugin

    near, far = float(depth.min()), float(depth.max())
    if far <= near:  # constant: still writable, encoded as all-near
        far = near * (1.0 + 1e-6)
    inv = 1.0 / depth.astype(np.float64)
    t = (inv - 1.0 / far) / (1.0 / near - 1.0 / far)
    values = np.clip(np.rint(t * 65535.0), 0, 65535).astype(np.uint16)
    info = PngImagePlugin.PngInfo()
    meta = {"encoding": "inverse-depth", "near": near, "far": far, "scale": 65535}
    info.add_text(_PNG_KEY, json.dumps(meta))
    Image.fromarray(values).save(path, format="PNG", pnginfo=info)
