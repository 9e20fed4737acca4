"""One guard for every file easel reads: images, masks, frames, depth maps, arrays.

Every reader goes through the same checks, in the same order, with the same
one-line messages (each names the file):

1. the file: it exists, is not a folder, can be read and is not empty
   (:func:`check_input_file`);
2. the size, from the header and before any pixel is decoded: at most
   :data:`MAX_SIDE` pixels on a side and :data:`MAX_PIXELS` pixels in all,
   so a crafted 50 000 x 50 000 header costs nothing, and at least
   ``min_side`` pixels on a side (:func:`check_dimensions`);
3. the decoding itself: Pillow's decompression-bomb warnings never reach the
   terminal, and a truncated or foreign file is an :class:`InputError`, not a
   Pillow, NumPy or OpenCV message (:func:`open_image`, :func:`read_npy`);
4. arrays: their shape and dtype, with a message saying what was expected
   (:func:`describe_array`).

Example:
    >>> with open_image("photo.png") as img:  # doctest: +SKIP
    ...     img.load()
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from easel.errors import InputError

MAX_SIDE = 32768
"""Images and arrays larger than this on a side are refused outright (decompression bombs)."""
MAX_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
"""Images and arrays with more pixels are refused (Pillow's decompression-bomb threshold, about 89 MP)."""
MIN_SIDE = 8
"""Smallest side of an image accepted by default: smaller images carry no usable picture."""

_LIMITS = (
    f"({MAX_SIDE} px on a side, {MAX_PIXELS // 1_000_000} megapixels: anything bigger is too large "
    "to decode safely); downsize it first"
)

StrPath = str | os.PathLike[str]


def check_input_file(path: StrPath, what: str = "file") -> Path:
    """Check that ``path`` is a readable, non-empty file, before opening it.

    Args:
        path: the file the user named.
        what: what it should be, for the folder message (``"image file"``, ``"depth file"``).

    Returns:
        ``Path(path)``.

    Raises:
        InputError: missing, a folder, unreadable, or empty (0 bytes).

    Example:
        >>> check_input_file("photo.jpg", "image file")  # doctest: +SKIP
        PosixPath('photo.jpg')
    """
    p = Path(path)
    try:
        if not p.exists():
            raise InputError(f"{p}: no such file")
        if p.is_dir():
            raise InputError(f"{p}: is a directory, not {_article(what)}")
        if not os.access(p, os.R_OK):
            raise InputError(f"{p}: permission denied")
        if p.stat().st_size == 0:
            raise InputError(f"{p}: file is empty (0 bytes)")
    except OSError as exc:  # a name too long, a broken mount ...
        raise InputError(f"{p}: cannot read the file ({exc.strerror or exc.__class__.__name__})") from None
    return p


def _article(what: str) -> str:
    return ("an " if what[:1].lower() in "aeiou" else "a ") + what


def check_dimensions(path: StrPath, width: int, height: int, what: str = "image", min_side: int = 1) -> None:
    """Refuse sizes a reader should not decode: over the bomb limits, or too small.

    Args:
        path: the file, for the message.
        width, height: the size its header declares, in pixels.
        what: what the file holds (``"image"``, ``"depth map"``).
        min_side: smallest accepted side in pixels.

    Raises:
        InputError: a side above :data:`MAX_SIDE`, more than :data:`MAX_PIXELS`
            pixels, or a side below ``min_side``.

    Example:
        >>> check_dimensions("d.npy", 640, 480, what="depth map")
    """
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise InputError(f"{path}: {what} is {width}x{height} pixels, larger than easel accepts {_LIMITS}")
    if min(width, height) < max(min_side, 1):
        if min_side <= 1:
            raise InputError(f"{path}: {what} is empty ({width}x{height} pixels)")
        raise InputError(
            f"{path}: {what} is only {width}x{height} pixels; at least {min_side} px on a side is needed"
        )


def _bomb_message(path: Path, what: str, exc: BaseException) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"has {int(found.group(1)) // 1_000_000} megapixels" if found else "is too large"
    return f"{path}: {what} {size}, larger than easel accepts {_LIMITS}"


@contextlib.contextmanager
def open_image(
    path: StrPath, what: str = "image", min_side: int = MIN_SIDE, format_name: str = "image"
) -> Iterator[Image.Image]:
    """Open an image file with Pillow behind the guard; decode it inside the block.

    The file is checked (:func:`check_input_file`), its header size is checked
    (:func:`check_dimensions`) before the block runs, and any decoding error
    inside the block (a truncated file, a corrupt stream, a bomb) becomes one
    :class:`InputError` line naming the file. :class:`InputError` raised by the
    block passes through unchanged.

    Args:
        path: the file.
        what: what it holds, for messages (``"image"``, ``"depth map"``).
        min_side: smallest accepted side in pixels.
        format_name: the format expected, for the "not a ..." message
            (``"image"``, ``"PNG image"``).

    Yields:
        The open :class:`PIL.Image.Image` (not yet loaded).

    Raises:
        InputError: see above.

    Example:
        >>> with open_image("mask.png", what="mask") as img:  # doctest: +SKIP
        ...     arr = np.asarray(img.convert("L"))
    """
    p = check_input_file(path, "image file" if what == "image" else f"{what} file")
    try:
        with warnings.catch_warnings():
            # the header check below refuses what Pillow would warn about, with our message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                width, height = img.size
                check_dimensions(p, width, height, what=what, min_side=min_side)
                yield img
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(_bomb_message(p, what, exc)) from None
    except UnidentifiedImageError:
        if format_name == "image":
            raise InputError(f"{p}: not an image file, or a format easel cannot read") from None
        raise InputError(f"{p}: not {_article(format_name)}") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        detail = _one_line(exc)
        raise InputError(
            f"{p}: cannot decode {what} ({detail}); the file may be truncated or corrupt"
        ) from None
    except MemoryError:
        raise InputError(f"{p}: {what} is too large to decode in the memory available") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else exc.__class__.__name__


def read_image_shape(path: StrPath, what: str = "image") -> tuple[int, int]:
    """``(height, width)`` of an image as displayed (EXIF rotation applied), from its header only.

    Args:
        path: the image file.
        what: what it holds, for messages (``"frame"``).

    Returns:
        ``(height, width)`` in pixels.

    Raises:
        InputError: the same file and size checks as :func:`open_image` (no minimum size).

    Example:
        >>> read_image_shape("frame_0001.png")  # doctest: +SKIP
        (480, 640)
    """
    with open_image(path, what=what, min_side=1) as img:
        width, height = img.size
        orientation = img.getexif().get(0x0112, 1)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return height, width


def probe_image_shape(path: StrPath, what: str = "image") -> tuple[int, int] | None:
    """``(height, width)`` from a file's header when Pillow can parse it, else ``None``.

    For formats another decoder may still read (float TIFF variants Pillow
    does not parse): the caller checks the size it gets, or checks the decoded
    array's size when this returns ``None``.

    Raises:
        InputError: a header over the size limits (:func:`check_dimensions`).

    Example:
        >>> probe_image_shape("depth.tif", what="depth map")  # doctest: +SKIP
        (480, 640)
    """
    p = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                width, height = img.size
    except Image.DecompressionBombError as exc:
        raise InputError(_bomb_message(p, what, exc)) from None
    except Exception:  # noqa: BLE001 -- a variant Pillow cannot parse: the caller's decoder decides
        return None
    check_dimensions(p, width, height, what=what)
    return height, width


# ---------------------------------------------------------------- NumPy .npy files


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header declares, read without loading the data.

    Attributes:
        shape: the array's shape.
        dtype: its dtype.
        fortran_order: whether the data is stored column-major.
        offset: where the data starts in the file, in bytes.

    Example:
        >>> header = read_npy_header("depth.npy")  # doctest: +SKIP
        >>> header.shape, header.dtype, header.nbytes  # doctest: +SKIP
        ((768, 1024), dtype('float32'), 3145728)
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool
    offset: int

    @property
    def nbytes(self) -> int:
        """Bytes the data takes in the file."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def describe_array(shape: Sequence[int], dtype: np.dtype[Any] | type | str) -> str:
    """``"shape (480, 640, 3) uint8"``: how messages name an array the user gave.

    Example:
        >>> describe_array((480, 640, 3), np.uint8)
        'shape (480, 640, 3) uint8'
    """
    return f"shape {tuple(int(s) for s in shape)} {np.dtype(dtype).name}"


def is_plain_numeric(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` holds plain real numbers (integers or floats, not bool, complex, objects or records).

    Example:
        >>> is_plain_numeric(np.dtype("float32")), is_plain_numeric(np.dtype(object))
        (True, False)
    """
    return dtype.fields is None and dtype.kind in "iuf"


def read_npy_header(path: StrPath, what: str = "array") -> NpyHeader:
    """Read a ``.npy`` header without loading (or unpickling) anything.

    Args:
        path: the ``.npy`` file.
        what: what it should hold, for messages (``"depth map"``).

    Returns:
        An :class:`NpyHeader`.

    Raises:
        InputError: not a ``.npy`` file (an ``.npz`` archive, a text file ...),
            a damaged header, or an array that is not of plain numbers
            (objects, records, complex).

    Example:
        >>> read_npy_header("depth.npy").shape  # doctest: +SKIP
        (480, 640)
    """
    p = check_input_file(path, f"{what} file")
    fmt = np.lib.format
    try:
        with open(p, "rb") as fh:
            magic = fh.read(6)
            fh.seek(0)
            if magic[:4] == b"PK\x03\x04":
                raise InputError(
                    f"{p}: a NumPy .npz archive, not a single .npy {what}; save one array with np.save"
                )
            if magic != b"\x93NUMPY":
                raise InputError(f"{p}: not a NumPy .npy file")
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, fortran_order, dtype = fmt.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran_order, dtype = fmt.read_array_header_2_0(fh)
            else:
                raise InputError(
                    f"{p}: .npy format version {version[0]}.{version[1]} is not a plain numeric array"
                )
            offset = fh.tell()
    except InputError:
        raise
    except (ValueError, OSError, EOFError, SyntaxError, TypeError):
        raise InputError(f"{p}: not a NumPy .npy file, or its header is damaged") from None
    dtype = np.dtype(dtype)
    if not is_plain_numeric(dtype):
        raise InputError(
            f"{p}: not a plain numeric NumPy array (dtype {dtype}); easel reads arrays of numbers "
            "(integers or floats)"
        )
    return NpyHeader(tuple(int(s) for s in shape), dtype, bool(fortran_order), offset)


def read_npy(path: StrPath, header: NpyHeader | None = None, what: str = "array") -> NDArray[Any]:
    """Load a ``.npy`` array of plain numbers whose header passed the checks.

    Call :func:`read_npy_header` first to check the shape (and the size limits)
    before anything is loaded; pass its result as ``header``.

    Raises:
        InputError: see :func:`read_npy_header`; data shorter than the header
            declares; a read error.

    Example:
        >>> header = read_npy_header("depth.npy")            # doctest: +SKIP
        >>> check_dimensions("depth.npy", header.shape[1], header.shape[0])  # doctest: +SKIP
        >>> depth = read_npy("depth.npy", header)             # doctest: +SKIP
    """
    p = Path(path)
    info = header or read_npy_header(p, what=what)
    count = int(np.prod(info.shape, dtype=np.int64))
    held = p.stat().st_size - info.offset
    if held < info.nbytes:
        raise InputError(
            f"{p}: the file is truncated: its header declares {describe_array(info.shape, info.dtype)} "
            f"({info.nbytes} bytes of data) but it holds {max(held, 0)}"
        )
    try:
        with open(p, "rb") as fh:
            fh.seek(info.offset)
            flat = np.fromfile(fh, dtype=info.dtype, count=count)
    except (OSError, ValueError):
        raise InputError(f"{p}: cannot read the .npy data; the file may be truncated or corrupt") from None
    except MemoryError:
        raise InputError(f"{p}: {what} is too large to load in the memory available") from None
    if flat.size != count:
        raise InputError(f"{p}: the file is truncated (its data ends early)")
    return flat.reshape(info.shape, order="F" if info.fortran_order else "C")


# ---------------------------------------------------------------- OpenCV


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log lines (libtiff and codec complaints) for the block.

    A file OpenCV cannot decode is reported by the caller as one
    :class:`InputError` line; OpenCV's ``[ERROR] ... TIFFReadDirectory`` lines
    must not reach the terminal too.

    Example:
        >>> with quiet_opencv():  # doctest: +SKIP
        ...     arr = cv2.imread("depth.tif", cv2.IMREAD_UNCHANGED)
    """
    import cv2

    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:  # an OpenCV build without the logging module
        yield
        return
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_api.setLogLevel(previous)
