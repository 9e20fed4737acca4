"""Reading and writing still images.

:func:`read_image` turns anything Pillow opens into the package convention
(``(H, W, 3)`` float32 RGB in [0, 1], plus alpha when present), applies EXIF
orientation, guards against decompression bombs and downsizes large inputs
with a notice. :func:`write_image` picks the format from the suffix and
writes atomically.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb, fit_long_side, resize, to_uint8, to_uint16
from easel.io.atomic import atomic_path
from easel.io.guard import MAX_PIXELS, MAX_SIDE, MIN_SIDE, open_image, quiet_opencv

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 4096
"""Default cap on the long side of loaded images, in pixels."""
__all__ = [
    "DEFAULT_MAX_SIZE",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "WRITE_SUFFIXES",
    "LoadedImage",
    "check_image_suffix",
    "png_compress_level",
    "read_image",
    "write_image",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")


@dataclass
class LoadedImage:
    """An image read from disk.

    Attributes:
        rgb: ``(H, W, 3)`` float32 RGB in [0, 1], after orientation and downsizing.
        alpha: ``(H, W)`` float32 in [0, 1], or ``None`` for opaque images.
        path: the file it came from.
        original_shape: ``(height, width)`` before downsizing (after orientation).
        mode: the Pillow mode of the file (``RGB``, ``P``, ``I;16`` ...).

    Example:
        >>> img = read_image("photo.jpg", max_size=1024)  # doctest: +SKIP
        >>> img.shape, img.original_shape, img.downscaled  # doctest: +SKIP
        ((768, 1024), (3000, 4000), True)
    """

    rgb: FloatImage
    alpha: NDArray[np.float32] | None
    path: Path
    original_shape: tuple[int, int]
    mode: str

    @property
    def downscaled(self) -> bool:
        """Whether :attr:`rgb` is smaller than the file (``max_size`` downscaled it)."""
        return self.rgb.shape[:2] != self.original_shape

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of :attr:`rgb`."""
        return self.rgb.shape[0], self.rgb.shape[1]


def _pixels_of(img: Image.Image, path: Path) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """Decode a Pillow image of any common mode to float RGB and optional alpha."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "1"):
        img = img.convert("RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode == "La":
        img = img.convert("LA")
    elif mode == "RGBa":
        img = img.convert("RGBA")
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.uint16).astype(np.float32) / 65535.0
        return as_float_rgb(arr, name=str(path)), None
    if mode == "I":
        arr32 = np.asarray(img, dtype=np.int64)
        top = 65535.0 if arr32.max() > 255 else 255.0
        return as_float_rgb(np.clip(arr32 / top, 0.0, 1.0).astype(np.float32), name=str(path)), None
    if mode == "F":
        return as_float_rgb(np.asarray(img, dtype=np.float32), name=str(path)), None
    if mode == "LA":
        arr8 = np.asarray(img, dtype=np.uint8)
        return as_float_rgb(arr8[:, :, 0]), as_float_rgb(arr8[:, :, 1])[:, :, 0].copy()
    if mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in mode else "RGB")
    arr8 = np.asarray(img, dtype=np.uint8)
    if arr8.ndim == 3 and arr8.shape[2] == 4:
        alpha = arr8[:, :, 3].astype(np.float32) / np.float32(255.0)
        return _unit_float(arr8[:, :, :3]), (alpha if alpha.min() < 1.0 else None)
    if arr8.ndim == 3 and arr8.shape[2] == 3:
        return _unit_float(arr8), None
    return as_float_rgb(arr8), None


def _unit_float(rgb8: NDArray[np.uint8]) -> FloatImage:
    """``(H, W, 3)`` uint8 -> float32 in [0, 1], the values of :func:`as_float_rgb`, in one pass and one array."""
    out = np.empty(rgb8.shape, np.float32)
    np.divide(rgb8, np.float32(255.0), out=out, dtype=np.float32)
    return out


def _is_deep_color(img: Image.Image) -> bool:
    """Whether Pillow would cut this file's 16-bit colour samples to 8 bits (16-bit RGB PNG/TIFF)."""
    if img.mode not in ("RGB", "RGBA"):
        return False
    return any(";16" in str(tile.args) for tile in (getattr(img, "tile", None) or ()))


def _orient(arr: NDArray[np.uint16], orientation: int) -> NDArray[np.uint16]:
    """Apply an EXIF orientation (1-8) to an ``(H, W, C)`` array, as ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        arr = arr[:, ::-1]
    elif orientation == 3:
        arr = arr[::-1, ::-1]
    elif orientation == 4:
        arr = arr[::-1]
    elif orientation == 5:
        arr = arr.transpose(1, 0, 2)
    elif orientation == 6:
        arr = np.rot90(arr, k=-1)
    elif orientation == 7:
        arr = arr[::-1, ::-1].transpose(1, 0, 2)
    elif orientation == 8:
        arr = np.rot90(arr, k=1)
    return np.ascontiguousarray(arr)


def _read_deep_color(path: Path, img: Image.Image) -> tuple[FloatImage, NDArray[np.float32] | None] | None:
    """Decode a 16-bit RGB(A) file at full precision with OpenCV (``None``: let Pillow do it)."""
    import cv2

    with quiet_opencv():
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.ndim != 3 or raw.shape[2] not in (3, 4):
        return None
    if (raw.shape[1], raw.shape[0]) != img.size:
        return None
    raw = _orient(np.asarray(raw, dtype=np.uint16), int(img.getexif().get(0x0112, 1) or 1))
    rgb = as_float_rgb(raw[:, :, 2::-1], name=str(path))
    if raw.shape[2] == 4:
        alpha = raw[:, :, 3].astype(np.float32) / np.float32(65535.0)
        if alpha.min() < 1.0:
            return rgb, alpha
    return rgb, None


def _read_png_opencv(path: Path, img: Image.Image) -> tuple[FloatImage, NDArray[np.float32] | None] | None:
    """Decode an 8-bit RGB(A) PNG with OpenCV (``None``: let Pillow do it).

    OpenCV decodes in one call that releases the GIL (Pillow's loop takes it
    back for every 64 KiB, so a thread loading numba meanwhile slows it down
    several times over) and about a third faster. A file with an ``eXIf``
    chunk (an orientation, perhaps) is left to Pillow.
    """
    data = path.read_bytes()
    if b"eXIf" in data:
        return None
    import cv2

    channels = 4 if img.mode == "RGBA" else 3
    with quiet_opencv():
        raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint8 or raw.shape != (img.size[1], img.size[0], channels):
        return None
    if channels == 3:
        return _unit_float(np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), np.uint8)), None
    rgba = np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGRA2RGBA), np.uint8)
    alpha = rgba[:, :, 3].astype(np.float32) / np.float32(255.0)
    return _unit_float(rgba[:, :, :3]), (alpha if alpha.min() < 1.0 else None)


def read_image(
    path: str | os.PathLike[str],
    max_size: int | None = DEFAULT_MAX_SIZE,
    min_side: int = MIN_SIDE,
) -> LoadedImage:
    """Read an image file into float32 RGB in [0, 1].

    Args:
        path: any file Pillow reads (PNG, JPEG, WebP, TIFF, BMP, GIF's first frame ...).
        max_size: downscale (area filter) so the long side is at most this many
            pixels; ``None`` keeps the full size. The caller is told through
            :attr:`LoadedImage.downscaled` and a log message.
        min_side: smallest accepted side in pixels (either side).

    Returns:
        A :class:`LoadedImage`.

    Raises:
        InputError: missing/empty/unreadable/truncated files, images that are
            too small, or so large they look like decompression bombs.

    Example:
        >>> img = read_image("photo.jpg", max_size=1024)  # doctest: +SKIP
        >>> img.rgb.shape, img.rgb.dtype                  # doctest: +SKIP
        ((768, 1024, 3), dtype('float32'))
    """
    if max_size is not None and max_size < 1:
        raise InputError(f"--max-size must be a positive number of pixels, got {max_size}")
    p = Path(path)
    with open_image(p, what="image", min_side=min_side) as img:
        width, height = img.size
        file_mode = img.mode
        decoded = _read_deep_color(p, img) if _is_deep_color(img) else None
        if decoded is None and img.format == "PNG" and file_mode in ("RGB", "RGBA"):
            decoded = _read_png_opencv(p, img)
        if decoded is not None:
            rgb, alpha = decoded
            oriented_shape = (rgb.shape[0], rgb.shape[1])
        else:
            if max_size is not None and img.format == "JPEG":
                # Decode JPEGs at a reduced scale when they are far larger than needed.
                img.draft("RGB" if file_mode != "L" else "L", (max_size, max_size))
            img.load()
            oriented = ImageOps.exif_transpose(img)
            oriented_shape = (oriented.height, oriented.width)
            if img.size != (width, height):  # draft() shrank it; report the true size
                scale = width / img.size[0]
                oriented_shape = (round(oriented.height * scale), round(oriented.width * scale))
            rgb, alpha = _pixels_of(oriented, p)
    if max_size is not None:
        target = fit_long_side(rgb.shape[:2], max_size)
        if target != rgb.shape[:2]:
            rgb = resize(rgb, target)
            if alpha is not None:
                alpha = resize(alpha[:, :, None], target)[:, :, 0]
        if rgb.shape[:2] != oriented_shape:
            # debug only: the caller decides how to tell the user (the CLI prints one notice)
            log.debug(
                "%s: downscaled from %dx%d to %dx%d (max size %d)",
                p,
                oriented_shape[1],
                oriented_shape[0],
                rgb.shape[1],
                rgb.shape[0],
                max_size,
            )
    return LoadedImage(rgb=rgb, alpha=alpha, path=p, original_shape=oriented_shape, mode=file_mode)


def check_image_suffix(path: str | os.PathLike[str]) -> str:
    """Return the lower-case suffix of an image output path, or raise :class:`InputError`.

    Example:
        >>> check_image_suffix("art.PNG")
        '.png'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InputError(
            f"{path}: unsupported image format {suffix or '(none)'!r}; use one of {', '.join(WRITE_SUFFIXES)}"
        )
    return suffix


FAST_PNG_LEVEL = 1
"""The zlib level :func:`write_image` uses for large PNGs unless told otherwise."""
LARGE_PNG_PIXELS = 1 << 20
"""Images of at least this many pixels are written as PNG with :data:`FAST_PNG_LEVEL`."""


def png_compress_level(n_pixels: int, compress_level: int | None = None) -> int:
    """The PNG zlib level for an image of ``n_pixels``: ``compress_level`` if given (0-9),
    else :data:`FAST_PNG_LEVEL` for large images and 6 (Pillow's default) for others.

    Example:
        >>> png_compress_level(4000 * 3000), png_compress_level(640 * 480), png_compress_level(10, 9)
        (1, 6, 9)
    """
    if compress_level is None:
        return FAST_PNG_LEVEL if n_pixels >= LARGE_PNG_PIXELS else 6
    if not (isinstance(compress_level, int) and 0 <= compress_level <= 9):
        raise InputError(f"PNG compression level must be 0 to 9, got {compress_level!r}")
    return compress_level


def write_image(
    path: str | os.PathLike[str],
    image: FloatImage,
    alpha: NDArray[np.float32] | None = None,
    bit_depth: int = 8,
    quality: int = 95,
    compress_level: int | None = None,
) -> Path:
    """Write a float image atomically; the format follows the suffix.

    Args:
        path: ``.png``, ``.jpg``/``.jpeg``, ``.webp`` or ``.tif``/``.tiff``.
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (or ``(H, W)`` gray).
        alpha: optional ``(H, W)`` float32 in [0, 1], kept by PNG, WebP and TIFF
            and dropped by JPEG.
        bit_depth: 8, or 16 for PNG and TIFF.
        quality: JPEG/WebP quality (1-100).
        compress_level: PNG zlib level, 0 (none, fastest) to 9 (smallest); ``None``:
            :data:`FAST_PNG_LEVEL` for images of :data:`LARGE_PNG_PIXELS` pixels or
            more (a 12-megapixel PNG then writes several times faster), 6 otherwise.

    Returns:
        ``Path(path)``.

    Example:
        >>> write_image("art.png", np.zeros((48, 64, 3), np.float32), bit_depth=16)  # doctest: +SKIP
        PosixPath('art.png')
    """
    out = Path(path)
    suffix = check_image_suffix(out)
    if not out.resolve().parent.is_dir():
        raise InputError(f"{out}: output folder {out.resolve().parent} does not exist")
    rgb = as_float_rgb(image, name="output image")
    if bit_depth not in (8, 16):
        raise InputError(f"bit depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and suffix not in (".png", ".tif", ".tiff"):
        raise InputError(f"{out}: 16-bit output needs .png or .tif, not {suffix}")
    keep_alpha = alpha is not None and suffix != ".jpg" and suffix != ".jpeg"
    channels = np.dstack([rgb, alpha]) if keep_alpha and alpha is not None else rgb
    with atomic_path(out) as tmp:
        if bit_depth == 16:
            import cv2

            data16 = to_uint16(channels)
            order = [2, 1, 0, 3] if data16.shape[2] == 4 else [2, 1, 0]
            if not cv2.imwrite(str(tmp), np.ascontiguousarray(data16[:, :, order])):
                raise InputError(f"{out}: could not write a 16-bit image")
        else:
            data8 = to_uint8(channels)
            pil = Image.fromarray(data8, mode="RGBA" if data8.shape[2] == 4 else "RGB")
            fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(suffix, "TIFF")
            kwargs: dict[str, object] = {}
            if fmt in ("JPEG", "WEBP"):
                kwargs["quality"] = quality
            if fmt == "TIFF":
                kwargs["compression"] = "tiff_deflate"
            if fmt == "PNG":
                kwargs["compress_level"] = png_compress_level(rgb.shape[0] * rgb.shape[1], compress_level)
            pil.save(tmp, format=fmt, **kwargs)
    return out
