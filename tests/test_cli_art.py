"""In-process CLI tests for `easel quantize` and `easel superpixels`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easel.cli import main
from easel.io.images import read_image

COLORS = np.array([[230, 25, 25], [25, 200, 50], [40, 50, 230], [240, 230, 80]], np.uint8)


@pytest.fixture
def quad_png(tmp_path: Path) -> Path:
    """A 48x64 PNG of four coloured quadrants."""
    img = np.empty((48, 64, 3), np.uint8)
    img[:24, :32], img[:24, 32:], img[24:, :32], img[24:, 32:] = COLORS
    path = tmp_path / "quad.png"
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def photo_png(tmp_path: Path) -> Path:
    import skimage.data

    path = tmp_path / "photo.png"
    Image.fromarray(skimage.data.astronaut()[::4, ::4]).save(path)
    return path


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def one_line_error(capsys: pytest.CaptureFixture[str], needle: str) -> None:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert needle in err


# ---------------------------------------------------------------- quantize


def test_quantize_writes_output_and_record(quad_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    assert main(["quantize", str(quad_png), "-k", "4", "-o", str(out), "-q"]) == 0
    result = pixels(out)
    original = pixels(quad_png)
    np.testing.assert_array_equal(result, original)  # 4 colours recovered exactly
    record = json.loads((tmp_path / "out.png.json").read_text())
    assert record["command"] == "quantize"
    assert record["options"]["n_colors"] == 4 and record["seed"] == 0
    assert sorted(record["palette"]) == sorted("#{:02x}{:02x}{:02x}".format(*c) for c in COLORS)
    assert "quantize" in record["timings_s"]


def test_quantize_palette_swatch(photo_png: Path, tmp_path: Path) -> None:
    out, swatch = tmp_path / "poster.png", tmp_path / "palette.png"
    args = [
        "quantize",
        str(photo_png),
        "-k",
        "6",
        "--space",
        "lab",
        "--dither",
        "-o",
        str(out),
        "--palette",
        str(swatch),
        "-q",
    ]
    assert main(args) == 0
    poster = pixels(out)
    assert np.unique(poster.reshape(-1, 3), axis=0).shape[0] <= 6
    sw = read_image(swatch).rgb
    assert sw.shape == (96, 6 * 96, 3)
    record = json.loads((tmp_path / "poster.png.json").read_text())
    for i, code in enumerate(record["palette"]):  # swatch i shows palette colour i
        expected = [int(code[j : j + 2], 16) / 255 for j in (1, 3, 5)]
        np.testing.assert_allclose(sw[4, i * 96 + 4], expected, atol=1 / 255)
    # the swatch is an output too: refused without -y, replaced with it
    out2 = tmp_path / "poster2.png"
    assert main(["quantize", str(photo_png), "-k", "6", "-o", str(out2), "--palette", str(swatch), "-q"]) == 2
    assert not out2.exists()
    assert (
        main(["quantize", str(photo_png), "-k", "6", "-o", str(out2), "--palette", str(swatch), "-q", "-y"])
        == 0
    )


def test_quantize_refuses_existing_output(
    quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert main(["quantize", str(quad_png), "-k", "4", "-o", str(out)]) == 2
    one_line_error(capsys, "exists")
    assert out.read_bytes() == b"keep me"
    assert main(["quantize", str(quad_png), "-k", "4", "-o", str(out), "-y", "-q"]) == 0
    assert out.read_bytes() != b"keep me"


def test_quantize_refuses_output_equal_input(quad_png: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = quad_png.read_bytes()
    assert main(["quantize", str(quad_png), "-k", "4", "-o", str(quad_png), "-y"]) == 2
    one_line_error(capsys, "input")
    assert quad_png.read_bytes() == before


def test_quantize_bad_suffix(quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", str(quad_png), "-o", str(tmp_path / "out.txt")]) == 2
    one_line_error(capsys, "unsupported output format")
    assert (
        main(["quantize", str(quad_png), "-o", str(tmp_path / "o.png"), "--palette", str(tmp_path / "p.gif")])
        == 2
    )
    assert not (tmp_path / "o.png").exists()


def test_quantize_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", str(tmp_path / "nope.png"), "-o", str(tmp_path / "out.png")]) == 2
    one_line_error(capsys, "no such file")


def test_quantize_bad_k(quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", str(quad_png), "-k", "0", "-o", str(tmp_path / "o.png")]) == 2
    capsys.readouterr()
    assert main(["quantize", str(quad_png), "-k", "9", "-o", str(tmp_path / "o.png")]) == 2
    one_line_error(capsys, "only 4 distinct colour")
    assert not (tmp_path / "o.png").exists()


def test_quantize_palette_same_as_output(
    quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.png"
    assert main(["quantize", str(quad_png), "-k", "4", "-o", str(out), "--palette", str(out)]) == 2
    one_line_error(capsys, "--palette")


def test_quantize_keeps_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., :3] = COLORS[np.arange(32)[:, None] * 0 + (np.arange(32)[None, :] // 8)]
    rgba[..., 3] = 255
    rgba[:8, :8] = 0  # transparent, hidden colour black
    src = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(src)
    out = tmp_path / "o.png"
    assert main(["quantize", str(src), "-k", "4", "-o", str(out), "-q"]) == 0
    loaded = read_image(out)
    assert loaded.alpha is not None and loaded.alpha[0, 0] == 0 and loaded.alpha[20, 20] == 1
    # the transparent corner's hidden black did not take a palette slot
    record = json.loads((tmp_path / "o.png.json").read_text())
    assert "#000000" not in record["palette"]
    visible = loaded.rgb[loaded.alpha > 0]
    np.testing.assert_allclose(visible, read_image(src).rgb[loaded.alpha > 0], atol=1e-6)
    jpg = tmp_path / "o.jpg"  # JPEG cannot carry alpha: written without it
    assert main(["quantize", str(src), "-k", "4", "-o", str(jpg), "-q"]) == 0
    with Image.open(jpg) as im:
        assert im.mode == "RGB"


def test_quantize_seed_reproducible(photo_png: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["quantize", str(photo_png), "-k", "5", "--seed", "7", "-o", str(a), "-q"]) == 0
    assert main(["quantize", str(photo_png), "-k", "5", "--seed", "7", "-o", str(b), "-q"]) == 0
    np.testing.assert_array_equal(pixels(a), pixels(b))


# ---------------------------------------------------------------- superpixels


def test_superpixels_writes_output_and_record(quad_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "sp.png"
    assert main(["superpixels", str(quad_png), "-n", "20", "--compactness", "10", "-o", str(out), "-q"]) == 0
    # mean colour of superpixels that never cross a quadrant border is the quadrant colour
    np.testing.assert_array_equal(pixels(out), pixels(quad_png))
    record = json.loads((tmp_path / "sp.png.json").read_text())
    assert record["command"] == "superpixels" and record["options"]["n_segments"] == 20
    assert record["segments_found"] >= 4


@pytest.mark.parametrize("flag", ["--boundaries", "--boundaries-only"])
def test_superpixels_boundaries(photo_png: Path, tmp_path: Path, flag: str) -> None:
    out = tmp_path / "sp.png"
    args = [
        "superpixels",
        str(photo_png),
        "-n",
        "50",
        flag,
        "--boundary-color",
        "#ff00ff",
        "-o",
        str(out),
        "-q",
    ]
    assert main(args) == 0
    img = pixels(out).reshape(-1, 3)
    magenta = np.all(img == [255, 0, 255], axis=1).mean()
    assert 0.02 < magenta < 0.4
    if flag == "--boundaries-only":  # the rest is the original image
        original = pixels(photo_png).reshape(-1, 3)
        keep = ~np.all(img == [255, 0, 255], axis=1)
        np.testing.assert_array_equal(img[keep], original[keep])


def test_superpixels_bad_inputs(quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sp.png"
    assert main(["superpixels", str(quad_png), "-n", "0", "-o", str(out)]) == 2
    assert main(["superpixels", str(quad_png), "--compactness", "0", "-o", str(out)]) == 2
    assert main(["superpixels", str(quad_png), "--boundaries", "--boundaries-only", "-o", str(out)]) == 2
    assert main(["superpixels", str(quad_png), "--boundary-color", "nope", "-o", str(out)]) == 2
    capsys.readouterr()
    assert main(["superpixels", str(quad_png), "-o", str(tmp_path / "sp.bmpx")]) == 2
    one_line_error(capsys, "unsupported output format")
    assert main(["superpixels", str(tmp_path / "missing.jpg"), "-o", str(out)]) == 2
    one_line_error(capsys, "no such file")
    assert main(["superpixels", str(quad_png), "-o", str(quad_png), "-y"]) == 2
    one_line_error(capsys, "input")
    assert not out.exists()


def test_superpixels_refuses_existing_output(
    quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sp.png"
    out.write_bytes(b"keep")
    assert main(["superpixels", str(quad_png), "-o", str(out)]) == 2
    one_line_error(capsys, "exists")
    assert out.read_bytes() == b"keep"


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", "--help"]) == 0
    assert "easel quantize photo.jpg" in capsys.readouterr().out
    assert main(["superpixels", "--help"]) == 0
    assert "--boundaries-only" in capsys.readouterr().out


def test_demos(tmp_path: Path) -> None:
    from easel.cli import quantize, superpixels
    from easel.gallery import Gallery

    gallery = Gallery(tmp_path / "demo")
    quantize.demo(gallery)
    superpixels.demo(gallery)
    assert not gallery.failures
    assert len(gallery.entries) == 4
    for entry in gallery.entries:
        assert all(p.exists() for p in entry.outputs)


def test_cli_spaces_match_library() -> None:
    from easel.art.quantize import SPACES as LIB_SPACES
    from easel.cli.quantize import SPACES as CLI_SPACES

    assert tuple(CLI_SPACES) == tuple(LIB_SPACES)
