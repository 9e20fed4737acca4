"""The input guard (easel.io.guard): one set of file checks, size limits and messages for every reader."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easel.errors import InputError
from easel.io.guard import (
    MAX_PIXELS,
    MAX_SIDE,
    check_dimensions,
    check_input_file,
    describe_array,
    is_plain_numeric,
    open_image,
    probe_image_shape,
    quiet_opencv,
    read_image_shape,
    read_npy,
    read_npy_header,
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 65))
        + _chunk(b"IEND", b"")
    )


def npy_claiming(shape: tuple[int, ...], descr: str = "<f4", data: bytes = b"") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin-1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


# ---------------------------------------------------------------- files


def test_check_input_file_messages(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing.png: no such file$"):
        check_input_file(tmp_path / "missing.png")
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(InputError, match=r"d.npy: is a directory, not a depth file$"):
        check_input_file(tmp_path / "d.npy", "depth file")
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"e.png: file is empty \(0 bytes\)$"):
        check_input_file(tmp_path / "e.png")
    (tmp_path / "ok.png").write_bytes(b"x")
    assert check_input_file(tmp_path / "ok.png") == tmp_path / "ok.png"


def test_check_input_file_name_too_long(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file|cannot read the file"):
        check_input_file(tmp_path / ("x" * 5000))


def test_check_dimensions_limits() -> None:
    check_dimensions("a.png", MAX_SIDE, 8)
    check_dimensions("a.png", 1, 1)
    with pytest.raises(
        InputError, match=rf"a.png: image is {MAX_SIDE + 1}x8 pixels, larger than easel accepts"
    ):
        check_dimensions("a.png", MAX_SIDE + 1, 8)
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.raises(InputError, match="too large to decode safely"):
        check_dimensions("d.npy", side, side, what="depth map")
    with pytest.raises(InputError, match=r"a.png: image is only 3x3 pixels; at least 8 px"):
        check_dimensions("a.png", 3, 3, min_side=8)
    with pytest.raises(InputError, match=r"d.npy: depth map is empty \(0x5 pixels\)"):
        check_dimensions("d.npy", 0, 5, what="depth map")


# ---------------------------------------------------------------- images


def test_open_image_refuses_a_bomb_header_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(50_000, 50_000))
    with pytest.raises(InputError) as info:
        with open_image(path) as img:
            img.load()  # pragma: no cover (never reached)
    message = str(info.value)
    assert "\n" not in message and "bomb.png" in message and "larger than easel accepts" in message
    assert "DecompressionBomb" not in message and "could be decompression bomb DOS attack" not in message


def test_open_image_hides_pillows_bomb_warning(tmp_path: Path) -> None:
    """A 100 MP header (over Pillow's warning threshold): our message, and no warning reaches the user."""
    path = tmp_path / "big.png"
    path.write_bytes(png_claiming(10_000, 10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            InputError, match=r"big.png: image is 10000x10000 pixels, larger than easel accepts"
        ):
            with open_image(path):
                pass  # pragma: no cover


def test_open_image_maps_decoding_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError, match=r"cut.png: cannot decode depth map .*truncated or corrupt"):
        with open_image(cut, what="depth map") as img:
            img.load()
    text = tmp_path / "t.png"
    text.write_text("hello\n")
    with pytest.raises(InputError, match=r"t.png: not an image file"):
        with open_image(text):
            pass  # pragma: no cover
    with pytest.raises(InputError, match=r"t.png: not a PNG image$"):
        with open_image(text, format_name="PNG image"):
            pass  # pragma: no cover
    with open_image(good) as img:
        img.load()
        assert img.size == (32, 32)


def test_open_image_lets_the_blocks_input_errors_through(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (16, 16)).save(path)
    with pytest.raises(InputError, match="^mine$"):
        with open_image(path):
            raise InputError("mine")


def test_read_image_shape_applies_exif_rotation(tmp_path: Path) -> None:
    path = tmp_path / "r.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: displayed portrait
    Image.new("RGB", (40, 20)).save(path, exif=exif.tobytes())
    assert read_image_shape(path) == (40, 20)
    bomb = tmp_path / "frame.png"
    bomb.write_bytes(png_claiming(50_000, 50_000))
    with pytest.raises(InputError, match="frame.png: frame .*larger than easel accepts"):
        read_image_shape(bomb, what="frame")


def test_probe_image_shape(tmp_path: Path) -> None:
    tif = tmp_path / "d.tif"
    Image.fromarray(np.ones((6, 9), np.float32)).save(tif)
    assert probe_image_shape(tif) == (6, 9)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage")
    assert probe_image_shape(junk) is None  # another decoder may still read it
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(40_000, 10))
    with pytest.raises(InputError, match="40000x10 pixels"):
        probe_image_shape(bomb)


def test_quiet_opencv_silences_its_log_and_restores_the_level(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import cv2

    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage")
    level = cv2.utils.logging.getLogLevel()
    capfd.readouterr()
    with quiet_opencv():
        assert cv2.imread(str(junk), cv2.IMREAD_UNCHANGED) is None
    assert capfd.readouterr().err == ""
    assert cv2.utils.logging.getLogLevel() == level


# ---------------------------------------------------------------- .npy


def test_npy_header_is_read_without_loading(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    path.write_bytes(npy_claiming((50_000, 50_000)))
    header = read_npy_header(path)
    assert header.shape == (50_000, 50_000) and header.dtype == np.float32
    assert header.nbytes == 50_000 * 50_000 * 4
    with pytest.raises(
        InputError, match=r"big.npy: the file is truncated: its header declares shape \(50000, 50000\)"
    ):
        read_npy(path, header)


def test_npy_round_trip_and_fortran_order(tmp_path: Path) -> None:
    arr = np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4))
    np.save(tmp_path / "a.npy", arr)
    header = read_npy_header(tmp_path / "a.npy")
    assert header.fortran_order and header.shape == (3, 4)
    np.testing.assert_array_equal(read_npy(tmp_path / "a.npy", header), arr)
    big_endian = np.arange(6, dtype=">f8").reshape(2, 3)
    np.save(tmp_path / "b.npy", big_endian)
    np.testing.assert_array_equal(read_npy(tmp_path / "b.npy"), big_endian)


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("text.npy", b"just some text\n", r"text.npy: not a NumPy .npy file$"),
        (
            "cut.npy",
            b"\x93NUMPY\x01\x00\x40\x00{'descr'",
            r"cut.npy: not a NumPy .npy file, or its header is damaged",
        ),
        (
            "obj.npy",
            npy_claiming((2,), "|O", b"\x80\x04N."),
            r"obj.npy: not a plain numeric NumPy array \(dtype object\)",
        ),
        (
            "c.npy",
            npy_claiming((2,), "<c8", b"\0" * 16),
            r"not a plain numeric NumPy array \(dtype complex64\)",
        ),
        ("u.npy", npy_claiming((2,), "<U3", b"\0" * 24), r"not a plain numeric NumPy array"),
        ("zip.npy", b"PK\x03\x04rest", r"zip.npy: a NumPy .npz archive, not a single .npy array"),
    ],
)
def test_npy_bad_headers(tmp_path: Path, name: str, data: bytes, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError, match=match) as info:
        read_npy_header(path)
    assert "allow_pickle" not in str(info.value)


def test_describe_array_and_numeric_dtypes() -> None:
    assert describe_array((480, 640, 3), np.uint8) == "shape (480, 640, 3) uint8"
    assert [is_plain_numeric(np.dtype(t)) for t in ("f4", "u2", "i8", "?", "c8", "O", "U3")] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
