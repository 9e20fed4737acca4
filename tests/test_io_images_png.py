"""The fast PNG reader (OpenCV, for 8-bit RGB and RGBA) gives exactly what Pillow's path gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easel.io import images
from easel.io.images import read_image


def _pillow_read(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with Image.open(path) as img:
        img.load()
        return images._pixels_of(img, path)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_opencv_png_equals_pillow(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (37, 53, len(mode)), dtype=np.uint8)
    if mode == "RGBA":
        pixels[..., 3] = np.where(pixels[..., 3] > 128, 255, pixels[..., 3])
    path = tmp_path / "picture.png"
    Image.fromarray(pixels, mode).save(path)
    with Image.open(path) as img:
        fast = images._read_png_opencv(path, img)
    assert fast is not None  # the OpenCV path was taken
    loaded = read_image(path, max_size=None)
    rgb, alpha = loaded.rgb, loaded.alpha
    want_rgb, want_alpha = _pillow_read(path)
    assert rgb.dtype == np.float32 and rgb.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(rgb, want_rgb)
    np.testing.assert_array_equal(rgb, pixels[..., :3] / np.float32(255.0))
    if mode == "RGB":
        assert alpha is None and want_alpha is None
    else:
        assert alpha is not None and want_alpha is not None
        np.testing.assert_array_equal(alpha, want_alpha)


def test_opaque_rgba_png_has_no_alpha(tmp_path: Path) -> None:
    pixels = np.full((8, 9, 4), 255, np.uint8)
    path = tmp_path / "opaque.png"
    Image.fromarray(pixels, "RGBA").save(path)
    assert read_image(path).alpha is None


def test_png_with_exif_orientation_is_left_to_pillow(tmp_path: Path) -> None:
    """An eXIf chunk may rotate the picture: Pillow's path applies it, as before."""
    pixels = np.zeros((10, 16, 3), np.uint8)
    pixels[0, 0] = 255  # a marker in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.png"
    Image.fromarray(pixels).save(path, exif=exif.tobytes())
    with Image.open(path) as img:
        assert images._read_png_opencv(path, img) is None
    loaded = read_image(path)
    assert loaded.rgb.shape == (16, 10, 3)
    assert loaded.rgb[0, -1].tolist() == [1.0, 1.0, 1.0]


def test_a_colour_key_png_goes_through_pillow(tmp_path: Path) -> None:
    """An RGB PNG with a transparent colour (tRNS) decodes as before, whatever OpenCV makes of it."""
    pixels = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    path = tmp_path / "keyed.png"
    Image.fromarray(pixels).save(path, transparency=(0, 0, 0))
    rgb = read_image(path).rgb
    want_rgb, _ = _pillow_read(path)
    np.testing.assert_array_equal(rgb, want_rgb)
