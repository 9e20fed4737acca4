"""Core style transfer: losses, colour, the coarse-to-fine run on the shared loop (tiny random VGG-19s).

The encoder itself is tested in ``test_nets.py``, the loop in ``test_optim.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from easel.errors import InputError, WeightsError
from easel.image import resize
from easel.nets.vgg import save_random_vgg19
from easel.options import OptionError
from easel.style import Style, StyleOptions, StyleStep, Stylizer, stylize
from easel.style.color import match_color, rgb_to_yiq, transfer_luminance
from easel.style.losses import StyleTarget, gram_matrix, total_loss, tv_loss

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
        assert result.status == "finished"
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
    assert out2.status == "finished"


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
    assert result.status == "non-finite"
    assert "NaN" in result.message and "style_weight" in result.message
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


# ---------------------------------------------------------------- options


def test_option_errors_name_the_field() -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"style_weight": -1.0}, "style_weight"),
        ({"content_weight": float("nan")}, "content_weight"),
        ({"size": 8}, "size"),
        ({"iterations": -1}, "iterations"),
        ({"coarse_iterations": -2}, "coarse_iterations"),
        ({"tile_size": 40, "tile_overlap": 8}, "tile_size"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"model": "resnet50"}, "model"),
        ({"precision": "int8"}, "precision"),
        ({"preserve_color": "sepia"}, "preserve_color"),
        ({"style_layer_weights": (1.0,)}, "style_layer_weights"),
        ({"content_layers": ("relu9_9",)}, "content_layers"),
        ({"min_scale": 4}, "min_scale"),
    ]
    for kwargs, name in cases:
        with pytest.raises(OptionError) as info:
            StyleOptions(**kwargs).validate()  # type: ignore[arg-type]
        assert info.value.field == name and str(info.value).startswith(f"{name} "), str(info.value)
        assert "--" not in str(info.value)


def test_iterations_default_depends_on_multiscale() -> None:
    assert StyleOptions().iterations is None and StyleOptions().resolved_iterations() == 80
    assert StyleOptions(multiscale=False).resolved_iterations() == 500
    assert StyleOptions(iterations=7, multiscale=False).resolved_iterations() == 7
    assert StyleOptions(coarse_iterations=None).resolved_coarse_iterations() == 80
    assert StyleOptions().resolved().iterations == 80
    assert StyleOptions(size=512, min_scale=256).total_steps((384, 512)) == 200 + 80
    assert (
        StyleOptions(size=96, multiscale=False, iterations=2, tile_size=48, tile_overlap=8).total_steps(
            (72, 96)
        )
        == 2 * 6
    )


def test_default_iterations_in_a_run(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    for multiscale, expected in ((False, 500), (True, 80)):
        opts = _opts(tiny_weights, size=64, iterations=None, coarse_iterations=1, multiscale=multiscale)
        totals: list[int] = []

        def hook(state: StyleStep, totals: list[int] = totals) -> bool:
            totals.append(state.total)
            return state.scale_index == state.num_scales - 1  # stop at the first step of the finest scale

        result = stylize(content, [style1], opts, on_step=hook)
        assert totals[-1] == expected  # the finest scale was asked for 500 (single scale) or 80 steps
        assert result.options is not None and result.options.iterations == expected  # the record's number
        assert result.summary()["options"]["iterations"] == expected


# ---------------------------------------------------------------- the hook and early endings


def test_on_step_sees_every_step_across_scales(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    opts = _opts(tiny_weights, size=64, iterations=3, coarse_iterations=2)  # scales 32x24, 64x48
    seen: list[StyleStep] = []
    shapes: list[tuple[int, ...]] = []

    def hook(state: StyleStep) -> None:
        seen.append(state)
        shapes.append(state.image().shape)

    result = stylize(content, [style1], opts, on_step=hook)
    assert result.status == "finished" and result.reached_shape == (48, 64)
    assert [s.step for s in seen] == [1, 2, 3, 4, 5] == [int(h["step"]) for h in result.losses]
    assert [s.scale_index for s in seen] == [0, 0, 1, 1, 1] and {s.num_scales for s in seen} == {2}
    assert [s.stage_step for s in seen] == [1, 2, 1, 2, 3]
    assert shapes == [(24, 32, 3)] * 2 + [(48, 64, 3)] * 3
    assert {s.output_shape for s in seen} == {(48, 64)} and seen[0].shape == (24, 32)
    assert set(seen[0].losses) == {"total", "content", "style"}
    assert [s.loss for s in seen] == [h["total"] for h in result.losses]
    assert opts.total_steps(content.shape[:2]) == len(result.losses)


def test_hook_stops_the_run_at_a_coarse_scale(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    opts = _opts(tiny_weights, size=64, iterations=3, coarse_iterations=4)
    result = stylize(content, [style1], opts, on_step=lambda state: state.step == 2)
    assert result.status == "stopped" and len(result.losses) == 2
    assert result.image.shape == (48, 64, 3)  # always the output size
    assert result.reached_shape == (24, 32)
    assert "stopped" in result.message and "upscaled to 64x48" in result.message


@pytest.mark.parametrize(("at_call", "reached"), [(3, (24, 32)), (6, (48, 64))])
def test_interrupt_returns_the_image_reached(
    tiny_weights: Path, monkeypatch: pytest.MonkeyPatch, at_call: int, reached: tuple[int, int]
) -> None:
    from easel.style import transfer

    content, style1, _ = _images()
    real = transfer.total_loss
    calls = {"n": 0}

    def interrupting(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == at_call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transfer, "total_loss", interrupting)
    opts = _opts(tiny_weights, size=64, iterations=4, coarse_iterations=4)
    result = stylize(content, [style1], opts)  # no exception
    assert result.status == "interrupted" and len(result.losses) == at_call - 1
    assert result.image.shape == (48, 64, 3) and np.isfinite(result.image).all()
    assert result.reached_shape == reached
    assert ("upscaled" in result.message) == (reached != (48, 64))
    assert result.summary()["status"] == "interrupted"


def test_tiles_show_the_whole_canvas_and_can_be_stopped(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    opts = _opts(tiny_weights, size=96, iterations=2, multiscale=False, tile_size=48, tile_overlap=8)
    seen: list[StyleStep] = []
    images: list[np.ndarray] = []

    def hook(state: StyleStep) -> None:
        seen.append(state)
        images.append(state.image())

    result = stylize(content, [style1], opts, on_step=hook)
    assert result.status == "finished" and len(result.losses) == opts.total_steps(content.shape[:2]) == 12
    assert [s.step for s in seen] == list(range(1, 13))
    assert [s.tile.index for s in seen if s.tile] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert {im.shape for im in images} == {(72, 96, 3)}  # the whole canvas, not the tile
    # by tile 2, tile 1 (top left) is pasted in; the bottom left (tile 4 only) is untouched
    assert not np.array_equal(images[2][:20, :30], images[0][:20, :30])
    np.testing.assert_array_equal(images[2][60:, :30], images[0][60:, :30])
    assert {h["scale"] for h in result.losses} == {96.0}

    stopped = stylize(content, [style1], opts, on_step=lambda state: state.step == 5)
    assert stopped.status == "stopped" and "tile 3/6" in stopped.message
    assert stopped.image.shape == (72, 96, 3) and len(stopped.losses) == 5


def test_a_tile_where_no_style_applies_is_skipped(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    mask = np.zeros(content.shape[:2], np.float32)
    mask[:, :20] = 1.0  # the left 30 of 96 px: only the left column of tiles has work
    opts = _opts(tiny_weights, size=96, iterations=2, multiscale=False, tile_size=48, tile_overlap=8)
    tiles: set[int] = set()
    stylize(
        content,
        [Style(style1, 1.0, mask=mask)],
        opts,
        on_step=lambda s: tiles.add(s.tile.index if s.tile else 0),
    )
    assert tiles == {1, 4}


def test_interrupt_between_optimizer_runs_returns_the_image_reached(tiny_weights: Path) -> None:
    content, style1, _ = _images()
    opts = _opts(tiny_weights, size=64, iterations=2, coarse_iterations=2)
    stylizer = Stylizer(opts)
    real_target = stylizer._target
    calls = {"n": 0}

    def target(*args: object, **kwargs: object) -> StyleTarget:
        calls["n"] += 1
        if calls["n"] == 2:  # preparing the second scale's style targets
            raise KeyboardInterrupt
        return real_target(*args, **kwargs)  # type: ignore[arg-type]

    stylizer._target = target  # type: ignore[method-assign]
    result = stylizer.run(content, [style1])
    assert result.status == "interrupted" and "scale 2/2" in result.message
    assert result.reached_shape == (24, 32) and len(result.losses) == 2
    assert result.image.shape == (48, 64, 3)


def test_interrupt_between_tiles_keeps_the_tiles_done(tiny_weights: Path) -> None:
    from easel.style import target_cache

    content, style1, _ = _images()
    opts = _opts(tiny_weights, size=96, iterations=2, multiscale=False, tile_size=48, tile_overlap=8)
    target_cache.clear()  # the count below starts with the style's features: none memoized by earlier tests
    stylizer = Stylizer(opts)
    real_features = stylizer._features
    calls = {"n": 0}

    def features(image: torch.Tensor) -> dict[str, torch.Tensor]:
        if not image.requires_grad:
            calls["n"] += 1
            if calls["n"] == 3:  # the content targets of tile 2 (the first no-grad call is the style's)
                raise KeyboardInterrupt
        return real_features(image)

    stylizer._features = features  # type: ignore[method-assign]
    result = stylizer.run(content, [style1])
    assert result.status == "interrupted" and "before tile 2/6" in result.message
    assert len(result.losses) == 2 and result.image.shape == (72, 96, 3)
    untouched = resize(content, (72, 96))
    assert not np.array_equal(result.image[:20, :30], untouched[:20, :30])  # tile 1 was kept
    np.testing.assert_array_equal(result.image[60:, :30], untouched[60:, :30])  # tile 4 never ran
