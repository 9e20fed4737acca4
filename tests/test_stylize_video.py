"""``easel stylize-video`` and ``easel.stylize_video`` on a tiny synthetic pan (known motion), a tiny VGG-19.

Each test checks something that could fail: the temporal loss lowers the
warping error, a resumed run gives the same frames as an uninterrupted one,
audio is copied, bad input is one line and exit 2, bursts start from scratch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from easel.io.images import read_image, write_image
from easel.io.video import read_frames, write_video
from easel.nets.vgg import save_random_vgg19
from easel.options import OptionError
from easel.style.flow import warping_error
from easel.style.video import VideoStyleOptions, stylize_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = (8, 8, 12, 12) + (16,) * 12
SHIFT = 3
SHAPE = (48, 64)


def _scene(seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    blocks = rng.random((40, 60, 3)).astype(np.float32).repeat(4, 0).repeat(4, 1)
    return np.clip(cv2.GaussianBlur(blocks, (0, 0), 2), 0, 1).astype(np.float32)


def _pan(num: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``num`` frames of a view moving SHIFT px right per frame (the content moves left)."""
    scene = _scene(seed)
    return [scene[20:68, 20 + SHIFT * t : 84 + SHIFT * t] for t in range(num)]


def _true_motion() -> tuple[np.ndarray, np.ndarray]:
    flow = np.zeros((*SHAPE, 2), np.float32)
    flow[..., 0] = SHIFT
    mask = np.ones(SHAPE, np.float32)
    mask[:, -SHIFT - 1 :] = 0  # came from outside the previous view
    return flow, mask


def _mean_warping_error(frames: list[np.ndarray]) -> float:
    flow, mask = _true_motion()
    return float(
        np.mean([warping_error(frames[i - 1], frames[i], flow, mask) for i in range(1, len(frames))])
    )


@pytest.fixture(scope="module")
def vgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("w") / "vgg19-tiny.pth", widths=TINY, seed=0)


@pytest.fixture(scope="module")
def style() -> np.ndarray:
    return np.random.default_rng(5).random((64, 64, 3)).astype(np.float32)


def _options(vgg: Path, **changes: object) -> VideoStyleOptions:
    base: dict[str, object] = dict(
        size=64, weights=vgg, precision="fp32", iterations=8, iterations_first=12, coarse_iterations=12
    )
    base.update(changes)
    return VideoStyleOptions(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the API


def test_the_temporal_loss_lowers_the_warping_error(vgg: Path, style: np.ndarray) -> None:
    frames = _pan()
    with_loss = [f.image for f in stylize_video(frames, [style], _options(vgg, temporal_weight=0.05))]
    without = [f.image for f in stylize_video(frames, [style], _options(vgg, temporal_weight=0.0))]
    independent = [f.image for f in stylize_video(frames, [style], _options(vgg, flow=False))]
    e_loss, e_without, e_independent = map(_mean_warping_error, (with_loss, without, independent))
    assert e_loss < 0.9 * e_without, (e_loss, e_without)
    assert e_loss < 0.5 * e_independent, (e_loss, e_independent)


def test_frames_start_warped_after_the_first_and_cost_fewer_steps(vgg: Path, style: np.ndarray) -> None:
    out = list(stylize_video(_pan(3), [style], _options(vgg)))
    assert [f.start for f in out] == ["scratch", "warped", "warped"]
    assert out[0].steps == 24 and out[1].steps == 8  # 12 coarse + 12 fine, then 8 from the warp
    assert out[1].overlap is not None and out[1].overlap > 0.8
    assert all(f.image.shape == (*SHAPE, 3) and f.image.dtype == np.float32 for f in out)
    # quantized to 8 bits, as saved
    assert np.array_equal(np.round(out[1].image * 255) / 255, out[1].image.astype(np.float64))


def test_resuming_from_finished_frames_gives_the_same_frames(vgg: Path, style: np.ndarray) -> None:
    frames = _pan(4)
    whole = [f.image for f in stylize_video(frames, [style], _options(vgg, long_term=2))]
    resumed = list(stylize_video(frames, [style], _options(vgg, long_term=2), resume=whole[:2]))
    assert [f.start for f in resumed] == ["resumed", "resumed", "warped", "warped"]
    for a, b in zip(whole, resumed, strict=True):
        np.testing.assert_array_equal(a, b.image)


def test_a_frame_the_previous_does_not_cover_starts_from_scratch(vgg: Path, style: np.ndarray) -> None:
    frames = [_pan(1, seed=0)[0], _pan(1, seed=9)[0]]  # a cut: two unrelated pictures
    out = list(stylize_video(frames, [style], _options(vgg)))
    assert [f.start for f in out] == ["scratch", "scratch"]
    assert out[1].overlap is not None and out[1].overlap < 0.4
    assert "from scratch" in out[1].message


def test_no_flow_stylizes_each_frame_from_scratch(vgg: Path, style: np.ndarray) -> None:
    out = list(stylize_video(_pan(3), [style], _options(vgg, flow=False)))
    assert [f.start for f in out] == ["scratch"] * 3
    assert all(f.overlap is None and f.steps == 24 for f in out)


def test_an_interrupted_frame_ends_the_iteration(vgg: Path, style: np.ndarray) -> None:
    calls = []

    def progress(update: object) -> None:
        calls.append(update)
        if len(calls) == 30:  # inside the second frame
            raise KeyboardInterrupt

    out = list(stylize_video(_pan(4), [style], _options(vgg), progress=progress))
    assert [f.status for f in out] == ["finished", "interrupted"]


def test_no_frames_and_changing_sizes_are_input_errors(vgg: Path, style: np.ndarray) -> None:
    from easel.errors import InputError

    with pytest.raises(InputError, match="no frames"):
        list(stylize_video([], [style], _options(vgg)))
    frames = [_pan(1)[0], np.zeros((40, 64, 3), np.float32)]
    with pytest.raises(InputError, match="frame 2 is 64x40"):
        list(stylize_video(frames, [style], _options(vgg)))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("long_term", 0),
        ("temporal_weight", -1.0),
        ("min_overlap", 1.5),
        ("iterations_first", -1),
        ("tile_size", 256),
    ],
)
def test_bad_video_options_name_their_field(field: str, value: object) -> None:
    with pytest.raises(OptionError) as info:
        VideoStyleOptions(**{field: value}).validate()  # type: ignore[arg-type]
    assert info.value.field == field


# ---------------------------------------------------------------- the command


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.mp4", _pan(4), fps=10)


@pytest.fixture
def style_file(tmp_path: Path, style: np.ndarray) -> Path:
    return write_image(tmp_path / "style.png", style)


def _argv(source: Path, style_file: Path, out: Path, vgg: Path, *extra: str) -> list[str | Path]:
    return [
        "stylize-video",
        source,
        "--style",
        style_file,
        "-o",
        out,
        "--weights",
        vgg,
        "--size",
        "64",
        "--precision",
        "fp32",
        "--iterations-first",
        "6",
        "--coarse-iterations",
        "6",
        "--iterations",
        "4",
        *extra,
    ]


def test_the_command_writes_the_clip_the_record_and_the_frames(
    clip: Path, style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    out = tmp_path / "art.mp4"
    result = run_cli(*_argv(clip, style_file, out, vgg))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    frames = read_frames(out)
    assert frames.info.fps == pytest.approx(10) and frames.shape == SHAPE
    assert sum(1 for _ in frames) == 4
    assert sorted(p.name for p in (tmp_path / "art.mp4.frames").iterdir()) == [
        *(f"frame_{i:05d}.png" for i in range(1, 5)),
        "state.json",
    ]
    record = json.loads((tmp_path / "art.mp4.json").read_text())
    assert record["status"] == "finished" and record["frames_done"] == 4
    assert [f["start"] for f in record["frames"]] == ["scratch", "warped", "warped", "warped"]
    assert record["options"]["iterations"] == 4 and record["options"]["iterations_first"] == 6


def test_a_killed_run_continues_and_gives_the_same_frames(
    clip: Path,
    style_file: Path,
    vgg: Path,
    tmp_path: Path,
    run_cli: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from easel.cli._common import CommandContext

    whole = tmp_path / "whole.gif"
    assert run_cli(*_argv(clip, style_file, whole, vgg)).code == 0  # type: ignore[attr-defined]
    from easel.progress import ProgressUpdate

    def progress(ctx: CommandContext) -> Callable[[ProgressUpdate], None]:
        def report(update: ProgressUpdate) -> None:
            if update.stage.startswith("frame 3/4") and update.step >= 2:  # during frame 3
                ctx.signal = 2
                raise KeyboardInterrupt

        return report

    out = tmp_path / "art.gif"
    with monkeypatch.context() as patch:
        patch.setattr(CommandContext, "progress", property(progress))
        killed = run_cli(*_argv(clip, style_file, out, vgg))
    assert killed.code == 130  # type: ignore[attr-defined]
    assert not out.exists()
    work = tmp_path / "art.gif.frames"
    assert len(list(work.glob("frame_*.png"))) == 2
    assert json.loads((tmp_path / "art.gif.json").read_text())["status"] == "interrupted"
    again = run_cli(*_argv(clip, style_file, out, vgg))
    assert again.code == 0, again.err  # type: ignore[attr-defined]
    assert "continuing after 2 finished frames" in again.err  # type: ignore[attr-defined]
    for i in range(1, 5):
        a = read_image(tmp_path / "whole.gif.frames" / f"frame_{i:05d}.png").rgb
        b = read_image(work / f"frame_{i:05d}.png").rgb
        np.testing.assert_array_equal(a, b)


def test_other_arguments_do_not_mix_with_stored_frames(
    clip: Path, style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    out = tmp_path / "art.gif"
    assert run_cli(*_argv(clip, style_file, out, vgg)).code == 0  # type: ignore[attr-defined]
    out.unlink()
    (tmp_path / "art.gif.json").unlink()
    refused = run_cli(*_argv(clip, style_file, out, vgg, "--temporal-weight", "5"))
    assert refused.code == 2  # type: ignore[attr-defined]
    assert "options.temporal_weight" in refused.err and refused.err.count("\n") == 1  # type: ignore[attr-defined]
    assert run_cli(*_argv(clip, style_file, out, vgg, "--temporal-weight", "5", "-y")).code == 0  # type: ignore[attr-defined]


def test_reencode_only_encodes_again(
    clip: Path, style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    out = tmp_path / "art.mp4"
    assert run_cli(*_argv(clip, style_file, out, vgg)).code == 0  # type: ignore[attr-defined]
    frame = tmp_path / "art.mp4.frames" / "frame_00002.png"
    before = frame.stat().st_mtime_ns
    result = run_cli(*_argv(clip, style_file, out, vgg, "--reencode", "--fps", "5"))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert read_frames(out).info.fps == pytest.approx(5)
    assert frame.stat().st_mtime_ns == before


def test_the_source_audio_is_copied(
    style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    import av

    source = tmp_path / "talk.mp4"
    with av.open(str(source), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for t, picture in enumerate(_pan(3)):
            frame = av.VideoFrame.from_ndarray((picture * 255).astype(np.uint8), format="rgb24")
            frame.pts = t
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        tone = (0.2 * np.sin(np.arange(4800) * 0.1)).astype(np.float32)[None]
        for start in range(0, 4800, 1024):
            sound = av.AudioFrame.from_ndarray(tone[:, start : start + 1024], format="flt", layout="mono")
            sound.sample_rate, sound.pts = 16000, start
            for packet in audio.encode(sound):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    out = tmp_path / "art.mp4"
    result = run_cli(*_argv(source, style_file, out, vgg))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in container.decode(audio=0)) > 0
    assert json.loads((tmp_path / "art.mp4.json").read_text())["audio"] == "copied"


def test_a_one_frame_video_works_without_flow(
    style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    one = write_video(tmp_path / "one.mp4", _pan(1), fps=10)
    result = run_cli(*_argv(one, style_file, tmp_path / "art.mp4", vgg))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert sum(1 for _ in read_frames(tmp_path / "art.mp4")) == 1


def test_a_burst_folder_to_frames_and_a_contact_sheet(
    style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    burst = tmp_path / "burst"
    burst.mkdir()
    for i, picture in enumerate(_pan(3)):
        write_image(burst / f"IMG_{i + 1}.png", picture)
    (burst / "notes.txt").write_text("not a frame\n")
    frames_out = tmp_path / "styled"
    result = run_cli(*_argv(burst, style_file, frames_out, vgg, "--no-flow"))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert "skipped 1 file that is not an image (notes.txt)" in result.err  # type: ignore[attr-defined]
    assert sorted(p.name for p in frames_out.iterdir()) == [
        ".easel-stylize-video.json",
        "frame_00001.png",
        "frame_00002.png",
        "frame_00003.png",
    ]
    assert read_image(frames_out / "frame_00001.png").rgb.shape == (*SHAPE, 3)
    sheet = tmp_path / "sheet.png"
    result = run_cli(*_argv(burst, style_file, sheet, vgg, "--no-flow"))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert read_image(sheet).rgb.shape[1] > 2 * 192


def _one_line_exit_2(result: object) -> str:
    assert result.code == 2, result.err  # type: ignore[attr-defined]
    lines = result.err.rstrip("\n").split("\n")  # type: ignore[attr-defined]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def test_frames_of_changing_size_name_the_first_bad_file(
    style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    burst = tmp_path / "burst"
    burst.mkdir()
    write_image(burst / "a1.png", _pan(1)[0])
    write_image(burst / "a2.png", _pan(1)[0][:40])
    write_image(burst / "a3.png", _pan(1)[0][:36])
    line = _one_line_exit_2(run_cli(*_argv(burst, style_file, tmp_path / "out.gif", vgg)))
    assert "a2.png" in line and "a3.png" not in line
    assert not (tmp_path / "out.gif.frames").exists()


def test_a_video_without_frames_and_an_unreadable_file_are_refused(
    style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    import av

    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # a header, and not one frame
    assert empty.stat().st_size > 0
    line = _one_line_exit_2(run_cli(*_argv(empty, style_file, tmp_path / "a.mp4", vgg)))
    assert "empty.mp4" in line
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    line = _one_line_exit_2(run_cli(*_argv(garbage, style_file, tmp_path / "b.mp4", vgg)))
    assert "garbage.mp4" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mp4", "garbage.mp4", "style.png"]


def test_the_output_may_not_be_the_input(
    clip: Path, style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    line = _one_line_exit_2(run_cli(*_argv(clip, style_file, clip, vgg, "--overwrite")))
    assert "clip.mp4" in line and "input" in line


def test_the_per_frame_options_have_easel_stylize_names() -> None:
    import argparse

    from easel.cli import stylize, stylize_video

    def flags(module: object) -> set[str]:
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)  # type: ignore[attr-defined]
        return {s for a in parser._actions for s in a.option_strings}

    shared = {
        "--style",
        "--mask",
        "--size",
        "--content-weight",
        "--style-weight",
        "--preserve-color",
        "--weights",
        "--seed",
        "--device",
        "--coarse-iterations",
        "--precision",
        "--model",
    }
    assert shared <= flags(stylize) & flags(stylize_video)
    assert {"--iterations-first", "--long-term", "--no-flow", "--reencode", "--temporal-weight"} <= flags(
        stylize_video
    )


def test_a_missing_style_or_mask_is_one_line_naming_it(
    clip: Path, style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    missing = tmp_path / "starry.jpg"
    line = _one_line_exit_2(run_cli(*_argv(clip, missing, tmp_path / "a.gif", vgg)))
    assert "starry.jpg" in line
    line = _one_line_exit_2(
        run_cli(*_argv(clip, style_file, tmp_path / "a.gif", vgg, "--mask", str(tmp_path / "m.png")))
    )
    assert "m.png" in line
    assert not (tmp_path / "a.gif.frames").exists()
