"""Shared image metrics (easel.metrics): PSNR and SSIM, whole and masked, with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from easel.errors import InputError
from easel.metrics import mse, psnr, psnr_from_mse, ssim, ssim_map


def _pair(
    seed: int = 0, shape: tuple[int, ...] = (32, 40, 3), noise: float = 0.08
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.random(shape)
    pred = np.clip(target + noise * rng.standard_normal(shape), 0.0, 1.0)
    return pred, target


def test_identical_images() -> None:
    image = np.random.default_rng(1).random((16, 16, 3))
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    assert mse(image, image) == 0.0


def test_known_noise_level_gives_known_psnr() -> None:
    target = np.full((50, 60, 3), 0.5)
    signs = np.where(np.random.default_rng(2).random(target.shape) < 0.5, -1.0, 1.0)
    assert psnr(target + 0.1 * signs, target) == pytest.approx(20.0, abs=1e-9)  # mse 0.01
    assert psnr(target + 0.01 * signs, target) == pytest.approx(40.0, abs=1e-9)
    assert psnr(target + 0.2 * signs, target, data_range=2.0) == pytest.approx(20.0, abs=1e-9)
    assert psnr_from_mse(0.0) == math.inf and math.isnan(psnr_from_mse(math.nan))


def test_psnr_matches_skimage() -> None:
    pred, target = _pair()
    assert psnr(pred, target) == pytest.approx(
        peak_signal_noise_ratio(target, pred, data_range=1.0), rel=1e-12
    )


@pytest.mark.parametrize("shape", [(32, 40, 3), (24, 24)])
def test_ssim_matches_skimage(shape: tuple[int, ...]) -> None:
    pred, target = _pair(shape=shape)
    kwargs = {"channel_axis": 2} if len(shape) == 3 else {}
    score, full = structural_similarity(target, pred, data_range=1.0, full=True, **kwargs)
    full = full.mean(axis=2) if len(shape) == 3 else full
    np.testing.assert_allclose(ssim_map(pred, target), full, atol=1e-10)
    assert ssim(pred, target) == pytest.approx(full.mean(), abs=1e-10)
    # skimage's scalar leaves out a 3 px border; the two agree closely
    assert ssim(pred, target) == pytest.approx(score, abs=0.02)


def test_ssim_falls_with_noise() -> None:
    scores = [ssim(*_pair(noise=n)) for n in (0.01, 0.05, 0.2)]
    assert scores[0] > scores[1] > scores[2] > 0.0


def test_masked_metrics_count_only_masked_pixels() -> None:
    target = np.full((20, 30, 3), 0.5)
    pred = target.copy()
    pred[:, 15:] += 0.1  # only the right half differs
    left = np.zeros((20, 30), bool)
    left[:, :15] = True
    assert psnr(pred, target, mask=left) == math.inf
    assert psnr(pred, target, mask=~left) == pytest.approx(20.0, abs=1e-9)
    assert psnr(pred, target) == pytest.approx(10 * math.log10(1 / 0.005), abs=1e-9)
    smap = ssim_map(pred, target)
    assert ssim(pred, target, mask=~left) == pytest.approx(float(smap[~left].mean()))
    assert ssim(pred, target, mask=~left) < 1.0
    assert ssim(pred[:, :8], target[:, :8]) == pytest.approx(1.0)  # far from the change
    assert math.isnan(psnr(pred, target, mask=np.zeros((20, 30), bool)))
    assert math.isnan(ssim(pred, target, mask=np.zeros((20, 30), bool)))


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="differ in shape"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(InputError, match="mask"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), mask=np.ones((3, 4), bool))
    with pytest.raises(InputError, match="smaller than the 7x7"):
        ssim(np.zeros((4, 4)), np.zeros((4, 4)))
