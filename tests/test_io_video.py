"""Video I/O: MP4/WebM/GIF/PNG-folder writing, streaming reads, probing, bad inputs, atomicity."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from easel.errors import InputError
from easel.io import video
from easel.io.video import (
    VideoWriter,
    list_frame_files,
    natural_key,
    probe_video,
    read_frames,
    video_format,
    write_video,
)
from easel.progress import ProgressUpdate

COLOURS = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0), (0.2, 0.4, 0.6)]


def flat_frames(height: int = 33, width: int = 47, n: int = 10) -> list[np.ndarray]:
    """Flat-colour frames, cycling through COLOURS (odd size on purpose)."""
    return [np.full((height, width, 3), COLOURS[i % len(COLOURS)], np.float32) for i in range(n)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def save_png(path: Path, colour: tuple[float, float, float], shape: tuple[int, int] = (20, 30)) -> None:
    arr = np.zeros((*shape, 3), np.uint8)
    arr[:] = np.rint(np.array(colour) * 255).astype(np.uint8)
    Image.fromarray(arr, mode="RGB").save(path)


# ---------------------------------------------------------------- helpers


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["frame10.png", "frame2.png", "Frame1.png", "frame_b.png", "frame02b.png"]
    assert sorted(names, key=natural_key) == [
        "Frame1.png",
        "frame2.png",
        "frame02b.png",
        "frame10.png",
        "frame_b.png",
    ]


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("a.mp4", "mp4"),
        ("A.MP4", "mp4"),
        ("a.webm", "webm"),
        ("a.gif", "gif"),
        ("frames", "frames"),
        ("out/frames/", "frames"),
        ("out.d/", "frames"),
    ],
)
def test_video_format_follows_suffix(path: str, fmt: str) -> None:
    assert video_format(path) == fmt


@pytest.mark.parametrize("path", ["a.mov", "a.avi", "a.png"])
def test_video_format_rejects_other_suffixes(path: str) -> None:
    with pytest.raises(InputError, match=r"unsupported video format.*\.mp4, \.webm, \.gif"):
        video_format(path)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_mp4_webm_round_trip_pads_odd_size_and_keeps_fps(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"clip{suffix}"
    frames = flat_frames()
    write_video(out, frames, fps=30000 / 1001)
    info = probe_video(out)
    assert (info.width, info.height) == (48, 34)  # padded to even
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-6)
    assert info.num_frames == len(frames)
    assert info.codec == ("h264" if suffix == ".mp4" else "vp9")
    decoded = list(read_frames(out))
    assert len(decoded) == len(frames)
    for got, want in zip(decoded, frames, strict=True):
        assert got.dtype == np.float32 and got.shape == (34, 48, 3)
        assert 0.0 <= got.min() and got.max() <= 1.0
        np.testing.assert_allclose(got[:33, :47].mean(axis=(0, 1)), want[0, 0], atol=0.04)
    assert leftovers(tmp_path) == [out.name]


def test_mp4_even_size_is_not_padded_and_crf_changes_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.random((32, 48, 3), dtype=np.float32) for _ in range(4)]
    good, small = tmp_path / "good.mp4", tmp_path / "small.mp4"
    write_video(good, frames, fps=24, crf=10)
    write_video(small, frames, fps=24, crf=45)
    assert probe_video(good).shape == (32, 48)
    assert probe_video(good).fps == pytest.approx(24.0)
    assert small.stat().st_size < good.stat().st_size


def test_gif_has_palette_colours_and_streams_after_palette_frames(tmp_path: Path) -> None:
    out = tmp_path / "anim.gif"
    frames = flat_frames(n=7)
    with VideoWriter(out, fps=10, palette_frames=3) as writer:
        for frame in frames:
            writer.write(frame)
    with Image.open(out) as gif:
        assert getattr(gif, "n_frames", 1) == 7
        assert gif.info["duration"] == 100
        assert gif.size == (47, 33)  # GIF keeps odd sizes
    decoded = list(read_frames(out))
    assert len(decoded) == 7
    for got, want in zip(decoded, frames, strict=True):
        np.testing.assert_allclose(got.mean(axis=(0, 1)), want[0, 0], atol=0.02)


def test_gif_shorter_than_palette_frames_and_gradient(tmp_path: Path) -> None:
    out = tmp_path / "short.gif"
    ramp = np.repeat(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], 16, axis=0)
    frame = np.repeat(ramp, 3, axis=2)
    write_video(out, [frame, frame], fps=5)
    decoded = list(read_frames(out))
    assert len(decoded) == 2
    assert np.abs(decoded[0] - frame).mean() < 0.02


def test_png_folder_round_trip_is_exact(tmp_path: Path, rgb_image: np.ndarray) -> None:
    out = tmp_path / "frames"
    frames = [rgb_image, 1.0 - rgb_image, rgb_image[::-1].copy()]
    write_video(str(out) + "/", frames, fps=12)
    assert leftovers(out) == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    info = probe_video(out)
    assert info.is_sequence and info.fps is None and info.num_frames == 3
    assert info.shape == rgb_image.shape[:2]
    decoded = list(read_frames(out))
    for got, want in zip(decoded, frames, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert leftovers(tmp_path) == ["frames"]


def test_uint8_and_gray_frames_are_accepted(tmp_path: Path) -> None:
    out = tmp_path / "g"
    with VideoWriter(out) as writer:
        writer.write(np.full((10, 12, 3), 200, np.uint8))
        writer.write(np.full((10, 12), 0.5, np.float32))
    decoded = list(read_frames(out))
    assert decoded[0][0, 0, 0] == pytest.approx(200 / 255)
    assert decoded[1][0, 0, 1] == pytest.approx(128 / 255)


def test_exact_fps_fraction(tmp_path: Path) -> None:
    out = tmp_path / "ntsc.mp4"
    write_video(out, flat_frames(16, 16, 3), fps=Fraction(24000, 1001))
    assert probe_video(out).fps == pytest.approx(24000 / 1001, rel=1e-9)


def test_write_video_reports_progress(tmp_path: Path) -> None:
    seen: list[ProgressUpdate] = []
    write_video(tmp_path / "p", flat_frames(8, 8, 3), progress=seen.append, total=3)
    assert [(u.stage, u.step, u.total) for u in seen] == [
        ("encode", 1, 3),
        ("encode", 2, 3),
        ("encode", 3, 3),
    ]


# ---------------------------------------------------------------- reading


def test_folder_is_read_in_natural_order_skipping_hidden_and_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "seq"
    folder.mkdir()
    save_png(folder / "frame10.png", COLOURS[2])
    save_png(folder / "frame2.png", COLOURS[1])
    save_png(folder / "frame1.png", COLOURS[0])
    save_png(folder / ".hidden.png", COLOURS[3], shape=(5, 5))
    (folder / "notes.txt").write_text("not a frame")
    assert [p.name for p in list_frame_files(folder)] == ["frame1.png", "frame2.png", "frame10.png"]
    decoded = list(read_frames(folder))
    assert [tuple(np.round(f[0, 0], 3)) for f in decoded] == [tuple(c) for c in COLOURS[:3]]


def test_read_frames_max_size_and_reiteration(tmp_path: Path) -> None:
    out = tmp_path / "big.mp4"
    write_video(out, flat_frames(48, 64, 5), fps=10)
    frames = read_frames(out, max_size=32)
    assert frames.shape == (24, 32) and frames.info.shape == (48, 64)
    first = list(frames)
    second = list(frames)
    assert len(first) == len(second) == 5
    assert all(f.shape == (24, 32, 3) for f in first)
    np.testing.assert_array_equal(first[3], second[3])


def test_folder_max_size(tmp_path: Path) -> None:
    folder = tmp_path / "seq"
    folder.mkdir()
    for i in range(2):
        save_png(folder / f"f{i}.png", COLOURS[i], shape=(40, 80))
    frames = read_frames(folder, max_size=20)
    assert frames.shape == (10, 20)
    assert [f.shape for f in frames] == [(10, 20, 3), (10, 20, 3)]


def test_read_frames_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "seq"
    write_video(out, flat_frames(8, 8, 4))
    calls = []
    real = video.reading.read_image

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(video.reading, "read_image", counting)
    frames = iter(read_frames(out))
    assert calls == []
    next(frames)
    assert len(calls) == 1


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.mp4"
    landscape = np.zeros((20, 40, 3), np.uint8)
    landscape[:, :20, 0] = 255  # left half red
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 40, 20, "yuv420p"
        stream.set_display_rotation(90)
        for _ in range(2):
            for packet in stream.encode(av.VideoFrame.from_ndarray(landscape, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe_video(path)
    assert info.rotation == 90 and info.shape == (40, 20)
    frame = next(iter(read_frames(path)))
    assert frame.shape == (40, 20, 3)
    expected = np.rot90(landscape, k=1).astype(np.float32) / 255  # 90 degrees counterclockwise
    assert np.abs(frame[..., 0] - expected[..., 0]).mean() < 0.05
    assert next(iter(read_frames(path, max_size=20))).shape == (20, 10, 3)


# ---------------------------------------------------------------- bad inputs


def test_missing_empty_and_non_video_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        probe_video(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(InputError, match="empty"):
        read_frames(empty)
    text = tmp_path / "text.mp4"
    text.write_text("this is not a video\n" * 10)
    with pytest.raises(InputError, match="not a video"):
        probe_video(text)


def test_truncated_video_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    good = tmp_path / "good.mp4"
    rng = np.random.default_rng(1)
    write_video(good, [rng.random((32, 32, 3), dtype=np.float32) for _ in range(6)], fps=10)
    data = good.read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[: len(data) * 2 // 3])
    logger = logging.getLogger("easel.io.video")
    logger.addHandler(caplog.handler)  # the CLI may have stopped "easel" from propagating
    request.addfinalizer(lambda: logger.removeHandler(caplog.handler))
    caplog.set_level(logging.WARNING, logger="easel.io.video")
    try:
        decoded = list(read_frames(bad))
    except InputError as exc:  # the decoder noticed
        assert "bad.mp4" in str(exc) and "truncated" in str(exc)
    else:  # the demuxer stopped early: fewer frames, and a warning
        assert len(decoded) < 6
        assert "may be truncated" in caplog.text


def test_empty_folder_and_folder_without_images(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no image files"):
        probe_video(empty)
    (empty / "readme.txt").write_text("hi")
    with pytest.raises(InputError, match="no image files"):
        read_frames(empty)


def test_folder_of_mixed_sizes(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    save_png(folder / "a1.png", COLOURS[0], shape=(20, 30))
    save_png(folder / "a2.png", COLOURS[0], shape=(21, 30))
    with pytest.raises(InputError, match=r"differ in size .*a2\.png is 30x21"):
        read_frames(folder)


def test_folder_with_broken_image(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    save_png(folder / "a1.png", COLOURS[0])
    (folder / "a2.png").write_text("not a png")
    with pytest.raises(InputError, match="a2.png"):
        read_frames(folder)


@pytest.mark.parametrize("fps", [0, -1, float("nan"), float("inf")])
def test_bad_fps(tmp_path: Path, fps: float) -> None:
    with pytest.raises(InputError, match="fps"):
        VideoWriter(tmp_path / "a.mp4", fps=fps)


def test_bad_crf_and_max_size(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="crf"):
        VideoWriter(tmp_path / "a.mp4", crf=60)
    with pytest.raises(InputError, match="crf"):
        VideoWriter(tmp_path / "a.webm", crf=-1)
    write_video(tmp_path / "f", flat_frames(8, 8, 1))
    with pytest.raises(InputError, match="max-size"):
        read_frames(tmp_path / "f", max_size=0)


def test_webm_without_vp9_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video.mp4_webm, "has_encoder", lambda name: False)
    with pytest.raises(InputError, match="no VP9 encoder"):
        VideoWriter(tmp_path / "a.webm")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- atomicity


@pytest.mark.parametrize("name", ["a.mp4", "a.webm", "a.gif", "frames"])
def test_error_inside_writer_leaves_nothing(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(out, fps=10) as writer:
        for frame in flat_frames(16, 16, 3):
            writer.write(frame)
        raise RuntimeError("boom")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["a.mp4", "a.gif", "frames"])
def test_error_keeps_existing_output(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    write_video(out, flat_frames(16, 16, 2), fps=10)
    before = probe_video(out)
    with pytest.raises(InputError, match="all frames must have one size"), VideoWriter(out) as writer:
        writer.write(np.zeros((16, 16, 3), np.float32))
        writer.write(np.zeros((16, 18, 3), np.float32))
    assert probe_video(out) == before
    assert leftovers(tmp_path) == [name]


@pytest.mark.parametrize("name", ["a.mp4", "a.gif", "frames"])
def test_no_frames_is_an_error_and_leaves_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="no frames"), VideoWriter(tmp_path / name):
        pass
    assert leftovers(tmp_path) == []


def test_bad_frame_values_are_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match=r"frame 1 must be float in \[0, 1\]"),
        VideoWriter(tmp_path / "a.mp4") as writer,
    ):
        writer.write(np.full((8, 8, 3), 2.0, np.float32))
    assert leftovers(tmp_path) == []


def test_write_outside_context_manager_is_a_programming_error(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "a.mp4")
    with pytest.raises(RuntimeError, match="context manager"):
        writer.write(np.zeros((8, 8, 3), np.float32))


def test_frame_folder_target_with_other_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(InputError, match="holds other files"):
        VideoWriter(folder)
    assert (folder / "holiday.jpg").read_bytes() == b"precious"
    # a folder of our own frames (a previous run) is replaced
    frames = tmp_path / "frames"
    write_video(frames, flat_frames(8, 8, 3))
    write_video(frames, flat_frames(8, 8, 2))
    assert leftovers(frames) == ["frame_00001.png", "frame_00002.png"]


def test_file_target_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        VideoWriter(tmp_path / "clip.mp4")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        VideoWriter(tmp_path / "file")


def test_reading_streams_frames_instead_of_holding_them(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "long.mp4"
    rng = np.random.default_rng(7)
    base = rng.random((128, 128, 3), dtype=np.float32)
    write_video(path, (np.roll(base, i, axis=1) for i in range(120)), fps=30, crf=30)
    frame_bytes = 128 * 128 * 3 * 4
    tracemalloc.start()
    try:
        count = 0
        for frame in read_frames(path):
            count += 1
            assert frame.shape == (128, 128, 3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 120
    assert peak < 10 * frame_bytes  # a few frames at a time, never all 120


def test_a_decompression_bomb_in_a_frame_folder_is_refused_from_its_header(tmp_path: Path) -> None:
    from conftest import png_bytes_claiming

    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "f_0001.png")
    (folder / "f_0002.png").write_bytes(png_bytes_claiming(50_000, 50_000))
    with pytest.raises(InputError, match=r"f_0002.png: frame has 2500 megapixels"):
        video.read_frames(folder)
