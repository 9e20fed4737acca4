"""``easel batch`` with a stylize-video job split into chunks, local engine, tiny random VGG-19.

An 8-frame synthetic pan (known motion). Chained chunks (``chunk: 3``: 0:3,
3:6, 6:8, each continuing from the last frames of the one before) give exactly
the frames of one run over the whole clip; parallel chunks (``chunk: 4,
overlap: 2``: 0:4 and 2:8, independent) are cross-faded over frames 2-3.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from easel.cli import main
from easel.io.images import read_image, write_image
from easel.jobs.video import crossfade_weight, plan_chunks
from easel.nets.vgg import save_random_vgg19
from easel.progress import ProgressUpdate
from easel.style.flow import warping_error

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = (8, 8, 12, 12) + (16,) * 12
SHIFT = 3
NUM_FRAMES = 8
CHAINED = ["00000-00003", "00003-00006", "00006-end"]
PARALLEL = ["00000-00004", "00002-end"]
OPTIONS = (
    "weights: {vgg}, size: 64, precision: fp32, seed: 0, iterations-first: 6, coarse-iterations: 6, "
    "iterations: 4, temporal-weight: 0.05"
)


def _pan() -> list[np.ndarray]:
    import cv2

    rng = np.random.default_rng(0)
    blocks = rng.random((40, 70, 3)).astype(np.float32).repeat(4, 0).repeat(4, 1)
    scene = np.clip(cv2.GaussianBlur(blocks, (0, 0), 2), 0, 1).astype(np.float32)
    return [scene[20:68, 20 + SHIFT * t : 84 + SHIFT * t] for t in range(NUM_FRAMES)]


def _project(folder: Path, vgg: Path, chunking: str) -> Path:
    """``clip/`` (PNG frames: lossless, so the motion is exact), ``style.png`` and ``jobs.yaml``."""
    (folder / "clip").mkdir(parents=True)
    for index, frame in enumerate(_pan()):
        write_image(folder / "clip" / f"f{index:02d}.png", frame)
    write_image(folder / "style.png", np.random.default_rng(5).random((64, 64, 3)).astype(np.float32))
    (folder / "out").mkdir()
    manifest = folder / "jobs.yaml"
    manifest.write_text(
        "jobs:\n"
        f"  - {{command: stylize-video, input: clip, style: style.png, output: out/art, {chunking},\n"
        f"     args: {{{OPTIONS.format(vgg=vgg)}}}}}\n"  # out/art: a folder of PNG frames, exact pixels
    )
    return manifest


def _frames(folder: Path) -> list[np.ndarray]:
    files = sorted(folder.glob("frame_*.png"))
    return [read_image(f, max_size=None, min_side=1).rgb for f in files]


def _batch(manifest: Path, *extra: str) -> None:
    code = main(["batch", str(manifest), "--quiet", *extra])
    assert code == 0, json.loads((manifest.parent / "batch-summary.json").read_text())


@pytest.fixture(scope="module")
def vgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("w") / "vgg19-tiny.pth", widths=TINY, seed=0)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory, vgg: Path) -> list[np.ndarray]:
    """The clip stylized in one run of ``easel stylize-video`` (the reference), the job's command line."""
    folder = tmp_path_factory.mktemp("whole")
    manifest = _project(folder, vgg, "chunk: 3")
    from easel.cli.batch import parse_manifest

    (job,) = parse_manifest(manifest)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main([*job.argv, "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return _frames(folder / "out" / "art")


@pytest.fixture(scope="module")
def chained_run(tmp_path_factory: pytest.TempPathFactory, vgg: Path) -> tuple[Path, list[ProgressUpdate]]:
    """A batch of one job in chained chunks, and the progress updates its display got."""
    from easel.cli._common import CommandContext

    folder = tmp_path_factory.mktemp("chained")
    seen: list[ProgressUpdate] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CommandContext, "progress", property(lambda _ctx: seen.append))
        _batch(_project(folder, vgg, "chunk: 3"), "--workers", "1")
    return folder, seen


def test_chunks_are_planned_with_their_overlap_and_a_short_tail_joins_the_last() -> None:
    assert [c.frames_arg for c in plan_chunks(NUM_FRAMES, 3, 0)] == ["0:3", "3:6", "6:"]
    assert [c.name for c in plan_chunks(NUM_FRAMES, 3, 0)] == CHAINED
    assert [c.name for c in plan_chunks(NUM_FRAMES, 4, 2)] == PARALLEL
    assert [(c.frames_arg, c.fade) for c in plan_chunks(10, 4, 2)] == [("0:4", 0), ("2:8", 2), ("6:", 2)]
    assert [c.frames_arg for c in plan_chunks(9, 4, 2)] == ["0:4", "2:"]  # 1 frame left: not a chunk
    with pytest.raises(ValueError, match="overlap"):
        plan_chunks(10, 4, 4)


def test_chained_chunks_give_exactly_the_frames_of_one_run(
    chained_run: tuple[Path, list[ProgressUpdate]], whole: list[np.ndarray]
) -> None:
    chained = chained_run[0]
    joined = _frames(chained / "out" / "art")
    assert len(joined) == NUM_FRAMES
    for a, b in zip(joined, whole, strict=True):  # in order, and the borders as consistent as inside
        np.testing.assert_array_equal(a, b)
    chunks = chained / "out" / "art.chunks"
    numbers = {
        name: sorted(int(p.stem[6:]) - 1 for p in (chunks / name).glob("frame_*.png")) for name in CHAINED
    }
    assert numbers == {CHAINED[0]: [0, 1, 2], CHAINED[1]: [3, 4, 5], CHAINED[2]: [6, 7]}
    record = json.loads((chained / "out" / "art.json").read_text())
    assert record["command"] == "stylize-video" and record["status"] == "finished"
    assert record["frames_done"] == NUM_FRAMES and record["blended_frames"] == 0
    assert [c["frames"] for c in record["chunks"]] == ["0:3", "3:6", "6:"]
    assert all(c["attempts"] == 1 for c in record["chunks"])
    assert "--frames" not in " ".join(record["argv"])  # the job's own command line, not a chunk's
    summary = json.loads((chained / "batch-summary.json").read_text())
    assert summary["counts"] == {"done": 1, "skipped": 0, "failed": 0}
    assert summary["jobs"][0]["outputs"] == ["out/art", "out/art.json"]


def test_the_batch_display_counts_the_frames_the_worker_reports(
    chained_run: tuple[Path, list[ProgressUpdate]],
) -> None:
    seen = chained_run[1]
    jobs = [u for u in seen if u.stage == "jobs"]
    frames = [int(u.metrics["frames"]) for u in jobs if "frames" in u.metrics]
    assert all(u.metrics.get("of") == NUM_FRAMES for u in jobs if "frames" in u.metrics)
    # frame by frame from the worker while the chunks ran (not only at the chunks' ends), to the last
    assert len(set(frames)) > len(CHAINED) + 1 and frames == sorted(frames) and frames[-1] == NUM_FRAMES
    assert (jobs[0].step, jobs[-1].step, jobs[-1].total) == (0, 1, 1)
    assert any(u.stage == "join out/art" and u.step == u.total == NUM_FRAMES for u in seen)


def test_a_rerun_skips_the_joined_job(
    chained_run: tuple[Path, list[ProgressUpdate]], capfd: pytest.CaptureFixture[str]
) -> None:
    chained = chained_run[0]
    before = (chained / "out" / "art.json").stat().st_mtime_ns
    capfd.readouterr()
    assert main(["batch", str(chained / "jobs.yaml")]) == 0
    assert "1 job already done" in capfd.readouterr().err
    assert (chained / "out" / "art.json").stat().st_mtime_ns == before


@pytest.mark.slow
def test_parallel_chunks_are_cross_faded_over_the_overlap(tmp_path: Path, vgg: Path) -> None:
    _batch(_project(tmp_path, vgg, "chunk: 4, overlap: 2"), "--workers", "2")
    joined = _frames(tmp_path / "out" / "art")
    assert len(joined) == NUM_FRAMES
    chunk = {name: tmp_path / "out" / "art.chunks" / name for name in PARALLEL}

    def frame(name: str, index: int) -> np.ndarray:
        return read_image(chunk[name] / f"frame_{index + 1:05d}.png", max_size=None, min_side=1).rgb

    for index in (0, 1):
        np.testing.assert_array_equal(joined[index], frame(PARALLEL[0], index))
    for index in (4, 5, 6, 7):
        np.testing.assert_array_equal(joined[index], frame(PARALLEL[1], index))
    for index, position in ((2, 0), (3, 1)):
        weight = crossfade_weight(position, 2)
        expected = (1 - weight) * frame(PARALLEL[0], index) + weight * frame(PARALLEL[1], index)
        np.testing.assert_allclose(joined[index], expected, atol=0.5 / 255 + 1e-6)

    flow = np.zeros((*joined[0].shape[:2], 2), np.float32)
    flow[..., 0] = SHIFT
    mask = np.ones(joined[0].shape[:2], np.float32)
    mask[:, -SHIFT - 1 :] = 0  # came from outside the previous view
    border = [warping_error(joined[i - 1], joined[i], flow, mask) for i in (2, 3, 4)]
    cut = warping_error(frame(PARALLEL[0], 3), frame(PARALLEL[1], 4), flow, mask)  # no overlap: a jump
    assert max(border) < cut, (border, cut)  # the dissolve spreads the jump over the overlap
    record = json.loads((tmp_path / "out" / "art.json").read_text())
    assert record["blended_frames"] == 2 and record["options"]["overlap"] == 2


def _job_workers(cwd: Path) -> list[int]:
    """Processes that run a batch job (a job runs in the manifest's folder, which nothing else uses)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == cwd:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="finds the worker through /proc (Linux)")
def test_a_chunk_whose_worker_is_killed_runs_again_once_and_the_video_is_the_same(
    tmp_path: Path, vgg: Path, whole: list[np.ndarray]
) -> None:
    manifest = _project(tmp_path, vgg, "chunk: 3")
    target = tmp_path / "out" / "art.chunks" / CHAINED[1]
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:  # SIGKILL the worker of chunk 3:6 once it has saved a frame
        while not stop.is_set() and not killed:
            if any(target.glob("frame_*.png")):
                for pid in _job_workers(tmp_path.resolve()):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.02)

    watcher = threading.Thread(target=killer, daemon=True)
    watcher.start()
    try:
        _batch(manifest, "--workers", "1")
    finally:
        stop.set()
        watcher.join()
    assert killed, "the chunk finished before its worker could be killed"
    record = json.loads((tmp_path / "out" / "art.json").read_text())
    assert [c["attempts"] for c in record["chunks"]] == [1, 2, 1]  # only the killed chunk, once more
    for a, b in zip(_frames(tmp_path / "out" / "art"), whole, strict=True):
        np.testing.assert_array_equal(a, b)  # resumed from its saved frames: the same video


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{command: quantize, input: clip/f00.png, output: q.png, chunk: 4}", "only stylize-video jobs"),
        (
            "{command: stylize-video, input: clip, style: style.png, output: a.mp4, overlap: 2}",
            "needs 'chunk'",
        ),
        (
            "{command: stylize-video, input: clip, style: style.png, output: a.mp4, chunk: 1}",
            "whole number >= 2",
        ),
        (
            "{command: stylize-video, input: clip, style: style.png, output: a.mp4, chunk: true}",
            "whole number",
        ),
        (
            "{command: stylize-video, input: clip, style: style.png, output: a.mp4, chunk: 4, overlap: 4}",
            "0 to 3",
        ),
        (
            "{command: stylize-video, input: clip, style: style.png, output: a.mp4, chunk: 4, args: {frames: '0:4'}}",
            "cannot take --frames",
        ),
        (
            "{command: stylize-video, input: clip, style: style.png, output: sheet.png, chunk: 4}",
            "writes .mp4",
        ),
    ],
)
def test_bad_chunk_keys_are_one_line_naming_the_job_and_key(tmp_path: Path, entry: str, message: str) -> None:
    from easel.cli.batch import parse_manifest
    from easel.errors import InputError

    (tmp_path / "clip").mkdir()
    write_image(tmp_path / "clip" / "f00.png", _pan()[0])
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(f"jobs:\n  - {entry}\n")
    with pytest.raises(InputError, match=message) as info:
        parse_manifest(manifest)
    assert str(info.value).startswith("jobs.yaml: jobs[0]") and "\n" not in str(info.value)


def test_a_chunked_job_with_a_missing_clip_fails_alone(tmp_path: Path) -> None:
    write_image(tmp_path / "photo.png", _pan()[0])
    write_image(tmp_path / "style.png", _pan()[1])
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(
        "jobs:\n"
        "  - {command: stylize-video, input: gone.mp4, style: style.png, output: art.mp4, chunk: 4}\n"
        "  - {command: quantize, input: photo.png, output: q.png, args: {colors: 2}}\n"
    )
    assert main(["batch", str(manifest), "--workers", "1", "--quiet"]) == 1
    summary = json.loads((tmp_path / "batch-summary.json").read_text())
    assert summary["counts"] == {"done": 1, "skipped": 0, "failed": 1}
    assert "gone.mp4" in summary["jobs"][0]["error"] and summary["jobs"][0]["status"] == "failed"
    assert (tmp_path / "q.png").is_file() and not (tmp_path / "art.mp4").exists()
