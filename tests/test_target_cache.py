"""Style targets once per process (``easel.style.target_cache``): a second job reuses the Grams,
bit for bit, and anything the Grams depend on changes the key."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from easel.nets.vgg import save_random_vgg19
from easel.style import target_cache
from easel.style.options import StyleOptions
from easel.style.transfer import Style, Stylizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = (4, 4, 6, 6) + (8,) * 12


@pytest.fixture(scope="module")
def vgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("w") / "vgg19-tiny.pth", widths=TINY, seed=0)


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    target_cache.clear()
    yield
    target_cache.clear()


def _images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.random((40, 48, 3)).astype(np.float32), rng.random((32, 32, 3)).astype(np.float32)


def _job(vgg: Path, content: np.ndarray, style: np.ndarray, **changes: object) -> np.ndarray:
    """What one batch job does: a new Stylizer (as `easel stylize` builds), one run."""
    opts = StyleOptions(
        size=32, weights=vgg, precision="fp32", iterations=4, coarse_iterations=4, seed=0, **changes
    )  # type: ignore[arg-type]
    return Stylizer(opts).run(content, [Style(style.copy(), 1.0, key="style.png")]).image


def test_a_second_job_in_the_process_does_not_recompute_the_targets_and_gives_the_same_image(
    vgg: Path,
) -> None:
    content, style = _images()
    first = _job(vgg, content, style)
    after_first = target_cache.stats()
    assert after_first.misses >= 1 and after_first.hits == 0  # each scale's Grams computed once
    second = _job(vgg, content, style)
    after_second = target_cache.stats()
    assert after_second.misses == after_first.misses  # nothing recomputed
    assert after_second.hits == after_first.misses
    np.testing.assert_array_equal(first, second)
    target_cache.clear()
    fresh = _job(vgg, content, style)  # the memo changes no pixel
    np.testing.assert_array_equal(first, fresh)


def test_another_style_weight_shares_the_grams_but_other_pixels_or_layers_do_not(vgg: Path) -> None:
    content, style = _images()
    stylizer = Stylizer(StyleOptions(size=32, weights=vgg, precision="fp32", multiscale=False))
    grams = stylizer.style_grams(Style(style, 1.0), 32)
    other = Stylizer(StyleOptions(size=32, weights=vgg, precision="fp32", multiscale=False))
    assert other.style_grams(Style(style.copy(), 0.3), 32) is grams  # a Gram does not depend on the weight
    changed = style.copy()
    changed[0, 0, 0] = 1.0 - changed[0, 0, 0]  # one pixel of the file changed
    assert other.style_grams(Style(changed, 1.0), 32) is not grams
    assert other.style_grams(Style(style, 1.0), 40) is not grams  # another size
    fewer = Stylizer(
        StyleOptions(size=32, weights=vgg, precision="fp32", multiscale=False, style_layers=("relu1_1",))
    )
    assert set(fewer.style_grams(Style(style, 1.0), 32)) == {"relu1_1"}


def test_the_key_holds_the_encoder_and_the_dtype_and_a_dropped_encoder_takes_its_grams_along() -> None:
    image = np.zeros((8, 8, 3), np.float32)
    calls: list[int] = []

    def compute() -> dict[str, torch.Tensor]:
        calls.append(1)
        return {"relu1_1": torch.ones(1, 4, 4)}

    a, b = torch.nn.Identity(), torch.nn.Identity()
    target_cache.memo_grams(image, 8, ["relu1_1"], a, None, compute)
    target_cache.memo_grams(image, 8, ["relu1_1"], a, None, compute)
    target_cache.memo_grams(image, 8, ["relu1_1"], b, None, compute)
    target_cache.memo_grams(image, 8, ["relu1_1"], a, torch.bfloat16, compute)
    assert len(calls) == 3 and target_cache.stats().entries == 3
    del a
    gc.collect()
    assert target_cache.stats().entries == 1  # only b's


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(target_cache, "MAX_BYTES", 3 * 64)  # three 4x4 float32 Grams
    encoder = torch.nn.Identity()
    for side in range(8, 13):
        target_cache.memo_grams(
            np.zeros((8, 8, 3), np.float32), side, ["l"], encoder, None, lambda: {"l": torch.ones(4, 4)}
        )
    stats = target_cache.stats()
    assert stats.entries == 3 and stats.bytes == 3 * 64
