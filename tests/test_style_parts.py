"""Small parts of easel.style: option parsing, scales, contact sheets, tiles, memory estimate."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from easel.pyramid import shape_with_long_side
from easel.style import StyleOptions
from easel.style.grid import contact_sheet, list_images, pair_name
from easel.style.tiling import feather, tile_grid, tile_starts
from easel.style.transfer import estimate_memory


def test_style_spec_parsing() -> None:
    from easel.cli.stylize import style_spec_arg

    assert style_spec_arg("a.jpg") == (Path("a.jpg"), 1.0)
    assert style_spec_arg("b.jpg:0.45") == (Path("b.jpg"), 0.45)
    assert style_spec_arg("dir/with:colon.jpg") == (Path("dir/with:colon.jpg"), 1.0)
    with pytest.raises(argparse.ArgumentTypeError):
        style_spec_arg("b.jpg:-1")


def test_scales_coarse_to_fine() -> None:
    assert StyleOptions(size=1024).scales((600, 800)) == [(192, 256), (384, 512), (768, 1024)]
    assert StyleOptions(size=512, multiscale=False).scales((600, 800)) == [(384, 512)]
    # an explicit --min-scale above half the output keeps it single-scale (the old default's 256 px)
    assert StyleOptions(size=300, min_scale=256).scales((300, 300)) == [(300, 300)]
    assert shape_with_long_side((100, 50), 64) == (64, 32)


def test_default_schedule_is_relative_to_the_output_size() -> None:
    """Issue #15: below 512 px the old absolute 256-px start gave no coarse pass at all."""
    shape = (600, 800)
    long_sides = {
        size: [max(s) for s in StyleOptions(size=size).scales(shape)] for size in (48, 64, 300, 384, 511)
    }
    assert long_sides == {48: [48], 64: [32, 64], 300: [150, 300], 384: [192, 384], 511: [255, 511]}
    # from 512 px on, the same scales as the old 256-px default
    for size in (512, 600, 1024, 2048, 4096):
        assert StyleOptions(size=size).scales(shape) == StyleOptions(size=size, min_scale=256).scales(shape)
    assert [max(s) for s in StyleOptions(size=2048).scales(shape)] == [256, 512, 1024, 2048]
    # --min-scale stays an explicit override, and the record stores the resolved value
    assert [max(s) for s in StyleOptions(size=384, min_scale=96).scales(shape)] == [96, 192, 384]
    assert StyleOptions(size=384).resolved().min_scale == 192
    assert StyleOptions(size=384).total_steps(shape) == 200 + 80
    assert StyleOptions(size=384, multiscale=False).scales(shape) == [(288, 384)]


def test_tiles_cover_and_feather() -> None:
    for length, tile, overlap in [(1000, 512, 64), (96, 48, 8), (40, 48, 8), (4096, 1024, 64)]:
        starts = tile_starts(length, tile, overlap)
        covered = np.zeros(length, bool)
        for s in starts:
            covered[s : s + min(tile, length)] = True
        assert covered.all()
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))
    tiles = tile_grid((72, 96), 48, 8)
    assert [(t.index, t.count, t.top, t.left, t.height, t.width) for t in tiles[:2]] == [
        (1, 6, 0, 0, 48, 48),
        (2, 6, 0, 40, 48, 48),
    ]
    assert tile_grid((40, 30), 48, 8)[0].window[2:] == (slice(0, 40), slice(0, 30))  # smaller than a tile
    w = feather(8, 8, 4, top=True, left=False)
    assert w.shape == (1, 1, 8, 8)
    assert torch.all(w[0, 0, 4:, :] == 1) and w[0, 0, 0, 0] < 0.2


def test_contact_sheet_layout(tmp_path: Path) -> None:
    cells = [[np.zeros((10, 20, 3), np.float32), None], [np.ones((20, 10, 3), np.float32)] * 2]
    sheet = contact_sheet(cells, ["r1", "r2"], ["c1", "c2"], cell_size=32, title="t")
    assert sheet.dtype == np.float32 and sheet.ndim == 3
    assert sheet.shape[0] > 2 * 32 and sheet.shape[1] > 2 * 32
    assert 0.0 <= sheet.min() and sheet.max() <= 1.0
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.png"]
    assert pair_name(Path("x/photo.jpg"), Path("y/starry.png")) == "photo__starry.png"


def test_memory_estimate_grows_with_size() -> None:
    opts = StyleOptions()
    small = estimate_memory((512, 512), opts)
    big = estimate_memory((2048, 2048), opts)
    assert big > 4 * small
    assert estimate_memory((1024, 1024), StyleOptions(precision="fp32")) > estimate_memory((1024, 1024), opts)
    # the figures of the calibrated formula (VGG-19 widths per block, L-BFGS history) are unchanged
    assert small == 1_400_373_248
    assert estimate_memory((512, 512), StyleOptions(optimizer="adam")) == 846_725_120


def test_cli_choices_match_library() -> None:
    from easel.cli.stylize import PRESERVE_COLOR_CHOICES
    from easel.style import color

    assert PRESERVE_COLOR_CHOICES == color.PRESERVE_COLOR_CHOICES
