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
        (["depth", str(photo_path), "-o", str(tmp_path / "a.jpg")], "unsupported format"),
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
    from easel.cli._gallery import Gallery

    gallery = Gallery(tmp_path / "gallery")
    depth_cli.demo(gallery)
    assert not gallery.failures, gallery.failures
    assert (tmp_path / "gallery" / "depth_scene_preview.png").is_file()
    assert gallery.entries and gallery.entries[0].section == "3D: depth"


def test_demo_with_cached_weights(tiny_folder, tmp_path, tmp_easel_home, monkeypatch):
    """With the default model cached (here: the tiny one under its name), the demo estimates depth."""
    from easel import weights
    from easel.cli import depth as depth_cli
    from easel.cli._gallery import Gallery
    from easel.depth import estimator

    monkeypatch.setattr(weights, "is_present", lambda name: True)
    real = estimator.resolve_weights
    monkeypatch.setattr(estimator, "resolve_weights", lambda model, w: real(model, w or tiny_folder))
    gallery = Gallery(tmp_path / "gallery")
    depth_cli.demo(gallery)
    assert not gallery.failures, gallery.failures
    assert (tmp_path / "gallery" / "depth_astronaut_preview.png").is_file()
    shutil.rmtree(tmp_path / "gallery")


def test_a_refine_radius_larger_than_the_photo_is_clamped_with_a_notice(photo_path, tmp_path, capsys):
    depth = np.tile(np.linspace(1, 3, 32, dtype=np.float32), (24, 1))
    np.save(tmp_path / "half.npy", depth)
    out = tmp_path / "d.npy"
    argv = ["depth", str(photo_path), "--depth", str(tmp_path / "half.npy"), "-o", str(out)]
    assert main([*argv, "--refine-radius", "1000000000"]) == 0
    err = capsys.readouterr().err
    assert "--refine-radius 1000000000 is larger than the photo; using 64" in err
    assert json.loads((tmp_path / "d.npy.json").read_text())["options"]["refine_radius"] == 64


def test_outputs_are_checked_together_before_any_work(photo_path, tmp_path, capsys):
    """Issue #8: the preview may not be the record, and a record in the way stops the run first."""
    depth = tmp_path / "given.npy"
    np.save(depth, np.tile(np.linspace(1, 3, 64, dtype=np.float32), (48, 1)))
    out = tmp_path / "d.png"
    argv = ["depth", str(photo_path), "--depth", str(depth), "-o", str(out)]
    assert main([*argv, "--preview", str(tmp_path / "d.png.json")]) == 2
    assert "--preview" in capsys.readouterr().err
    (tmp_path / "d.png.json").write_text("someone else's file\n")
    assert main([*argv, "--preview", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert "d.png.json" in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "p.png").exists()
    assert (tmp_path / "d.png.json").read_text() == "someone else's file\n"


# ---------------------------------------------------------------- options declared once (issue #18)


def _depth_parser():
    from easel.cli import Parser
    from easel.cli import depth as depth_cli

    parser = Parser(prog="easel depth")
    depth_cli.add_arguments(parser)
    return parser


def test_help_text_comes_from_the_declaration(capsys):
    from easel.depth.options import DepthOptions
    from easel.options import declared_options

    assert main(["depth", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    for opt in declared_options(DepthOptions):
        assert " ".join(opt.spec.help.split()) in shown, opt.name
        assert opt.flag in shown, opt.name
    assert "examples:" in shown


def test_cli_defaults_are_the_api_defaults():
    from easel.cli._options import options_from_args
    from easel.depth.options import DepthOptions

    args = _depth_parser().parse_args(["photo.png", "-o", "d.npy"])
    assert options_from_args(DepthOptions, args) == DepthOptions()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--model", "dpt-large"], {"model": "dpt-large"}),
        (["--weights", "w/folder"], {"weights": Path("w/folder")}),
        (["--device", "cpu"], {"device": "cpu"}),
        (["--precision", "bf16"], {"precision": "bf16"}),
        (["--depth", "d.png"], {"depth": Path("d.png")}),
        (["--depth-kind", "disparity"], {"depth_kind": "disparity"}),
        (["--depth-range", "2,50"], {"depth_range": (2.0, 50.0)}),
        (["--refine"], {"refine": True}),
        (["--no-refine"], {"refine": False}),
        ([], {"refine": None, "refine_radius": None, "depth_range": None, "weights": None}),
        (["--refine-radius", "6"], {"refine_radius": 6}),
        (["--preview", "p.png"], {"preview": Path("p.png")}),
        (["--max-size", "512"], {"max_size": 512}),
        (["-y"], {"overwrite": True}),
    ],
)
def test_every_old_flag_parses_to_the_same_value(argv, expected):
    args = _depth_parser().parse_args(["photo.png", "-o", "d.npy", *argv])
    assert {key: getattr(args, key) for key in expected} == expected


def test_refine_and_no_refine_exclude_each_other(photo_path, tmp_path, capsys):
    assert main(["depth", str(photo_path), "-o", str(tmp_path / "d.npy"), "--refine", "--no-refine"]) == 2
    err = capsys.readouterr().err
    assert "--no-refine" in err and "--refine" in err and err.count("\n") == 1


def test_library_option_errors_name_the_flag_before_any_work(photo_path, tmp_path, capsys):
    out = tmp_path / "d.npy"
    assert main(["depth", str(photo_path), "-o", str(out), "--refine-radius", "0"]) == 2
    assert (
        capsys.readouterr().err == "easel depth: error: --refine-radius must be a whole number >= 1, got 0\n"
    )
    assert not out.exists()


def test_records_store_the_resolved_options_and_device(tiny_folder, photo_path, tmp_path):
    from easel.depth.options import DepthOptions
    from easel.options import options_dict

    out = tmp_path / "d.npy"
    argv = ["depth", str(photo_path), "-o", str(out), "--weights", str(tiny_folder), "--depth-range", "2,20"]
    assert main([*argv, "--refine-radius", "5", "-q"]) == 0
    recorded = json.loads((tmp_path / "d.npy.json").read_text())["options"]
    expected = options_dict(
        DepthOptions(weights=tiny_folder, depth_range=(2.0, 20.0), refine_radius=5, device="auto")
    )
    assert recorded["device"] in ("cpu", "cuda", "mps")  # what ran, not "auto"
    assert recorded["precision"] == "fp32"
    del expected["device"]
    assert {key: recorded[key] for key in expected} == expected
    assert recorded["image"] == str(photo_path) and recorded["output"] == str(out)
    # a depth file: no network ran, so no device either
    np.save(tmp_path / "given.npy", np.tile(np.linspace(1, 3, 64, dtype=np.float32), (48, 1)))
    out2 = tmp_path / "e.npy"
    assert (
        main(["depth", str(photo_path), "--depth", str(tmp_path / "given.npy"), "-o", str(out2), "-q"]) == 0
    )
    recorded = json.loads((tmp_path / "e.npy.json").read_text())["options"]
    assert recorded["device"] is None and recorded["depth"] == str(tmp_path / "given.npy")


def test_cli_output_equals_the_library_call(tiny_folder, photo_path, tmp_path):
    """API = CLI: the same options give the same depth through either."""
    from easel.depth.pipeline import depth_for_image

    out = tmp_path / "d.npy"
    argv = ["depth", str(photo_path), "-o", str(out), "--weights", str(tiny_folder), "--device", "cpu"]
    assert main([*argv, "--depth-range", "3,30", "--refine-radius", "7", "-q"]) == 0
    expected = depth_for_image(
        read_image(photo_path).rgb,
        weights=tiny_folder,
        device="cpu",
        depth_range=(3.0, 30.0),
        refine_radius=7,
    )
    np.testing.assert_array_equal(np.load(out), expected.depth)
