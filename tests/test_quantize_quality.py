"""Quality of easel.art.quantize on varied small images, its pixel-sample refinement and its writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easel.art.quantize import quantize_colors, write_quantized
from easel.errors import InputError


def sklearn_mse(img: np.ndarray, k: int, seed: int = 0) -> float:
    from sklearn.cluster import KMeans

    flat = img.reshape(-1, 3).astype(np.float64)
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(flat)
    return float(np.mean((km.cluster_centers_[km.labels_] - flat) ** 2))


def varied(name: str, shape: tuple[int, int] = (60, 80)) -> np.ndarray:
    """Small stand-ins of the benchmark corpus: smooth, dark, 16-bit, noisy, flat."""
    rng = np.random.default_rng(3)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin(xx / 9 + yy / 13)], axis=2)
    if name == "gradient":
        return (np.rint(ramp * 255) / 255).astype(np.float32)
    if name == "lowlight":  # every value in the 12 darkest 8-bit levels
        noisy = ramp / 22 + rng.normal(0, 0.004, ramp.shape)
        return (np.clip(np.rint(noisy * 255), 0, 255) / 255).astype(np.float32)
    if name == "deep16":
        noisy = ramp + rng.normal(0, 0.02, ramp.shape)
        return (np.clip(np.rint(noisy * 65535), 0, 65535) / 65535).astype(np.float32)
    if name == "noise":
        return (rng.integers(0, 256, (h, w, 3)) / 255).astype(np.float32)
    blocks = rng.integers(0, 256, (6, 8, 3))[(yy // 10).astype(int), (xx // 10).astype(int)]  # flat
    return (blocks / 255).astype(np.float32)


@pytest.mark.parametrize("name", ["gradient", "lowlight", "deep16", "noise", "flat"])
def test_mse_close_to_sklearn_on_varied_images(name: str) -> None:
    """Within half a percent of scikit-learn's KMeans(n_init=1) on every kind of image (the
    benchmark checks <= on larger ones); the histogram alone is far too coarse for the dark one."""
    img = varied(name)
    ours = quantize_colors(img, n_colors=8, seed=0)
    assert ours.mse <= 1.005 * sklearn_mse(img, 8)


def test_dark_image_is_refined_on_its_pixels() -> None:
    """All pixels in a few histogram cells: without the Lloyd iterations on the pixels (only the
    final assignment) the error is larger."""
    img = varied("lowlight")
    refined = quantize_colors(img, n_colors=8, seed=0)
    histogram_only = quantize_colors(img, n_colors=8, seed=0, sample_iter=0)
    assert refined.mse < 0.99 * histogram_only.mse


def test_reported_mse_is_the_real_one() -> None:
    img = varied("deep16")
    for kwargs in ({}, {"space": "lab"}, {"dither": True}, {"mask": img[:, :, 0] > 0.3}):
        result = quantize_colors(img, n_colors=6, seed=1, **kwargs)  # type: ignore[arg-type]
        diff = (result.image - img).reshape(-1, 3)
        if "mask" in kwargs:
            diff = diff[np.asarray(kwargs["mask"]).ravel()]
        assert result.mse == pytest.approx(float(np.mean(diff.astype(np.float64) ** 2)), rel=1e-4)


def test_sample_smaller_than_the_image() -> None:
    """A sample of a few hundred pixels: reproducible, palette = means of the final clusters."""
    img = varied("deep16", shape=(90, 120))
    a = quantize_colors(img, n_colors=5, seed=4, sample_size=400)
    b = quantize_colors(img, n_colors=5, seed=4, sample_size=400)
    np.testing.assert_array_equal(a.labels, b.labels)
    flat = img.reshape(-1, 3)
    for j in range(5):
        np.testing.assert_allclose(a.palette[j], flat[a.labels.ravel() == j].mean(axis=0), atol=1e-5)
    assert a.mse <= 1.05 * quantize_colors(img, n_colors=5, seed=4).mse
    assert list(a.counts) == sorted(a.counts, reverse=True)


def test_write_quantized_png_is_indexed_and_exact(tmp_path: Path) -> None:
    from easel.image import to_uint8

    img = varied("gradient")
    for k, bits_mode in ((2, "P"), (16, "P"), (200, "P")):
        result = quantize_colors(img, n_colors=k, seed=0)
        out = write_quantized(tmp_path / f"q{k}.png", result, compress_level=0)
        with Image.open(out) as im:
            assert im.mode == bits_mode
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), to_uint8(result.image))


def test_write_quantized_other_formats_and_alpha(tmp_path: Path) -> None:
    img = varied("flat")
    result = quantize_colors(img, n_colors=4, seed=0)
    alpha = np.ones(img.shape[:2], np.float32)
    alpha[:5] = 0.0
    with Image.open(write_quantized(tmp_path / "a.png", result, alpha=alpha)) as im:
        assert im.mode == "RGBA" and np.asarray(im)[0, 0, 3] == 0
    with Image.open(write_quantized(tmp_path / "b.jpg", result)) as im:
        assert im.format == "JPEG"
    with pytest.raises(InputError, match="does not exist"):
        write_quantized(tmp_path / "missing" / "c.png", result)
    with pytest.raises(InputError, match="0 to 9"):
        write_quantized(tmp_path / "d.png", result, compress_level=10)
