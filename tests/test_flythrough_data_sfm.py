"""Structure from motion with pycolmap: a real run on synthetic views, and the wrapper's error paths."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from easel.cameras import Intrinsics, read_colmap_model
from easel.errors import InputError
from easel.flythrough.alignment import model_pose_errors
from easel.flythrough.sfm import SfmOptions, choose_matcher, list_images, run_sfm
from easel.flythrough.synthetic import SyntheticScene, arc_poses, render_view, write_synthetic_scene
from easel.io.images import write_image
from easel.options import OptionError
from easel.progress import ProgressUpdate


def _noise(path: Path, shape: tuple[int, int], seed: int) -> None:
    write_image(path, np.random.default_rng(seed).uniform(0, 1, (*shape, 3)).astype(np.float32))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> SyntheticScene:
    """8 views of the synthetic room, one more of another size, and a photo of noise SfM cannot place."""
    shape = (96, 128)
    folder = tmp_path_factory.mktemp("sfm") / "data"
    scene = write_synthetic_scene(folder, num_views=8, shape=shape, points=200, supersample=2)
    poses, _ = arc_poses(15, shape)  # view 7 of 15 lies between views 3 and 4 of 8
    write_image(
        scene.images_dir / "view_003b.png", render_view(poses[7], Intrinsics.from_fov(160, 120, 55.0))
    )
    _noise(scene.images_dir / "noise.png", shape, 0)
    return scene


def test_sfm_recovers_the_true_cameras(scene: SyntheticScene, tmp_path: Path) -> None:
    updates: list[ProgressUpdate] = []
    result = run_sfm(scene.images_dir, tmp_path / "out", progress=updates.append)
    assert result.unregistered == ["noise.png"]
    assert result.registered == sorted([*scene.names, "view_003b.png"])
    assert result.matcher == "exhaustive"
    # undistorted to PINHOLE, one camera per image size (mixed sizes), written and read back
    assert {cam.model for cam in result.model.cameras.values()} == {"PINHOLE"}
    assert len(result.model.cameras) >= 2
    assert read_colmap_model(result.model_dir).image_names() == result.registered
    assert sorted(p.name for p in result.images_dir.iterdir()) == result.registered
    assert result.model.num_points > 50
    # the cameras match the truth after a similarity alignment
    errors = model_pose_errors(result.model, read_colmap_model(scene.folder))
    assert errors.missing == [] and errors.summary()["rotation_deg_max"] < 1.0
    assert errors.summary()["position_max"] < 0.1  # metres, in a 8 m room
    stages = [u.stage for u in updates]
    assert stages[0] == "features" and {"matching", "mapping", "undistortion"} <= set(stages)
    assert updates[-1].step == updates[-1].total
    assert set(result.timings) == {"features", "matching", "mapping", "undistortion"}
    # asking for every photo to register fails, naming the one that did not
    with pytest.raises(InputError, match=r"registered only 9 of 10 photos .*not registered: noise\.png"):
        run_sfm(scene.images_dir, tmp_path / "out2", SfmOptions(min_registered=1.0, undistort=False))


def test_sequential_matching_on_video_like_frames(scene: SyntheticScene, tmp_path: Path) -> None:
    options = SfmOptions(matcher="sequential", overlap=3, undistort=False)
    result = run_sfm(scene.images_dir, tmp_path / "out", options, image_names=scene.names)
    assert result.matcher == "sequential" and result.registered == scene.names
    assert (
        result.images_dir == scene.images_dir
        and result.model_dir.parent == tmp_path / "out" / "sfm" / "sparse"
    )
    assert {cam.model for cam in result.model.cameras.values()} == {"SIMPLE_RADIAL"}
    assert len(result.model.cameras) == 1  # one image size: one shared camera
    assert (
        model_pose_errors(result.model, read_colmap_model(scene.folder)).summary()["rotation_deg_max"] < 1.0
    )


def test_interrupting_stops_colmap_at_once(scene: SyntheticScene, tmp_path: Path) -> None:
    """Ctrl-C (here: an exception from the progress callback) stops the COLMAP child process."""
    out = tmp_path / "out"

    def interrupt(update: ProgressUpdate) -> None:
        if update.stage == "matching":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sfm(scene.images_dir, out, progress=interrupt)
    assert (out / "sfm" / "colmap.log").is_file() and not (out / "undistorted").exists()
    log = (out / "sfm" / "colmap.log").resolve()
    proc = Path("/proc")
    if proc.is_dir():  # Linux: no process still writes COLMAP's log (the child's stderr)
        running = []
        for fd in proc.glob("[0-9]*/fd/2"):
            try:
                if Path(os.readlink(fd)) == log:
                    running.append(fd)
            except OSError:  # a process that ended meanwhile, or not ours
                continue
        assert running == []


def test_photos_sfm_cannot_use_fail_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "noise"
    folder.mkdir()
    for i in range(4):
        _noise(folder / f"n{i}.png", (48, 64), i)
    with pytest.raises(InputError, match=r"(no reconstruction|registered only)"):
        run_sfm(folder, tmp_path / "out")


def test_bad_input_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        run_sfm(tmp_path / "missing", tmp_path / "out")
    folder = tmp_path / "photos"
    folder.mkdir()
    with pytest.raises(InputError, match="no photos"):
        run_sfm(folder, tmp_path / "out")
    for i in range(2):
        _noise(folder / f"p{i}.png", (16, 16), i)
    with pytest.raises(InputError, match="at least 3 photos; got 2"):
        run_sfm(folder, tmp_path / "out")
    (folder / "p2.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"p2\.png: cannot read this photo"):
        run_sfm(folder, tmp_path / "out")
    with pytest.raises(InputError, match=r"no photo 'p9\.png'"):
        run_sfm(folder, tmp_path / "out", image_names=["p0.png", "p9.png"])
    assert not (tmp_path / "out").exists()  # nothing was written
    assert list_images(folder) == ["p0.png", "p1.png", "p2.png"]


def test_options_and_matcher_choice() -> None:
    with pytest.raises(OptionError, match="matcher"):
        SfmOptions(matcher="vocab").validate()
    with pytest.raises(OptionError, match="min_registered"):
        SfmOptions(min_registered=1.5).validate()
    with pytest.raises(OptionError, match="max_features"):
        SfmOptions(max_features=0).validate()
    frames = [f"frame_{i:05d}.jpg" for i in range(1, 61)]
    assert choose_matcher(frames) == "sequential"
    assert choose_matcher(frames[:30]) == "exhaustive"  # few: every pair is affordable
    photos = [f"IMG_{i * 7}.jpg" for i in range(60)]  # numbered but not consecutive frames
    assert choose_matcher(photos) == "exhaustive"
    assert choose_matcher([f"{i}.jpg" for i in range(100)]) == "sequential"  # many
    assert choose_matcher(frames, "exhaustive") == "exhaustive"
