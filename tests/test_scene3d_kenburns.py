"""The Ken Burns pipeline (easel.kenburns) and the `easel kenburns` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import easel
from easel.cameras import Camera, CameraPath, pose_from_center
from easel.cli import main
from easel.errors import InputError
from easel.scene3d.autozoom import crop_limits
from easel.scene3d.kenburns import KenBurnsOptions, kenburns
from easel.scene3d.synthetic import SyntheticView, layered_scene


@pytest.fixture(scope="module")
def scene_view() -> tuple[SyntheticView, object]:
    scene, cam = layered_scene(96, 72)
    return scene.render(Camera(cam)), cam


def test_public_api_exports() -> None:
    assert easel.kenburns is kenburns
    assert easel.KenBurnsOptions is KenBurnsOptions


def test_clip_frames(scene_view) -> None:  # type: ignore[no-untyped-def]
    view, _ = scene_view
    clip = kenburns(view.image, view.depth, duration_s=0.8, fps=10, shift=(0.05, 0.02))
    assert len(clip) == 8 and clip.fps == 10
    frames = clip[:]
    assert all(f.shape == (72, 96, 3) and f.dtype == np.float32 for f in frames)
    assert all(0.0 <= f.min() and f.max() <= 1.0 for f in frames)
    np.testing.assert_allclose(frames[0], view.image, atol=2e-5)  # the boomerang starts at the input view
    assert np.abs(frames[4] - view.image).mean() > 0.01  # and moves
    assert clip.frame_uint8(1).dtype == np.uint8
    assert len(clip.layers) >= 2  # the filled views were merged into the scene
    assert clip.shift == (0.05, 0.02)


def test_autozoom_and_options(scene_view) -> None:  # type: ignore[no-untyped-def]
    view, _ = scene_view
    opts = KenBurnsOptions(
        duration_s=0.3, fps=10, autozoom_grid=4, output_shape=(40, 64), boomerang=False, stereo=True
    )
    clip = kenburns(view.image, view.depth, options=opts)
    h, w = view.depth.shape
    limit_x, limit_y = crop_limits(w, h, opts.zoom)
    assert clip.shift is not None
    assert abs(clip.shift[0]) <= min(opts.max_shift, limit_x) + 1e-9
    assert abs(clip.shift[1]) <= min(opts.max_shift, limit_y) + 1e-9
    assert clip.stats["focus_depth"] >= clip.stats["near_depth"]
    assert clip[2].shape == (40, 128, 3)
    left, right = clip[2][:, :64], clip[2][:, 64:]
    assert np.abs(left - right).mean() > 0.001


def test_custom_path_and_validation(scene_view) -> None:  # type: ignore[no-untyped-def]
    view, cam = scene_view
    path = CameraPath(np.stack([np.eye(4), pose_from_center([0.1, 0.0, 0.3])]), cam, fps=5)
    clip = kenburns(view.image, view.depth, path=path)
    assert len(clip) == 2
    behind = CameraPath(np.stack([np.eye(4), pose_from_center([0.0, 0.0, -0.3])]), cam, fps=5)
    with pytest.raises(InputError, match="behind the input camera"):
        kenburns(view.image, view.depth, path=behind)


def test_bad_depth(scene_view) -> None:  # type: ignore[no-untyped-def]
    view, _ = scene_view
    with pytest.raises(InputError, match="but the image is 96x72"):
        kenburns(view.image, view.depth[:, :50], duration_s=0.2, fps=5, shift=(0, 0))
    bad = view.depth.copy()
    bad[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        kenburns(view.image, bad, duration_s=0.2, fps=5, shift=(0, 0))
    with pytest.raises(InputError, match="zoom"):
        kenburns(view.image, view.depth, zoom=0.5)


def test_constant_depth_is_a_flat_zoom(scene_view, caplog) -> None:  # type: ignore[no-untyped-def]
    view, _ = scene_view
    clip = kenburns(view.image, np.full((72, 96), 3.0, np.float32), duration_s=0.2, fps=10, shift=(0.0, 0.0))
    assert clip[1].shape == (72, 96, 3)
    assert "constant" in caplog.text


@pytest.fixture()
def rgbd_files(tmp_path: Path, scene_view) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    from easel.io.images import write_image

    view, _ = scene_view
    image = tmp_path / "scene.png"
    write_image(image, view.image)
    depth = tmp_path / "scene_depth.npy"
    np.save(depth, view.depth)
    return image, depth


def _kenburns(rgbd: tuple[Path, Path], out: Path, *extra: str) -> int:
    """``easel kenburns IMAGE --depth DEPTH -o OUT EXTRA...``."""
    image, depth = rgbd
    return main(["kenburns", str(image), "--depth", str(depth), "-o", str(out), *extra])


def test_cli_mp4(tmp_path: Path, rgbd_files) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "clip.mp4"
    code = _kenburns(rgbd_files, out, "--duration", "0.4", "--fps", "10", "-q")
    assert code == 0 and out.stat().st_size > 0
    record = json.loads((tmp_path / "clip.mp4.json").read_text())
    assert record["frames"] == 4 and record["frame_size"] == [96, 72]
    from easel.io.video import probe_video

    info = probe_video(out)
    assert (info.width, info.height) == (96, 72)


def test_cli_frames_ply_and_path(tmp_path: Path, rgbd_files) -> None:  # type: ignore[no-untyped-def]
    from easel.cameras import read_camera_path
    from easel.io.ply import read_ply

    frames = tmp_path / "frames"
    ply = tmp_path / "cloud.ply"
    path_json = tmp_path / "path.json"
    code = _kenburns(
        rgbd_files,
        frames,
        "--duration",
        "0.3",
        "--fps",
        "10",
        "--shift",
        "0.05,0",
        "--one-way",
        "--size",
        "64x48",
        "--export-ply",
        str(ply),
        "--export-path",
        str(path_json),
        "-q",
    )
    assert code == 0
    assert len(sorted(frames.glob("frame_*.png"))) == 3
    pts, cols = read_ply(ply)
    assert len(pts) >= 96 * 72 and cols.shape[1] == 3
    path = read_camera_path(path_json)
    assert len(path) == 3 and path.output_shape == (48, 64)
    # the written path renders again, identically sized
    again = tmp_path / "again"
    code = _kenburns(rgbd_files, again, "--camera-path", str(path_json), "-q")
    assert code == 0 and len(list(again.glob("frame_*.png"))) == 3


def test_cli_bad_inputs(tmp_path: Path, rgbd_files, capsys) -> None:  # type: ignore[no-untyped-def]
    bad_path = tmp_path / "bad.json"
    bad_path.write_text(json.dumps({"render_width": 64, "render_height": 48, "camera_path": [{"fov": 50}]}))
    code = _kenburns(rgbd_files, tmp_path / "x.mp4", "--camera-path", str(bad_path))
    assert code == 2
    assert "camera_path[0] has no 'camera_to_world' key" in capsys.readouterr().err
    code = _kenburns(rgbd_files, tmp_path / "x.avi")
    assert code == 2
    code = _kenburns(rgbd_files, tmp_path / "x.mp4", "--zoom", "0.5")
    assert code == 2
    assert "--zoom" in capsys.readouterr().err
    assert main(["kenburns", "--help"]) == 0


def test_cli_lama_without_weights(tmp_path: Path, rgbd_files, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EASEL_HOME", str(tmp_path / "home"))
    code = _kenburns(rgbd_files, tmp_path / "x.mp4", "--inpaint", "lama")
    assert code == 2
    err = capsys.readouterr().err
    assert "easel weights download big-lama" in err and "--inpaint-weights" in err


def test_fills_disocclusions_better_than_a_rubber_sheet() -> None:
    from easel.scene3d.autozoom import kenburns_path
    from easel.scene3d.render import GridLayer, Renderer
    from easel.scene3d.synthetic import disocclusion_mask

    scene, cam = layered_scene(160, 120)
    source = Camera(cam)
    view = scene.render(source)
    path = kenburns_path(cam, float(view.depth.min()), 1.3, (0.08, 0.03), num_frames=3, boomerang=False)
    clip = kenburns(view.image, view.depth, path=path)
    sheet = Renderer([GridLayer.from_rgbd(view.image, view.depth, cam, edge_threshold=np.inf)])
    gt = scene.render(path[2]).image
    mask = disocclusion_mask(scene, source, path[2], view.depth)
    assert mask.sum() > 50
    err_easel = float(((clip[2] - gt) ** 2)[mask].mean())
    err_sheet = float(((sheet.render(path[2]).image - gt) ** 2)[mask].mean())
    assert err_easel < 0.9 * err_sheet
