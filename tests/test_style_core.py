"""Core style transfer: encoder loading, losses, the optimization loop (tiny random VGG-19s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from easel.errors import InputError, WeightsError
from easel.style import Style, StyleOptions, Stylizer, stylize
from easel.style.color import match_color, rgb_to_yiq, transfer_luminance
from easel.style.losses import StyleTarget, gram_matrix, total_loss, tv_loss
from easel.style.vgg import (
    CONV_INDICES,
    Preprocess,
    VGGEncoder,
    load_vgg19,
    random_vgg19_state_dict,
    save_random_vgg19,
)

TINY = (8, 8, 12, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w") / "vgg19-caffe-tiny.pth"
    return save_random_vgg19(path, widths=TINY, seed=0, classifier=True)


def _opts(weights: Path, **kw: object) -> StyleOptions:
    base = dict(
        size=48, iterations=8, coarse_iterations=None, min_scale=32, weights=weights, precision="fp32", seed=0
    )
    base.update(kw)
    return StyleOptions(**base)  # type: ignore[arg-type]


def _images(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:64] / 64.0
    content = np.stack([xx, yy, 0.5 + 0.3 * np.sin(6 * xx)], axis=2).astype(np.float32)
    stripes = (np.sin(np.arange(64) * 1.3)[None, :, None] * 0.5 + 0.5) * np.array([1.0, 0.2, 0.1])
    style1 = np.broadcast_to(stripes, (64, 64, 3)).astype(np.float32).copy()
    style2 = rng.random((64, 48, 3), dtype=np.float32)
    return content, style1, style2


# ---------------------------------------------------------------- encoder


def test_preprocess_caffe_and_torchvision() -> None:
    x = torch.zeros(1, 3, 2, 2)
    x[:, 0] = 1.0  # pure red
    caffe = Preprocess("caffe")(x)[0, :, 0, 0]
    assert caffe.tolist() == pytest.approx([-103.939, -116.779, 255 - 123.68], abs=1e-3)  # BGR order
    tv = Preprocess("torchvision")(x)[0, :, 0, 0]
    assert tv.tolist() == pytest.approx([(1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225], abs=1e-4)


def test_encoder_truncates_after_deepest_layer() -> None:
    enc = VGGEncoder(widths=TINY, layers=["relu1_1", "relu3_1"])
    assert enc.names[-1] == "relu3_1"
    assert enc.num_convs == 5
    out = enc(torch.rand(1, 3, 16, 16))
    assert set(out) == {"relu1_1", "relu3_1"}
    assert out["relu3_1"].shape == (1, 16, 4, 4)


@pytest.mark.parametrize("preprocessing", ["caffe", "torchvision"])
def test_load_both_formats_from_files(tmp_path: Path, preprocessing: str) -> None:
    state = random_vgg19_state_dict(TINY, seed=3, classifier=preprocessing == "caffe")
    path = tmp_path / f"vgg-{preprocessing}.pth"
    torch.save(state, path)
    enc = load_vgg19(path, ["relu2_1", "relu4_2"], preprocessing=preprocessing, pooling="avg")
    assert enc.preprocessing == preprocessing
    assert torch.equal(enc.body[0].weight, state["features.0.weight"])
    assert isinstance(enc.body[4], torch.nn.AvgPool2d)
    # a state dict nested under "state_dict" with DataParallel's "module." prefix loads too
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "nested.pth")
    enc2 = load_vgg19(tmp_path / "nested.pth", ["relu1_1"])
    assert torch.equal(enc2.body[0].weight, state["features.0.weight"])


def test_bad_weight_files(tmp_path: Path) -> None:
    state = random_vgg19_state_dict(TINY)
    state[f"features.{CONV_INDICES[2]}.weight"] = torch.zeros(12, 5, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(WeightsError, match="wrong shape"):
        load_vgg19(tmp_path / "shape.pth", ["relu4_2"])
    good = tmp_path / "good.pth"
    save_random_vgg19(good, widths=TINY)
    data = good.read_bytes()
    (tmp_path / "trunc.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated"):
        load_vgg19(tmp_path / "trunc.pth", ["relu4_2"])
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="not a VGG-19"):
        load_vgg19(tmp_path / "other.pth", ["relu1_1"])
    (tmp_path / "junk.pth").write_bytes(b"not a pickle at all")
    with pytest.raises(WeightsError):
        load_vgg19(tmp_path / "junk.pth", ["relu1_1"])


def test_missing_weights_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EASEL_HOME", str(tmp_path))
    with pytest.raises(WeightsError, match="easel weights download vgg19-caffe"):
        Stylizer(StyleOptions(size=64))


# ---------------------------------------------------------------- losses


def test_gram_properties() -> None:
    torch.manual_seed(0)
    f = torch.rand(1, 5, 8, 8)
    g = gram_matrix(f)
    assert g.dtype == torch.float32
    assert torch.allclose(g, g.transpose(1, 2))
    assert torch.linalg.eigvalsh(g[0]).min() > -1e-6  # positive semi-definite
    # size-independent: tiling the same texture 2x2 leaves the Gram unchanged
    assert torch.allclose(gram_matrix(f.repeat(1, 1, 2, 2)), g, atol=1e-6)
    # a mask of ones equals no mask; a half mask equals the Gram of that half
    assert torch.allclose(gram_matrix(f, torch.ones(1, 1, 8, 8)), g, atol=1e-6)
    m = torch.zeros(1, 1, 8, 8)
    m[..., :4] = 1
    assert torch.allclose(gram_matrix(f, m), gram_matrix(f[..., :4]), atol=1e-6)


def test_gram_stays_fp32_under_autocast() -> None:
    f = torch.full((1, 4, 64, 64), 300.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram_matrix(f.bfloat16())
    assert g.dtype == torch.float32
    assert torch.isfinite(g).all()
    assert g[0, 0, 0].item() == pytest.approx(300.0**2 / 4, rel=1e-2)


def test_tv_loss_zero_on_constant() -> None:
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0.0
    assert tv_loss(torch.rand(1, 3, 8, 8)).item() > 0.0


def test_multi_style_weighting_is_weighted_sum() -> None:
    torch.manual_seed(1)
    feats = {"relu1_1": torch.rand(1, 4, 6, 6), "relu2_1": torch.rand(1, 6, 3, 3)}
    layers = {"relu1_1": 1.0, "relu2_1": 0.5}
    t1 = {k: gram_matrix(torch.rand_like(v)) for k, v in feats.items()}
    t2 = {k: gram_matrix(torch.rand_like(v)) for k, v in feats.items()}
    ctarget = {"relu2_1": torch.rand(1, 6, 3, 3)}

    def loss(styles: list[StyleTarget]) -> float:
        return total_loss(feats, None, ctarget, styles, layers, 1.0, 100.0).total.item()

    content_only = total_loss(feats, None, ctarget, [], layers, 1.0, 100.0).total.item()
    a = loss([StyleTarget(t1, 1.0)]) - content_only
    b = loss([StyleTarget(t2, 1.0)]) - content_only
    both = loss([StyleTarget(t1, 1.0), StyleTarget(t2, 0.45)]) - content_only
    assert both == pytest.approx(a + 0.45 * b, rel=1e-5)


# ---------------------------------------------------------------- colour


def test_luminance_preservation_keeps_chroma() -> None:
    content, style1, _ = _images()
    stylized = np.clip(style1[:48, :64] * 0.8 + 0.1, 0, 1).astype(np.float32)
    out = transfer_luminance(stylized, content)
    yiq_out, yiq_content, yiq_st = rgb_to_yiq(out), rgb_to_yiq(content), rgb_to_yiq(stylized)
    inside = (out > 0.01).all(axis=2) & (out < 0.99).all(axis=2)  # away from clipping
    assert np.abs(yiq_out[..., 1:] - yiq_content[..., 1:])[inside].max() < 1e-4
    assert np.abs(yiq_out[..., 0] - yiq_st[..., 0])[inside].max() < 1e-4


def test_histogram_matching_matches_mean_and_covariance() -> None:
    rng = np.random.default_rng(0)
    src = (rng.random((32, 32, 3)) * 0.3 + 0.1).astype(np.float32)
    ref = (rng.random((32, 32, 3)) * 0.2 + 0.5).astype(np.float32)
    ref[..., 0] = ref[..., 1] * 0.5 + 0.3  # correlated channels
    out = match_color(src, ref)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), ref.reshape(-1, 3).mean(0), atol=1e-3)
    np.testing.assert_allclose(
        np.cov(out.reshape(-1, 3), rowvar=False), np.cov(ref.reshape(-1, 3), rowvar=False), atol=1e-3
    )


# ---------------------------------------------------------------- the loop


def test_loss_decreases_lbfgs_and_adam(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    for optimizer, iters in (("lbfgs", 15), ("adam", 30)):
        result = stylize(
            content, [style1], _opts(tiny_weights, optimizer=optimizer, iterations=iters, multiscale=False)
        )
        totals = [h["total"] for h in result.losses]
        assert result.status == "done"
        assert len(totals) == iters
        assert totals[-1] < 0.5 * totals[0], optimizer
        assert result.image.shape == (36, 48, 3)
        assert result.image.dtype == np.float32
        assert 0.0 <= result.image.min() and result.image.max() <= 1.0


def test_multiscale_and_deterministic_under_seed(tiny_weights: Path) -> None:
    content, style1, style2 = _images()
    opts = _opts(tiny_weights, size=64, init="noise", iterations=4, seed=5)
    a = stylize(content, [(style1, 1.0), (style2, 0.45)], opts)
    b = stylize(content, [(style1, 1.0), (style2, 0.45)], opts)
    assert a.scales == [(24, 32), (48, 64)]
    assert [h["scale"] for h in a.losses] == [32.0] * 4 + [64.0] * 4
    np.testing.assert_array_equal(a.image, b.image)
    c = stylize(
        content,
        [(style1, 1.0), (style2, 0.45)],
        _opts(tiny_weights, size=64, init="noise", iterations=4, seed=6),
    )
    assert not np.array_equal(a.image, c.image)


def test_mask_confines_style(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    mask = np.zeros(content.shape[:2], np.float32)
    mask[:, :32] = 1.0
    opts = _opts(tiny_weights, iterations=12, multiscale=False, size=64, content_weight=1.0, style_weight=1e4)
    result = stylize(content, [Style(style1, 1.0, mask=mask)], opts)
    change = np.abs(result.image - content).mean(axis=2)
    left, right = change[:, :24].mean(), change[:, 40:].mean()
    assert left > 3 * right, (left, right)


def test_histogram_and_luminance_modes_run(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    out = stylize(
        content, [style1], _opts(tiny_weights, preserve_color="luminance", multiscale=False, iterations=3)
    )
    chroma_out = rgb_to_yiq(out.image)[..., 1:]
    from easel.image import resize

    chroma_in = rgb_to_yiq(resize(content, out.image.shape[:2]))[..., 1:]
    assert np.abs(chroma_out - chroma_in).mean() < 0.02
    out2 = stylize(
        content, [style1], _opts(tiny_weights, preserve_color="histogram", multiscale=False, iterations=3)
    )
    assert out2.status == "done"


def test_nan_stops_and_keeps_last_good(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    calls = {"n": 0}
    stylizer = Stylizer(_opts(tiny_weights, iterations=10, multiscale=False))
    real_features = stylizer._features

    def features(image: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = real_features(image)
        if image.requires_grad:
            calls["n"] += 1
            if calls["n"] == 4:
                return {k: v * float("nan") for k, v in feats.items()}
        return feats

    stylizer._features = features  # type: ignore[method-assign]
    result = stylizer.run(content, [style1])
    assert result.status == "nan"
    assert "NaN" in result.message
    assert len(result.losses) == 3
    assert np.isfinite(result.image).all()


def test_bad_inputs(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    with pytest.raises(InputError, match="at least 32 px"):
        stylize(content, [style1[:20, :20]], _opts(tiny_weights))
    with pytest.raises(InputError, match="at least 32 px"):
        stylize(content[:16], [style1], _opts(tiny_weights))
    with pytest.raises(InputError, match="mask"):
        stylize(content, [Style(style1, 1.0, mask=np.ones((10, 40), np.float32))], _opts(tiny_weights))
    with pytest.raises(InputError, match="layer"):
        StyleOptions(style_layers=("relu9_9",)).validate()
    with pytest.raises(InputError, match="float in"):
        stylize(content * 255, [style1], _opts(tiny_weights))


def test_style_grams_cached_by_key(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    stylizer = Stylizer(_opts(tiny_weights, iterations=2, multiscale=False))
    style = Style(style1, key="stripes")
    g1 = stylizer.style_grams(style, 48)
    assert stylizer.style_grams(style, 48) is g1
    stylizer.run(content, [style])
    assert len(stylizer._gram_cache) == 1


def test_chunked_gram_of_large_targets_matches() -> None:
    torch.manual_seed(0)
    f = torch.rand(1, 3, 600, 500)
    direct = torch.bmm(f.reshape(1, 3, -1), f.reshape(1, 3, -1).transpose(1, 2)) / f.numel()
    assert torch.allclose(gram_matrix(f), direct, rtol=1e-4)
    assert torch.allclose(gram_matrix(f.requires_grad_(True)), direct, rtol=1e-4)
