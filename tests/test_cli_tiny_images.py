"""`easel quantize` and `easel superpixels` on 1x1, 1xN and 3x3 images (issue #18, tiny images)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TINY_SHAPES = [(1, 1), (1, 5), (5, 1), (3, 3)]


def tiny_png(folder: Path, shape: tuple[int, int]) -> tuple[Path, np.ndarray]:
    """A PNG of ``shape`` whose pixels all differ."""
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    path = folder / f"tiny_{shape[0]}x{shape[1]}.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("shape", TINY_SHAPES)
def test_quantize_tiny_image_with_more_colours_than_pixels(
    tmp_path: Path, run_cli: Callable[..., object], shape: tuple[int, int]
) -> None:
    image, pixels = tiny_png(tmp_path, shape)
    out = tmp_path / "out.png"
    result = run_cli("quantize", image, "-k", "16", "-o", out)
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    np.testing.assert_array_equal(read_png(out), pixels)  # one palette colour per pixel: exact
    record = json.loads((tmp_path / "out.png.json").read_text())
    assert len(record["palette"]) == shape[0] * shape[1]


@pytest.mark.parametrize("shape", TINY_SHAPES)
def test_superpixels_tiny_image_with_more_segments_than_pixels(
    tmp_path: Path, run_cli: Callable[..., object], shape: tuple[int, int]
) -> None:
    image, pixels = tiny_png(tmp_path, shape)
    out = tmp_path / "out.png"
    result = run_cli("superpixels", image, "-n", "500", "-o", out)
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    np.testing.assert_array_equal(read_png(out), pixels)  # every pixel its own superpixel
