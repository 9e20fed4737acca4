"""The pieces of the stylize benchmark against neural-style-pt (``benchmarks/stylize.py``).

The torchvision stand-in the peer runs with is checked against torchvision's
formulas, the peer's log parser against its output format, the time-to-reach
hook against synthetic traces, and the shared objective's pixel scale against a
plain-torch first layer of the peer's network. One end-to-end run of the real
peer (it installs from PyPI) is marked ``network``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Loaded under private names: the stand-in must never shadow a real torchvision here.
transforms = _load("_bench_peer_transforms", BENCH / "_peer_stand_in" / "torchvision" / "transforms.py")
peer = _load("_bench_peer_neural_style", BENCH / "_peer_neural_style.py")
bench = _load("_bench_stylize", BENCH / "stylize.py")


def _random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# ------------------------------------------------------------ the torchvision stand-in


def test_to_tensor_is_chw_float_over_255() -> None:
    pixels = _random_rgb(5, 7)
    tensor = transforms.ToTensor()(Image.fromarray(pixels))
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (3, 5, 7)
    np.testing.assert_array_equal(tensor.numpy(), pixels.transpose(2, 0, 1).astype(np.float32) / 255)


def test_normalize_subtracts_mean_and_divides_by_std_on_a_copy() -> None:
    x = torch.rand(3, 4, 4)
    before = x.clone()
    mean, std = [0.1, 0.2, 0.3], [0.5, 2.0, 4.0]
    out = transforms.Normalize(mean, std)(x)
    expected = (before.numpy() - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[
        :, None, None
    ]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert torch.equal(x, before)


def test_to_pil_image_truncates_like_torchvision() -> None:
    # torchvision's to_pil_image: pic.mul(255).byte() -- truncation, not rounding
    values = torch.tensor([0.999, 0.5, 0.0019, 1.0]).view(1, 1, 4).expand(3, 1, 4).contiguous()
    image = transforms.ToPILImage()(values)
    assert image.mode == "RGB" and image.size == (4, 1)
    assert np.asarray(image)[0, :, 0].tolist() == [254, 127, 0, 255]


def test_resize_to_a_tuple_is_pils_bilinear_and_same_size_is_identity() -> None:
    image = Image.fromarray(_random_rgb(12, 20))
    out = transforms.Resize((6, 9))(image)
    assert out.size == (9, 6)
    expected = image.resize((9, 6), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    np.testing.assert_array_equal(np.asarray(transforms.Resize((12, 20))(image)), np.asarray(image))


def test_resize_to_an_int_sets_the_short_side() -> None:
    image = Image.fromarray(_random_rgb(12, 20))
    assert transforms.Resize(6)(image).size == (10, 6)
    tall = Image.fromarray(_random_rgb(30, 8))
    assert transforms.Resize(4)(tall).size == (4, 15)


def test_compose_and_lambda_apply_in_order() -> None:
    # the peer's rgb2bgr: Lambda(lambda x: x[torch.LongTensor([2, 1, 0])])
    pipeline = transforms.Compose(
        [transforms.ToTensor(), transforms.Lambda(lambda x: x[torch.LongTensor([2, 1, 0])])]
    )
    pixels = _random_rgb(3, 3)
    out = pipeline(Image.fromarray(pixels))
    np.testing.assert_array_equal(out.numpy(), pixels[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255)


# ------------------------------------------------------------ the peer's log and command


def test_peer_log_parser_collects_each_evaluation() -> None:
    lines = [
        "Capturing content targets",
        "Running optimization with L-BFGS",
        "Iteration 1 / 2",
        "  Content 1 loss: 0.0",
        "  Style 1 loss: 2.5",
        "  Style 2 loss: 1.0",
        "  Total loss: 3.5",
        "Iteration 2 / 2",
        "  Content 1 loss: 0.25",
        "  Total loss: 1.25",
        "Iteration 3 / 2",  # no total follows: not an evaluation
    ]
    log = peer.parse_peer_log((0.5 * i, line) for i, line in enumerate(lines))
    assert log.loop_start_s == 0.5
    assert [(s.iteration, s.total, s.elapsed_s) for s in log.steps] == [(1, 3.5, 1.0), (2, 1.25, 3.5)]
    assert log.steps[0].style == [2.5, 1.0] and log.steps[1].content == [0.25]


def test_peer_command_runs_the_shared_objective_on_the_cpu() -> None:
    cmd = peer.peer_command("content.png", "style.png", 384, 500)
    flags = dict(zip(cmd[3::2], cmd[4::2], strict=False))
    assert cmd[1:3] == ["-m", "neural_style.neural_style"]
    assert flags["-init"] == "image" and flags["-gpu"] == "c" and flags["-tv_weight"] == "0"
    assert float(flags["-content_weight"]) == 5.0 and float(flags["-style_weight"]) == 100.0
    assert flags["-num_iterations"] == "500" and flags["-image_size"] == "384"
    # the loader picks the architecture from the path: relative, with "vgg" and "19" in it
    assert flags["-model_file"] == peer.WEIGHTS_LINK and "vgg19" in peer.WEIGHTS_LINK
    assert "-disable_check" in cmd


# ------------------------------------------------------------ time to reach


def test_reach_recorder_ignores_coarse_scales_and_confirms_by_evaluation() -> None:
    evaluated: list[float] = []

    def evaluate(image: np.ndarray) -> float:
        evaluated.append(float(image[0, 0, 0]))
        return float(image[0, 0, 0]) * 10  # the image carries its "objective"

    rec = bench.ReachRecorder(target=5.0, evaluate=evaluate)
    rec.start()

    def step(n: int, scale: int, loss: float, objective: float) -> None:
        rec.record(n, scale, 2, loss, lambda: np.full((2, 2, 3), objective / 10, np.float32))

    step(1, 0, 1.0, 1.0)  # coarse scale: below target, never checked
    step(2, 1, 9.0, 9.0)  # fine, above margin x target: not checked
    step(3, 1, 5.4, 5.4)  # within 10 %: checked, not reached (5.4 > 5)
    step(4, 1, 5.45, 4.0)  # not a new lowest: not checked
    step(5, 1, 5.2, 4.9)  # new lowest: checked, reached
    step(6, 1, 4.0, 4.0)  # already reached: not checked
    assert [c["step"] for c in rec.checks] == [3, 5]
    assert rec.reached is not None and rec.reached["step"] == 5
    assert rec.reached["objective"] == pytest.approx(4.9, abs=0.03)  # the image as written (uint8)
    assert [t[1] for t in rec.trace] == [1, 2, 3, 4, 5, 6]
    assert len(evaluated) == 2


def test_reach_recorder_keeps_its_own_time_out_of_the_clock() -> None:
    def slow_evaluate(image: np.ndarray) -> float:
        time.sleep(0.3)
        return 10.0  # never reaches

    rec = bench.ReachRecorder(target=1.0, evaluate=slow_evaluate, margin=100.0, max_checks=2)
    rec.start()
    for n, loss in enumerate([50.0, 40.0, 30.0, 20.0], start=1):
        rec.record(n, 0, 1, loss, lambda: np.zeros((2, 2, 3), np.float32))
    assert len(rec.checks) == 2  # max_checks
    assert rec.reached is None
    assert rec.hook_s >= 0.6
    assert rec.trace[-1][0] < 0.2  # two 0.3 s evaluations happened before, none of it counted
    assert rec.elapsed() < 0.2


def test_as_written_rounds_to_uint8_levels() -> None:
    out = bench.as_written(np.array([0.0, 0.31, 0.5, 1.0, 1.2], np.float32))
    np.testing.assert_allclose(out * 255, [0, 79, 128, 255, 255], atol=1e-4)


def test_pairs_are_content_colon_style() -> None:
    assert bench.parse_pairs("chelsea:coffee,a.png:b.jpg") == [("chelsea", "coffee"), ("a.png", "b.jpg")]
    with pytest.raises(SystemExit, match="CONTENT:STYLE"):
        bench.parse_pairs("chelsea")


# ------------------------------------------------------------ the shared objective


def test_objective_encoder_sees_the_peers_pixels(tmp_path: Path) -> None:
    """relu1_1 of easel's encoder at the peer's pixel scale = the peer's first layer, written out:
    ``relu(conv(x_bgr * 256 - caffe_mean))`` (neural_style.py's preprocess + CaffeLoader's conv)."""
    from easel.nets.vgg import save_random_vgg19

    weights = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=(4,) * 16, seed=3)
    state = torch.load(weights, weights_only=True)
    x = torch.rand(1, 3, 36, 32, generator=torch.Generator().manual_seed(0))
    mean_bgr = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    with torch.no_grad():
        peer_input = x.flip(1) * 256.0 - mean_bgr
        expected = torch.relu(
            torch.nn.functional.conv2d(
                peer_input, state["features.0.weight"], state["features.0.bias"], padding=1
            )
        )
        scaled = bench.load_objective_encoder(weights, pixel_scale=256.0)(x)["relu1_1"]
        plain = bench.load_objective_encoder(weights, pixel_scale=255.0)(x)["relu1_1"]
    torch.testing.assert_close(scaled, expected, rtol=1e-5, atol=1e-4)
    assert not torch.allclose(plain, expected, rtol=1e-5, atol=1e-4)  # easel's own x255 differs


def test_objective_options_are_the_peers_defaults_without_tv(tmp_path: Path) -> None:
    opts = bench.objective_options(384, tmp_path / "w.pth")
    assert opts.content_weight == 5.0 and opts.style_weight == 100.0 and opts.tv_weight == 0.0
    assert opts.layer_weights() == dict.fromkeys(("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), 1.0)
    assert opts.content_layers == ("relu4_2",) and opts.preprocessing == "caffe" and opts.init == "content"


# ------------------------------------------------------------ the real peer, end to end


@pytest.mark.network
def test_the_real_peer_optimizes_the_same_objective(tmp_path: Path) -> None:
    """Installs neural-style-pt from PyPI, runs it for 3 evaluations on 48 px images with a
    random VGG-19 (full widths: the peer builds the real architecture), and checks its first loss
    against easel's evaluator on the same image."""
    from easel.nets.vgg import save_random_vgg19
    from easel.samples import sample_image

    weights = save_random_vgg19(tmp_path / "vgg19-random.pth")
    peer_dir = peer.install_peer(tmp_path / "peer")
    work = tmp_path / "work"
    work.mkdir()
    content, style = bench.prepare_pair(sample_image("chelsea"), sample_image("coffee"), 48, work)
    run = peer.run_peer(peer_dir, work, "content.png", "style.png", weights, size=48, iterations=3)
    assert [s.iteration for s in run.steps] == [1, 2, 3]
    assert bench.read_png(run.output).shape == content.shape
    evaluator = bench.Evaluator(weights, bench.load_objective_encoder(weights, 256.0), "cpu")
    first = evaluator.terms(content, content, style, "coffee")["objective"]
    assert run.steps[0].total == pytest.approx(first, rel=1e-4)
