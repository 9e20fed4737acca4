"""A small OpenEXR codec for single-image depth maps (no OpenEXR library needed).

The OpenCV wheels on PyPI are built without OpenEXR, so easel reads and writes
the common case itself: scanline (not tiled), single-part files with
uncompressed, ZIPS or ZIP compression and HALF/FLOAT/UINT channels -- what
Blender, Nuke, OpenCV and most depth tools write by default. Other
compressions (PIZ, PXR24, B44, DWA) are tried through OpenCV when its build
has OpenEXR, and otherwise refused with a message saying how to convert.

Written files have one FLOAT channel named ``Y`` (shown as grey by viewers)
with ZIP compression.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from easel.errors import InputError
from easel.io.guard import check_dimensions, check_input_file, quiet_opencv

_MAGIC = 20000630
_COMPRESSIONS = {
    0: "NONE",
    1: "RLE",
    2: "ZIPS",
    3: "ZIP",
    4: "PIZ",
    5: "PXR24",
    6: "B44",
    7: "B44A",
    8: "DWAA",
    9: "DWAB",
}
_LINES_PER_BLOCK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}
_PIXEL_DTYPES: dict[int, np.dtype[Any]] = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
_CHANNEL_PREFERENCE = ("Z", "Y", "R", "depth", "Depth", "D", "disparity")


class _Unsupported(Exception):
    """A valid EXR feature this reader does not implement."""


def _zip_pack(raw: bytes) -> bytes:
    data = np.frombuffer(raw, dtype=np.uint8)
    shuffled = np.concatenate([data[0::2], data[1::2]])
    pred = shuffled.astype(np.int16)
    pred[1:] = (shuffled[1:].astype(np.int16) - shuffled[:-1].astype(np.int16) + 128 + 256) & 0xFF
    return zlib.compress(pred.astype(np.uint8).tobytes(), 6)


def _zip_unpack(packed: bytes, expected: int) -> bytes:
    # never inflate more than the block can hold (a crafted block could expand to gigabytes)
    inflater = zlib.decompressobj()
    data = np.frombuffer(inflater.decompress(packed, expected + 1), dtype=np.uint8)
    if data.size != expected:
        raise ValueError(f"ZIP block holds {data.size} bytes, expected {expected}")
    # Undo the predictor: a running sum of (delta - 128) modulo 256.
    deltas = data.astype(np.int64)
    deltas[1:] -= 128
    restored = (np.cumsum(deltas) & 0xFF).astype(np.uint8)
    half = (expected + 1) // 2
    out = np.empty(expected, dtype=np.uint8)
    out[0::2] = restored[:half]
    out[1::2] = restored[half:]
    return out.tobytes()


def write_exr(path: str | os.PathLike[str], values: NDArray[np.float32], channel: str = "Y") -> None:
    """Write ``(H, W)`` float32 ``values`` as a single-channel ZIP-compressed EXR (not atomic).

    Example:
        >>> write_exr("depth.exr", np.full((48, 64), 2.0, np.float32), channel="Z")  # doctest: +SKIP
    """
    arr = np.ascontiguousarray(values, dtype="<f4")
    height, width = arr.shape
    header = bytearray()

    def attr(name: str, type_name: str, payload: bytes) -> None:
        header.extend(name.encode() + b"\0" + type_name.encode() + b"\0")
        header.extend(struct.pack("<i", len(payload)))
        header.extend(payload)

    chlist = channel.encode() + b"\0" + struct.pack("<iB3xii", 2, 0, 1, 1) + b"\0"
    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    attr("channels", "chlist", chlist)
    attr("compression", "compression", bytes([3]))
    attr("dataWindow", "box2i", window)
    attr("displayWindow", "box2i", window)
    attr("lineOrder", "lineOrder", bytes([0]))
    attr("pixelAspectRatio", "float", struct.pack("<f", 1.0))
    attr("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0))
    attr("screenWindowWidth", "float", struct.pack("<f", 1.0))
    header.extend(b"\0")

    lines = _LINES_PER_BLOCK[3]
    chunks = []
    for y in range(0, height, lines):
        raw = arr[y : y + lines].tobytes()
        packed = _zip_pack(raw)
        if len(packed) >= len(raw):
            packed = raw
        chunks.append(struct.pack("<ii", y, len(packed)) + packed)
    start = 8 + len(header) + 8 * len(chunks)
    offsets = []
    for chunk in chunks:
        offsets.append(start)
        start += len(chunk)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<ii", _MAGIC, 2))
        fh.write(bytes(header))
        fh.write(struct.pack(f"<{len(offsets)}Q", *offsets))
        for chunk in chunks:
            fh.write(chunk)


def _read_header(data: bytes) -> tuple[dict[str, tuple[str, bytes]], int]:
    magic, version = struct.unpack_from("<ii", data, 0)
    if magic != _MAGIC:
        raise InputError("not an OpenEXR file (bad magic number)")
    if version & 0x200:
        raise _Unsupported("tiled EXR")
    if version & 0x1000 or version & 0x800:
        raise _Unsupported("multi-part or deep EXR")
    pos = 8
    attrs: dict[str, tuple[str, bytes]] = {}
    while True:
        end = data.index(b"\0", pos)
        name = data[pos:end].decode("latin-1")
        pos = end + 1
        if not name:
            break
        end = data.index(b"\0", pos)
        type_name = data[pos:end].decode("latin-1")
        pos = end + 1
        (size,) = struct.unpack_from("<i", data, pos)
        pos += 4
        attrs[name] = (type_name, data[pos : pos + size])
        pos += size
    return attrs, pos


def _parse_channels(payload: bytes) -> list[tuple[str, int]]:
    channels = []
    pos = 0
    while pos < len(payload) and payload[pos] != 0:
        end = payload.index(b"\0", pos)
        name = payload[pos:end].decode("latin-1")
        pixel_type, _linear, xs, ys = struct.unpack_from("<iB3xii", payload, end + 1)
        if (xs, ys) != (1, 1):
            raise _Unsupported(f"sub-sampled channel {name!r}")
        if pixel_type not in _PIXEL_DTYPES:
            raise InputError(f"unknown EXR pixel type {pixel_type}")
        channels.append((name, pixel_type))
        pos = end + 1 + 16
    return channels


def _pick_channel(names: list[str]) -> str:
    for preferred in _CHANNEL_PREFERENCE:
        if preferred in names:
            return preferred
    for name in names:
        if name.lower().endswith((".z", ".v", ".y", ".depth")):
            return name
    if len(names) == 1:
        return names[0]
    raise InputError(f"EXR has channels {', '.join(names)}; none looks like depth (Z, Y, R or *.Z / *.V)")


def _decode(data: bytes, path: Path) -> NDArray[np.float32]:
    attrs, pos = _read_header(data)
    try:
        channels = _parse_channels(attrs["channels"][1])
        compression = attrs["compression"][1][0]
        xmin, ymin, xmax, ymax = struct.unpack("<iiii", attrs["dataWindow"][1])
    except KeyError as exc:
        raise InputError(f"EXR header lacks the required attribute {exc.args[0]!r}") from None
    width, height = xmax - xmin + 1, ymax - ymin + 1
    if width < 1 or height < 1:
        raise InputError("EXR data window is empty")
    check_dimensions(path, width, height, what="EXR depth map")
    if compression not in (0, 2, 3):
        raise _Unsupported(f"{_COMPRESSIONS.get(compression, compression)} compression")
    name = _pick_channel([c[0] for c in channels])
    sizes = [_PIXEL_DTYPES[t].itemsize * width for _, t in channels]
    line_bytes = sum(sizes)
    index = [c[0] for c in channels].index(name)
    offset = sum(sizes[:index])
    dtype = _PIXEL_DTYPES[channels[index][1]]
    lines = _LINES_PER_BLOCK[compression]
    n_chunks = (height + lines - 1) // lines
    table = struct.unpack_from(f"<{n_chunks}Q", data, pos)
    out = np.empty((height, width), dtype=np.float32)
    for chunk_offset in table:
        y, size = struct.unpack_from("<ii", data, chunk_offset)
        row = y - ymin
        n_lines = min(lines, height - row)
        if row < 0 or n_lines < 1:
            raise InputError("EXR chunk lies outside the data window")
        payload = data[chunk_offset + 8 : chunk_offset + 8 + size]
        expected = n_lines * line_bytes
        raw = payload if (compression == 0 or size == expected) else _zip_unpack(payload, expected)
        block = np.frombuffer(raw, dtype=np.uint8).reshape(n_lines, line_bytes)
        values = block[:, offset : offset + sizes[index]].copy().view(dtype).reshape(n_lines, width)
        out[row : row + n_lines] = values.astype(np.float32)
    return out


def read_exr(path: str | os.PathLike[str]) -> NDArray[np.float32]:
    """Read the depth channel of an EXR file as ``(H, W)`` float32.

    The channel is ``Z``, ``Y``, ``R``, ``depth`` (first present), a layer's
    ``*.Z``/``*.V``, or the only channel.

    Raises:
        InputError: not an EXR, a corrupt file, or a feature neither this
            reader nor the installed OpenCV supports.

    Example:
        >>> read_exr("depth.exr").shape  # doctest: +SKIP
        (48, 64)
    """
    p = check_input_file(path, "EXR file")
    data = p.read_bytes()
    try:
        return _decode(data, p)
    except _Unsupported as exc:
        fallback = _read_with_opencv(p)
        if fallback is not None:
            return fallback
        raise InputError(
            f"{p}: {exc} is not supported by easel's EXR reader and this OpenCV build lacks OpenEXR; "
            "re-save it with ZIP or no compression, or as .npy / float32 .tif"
        ) from None
    except InputError as exc:
        text = str(exc)
        raise InputError(text if text.startswith(f"{p}: ") else f"{p}: {text}") from None
    except (struct.error, ValueError, IndexError, zlib.error) as exc:
        raise InputError(f"{p}: cannot decode EXR ({exc}); the file may be truncated or corrupt") from None


def _read_with_opencv(path: Path) -> NDArray[np.float32] | None:
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    import cv2

    try:
        with quiet_opencv():
            arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if arr is None:
        return None
    check_dimensions(path, arr.shape[1], arr.shape[0], what="EXR depth map")
    if arr.ndim == 3:
        arr = arr[:, :, 2] if arr.shape[2] >= 3 else arr[:, :, 0]
    return np.asarray(arr, dtype=np.float32)
