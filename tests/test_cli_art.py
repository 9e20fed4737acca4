"""In-process CLI tests for `easel quantize` and `easel superpixels`."""

from __future__ import annotations

import argparse
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
    """The file's pixels; an indexed PNG (what ``easel quantize`` writes) as its RGB colours."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB") if im.mode == "P" else im)


def test_quantize_writes_an_indexed_png_at_the_level_asked(photo_png: Path, tmp_path: Path) -> None:
    """A .png is written with a palette and 4-bit indices (16 colours), the same colours
    as the RGB picture; --compress 9 gives a file no larger than --compress 0."""
    from easel.art.quantize import quantize_colors
    from easel.image import to_uint8

    sizes = {}
    for level in ("0", "9"):
        out = tmp_path / f"q{level}.png"
        assert main(["quantize", str(photo_png), "-k", "16", "--compress", level, "-o", str(out), "-q"]) == 0
        with Image.open(out) as im:
            assert im.mode == "P" and len(im.getpalette() or []) // 3 <= 16
        sizes[level] = out.stat().st_size
        assert json.loads(out.with_name(out.name + ".json").read_text())["options"]["compress"] == int(level)
    assert sizes["9"] < sizes["0"]
    expected = to_uint8(quantize_colors(read_image(photo_png).rgb, 16, seed=0).image)
    np.testing.assert_array_equal(pixels(tmp_path / "q9.png"), expected)


def test_quantize_compress_out_of_range_is_one_line(
    photo_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q.png"
    assert main(["quantize", str(photo_png), "--compress", "12", "-o", str(out)]) == 2
    assert "--compress" in capsys.readouterr().err and not out.exists()


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
    one_line_error(capsys, "unsupported format")
    assert (
        main(["quantize", str(quad_png), "-o", str(tmp_path / "o.png"), "--palette", str(tmp_path / "p.gif")])
        == 2
    )
    assert not (tmp_path / "o.png").exists()


def test_quantize_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", str(tmp_path / "nope.png"), "-o", str(tmp_path / "out.png")]) == 2
    one_line_error(capsys, "no such file")


def test_quantize_bad_k(quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for k in ("0", "4097", "four"):
        assert main(["quantize", str(quad_png), "-k", k, "-o", str(tmp_path / "o.png")]) == 2
        one_line_error(capsys, "-k/--colors")
    assert not (tmp_path / "o.png").exists()


def test_quantize_more_colours_than_the_image_has_is_a_notice(
    quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #18 item 7: fewer distinct colours than -k is not an error (a flat logo, a 1x1 pixel);
    the palette holds the colours there are, and the user is told once."""
    out = tmp_path / "o.png"
    assert main(["quantize", str(quad_png), "-k", "9", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("only 4 distinct colour") == 1 and captured.err.count("\n") == 1
    assert "(4 colours," in captured.out
    np.testing.assert_array_equal(pixels(out), pixels(quad_png))
    assert len(json.loads((tmp_path / "o.png.json").read_text())["palette"]) == 4


def test_quantize_downscale_notice_is_printed_once(
    photo_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #8: the library logged the downscale and the CLI printed it again."""
    out = tmp_path / "small.png"
    assert main(["quantize", str(photo_png), "-k", "4", "--max-size", "40", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("downscaled from") == 1, err
    assert "--max-size 40" in err


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
    one_line_error(capsys, "unsupported format")
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
    from easel.cli._gallery import Gallery

    gallery = Gallery(tmp_path / "demo")
    quantize.demo(gallery)
    superpixels.demo(gallery)
    assert not gallery.failures
    assert len(gallery.entries) == 4
    for entry in gallery.entries:
        assert all(p.exists() for p in entry.outputs)


def _command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``easel NAME`` alone (as ``main`` builds it)."""
    import importlib

    from easel.cli import Parser

    parser = Parser(prog=f"easel {name}")
    importlib.import_module(f"easel.cli.{name}").add_arguments(parser)
    return parser


def _action(name: str, dest: str) -> argparse.Action:
    return next(a for a in _command_parser(name)._actions if a.dest == dest)


def test_cli_spaces_match_library() -> None:
    """The CLI's --space choices are the library's (declared once, not copied)."""
    from easel.art.quantize import SPACES as LIB_SPACES

    assert tuple(_action("quantize", "space").choices or ()) == tuple(LIB_SPACES)


def test_superpixels_more_segments_than_pixels_is_a_notice(
    quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #8: an out-of-range option is refused or clamped with a notice, never silently."""
    out = tmp_path / "sp.png"
    assert main(["superpixels", str(quad_png), "-n", "100000", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("-n 100000 is more than the image's 3072 pixels") == 1
    assert json.loads((tmp_path / "sp.png.json").read_text())["segments_found"] <= 3072


def test_superpixels_compactness_must_be_finite(
    quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for value in ("inf", "nan", "-1"):
        assert (
            main(["superpixels", str(quad_png), "--compactness", value, "-o", str(tmp_path / "s.png")]) == 2
        )
        one_line_error(capsys, "--compactness")
    assert not (tmp_path / "s.png").exists()


def test_cli_colour_limit_matches_library(
    quad_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's -k limit is the library's MAX_COLORS: the largest is accepted, one more refused."""
    from easel.art.quantize import MAX_COLORS as LIB_MAX

    args = _command_parser("quantize").parse_args([str(quad_png), "-k", str(LIB_MAX), "-o", "o.png"])
    assert args.n_colors == LIB_MAX
    assert main(["quantize", str(quad_png), "-k", str(LIB_MAX + 1), "-o", str(tmp_path / "o.png")]) == 2
    one_line_error(capsys, f"-k/--colors must be between 1 and {LIB_MAX}")


def test_library_option_errors_are_shown_with_the_users_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import easel.art.superpixels as sp
    from easel.options import OptionError

    image = tmp_path / "in.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(image)

    def failing(*args: object, **kwargs: object) -> object:
        raise OptionError("n_segments", "must be >= 1, got 0")

    monkeypatch.setattr(sp, "superpixel_mosaic", failing)
    code = main(["superpixels", str(image), "-n", "4", "-o", str(tmp_path / "out.png")])
    assert (code, capsys.readouterr().err) == (
        2,
        "easel superpixels: error: -n/--segments must be >= 1, got 0\n",
    )


# ---------------------------------------------------------------- options declared once (issue #18)

OPTION_CLASSES = {
    "quantize": ("easel.art.quantize", "QuantizeOptions"),
    "superpixels": ("easel.art.superpixels", "SuperpixelOptions"),
}


def _options_class(command: str) -> type:
    import importlib

    module, name = OPTION_CLASSES[command]
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@pytest.mark.parametrize("command", sorted(OPTION_CLASSES))
def test_help_text_comes_from_the_declaration(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from easel.options import declared_options

    assert main([command, "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
    declared = [o for o in declared_options(_options_class(command)) if o.spec.cli]
    assert declared
    for opt in declared:
        assert " ".join(opt.spec.help.split()) in shown, opt.name
        assert opt.flag in shown, opt.name
    assert "example" in shown


@pytest.mark.parametrize("command", sorted(OPTION_CLASSES))
def test_cli_defaults_are_the_api_defaults(command: str) -> None:
    from easel.cli._options import options_from_args

    args = _command_parser(command).parse_args(["in.png", "-o", "out.png"])
    cls = _options_class(command)
    assert options_from_args(cls, args) == cls()


@pytest.mark.parametrize(
    ("command", "argv", "expected"),
    [
        ("quantize", ["-k", "8"], {"n_colors": 8}),
        ("quantize", ["--colors", "12"], {"n_colors": 12}),
        ("quantize", ["--colors=3"], {"n_colors": 3}),
        ("quantize", ["--space", "lab"], {"space": "lab"}),
        ("quantize", ["--dither"], {"dither": True}),
        ("quantize", ["--seed", "7"], {"seed": 7}),
        ("quantize", ["--palette", "p.png"], {"palette": Path("p.png")}),
        ("quantize", ["--max-size", "640"], {"max_size": 640}),
        ("superpixels", ["-n", "300"], {"n_segments": 300}),
        ("superpixels", ["--segments", "40"], {"n_segments": 40}),
        ("superpixels", ["--compactness", "2.5"], {"compactness": 2.5}),
        ("superpixels", ["--boundaries"], {"boundaries": True, "boundaries_only": False}),
        ("superpixels", ["--boundaries-only"], {"boundaries": False, "boundaries_only": True}),
        ("superpixels", ["--boundary-color", "#ff0000"], {"boundary_color": (1.0, 0.0, 0.0)}),
        ("superpixels", ["--boundary-color", "0f0"], {"boundary_color": (0.0, 1.0, 0.0)}),
        ("superpixels", ["--max-size", "99"], {"max_size": 99}),
    ],
)
def test_every_old_flag_parses_to_the_same_value(
    command: str, argv: list[str], expected: dict[str, object]
) -> None:
    args = _command_parser(command).parse_args(["in.png", "-o", "out.png", *argv])
    assert {key: getattr(args, key) for key in expected} == expected


def test_short_flags_are_listed_first(capsys: pytest.CaptureFixture[str]) -> None:
    """Usage lines and argparse errors still say -k/--colors and -n/--segments."""
    for command, flag in (("quantize", "-k"), ("superpixels", "-n")):
        with pytest.raises(SystemExit):
            _command_parser(command).parse_args(["in.png", "-o", "o.png", flag, "many"])
        err = capsys.readouterr().err
        long_flag = "--colors" if flag == "-k" else "--segments"
        assert f"argument {flag}/{long_flag}: expected a whole number, got 'many'" in err
        assert f"[{flag} " in _command_parser(command).format_usage()


@pytest.mark.parametrize(
    ("command", "argv", "message"),
    [
        ("quantize", ["-k", "0"], "-k/--colors must be between 1 and 4096, got 0"),
        ("quantize", ["--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
        ("superpixels", ["-n", "0"], "-n/--segments must be >= 1, got 0"),
        ("superpixels", ["--compactness", "nan"], "--compactness must be a number > 0, got nan"),
    ],
)
def test_library_option_errors_name_the_flag_before_any_work(
    command: str,
    argv: list[str],
    message: str,
    quad_png: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The options' own validate() refuses the value, named by the user's flag, before the
    image is read (a negative --seed was an internal error, exit 1)."""
    out = tmp_path / "o.png"
    assert main([command, str(quad_png), *argv, "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"easel {command}: error: {message}\n"
    assert not out.exists() and not (tmp_path / "o.png.json").exists()


def test_records_store_the_resolved_options(quad_png: Path, tmp_path: Path) -> None:
    from easel.art.quantize import QuantizeOptions
    from easel.art.superpixels import SuperpixelOptions
    from easel.options import options_dict

    out = tmp_path / "q.png"
    assert main(["quantize", str(quad_png), "-k", "4", "--space", "lab", "-o", str(out), "-q"]) == 0
    recorded = json.loads((tmp_path / "q.png.json").read_text())["options"]
    assert recorded["image"] == str(quad_png) and recorded["output"] == str(out)
    expected = options_dict(QuantizeOptions(n_colors=4, space="lab"))
    assert {key: recorded[key] for key in expected} == expected  # API-only fields too (n_init ...)

    out = tmp_path / "s.png"
    argv = ["superpixels", str(quad_png), "-n", "20", "--boundaries", "--boundary-color", "#f00"]
    assert main([*argv, "-o", str(out), "-q"]) == 0
    recorded = json.loads((tmp_path / "s.png.json").read_text())["options"]
    expected = options_dict(SuperpixelOptions(n_segments=20, boundaries=True, boundary_color=(1.0, 0.0, 0.0)))
    assert {key: recorded[key] for key in expected} == expected


def test_cli_output_equals_the_library_call(photo_png: Path, tmp_path: Path) -> None:
    """API = CLI: the same options give the same picture through either."""
    from easel.art.quantize import quantize_colors
    from easel.art.superpixels import superpixel_mosaic
    from easel.image import to_uint8

    rgb = read_image(photo_png).rgb
    out = tmp_path / "q.png"
    assert main(["quantize", str(photo_png), "-k", "5", "--dither", "--seed", "2", "-o", str(out), "-q"]) == 0
    np.testing.assert_array_equal(pixels(out), to_uint8(quantize_colors(rgb, 5, dither=True, seed=2).image))
    out = tmp_path / "s.png"
    assert main(["superpixels", str(photo_png), "-n", "30", "--boundaries-only", "-o", str(out), "-q"]) == 0
    expected = superpixel_mosaic(rgb, n_segments=30, boundaries_only=True).image
    np.testing.assert_array_equal(pixels(out), to_uint8(expected))
