"""Issue #15 item 3: the optimization converges whatever the scale of the loss or the precision.

With torch's L-BFGS (no line search) the first step was ``-g / |g|₁`` and a
curvature pair counted only when ``y·s > 1e-10``: on a 64 px photo pair with a
tiny Caffe-layout encoder (pixels x 255, large losses) fp32 went only 1.6x
lower in 10 evaluations while bf16 went 46x lower, and the image drifted out
of [0, 1], so that the written (clipped) image scored far worse than the loss
said. On the pair below the old loop reached 5x-16x where these tests ask 20x.
They use tiny random VGG-19s in both layouts and score the output with one
fp32 evaluator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from easel.image import resize
from easel.nets.vgg import save_random_vgg19
from easel.style import StyleOptions, Stylizer

TINY = (8, 8, 12, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16)
# The torchvision layout scales pixels by about 4.4 instead of 255: with a random encoder its style
# term is (255 / 4.4)² times weaker against the content term, so it needs a larger style weight for
# the objective to have anywhere to go (with 100 its optimum is within 10 % of the photo).
STYLE_WEIGHT = {"caffe": 100.0, "torchvision": 1e6}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("w") / "vgg19-tiny.pth", widths=TINY, seed=0)


def _pair() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:48, 0:64] / 64.0
    content = np.stack([xx, yy, 0.5 + 0.4 * np.sin(9 * xx * yy)], axis=2).astype(np.float32)
    rings = 0.5 + 0.5 * np.sin(25 * np.hypot(xx - 0.4, yy - 0.3))
    style = np.stack([rings, 1 - rings, 0.3 + 0.4 * np.cos(17 * xx)], axis=2).astype(np.float32)
    return content, resize(style, (64, 64))


def _options(weights: Path, layout: str, precision: str, **kw: object) -> StyleOptions:
    base: dict[str, object] = dict(
        size=64,
        multiscale=False,
        iterations=10,
        precision=precision,
        weights=weights,
        preprocessing=layout,
        style_weight=STYLE_WEIGHT[layout],
        seed=0,
    )
    base.update(kw)
    return StyleOptions(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("layout", ["caffe", "torchvision"])
def test_both_layouts_and_precisions_lower_the_objective_a_lot(
    weights: Path, layout: str, precision: str
) -> None:
    content, style = _pair()
    stylizer = Stylizer(_options(weights, layout, precision))
    result = stylizer.run(content, [style])
    evaluator = Stylizer(_options(weights, layout, "fp32"), encoder=stylizer.encoder)
    before = float(evaluator.evaluate(content, content, [style]).total)
    after = float(evaluator.evaluate(result.image, content, [style]).total)
    assert result.status == "finished" and len(result.losses) == 10
    assert before / after >= 20, f"{layout} {precision}: {before:.4g} -> {after:.4g}"


def test_the_path_does_not_depend_on_the_scale_of_the_loss(weights: Path) -> None:
    """Weights x 2ᵏ scale every loss and gradient exactly: the same image, bit for bit
    (torch's L-BFGS took another path at 2⁻⁴⁰, where its first step is ``-g``)."""
    content, style = _pair()
    images = []
    for scale in (1.0, 2.0**-40, 2.0**20):
        opts = _options(weights, "caffe", "fp32", content_weight=scale, style_weight=100.0 * scale)
        images.append(Stylizer(opts).run(content, [style]).image)
    np.testing.assert_array_equal(images[0], images[1])
    np.testing.assert_array_equal(images[0], images[2])


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_the_written_image_scores_what_the_run_reports(weights: Path, optimizer: str) -> None:
    """The loss is that of the clipped image, and L-BFGS returns its best accepted point."""
    content, style = _pair()
    opts = _options(weights, "caffe", "fp32", optimizer=optimizer, learning_rate=0.05)
    stylizer = Stylizer(opts)
    result = stylizer.run(content, [style])
    scored = float(stylizer.evaluate(result.image, content, [style]).total)
    if optimizer == "lbfgs":
        assert result.image_loss is not None
        assert result.final_loss == pytest.approx(scored, rel=1e-4)
        assert result.final_loss == min(step["total"] for step in result.losses)
    else:  # Adam's last update is not evaluated: the last recorded loss is the nearest figure
        assert result.image_loss is None
        assert result.final_loss == result.losses[-1]["total"]
    assert scored < result.losses[0]["total"] / 5
