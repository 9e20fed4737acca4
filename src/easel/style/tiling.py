"""Tiled optimization of one scale, for outputs larger than memory allows.

The scale is optimized one overlapping tile at a time; each tile starts from
the current canvas (the upsampled coarser result, with the tiles done so far
pasted in). What a tile optimizes against is the caller's business (for style
transfer: the content photo's features of the same window, and the Gram
matrices of the *whole* style image, size-normalized so a tile's Gram is
comparable): :func:`optimize_tiled` takes a function that runs one tile with
:func:`easel.optim.optimize`. Each finished tile is feathered into the canvas
with a linear ramp over the overlap, so no seams show. Peak memory is that of
one tile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from easel.optim import OptimResult, Status

__all__ = ["Tile", "TiledResult", "feather", "optimize_tiled", "tile_grid", "tile_starts"]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px with at least ``overlap`` px overlap.

    Example:
        >>> tile_starts(1000, 512, 64)
        [0, 448, 488]
    """
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return sorted(set(starts))


@dataclass(frozen=True)
class Tile:
    """One window of a tiled scale.

    Attributes:
        index: 1-based position in row-major order.
        count: how many tiles the scale has.
        top: first row, in pixels.
        left: first column, in pixels.
        height: rows (the tile size, or the whole height when smaller).
        width: columns.

    Example:
        >>> tile_grid((100, 150), 64, 8)[0]
        Tile(index=1, count=6, top=0, left=0, height=64, width=64)
    """

    index: int
    count: int
    top: int
    left: int
    height: int
    width: int

    @property
    def window(self) -> tuple[slice, slice, slice, slice]:
        """Index of this tile in an ``(N, C, H, W)`` tensor."""
        return (
            slice(None),
            slice(None),
            slice(self.top, self.top + self.height),
            slice(self.left, self.left + self.width),
        )


def tile_grid(shape: tuple[int, int], tile_size: int, overlap: int) -> list[Tile]:
    """The tiles covering an image of ``(height, width)``, row by row.

    Example:
        >>> [(t.top, t.left) for t in tile_grid((72, 96), 48, 8)]
        [(0, 0), (0, 40), (0, 48), (24, 0), (24, 40), (24, 48)]
    """
    height, width = shape
    ys, xs = tile_starts(height, tile_size, overlap), tile_starts(width, tile_size, overlap)
    h, w = min(tile_size, height), min(tile_size, width)
    count = len(ys) * len(xs)
    return [Tile(i, count, y, x, h, w) for i, (y, x) in enumerate(((y, x) for y in ys for x in xs), start=1)]


def feather(height: int, width: int, overlap: int, top: bool, left: bool) -> torch.Tensor:
    """``(1, 1, height, width)`` blend weights: 0 → 1 ramps over ``overlap`` px on the top/left edges.

    Example:
        >>> feather(4, 4, 2, top=True, left=False)[0, 0, :, 0].tolist()
        [0.25, 0.75, 1.0, 1.0]
    """
    wy = torch.ones(height)
    wx = torch.ones(width)
    if overlap > 0:
        ramp = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        if top:
            wy[: min(overlap, height)] = ramp[: min(overlap, height)]
        if left:
            wx[: min(overlap, width)] = ramp[: min(overlap, width)]
    return (wy[:, None] * wx[None, :])[None, None]


@dataclass
class TiledResult:
    """How :func:`optimize_tiled` ended.

    Attributes:
        canvas: ``(1, 3, H, W)`` in [0, 1]: every tile reached, blended in.
        status: ``"finished"``, or how the tile ``tile`` ended (see :class:`~easel.optim.OptimResult`).
        message: the tile's one-line message ("" when finished).
        tile: the tile the run ended in early, or ``None``.

    Example:
        >>> result = optimize_tiled(x0, tile_size=512, overlap=64, run_tile=run_tile)  # doctest: +SKIP
        >>> result.status, result.canvas.shape  # doctest: +SKIP
        ('finished', torch.Size([1, 3, 1536, 2048]))
    """

    canvas: torch.Tensor
    status: Status = "finished"
    message: str = ""
    tile: Tile | None = None


TileRunner = Callable[[Tile, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]], "OptimResult | None"]
"""``run(tile, start, composite) -> OptimResult | None``: optimize one tile.

``start`` is the tile's ``(1, 3, h, w)`` starting image (a copy from the canvas);
``composite(tile_image)`` returns the whole canvas with ``tile_image`` blended in
(for a hook that shows the whole image). ``None`` skips the tile (nothing to do there).
"""


def optimize_tiled(x0: torch.Tensor, tile_size: int, overlap: int, run_tile: TileRunner) -> TiledResult:
    """Optimize ``x0`` (``(1, 3, H, W)``) tile by tile; return the blended canvas.

    Each tile's result (clamped to [0, 1]) is feathered into the canvas. A tile
    that ends early (stopped, interrupted, non-finite) still has its last good
    image blended in, and the run ends there with that tile's status; a
    KeyboardInterrupt while a tile is prepared ends it as ``"interrupted"`` too.

    Args:
        x0: the starting image, ``(1, 3, H, W)`` in [0, 1]; not modified.
        tile_size: tile side, in pixels.
        overlap: overlap of neighbouring tiles, in pixels.
        run_tile: optimizes one tile (see :data:`TileRunner`).

    Example:
        >>> def brighten(tile, start, composite):  # doctest: +SKIP
        ...     x = start.clone().requires_grad_(True)
        ...     return optimize(x, lambda: (x - 1).square().sum(), 5, optimizer="adam", learning_rate=0.1)
        >>> optimize_tiled(torch.zeros(1, 3, 96, 96), 64, 8, brighten).canvas.mean() > 0  # doctest: +SKIP
    """
    _, _, height, width = x0.shape
    canvas = x0.detach().clone()
    for tile in tile_grid((height, width), tile_size, overlap):
        window = tile.window
        weight = feather(tile.height, tile.width, overlap, top=tile.top > 0, left=tile.left > 0).to(
            canvas.device
        )

        def composite(
            tile_image: torch.Tensor, window: tuple[slice, ...] = window, weight: torch.Tensor = weight
        ) -> torch.Tensor:
            whole = canvas.clone()
            whole[window] = whole[window] * (1.0 - weight) + tile_image.detach().clamp(0.0, 1.0) * weight
            return whole

        try:
            out = run_tile(tile, canvas[window].contiguous(), composite)
        except KeyboardInterrupt:  # outside the tile's optimizer (its targets): keep the tiles done
            return TiledResult(
                canvas.clamp(0.0, 1.0),
                "interrupted",
                f"interrupted before tile {tile.index}/{tile.count}",
                tile,
            )
        if out is None:
            continue
        canvas[window] = canvas[window] * (1.0 - weight) + out.param.clamp(0.0, 1.0) * weight
        if out.status != "finished":
            return TiledResult(canvas.clamp(0.0, 1.0), out.status, out.message, tile)
    return TiledResult(canvas.clamp(0.0, 1.0))
