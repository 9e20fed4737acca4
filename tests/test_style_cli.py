"""``easel stylize`` end to end, in-process, with a tiny random VGG-19 written in the real format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from easel.cli import main
from easel.io.images import read_image, write_image
from easel.nets.vgg import save_random_vgg19

TINY = (8, 8, 12, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("w") / "vgg19-tiny.pth", widths=TINY, classifier=True)


def _img(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([xx, yy, 0.5 + 0.4 * np.sin(7 * xx + seed)], axis=2)
    return np.clip(base + 0.1 * rng.random((h, w, 3)), 0, 1).astype(np.float32)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "content": write_image(tmp_path / "content.png", _img(48, 64, 0)),
        "style1": write_image(tmp_path / "style1.png", _img(64, 64, 1)),
        "style2": write_image(tmp_path / "style2.jpg", _img(40, 56, 2)),
    }
    return out


def _base(files: dict[str, Path], weights: Path, out: Path, *extra: str) -> list[str]:
    return [
        "stylize",
        str(files["content"]),
        "--style",
        str(files["style1"]),
        "-o",
        str(out),
        "--size",
        "48",
        "--iterations",
        "3",
        "--coarse-iterations",
        "3",
        "--min-scale",
        "32",
        "--weights",
        str(weights),
        "--quiet",
        *extra,
    ]


def test_single_run_with_two_styles_animation_and_steps(
    files: dict[str, Path], weights: Path, tmp_path: Path
) -> None:
    out = tmp_path / "art.png"
    anim = tmp_path / "steps.gif"
    argv = _base(
        files,
        weights,
        out,
        "--style",
        f"{files['style2']}:0.45",
        "--animation",
        str(anim),
        "--save-every",
        "2",
    )
    assert main(argv) == 0
    img = read_image(out).rgb
    assert img.shape == (36, 48, 3)
    record = json.loads((tmp_path / "art.png.json").read_text())
    assert record["command"] == "stylize"
    assert record["result"]["status"] == "finished"
    assert record["options"]["style"][1][1] == 0.45
    # the record holds the resolved options of the API and how the run ended
    assert record["status"] == "finished"
    assert record["options"]["iterations"] == 3 and record["options"]["style_layers"][0] == "relu1_1"
    # not "auto": the precision measured fastest on this machine, with its measurement
    measured = record["options"]["precision_measurement"]
    assert record["options"]["device"] == "cpu" and record["options"]["precision"] in ("fp32", "bf16")
    assert record["options"]["precision"] == measured["precision"]
    assert record["animation"]["frames"] >= 2 and record["steps"] == [
        str(tmp_path / "art_steps" / "step_00002.png")
    ]
    assert anim.stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "art_steps").iterdir()) == ["step_00002.png"]
    # exists -> refused without --overwrite
    assert main(argv) == 2


def test_sixteen_bit_tiff_and_mp4(files: dict[str, Path], weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "art.tif"
    assert main(_base(files, weights, out, "--bit-depth", "16", "--animation", str(tmp_path / "a.mp4"))) == 0
    from PIL import Image

    with Image.open(out) as im:
        assert im.mode in ("RGB;16", "I;16", "RGB") or "16" in str(im.tile)
    import cv2

    raw = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    assert (tmp_path / "a.mp4").stat().st_size > 0
    assert main(_base(files, weights, tmp_path / "x.jpg", "--bit-depth", "16")) == 2


def test_weight_sweep_contact_sheet(files: dict[str, Path], weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep.png"
    assert main(_base(files, weights, out, "--content-weight", "1", "--style-weight", "10,1000")) == 0
    assert (tmp_path / "sweep_c1_s10.png").exists() and (tmp_path / "sweep_c1_s1000.png").exists()
    sheet = read_image(out).rgb
    assert sheet.shape[1] > 2 * 256
    record = json.loads((tmp_path / "sweep.png.json").read_text())
    assert [r["style_weight"] for r in record["renders"]] == [10.0, 1000.0]


def test_grid_is_resumable(
    files: dict[str, Path], weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos, styles, out = tmp_path / "photos", tmp_path / "styles", tmp_path / "grid"
    photos.mkdir()
    styles.mkdir()
    write_image(photos / "a.png", _img(48, 64, 3))
    write_image(photos / "b.png", _img(64, 48, 4))
    write_image(styles / "s1.png", _img(64, 64, 5))
    write_image(styles / "s2.png", _img(50, 60, 6))
    argv = [
        "stylize",
        str(photos),
        "--style",
        str(styles),
        "-o",
        str(out),
        "--size",
        "40",
        "--iterations",
        "2",
        "--coarse-iterations",
        "2",
        "--min-scale",
        "32",
        "--weights",
        str(weights),
    ]
    assert main(argv) == 0
    names = sorted(p.name for p in out.glob("*__*.png"))
    assert names == ["a__s1.png", "a__s2.png", "b__s1.png", "b__s2.png"]
    assert (out / "contact_sheet.png").exists()
    mtime = (out / "a__s1.png").stat().st_mtime_ns
    (out / "b__s2.png").unlink()
    capsys.readouterr()
    assert main(argv) == 0
    assert (out / "a__s1.png").stat().st_mtime_ns == mtime
    assert (out / "b__s2.png").exists()
    assert "skipped 3 finished pairs" in capsys.readouterr().err
    record = json.loads((tmp_path / "grid.json").read_text())
    assert len(record["done"]) == 1 and len(record["skipped"]) == 3


def test_deterministic_under_seed(files: dict[str, Path], weights: Path, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    assert main(_base(files, weights, a, "--init", "noise", "--seed", "3")) == 0
    assert main(_base(files, weights, b, "--init", "noise", "--seed", "3")) == 0
    assert main(_base(files, weights, c, "--init", "noise", "--seed", "4")) == 0
    assert np.array_equal(read_image(a).rgb, read_image(b).rgb)
    assert not np.array_equal(read_image(a).rgb, read_image(c).rgb)


def test_mask_and_preserve_color(files: dict[str, Path], weights: Path, tmp_path: Path) -> None:
    mask = np.zeros((48, 64), np.float32)
    mask[:, :32] = 1
    write_image(tmp_path / "mask.png", np.repeat(mask[:, :, None], 3, axis=2))
    out = tmp_path / "m.png"
    argv = _base(files, weights, out, "--mask", str(tmp_path / "mask.png"), "--preserve-color", "histogram")
    assert main(argv) == 0
    write_image(tmp_path / "bad_mask.png", np.zeros((30, 30, 3), np.float32))
    err_argv = _base(files, weights, tmp_path / "n.png", "--mask", str(tmp_path / "bad_mask.png"))
    assert main(err_argv) == 2


def test_bad_inputs(
    files: dict[str, Path], weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_image(tmp_path / "tiny.png", _img(20, 20, 7))
    argv = _base(files, weights, tmp_path / "o.png")
    argv[3] = str(tmp_path / "tiny.png")
    assert main(argv) == 2
    assert "at least 32 px" in capsys.readouterr().err
    (tmp_path / "bad.pth").write_bytes(b"\x80\x02garbage")
    assert main(_base(files, tmp_path / "bad.pth", tmp_path / "o.png")) == 2
    assert "weights" in capsys.readouterr().err
    assert main(_base(files, weights, tmp_path / "o.png", "--style-layers", "relu9_1")) == 2
    assert main([*_base(files, weights, tmp_path / "o.gif")]) == 2


def test_size_beyond_memory_suggests_tiling(
    files: dict[str, Path],
    weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import easel.style.transfer as transfer

    monkeypatch.setattr(transfer, "available_memory", lambda: 64 * 2**20)
    argv = _base(files, weights, tmp_path / "o.png")
    argv[argv.index("--size") + 1] = "4096"
    assert main(argv) == 2
    assert "--tile-size" in capsys.readouterr().err


def test_ctrl_c_saves_current_image(
    files: dict[str, Path], weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import easel.style.transfer as transfer

    real = transfer.total_loss
    calls = {"n": 0}

    def interrupting(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transfer, "total_loss", interrupting)
    out = tmp_path / "partial.png"
    assert main(_base(files, weights, out)) == 130
    assert out.exists()
    assert json.loads((tmp_path / "partial.png.json").read_text())["result"]["status"] == "interrupted"


def test_nan_keeps_last_good_image(
    files: dict[str, Path], weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import easel.style.transfer as transfer

    real = transfer.total_loss
    calls = {"n": 0}

    def exploding(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        terms = real(*args, **kwargs)  # type: ignore[arg-type]
        if calls["n"] == 3:
            return transfer.LossTerms(
                terms.total * float("nan"), terms.content, terms.style, terms.tv, terms.per_style
            )
        return terms

    monkeypatch.setattr(transfer, "total_loss", exploding)
    out = tmp_path / "nan.png"
    assert main(_base(files, weights, out)) == 1
    assert np.isfinite(read_image(out).rgb).all()
    assert json.loads((tmp_path / "nan.png.json").read_text())["result"]["status"] == "non-finite"


def test_tiled_output(files: dict[str, Path], weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiled.png"
    argv = _base(files, weights, out, "--tile-size", "48", "--tile-overlap", "8")
    argv[argv.index("--size") + 1] = "96"
    assert main(argv) == 0
    assert read_image(out).rgb.shape == (72, 96, 3)
    record = json.loads((tmp_path / "tiled.png.json").read_text())
    assert record["result"]["evaluations"] == 3 + 3 * 6  # coarse scale + 2 rows x 3 columns of tiles


@pytest.mark.slow
def test_demo_runs(tmp_path: Path, tmp_easel_home: Path) -> None:
    from easel.cli import stylize
    from easel.cli._gallery import Gallery

    gallery = Gallery(tmp_path / "demo")
    stylize.demo(gallery)
    assert not gallery.failures
    assert (tmp_path / "demo" / "stylize.png").exists()
    assert "RANDOM-INITIALIZED" in gallery.entries[0].note


def test_coarser_scales_are_tiled_only_when_they_do_not_fit(
    weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel.style import transfer

    content, style = _img(144, 192, 1), _img(64, 64, 2)
    opts = transfer.StyleOptions(
        size=192,
        min_scale=48,
        iterations=2,
        coarse_iterations=2,
        tile_size=48,
        tile_overlap=8,
        weights=weights,
    )
    # scales 48 (whole), 96x72 (whole if it fits, else 3x2 tiles), 192x144 (finest: 5x4 tiles)
    fits = transfer.Stylizer(opts).run(content, [style])
    assert len(fits.losses) == 2 + 2 + 2 * 20
    monkeypatch.setattr(transfer, "memory_budget", lambda device: 1)
    tight = transfer.Stylizer(opts).run(content, [style])
    assert len(tight.losses) == 2 + 2 * 6 + 2 * 20


# ---------------------------------------------------------------- reliability (#8): outputs planned before work


def _one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines, "no error message"
    assert "Traceback" not in err
    return lines[-1]


def _no_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the encoder is loaded: the checks must come before any work."""
    import easel.style.transfer as transfer

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the encoder was loaded before the outputs were checked")

    monkeypatch.setattr(transfer.Stylizer, "__init__", refuse)


def test_existing_output_and_record_not_replaced_without_overwrite(
    files: dict[str, Path],
    weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "art.png"
    record = tmp_path / "art.png.json"
    record.write_text("precious")
    _no_encoder(monkeypatch)
    assert main(_base(files, weights, out)) == 2
    assert "art.png.json" in _one_line_error(capsys.readouterr().err)
    assert record.read_text() == "precious" and not out.exists()
    out.write_bytes(b"keep")
    record.unlink()
    assert main(_base(files, weights, out)) == 2
    assert "--overwrite" in _one_line_error(capsys.readouterr().err)
    assert out.read_bytes() == b"keep"


def test_sweep_renders_are_planned_outputs(
    files: dict[str, Path],
    weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _no_encoder(monkeypatch)
    out = tmp_path / "sweep.png"
    # the content photo has the name of one sweep render: refused before any work
    content = files["content"].rename(tmp_path / "sweep_c1_s10.png")
    before = content.read_bytes()
    argv = _base({**files, "content": content}, weights, out, "--style-weight", "10,1000")
    assert main(argv) == 2
    assert "would overwrite an input" in _one_line_error(capsys.readouterr().err)
    assert content.read_bytes() == before and not out.exists()
    # an existing render (not an input) is not replaced without --overwrite
    content = content.rename(tmp_path / "photo.png")
    (tmp_path / "sweep_c1_s1000.png").write_bytes(b"keep")
    argv = _base({**files, "content": content}, weights, out, "--style-weight", "10,1000")
    assert main(argv) == 2
    assert "sweep_c1_s1000.png" in _one_line_error(capsys.readouterr().err)
    assert (tmp_path / "sweep_c1_s1000.png").read_bytes() == b"keep"
    # two sweep values that name the same file
    assert main(_base({**files, "content": content}, weights, out, "--style-weight", "10,10.0")) == 2
    assert "same file" in _one_line_error(capsys.readouterr().err)


def test_steps_folder_not_overwritten(
    files: dict[str, Path],
    weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    steps = tmp_path / "art_steps"
    steps.mkdir()
    (steps / "step_00002.png").write_bytes(b"keep")
    _no_encoder(monkeypatch)
    assert main(_base(files, weights, tmp_path / "art.png", "--save-every", "2")) == 2
    assert "--save-every" in _one_line_error(capsys.readouterr().err)
    assert (steps / "step_00002.png").read_bytes() == b"keep"


def test_grid_into_its_content_folder_is_refused(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "a.png", _img(48, 64, 3))
    style = write_image(tmp_path / "s.png", _img(64, 64, 5))
    _no_encoder(monkeypatch)
    for out in (photos, photos / "grid"):
        argv = ["stylize", str(photos), "--style", str(style), "-o", str(out), "--weights", str(weights)]
        assert main(argv) == 2
        assert "input folder" in _one_line_error(capsys.readouterr().err)
    assert sorted(p.name for p in photos.iterdir()) == ["a.png"]


def test_style_weight_that_is_not_a_number(
    files: dict[str, Path], weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _base(files, weights, tmp_path / "o.png")
    argv[argv.index("--style") + 1] = f"{files['style1']}:abc"
    assert main(argv) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "--style" in line and "'abc' is not a number" in line and "no such file" not in line


def test_huge_size_names_size(
    files: dict[str, Path],
    weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import easel.style.transfer as transfer

    monkeypatch.setattr(transfer, "memory_budget", lambda device: 8 * 2**30)
    _no_encoder(monkeypatch)
    argv = _base(files, weights, tmp_path / "o.png", "--tile-size", "1024")
    argv[argv.index("--size") + 1] = "100000"
    assert main(argv) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "--size 100000 (100000x75000 px) needs about" in line and "smaller --size" in line
    assert "out of memory" not in line and "--max-size" not in line


def test_interrupt_at_a_coarse_scale_saves_image_record_and_animation(
    files: dict[str, Path],
    weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from easel.style.recording import SnapshotRecorder

    real = SnapshotRecorder.__call__

    def interrupting(self: SnapshotRecorder, state: object) -> bool:
        if getattr(state, "step", 0) == 2:  # scale 1 of 2 (32x24) is still running
            raise KeyboardInterrupt
        return real(self, state)  # type: ignore[arg-type]

    monkeypatch.setattr(SnapshotRecorder, "__call__", interrupting)
    out, anim = tmp_path / "partial.png", tmp_path / "partial.gif"
    argv = _base(files, weights, out, "--animation", str(anim))
    argv[argv.index("--size") + 1] = "64"
    assert main(argv) == 130
    assert read_image(out).rgb.shape == (48, 64, 3)  # the asked size, not the coarse scale's
    record = json.loads((tmp_path / "partial.png.json").read_text())
    assert record["status"] == "interrupted" and record["result"]["status"] == "interrupted"
    from PIL import Image

    with Image.open(anim) as gif:
        assert gif.size == (64, 48) and getattr(gif, "n_frames", 1) == record["animation"]["frames"] >= 1


def test_sigterm_is_treated_like_ctrl_c(
    files: dict[str, Path], weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    from easel.style.recording import SnapshotRecorder

    real = SnapshotRecorder.__call__

    def terminated(self: SnapshotRecorder, state: object) -> bool:
        if getattr(state, "step", 0) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # the CLI turns it into an interrupt
        return real(self, state)  # type: ignore[arg-type]

    monkeypatch.setattr(SnapshotRecorder, "__call__", terminated)
    out = tmp_path / "term.png"
    assert main(_base(files, weights, out, "--save-every", "1")) == 143
    assert read_image(out).rgb.shape == (36, 48, 3)
    assert json.loads((tmp_path / "term.png.json").read_text())["status"] == "interrupted"


def test_interrupted_sweep_keeps_renders_and_sheet(
    files: dict[str, Path], weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import easel.style.grid as grid

    real = grid.Stylizer.run
    calls = {"n": 0}

    def second_interrupted(self: object, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        result = real(self, *args, **kwargs)  # type: ignore[arg-type]
        if calls["n"] == 2:
            result.status = "interrupted"
        return result

    monkeypatch.setattr(grid.Stylizer, "run", second_interrupted)
    out = tmp_path / "sweep.png"
    assert main(_base(files, weights, out, "--style-weight", "10,100,1000")) == 130
    assert (
        out.exists()
        and (tmp_path / "sweep_c1_s10.png").exists()
        and (tmp_path / "sweep_c1_s100.png").exists()
    )
    assert not (tmp_path / "sweep_c1_s1000.png").exists()
    record = json.loads((tmp_path / "sweep.png.json").read_text())
    assert record["status"] == "interrupted"
    assert [r["status"] for r in record["renders"]] == ["finished", "interrupted"]


def test_interrupted_grid_saves_finished_cells_sheet_and_record(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import easel.style.grid as grid

    photos, out = tmp_path / "photos", tmp_path / "grid"
    photos.mkdir()
    write_image(photos / "a.png", _img(48, 64, 3))
    write_image(photos / "b.png", _img(64, 48, 4))
    style = write_image(tmp_path / "s1.png", _img(64, 64, 5))
    real = grid.Stylizer.run
    calls = {"n": 0}

    def second_interrupted(self: object, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        result = real(self, *args, **kwargs)  # type: ignore[arg-type]
        if calls["n"] == 2:
            result.status = "interrupted"
        return result

    monkeypatch.setattr(grid.Stylizer, "run", second_interrupted)
    argv = ["stylize", str(photos), "--style", str(style), "-o", str(out), "--size", "40", "--quiet"]
    argv += ["--iterations", "2", "--coarse-iterations", "2", "--min-scale", "32", "--weights", str(weights)]
    assert main(argv) == 130
    assert sorted(p.name for p in out.iterdir()) == ["a__s1.png", "contact_sheet.png"]
    record = json.loads((tmp_path / "grid.json").read_text())
    assert record["status"] == "interrupted" and len(record["done"]) == 1
    # the next run resumes: only the unfinished cell is rendered
    monkeypatch.setattr(grid.Stylizer, "run", real)
    assert main(argv) == 0
    record = json.loads((tmp_path / "grid.json").read_text())
    assert record["status"] == "finished" and [Path(p).name for p in record["done"]] == ["b__s1.png"]
