"""DeepDream (issue #9): the objective rises, octaves, tiles, determinism, zoom videos and their resume.

A tiny random VGG-19 (8-16 channels) saved in the real file format stands in
for the pretrained encoder; images are a few dozen pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from easel.cli import main
from easel.dream import Dreamer, DreamOptions, ZoomOptions, dream, dream_zoom
from easel.dream.options import MIN_OCTAVE_SIDE, octave_shapes
from easel.dream.tiles import tile_boxes, tile_spans
from easel.dream.zoom import PIN_NAME, finished_frames, frame_path, zoom_transform
from easel.io.images import read_image, write_image
from easel.optim import StepState
from easel.options import OptionError
from easel.progress import ProgressUpdate

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest

WIDTHS = (8, 8, 12, 12) + (16,) * 12


@pytest.fixture(scope="module")
def vgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from easel.nets.vgg import save_random_vgg19

    return save_random_vgg19(tmp_path_factory.mktemp("dream") / "vgg19-tiny.pth", widths=WIDTHS, seed=0)


def photo(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width, yy / height, 0.5 + 0.3 * np.sin(xx / 5.0)], axis=2)
    return np.clip(base + 0.1 * rng.random((height, width, 3)), 0, 1).astype(np.float32)


def opts(vgg: Path, **kw: object) -> DreamOptions:
    base: dict[str, object] = {"weights": vgg, "precision": "fp32", "device": "cpu", "iterations": 4}
    base.update(kw)
    return DreamOptions(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the objective and its ascent


def test_activation_energy_rises_over_the_iterations(vgg: Path) -> None:
    image = photo()
    options = opts(vgg, octaves=1, iterations=8, jitter=0)
    dreamer = Dreamer(options)
    result = dreamer.run(image)
    energies = [h["energy"] for h in result.history]
    assert result.status == "finished" and len(energies) == 8
    assert energies[-1] > 1.5 * energies[0], energies
    assert dreamer.energy(result.image) > 1.5 * dreamer.energy(image)
    assert result.image.shape == image.shape and result.image.dtype == np.float32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0


def test_guided_dream_moves_towards_the_guide(vgg: Path) -> None:
    image, guide = photo(seed=0), photo(seed=5)[:, ::-1].copy()
    options = opts(vgg, octaves=1, iterations=6, jitter=0)
    guided = Dreamer(options, guide=guide)
    result = guided.run(image)
    assert guided.energy(result.image) > guided.energy(image)
    plain = Dreamer(options).run(image)
    assert not np.allclose(result.image, plain.image)  # a different objective, a different dream


def test_channels_excite_only_the_chosen_channels(vgg: Path) -> None:
    image = photo()
    options = opts(vgg, octaves=1, iterations=6, jitter=0)
    focused = Dreamer(opts(vgg, octaves=1, iterations=6, jitter=0, channels=(3,)))
    plain = Dreamer(options, encoder=focused.encoder)

    def channel_energy(img: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            act = focused.encoder(torch.from_numpy(img).permute(2, 0, 1)[None])["relu4_2"]
        return act.square().mean(dim=(0, 2, 3))

    start = channel_energy(image)
    on_three = channel_energy(focused.run(image).image)
    on_all = channel_energy(plain.run(image).image)
    assert on_three[3] > 2 * start[3]
    assert on_three[3] > on_all[3]  # the whole step goes to channel 3
    assert on_all.sum() > on_three.sum()  # and the plain dream excites the layer as a whole more


def test_dream_is_deterministic_under_a_seed(vgg: Path) -> None:
    image = photo()
    a = dream(image, opts(vgg, seed=3))
    b = dream(image, opts(vgg, seed=3))
    c = dream(image, opts(vgg, seed=4))
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_a_stopped_or_interrupted_dream_returns_the_image_so_far_at_full_size(vgg: Path) -> None:
    image = photo(61, 77)

    def interrupt(state: StepState) -> None:
        if state.step == 3:
            raise KeyboardInterrupt

    result = dream(image, opts(vgg, octaves=2, iterations=4), on_step=interrupt)
    assert result.status == "interrupted" and result.image.shape == image.shape
    assert len(result.history) == 3
    assert not np.array_equal(result.image, image)  # the detail of the first steps is kept
    stopped = dream(image, opts(vgg, octaves=2, iterations=4), on_step=lambda s: s.step == 5)
    assert stopped.status == "stopped" and len(stopped.history) == 5


# ---------------------------------------------------------------- speed levers


def test_channels_last_changes_the_layout_not_the_gradient(vgg: Path) -> None:
    image = torch.from_numpy(photo(40, 56)).permute(2, 0, 1)[None].contiguous()
    plain = Dreamer(opts(vgg, channels_last=False))
    fast = Dreamer(opts(vgg, channels_last=True), encoder=plain.encoder)  # one shared encoder, two layouts
    g_fast, e_fast = fast.gradient(image, torch.Generator().manual_seed(1))
    assert plain.encoder.channels_last  # type: ignore[attr-defined]
    g_plain, e_plain = plain.gradient(image, torch.Generator().manual_seed(1))
    assert not plain.encoder.channels_last  # type: ignore[attr-defined]
    assert torch.allclose(g_fast, g_plain, rtol=1e-4, atol=1e-6 * float(g_plain.abs().max()))
    assert e_fast == pytest.approx(e_plain, rel=1e-5)


def test_precision_auto_times_the_dreams_own_encoder_once_per_process(
    vgg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel.dream import deepdream

    calls: list[tuple[bool, tuple[str, ...]]] = []

    def fake(
        encoder: torch.nn.Module, device: torch.device, precisions: tuple[str, ...], **kw: object
    ) -> dict:
        calls.append((bool(kw["channels_last"]), tuple(precisions)))
        return {"fp32": 0.2, "bf16": 0.08}

    monkeypatch.setattr(deepdream, "measure_encoder_speed", fake)
    monkeypatch.setattr(deepdream, "_AUTO_CHOICES", {})
    first = Dreamer(opts(vgg, precision="auto"))
    second = Dreamer(opts(vgg, precision="auto"))
    assert calls == [(True, ("fp32", "bf16"))]  # measured once, channels-last, both candidates
    assert first.dtype == torch.bfloat16 and second.precision_choice is first.precision_choice
    assert first.precision_choice is not None and first.precision_choice.speedup == pytest.approx(2.5)
    monkeypatch.setattr(deepdream, "_AUTO_CHOICES", {})
    monkeypatch.setattr(deepdream, "measure_encoder_speed", lambda *a, **k: {"fp32": 0.1, "bf16": 0.095})
    assert Dreamer(opts(vgg, precision="auto")).dtype is None  # a near tie keeps fp32


def test_measure_encoder_speed_runs_each_precision() -> None:
    from easel.dream.deepdream import measure_encoder_speed
    from easel.nets.vgg import VGGEncoder

    times = measure_encoder_speed(
        VGGEncoder(widths=(4,) * 16), torch.device("cpu"), ("fp32", "bf16"), size=24
    )
    assert set(times) == {"fp32", "bf16"} and all(0 < t < 60 for t in times.values())


def test_the_result_says_where_the_time_went(vgg: Path) -> None:
    result = dream(photo(96, 128), opts(vgg, octaves=3, iterations=2))
    assert len(result.octave_seconds) == len(result.octave_shapes) == 3
    assert all(s > 0 for s in result.octave_seconds) and sum(result.octave_seconds) <= result.seconds
    assert result.summary()["octave_seconds"] == [round(s, 3) for s in result.octave_seconds]


# ---------------------------------------------------------------- octaves and tiles


def test_octave_sizes() -> None:
    shapes, note = octave_shapes((600, 800), octaves=4, octave_scale=1.4)
    assert shapes == [(218, 290), (305, 407), (428, 571), (600, 800)] and note is None
    assert octave_shapes((601, 799), 1, 1.4) == ([(601, 799)], None)  # odd sizes kept exactly
    small, note = octave_shapes((48, 64), octaves=4, octave_scale=1.4)
    assert small == [(34, 45), (48, 64)]
    assert note is not None and "using 2" in note and "4 octaves" in note
    assert all(min(s) >= MIN_OCTAVE_SIDE for s in small)
    tiny, _ = octave_shapes((20, 30), octaves=3, octave_scale=1.4)
    assert tiny == [(20, 30)]  # smaller than an octave's minimum: the image alone


def test_the_dream_runs_the_octaves_coarse_to_fine(vgg: Path) -> None:
    stages: list[str] = []
    result = dream(
        photo(96, 128),
        opts(vgg, octaves=3, octave_scale=1.5, iterations=2),
        progress=lambda u: stages.append(u.stage),
    )
    assert result.octave_shapes == [(42, 56), (64, 85), (96, 128)]
    assert list(dict.fromkeys(stages)) == ["octave 1/3 56x42", "octave 2/3 85x64", "octave 3/3 128x96"]


@pytest.mark.parametrize(
    ("length", "tile", "offset"), [(100, 64, 0), (100, 64, 40), (1000, 64, 33), (65, 64, 63), (7, 64, 3)]
)
def test_tile_spans_cover_the_side_once(length: int, tile: int, offset: int) -> None:
    spans = tile_spans(length, tile, offset)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(min(length, tile // 2) <= stop - start <= 1.5 * tile for start, stop in spans)


def test_tiled_and_untiled_gradients_agree_on_an_image_that_fits_one_tile(vgg: Path) -> None:
    x = torch.from_numpy(photo()).permute(2, 0, 1)[None].contiguous()
    whole = Dreamer(opts(vgg, tile_size=None))
    tiled = Dreamer(opts(vgg, tile_size=64), encoder=whole.encoder)
    g1, e1 = whole.gradient(x, torch.Generator().manual_seed(1))
    g2, e2 = tiled.gradient(x, torch.Generator().manual_seed(1))
    assert len(tile_boxes((48, 64), 64)) == 1
    assert torch.allclose(g1, g2) and e1 == pytest.approx(e2)
    # several tiles: the same objective up to the tiles' borders
    big = torch.from_numpy(photo(160, 200)).permute(2, 0, 1)[None].contiguous()
    four = Dreamer(opts(vgg, tile_size=96, jitter=0), encoder=whole.encoder)
    assert len(tile_boxes((160, 200), 96)) > 1
    gw, ew = whole.gradient(big, torch.Generator().manual_seed(2), jitter=False)
    gt, et = four.gradient(big, torch.Generator().manual_seed(2), jitter=False)
    assert et == pytest.approx(ew, rel=0.3)
    cos = torch.nn.functional.cosine_similarity(gw.flatten(), gt.flatten(), dim=0)
    assert float(cos) > 0.3, float(cos)  # tiny tiles against relu4_2's receptive field: borders weigh


def test_a_tiled_dream_has_no_fixed_seams(vgg: Path) -> None:
    """The grid moves every step, so no column collects the tile borders' artefacts."""
    image = np.full((64, 160, 3), 0.5, np.float32)
    result = dream(image, opts(vgg, octaves=1, iterations=12, tile_size=64, jitter=0))
    change = np.abs(result.image - image).mean(axis=(0, 2))  # per column
    assert change.max() < 4 * np.median(change), change


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"layers": ("relu4_5",)}, "layers"),
        ({"layers": ("relu4_2:0",)}, "layers"),
        ({"layers": ()}, "layers"),
        ({"octaves": 0}, "octaves"),
        ({"octave_scale": 1.0}, "octave_scale"),
        ({"iterations": 0}, "iterations"),
        ({"step": float("nan")}, "step"),
        ({"tile_size": 16}, "tile_size"),
        ({"channels": (-1,)}, "channels"),
    ],
)
def test_bad_options_name_their_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(OptionError) as err:
        DreamOptions(**kwargs).validate()  # type: ignore[arg-type]
    assert err.value.field == field


def test_unknown_layer_suggests_close_names() -> None:
    with pytest.raises(OptionError, match="did you mean relu4_2"):
        DreamOptions(layers=("rleu4_2",)).validate()


def test_channel_out_of_range_is_an_option_error(vgg: Path) -> None:
    with pytest.raises(OptionError, match="relu4_2 has 16 channels") as err:
        Dreamer(opts(vgg, channels=(2, 16)))
    assert err.value.field == "channels"


@pytest.mark.parametrize(
    ("zoom", "rotate"), [(1.0, 0.0), (0.5, 0.0), (3.0, 0.0), (float("inf"), 0.0), (1.05, 90.0)]
)
def test_bad_zoom_options(zoom: float, rotate: float) -> None:
    with pytest.raises(OptionError):
        ZoomOptions(zoom=zoom, rotate=rotate).validate()


# ---------------------------------------------------------------- zoom videos


def test_zoom_transform_keeps_the_centre_and_zooms_in() -> None:
    x = torch.zeros(1, 1, 21, 31)
    x[..., 10, 15] = 1.0
    x[..., 10, 25] = 1.0  # 10 px right of the centre
    out = zoom_transform(x, 2.0)
    assert out.shape == x.shape
    assert float(out[0, 0, 10, 15]) > 0.2  # the centre stays
    assert float(out[0, 0, 10, 25]) < 0.05  # the mark moved out towards the edge
    same = zoom_transform(torch.rand(1, 3, 9, 13), 1.0 + 1e-9)
    assert same.shape == (1, 3, 9, 13)


@pytest.mark.parametrize("shape", [(48, 64), (47, 61)])
def test_zoom_video_frame_count_and_size(vgg: Path, tmp_path: Path, shape: tuple[int, int]) -> None:
    from easel.io.video import probe_video, read_frames

    image = photo(*shape)
    folder = tmp_path / "frames"
    result = dream_zoom(
        image, folder, opts(vgg, octaves=1, iterations=1), ZoomOptions(zoom_frames=3, rotate=2)
    )
    assert result.status == "finished" and result.frames_written == 3
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert files == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert all(read_image(folder / f, max_size=None).shape == shape for f in files)
    clip = tmp_path / "clip.mp4"
    video = dream_zoom(image, clip, opts(vgg, octaves=1, iterations=1), ZoomOptions(zoom_frames=4, fps=8))
    decoded = list(read_frames(clip))
    assert video.status == "finished" and len(decoded) == 4 and probe_video(clip).num_frames == 4
    assert decoded[0].shape[:2] == (shape[0] + shape[0] % 2, shape[1] + shape[1] % 2)  # MP4 pads odd sizes
    assert not (tmp_path / "clip_frames").exists()  # the working frames are removed after the encode


def test_an_interrupted_zoom_video_resumes_to_the_same_frames(vgg: Path, tmp_path: Path) -> None:
    image = photo(40, 56)
    options = opts(vgg, octaves=1, iterations=2)
    zoom = ZoomOptions(zoom_frames=4, zoom=1.1, rotate=3)
    whole = dream_zoom(image, tmp_path / "whole", options, zoom)
    assert whole.status == "finished"

    def stop_after_two(update: ProgressUpdate) -> None:
        if update.stage == "frames" and update.step == 2:
            raise KeyboardInterrupt

    out = tmp_path / "fly.gif"
    first = dream_zoom(image, out, options, zoom, progress=stop_after_two)
    frames = tmp_path / "fly_frames"
    assert first.status == "interrupted" and first.frames_written == 2
    assert not out.exists() and finished_frames(frames) == 2 and (frames / PIN_NAME).is_file()
    kept = frame_path(frames, 0).stat().st_mtime_ns
    # other settings do not touch the frames
    with pytest.raises(Exception, match="another dream"):
        dream_zoom(image, out, options, ZoomOptions(zoom_frames=4, zoom=1.2))
    # a resumed run keeps the finished frames and makes the rest as one run would
    captured: list[np.ndarray] = []
    import easel.dream.zoom as zoom_module

    real_read = zoom_module._read_frame

    def spy(path: Path) -> np.ndarray:
        frame = real_read(path)
        captured.append(frame)
        return frame

    zoom_module._read_frame = spy  # type: ignore[assignment]
    try:
        second = dream_zoom(image, out, options, zoom)
    finally:
        zoom_module._read_frame = real_read  # type: ignore[assignment]
    assert second.status == "finished" and second.resumed_from == 2 and second.frames_written == 4
    assert out.is_file() and not frames.exists()
    encoded = captured[-4:]  # the frames read back for the encode
    for index in range(4):
        expected = read_image(frame_path(tmp_path / "whole", index), max_size=None).rgb
        assert np.array_equal(encoded[index], expected), index
    assert kept > 0


# ---------------------------------------------------------------- the command line


def run_cli(argv: list[str | Path], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


@pytest.fixture
def photo_file(tmp_path: Path) -> Path:
    return write_image(tmp_path / "photo.png", photo())


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--layers", "relu4_5"], "did you mean relu4_4"),
        (["--layers", "pool9"], "--layers"),
        (["--channels", "40"], "--channels has index 40"),
        (["--guide", "no-such-guide.png"], "no-such-guide.png"),
        (["--zoom-frames", "3", "--zoom", "1"], "--zoom"),
        (["--zoom-frames", "3", "--zoom", "50"], "--zoom"),
        (["--zoom-frames", "3", "--zoom", "0.8"], "--zoom"),
        (["--octaves", "0"], "--octaves"),
        (["--tile-size", "8"], "--tile-size"),
        (["--rotate", "2"], "--zoom-frames"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    extra: list[str],
    needle: str,
    photo_file: Path,
    vgg: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / ("fly.gif" if "--zoom-frames" in extra else "d.png")
    before = sorted(tmp_path.iterdir())
    code, _, err = run_cli(["dream", photo_file, "-o", out, "--weights", vgg, *extra], capfd)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert sorted(tmp_path.iterdir()) == before


def test_a_guide_that_cannot_be_read(
    photo_file: Path, vgg: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "guide.png"
    bad.write_text("not an image\n")
    code, _, err = run_cli(
        ["dream", photo_file, "-o", tmp_path / "d.png", "--weights", vgg, "--guide", bad], capfd
    )
    assert code == 2 and "guide.png" in err and len(err.strip().splitlines()) == 1


def test_cli_dream_with_fewer_octaves_tells_the_user(
    photo_file: Path, vgg: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import json

    out = tmp_path / "d.png"
    code, stdout, err = run_cli(
        ["dream", photo_file, "-o", out, "--weights", vgg, "--iterations", "2", "--precision", "fp32"], capfd
    )
    assert code == 0, err
    assert "too small for 4 octaves" in err and "using 2" in err
    assert read_image(out, max_size=None).shape == (48, 64)
    record = json.loads(Path(f"{out}.json").read_text())
    assert record["status"] == "finished" and record["result"]["steps"] == 4
    assert record["options"]["precision"] == "fp32" and record["options"]["device"] == "cpu"


def test_cli_zoom_video_resumes_after_an_interruption(
    photo_file: Path,
    vgg: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from easel.cli._common import CommandContext

    out = tmp_path / "fly.gif"
    argv: list[str | Path] = [
        "dream",
        photo_file,
        "-o",
        out,
        "--weights",
        vgg,
        "--zoom-frames",
        "3",
        "--octaves",
        "1",
        "--iterations",
        "1",
        "--precision",
        "fp32",
    ]

    def interrupting(ctx: CommandContext) -> object:
        def report(update: ProgressUpdate) -> None:
            if update.step == 1:
                raise KeyboardInterrupt

        return report

    with monkeypatch.context() as patch:
        patch.setattr(CommandContext, "progress", property(interrupting))
        code, _, err = run_cli(argv, capfd)
    assert code == 130, err
    assert "run the same command again" in err
    assert json.loads(Path(f"{out}.json").read_text())["status"] == "interrupted"
    assert finished_frames(tmp_path / "fly_frames") == 1
    code, stdout, err = run_cli(argv, capfd)
    assert code == 0, err
    assert "kept 1 finished frame" in err and out.is_file()
    record = json.loads(Path(f"{out}.json").read_text())
    assert record["status"] == "finished" and record["video"]["resumed_from"] == 1
    assert not (tmp_path / "fly_frames").exists()
    # finished: the same command again is refused (the video exists)
    code, _, err = run_cli(argv, capfd)
    assert code == 2 and "fly.gif" in err
