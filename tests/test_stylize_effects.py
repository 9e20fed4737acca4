"""``easel stylize`` options checked by their effect on the picture, not by the exit code.

Each test would fail if the option were silently ignored: a colour mode replaced
by a no-op, a ``--mask`` dropped after loading, a failed grid or sweep pair
reported as success, a ``--bit-depth 16`` output that holds 8-bit data.

The fixtures are tiny: a 36x48 cool-blue photo, a 64x64 warm striped style, a
random VGG-19 with 8-16 channels, 48 px, a few L-BFGS iterations, one scale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from easel.cli import main
from easel.io.images import read_image, write_image
from easel.nets.vgg import save_random_vgg19
from easel.style.color import rgb_to_yiq

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest

TINY = (8, 8, 12, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16)


def _content(h: int = 36, w: int = 48) -> np.ndarray:
    """A cool, blue photo (at the output size): mean colour about (0.32, 0.40, 0.73)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w] / 48
    img = np.stack([0.2 + 0.2 * xx, 0.3 + 0.2 * yy, 0.7 + 0.1 * np.sin(6 * xx)], axis=2)
    return np.clip(img + 0.05 * rng.random((h, w, 3)), 0, 1).astype(np.float32)


def _style(side: int = 64) -> np.ndarray:
    """Warm orange and brown stripes: mean colour about (0.78, 0.46, 0.13)."""
    rng = np.random.default_rng(1)
    _, xx = np.mgrid[0:side, 0:side] / side
    stripes = (np.sin(xx * 40) > 0).astype(np.float32)
    blue = 0.1 + 0.05 * rng.random((side, side))
    return np.stack([0.6 + 0.35 * stripes, 0.3 + 0.3 * stripes, blue], axis=2).astype(np.float32)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("effects")
    mask = np.zeros((36, 48, 3), np.float32)
    mask[:, :24] = 1.0  # the style applies to the left half only
    return {
        "weights": save_random_vgg19(root / "vgg19-tiny.pth", widths=TINY),
        "content": write_image(root / "content.png", _content()),
        "style": write_image(root / "style.png", _style()),
        "mask": write_image(root / "mask.png", mask),
        "styles": _styles_folder(root / "styles"),
        "root": root,
    }


def _styles_folder(folder: Path) -> Path:
    """Two styles for grids: the stripes and their mirror image."""
    folder.mkdir()
    write_image(folder / "a.png", _style())
    write_image(folder / "b.png", _style()[:, ::-1])
    return folder


def _argv(inputs: dict[str, Path], out: Path, *extra: str | Path) -> list[str]:
    argv: list[str | Path] = [
        "stylize",
        inputs["content"],
        "--style",
        inputs["style"],
        "-o",
        out,
        "--weights",
        inputs["weights"],
        "--size",
        "48",
        "--min-scale",
        "48",  # one scale
        "--iterations",
        "10",
        "--coarse-iterations",
        "10",
        "--content-weight",
        "1",
        "--style-weight",
        "1e4",
        "--quiet",
        *extra,
    ]
    return [str(a) for a in argv]


@pytest.fixture(scope="module")
def render(inputs: dict[str, Path]) -> Callable[..., np.ndarray]:
    """``render("--preserve-color", "histogram")`` -> the output image (each option set runs once)."""
    done: dict[tuple[str, ...], np.ndarray] = {}

    def run(*extra: str) -> np.ndarray:
        if extra not in done:
            out = inputs["root"] / f"out{len(done)}.png"
            assert main(_argv(inputs, out, *extra)) == 0
            done[extra] = read_image(out).rgb
        return done[extra]

    return run


def _mean_colour(image: np.ndarray) -> np.ndarray:
    return image.reshape(-1, 3).mean(axis=0)


def _colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(_mean_colour(a) - _mean_colour(b)).sum())


# ---------------------------------------------------------------- colour modes


def test_without_colour_preservation_the_colours_move_to_the_style(render: Callable[..., np.ndarray]) -> None:
    content, style = _content(), _style()
    out = render("--preserve-color", "none")
    assert _colour_distance(out, style) < 0.8 * _colour_distance(content, style)
    assert _colour_distance(out, content) > 0.15


def test_histogram_keeps_the_photo_colours(render: Callable[..., np.ndarray]) -> None:
    """The style is recoloured to the photo's colour statistics first, so the output keeps them."""
    content = _content()
    free = render("--preserve-color", "none")
    kept = render("--preserve-color", "histogram")
    assert _colour_distance(kept, content) < 0.05
    assert _colour_distance(kept, content) < _colour_distance(free, content) / 3
    # and the colour spread too: the per-channel deviation stays the photo's, not the stripes'
    spread = kept.reshape(-1, 3).std(axis=0)
    assert (
        np.abs(spread - content.reshape(-1, 3).std(axis=0)).max()
        < np.abs(free.reshape(-1, 3).std(axis=0) - content.reshape(-1, 3).std(axis=0)).max()
    )


def test_luminance_keeps_the_photo_chroma(render: Callable[..., np.ndarray]) -> None:
    """Only the luminance is stylized: the output's I and Q (YIQ chroma) are the photo's."""
    content = _content()
    free = render("--preserve-color", "none")
    kept = render("--preserve-color", "luminance")
    chroma = rgb_to_yiq(content)[..., 1:]
    assert np.abs(rgb_to_yiq(kept)[..., 1:] - chroma).mean() < 0.01
    assert np.abs(rgb_to_yiq(free)[..., 1:] - chroma).mean() > 0.05
    # the luminance is the stylized one, not the photo's
    assert np.abs(rgb_to_yiq(kept)[..., 0] - rgb_to_yiq(free)[..., 0]).mean() < 0.01


# ---------------------------------------------------------------- masks


def test_mask_confines_the_style_to_its_region(
    render: Callable[..., np.ndarray], inputs: dict[str, Path]
) -> None:
    content = _content()
    whole = render()
    masked = render("--mask", str(inputs["mask"]))
    left, right = slice(0, 18), slice(30, 48)  # away from the mask's edge at x = 24

    def change(image: np.ndarray, cols: slice) -> float:
        return float(np.abs(image[:, cols] - content[:, cols]).mean())

    # outside the mask the masked run stays near the photo; the unmasked one does not
    assert change(masked, right) < change(whole, right) / 3
    # inside the mask the style still applies
    assert change(masked, left) > 3 * change(masked, right)


# ---------------------------------------------------------------- failed pairs: exit 1


@pytest.fixture
def second_run_fails(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the second ``Stylizer.run`` of a command end with a non-finite loss (its image kept)."""
    from easel.style.transfer import Stylizer

    real = Stylizer.run
    calls: list[int] = []

    def run(self: Stylizer, *args: Any, **kwargs: Any) -> Any:
        result = real(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            result.status = "non-finite"
            result.message = "the loss became NaN (test)"
        return result

    monkeypatch.setattr(Stylizer, "run", run)
    return calls


def test_a_sweep_with_a_failed_pair_exits_1(
    inputs: dict[str, Path], tmp_path: Path, second_run_fails: list[int]
) -> None:
    out = tmp_path / "sweep.png"
    argv = _argv(inputs, out)
    argv[argv.index("--style-weight") + 1] = "10,1000"
    assert main(argv) == 1
    assert len(second_run_fails) == 2
    record = json.loads((tmp_path / "sweep.png.json").read_text())
    assert [r["status"] for r in record["renders"]] == ["finished", "non-finite"]
    assert out.exists()  # the contact sheet of what there is


def test_a_grid_with_a_failed_pair_exits_1(
    inputs: dict[str, Path], tmp_path: Path, second_run_fails: list[int]
) -> None:
    out = tmp_path / "grid"
    argv = _argv(inputs, out)
    argv[argv.index("--style") + 1] = str(inputs["styles"])
    assert main(argv) == 1
    record = json.loads((tmp_path / "grid.json").read_text())
    assert len(record["done"]) == 1 and len(record["failed"]) == 1
    failed = Path(record["failed"][0][0])
    assert not failed.exists()  # a failed pair is not written, so a re-run renders it again
    assert second_run_fails == [1, 1]


def test_a_grid_and_a_sweep_without_failures_exit_0(inputs: dict[str, Path], tmp_path: Path) -> None:
    sweep = _argv(inputs, tmp_path / "sweep.png")
    sweep[sweep.index("--style-weight") + 1] = "10,1000"
    assert main(sweep) == 0
    grid = _argv(inputs, tmp_path / "grid")
    grid[grid.index("--style") + 1] = str(inputs["styles"])
    assert main(grid) == 0


# ---------------------------------------------------------------- 16-bit outputs


def assert_16_bit(path: Path) -> np.ndarray:
    """``path`` holds 16-bit samples with more than 8 bits of information (not 8-bit values x 257)."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw is not None, path
    assert raw.dtype == np.uint16, f"{path}: {raw.dtype} samples"
    inside = raw[(raw > 0) & (raw < 65535)]  # clipped samples are multiples of 257 at any depth
    assert inside.size >= 16, f"{path}: almost every sample is clipped"
    assert (inside % 257 != 0).mean() > 0.5, f"{path}: 16-bit samples holding 8-bit values"
    return raw


def assert_8_bit(path: Path) -> None:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw is not None and raw.dtype == np.uint8, path


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_bit_depth_16_writes_16_bit_samples(inputs: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"art{suffix}"
    assert main(_argv(inputs, out, "--bit-depth", "16")) == 0
    raw = assert_16_bit(out)
    # the same picture as the 8-bit run, to within 8-bit rounding
    eight = tmp_path / f"art8{suffix}"
    assert main(_argv(inputs, eight)) == 0
    assert_8_bit(eight)
    np.testing.assert_allclose(
        raw / 65535.0, cv2.imread(str(eight), cv2.IMREAD_UNCHANGED) / 255.0, atol=0.6 / 255
    )


def test_bit_depth_16_in_sweeps_and_grids(inputs: dict[str, Path], tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.png"
    argv = _argv(inputs, sweep, "--bit-depth", "16")
    argv[argv.index("--style-weight") + 1] = "10,1000"
    assert main(argv) == 0
    for name in ("sweep_c1_s10.png", "sweep_c1_s1000.png"):
        assert_16_bit(tmp_path / name)
    grid = tmp_path / "grid"
    argv = _argv(inputs, grid, "--bit-depth", "16")
    argv[argv.index("--style") + 1] = str(inputs["styles"])
    assert main(argv) == 0
    cells = sorted(p for p in grid.iterdir() if p.suffix == ".tif")
    assert len(cells) == 2
    for cell in cells:
        assert_16_bit(cell)


def test_the_16_bit_check_refuses_8_bit_files(tmp_path: Path) -> None:
    """The check above is itself tested: an 8-bit file, and 8-bit values widened to 16 bits, fail it."""
    rng = np.random.default_rng(0)
    image = rng.random((16, 16, 3), dtype=np.float32)
    eight = write_image(tmp_path / "eight.png", image)
    widened = tmp_path / "widened.png"
    assert cv2.imwrite(str(widened), cv2.imread(str(eight)).astype(np.uint16) * 257)
    for path in (eight, widened):
        with pytest.raises(AssertionError):
            assert_16_bit(path)
    assert_16_bit(write_image(tmp_path / "deep.png", image, bit_depth=16))
