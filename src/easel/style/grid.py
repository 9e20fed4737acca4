"""Many renders from one model: weight sweeps, contents x styles grids, contact sheets.

The encoder is loaded once and each style's Gram matrices are computed once
per scale (:class:`~easel.style.transfer.Stylizer` caches them by file name).
Grids are planned before any work (:func:`plan_grid`: every output declared in an
:class:`~easel.io.outputs.OutputPlan`, a grid never writes into its input folders)
and resumable: a pair whose output exists is skipped.
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

from easel.errors import InputError
from easel.image import FloatImage, fit_long_side, resize, to_uint8
from easel.io.images import DEFAULT_MAX_SIZE, read_image, write_image
from easel.io.outputs import OutputPlan
from easel.progress import ProgressFn, prefixed, report
from easel.style.inputs import expand_style_paths, list_images, load_style_image
from easel.style.transfer import Style, StyleOptions, StyleResult, Stylizer

log = logging.getLogger(__name__)

__all__ = [
    "GridCell",
    "GridPlan",
    "GridReport",
    "SweepItem",
    "contact_sheet",
    "grid_sheet",
    "list_images",
    "pair_name",
    "plan_grid",
    "render_grid",
    "stylize_grid",
    "sweep",
    "sweep_path",
    "sweep_sheet",
]


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
    """One render of a sweep: its weights and result.

    Example:
        >>> items = sweep(content, styles, [1.0], [1e4, 1e5], StyleOptions(size=256))  # doctest: +SKIP
        >>> [(i.content_weight, i.style_weight, i.result.status) for i in items]  # doctest: +SKIP
        [(1.0, 10000.0, 'finished'), (1.0, 100000.0, 'finished')]
    """

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
    init_image: FloatImage | None = None,
) -> list[SweepItem]:
    """Render every ``(content_weight, style_weight)`` combination with one encoder.

    A render that ends interrupted (Ctrl-C, SIGTERM) ends the sweep: it is the
    last item returned, with ``result.status == "interrupted"``.

    Args:
        content: ``(H, W, 3)`` float32 RGB in [0, 1].
        styles: the styles, as for :func:`~easel.style.transfer.stylize`.
        options: shared settings; each render replaces its two weights.
        content_weights: the α values (rows of :func:`sweep_sheet`).
        style_weights: the β values (columns).
        progress: progress callback (stage ``"i/n a=.. b=.. ..."``).
        on_item: called with each finished item (to write it at once).
        init_image: start every render from this image.

    Returns:
        One :class:`SweepItem` per render, rows first.

    Example:
        >>> items = sweep(photo, [Style(starry)], StyleOptions(), [1.0], [10, 100, 1000])  # doctest: +SKIP
    """
    stylizer = Stylizer(options)
    items = []
    combos = list(itertools.product(content_weights, style_weights))
    for index, (cw, sw) in enumerate(combos, start=1):
        stylizer.options = replace(options, content_weight=cw, style_weight=sw)
        sub = prefixed(progress, f"{index}/{len(combos)} a={_fmt(cw)} b={_fmt(sw)}")
        result = stylizer.run(content, styles, init_image=init_image, progress=sub)
        item = SweepItem(cw, sw, result)
        items.append(item)
        if on_item is not None:
            on_item(item)
        if result.status == "interrupted":
            break
    return items


def sweep_path(output: str | os.PathLike[str], content_weight: float, style_weight: float) -> Path:
    """Where a sweep writes one render: ``<stem>_c<a>_s<b><suffix>`` beside ``output``.

    Example:
        >>> sweep_path("sweep.png", 1.0, 100.0).name
        'sweep_c1_s100.png'
    """
    out = Path(output)
    return out.with_name(f"{out.stem}_c{_fmt(content_weight)}_s{_fmt(style_weight)}{out.suffix}")


def sweep_sheet(items: Sequence[SweepItem], cell_size: int = 256) -> FloatImage:
    """A contact sheet of a sweep: rows = content weights, columns = style weights.

    Example:
        >>> sheet = sweep_sheet(sweep(photo, [Style(starry)], StyleOptions(), [1], [10, 100]))  # doctest: +SKIP
    """
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


# ---------------------------------------------------------------- grids


def pair_name(content: Path, style: Path, suffix: str = ".png") -> str:
    """Output file name of a (content, style) pair: ``<content>__<style><suffix>``.

    Example:
        >>> pair_name(Path("photos/a.jpg"), Path("styles/starry.png"))
        'a__starry.png'
    """
    return f"{content.stem}__{style.stem}{suffix}"


SHEET_NAME = "contact_sheet.png"
"""File name of a grid's contact sheet, inside the grid folder."""


@dataclass
class GridCell:
    """One (content, style) pair of a grid and the file it is written to.

    Example:
        >>> grid = plan_grid(["photos/"], [("styles/", 1.0)], "grid/")  # doctest: +SKIP
        >>> grid.todo[0].content, grid.todo[0].target  # doctest: +SKIP
        (PosixPath('photos/a.jpg'), PosixPath('grid/a__starry.png'))
    """

    content: Path
    style: Path
    weight: float
    target: Path


@dataclass
class GridPlan:
    """What a grid will do, decided before any work (see :func:`plan_grid`).

    Attributes:
        contents: the content files, in row order.
        styles: ``(style file, weight)`` pairs, in column order.
        out_dir: the grid folder.
        suffix: the cells' format.
        todo: the cells to render.
        finished: cells already in the folder (skipped: the grid resumes).
        sheet: the contact sheet's path.

    Example:
        >>> grid = plan_grid(["photos/"], [("styles/", 1.0)], "grid/")  # doctest: +SKIP
        >>> len(grid.todo), len(grid.finished)  # a second run resumes  # doctest: +SKIP
        (6, 0)
    """

    contents: list[Path]
    styles: list[tuple[Path, float]]
    out_dir: Path
    suffix: str = ".png"
    todo: list[GridCell] = field(default_factory=list)
    finished: list[Path] = field(default_factory=list)
    sheet: Path = Path(SHEET_NAME)


def _expand_contents(contents: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    items = [contents] if isinstance(contents, (str, os.PathLike)) else list(contents)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise InputError(f"{path}: no images in this folder")
            files.extend(found)
        else:
            files.append(path)
    if not files:
        raise InputError("a grid needs at least one content image")
    return files


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def plan_grid(
    contents: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    styles: Sequence[str | os.PathLike[str] | tuple[str | os.PathLike[str], float]],
    out_dir: str | os.PathLike[str],
    *,
    suffix: str = ".png",
    overwrite: bool = False,
    plan: OutputPlan | None = None,
    record: bool = False,
    option: str = "out_dir",
) -> GridPlan:
    """Decide a grid's outputs and declare them in an output plan (not yet checked).

    Content and style folders expand to their images. A grid never writes into
    (or below) one of its input folders, where its outputs would be read as
    inputs by the next run; two pairs never share an output name. Cells already
    in the folder are skipped unless ``overwrite``; on a resumed grid the
    contact sheet (and the run record) are refreshed.

    Args:
        contents: a content file or folder, or a list of them.
        styles: style files or folders, each a path or ``(path, weight)``.
        out_dir: the grid folder (created when the work starts).
        suffix: the cells' format (``.png`` or ``.tif``).
        overwrite: render (and replace) every cell, even the finished ones.
        plan: the command's output plan to declare into (a new one when ``None``);
            call its :meth:`~easel.io.outputs.OutputPlan.check` before the work.
        record: also declare the run record ``<out_dir>.json``.
        option: the user's name for ``out_dir`` in messages (``-o`` in the CLI).

    Returns:
        A :class:`GridPlan` for :func:`render_grid`.

    Raises:
        InputError: empty folders, a grid folder inside an input folder, or two
            pairs with the same output name.

    Example:
        >>> outputs = OutputPlan()  # doctest: +SKIP
        >>> grid = plan_grid("photos/", ["styles/"], "grid/", plan=outputs)  # doctest: +SKIP
        >>> outputs.check()  # doctest: +SKIP
        >>> report = render_grid(grid, StyleOptions(size=512))  # doctest: +SKIP
    """
    out = Path(out_dir)
    style_specs = [s if isinstance(s, tuple) else (s, 1.0) for s in styles]
    folders = [Path(c) for c in ([contents] if isinstance(contents, (str, os.PathLike)) else contents)]
    folders += [Path(p) for p, _ in style_specs]
    for folder in folders:
        if folder.is_dir() and (
            _resolved(out) == _resolved(folder) or _resolved(folder) in _resolved(out).parents
        ):
            raise InputError(
                f"{option} {out}: the grid would write into the input folder {folder}, and the next run "
                "would read its outputs as inputs; choose another folder"
            )
    content_files = _expand_contents(contents)
    style_pairs = expand_style_paths(style_specs)
    if not style_pairs:
        raise InputError("a grid needs at least one style image")
    grid = GridPlan(content_files, style_pairs, out, suffix, sheet=out / SHEET_NAME)
    plan = plan if plan is not None else OutputPlan(overwrite=overwrite)
    plan.add_inputs(*content_files, *(p for p, _ in style_pairs))
    plan.folder(out, option=option, resume=True)
    # files inside a folder that does not exist yet cannot collide with anything: only the
    # folder (where it will be made) is checked; in an existing folder every file is
    exists = out.is_dir()
    seen: dict[str, tuple[Path, Path]] = {}
    for content in content_files:
        for style, weight in style_pairs:
            name = pair_name(content, style, suffix)
            if name in seen:
                a, b = seen[name]
                raise InputError(
                    f"{content} x {style} and {a} x {b} would both be written to {out / name}; "
                    "rename one of the files"
                )
            seen[name] = (content, style)
            target = out / name
            if target.exists() and not overwrite:
                grid.finished.append(target)
                continue
            if exists:
                plan.file(target, option=option)
            grid.todo.append(GridCell(content, style, weight, target))
    if exists and not overwrite:
        # a resumed grid refreshes its own contact sheet and record
        refresh = OutputPlan(inputs=plan.inputs, overwrite=True)
        refresh.file(grid.sheet, option=option)
        if record:
            refresh.record(out)
        refresh.check()
    else:
        if exists:
            plan.file(grid.sheet, option=option)
        if record:
            plan.record(out)
    return grid


@dataclass
class GridReport:
    """What :func:`render_grid` did.

    Attributes:
        done: cells rendered by this run.
        skipped: cells already there.
        failed: ``(cell, message)`` of renders that did not finish (non-finite loss).
        sheet: the contact sheet written.
        status: ``"finished"``, or ``"interrupted"`` (Ctrl-C or SIGTERM: the
            unfinished cell is not written, so the next run renders it).
        notes: one-line notes for the user (transparency, grayscale inputs).

    Example:
        >>> report = render_grid(grid, StyleOptions(size=512))  # doctest: +SKIP
        >>> report.status, len(report.done), report.sheet  # doctest: +SKIP
        ('finished', 6, PosixPath('grid/contact_sheet.png'))
    """

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    sheet: Path | None = None
    status: str = "finished"
    notes: list[str] = field(default_factory=list)


def render_grid(
    grid: GridPlan,
    options: StyleOptions,
    *,
    max_size: int | None = DEFAULT_MAX_SIZE,
    bit_depth: int = 8,
    progress: ProgressFn | None = None,
    sheet_cell: int = 192,
    stylizer: Stylizer | None = None,
) -> GridReport:
    """Render the cells a :func:`plan_grid` left to do, then write the contact sheet.

    The styles are read before the encoder loads; a cell is written only when
    its run finished, so an interrupted grid resumes where it stopped.

    Args:
        grid: the plan (its outputs checked).
        options: style options shared by all pairs.
        max_size: downscale inputs whose long side exceeds this.
        bit_depth: 8 or 16 (PNG/TIFF).
        progress: progress callback (stage ``"i/n content x style ..."``).
        sheet_cell: cell size of the contact sheet.
        stylizer: an already-loaded :class:`~easel.style.transfer.Stylizer` to reuse.

    Returns:
        A :class:`GridReport`.

    Example:
        >>> report = render_grid(plan_grid("photos/", ["styles/"], "grid/"), StyleOptions())  # doctest: +SKIP
    """
    report_ = GridReport(skipped=list(grid.finished))
    styles: dict[Path, FloatImage] = {}
    for cell in grid.todo:
        if cell.style not in styles:
            styles[cell.style] = load_style_image(cell.style, "style", max_size, report_.notes)
    grid.out_dir.mkdir(parents=True, exist_ok=True)
    total = len(grid.contents) * len(grid.styles)
    for index in range(1, len(grid.finished) + 1):
        report(progress, "grid", index, total)
    try:
        for index, cell in enumerate(grid.todo, start=len(grid.finished) + 1):
            if stylizer is None:
                stylizer = Stylizer(options)
            content = load_style_image(cell.content, "content", max_size, report_.notes)
            stage = f"{index}/{total} {cell.content.stem} x {cell.style.stem}"
            style = Style(styles[cell.style], weight=cell.weight, key=str(cell.style.resolve()))
            result = stylizer.run(content, [style], progress=prefixed(progress, stage))
            if result.status == "interrupted":
                report_.status = "interrupted"
                break
            if result.status != "finished":
                report_.failed.append((cell.target, result.message))
                log.warning("%s: %s", cell.target, result.message)
                continue
            write_image(cell.target, result.image, bit_depth=bit_depth)
            report_.done.append(cell.target)
    except KeyboardInterrupt:  # between two runs (reading, writing): stop like an interrupted run
        report_.status = "interrupted"
    report_.sheet = write_image(grid.sheet, grid_sheet(grid, sheet_cell))
    return report_


def grid_sheet(grid: GridPlan, cell_size: int = 192) -> FloatImage:
    """The contact sheet of a grid: the styles on top, one row per content (empty cells blank).

    Example:
        >>> sheet = grid_sheet(plan_grid("photos/", ["styles/"], "grid/"))  # doctest: +SKIP
    """
    cells: list[list[FloatImage | None]] = []
    for content in grid.contents:
        row: list[FloatImage | None] = []
        for style, _ in grid.styles:
            path = grid.out_dir / pair_name(content, style, grid.suffix)
            row.append(read_image(path, max_size=cell_size * 2).rgb if path.exists() else None)
        cells.append(row)
    inputs_row: list[FloatImage | None] = [read_image(s, max_size=cell_size * 2).rgb for s, _ in grid.styles]
    return contact_sheet(
        [inputs_row, *cells],
        ["styles", *[c.stem for c in grid.contents]],
        [s.stem for s, _ in grid.styles],
        cell_size=cell_size,
    )


def stylize_grid(
    contents: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    styles: Sequence[str | os.PathLike[str] | tuple[str | os.PathLike[str], float]],
    out_dir: str | os.PathLike[str],
    options: StyleOptions,
    suffix: str = ".png",
    overwrite: bool = False,
    max_size: int | None = DEFAULT_MAX_SIZE,
    bit_depth: int = 8,
    progress: ProgressFn | None = None,
    sheet_cell: int = 192,
) -> GridReport:
    """Stylize every content with every style; skip finished pairs; write a contact sheet.

    :func:`plan_grid`, a check of every output, then :func:`render_grid`.

    Args:
        contents: content files or folders.
        styles: style files or folders, each a path or ``(path, weight)``.
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

    Raises:
        InputError: bad inputs, or an output that cannot be written (see :func:`plan_grid`).

    Example:
        >>> stylize_grid(["a.jpg"], [("starry.jpg", 1.0)], "out", StyleOptions())  # doctest: +SKIP
    """
    outputs = OutputPlan(overwrite=overwrite)
    grid = plan_grid(contents, styles, out_dir, suffix=suffix, overwrite=overwrite, plan=outputs)
    outputs.check()
    return render_grid(
        grid, options, max_size=max_size, bit_depth=bit_depth, progress=progress, sheet_cell=sheet_cell
    )
