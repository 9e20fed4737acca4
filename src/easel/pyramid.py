"""Image pyramids: the sizes of a coarse-to-fine optimization.

Multiscale style transfer optimizes first at a fraction of the pixels, then
upsamples and refines at each finer scale; DeepDream's octaves do the same
with a smaller ratio. Both ask the same question -- which ``(height, width)``
at each level -- and answer it here. Pure arithmetic: no torch, no images.

Example:
    >>> pyramid_shapes((600, 800), long_side=1024, min_long_side=256)
    [(192, 256), (384, 512), (768, 1024)]
"""

from __future__ import annotations

__all__ = ["pyramid_shapes", "shape_with_long_side"]


def shape_with_long_side(shape: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``(height, width)`` with the aspect ratio of ``shape`` and a long side of exactly ``long_side``.

    Unlike :func:`easel.image.fit_long_side` (which only ever shrinks), this
    scales up as well as down; the short side is rounded, and at least 1.

    Args:
        shape: ``(height, width)`` of the source, both >= 1.
        long_side: wanted length of the longer side, in pixels (>= 1).

    Returns:
        ``(height, width)``.

    Example:
        >>> shape_with_long_side((100, 50), 64)
        (64, 32)
    """
    height, width = shape
    if height < 1 or width < 1 or long_side < 1:
        raise ValueError(f"sizes must be >= 1, got shape {shape} and long side {long_side}")
    if height >= width:
        return long_side, max(1, round(width * long_side / height))
    return max(1, round(height * long_side / width)), long_side


def pyramid_shapes(
    shape: tuple[int, int],
    long_side: int,
    min_long_side: int | None = None,
    ratio: float = 2.0,
    max_levels: int | None = None,
) -> list[tuple[int, int]]:
    """The ``(height, width)`` of each level, coarse to fine, ending at ``long_side``.

    Each coarser level's long side is the finer one's divided by ``ratio``
    (rounded down); levels are added while that long side stays at least
    ``min_long_side``.

    Args:
        shape: ``(height, width)`` of the source image (only its aspect ratio matters).
        long_side: long side of the finest level, in pixels.
        min_long_side: smallest long side a level may have; ``None`` = a single level.
        ratio: size ratio between neighbouring levels, > 1 (2 for multiscale
            style transfer, about 1.4 for DeepDream octaves).
        max_levels: keep at most this many levels (the finest ones); ``None`` = no limit.

    Returns:
        A list of ``(height, width)``, coarse to fine; the last is
        ``shape_with_long_side(shape, long_side)``.

    Example:
        >>> pyramid_shapes((300, 400), 400, min_long_side=100, ratio=2.0)
        [(75, 100), (150, 200), (300, 400)]
        >>> pyramid_shapes((300, 400), 400, min_long_side=100, max_levels=2)
        [(150, 200), (300, 400)]
    """
    if ratio <= 1.0:
        raise ValueError(f"ratio must be > 1, got {ratio}")
    if max_levels is not None and max_levels < 1:
        raise ValueError(f"max_levels must be >= 1, got {max_levels}")
    long_sides = [long_side]
    if min_long_side is not None:
        while int(long_sides[0] / ratio) >= min_long_side and int(long_sides[0] / ratio) >= 1:
            if max_levels is not None and len(long_sides) >= max_levels:
                break
            long_sides.insert(0, int(long_sides[0] / ratio))
    return [shape_with_long_side(shape, side) for side in long_sides]
