"""Options declared once: dataclass fields -> argparse options -> the dataclass back; flags in errors."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from easel.cli import Parser
from easel.cli._options import add_options, flag_for, options_from_args
from easel.options import OptionError, declared_options, option, options_dict


@dataclass
class DemoOptions:
    size: int = option(512, help="long side of the output, in pixels", metavar="PX", group="size")
    iterations: int | None = option(None, help="steps at the finest scale")
    style_weight: float = option(100.0, help="weight of the style loss")
    layers: tuple[str, ...] = option(("relu1_1", "relu2_1"), help="VGG-19 layers")
    shift: tuple[float, ...] | None = option(None, help="end shift X,Y")
    pooling: Literal["max", "avg"] = option("max", help="pooling")
    space: str = option("rgb", help="colour space", choices=("rgb", "lab"))
    multiscale: bool = option(True, help="optimize at full resolution from the first step")
    dither: bool = option(False, help="Floyd-Steinberg dithering")
    n_colors: int = option(16, help="number of colours (1% to 100% of them)", flag="--colors", short="-k")
    weights: str | Path | None = option(None, help="local weights file")
    hidden: int = option(3, help="not on the command line", cli=False)
    plain: int = 7  # no declaration: not an option

    def validate(self) -> DemoOptions:
        if self.n_colors < 1:
            raise OptionError("n_colors", f"must be at least 1, got {self.n_colors}")
        return self


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="easel demo-cmd")
    add_options(parser, DemoOptions, exclude=("space",))
    return parser


def test_declared_options_in_order_with_types() -> None:
    names = [o.name for o in declared_options(DemoOptions)]
    assert names[:3] == ["size", "iterations", "style_weight"] and "plain" not in names
    iterations = next(o for o in declared_options(DemoOptions) if o.name == "iterations")
    assert iterations.base_type is int and iterations.optional and iterations.flag == "--iterations"


def test_defaults_round_trip_to_the_dataclass() -> None:
    args = _parser().parse_args([])
    assert options_from_args(DemoOptions, args) == DemoOptions()


def test_values_are_parsed_by_type() -> None:
    args = _parser().parse_args(
        "--size 256 --iterations 5 --style-weight 1e3 --layers relu3_1,relu4_1 --shift 0.1,-0.2 "
        "--pooling avg --no-multiscale --dither -k 8 --weights w.pth".split()
    )
    opts = options_from_args(DemoOptions, args, hidden=4)
    assert opts == DemoOptions(
        size=256,
        iterations=5,
        style_weight=1000.0,
        layers=("relu3_1", "relu4_1"),
        shift=(0.1, -0.2),
        pooling="avg",
        multiscale=False,
        dither=True,
        n_colors=8,
        weights=Path("w.pth"),
        hidden=4,
    )


def test_help_shows_the_field_docs_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert "long side of the output, in pixels (default 512)" in text
    assert (
        "--no-multiscale" in text
        and "-k N_COLORS, --colors N_COLORS" in text
        and "(1% to 100% of them)" in text
    )
    assert "relu1_1,relu2_1" in text and "{max,avg}" in text and "size:" in text
    assert "--hidden" not in text and "--plain" not in text and "--space" not in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--size", "big"], "argument --size: expected a whole number, got 'big'"),
        (["--style-weight", "x"], "argument --style-weight: expected a number, got 'x'"),
        (["--pooling", "min"], "argument --pooling: invalid choice: 'min'"),
        (["--shift", "1,a"], "expected comma-separated numbers"),
    ],
)
def test_bad_values_are_one_line_usage_errors(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and expected in err and err.count("\n") == 1
    assert err.endswith("(see `easel demo-cmd --help`)\n")


def test_option_errors_name_the_field_in_the_library_and_the_flag_in_the_cli() -> None:
    with pytest.raises(OptionError) as exc:
        DemoOptions(n_colors=0).validate()
    assert str(exc.value) == "n_colors must be at least 1, got 0"
    args = _parser().parse_args([])
    assert exc.value.with_name(flag_for(args, exc.value.field)) == "-k/--colors must be at least 1, got 0"
    assert flag_for(args, "multiscale") == "--no-multiscale"
    assert flag_for(None, "tile_size") == "--tile-size"


def test_options_dict_is_json_friendly() -> None:
    record = options_dict(DemoOptions(weights=Path("w.pth")))
    assert record["weights"] == "w.pth" and record["layers"] == ["relu1_1", "relu2_1"]


def test_groups_with_the_same_title_are_one_section(capsys: pytest.CaptureFixture[str]) -> None:
    from easel.cli._options import argument_group

    parser = Parser(prog="easel demo-cmd")
    video = argument_group(parser, "size")
    video.add_argument("--crf", type=int)
    add_options(parser, DemoOptions)
    assert argument_group(parser, "size") is video
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    assert capsys.readouterr().out.count("size:") == 1
