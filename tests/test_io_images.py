"""read_image / write_image and atomic output: modes, EXIF, size guards, bad files, round trips."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import BAD_INPUT_KINDS, photo, png_bytes_claiming, write_bad_input
from easel.errors import InputError, OutputExistsError
from easel.image import to_uint8, to_uint16
from easel.io.atomic import atomic_dir, atomic_path, write_text_atomic
from easel.io.images import MAX_SIDE, read_image, write_image
from easel.io.outputs import check_output_path

# ---------------------------------------------------------------- crafted bad files

EXPECTED_MESSAGE = {
    "missing": "no such file",
    "directory": "is a directory",
    "empty": "empty",
    "upload-0-bytes": "empty",
    "truncated-jpeg": "truncated",
    "truncated-png": "truncated",
    "text-as-jpg": "not an image",
    "1x1": "only 1x1 pixels",
    "bomb": "large",
}


@pytest.mark.parametrize("kind", BAD_INPUT_KINDS)
def test_bad_inputs_raise_one_line_input_error(tmp_path: Path, kind: str) -> None:
    path = write_bad_input(kind, tmp_path)
    with pytest.raises(InputError) as info:
        read_image(path)
    message = str(info.value)
    assert "\n" not in message
    assert path.name in message
    assert EXPECTED_MESSAGE[kind] in message


def test_crafted_bomb_is_tiny_but_claims_50000_px() -> None:
    data = png_bytes_claiming(50_000, 50_000)
    assert len(data) < 200
    assert struct.unpack(">II", data[16:24]) == (50_000, 50_000)


def test_side_just_over_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(png_bytes_claiming(MAX_SIDE + 1, 8))
    with pytest.raises(InputError, match=rf"{MAX_SIDE + 1}x8 pixels, larger than easel accepts"):
        read_image(path)


def test_about_90_megapixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(png_bytes_claiming(10_000, 10_000))  # 100 MP: over Pillow's bomb threshold
    with pytest.raises(InputError, match="too large to decode safely"):
        read_image(path)


def test_min_size_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "tiny.png"
    Image.new("RGB", (4, 3), (0, 0, 255)).save(path)
    with pytest.raises(InputError, match="at least 8 px"):
        read_image(path)
    loaded = read_image(path, min_side=1)
    assert loaded.rgb.shape == (3, 4, 3)
    np.testing.assert_array_equal(loaded.rgb[1, 1], [0, 0, 1])


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import easel.io.images as images_module

    path = tmp_path / "locked.png"
    photo().save(path)
    monkeypatch.setattr(images_module.os, "access", lambda p, mode: False)  # root reads everything
    with pytest.raises(InputError, match="permission denied"):
        read_image(path)


# ---------------------------------------------------------------- modes


def test_rgb_png_is_exact(tmp_path: Path, rgb_image: np.ndarray) -> None:
    path = tmp_path / "rgb.png"
    Image.fromarray(to_uint8(rgb_image), mode="RGB").save(path)
    loaded = read_image(path)
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.flags.c_contiguous
    np.testing.assert_allclose(loaded.rgb, rgb_image, atol=1e-6)
    assert loaded.alpha is None and loaded.mode == "RGB" and not loaded.downscaled
    assert loaded.shape == rgb_image.shape[:2] and loaded.path == path


def test_gray_l(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    arr = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(arr, mode="L").save(path)
    loaded = read_image(path)
    assert loaded.mode == "L" and loaded.rgb.shape == (16, 16, 3)
    np.testing.assert_allclose(loaded.rgb[..., 1], arr / 255, atol=1e-6)
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


def test_gray_with_alpha_la(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    gray = np.full((10, 12), 100, np.uint8)
    alpha = np.tile(np.linspace(0, 255, 12).astype(np.uint8), (10, 1))
    Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(path)
    loaded = read_image(path)
    assert loaded.mode == "LA"
    np.testing.assert_allclose(loaded.rgb, 100 / 255, atol=1e-6)
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha, alpha / 255, atol=1e-6)


def test_palette_without_transparency(tmp_path: Path, quadrants: np.ndarray) -> None:
    path = tmp_path / "p.png"
    Image.fromarray(to_uint8(quadrants), mode="RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(path)
    loaded = read_image(path)
    assert loaded.mode == "P" and loaded.alpha is None
    np.testing.assert_allclose(loaded.rgb, quadrants, atol=1e-6)


def test_palette_with_transparency(tmp_path: Path, quadrants: np.ndarray) -> None:
    path = tmp_path / "pt.png"
    img = Image.fromarray(to_uint8(quadrants), mode="RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    red_index = img.getpixel((0, 0))
    img.save(path, transparency=red_index)
    loaded = read_image(path)
    assert loaded.mode == "P" and loaded.alpha is not None
    assert loaded.alpha[0, 0] == 0.0 and loaded.alpha[-1, -1] == 1.0
    np.testing.assert_allclose(loaded.rgb[-1, -1], [1, 1, 1])


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)
    loaded = read_image(path)
    assert loaded.mode == "CMYK"
    np.testing.assert_allclose(loaded.rgb.mean(axis=(0, 1)), [1, 0, 0], atol=0.02)


def test_16_bit_gray_png(tmp_path: Path) -> None:
    path = tmp_path / "gray16.png"
    arr = (np.arange(16 * 16, dtype=np.uint32) * 257).astype(np.uint16).reshape(16, 16)
    Image.fromarray(arr).save(path)
    loaded = read_image(path)
    assert loaded.mode.startswith("I")
    np.testing.assert_allclose(loaded.rgb[..., 0], arr / 65535, atol=1e-6)


def test_16_bit_rgb_png_keeps_precision(tmp_path: Path) -> None:
    path = tmp_path / "rgb16.png"
    arr = (np.random.default_rng(0).random((12, 10, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(path), arr[:, :, ::-1])
    loaded = read_image(path)
    np.testing.assert_allclose(loaded.rgb, arr / 65535, atol=1e-6)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16_bit_orientation_matches_pillow(orientation: int) -> None:
    from PIL import ImageOps

    from easel.io.images import _orient

    arr = np.arange(4 * 6 * 3, dtype=np.uint16).reshape(4, 6, 3)
    img = Image.fromarray(arr.astype(np.uint8), mode="RGB")
    exif = img.getexif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(img))
    np.testing.assert_array_equal(_orient(arr, orientation), expected)


def test_rgba_keeps_alpha(tmp_path: Path, rgb_image: np.ndarray) -> None:
    path = tmp_path / "rgba.png"
    alpha = np.zeros(rgb_image.shape[:2], np.float32)
    alpha[:, ::2] = 1.0
    alpha[0, 1] = 128 / 255
    Image.fromarray(to_uint8(np.dstack([rgb_image, alpha])), mode="RGBA").save(path)
    loaded = read_image(path)
    assert loaded.alpha is not None and loaded.alpha.shape == rgb_image.shape[:2]
    np.testing.assert_allclose(loaded.alpha, alpha, atol=1e-6)
    np.testing.assert_allclose(loaded.rgb, rgb_image, atol=1e-6)


def test_opaque_rgba_has_no_alpha(tmp_path: Path, rgb_image: np.ndarray) -> None:
    path = tmp_path / "opaque.png"
    Image.fromarray(to_uint8(rgb_image), mode="RGB").convert("RGBA").save(path)
    assert read_image(path).alpha is None


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    arr = np.zeros((20, 40, 3), np.uint8)  # stored landscape, left half red
    arr[:, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    Image.fromarray(arr, mode="RGB").save(path, quality=95, exif=exif.tobytes())
    loaded = read_image(path)
    assert loaded.rgb.shape == (40, 20, 3)  # shape swaps
    assert loaded.original_shape == (40, 20)
    assert loaded.rgb[5, 10, 0] > 0.9 and loaded.rgb[35, 10, 0] < 0.1  # left went to the top


def test_max_size_downscales_long_side(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    photo(200, 100).save(path)
    loaded = read_image(path, max_size=50)
    assert loaded.rgb.shape == (25, 50, 3) and loaded.downscaled
    assert loaded.original_shape == (100, 200)
    assert 0.0 <= loaded.rgb.min() and loaded.rgb.max() <= 1.0
    assert read_image(path, max_size=None).rgb.shape == (100, 200, 3)
    assert not read_image(path, max_size=500).downscaled


def test_max_size_on_large_jpeg_uses_draft_but_reports_true_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    photo(640, 480).save(path, quality=90)
    loaded = read_image(path, max_size=100)
    assert loaded.rgb.shape == (75, 100, 3)
    assert loaded.original_shape == (480, 640)


def test_max_size_with_alpha(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    rgba = np.zeros((40, 80, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:, :40, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(path)
    loaded = read_image(path, max_size=20)
    assert loaded.rgb.shape == (10, 20, 3)
    assert loaded.alpha is not None and loaded.alpha.shape == (10, 20)
    assert loaded.alpha[:, :9].max() == 0 and loaded.alpha[:, 11:].min() == 1


def test_bad_max_size(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    photo().save(path)
    with pytest.raises(InputError, match="max-size"):
        read_image(path, max_size=0)


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize(("suffix", "tol"), [(".png", 1e-6), (".tif", 1e-6), (".jpg", 0.03), (".webp", 0.03)])
def test_write_read_round_trip(tmp_path: Path, rgb_image: np.ndarray, suffix: str, tol: float) -> None:
    path = write_image(tmp_path / f"out{suffix}", rgb_image)
    assert path == tmp_path / f"out{suffix}"
    back = read_image(path).rgb
    assert back.shape == rgb_image.shape
    if tol < 1e-3:
        np.testing.assert_allclose(back, rgb_image, atol=tol)
    else:  # lossy: compare the smooth red/green gradients, not the blue noise
        assert np.abs(back[..., :2] - rgb_image[..., :2]).mean() < tol
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out{suffix}"]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_round_trip(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(3)
    image = rng.random((9, 11, 3), dtype=np.float32)
    path = write_image(tmp_path / f"deep{suffix}", image, bit_depth=16)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw is not None and raw.dtype == np.uint16
    np.testing.assert_array_equal(raw[:, :, ::-1], to_uint16(image))
    back = read_image(path).rgb
    np.testing.assert_allclose(back, image, atol=1 / 65535 + 1e-6)


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif"])
def test_alpha_is_kept(tmp_path: Path, rgb_image: np.ndarray, suffix: str) -> None:
    alpha = np.ones(rgb_image.shape[:2], np.float32)
    alpha[:8] = 0.0
    path = write_image(tmp_path / f"a{suffix}", rgb_image, alpha=alpha)
    loaded = read_image(path)
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha, alpha, atol=1e-6)


def test_16_bit_png_keeps_alpha(tmp_path: Path, rgb_image: np.ndarray) -> None:
    alpha = np.linspace(0, 1, rgb_image.shape[1], dtype=np.float32)[None].repeat(rgb_image.shape[0], 0)
    path = write_image(tmp_path / "a16.png", rgb_image, alpha=alpha, bit_depth=16)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw is not None and raw.shape[2] == 4 and raw.dtype == np.uint16
    loaded = read_image(path)
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha, alpha, atol=1e-5)
    np.testing.assert_allclose(loaded.rgb, rgb_image, atol=1e-5)


def test_jpeg_drops_alpha(tmp_path: Path, rgb_image: np.ndarray) -> None:
    path = write_image(tmp_path / "a.jpg", rgb_image, alpha=np.zeros(rgb_image.shape[:2], np.float32))
    assert read_image(path).alpha is None


def test_write_image_refuses_bad_requests(tmp_path: Path, rgb_image: np.ndarray) -> None:
    with pytest.raises(InputError, match="unsupported image format '.gif'"):
        write_image(tmp_path / "a.gif", rgb_image)
    with pytest.raises(InputError, match="unsupported image format"):
        write_image(tmp_path / "noext", rgb_image)
    with pytest.raises(InputError, match="16-bit output needs"):
        write_image(tmp_path / "a.jpg", rgb_image, bit_depth=16)
    with pytest.raises(InputError, match="bit depth"):
        write_image(tmp_path / "a.png", rgb_image, bit_depth=12)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        write_image(tmp_path / "a.png", rgb_image * 255)
    assert list(tmp_path.iterdir()) == []


def test_write_image_accepts_uint8_and_gray(tmp_path: Path) -> None:
    path = write_image(tmp_path / "g.png", np.full((9, 9), 0.5, np.float32))
    np.testing.assert_allclose(read_image(path).rgb, 128 / 255, atol=1e-6)
    path = write_image(tmp_path / "u.png", np.full((9, 9, 3), 7, np.uint8))
    np.testing.assert_allclose(read_image(path).rgb, 7 / 255, atol=1e-6)


# ---------------------------------------------------------------- atomic output


def test_atomic_path_error_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp != target
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_error_keeps_existing_output(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("new, half written")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_image_error_midway_leaves_nothing(
    tmp_path: Path, rgb_image: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        Path(str(fp)).write_bytes(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_image(tmp_path / "out.png", rgb_image)
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
        raise RuntimeError
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "c.txt").write_text("3")
    assert [p.name for p in target.iterdir()] == ["c.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_check_output_path(tmp_path: Path) -> None:
    inp = tmp_path / "in.png"
    inp.write_bytes(b"x")
    out = tmp_path / "out.png"
    assert check_output_path(out, inputs=[inp]) == out
    with pytest.raises(InputError, match="overwrite an input"):
        check_output_path(inp, inputs=[inp], overwrite=True)
    with pytest.raises(InputError, match="overwrite an input"):
        check_output_path(tmp_path / "sub" / ".." / "in.png", inputs=[inp], overwrite=True)
    link = tmp_path / "link.png"
    link.symlink_to(inp)
    with pytest.raises(InputError, match="overwrite an input"):
        check_output_path(link, inputs=[inp], overwrite=True)
    out.write_bytes(b"y")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output_path(out, inputs=[inp])
    assert check_output_path(out, inputs=[inp], overwrite=True) == out
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "out.png")
