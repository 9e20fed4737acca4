"""``easel depth`` in-process: outputs, records, and the exit-2 paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from easel.cli import main
from easel.depth.estimator import clear_cache
from easel.depth.files import read_depth, write_depth
from easel.depth.testing import save_tiny_depth_model
from easel.io.images import read_image, write_image

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_depth_model(tmp_path_factory.mktemp("cli-tiny") / "tiny-depth")


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def photo_path(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    img = np.zeros((48, 64, 3), np.float32)
    img[:, :32] = (0.8, 0.2, 0.1)
    img[:, 32:] = (0.1, 0.3, 0.9)
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1).astype(np.float32)
    return write_image(tmp_path / "photo.png", img)


def test_estimate_writes_depth_preview_and_record(tiny_folder, photo_path, tmp_path, capsys):
    out = tmp_path / "depth.png"
    preview = tmp_path / "preview.png"
    code = main(
        [
            "depth",
            str(photo_path),
            "-o",
            str(out),
            "--preview",
            str(preview),
            "--weights",
            str(tiny_folder),
            "--device",
            "cpu",
            "--depth-range",
            "2,20",
        ]
    )
    assert code == 0, capsys.readouterr().err
    depth = read_depth(out)
    assert depth.shape == (48, 64)
    assert depth.min() == pytest.approx(2.0, rel=1e-3) and depth.max() == pytest.approx(20.0, rel=1e-3)
    assert read_image(preview).rgb.shape == (48, 64, 3)
    record = json.loads((tmp_path / "depth.png.json").read_text())
    assert record["command"] == "depth"
    assert record["depth"]["model"] == "depth-anything-v2-small"
    assert record["depth"]["near"] == pytest.approx(2.0, rel=1e-3)
    assert "network" in record["timings_s"]
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".npy", ".exr", ".tif"])
def test_output_formats(tiny_folder, photo_path, tmp_path, suffix):
    out = tmp_path / f"depth{suffix}"
    assert (
        main(
            [
                "depth",
                str(photo_path),
                "-o",
                str(out),
                "--weights",
                str(tiny_folder),
                "--device",
                "cpu",
                "--no-refine",
                "-q",
            ]
        )
        == 0
    )
    assert read_depth(out).shape == (48, 64)


def test_convert_a_given_depth_file(photo_path, tmp_path):
    disp = np.tile(np.linspace(0.0, 1.0, 32, dtype=np.float32), (24, 1))  # half resolution
    np.save(tmp_path / "phone.npy", disp)
    out = tmp_path / "depth.exr"
    code = main(
        [
            "depth",
            str(photo_path),
            "--depth",
            str(tmp_path / "phone.npy"),
            "--depth-kind",
            "disparity",
            "-o",
            str(out),
            "--preview",
            str(tmp_path / "p.png"),
            "-q",
        ]
    )
    assert code == 0
    depth = read_depth(out)
    assert depth.shape == (48, 64)  # resized to the photo
    assert depth.min() >= 1.0 - 1e-4 and depth.max() <= 10.0 + 1e-4
    # without a photo: no resizing, no refinement
    out2 = tmp_path / "depth2.npy"
    assert (
        main(
            [
                "depth",
                "--depth",
                str(tmp_path / "phone.npy"),
                "--depth-kind",
                "disparity",
                "-o",
                str(out2),
                "-q",
            ]
        )
        == 0
    )
    assert np.load(out2).shape == (24, 32)


def test_given_depth_is_refined_only_when_enlarged(tmp_path):
    rng = np.random.default_rng(1)
    img = np.zeros((48, 64, 3), np.float32)
    img[:, :32] = (0.9, 0.1, 0.1)
    img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32)
    photo = write_image(tmp_path / "two.png", img)
    full = np.tile(np.where(np.arange(64) < 35, 2.0, 6.0).astype(np.float32), (48, 1))  # edge 3 px off
    np.save(tmp_path / "full.npy", full)
    assert (
        main(
            ["depth", str(photo), "--depth", str(tmp_path / "full.npy"), "-o", str(tmp_path / "a.npy"), "-q"]
        )
        == 0
    )
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), full)  # full size: kept as is
    record = json.loads((tmp_path / "a.npy.json").read_text())
    assert record["depth"]["refined"] is False
    argv = ["depth", str(photo), "--depth", str(tmp_path / "full.npy"), "-o", str(tmp_path / "b.npy"), "-q"]
    assert main([*argv, "--refine", "--refine-radius", "6"]) == 0
    refined = np.load(tmp_path / "b.npy")
    assert np.all(refined[:, 32:35] > 5.0)  # the edge moved onto the colour edge
    np.save(tmp_path / "half.npy", full[::2, ::2])
    assert (
        main(
            ["depth", str(photo), "--depth", str(tmp_path / "half.npy"), "-o", str(tmp_path / "c.npy"), "-q"]
        )
        == 0
    )
    assert json.loads((tmp_path / "c.npy.json").read_text())["depth"]["refined"] is True


def test_missing_weights_exit_2_with_the_offline_message(photo_path, tmp_path, tmp_easel_home, capsys):
    code = main(["depth", str(photo_path), "-o", str(tmp_path / "d.npy"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1  # one line
    assert "easel weights download depth-anything-v2-small" in err
    assert "--weights PATH" in err
    assert not (tmp_path / "d.npy").exists()


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--depth-range", "10,1"], "far must be larger"),
        (["--depth-range", "1"], "near,far"),
        (["--depth-range", "0,5"], "near must be > 0"),
        (["--model", "nope"], "unknown depth model"),
        (["--weights", "/no/such/folder"], "not found"),
    ],
)
def test_bad_options_exit_2(photo_path, tmp_path, tmp_easel_home, capsys, extra, match):
    code = main(["depth", str(photo_path), "-o", str(tmp_path / "d.npy"), "--device", "cpu", *extra])
    assert code == 2
    assert match in capsys.readouterr().err


def test_bad_inputs_exit_2(photo_path, tmp_path, capsys):
    np.save(tmp_path / "square.npy", np.tile(np.linspace(1, 2, 40, dtype=np.float32), (40, 1)))
    np.save(tmp_path / "flat.npy", np.full((48, 64), 2.0, np.float32))
    (tmp_path / "text.npy").write_text("hello")
    cases = [
        (["depth", "-o", str(tmp_path / "a.npy")], "give a photo"),
        (["depth", str(photo_path), "-o", str(tmp_path / "a.jpg")], "unsupported output format"),
        (
            [
                "depth",
                str(photo_path),
                "--depth",
                str(tmp_path / "square.npy"),
                "-o",
                str(tmp_path / "a.npy"),
            ],
            "aspect ratios differ",
        ),
        (
            ["depth", str(photo_path), "--depth", str(tmp_path / "flat.npy"), "-o", str(tmp_path / "a.npy")],
            "no parallax",
        ),
        (
            ["depth", str(photo_path), "--depth", str(tmp_path / "text.npy"), "-o", str(tmp_path / "a.npy")],
            "not a NumPy",
        ),
        (
            [
                "depth",
                str(photo_path),
                "--depth",
                str(tmp_path / "missing.npy"),
                "-o",
                str(tmp_path / "a.npy"),
            ],
            "no such file",
        ),
        (["depth", str(tmp_path / "nophoto.png"), "-o", str(tmp_path / "a.npy")], "no such file"),
        (
            [
                "depth",
                str(photo_path),
                "--depth",
                str(tmp_path / "square.npy"),
                "-o",
                str(tmp_path / "a.npy"),
                "--preview",
                str(tmp_path / "a.npy"),
            ],
            "must differ",
        ),
    ]
    for argv, match in cases:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert match in err, (argv, err)
    assert not (tmp_path / "a.npy").exists()


def test_existing_output_needs_overwrite(photo_path, tmp_path, capsys):
    depth = np.tile(np.linspace(1, 3, 64, dtype=np.float32), (48, 1))
    write_depth(tmp_path / "given.npy", depth)
    out = tmp_path / "out.npy"
    out.write_bytes(b"old")
    argv = ["depth", str(photo_path), "--depth", str(tmp_path / "given.npy"), "-o", str(out), "-q"]
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
    assert np.load(out).shape == (48, 64)


def test_demo_without_weights_uses_the_synthetic_scene(tmp_path, tmp_easel_home):
    from easel.cli import depth as depth_cli
    from easel.gallery import Gallery

    gallery = Gallery(tmp_path / "gallery")
    depth_cli.demo(gallery)
    assert not gallery.failures, gallery.failures
    assert (tmp_path / "gallery" / "depth_scene_preview.png").is_file()
    assert gallery.entries and gallery.entries[0].section == "3D: depth"


def test_demo_with_cached_weights(tiny_folder, tmp_path, tmp_easel_home, monkeypatch):
    """With the default model cached (here: the tiny one under its name), the demo estimates depth."""
    from easel import weights
    from easel.cli import depth as depth_cli
    from easel.depth import estimator
    from easel.gallery import Gallery

    monkeypatch.setattr(weights, "is_present", lambda name: True)
    real = estimator.resolve_weights
    monkeypatch.setattr(estimator, "resolve_weights", lambda model, w: real(model, w or tiny_folder))
    gallery = Gallery(tmp_path / "gallery")
    depth_cli.demo(gallery)
    assert not gallery.failures, gallery.failures
    assert (tmp_path / "gallery" / "depth_astronaut_preview.png").is_file()
    shutil.rmtree(tmp_path / "gallery")
