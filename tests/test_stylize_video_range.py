"""Frame ranges of ``easel stylize-video`` (``--frames``, ``frame_range=``) started from earlier frames.

A range continued from the saved frames before it (``--previous``,
``previous=``) must give the frames a run over the whole clip gives there,
bit for bit: the chunks of a batch join without a seam.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from easel.errors import InputError
from easel.io.images import read_image, write_image
from easel.io.video import read_frames, write_video
from easel.nets.vgg import save_random_vgg19
from easel.options import OptionError
from easel.style.video import VideoStyleOptions, stylize_video
from easel.style.video_options import parse_frame_range
from test_stylize_video import TINY, _argv, _one_line_exit_2, _options, _pan

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def vgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("w") / "vgg19-tiny.pth", widths=TINY, seed=0)


@pytest.fixture(scope="module")
def style() -> np.ndarray:
    return np.random.default_rng(5).random((64, 64, 3)).astype(np.float32)


# ---------------------------------------------------------------- the API


def test_a_range_from_the_previous_frames_is_the_same_range_of_a_full_run(
    vgg: Path, style: np.ndarray
) -> None:
    frames = _pan(5)
    opts = _options(vgg, long_term=2)
    whole = [f.image for f in stylize_video(frames, [style], opts)]
    part = list(
        stylize_video(frames, [style], _options(vgg, long_term=2, frame_range=(3, None)), previous=whole[:3])
    )
    assert [(f.index, f.start) for f in part] == [(3, "warped"), (4, "warped")]
    for frame in part:
        np.testing.assert_array_equal(frame.image, whole[frame.index])
    # without them the range starts from scratch: other frames
    alone = list(stylize_video(frames, [style], _options(vgg, long_term=2, frame_range=(3, 4))))
    assert [(f.index, f.start) for f in alone] == [(3, "scratch")]
    assert np.abs(alone[0].image - whole[3]).mean() > 0.02


def test_a_range_without_previous_frames_starts_from_scratch_and_stops_at_end(
    vgg: Path, style: np.ndarray
) -> None:
    out = list(stylize_video(_pan(4), [style], _options(vgg, frame_range=(2, 9))))
    assert [(f.index, f.start) for f in out] == [(2, "scratch"), (3, "warped")]


def test_a_range_resumes_after_its_own_finished_frames(vgg: Path, style: np.ndarray) -> None:
    frames = _pan(5)
    opts = _options(vgg, frame_range=(1, 5))
    whole = [f.image for f in stylize_video(frames, [style], opts)]
    resumed = list(stylize_video(frames, [style], opts, resume=whole[:2]))
    assert [f.start for f in resumed] == ["resumed", "resumed", "warped", "warped"]
    assert [f.index for f in resumed] == [1, 2, 3, 4]
    for a, b in zip(whole, resumed, strict=True):
        np.testing.assert_array_equal(a, b.image)


def test_bad_ranges_and_previous_frames_are_input_errors(vgg: Path, style: np.ndarray) -> None:
    with pytest.raises(InputError, match="starts at frame 6 .* only 4 frames"):
        list(stylize_video(_pan(4), [style], _options(vgg, frame_range=(6, None))))
    with pytest.raises(InputError, match="starts at frame 0"):
        list(stylize_video(_pan(2), [style], _options(vgg), previous=[_pan(1)[0]]))
    with pytest.raises(InputError, match="previous stylized frame 2 is 32x24"):
        small = np.zeros((24, 32, 3), np.float32)
        list(stylize_video(_pan(3), [style], _options(vgg, frame_range=(2, 3)), previous=[small]))


@pytest.mark.parametrize("text", ["5", "3:2", "4:4", "-1:3", "a:b", "1:2:3"])
def test_malformed_ranges_are_refused(text: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        parse_frame_range(text)


def test_the_range_option_checks_its_value() -> None:
    assert parse_frame_range("2,5") == (2, 5) and parse_frame_range("7:") == (7, None)
    for bad in [(3, 3), (-2, 4), (1, 2, 3)]:
        with pytest.raises(OptionError) as info:
            VideoStyleOptions(frame_range=bad).validate()  # type: ignore[arg-type]
        assert info.value.field == "frame_range"


# ---------------------------------------------------------------- the command


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.mp4", _pan(4), fps=10)


@pytest.fixture
def style_file(tmp_path: Path, style: np.ndarray) -> Path:
    return write_image(tmp_path / "style.png", style)


def test_chunks_continued_with_previous_give_the_frames_of_one_run(
    clip: Path, style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    lt = ("--long-term", "2")
    whole, part1, part2 = tmp_path / "whole", tmp_path / "part1", tmp_path / "part2"
    assert run_cli(*_argv(clip, style_file, whole, vgg, *lt)).code == 0  # type: ignore[attr-defined]
    first = run_cli(*_argv(clip, style_file, part1, vgg, *lt, "--frames", "0:2"))
    assert first.code == 0, first.err  # type: ignore[attr-defined]
    second = run_cli(*_argv(clip, style_file, part2, vgg, *lt, "--frames", "2:", "--previous", str(part1)))
    assert second.code == 0, second.err  # type: ignore[attr-defined]
    assert sorted(p.name for p in part2.glob("frame_*.png")) == ["frame_00003.png", "frame_00004.png"]
    for i in range(1, 5):
        chunk = part1 if i <= 2 else part2
        a = read_image(whole / f"frame_{i:05d}.png").rgb
        np.testing.assert_array_equal(a, read_image(chunk / f"frame_{i:05d}.png").rgb)
    # the whole run's folder serves as --previous too (frames picked by number)
    again = tmp_path / "again"
    result = run_cli(*_argv(clip, style_file, again, vgg, *lt, "--frames", "3:4", "--previous", str(whole)))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    np.testing.assert_array_equal(
        read_image(whole / "frame_00004.png").rgb, read_image(again / "frame_00004.png").rgb
    )


def test_a_range_to_a_video_has_the_range_frames_and_continues_from_a_video(
    clip: Path, style_file: Path, vgg: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    import json

    first = tmp_path / "a.mp4"
    result = run_cli(*_argv(clip, style_file, first, vgg, "--frames", "1:3"))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert sum(1 for _ in read_frames(first)) == 2
    assert sorted(p.name for p in (tmp_path / "a.mp4.frames").glob("frame_*.png")) == [
        "frame_00002.png",
        "frame_00003.png",
    ]
    record = json.loads((tmp_path / "a.mp4.json").read_text())
    assert record["frames_done"] == 2 and record["options"]["frame_range"] == [1, 3]
    assert [f["index"] for f in record["frames"]] == [1, 2]
    second = tmp_path / "b.gif"
    result = run_cli(*_argv(clip, style_file, second, vgg, "--frames", "3:4", "--previous", str(first)))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    record = json.loads((tmp_path / "b.gif.json").read_text())
    assert [f["start"] for f in record["frames"]] == ["warped"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--frames", "3:2"), "--frames"),
        (("--frames", "abc"), "--frames"),
        (("--frames", "2:9"), "has 4 frames"),
        (("--frames", "4:"), "has 4 frames"),
        (("--previous", "PREV"), "START > 0"),
        (("--frames", "2:4", "--previous", "MISSING"), "MISSING"),
        (("--frames", "3:4", "--long-term", "2", "--previous", "PREV"), "frame_00002.png"),
    ],
)
def test_bad_ranges_exit_2_with_one_line(
    clip: Path,
    style_file: Path,
    vgg: Path,
    tmp_path: Path,
    run_cli: Callable[..., object],
    extra: tuple[str, ...],
    needle: str,
) -> None:
    prev = tmp_path / "PREV"
    prev.mkdir()
    write_image(prev / "frame_00003.png", _pan(1)[0])
    args = [str(prev) if a == "PREV" else str(tmp_path / a) if a == "MISSING" else a for a in extra]
    line = _one_line_exit_2(run_cli(*_argv(clip, style_file, tmp_path / "out.gif", vgg, *args)))
    assert needle in line
    assert not (tmp_path / "out.gif.frames").exists()


# ---------------------------------------------------------------- the temporal loss's detail


def test_the_default_temporal_loss_leaves_the_finest_texture_free() -> None:
    import torch

    from easel.style.flow import FlowLink
    from easel.style.video import _temporal_target

    h, w = 16, 16
    still = np.zeros((h, w, 2), np.float32)
    link = FlowLink(still, np.ones((h, w), np.float32))
    previous = np.full((h, w, 3), 0.5, np.float32)
    checker = ((np.indices((h, w)).sum(axis=0) % 2) * 2 - 1).astype(np.float32)[None, None] * 0.1
    grey = torch.full((1, 3, h, w), 0.5)
    sharp = (grey + torch.from_numpy(checker)).clamp(0, 1)  # one-pixel texture on the same grey
    brighter = grey + 0.1  # a change the eye sees as flicker
    lowpass = _temporal_target([link], [previous], 1.0, torch.device("cpu"), detail=False)
    detail = _temporal_target([link], [previous], 1.0, torch.device("cpu"), detail=True)
    assert float(lowpass(sharp)) < 0.01 * float(detail(sharp))  # the border rows only
    assert float(lowpass(brighter)) == pytest.approx(float(detail(brighter)), rel=1e-4)
    assert float(detail(sharp)) > 100
