"""Tiles of a gradient computation: a grid with a random offset, so seams never stay in one place.

DeepDream on a large image computes the gradient tile by tile (bounded
memory); the tile grid moves by a random offset every step, so the seams
between tiles land somewhere else each time and average out (the TensorFlow
tutorial's random shift, google/deepdream's ``calc_grad_tiled``). Pure
arithmetic on sizes: no torch.

Example:
    >>> tile_spans(100, 64, offset=0)
    [(0, 64), (64, 100)]
    >>> tile_spans(100, 64, offset=40)  # a 40-px sliver is merged into its neighbour
    [(0, 40), (40, 100)]
"""

from __future__ import annotations

__all__ = ["tile_boxes", "tile_spans"]


def tile_spans(length: int, tile: int, offset: int) -> list[tuple[int, int]]:
    """``[start, stop)`` spans covering ``0..length`` with cuts at ``offset + k * tile``.

    A span shorter than half a tile (at either end) is merged into its
    neighbour, so no span is shorter than ``min(length, tile // 2)`` and none
    is longer than ``1.5 * tile``.

    Args:
        length: the side to cover, in pixels (>= 1).
        tile: the tile side, in pixels (>= 1).
        offset: where the grid starts (any integer; taken modulo ``tile``).

    Example:
        >>> tile_spans(10, 16, offset=5)
        [(0, 10)]
        >>> tile_spans(200, 64, offset=10)
        [(0, 74), (74, 138), (138, 200)]
    """
    if length < 1 or tile < 1:
        raise ValueError(f"length and tile must be >= 1, got {length} and {tile}")
    if length <= tile:
        return [(0, length)]
    cuts = list(range(offset % tile, length, tile))
    bounds = sorted({0, length, *cuts})
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    minimum = max(1, tile // 2)
    if len(spans) > 1 and spans[0][1] - spans[0][0] < minimum:
        spans[1] = (spans[0][0], spans[1][1])
        spans.pop(0)
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < minimum:
        spans[-2] = (spans[-2][0], spans[-1][1])
        spans.pop()
    return spans


def tile_boxes(
    shape: tuple[int, int], tile: int, offset: tuple[int, int] = (0, 0)
) -> list[tuple[slice, slice]]:
    """``(rows, cols)`` slices of the tiles of an image of ``shape`` ``(height, width)``.

    Example:
        >>> len(tile_boxes((300, 500), 256)), tile_boxes((40, 50), 256)
        (2, [(slice(0, 40, None), slice(0, 50, None))])
    """
    rows = tile_spans(shape[0], tile, offset[0])
    cols = tile_spans(shape[1], tile, offset[1])
    return [(slice(r0, r1), slice(c0, c1)) for r0, r1 in rows for c0, c1 in cols]
