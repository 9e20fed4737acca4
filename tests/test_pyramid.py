"""Scale pyramids shared by multiscale stylize and DeepDream octaves."""

from __future__ import annotations

import pytest

from easel.pyramid import pyramid_shapes, shape_with_long_side


def test_shape_with_long_side_scales_up_and_down() -> None:
    assert shape_with_long_side((100, 50), 64) == (64, 32)
    assert shape_with_long_side((600, 800), 1024) == (768, 1024)  # up, unlike easel.image.fit_long_side
    assert shape_with_long_side((3, 1000), 10) == (1, 10)  # the short side is at least 1
    assert shape_with_long_side((7, 7), 5) == (5, 5)
    with pytest.raises(ValueError):
        shape_with_long_side((0, 10), 5)


def test_pyramid_coarse_to_fine() -> None:
    assert pyramid_shapes((600, 800), 1024, min_long_side=256) == [(192, 256), (384, 512), (768, 1024)]
    assert pyramid_shapes((600, 800), 1024, min_long_side=257) == [(384, 512), (768, 1024)]
    assert pyramid_shapes((600, 800), 512) == [(384, 512)]  # no minimum: one level
    assert pyramid_shapes((300, 300), 300, min_long_side=256) == [(300, 300)]
    # odd sizes halve like integer division
    assert [max(s) for s in pyramid_shapes((1000, 1001), 1001, min_long_side=100)] == [125, 250, 500, 1001]


def test_pyramid_octaves() -> None:
    octaves = pyramid_shapes((480, 640), 640, min_long_side=100, ratio=1.4)
    sides = [max(s) for s in octaves]
    assert sides == sorted(sides) and sides[-1] == 640 and sides[0] >= 100
    assert all(abs(b / a - 1.4) < 0.02 for a, b in zip(sides, sides[1:], strict=False))
    assert pyramid_shapes((480, 640), 640, min_long_side=100, ratio=1.4, max_levels=3) == octaves[-3:]
    for shape in octaves:
        assert abs(shape[1] / shape[0] - 640 / 480) < 0.02
    with pytest.raises(ValueError, match="ratio"):
        pyramid_shapes((10, 10), 10, 5, ratio=1.0)
    with pytest.raises(ValueError, match="max_levels"):
        pyramid_shapes((10, 10), 10, 5, max_levels=0)
