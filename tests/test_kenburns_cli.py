"""`easel kenburns` reliability: one output plan checked before work, out-of-range options refused
with one line naming the flag or file, Ctrl-C / SIGTERM keep the frames written so far; and the
API that the CLI now only calls (depth range, intrinsics, preflight, clip writer)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from easel.cameras import Camera
from easel.cli import main
from easel.errors import InputError
from easel.options import OptionError
from easel.scene3d import kenburns as kb
from easel.scene3d.clipwriter import EncodeOptions, check_clip_output, write_clip
from easel.scene3d.kenburns import KenBurnsClip, KenBurnsOptions, check_kenburns_options, kenburns
from easel.scene3d.synthetic import layered_scene


@pytest.fixture(scope="module")
def view() -> Any:
    scene, cam = layered_scene(64, 48)
    return scene.render(Camera(cam))


@pytest.fixture()
def rgbd(tmp_path: Path, view: Any) -> tuple[Path, Path]:
    from easel.io.images import write_image

    image = tmp_path / "scene.png"
    write_image(image, view.image)
    depth = tmp_path / "scene_depth.npy"
    np.save(depth, view.depth)
    return image, depth


def _run(rgbd: tuple[Path, Path], out: Path, *extra: str) -> int:
    image, depth = rgbd
    return main(["kenburns", str(image), "--depth", str(depth), "-o", str(out), *extra])


def _no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the heavy step fail loudly: the checks under test must come before it."""

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the Ken Burns pipeline ran before the input was refused")

    monkeypatch.setattr(kb, "kenburns", refuse)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("easel kenburns: error: ")
    return err


FAST = ("--duration", "0.2", "--fps", "10", "--shift", "0.03,0", "-q")


# ---------------------------------------------------------------- outputs planned before work


def test_export_path_cannot_be_the_record(tmp_path: Path, rgbd, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _no_work(monkeypatch)
    out = tmp_path / "clip.mp4"
    code = _run(rgbd, out, "--export-path", str(tmp_path / "clip.mp4.json"), *FAST)
    assert code == 2
    err = _one_line_error(capsys)
    assert "--export-path" in err and "same file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.png", "scene_depth.npy"]


def test_frame_folder_record_and_export_path_collide(tmp_path: Path, rgbd, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _no_work(monkeypatch)
    code = _run(rgbd, tmp_path / "frames", "--export-path", str(tmp_path / "frames.json"), *FAST)
    assert code == 2 and "same file" in _one_line_error(capsys)


def test_input_camera_path_named_like_the_record_is_kept(tmp_path: Path, rgbd, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from easel.cameras import CameraPath, Intrinsics, write_camera_path

    _no_work(monkeypatch)
    camera_path = tmp_path / "clip.mp4.json"
    write_camera_path(camera_path, CameraPath(np.eye(4)[None], Intrinsics.default(64, 48)))
    before = camera_path.read_bytes()
    code = _run(rgbd, tmp_path / "clip.mp4", "--camera-path", str(camera_path), "-q")
    assert code == 2
    assert "would overwrite an input file" in _one_line_error(capsys)
    assert camera_path.read_bytes() == before and not (tmp_path / "clip.mp4").exists()


def test_existing_export_ply_is_refused_before_work(tmp_path: Path, rgbd, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _no_work(monkeypatch)
    ply = tmp_path / "cloud.ply"
    ply.write_bytes(b"mine")
    code = _run(rgbd, tmp_path / "clip.mp4", "--export-ply", str(ply), *FAST)
    assert code == 2 and "--export-ply" in _one_line_error(capsys)
    assert ply.read_bytes() == b"mine"


# ---------------------------------------------------------------- out-of-range options


@pytest.mark.parametrize(
    ("extra", "flag", "words"),
    [
        (("--shift", "5,5"), "--shift", "moves the view off the picture"),
        (("--shift-x", "0.9"), "--shift", "moves the view off the picture"),
        (("--shift", "0.1,0", "--shift-y", "0.1"), "--shift", "cannot be combined"),
        (("--zoom", "100"), "--zoom", "between 1 and 10"),
        (("--zoom", "0.5"), "--zoom", "between 1 and 10"),
        (("--size", "100000x100000"), "--size", "too large (at most 8192 px"),
        (("--size", "1x100"), "--size", "at least 2x2"),
        (("--preset", "veryfastt"), "--preset", "is not a libx264 preset"),
        (("--crf", "99"), "--crf", "0..51 for MP4"),
        (("--fov", "0"), "--fov", "between 0 and 180"),
        (("--fps", "0"), "--fps", "> 0"),
        (("--duration", "1e9"), "--duration", "a clip has at most 200000"),
        (("--depth-range", "5,1"), "--depth-range", "0 < NEAR < FAR"),
        (("--inpaint", "lama", "--inpaint-weights", "missing.pt"), "--inpaint-weights", "no such file"),
    ],
)
def test_bad_options_are_one_line_naming_the_flag(  # type: ignore[no-untyped-def]
    tmp_path: Path, rgbd, capsys, monkeypatch, extra, flag, words
) -> None:
    _no_work(monkeypatch)
    code = _run(rgbd, tmp_path / "clip.mp4", "--duration", "0.2", "-q", *extra)
    assert code == 2
    err = _one_line_error(capsys)
    assert f"error: {flag} " in err and words in err
    assert not (tmp_path / "clip.mp4").exists() and not (tmp_path / "clip.mp4.json").exists()


def test_a_zoom_the_picture_cannot_give_is_reduced_with_a_notice(tmp_path: Path, capsys) -> None:
    from easel.io.images import write_image

    image = tmp_path / "photo.png"
    write_image(image, np.random.default_rng(0).random((48, 64, 3)).astype(np.float32))
    depth = np.full((48, 64), 5.0, np.float32)
    depth[:, :6] = 1.0  # a near object cut by the left border: the camera must stop before it
    np.save(tmp_path / "d.npy", depth)
    out = tmp_path / "clip.mp4"
    code = _run((image, tmp_path / "d.npy"), out, "--zoom", "2", "--duration", "0.2", "--fps", "10")
    assert code == 0
    err = capsys.readouterr().err
    assert "a zoom of 2 would take the camera through the nearest surface" in err
    assert "magnified 1.22x instead" in err
    record = json.loads((tmp_path / "clip.mp4.json").read_text())
    assert record["subject_zoom"] == pytest.approx(5.0 / (5.0 - 0.9))


def test_camera_path_with_fov_0_names_the_file_and_field(tmp_path: Path, rgbd, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "fly.json"
    cam = {"camera_to_world": np.eye(4).ravel().tolist(), "fov": 0}
    bad.write_text(json.dumps({"render_width": 64, "render_height": 48, "camera_path": [cam]}))
    code = _run(rgbd, tmp_path / "x.mp4", "--camera-path", str(bad), "-q")
    assert code == 2
    err = _one_line_error(capsys)
    assert f"{bad}: camera_path[0].fov must be between 0 and 180" in err and "--fov" not in err


def test_camera_path_with_a_huge_size_names_the_file(tmp_path: Path, rgbd, capsys) -> None:  # type: ignore[no-untyped-def]
    huge = tmp_path / "fly.json"
    cam = {"camera_to_world": np.eye(4).ravel().tolist(), "fov": 50}
    huge.write_text(json.dumps({"render_width": 100000, "render_height": 100000, "camera_path": [cam]}))
    code = _run(rgbd, tmp_path / "x.mp4", "--camera-path", str(huge), "-q")
    assert code == 2
    err = _one_line_error(capsys)
    assert f"{huge}: render size 100000x100000 is too large" in err and "memory" not in err


# ---------------------------------------------------------------- interruptions and plurals


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, frame: int, sig: int) -> None:
    real = KenBurnsClip.frame_uint8

    def frame_uint8(self: KenBurnsClip, index: int) -> Any:
        if index == frame:
            os.kill(os.getpid(), sig)  # the CLI's handler turns it into KeyboardInterrupt / Terminated
        return real(self, index)

    monkeypatch.setattr(KenBurnsClip, "frame_uint8", frame_uint8)


@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_interrupt_keeps_the_frames_written(
    tmp_path: Path, rgbd, capsys, monkeypatch, sig, code, word
) -> None:  # type: ignore[no-untyped-def]
    _interrupt_at(monkeypatch, 3, sig)
    frames = tmp_path / "frames"
    assert (
        _run(
            rgbd,
            frames,
            "--duration",
            "0.6",
            "--fps",
            "10",
            "--shift",
            "0.03,0",
            "--export-ply",
            str(tmp_path / "c.ply"),
        )
        == code
    )
    assert sorted(p.name for p in frames.iterdir()) == [f"frame_0000{i}.png" for i in (1, 2, 3)]
    record = json.loads((tmp_path / "frames.json").read_text())
    assert record["status"] == "interrupted" and record["frames"] == 3 and record["frames_planned"] == 6
    err = capsys.readouterr().err
    assert f"easel kenburns: {word}; kept the first 3 frames of 6 in {frames}" in err
    assert not (tmp_path / "c.ply").exists()  # only what was finished is written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_interrupted_mp4_is_a_playable_video(tmp_path: Path, rgbd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from easel.io.video import probe_video, read_frames

    _interrupt_at(monkeypatch, 2, signal.SIGINT)
    out = tmp_path / "clip.mp4"
    assert _run(rgbd, out, "--duration", "0.5", "--fps", "10", "--shift", "0.03,0", "-q") == 130
    info = probe_video(out)
    assert (info.width, info.height) == (64, 48)
    assert len(list(read_frames(out))) == 2
    assert json.loads((tmp_path / "clip.mp4.json").read_text())["status"] == "interrupted"


def test_one_frame_is_singular(tmp_path: Path, rgbd, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "frames"
    assert _run(rgbd, out, "--frames", "1", "--shift", "0.03,0") == 0
    done = capsys.readouterr().out
    assert "(1 frame, 64x48" in done and "1 frames" not in done
    record = json.loads((tmp_path / "frames.json").read_text())
    assert record["status"] == "finished"
    # the record holds the resolved options (the field names), with auto resolved
    assert record["options"]["frames"] == 1 and record["options"]["zoom"] == 1.25
    assert record["options"]["device"] in ("cpu", "cuda", "mps") and record["options"]["backend"] in (
        "numba",
        "torch",
    )


def test_size_flag_is_width_x_height_and_the_option_is_height_width(tmp_path: Path, rgbd) -> None:  # type: ignore[no-untyped-def]
    """`--size WxH` (user-facing) becomes `output_shape=(H, W)` (the library's convention)."""
    from PIL import Image

    out = tmp_path / "frames"
    assert _run(rgbd, out, "--frames", "1", "--shift", "0.03,0", "--size", "40x24", "-q") == 0
    frame = np.asarray(Image.open(sorted(out.glob("*.png"))[0]))
    assert frame.shape == (24, 40, 3)
    record = json.loads((tmp_path / "frames.json").read_text())
    assert record["options"]["output_shape"] == [24, 40] and record["frame_size"] == [40, 24]
    assert kb.parse_frame_shape("40x24") == (24, 40)
    clip = kenburns(*_view_arrays(rgbd), frames=1, shift=(0.03, 0.0), output_shape=(24, 40))
    assert clip.frame_shape == (24, 40) and clip[0].shape == (24, 40, 3)


def _view_arrays(rgbd: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    from easel.io.images import read_image

    return read_image(rgbd[0]).rgb, np.load(rgbd[1])


# ---------------------------------------------------------------- the API the CLI calls


def test_api_passes_the_depth_range_to_the_estimate(view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import easel.depth

    seen: dict[str, Any] = {}

    def fake_estimate(image: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return view.depth

    monkeypatch.setattr(easel.depth, "estimate_depth", fake_estimate)
    clip = kenburns(view.image, None, depth_range=(2.0, 20.0), duration_s=0.2, fps=10, shift=(0.0, 0.0))
    assert seen["depth_range"] == (2.0, 20.0) and seen["model"] == "depth-anything-v2-small"
    assert len(clip) == 2


def test_api_intrinsics_from_exif(tmp_path: Path, view) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 72  # 72 mm equivalent: focal = twice the long side
    Image.new("RGB", (64, 48)).save(photo, exif=exif)
    clip = kenburns(view.image, view.depth, exif_path=photo, duration_s=0.2, fps=10, shift=(0.0, 0.0))
    assert clip.intrinsics_source == "EXIF focal length" and clip.intrinsics.fx == pytest.approx(128.0)
    clip = kenburns(
        view.image, view.depth, exif_path=photo, fov=60.0, duration_s=0.2, fps=10, shift=(0.0, 0.0)
    )
    assert clip.intrinsics_source == "fov 60"


def test_api_option_errors_name_the_field(view) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OptionError, match="^zoom must be between 1 and 10") as info:
        KenBurnsOptions(zoom=100)
    assert info.value.field == "zoom"
    with pytest.raises(OptionError, match="^shift 5,5 moves the view off the picture"):
        kenburns(view.image, view.depth, shift=(5.0, 5.0))
    with pytest.raises(OptionError, match="^output_shape"):
        KenBurnsOptions(output_shape=(100_000, 100_000))
    with pytest.raises(OptionError, match="^preset 'fastt' is not a libx264 preset"):
        EncodeOptions(preset="fastt")
    with pytest.raises(OptionError, match="^crf must be a whole number >= 0"):
        EncodeOptions(crf=-1)
    assert KenBurnsOptions(shift_x=0.1).end_shift == (0.1, 0.0)
    assert KenBurnsOptions(frames=7, duration_s=1.0).num_frames == 7


def test_api_preflight_checks_lama_weights(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EASEL_HOME", str(tmp_path / "home"))
    with pytest.raises(OptionError, match="easel weights download big-lama") as info:
        check_kenburns_options(KenBurnsOptions(inpaint="lama"))
    assert info.value.field == "inpaint_weights"
    weights = tmp_path / "big-lama.pt"
    weights.write_bytes(b"x")
    assert (
        check_kenburns_options(KenBurnsOptions(inpaint="lama", inpaint_weights=str(weights))).inpaint
        == "lama"
    )


def test_api_check_clip_output(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="^crf must be in 0..63 for WebM; got 70"):
        check_clip_output(tmp_path / "clip.webm", EncodeOptions(crf=70))
    with pytest.raises(InputError, match="unsupported video format"):
        check_clip_output(tmp_path / "clip.avi")
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds other files"):
        check_clip_output(tmp_path / "frames")
    check_clip_output(tmp_path / "clip.gif")
    assert not (tmp_path / "clip.gif").exists()


def test_api_write_clip_writes_all_and_reports_interruptions(tmp_path: Path, view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from easel.cameras import read_camera_path
    from easel.io.ply import read_ply

    clip = kenburns(view.image, view.depth, duration_s=0.4, fps=10, shift=(0.03, 0.0))
    result = write_clip(clip, tmp_path / "f", export_ply=tmp_path / "c.ply", export_path=tmp_path / "p.json")
    assert result.status == "finished" and result.frames_written == 4 and result.frame_shape == (48, 64)
    assert result.written == [tmp_path / "f", tmp_path / "c.ply", tmp_path / "p.json"]
    assert len(read_camera_path(tmp_path / "p.json")) == 4 and len(read_ply(tmp_path / "c.ply")[0]) > 0

    real = KenBurnsClip.frame_uint8

    def stop_at_2(self: KenBurnsClip, index: int) -> Any:
        if index == 2:
            raise KeyboardInterrupt
        return real(self, index)

    monkeypatch.setattr(KenBurnsClip, "frame_uint8", stop_at_2)
    result = write_clip(clip, tmp_path / "g", export_ply=tmp_path / "d.ply")
    assert result.status == "interrupted" and result.frames_written == 2 and result.point_cloud is None
    assert len(list((tmp_path / "g").iterdir())) == 2 and not (tmp_path / "d.ply").exists()

    def stop_at_0(self: KenBurnsClip, index: int) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(KenBurnsClip, "frame_uint8", stop_at_0)
    with pytest.raises(KeyboardInterrupt):
        write_clip(clip, tmp_path / "h")
    assert not (tmp_path / "h").exists()
