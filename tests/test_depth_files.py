"""Reading and writing depth files: round trips, foreign files, bad files, the EXR codec."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easel.depth.exr import read_exr, write_exr
from easel.depth.files import DEPTH_SUFFIXES, load_depth_file, read_depth, write_depth
from easel.depth.preview import colorize_depth
from easel.errors import InputError


def scene_depth(height: int = 30, width: int = 40) -> np.ndarray:
    """A slanted floor with a near box: depth in [1.5, 12]."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = 12.0 - 8.0 * yy / (height - 1) + 0.5 * xx / (width - 1)
    depth[8:18, 10:22] = 1.5
    return depth.astype(np.float32)


@pytest.mark.parametrize("suffix", [".npy", ".exr", ".tif", ".tiff", ".pfm"])
def test_lossless_round_trips(tmp_path: Path, suffix: str):
    depth = scene_depth()
    path = write_depth(tmp_path / f"d{suffix}", depth)
    assert path == tmp_path / f"d{suffix}"
    back = read_depth(path)
    assert back.dtype == np.float32 and back.shape == depth.shape
    np.testing.assert_array_equal(back, depth)


def test_png_round_trip_is_16_bit_inverse_depth(tmp_path: Path):
    depth = scene_depth()
    path = write_depth(tmp_path / "d.png", depth)
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I")
        raw = np.asarray(img)
        assert "easel:depth" in img.text
    assert raw.max() == 65535 and raw.min() == 0  # nearest pixel brightest
    assert raw[10, 12] == 65535
    back = read_depth(path)
    np.testing.assert_allclose(back, depth, rtol=5e-4)
    # the file says it holds depth: kind is ignored for easel's own PNGs
    np.testing.assert_allclose(read_depth(path, kind="disparity"), back)


def test_all_suffixes_are_writable(tmp_path: Path):
    for suffix in DEPTH_SUFFIXES:
        write_depth(tmp_path / f"x{suffix}", scene_depth(8, 8))
    assert not list(tmp_path.glob(".*part*"))  # atomic: no temporary files left


def test_write_rejects_bad_input(tmp_path: Path):
    with pytest.raises(InputError, match="unsupported depth format"):
        write_depth(tmp_path / "d.jpg", scene_depth())
    with pytest.raises(InputError):
        write_depth(tmp_path / "d.npy", -scene_depth())
    assert not (tmp_path / "d.npy").exists()


def test_resize_on_read(tmp_path: Path):
    path = write_depth(tmp_path / "d.npy", scene_depth(30, 40))
    depth = read_depth(path, shape=(60, 80))
    assert depth.shape == (60, 80)
    assert depth.min() >= 1.5 - 1e-4 and depth.max() <= 12.5 + 1e-4
    with pytest.raises(InputError, match="aspect ratios differ"):
        read_depth(path, shape=(40, 40))


def test_depth_range_rescales_depth(tmp_path: Path):
    path = write_depth(tmp_path / "d.npy", scene_depth())
    depth = read_depth(path, depth_range=(2.0, 5.0))
    assert depth.min() == pytest.approx(2.0) and depth.max() == pytest.approx(5.0)


def test_foreign_16_bit_png_as_disparity(tmp_path: Path):
    disp = np.tile(np.linspace(0, 65535, 40).astype(np.uint16), (30, 1))
    Image.fromarray(disp).save(tmp_path / "phone.png")
    depth = read_depth(tmp_path / "phone.png", kind="disparity", depth_range=(1.0, 4.0))
    assert depth[:, 0] == pytest.approx(4.0)  # disparity 0: far
    assert depth[:, -1] == pytest.approx(1.0)  # largest disparity: near
    default = read_depth(tmp_path / "phone.png", kind="disparity")
    assert (default.min(), default.max()) == pytest.approx((1.0, 10.0))


def test_foreign_8_bit_png_as_depth_with_holes(tmp_path: Path):
    raw = np.tile(np.arange(1, 41, dtype=np.uint8) * 5, (30, 1))
    raw[3, 4] = 0  # no data
    Image.fromarray(raw).save(tmp_path / "d8.png")
    depth = read_depth(tmp_path / "d8.png")
    assert depth.min() == 5.0 and depth.max() == 200.0 and depth[3, 4] > 0


def test_grey_rgb_png_is_accepted_but_colour_is_not(tmp_path: Path):
    grey = np.tile(np.arange(1, 41, dtype=np.uint8)[None, :, None], (30, 1, 3))
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert read_depth(tmp_path / "grey.png").shape == (30, 40)
    preview = (colorize_depth(scene_depth()) * 255).astype(np.uint8)
    Image.fromarray(preview).save(tmp_path / "preview.png")
    with pytest.raises(InputError, match="colour"):
        read_depth(tmp_path / "preview.png")


def test_npy_disparity_with_negative_values(tmp_path: Path):
    disp = np.tile(np.linspace(-1.0, 0.5, 40, dtype=np.float32), (30, 1))
    np.save(tmp_path / "disp.npy", disp)
    depth = read_depth(tmp_path / "disp.npy", kind="disparity")
    assert depth.min() == pytest.approx(1.0) and depth.max() == pytest.approx(10.0)
    with pytest.raises(InputError, match="negative"):
        read_depth(tmp_path / "disp.npy", kind="depth")


@pytest.mark.parametrize(
    ("name", "make", "match"),
    [
        ("nan.npy", lambda p: np.save(p, np.full((8, 8), np.nan, np.float32)), "invalid"),
        ("neg.npy", lambda p: np.save(p, -np.ones((8, 8), np.float32) - np.eye(8)), "negative"),
        ("flat.npy", lambda p: np.save(p, np.full((8, 8), 3.0, np.float32)), "constant"),
        ("flat.png", lambda p: Image.fromarray(np.full((8, 8), 7, np.uint8)).save(p), "constant"),
        ("text.npy", lambda p: p.write_text("this is not an array\n"), "not a NumPy"),
        ("pickle.npy", lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "NumPy"),
        ("bool.npy", lambda p: np.save(p, np.ones((4, 4), bool)), "numbers"),
        ("cube.npy", lambda p: np.save(p, np.random.default_rng(0).random((4, 4, 2))), "colour"),
        ("empty.npy", lambda p: p.write_bytes(b""), "empty"),
        ("junk.png", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n garbage"), "PNG"),
        ("junk.exr", lambda p: p.write_bytes(b"not an exr file at all"), "EXR"),
        ("junk.tif", lambda p: p.write_bytes(b"II*\x00garbage"), "cannot decode"),
        ("depth.txt", lambda p: p.write_text("1 2 3"), "unsupported depth format"),
    ],
)
def test_bad_depth_files(tmp_path: Path, name, make, match):
    path = tmp_path / name
    make(path)
    with pytest.raises(InputError, match=match):
        read_depth(path)


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(InputError, match="no such file"):
        read_depth(tmp_path / "missing.npy")
    (tmp_path / "dir.npy").mkdir()
    with pytest.raises(InputError, match="directory"):
        read_depth(tmp_path / "dir.npy")


def test_bad_kind():
    with pytest.raises(InputError, match="kind"):
        read_depth("x.npy", kind="height")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- EXR codec


def _exr_uncompressed(channels: dict[str, np.ndarray]) -> bytes:
    """An independent, minimal writer: uncompressed scanline EXR with HALF/FLOAT channels."""
    names = sorted(channels)
    height, width = next(iter(channels.values())).shape
    types = {np.dtype(np.float16): 1, np.dtype(np.float32): 2}

    def attr(name: str, type_name: str, payload: bytes) -> bytes:
        return name.encode() + b"\0" + type_name.encode() + b"\0" + struct.pack("<i", len(payload)) + payload

    chlist = (
        b"".join(
            n.encode() + b"\0" + struct.pack("<iB3xii", types[channels[n].dtype], 0, 1, 1) for n in names
        )
        + b"\0"
    )
    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    header = (
        b"".join(
            [
                attr("channels", "chlist", chlist),
                attr("compression", "compression", b"\0"),
                attr("dataWindow", "box2i", window),
                attr("displayWindow", "box2i", window),
                attr("lineOrder", "lineOrder", b"\0"),
                attr("pixelAspectRatio", "float", struct.pack("<f", 1)),
                attr("screenWindowCenter", "v2f", struct.pack("<ff", 0, 0)),
                attr("screenWindowWidth", "float", struct.pack("<f", 1)),
            ]
        )
        + b"\0"
    )
    lines = [
        b"".join(channels[n][y].astype(channels[n].dtype.newbyteorder("<")).tobytes() for n in names)
        for y in range(height)
    ]
    start = 8 + len(header) + 8 * height
    offsets, pos = [], start
    for line in lines:
        offsets.append(pos)
        pos += 8 + len(line)
    body = b"".join(struct.pack("<ii", y, len(line)) + line for y, line in enumerate(lines))
    return struct.pack("<ii", 20000630, 2) + header + struct.pack(f"<{height}Q", *offsets) + body


def test_exr_reader_picks_depth_channel_from_uncompressed_half(tmp_path: Path):
    z = scene_depth(5, 7).astype(np.float16)
    rgb = np.zeros((5, 7), np.float16)
    path = tmp_path / "multi.exr"
    path.write_bytes(_exr_uncompressed({"R": rgb, "G": rgb, "B": rgb, "Z": z}))
    np.testing.assert_array_equal(read_exr(path), z.astype(np.float32))
    np.testing.assert_array_equal(read_depth(path), z.astype(np.float32))


def test_exr_reader_float_single_channel(tmp_path: Path):
    depth = scene_depth(4, 6)
    path = tmp_path / "y.exr"
    path.write_bytes(_exr_uncompressed({"Y": depth}))
    np.testing.assert_array_equal(read_exr(path), depth)


def test_exr_zip_round_trip_many_blocks(tmp_path: Path):
    rng = np.random.default_rng(1)
    depth = (1.0 + rng.random((37, 23))).astype(np.float32)  # 3 ZIP blocks, the last partial
    depth[:20] = 2.0  # compressible rows, stored ZIP-compressed
    write_exr(tmp_path / "z.exr", depth)
    np.testing.assert_array_equal(read_exr(tmp_path / "z.exr"), depth)


def test_exr_unknown_channels_and_truncation(tmp_path: Path):
    path = tmp_path / "uv.exr"
    path.write_bytes(_exr_uncompressed({"U": np.ones((2, 2), np.float32), "W": np.ones((2, 2), np.float32)}))
    with pytest.raises(InputError, match="none looks like depth"):
        read_exr(path)
    good = tmp_path / "good.exr"
    write_exr(good, scene_depth(20, 20))
    (tmp_path / "cut.exr").write_bytes(good.read_bytes()[:-40])
    with pytest.raises(InputError, match="EXR"):
        read_exr(tmp_path / "cut.exr")


def test_exr_reader_on_a_real_file():
    """Python's own test data ships a real OpenEXR file (HALF RGBA, 16x16); compare with its PNG."""
    folder = (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "test"
    )
    exr = folder / "imghdrdata" / "python.exr"
    png = folder / "imghdrdata" / "python.png"
    if not (exr.is_file() and png.is_file()):
        pytest.skip("CPython test data not installed")
    red = np.asarray(Image.open(png).convert("RGBA"), np.float32)[:, :, 0] / 255.0
    np.testing.assert_allclose(read_exr(exr), red, atol=1e-3)


def test_load_depth_file_reports_kind(tmp_path: Path):
    write_depth(tmp_path / "d.png", scene_depth())
    np.save(tmp_path / "d.npy", scene_depth())
    assert load_depth_file(tmp_path / "d.png").kind == "depth"
    assert load_depth_file(tmp_path / "d.npy").kind is None


# ----------------------------------------------------------------------------- the input guard (issue #8)


def _png16_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 65))
        + chunk(b"IEND", b"")
    )


def _npy_claiming(shape: tuple[int, ...], data: bytes = b"") -> bytes:
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode("latin-1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bomb.npy", _npy_claiming((50_000, 50_000))),
        ("bomb.png", _png16_claiming(50_000, 50_000)),
        ("big.png", _png16_claiming(10_000, 10_000)),  # 100 MP: over the limit, under Pillow's hard stop
        ("bomb.pfm", b"Pf\n50000 50000\n-1.0\n" + b"\0" * 16),
        ("wide.npy", _npy_claiming((8, 40_000))),
    ],
)
def test_oversized_depth_headers_are_refused_before_decoding(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_depth(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "larger than easel accepts" in message and "DecompressionBomb" not in message


def test_oversized_exr_header_is_refused_before_decoding(tmp_path: Path):
    data = _exr_uncompressed({"Z": scene_depth(2, 2)})
    window = struct.pack("<iiii", 0, 0, 1, 1)
    assert data.count(window) == 2  # dataWindow and displayWindow
    path = tmp_path / "bomb.exr"
    path.write_bytes(data.replace(window, struct.pack("<iiii", 0, 0, 49_999, 49_999)))
    with pytest.raises(
        InputError, match=r"bomb.exr: EXR depth map is 50000x50000 pixels, larger than easel accepts"
    ):
        read_depth(path)


def test_exr_zip_block_cannot_inflate_past_its_size(tmp_path: Path):
    """A crafted ZIP block that would inflate to 64 MB is a corrupt-file error, not 64 MB of memory."""
    from easel.depth import exr

    with pytest.raises(ValueError, match="expected 64"):
        exr._zip_unpack(zlib.compress(b"\0" * (64 << 20)), 64)


def test_colour_array_is_not_depth(tmp_path: Path):
    """A (H, W, 3) array is refused with what was expected, even when its channels are equal."""
    np.save(tmp_path / "rgb.npy", np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8))
    grey = np.repeat(scene_depth()[:, :, None], 3, axis=2)
    np.save(tmp_path / "grey3.npy", grey)
    for name, dtype in (("rgb.npy", "uint8"), ("grey3.npy", "float32")):
        with pytest.raises(InputError) as info:
            read_depth(tmp_path / name)
        assert f"{name}: expected a (H, W) float depth map, got shape (30, 40, 3) {dtype}" in str(info.value)
    np.save(tmp_path / "one.npy", scene_depth()[:, :, None])  # (H, W, 1) is fine
    assert read_depth(tmp_path / "one.npy").shape == (30, 40)


def test_npy_messages_do_not_leak_numpy_advice(tmp_path: Path):
    np.save(tmp_path / "obj.npy", np.array([{"depth": 1.0}], dtype=object), allow_pickle=True)
    (tmp_path / "cut.npy").write_bytes(_npy_claiming((30, 40), b"\0" * 100))
    for name, expected in (("obj.npy", "not a plain numeric NumPy array"), ("cut.npy", "truncated")):
        with pytest.raises(InputError) as info:
            read_depth(tmp_path / name)
        message = str(info.value)
        assert expected in message and "allow_pickle" not in message and "Failed to read" not in message


def test_corrupt_tiff_is_one_error_and_no_opencv_noise(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    path = tmp_path / "junk.tif"
    path.write_bytes(b"II*\x00garbage")
    capfd.readouterr()
    with pytest.raises(InputError, match="junk.tif: cannot decode .tif file"):
        read_depth(path)
    assert capfd.readouterr().err == ""


def test_a_jpeg_named_png_is_not_a_depth_png(tmp_path: Path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photo.png", format="JPEG")
    with pytest.raises(InputError, match=r"photo.png: not a PNG image \(the file holds JPEG\)"):
        read_depth(tmp_path / "photo.png")
