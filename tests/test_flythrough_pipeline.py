"""``easel.flythrough.pipeline``: photos -> scene folder (``fit_photos``), scene -> video (``render_video``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from easel.errors import InputError
from easel.flythrough.options import FitOptions, RenderOptions
from easel.flythrough.pipeline import fit_photos, render_video
from easel.flythrough.synthetic import SyntheticScene, write_synthetic_scene
from easel.progress import ProgressUpdate

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"size": 32, "width": 2, "levels": 2, "holdout_every": 4}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SyntheticScene:
    return write_synthetic_scene(
        tmp_path_factory.mktemp("fly") / "data", 6, (24, 32), points=2000, supersample=1
    )


@pytest.fixture(scope="module")
def scene(data: SyntheticScene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fitted") / "scene"
    fit_photos(data.images_dir, out, FitOptions(steps=3, **TINY), colmap=data.model_dir)
    return out


def test_fit_photos_writes_the_scene_and_says_what_it_did(data: SyntheticScene, tmp_path: Path) -> None:
    images = tmp_path / "images"
    shutil.copytree(data.images_dir, images)
    shutil.copy(images / "view_001.png", images / "extra.png")  # a photo the model has no camera for
    notices: list[str] = []
    updates: list[ProgressUpdate] = []
    out = tmp_path / "scene"
    fitted = fit_photos(
        images,
        out,
        FitOptions(steps=4, eval_every=2, **TINY),
        colmap=data.model_dir,
        progress=updates.append,
        notice=notices.append,
    )
    assert fitted.status == "finished" and fitted.steps == 4 and fitted.views == 6
    assert fitted.unregistered == ["extra.png"] and fitted.sfm is None and fitted.resumed_from is None
    assert len(notices) == 1 and "extra.png" in notices[0] and "not registered" in notices[0]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in fitted.written)
    assert {"checkpoint.pt", "model.pt", "config.json", "metrics.json", "heldout.npz"} == {
        p.name for p in fitted.written
    }
    assert set(fitted.timings) == {"read_colmap", "read", "fit"}
    assert np.isfinite(fitted.metrics["psnr"]) and fitted.metrics["held_out_views"] == [
        "view_000.png",
        "view_004.png",
    ]
    fits = [u for u in updates if u.stage == "fit"]
    assert fits[-1].step == 4 and "loss" in fits[-1].metrics
    assert any("psnr" in u.metrics for u in fits)  # the held-out PSNR, once measured, rides along


def test_an_interrupted_fit_saves_a_checkpoint_and_resumes(data: SyntheticScene, tmp_path: Path) -> None:
    def interrupt(update: ProgressUpdate) -> None:
        if update.stage == "fit" and update.step == 2:
            raise KeyboardInterrupt

    out = tmp_path / "scene"
    options = FitOptions(steps=5, **TINY)
    first = fit_photos(data.images_dir, out, options, colmap=data.model_dir, progress=interrupt)
    assert first.status == "interrupted" and 0 < first.steps < 5
    assert (out / "checkpoint.pt").is_file() and (out / "model.pt").is_file()
    notices: list[str] = []
    second = fit_photos(
        data.images_dir, out, options, colmap=data.model_dir, resume=True, notice=notices.append
    )
    assert second.status == "finished" and second.steps == 5 and second.resumed_from == first.steps
    assert notices == [f"resuming at step {first.steps}"]


def test_a_hook_stops_the_fit_and_the_scene_is_kept(data: SyntheticScene, tmp_path: Path) -> None:
    fitted = fit_photos(
        data.images_dir,
        tmp_path / "scene",
        FitOptions(steps=50, **TINY),
        colmap=data.model_dir,
        on_step=lambda state: state.step >= 2,
    )
    assert fitted.status == "stopped" and fitted.steps < 50
    assert (tmp_path / "scene" / "model.pt").is_file()


def test_nothing_is_made_before_the_inputs_are_checked(data: SyntheticScene, tmp_path: Path) -> None:
    out = tmp_path / "scene"
    with pytest.raises(InputError, match="no checkpoint to resume"):
        fit_photos(data.images_dir, out, FitOptions(**TINY), colmap=data.model_dir, resume=True)
    with pytest.raises(InputError, match="no such folder"):
        fit_photos(tmp_path / "nothing", out, FitOptions(**TINY), colmap=data.model_dir)
    images = tmp_path / "renamed"
    shutil.copytree(data.images_dir, images)
    for p in images.iterdir():
        p.rename(p.with_name("IMG_" + p.name))
    with pytest.raises(InputError, match="did you mean IMG_view_000.png"):
        fit_photos(images, out, FitOptions(**TINY), colmap=data.model_dir)
    assert not out.exists()


def test_structure_from_motion_runs_without_a_model_seeded_by_the_fit(
    data: SyntheticScene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``colmap``, SfM runs into SCENE/colmap with the fit's seed (pycolmap stubbed: its own tests)."""
    from easel.cameras.colmap import read_colmap_model
    from easel.flythrough import sfm

    seen: dict[str, Any] = {}

    def fake_run_sfm(images: Path, work: Path, options: sfm.SfmOptions, **kwargs: Any) -> sfm.SfmResult:
        seen.update(images=images, work=work, options=options)
        model = read_colmap_model(data.model_dir)
        return sfm.SfmResult(model, data.model_dir, data.images_dir, list(data.names), [], "exhaustive")

    monkeypatch.setattr(sfm, "run_sfm", fake_run_sfm)
    out = tmp_path / "scene"
    fitted = fit_photos(
        data.images_dir,
        out,
        FitOptions(steps=1, seed=7, **TINY),
        sfm_options=sfm.SfmOptions(matcher="exhaustive", seed=1),
    )
    assert seen["work"] == out / "colmap" and seen["options"].seed == 7
    assert seen["options"].matcher == "exhaustive"
    assert fitted.sfm is not None and fitted.sfm["registered"] == 6 and "sfm" in fitted.timings


def test_render_video_writes_the_frames_and_shows_them(scene: Path, tmp_path: Path) -> None:
    from easel.io.video import probe_video

    shown: list[int] = []
    video = render_video(
        scene,
        tmp_path / "clip.mp4",
        RenderOptions(seconds=1.0, fps=5, size=40),
        on_frame=lambda i, frame: shown.append(i) if frame.shape == (30, 40, 3) else None,
    )
    assert (video.frames, video.frames_planned, video.frame_size, video.status) == (
        5,
        5,
        (40, 30),
        "finished",
    )
    assert shown == [0, 1, 2, 3, 4]
    assert probe_video(tmp_path / "clip.mp4").num_frames == 5


def test_render_video_along_a_given_path_and_interrupted(scene: Path, tmp_path: Path) -> None:
    from easel.cameras import CameraPath
    from easel.flythrough.scene import Scene

    loaded = Scene.load(scene)
    cams = [v.camera for v in loaded.views[1:4]]
    path = CameraPath(np.stack([c.world_to_camera for c in cams]), cams[0].intrinsics, fps=3)
    video = render_video(loaded, tmp_path / "path", camera_path=path)
    assert video.frames == 3 and video.fps == 3 and len(list((tmp_path / "path").iterdir())) == 3

    def stop_after_two(update: ProgressUpdate) -> None:
        if update.step == 2:
            raise KeyboardInterrupt

    cut = render_video(loaded, tmp_path / "cut.gif", RenderOptions(seconds=1, fps=6), progress=stop_after_two)
    assert cut.status == "interrupted" and cut.frames == 2 and (tmp_path / "cut.gif").is_file()

    def stop_at_once(update: ProgressUpdate) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_video(loaded, tmp_path / "none.gif", RenderOptions(seconds=1, fps=6), progress=stop_at_once)
    assert not (tmp_path / "none.gif").exists()
