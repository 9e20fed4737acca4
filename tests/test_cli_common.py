"""The CLI framework: error mapping, shared options, outputs, records, progress; `easel info`;
bad inputs through real commands (one line on stderr, exit 2, nothing left behind)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import easel.cli.info as info_cmd
from conftest import BAD_INPUT_KINDS, CliResult, photo, write_bad_input
from easel.cli import build_parser, command_modules, main
from easel.cli._common import (
    CommandContext,
    describe_exception,
    float_list,
    load_image,
    non_negative_float,
    positive_float,
    positive_int,
    save_record,
)
from easel.errors import EaselError, InputError, OutputExistsError, WeightsError
from easel.progress import ProgressUpdate

Run = Callable[..., CliResult]


# ---------------------------------------------------------------- the top level


def test_no_command_prints_help_and_exits_2(run_cli: Run) -> None:
    result = run_cli()
    assert result.code == 2 and "COMMAND" in result.err


def test_version_and_help(run_cli: Run) -> None:
    from easel import __version__

    result = run_cli("--version")
    assert result.code == 0 and result.out.strip() == f"easel {__version__}"
    result = run_cli("--help")
    assert result.code == 0
    for name in ("info", "weights"):
        assert name in result.out


def test_unknown_command_and_bad_option_exit_2(run_cli: Run) -> None:
    assert run_cli("frobnicate").code == 2
    assert run_cli("info", "--no-such-option").code == 2


def test_every_command_has_the_documented_attributes() -> None:
    modules = command_modules()
    names = [m.NAME for m in modules]
    assert len(names) == len(set(names))
    assert {"info", "weights"} <= set(names)
    for module in modules:
        assert isinstance(module.HELP, str) and module.HELP
        assert isinstance(getattr(module, "ORDER", 100), int)
        assert "easel " in getattr(module, "EPILOG", ""), f"{module.NAME}: EPILOG needs a worked example"
        assert callable(module.add_arguments) and callable(module.run)


def test_every_command_help_works(run_cli: Run) -> None:
    for module in command_modules():
        result = run_cli(module.NAME, "--help")
        assert result.code == 0, module.NAME
        assert "--quiet" in result.out and "--debug" in result.out


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (InputError("photo.jpg: no such file"), 2, "easel info: error: photo.jpg: no such file\n"),
        (
            WeightsError("weights 'x' are not in the cache"),
            2,
            "easel info: error: weights 'x' are not in the cache\n",
        ),
        (OutputExistsError("out.png: output exists"), 2, "easel info: error: out.png: output exists\n"),
        (ImportError("install it with pip"), 2, "easel info: error: install it with pip\n"),
        (EaselError("something specific"), 1, "easel info: error: EaselError: something specific\n"),
        (MemoryError(), 1, "easel info: error: out of memory; try a smaller --size/--max-size\n"),
    ],
)
def test_errors_become_one_line_and_an_exit_code(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch, exc: BaseException, code: int, text: str
) -> None:
    def failing(args: argparse.Namespace, ctx: CommandContext) -> int:
        raise exc

    monkeypatch.setattr(info_cmd, "run", failing)
    result = run_cli("info")
    assert (result.code, result.err, result.out) == (code, text, "")


def test_internal_error_asks_for_debug(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: argparse.Namespace, ctx: CommandContext) -> int:
        raise KeyError("oops\nsecond line")

    monkeypatch.setattr(info_cmd, "run", failing)
    result = run_cli("info")
    assert result.code == 1
    assert (
        result.err.count("\n") == 1 and "internal error: KeyError" in result.err and "--debug" in result.err
    )
    with pytest.raises(KeyError):
        main(["info", "--debug"])


def test_debug_reraises_input_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: argparse.Namespace, ctx: CommandContext) -> int:
        raise InputError("bad")

    monkeypatch.setattr(info_cmd, "run", failing)
    with pytest.raises(InputError, match="bad"):
        main(["info", "--debug"])


def test_keyboard_interrupt_exits_130(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args: argparse.Namespace, ctx: CommandContext) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(info_cmd, "run", interrupted)
    result = run_cli("info")
    assert result.code == 130 and result.err == "easel info: interrupted\n"


def test_sigterm_is_saved_like_ctrl_c_and_exits_143(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import time

    seen: list[str] = []

    def terminated(args: argparse.Namespace, ctx: CommandContext) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
            raise AssertionError("SIGTERM did not interrupt the command")
        except KeyboardInterrupt:  # the command's own save-what-you-can path
            seen.append("saved")
            return ctx.interrupted_exit_code()

    monkeypatch.setattr(info_cmd, "run", terminated)
    before = signal.getsignal(signal.SIGTERM)
    result = run_cli("info")
    assert result.code == 143 and seen == ["saved"]
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


def test_sigterm_not_caught_by_the_command_exits_143(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import time

    def terminated(args: argparse.Namespace, ctx: CommandContext) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
        return 0

    monkeypatch.setattr(info_cmd, "run", terminated)
    result = run_cli("info")
    assert result.code == 143 and result.err == "easel info: terminated\n"


def test_option_errors_are_one_line_with_a_pointer_to_help(run_cli: Run) -> None:
    for argv in (
        ["info", "--no-such-option"],
        ["weights", "download", "x", "--timeout", "soon"],
        ["quantize"],
    ):
        result = run_cli(*argv)
        assert result.code == 2, argv
        assert result.err.count("\n") == 1 and "usage:" not in result.err, argv
        assert f"(see `easel {argv[0]}" in result.err, argv
    unknown = run_cli("info", "--no-such-option")
    assert unknown.err.startswith("easel info: error: unrecognized arguments: --no-such-option")


def test_option_error_is_shown_with_the_users_flag(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from easel.options import OptionError

    def failing(args: argparse.Namespace, ctx: CommandContext) -> int:
        args._option_flags = {"n_colors": "--colors"}
        raise OptionError("n_colors", "must be at least 1, got 0")

    monkeypatch.setattr(info_cmd, "run", failing)
    result = run_cli("info")
    assert (result.code, result.err) == (2, "easel info: error: --colors must be at least 1, got 0\n")


def test_describe_exception() -> None:
    assert describe_exception(InputError("a\nb")) == "a"
    assert describe_exception(ValueError("x")) == "ValueError: x"
    assert describe_exception(RuntimeError()) == "RuntimeError: RuntimeError"
    assert describe_exception(ImportError("pip install it")) == "pip install it"


# ---------------------------------------------------------------- option helpers


def test_number_options() -> None:
    assert positive_int("3") == 3
    assert non_negative_float("0") == 0.0
    assert positive_float("0.5") == 0.5
    assert float_list("1, 10,100") == [1.0, 10.0, 100.0]
    for func, text in [
        (positive_int, "0"),
        (positive_int, "-2"),
        (positive_int, "1.5"),
        (non_negative_float, "-1"),
        (non_negative_float, "nan"),
        (non_negative_float, "abc"),
        (positive_float, "0"),
        (float_list, ""),
        (float_list, "1,a"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError):
            func(text)


def test_bad_option_value_is_a_usage_error(run_cli: Run) -> None:
    result = run_cli("weights", "download", "x", "--timeout", "soon")
    assert result.code == 2 and "--timeout: expected a number of seconds, got 'soon'" in result.err


# ---------------------------------------------------------------- outputs and records


def test_save_record(tmp_path: Path) -> None:
    out = tmp_path / "art.png"
    args = argparse.Namespace(
        command="quantize",
        image=Path("in.png"),
        colors=8,
        seed=3,
        quiet=True,
        debug=False,
        overwrite=True,
        _module=None,
    )
    ctx = CommandContext()
    with ctx.timed("work"):
        pass
    path = save_record(out, args, ctx, inputs=[Path("in.png")], extra={"mse": np.float32(0.5)})
    assert path == tmp_path / "art.png.json"
    record = json.loads(path.read_text())
    assert record["command"] == "quantize" and record["seed"] == 3
    assert record["options"] == {"image": "in.png", "colors": 8, "seed": 3}
    assert record["inputs"] == ["in.png"] and record["mse"] == 0.5
    assert "work" in record["timings_s"] and record["versions"]["easel"]


# ---------------------------------------------------------------- context and progress


def test_context_notice_done_and_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = CommandContext()
    ctx.notice("hello")
    ctx.done("finished")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("finished\n", "easel: hello\n")
    quiet = CommandContext(quiet=True)
    quiet.notice("hello")
    quiet.done("finished")
    assert capsys.readouterr() == ("", "")


def test_timed_accumulates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two timed blocks of the same name add up (1.5 s + 2.25 s on a fake clock), a third name apart."""
    import types

    import easel.cli._common as common

    ticks = iter([10.0, 11.5, 20.0, 22.25, 30.0, 30.5])
    monkeypatch.setattr(common, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    ctx = CommandContext()
    for _ in range(2):
        with ctx.timed("step"):
            pass
    with ctx.timed("write"):
        pass
    assert ctx.timings == {"step": 3.75, "write": 0.5}


def test_progress_bar_only_when_forced_or_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EASEL_PROGRESS", "0")
    ctx = CommandContext()
    ctx.progress(ProgressUpdate("kmeans", 1, 4))
    ctx.close()
    assert capsys.readouterr().err == ""

    monkeypatch.setenv("EASEL_PROGRESS", "1")
    ctx = CommandContext()
    for step in range(5):
        ctx.progress(ProgressUpdate("kmeans", step, 4, {"loss": 0.5}))
    ctx.progress(ProgressUpdate("write", 1, 0))
    ctx.close()
    err = capsys.readouterr().err
    assert "kmeans" in err and "write" in err

    monkeypatch.setenv("EASEL_PROGRESS", "1")
    ctx = CommandContext(quiet=True)
    ctx.progress(ProgressUpdate("kmeans", 1, 4))
    ctx.close()
    assert capsys.readouterr().err == ""


def test_load_image_tells_about_downscaling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.png"
    photo(200, 100).save(path)
    loaded = load_image(path, CommandContext(), max_size=50)
    assert loaded.rgb.shape == (25, 50, 3)
    assert "downscaled from 200x100 to 50x25 (--max-size 50)" in capsys.readouterr().err
    load_image(path, CommandContext(), max_size=500)
    assert capsys.readouterr().err == ""


def test_subcommand_options_after_the_action(run_cli: Run, tmp_easel_home: Path) -> None:
    parser = build_parser()
    args = parser.parse_args(["weights", "--quiet", "list"])
    assert args.quiet is True
    args = parser.parse_args(["weights", "list", "--quiet"])
    assert args.quiet is True
    args = parser.parse_args(["weights", "list"])
    assert args.quiet is False and args.debug is False


# ---------------------------------------------------------------- easel info


def test_info_text(run_cli: Run, tmp_easel_home: Path) -> None:
    result = run_cli("info")
    assert result.code == 0, result.err
    out = result.out
    for text in (
        "easel 0.1.0",
        "python 3.",
        "torch",
        "numpy",
        "opencv",
        "pillow",
        "av",
        "scikit-image",
        "transformers",
        "devices:",
        "auto",
        "video encoders (PyAV, libavcodec",
        "h264 (.mp4)",
    ):
        assert text in out, text
    assert f"weights cache: {tmp_easel_home / 'weights'}" in out


def test_info_json(run_cli: Run, tmp_easel_home: Path) -> None:
    import numpy
    import PIL

    result = run_cli("info", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["python"] == ".".join(map(str, sys.version_info[:3]))
    assert data["libraries"]["numpy"] == numpy.__version__
    assert data["libraries"]["pillow"] == PIL.__version__
    assert set(data["libraries"]) >= {"torch", "opencv", "av", "scikit-image", "transformers"}
    assert data["devices"]["auto"] in ("cpu", "cuda", "mps")
    assert data["video_encoders"]["h264 (.mp4)"] is True
    assert data["libavcodec"].count(".") == 2
    assert data["weights"]["cache_dir"] == str(tmp_easel_home / "weights")
    assert data["weights"]["present"] == []


def test_info_lists_present_and_missing_weights(run_cli: Run, tmp_easel_home: Path) -> None:
    import hashlib

    from easel import weights
    from easel.weights import WeightsEntry, WeightsFile

    data = b"tiny"
    for name, digest in [("test-info-have", hashlib.sha256(data).hexdigest()), ("test-info-lack", "0" * 64)]:
        weights.register(
            WeightsEntry(name, (WeightsFile("w.bin", "http://127.0.0.1:9/w", digest),), "MIT", "t", "d")
        )
    try:
        path = weights.local_path("test-info-have")
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        info = json.loads(run_cli("info", "--json").out)["weights"]
        assert "test-info-have" in info["present"] and "test-info-lack" in info["missing"]
        text = run_cli("info").out
        assert "test-info-have" in text.split("present:")[1].splitlines()[0]
    finally:
        weights.unregister("test-info-have")
        weights.unregister("test-info-lack")


def test_library_versions_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(info_cmd._LIBRARIES, "nothere", ("surely-not-an-installed-dist",))
    assert info_cmd.library_versions()["nothere"] is None


# ---------------------------------------------------------------- bad inputs through real commands

IMAGE_COMMANDS = {
    "quantize": ["-k", "4"],
    "superpixels": ["-n", "20"],
}


@pytest.mark.parametrize("command", sorted(IMAGE_COMMANDS))
@pytest.mark.parametrize("kind", [k for k in BAD_INPUT_KINDS if k != "1x1"])  # 1x1 is valid here
def test_bad_input_is_one_line_exit_2_and_no_output(
    run_cli: Run, tmp_path: Path, command: str, kind: str
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    bad = write_bad_input(kind, inputs)
    outdir = tmp_path / "out"
    outdir.mkdir()
    result = run_cli(command, bad, *IMAGE_COMMANDS[command], "-o", outdir / "result.png")
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and result.err.startswith(f"easel {command}: error: ")
    assert "Traceback" not in result.err
    assert bad.name in result.err
    assert result.out == ""
    assert list(outdir.iterdir()) == []


@pytest.mark.parametrize("command", sorted(IMAGE_COMMANDS))
def test_existing_output_and_output_equal_to_input(run_cli: Run, tmp_path: Path, command: str) -> None:
    src = tmp_path / "in.png"
    photo().save(src)
    before = src.read_bytes()
    result = run_cli(command, src, *IMAGE_COMMANDS[command], "-o", src, "--overwrite")
    assert result.code == 2 and "overwrite an input" in result.err and src.read_bytes() == before
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    result = run_cli(command, src, *IMAGE_COMMANDS[command], "-o", out)
    assert result.code == 2 and "--overwrite" in result.err and out.read_bytes() == b"keep me"
    result = run_cli(command, src, *IMAGE_COMMANDS[command], "-o", tmp_path / "out.bmpx")
    assert result.code == 2 and "unsupported" in result.err


def test_the_first_progress_step_shows_no_made_up_rate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EASEL_PROGRESS", "1")
    ctx = CommandContext()
    ctx.progress(ProgressUpdate("stylize", 1, 100))
    first = capsys.readouterr().err
    ctx.close()
    assert "1/100" in first and "?it/s" in first
    assert "it/s" not in first.replace("?it/s", "")  # no rate from a single, untimed step


def test_main_sends_progress_to_a_given_sink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from easel.io.images import write_image

    src = tmp_path / "in.png"
    write_image(src, photo(24, 32))
    updates: list[ProgressUpdate] = []
    assert (
        main(["superpixels", str(src), "-n", "12", "-o", str(tmp_path / "out.png")], progress=updates.append)
        == 0
    )
    assert updates, "the sink received no progress"
    assert all(isinstance(u, ProgressUpdate) for u in updates)
    assert updates[-1].step == updates[-1].total  # the last update says the work is finished
    assert "\r" not in capsys.readouterr().err  # no bar was drawn
