"""Many renders from one model: weight sweeps, contents x styles grids, contact sheets.

The encoder is loaded once and each style's Gram matrices are computed once
per scale (:class:`~easel.style.transfer.Stylizer` caches them by file name).
Grids are resumable: a pair whose output exists is skipped.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from easel.image import FloatImage, fit_long_side, resize, to_uint8
from easel.io.images import IMAGE_SUFFIXES, read_image, write_image
from easel.progress import ProgressFn, report
from easel.style.transfer import Style, StyleOptions, StyleResult, Stylizer

log = logging.getLogger(__name__)


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def contact_sheet(
    cells: Sequence[Sequence[FloatImage | None]],
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    cell_size: int = 256,
    title: str = "",
) -> FloatImage:
    """Arrange images in a labelled grid.

    Args:
        cells: rows of ``(H, W, 3)`` float32 images in [0, 1] (``None`` = empty cell).
        row_labels: one label per row, drawn on the left.
        col_labels: one label per column, drawn on top.
        cell_size: each image is fitted into a ``cell_size`` square.
        title: optional line above everything.

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Example:
        >>> sheet = contact_sheet([[np.zeros((8, 8, 3), np.float32)]], ["a"], ["b"], cell_size=32)
        >>> sheet.shape[2]
        3
    """
    rows = len(cells)
    cols = max((len(r) for r in cells), default=0)
    pad = 6
    font_px = max(10, cell_size // 14)
    font = _font(font_px)
    left = (max((len(s) for s in row_labels), default=0) * font_px * 6 // 10 + 2 * pad) if row_labels else pad
    top = (font_px + 2 * pad) if col_labels else pad
    title_h = (font_px + 2 * pad) if title else 0
    width = left + cols * (cell_size + pad)
    height = title_h + top + rows * (cell_size + pad)
    sheet = Image.new("RGB", (max(width, 1), max(height, 1)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, pad), title, fill=(0, 0, 0), font=font)
    for c, label in enumerate(col_labels[:cols]):
        draw.text((left + c * (cell_size + pad), title_h + pad), label, fill=(0, 0, 0), font=font)
    for r, row in enumerate(cells):
        y = title_h + top + r * (cell_size + pad)
        if r < len(row_labels):
            draw.text((pad, y + cell_size // 2 - font_px // 2), row_labels[r], fill=(0, 0, 0), font=font)
        for c, img in enumerate(row):
            if img is None:
                continue
            h, w = fit_long_side(img.shape[:2], cell_size)
            if max(img.shape[:2]) < cell_size:
                scale = cell_size / max(img.shape[:2])
                h, w = max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale))
            thumb = Image.fromarray(to_uint8(resize(img, (h, w))))
            x = left + c * (cell_size + pad)
            sheet.paste(thumb, (x + (cell_size - w) // 2, y + (cell_size - h) // 2))
    return (np.asarray(sheet, dtype=np.float32) / 255.0).astype(np.float32)


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass
class SweepItem:
    """One render of a sweep: its weights and result."""

    content_weight: float
    style_weight: float
    result: StyleResult


def sweep(
    content: FloatImage,
    styles: Sequence[Style],
    options: StyleOptions,
    content_weights: Sequence[float],
    style_weights: Sequence[float],
    progress: ProgressFn | None = None,
    on_item: Callable[[SweepItem], None] | None = None,
) -> list[SweepItem]:
    """Render every ``(content_weight, style_weight)`` combination with one encoder.

    Example:
        >>> items = sweep(photo, [Style(starry)], StyleOptions(), [1.0], [10, 100, 1000])  # doctest: +SKIP
    """
    stylizer = Stylizer(options)
    items = []
    combos = list(itertools.product(content_weights, style_weights))
    for index, (cw, sw) in enumerate(combos, start=1):
        stylizer.options = replace(options, content_weight=cw, style_weight=sw)

        def sub(update: object, _i: int = index, cw: float = cw, sw: float = sw) -> None:
            if progress is not None:
                from easel.progress import ProgressUpdate

                assert isinstance(update, ProgressUpdate)
                progress(
                    ProgressUpdate(
                        f"{_i}/{len(combos)} a={_fmt(cw)} b={_fmt(sw)} {update.stage}",
                        update.step,
                        update.total,
                        update.metrics,
                    )
                )

        item = SweepItem(cw, sw, stylizer.run(content, styles, progress=sub))
        items.append(item)
        if on_item is not None:
            on_item(item)
    return items


def sweep_sheet(items: Sequence[SweepItem], cell_size: int = 256) -> FloatImage:
    """A contact sheet of a sweep: rows = content weights, columns = style weights."""
    cws = list(dict.fromkeys(i.content_weight for i in items))
    sws = list(dict.fromkeys(i.style_weight for i in items))
    lookup = {(i.content_weight, i.style_weight): i.result.image for i in items}
    cells = [[lookup.get((cw, sw)) for sw in sws] for cw in cws]
    return contact_sheet(
        cells,
        [f"content {_fmt(cw)}" for cw in cws],
        [f"style {_fmt(sw)}" for sw in sws],
        cell_size=cell_size,
        title="rows: content weight (alpha), columns: style weight (beta)",
    )


@dataclass
class GridReport:
    """What :func:`stylize_grid` did."""

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    sheet: Path | None = None


def pair_name(content: Path, style: Path, suffix: str = ".png") -> str:
    """Output file name of a (content, style) pair: ``<content>__<style><suffix>``."""
    return f"{content.stem}__{style.stem}{suffix}"


def stylize_grid(
    contents: Sequence[Path],
    styles: Sequence[tuple[Path, float]],
    out_dir: Path,
    options: StyleOptions,
    suffix: str = ".png",
    overwrite: bool = False,
    max_size: int | None = 4096,
    bit_depth: int = 8,
    progress: ProgressFn | None = None,
    sheet_cell: int = 192,
) -> GridReport:
    """Stylize every content with every style; skip finished pairs; write a contact sheet.

    Args:
        contents: content image files.
        styles: ``(style file, weight)`` pairs.
        out_dir: output folder (created); pair outputs are named by :func:`pair_name`.
        options: style options shared by all pairs.
        suffix: output format of each pair.
        overwrite: re-render pairs whose output exists (otherwise they are skipped: resumable).
        max_size: downscale inputs whose long side exceeds this.
        bit_depth: 8 or 16 (PNG/TIFF).
        progress: progress callback (stage ``"i/n content x style ..."``).
        sheet_cell: cell size of ``contact_sheet.png``.

    Returns:
        A :class:`GridReport`.

    Example:
        >>> stylize_grid([Path("a.jpg")], [(Path("starry.jpg"), 1.0)], Path("out"), StyleOptions())  # doctest: +SKIP
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    report_ = GridReport()
    stylizer: Stylizer | None = None
    style_images: dict[Path, FloatImage] = {}
    pairs = [(c, s) for c in contents for s in styles]
    for index, (content_path, (style_path, weight)) in enumerate(pairs, start=1):
        target = out_dir / pair_name(content_path, style_path, suffix)
        if target.exists() and not overwrite:
            report_.skipped.append(target)
            report(progress, "grid", index, len(pairs))
            continue
        if stylizer is None:
            stylizer = Stylizer(options)
        if style_path not in style_images:
            style_images[style_path] = read_image(style_path, max_size=max_size).rgb
        content = read_image(content_path, max_size=max_size).rgb
        stage = f"{index}/{len(pairs)} {content_path.stem} x {style_path.stem}"

        def sub(update: object, _stage: str = stage) -> None:
            from easel.progress import ProgressUpdate

            if progress is not None and isinstance(update, ProgressUpdate):
                progress(
                    ProgressUpdate(f"{_stage} {update.stage}", update.step, update.total, update.metrics)
                )

        style = Style(style_images[style_path], weight=weight, key=str(style_path.resolve()))
        result = stylizer.run(content, [style], progress=sub)
        if result.status != "done":
            report_.failed.append((target, result.message))
            log.warning("%s: %s", target, result.message)
            continue
        write_image(target, result.image, bit_depth=bit_depth)
        report_.done.append(target)
    cells: list[list[FloatImage | None]] = []
    for content_path in contents:
        row: list[FloatImage | None] = []
        for style_path, _ in styles:
            path = out_dir / pair_name(content_path, style_path, suffix)
            row.append(read_image(path, max_size=sheet_cell * 2).rgb if path.exists() else None)
        cells.append(row)
    inputs_row = [read_image(s, max_size=sheet_cell * 2).rgb for s, _ in styles]
    sheet = contact_sheet(
        [inputs_row, *cells],
        ["styles", *[c.stem for c in contents]],
        [s.stem for s, _ in styles],
        cell_size=sheet_cell,
    )
    report_.sheet = write_image(out_dir / "contact_sheet.png", sheet)
    return report_
