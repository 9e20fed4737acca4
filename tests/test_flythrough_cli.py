"""``easel flythrough fit / render / eval / export`` on tiny synthetic scenes: outputs, bad input, resume."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easel.cli import main
from easel.cli._common import CommandContext
from easel.flythrough.synthetic import SyntheticScene, write_synthetic_scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--size", "32", "--width", "2", "--levels", "2", "--holdout-every", "4"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SyntheticScene:
    return write_synthetic_scene(
        tmp_path_factory.mktemp("fly") / "data", 6, (24, 32), points=3000, supersample=1
    )


@pytest.fixture(scope="module")
def scene(data: SyntheticScene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fitted") / "scene"
    code = main(
        [
            "flythrough",
            "fit",
            str(data.images_dir),
            "--colmap",
            str(data.model_dir),
            "-o",
            str(out),
            "--steps",
            "4",
            *TINY,
        ]
    )
    assert code == 0
    return out


def _run(argv: list[str | Path], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _copy(data: SyntheticScene, tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    shutil.copytree(data.images_dir, images)
    model = tmp_path / "model"
    shutil.copytree(data.model_dir, model)
    return images, model


def test_fit_writes_a_scene_folder_and_its_record(scene: Path) -> None:
    assert sorted(p.name for p in scene.iterdir()) == [
        "checkpoint.pt",
        "config.json",
        "heldout.npz",
        "metrics.json",
        "model.pt",
    ]
    metrics = json.loads((scene / "metrics.json").read_text())
    assert metrics["held_out_views"] == ["view_000.png", "view_004.png"]
    assert metrics["steps"] == 4 and metrics["status"] == "finished"
    assert "interpolated" in metrics["appearance"]
    assert np.isfinite(metrics["psnr"]) and np.isfinite(metrics["baseline_psnr"])
    record = json.loads(scene.with_name("scene.json").read_text())
    assert record["command"] == "flythrough fit" and record["status"] == "finished"


def test_render_along_the_input_cameras_writes_seconds_times_fps_frames(
    scene: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from easel.io.video import probe_video

    out = tmp_path / "frames"
    code, stdout, err = _run(
        ["flythrough", "render", scene, "-o", out, "--seconds", "1.5", "--fps", "4", "--size", "40"], capfd
    )
    assert code == 0, err
    info = probe_video(out)
    assert info.num_frames == 6 and (info.width, info.height) == (40, 30)
    assert "6 frames" in stdout
    record = json.loads((tmp_path / "frames.json").read_text())
    assert record["frames"] == 6 and record["status"] == "finished"


def test_render_a_nerfstudio_camera_path(
    scene: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from easel.cameras.interpolate import write_colmap_camera_path
    from easel.flythrough.scene import Scene

    loaded = Scene.load(scene)
    cams = [loaded.views[1], loaded.views[2]]
    from easel.cameras import CameraPath

    path = CameraPath(np.stack([v.camera.world_to_camera for v in cams]), cams[0].camera.intrinsics, fps=5)
    write_colmap_camera_path(tmp_path / "path.json", path)
    out = tmp_path / "path.gif"
    code, _, err = _run(
        [
            "flythrough",
            "render",
            scene,
            "--camera-path",
            tmp_path / "path.json",
            "-o",
            out,
            "--exposure",
            "1",
        ],
        capfd,
    )
    assert code == 0, err
    with Image.open(out) as gif:
        assert gif.n_frames == 2 and gif.size == (32, 24)
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"), dtype=np.float32) / 255
    # the path's first camera is input view 1, one stop brighter
    expected = loaded.render_view(1, exposure=1.0)
    assert float(np.abs(first - expected).mean()) < 0.06


def test_eval_prints_and_writes_the_held_out_figures(
    scene: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    code, stdout, err = _run(["flythrough", "eval", scene, "-o", out], capfd)
    assert code == 0, err
    figures = json.loads(out.read_text())
    metrics = json.loads((scene / "metrics.json").read_text())
    assert figures["psnr"] == pytest.approx(metrics["psnr"], abs=1e-6)
    assert [v["name"] for v in figures["views"]] == ["view_000.png", "view_004.png"]
    assert "held-out mean: PSNR" in stdout and "view_004.png" in stdout
    assert (tmp_path / "eval.json.json").is_file()


def test_export_writes_the_coloured_points(
    scene: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cloud.ply"
    code, stdout, err = _run(["flythrough", "export", scene, "--points", out], capfd)
    assert code == 0, err
    header = out.read_bytes().split(b"end_header\n", 1)[0]
    assert b"element vertex 3000" in header and b"property uchar red" in header
    assert "3000 points" in stdout


def test_an_interrupted_fit_saves_and_resumes(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel.progress import ProgressUpdate

    reports: list[ProgressUpdate] = []

    def progress(ctx: CommandContext) -> Callable[[ProgressUpdate], None]:
        def report(update: ProgressUpdate) -> None:
            reports.append(update)
            if update.stage == "fit" and update.step == 3:
                ctx.signal = 2
                raise KeyboardInterrupt

        return report

    out = tmp_path / "scene"
    argv = [
        "flythrough",
        "fit",
        data.images_dir,
        "--colmap",
        data.model_dir,
        "-o",
        out,
        "--steps",
        "6",
        *TINY,
    ]
    with monkeypatch.context() as m:
        m.setattr(CommandContext, "progress", property(progress))
        code, _, err = _run(argv, capfd)
    assert code == 130, err
    assert "--resume" in err
    record = json.loads((tmp_path / "scene.json").read_text())
    assert record["status"] == "interrupted" and 0 < record["steps"] < 6
    assert (out / "checkpoint.pt").is_file() and (out / "model.pt").is_file()
    code, _, err = _run([*argv, "--resume"], capfd)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 6 and metrics["status"] == "finished"
    # without --resume the folder is not replaced
    code, _, err = _run(argv, capfd)
    assert code == 2 and "exists" in _one_line(err)


def test_photos_the_model_does_not_hold_are_skipped_with_a_notice(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images, model = _copy(data, tmp_path)
    shutil.copy(images / "view_001.png", images / "extra.png")  # "SfM could not register it"
    code, _, err = _run(
        ["flythrough", "fit", images, "--colmap", model, "-o", tmp_path / "s", "--steps", "1", *TINY], capfd
    )
    assert code == 0, err
    assert "extra.png" in err and "not registered" in err


def test_a_model_whose_names_do_not_match_the_folder_is_one_line(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images, model = _copy(data, tmp_path)
    for p in images.iterdir():
        p.rename(p.with_name("IMG_" + p.name))
    code, _, err = _run(
        ["flythrough", "fit", images, "--colmap", model, "-o", tmp_path / "s", "--steps", "1", *TINY], capfd
    )
    line = _one_line(err)
    assert (
        code == 2
        and "none of the COLMAP model's 6 images" in line
        and "did you mean IMG_view_000.png" in line
    )
    assert not (tmp_path / "s").exists()


def test_too_few_matching_photos_fail_clearly(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images, model = _copy(data, tmp_path)
    for name in ("view_002.png", "view_003.png", "view_004.png", "view_005.png"):
        (images / name).unlink()
    code, _, err = _run(
        ["flythrough", "fit", images, "--colmap", model, "-o", tmp_path / "s", "--steps", "1", *TINY], capfd
    )
    line = _one_line(err)
    assert code == 2 and "only 2 photos have cameras" in line and "at least 3" in line


def test_a_broken_photo_is_named(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images, model = _copy(data, tmp_path)
    (images / "view_003.png").write_bytes(b"not a png")
    code, _, err = _run(
        ["flythrough", "fit", images, "--colmap", model, "-o", tmp_path / "s", "--steps", "1", *TINY], capfd
    )
    assert code == 2 and "view_003.png" in _one_line(err)


def test_mixed_photo_sizes_are_fitted_at_their_own_size(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images, model = _copy(data, tmp_path)
    with Image.open(images / "view_002.png") as im:
        im.resize((64, 48)).save(images / "view_002.png")  # the camera says 32x24: the same aspect, scaled
    code, _, err = _run(
        [
            "flythrough",
            "fit",
            images,
            "--colmap",
            model,
            "-o",
            tmp_path / "s",
            "--steps",
            "2",
            "--size",
            "48",
            "--width",
            "2",
            "--levels",
            "2",
            "--holdout-every",
            "4",
        ],
        capfd,
    )
    assert code == 0, err
    views = json.loads((tmp_path / "s" / "config.json").read_text())["views"]
    sizes = {v["name"]: (v["width"], v["height"]) for v in views}
    assert sizes["view_002.png"] == (48, 36) and sizes["view_001.png"] == (32, 24)
    assert views[2]["fx"] == pytest.approx(views[1]["fx"] * 1.5)


def test_a_photo_whose_shape_does_not_fit_its_camera_is_refused(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images, model = _copy(data, tmp_path)
    with Image.open(images / "view_002.png") as im:
        im.resize((32, 32)).save(images / "view_002.png")
    code, _, err = _run(
        ["flythrough", "fit", images, "--colmap", model, "-o", tmp_path / "s", "--steps", "1", *TINY], capfd
    )
    line = _one_line(err)
    assert code == 2 and "view_002.png" in line and "32x32" in line and "32x24" in line


def test_a_scene_folder_over_its_photos_is_refused_even_with_overwrite(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images, model = _copy(data, tmp_path)
    before = sorted(p.name for p in images.iterdir())
    code, _, err = _run(
        ["flythrough", "fit", images, "--colmap", model, "-o", images, "--overwrite", *TINY], capfd
    )
    line = _one_line(err)
    assert code == 2 and "input" in line
    assert sorted(p.name for p in images.iterdir()) == before


def test_resume_without_a_checkpoint_and_bad_options_are_one_line(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    base = ["flythrough", "fit", data.images_dir, "--colmap", data.model_dir, "-o", tmp_path / "s"]
    code, _, err = _run([*base, "--resume"], capfd)
    assert code == 2 and "no checkpoint" in _one_line(err)
    code, _, err = _run([*base, "--levels", "9"], capfd)
    assert code == 2 and "--levels must be between 1 and 6" in _one_line(err)
    code, _, err = _run(["flythrough", "render", tmp_path, "-o", tmp_path / "v.mp4"], capfd)
    assert code == 2 and "not a fly-through scene" in _one_line(err)
    code, _, err = _run(["flythrough", "render", tmp_path, "-o", tmp_path / "v.mp4", "--fps", "0"], capfd)
    assert code == 2 and "--fps" in _one_line(err)


def test_without_colmap_structure_from_motion_runs_first_and_its_errors_are_one_line(
    data: SyntheticScene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "two"
    images.mkdir()
    for name in data.names[:2]:
        shutil.copy(data.images_dir / name, images / name)
    code, _, err = _run(
        ["flythrough", "fit", images, "-o", tmp_path / "s", "--matcher", "exhaustive", *TINY], capfd
    )
    line = _one_line(err)
    assert code == 2 and "structure from motion needs at least 3 photos" in line
    code, _, err = _run(["flythrough", "fit", images, "-o", tmp_path / "s2", "--max-features", "3"], capfd)
    assert code == 2 and "--max-features must be at least 64" in _one_line(err)
