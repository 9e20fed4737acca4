"""Tiled optimization of the finest scale, for outputs larger than memory allows.

The finest scale is optimized one overlapping tile at a time; each tile starts
from the current canvas (the upsampled coarser result, with the tiles done so
far pasted in), its content targets are the content photo's features of the
same window, and its style targets are the Gram matrices of the *whole*
style image (size-normalized, so a tile's Gram is comparable). Each finished
tile is feathered into the canvas with a linear ramp over the overlap, so no
seams show. Peak memory is that of one tile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from easel.progress import ProgressFn
from easel.style.losses import StyleTarget

if TYPE_CHECKING:
    from easel.style.transfer import SnapshotFn, StyleResult, Stylizer


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px with at least ``overlap`` px overlap.

    Example:
        >>> tile_starts(1000, 512, 64)
        [0, 488]
    """
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return sorted(set(starts))


def feather(height: int, width: int, overlap: int, top: bool, left: bool) -> torch.Tensor:
    """``(1, 1, height, width)`` blend weights: 0 → 1 ramps over ``overlap`` px on the top/left edges."""
    wy = torch.ones(height)
    wx = torch.ones(width)
    if overlap > 0:
        ramp = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        if top:
            wy[: min(overlap, height)] = ramp[: min(overlap, height)]
        if left:
            wx[: min(overlap, width)] = ramp[: min(overlap, width)]
    return (wy[:, None] * wx[None, :])[None, None]


def optimize_tiled(
    stylizer: Stylizer,
    x0: torch.Tensor,
    content_t: torch.Tensor,
    targets: Sequence[StyleTarget],
    iterations: int,
    stage: str,
    result: StyleResult,
    progress: ProgressFn | None,
    callback: SnapshotFn | None,
    snapshot_every: int,
    step_offset: int,
) -> torch.Tensor:
    """Optimize ``x0`` (``(1, 3, H, W)``) tile by tile; return the blended canvas."""
    from easel.style.transfer import _NonFinite

    opts = stylizer.options
    assert opts.tile_size is not None
    tile, overlap = opts.tile_size, opts.tile_overlap
    _, _, height, width = x0.shape
    canvas = x0.detach().clone()
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    windows = [(y, x) for y in ys for x in xs]
    for index, (y, x) in enumerate(windows, start=1):
        h, w = min(tile, height), min(tile, width)
        crop = (slice(None), slice(None), slice(y, y + h), slice(x, x + w))
        with torch.no_grad():
            cfeats = stylizer._features(content_t[crop])
            ctargets = {layer: cfeats[layer].detach() for layer in opts.content_layers}
            del cfeats
        tile_targets = [
            StyleTarget(t.grams, t.weight, None if t.mask is None else t.mask[crop].contiguous())
            for t in targets
        ]
        if all(t.mask is not None and float(t.mask.sum()) == 0.0 for t in tile_targets) and tile_targets:
            continue
        try:
            out = stylizer._optimize(
                canvas[crop].contiguous(),
                ctargets,
                tile_targets,
                iterations,
                f"{stage} tile {index}/{len(windows)}",
                result,
                progress,
                None,
                snapshot_every,
                len(result.losses),
            )
        except _NonFinite:
            raise _NonFinite(canvas.clamp(0.0, 1.0)) from None
        except KeyboardInterrupt as exc:
            exc.partial = canvas.clamp(0.0, 1.0)  # type: ignore[attr-defined]
            raise
        weight = feather(h, w, overlap, top=y > 0, left=x > 0).to(canvas.device)
        canvas[crop] = canvas[crop] * (1.0 - weight) + out * weight
        if callback is not None and snapshot_every:
            from easel.image import from_tensor

            callback(len(result.losses), from_tensor(canvas))
    return canvas.clamp(0.0, 1.0)
