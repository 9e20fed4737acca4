"""easel.style.inputs and easel.style.recording: what `easel stylize` does before and around a run,
reachable from Python (style specs, folders, alpha, masks, the memory check, step recording)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from easel.errors import InputError
from easel.io.images import read_image, write_image
from easel.options import OptionError
from easel.style.inputs import (
    MemoryLimitError,
    check_memory,
    composite_over_white,
    expand_style_paths,
    is_grayscale,
    load_style_image,
    load_style_inputs,
    parse_style_spec,
)
from easel.style.options import StyleOptions
from easel.style.recording import SnapshotRecorder, animation_interval


def _img(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.rint(rng.random((h, w, 3)) * 255) / 255).astype(np.float32)


def test_style_spec_weights_and_paths(tmp_path: Path) -> None:
    assert parse_style_spec("a.jpg") == (Path("a.jpg"), 1.0)
    assert parse_style_spec("a.jpg:0.45") == (Path("a.jpg"), 0.45)
    assert parse_style_spec("dir/with:colon.jpg") == (Path("dir/with:colon.jpg"), 1.0)
    assert parse_style_spec("C:\\styles\\a.jpg") == (Path("C:\\styles\\a.jpg"), 1.0)
    # a weight that is not a number is said so, not reported as a missing file "a.jpg:abc"
    with pytest.raises(InputError, match="weight 'abc' is not a number"):
        parse_style_spec("a.jpg:abc")
    folder = tmp_path / "styles"
    folder.mkdir()
    with pytest.raises(InputError, match="not a number"):
        parse_style_spec(f"{folder}:x")
    for bad in ("a.jpg:-1", "a.jpg:inf", "a.jpg:nan"):
        with pytest.raises(InputError, match="finite number >= 0"):
            parse_style_spec(bad)
    # a file whose name really has such a suffix is still a file
    odd = tmp_path / "b.png:old"
    odd.write_bytes(b"x")
    assert parse_style_spec(str(odd)) == (odd, 1.0)


def test_expand_style_folders(tmp_path: Path) -> None:
    folder = tmp_path / "styles"
    folder.mkdir()
    write_image(folder / "b.png", _img(40, 40))
    write_image(folder / "a.png", _img(40, 40))
    single = write_image(tmp_path / "c.png", _img(40, 40))
    assert expand_style_paths([(folder, 0.5), (single, 2.0)]) == [
        (folder / "a.png", 0.5),
        (folder / "b.png", 0.5),
        (single, 2.0),
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        expand_style_paths([(tmp_path / "empty", 1.0)])


def test_alpha_composited_over_white_and_grayscale_noted(tmp_path: Path) -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 20:, 3] = 255  # left half transparent, right half opaque red
    from PIL import Image

    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    Image.fromarray(np.full((40, 40), 128, np.uint8), mode="L").save(tmp_path / "g.png")
    notes: list[str] = []
    rgb = load_style_image(tmp_path / "t.png", "style", notes=notes)
    assert np.allclose(rgb[:, :20], 1.0) and np.allclose(rgb[:, 20:], (1.0, 0.0, 0.0))
    gray = load_style_image(tmp_path / "g.png", "content", notes=notes)
    assert gray.shape == (40, 40, 3)
    assert notes == [
        f"{tmp_path / 't.png'}: style has transparency; composited over white",
        f"{tmp_path / 'g.png'}: content is grayscale; its Grams carry no colour",
    ]
    assert is_grayscale(np.full((2, 2, 3), 0.3, np.float32)) and not is_grayscale(_img(4, 4))
    half = composite_over_white(np.zeros((1, 1, 3), np.float32), np.full((1, 1), 0.25, np.float32))
    assert np.allclose(half, 0.75)


def test_too_small_image_names_minimum_and_reason(tmp_path: Path) -> None:
    write_image(tmp_path / "tiny.png", _img(20, 40))
    with pytest.raises(InputError, match=r"only 40x20 px; style transfer needs at least 32 px.*VGG-19"):
        load_style_image(tmp_path / "tiny.png", "style")


def test_load_style_inputs_masks_weights_and_paths(tmp_path: Path) -> None:
    content = write_image(tmp_path / "content.png", _img(48, 64, 1))
    s1 = write_image(tmp_path / "s1.png", _img(40, 40, 2))
    s2 = write_image(tmp_path / "s2.png", _img(40, 40, 3))
    mask = np.zeros((48, 64, 3), np.float32)
    mask[:, :32] = 1
    mask_path = write_image(tmp_path / "mask.png", mask)
    init = write_image(tmp_path / "init.png", _img(48, 64, 4))
    inputs = load_style_inputs(content, [s1, (s2, 0.45)], masks=[mask_path], init_image=init)
    assert inputs.content.shape == (48, 64, 3) and inputs.init_image is not None
    assert [s.weight for s in inputs.styles] == [1.0, 0.45]
    assert inputs.styles[0].mask is not None and inputs.styles[0].mask[:, :32].min() == 1.0
    assert inputs.styles[1].mask is None and inputs.styles[0].key == str(s1.resolve())
    assert set(inputs.paths) == {content, s1, s2, mask_path, init}
    assert inputs.content_shape == (48, 64) and inputs.notes == []
    with pytest.raises(InputError, match="2 masks for 1 styles"):
        load_style_inputs(content, [s1], masks=[mask_path, mask_path])
    wrong = write_image(tmp_path / "wrong.png", np.zeros((30, 30, 3), np.float32))
    with pytest.raises(InputError, match="wrong.png"):
        load_style_inputs(content, [s1], masks=[wrong])


def test_memory_check_uses_the_run_device(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import easel.devices
    import easel.nets.precision
    import easel.style.transfer as transfer
    from easel.nets.precision import PrecisionChoice

    budgets = {"cpu": 64 * 2**30, "cuda": 1 * 2**30}
    monkeypatch.setattr(transfer, "memory_budget", lambda device: budgets[device.type])
    monkeypatch.setattr(easel.devices, "resolve_device", lambda name: torch.device(name))
    # `auto` precision is measured on the device; there is no real GPU to measure here
    bf16 = PrecisionChoice("bf16", "test", {"fp32": 2.0, "bf16": 1.0}, {}, "cache", "")
    monkeypatch.setattr(easel.nets.precision, "choose_precision", lambda device, **kw: bf16)
    options = StyleOptions(size=2048, device="cpu")
    assert check_memory(options, (768, 1024)) < budgets["cpu"]
    # the same run on a GPU with 1 GiB free is refused: the GPU's memory counts, not the host's
    with pytest.raises(MemoryLimitError) as info:
        check_memory(StyleOptions(size=2048, device="cuda"), (768, 1024))
    err = info.value
    assert isinstance(err, OptionError) and err.field == "size"
    assert str(err).startswith("size 2048 (2048x1536 px) needs about") and "free on cuda" in str(err)
    assert "tile_size 1024" in str(err)
    assert err.with_name("--size", "--tile-size").startswith("--size 2048 ")
    assert "--tile-size 1024" in err.with_name("--size", "--tile-size")


def test_huge_size_is_refused_even_when_tiled(monkeypatch: pytest.MonkeyPatch) -> None:
    import easel.style.transfer as transfer

    monkeypatch.setattr(transfer, "memory_budget", lambda device: 16 * 2**30)
    tiled = StyleOptions(size=100_000, tile_size=1024, device="cpu")
    with pytest.raises(MemoryLimitError, match=r"^size 100000 \(100000x75000 px\)") as info:
        check_memory(tiled, (768, 1024))
    assert "tile_size" not in str(info.value)  # already tiled: no tiling hint
    assert check_memory(StyleOptions(size=4096, tile_size=1024, device="cpu"), (768, 1024)) < 16 * 2**30


@dataclass
class _State:
    step: int
    image_: np.ndarray
    output_shape: tuple[int, int]

    def image(self) -> np.ndarray:
        return self.image_


def test_recorder_writes_steps_and_frames_at_output_size(tmp_path: Path) -> None:
    steps = tmp_path / "art_steps"
    recorder = SnapshotRecorder(save_every=2, steps_dir=steps, frame_every=3)
    coarse, fine = _img(24, 32, 1), _img(48, 64, 2)
    for step in range(1, 5):
        assert recorder(_State(step, coarse, (48, 64))) is False
    for step in range(5, 7):
        recorder(_State(step, fine, (48, 64)))
    recorder.finish(fine)
    assert sorted(p.name for p in steps.iterdir()) == ["step_00002.png", "step_00004.png", "step_00006.png"]
    assert read_image(steps / "step_00002.png").rgb.shape == (24, 32, 3)  # step images at their scale
    assert [f.shape for f in recorder.frames] == [(48, 64, 3)] * 3  # steps 3, 6 and the final image
    assert all(f.dtype == np.uint8 for f in recorder.frames)
    assert animation_interval(280) == 4 and animation_interval(10) == 1
    assert not SnapshotRecorder().active
    with pytest.raises(ValueError):
        SnapshotRecorder(save_every=2)
