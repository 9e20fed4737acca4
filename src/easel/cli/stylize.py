"""``easel stylize``: neural style transfer (Gatys et al.) of a photo, a sweep, or a grid."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from easel.cli._common import (
    CommandContext,
    add_max_size,
    add_output,
    float_list,
    positive_float,
    positive_int,
    run_device_fields,
    save_record,
)
from easel.errors import InputError
from easel.text import plural

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery
    from easel.style.inputs import StyleInputs
    from easel.style.options import StyleOptions

log = logging.getLogger(__name__)

PRESERVE_COLOR_CHOICES = ("none", "luminance", "histogram")  # = easel.style.options' (a test checks)

NAME = "stylize"
HELP = "paint a photo in the style of one or more images (neural style transfer, VGG-19)"
ORDER = 30
DESCRIPTION = """\
Neural style transfer (Gatys et al.): the pixels of an image are optimized so
that its VGG-19 features match the content photo and its Gram matrices match
the style images. Total loss = a*content + b*sum_i w_i*style_i (+ TV).

Several styles mix by weight: --style a.jpg --style b.jpg:0.45 (w = 1 and 0.45).
--mask M (one per --style, in order) confines a style to a region (white = on).
Optimization runs coarse to fine (--size, --size/2, ... down to --min-scale:
half of --size, at most 256 px), in the precision measured fastest on this
machine (--precision auto: fp32 or bf16 autocast); --tile-size optimizes the
finest scale in overlapping tiles for outputs beyond memory. Progress shows
the current losses; Ctrl-C saves the image reached so far.

Sweeps: comma-separated --content-weight/--style-weight render every
combination; OUT is then a labelled contact sheet and each render is written
beside it as <OUT stem>_c<a>_s<b><suffix>.

Grids: a folder as CONTENT and/or --style renders every content x style pair
into the folder OUT (<content>__<style>.png), computing each style's Grams once;
pairs already there are skipped (re-run to resume), and OUT/contact_sheet.png
shows the grid.

Weights: the Caffe-converted VGG-19 (--model vgg19-caffe, default) or
torchvision's (--model vgg19-torchvision); get them with `easel weights
download NAME`, or pass a file with --weights.
"""
EPILOG = """\
examples:
  easel stylize photo.jpg --style starry.jpg -o art.png --size 512
  easel stylize photo.jpg --style starry.jpg --style scream.jpg:0.45 -o mix.png
  easel stylize photo.jpg --style starry.jpg --preserve-color luminance -o art.png
  easel stylize photo.jpg --style sky.jpg --mask sky_mask.png --style sea.jpg --mask sea_mask.png -o regions.png
  easel stylize photo.jpg --style starry.jpg --content-weight 1 --style-weight 10,100,1000 -o sweep.png
  easel stylize photos/ --style styles/ -o grid/
  easel stylize photo.jpg --style starry.jpg -o art.tif --bit-depth 16 --animation steps.gif
"""


def style_spec_arg(text: str) -> tuple[Path, float]:
    """The ``--style`` argument type: ``path`` or ``path:weight`` as ``(path, weight)``.

    :func:`easel.style.inputs.parse_style_spec`, with its error turned into
    argparse's (a one-line option error naming ``--style``).

    Example:
        >>> style_spec_arg("starry.jpg:0.45")
        (PosixPath('starry.jpg'), 0.45)
    """
    from easel.style.inputs import parse_style_spec

    try:
        return parse_style_spec(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_style_arguments(parser: argparse.ArgumentParser, styles: str, masks: str) -> None:
    """``--style STYLE[:W]`` (repeatable, required) and ``--mask MASK`` (repeatable), for every style command.

    ``styles`` says what a style may be, ``masks`` what size a mask has.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_style_arguments(parser, "style image", "each frame's size")
        >>> parser.parse_args(["--style", "a.jpg:0.5"]).style
        [(PosixPath('a.jpg'), 0.5)]
    """
    parser.add_argument(
        "-s",
        "--style",
        type=style_spec_arg,
        action="append",
        required=True,
        metavar="STYLE[:W]",
        help=f"{styles} with optional weight, repeatable: --style a.jpg --style b.jpg:0.45",
    )
    parser.add_argument(
        "--mask",
        type=Path,
        action="append",
        default=[],
        metavar="MASK",
        help=f"region mask for the style of the same position (white = style applies); {masks}",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel stylize``'s arguments and options to ``parser`` (from :class:`StyleOptions`).

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel stylize")
        >>> add_arguments(parser)
        >>> args = parser.parse_args(["photo.jpg", "--style", "starry.jpg:0.5", "-o", "art.png"])
        >>> args.style, args.size
        ([(PosixPath('starry.jpg'), 0.5)], 512)
    """
    from easel.cli._options import add_options, argument_group
    from easel.options import declared_options
    from easel.style.options import StyleOptions

    parser.add_argument("content", type=Path, metavar="CONTENT", help="content photo, or a folder of photos")
    add_style_arguments(parser, styles="style image (or folder)", masks="content's size")
    # every option of the API's StyleOptions, from its declaration; the CLI widens three:
    # the two loss weights take a list (a sweep) and --init also takes an image file
    add_options(parser, StyleOptions, exclude=("content_weight", "style_weight", "init"))
    add_max_size(parser)
    declared = {opt.name: opt for opt in declared_options(StyleOptions)}
    loss = argument_group(parser, "losses")
    for name, letter in (("content_weight", "A"), ("style_weight", "B")):
        opt = declared[name]
        loss.add_argument(
            opt.flag,
            dest=name,
            type=float_list,
            default=[opt.default],
            metavar=f"{letter}[,{letter}...]",
            help=f"{opt.spec.help}; a list sweeps (default {opt.default:g})",
        )
    argument_group(parser, "optimization").add_argument(
        "--init",
        default=declared["init"].default,
        metavar="content|noise|style|FILE",
        help=f"{declared['init'].spec.help}, or an image file (default {declared['init'].default})",
    )

    rec = parser.add_argument_group("recording")
    rec.add_argument(
        "--save-every",
        type=positive_int,
        default=None,
        metavar="N",
        help="also save the image every N iterations as <OUT stem>_steps/step_NNNNN.png",
    )
    rec.add_argument(
        "--animation",
        type=Path,
        default=None,
        metavar="OUT.gif|.mp4",
        help="write the optimization as an animation (frames at the output size)",
    )
    rec.add_argument("--fps", type=positive_float, default=12.0, help="animation frame rate (default 12)")
    rec.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="16 for 16-bit PNG/TIFF")
    add_output(parser, "output image (PNG/JPEG/WebP/TIFF); a folder for grids; the contact sheet for sweeps")


def _options(args: argparse.Namespace) -> StyleOptions:
    """The API's options from the parsed command line (the first value of a sweep list)."""
    from easel.cli._options import options_from_args
    from easel.style.options import INIT_CHOICES, StyleOptions

    options: StyleOptions = options_from_args(
        StyleOptions,
        args,
        content_weight=args.content_weight[0],
        style_weight=args.style_weight[0],
        init=args.init if args.init in INIT_CHOICES else "content",
    )
    return options.validate()


def _check_memory(args: argparse.Namespace, options: StyleOptions, shape: tuple[int, int]) -> None:
    """The library's memory check, its message in the user's flags."""
    from easel.cli._options import flag_for
    from easel.style.inputs import MemoryLimitError, check_memory

    try:
        need = check_memory(options, shape)
    except MemoryLimitError as exc:
        raise InputError(exc.with_name(flag_for(args, "size"), flag_for(args, "tile_size"))) from None
    log.debug("estimated peak memory %.2f GiB", need / 2**30)


def _record(
    out: Path,
    args: argparse.Namespace,
    ctx: CommandContext,
    inputs: list[Path],
    options: StyleOptions,
    status: str,
    extra: dict[str, Any],
) -> None:
    """The run record: the resolved options (the API's, plus what only the CLI takes) and the result."""
    from easel.options import options_dict

    resolved: dict[str, Any] = options_dict(options.resolved())
    resolved.update(run_device_fields(options.device, options.precision))
    resolved.update(
        content=args.content,
        style=args.style,
        mask=args.mask,
        max_size=args.max_size,
        save_every=args.save_every,
        animation=args.animation,
        fps=args.fps,
        bit_depth=args.bit_depth,
        output=args.output,
    )
    if len(args.content_weight) > 1 or len(args.style_weight) > 1:
        resolved.update(content_weight=args.content_weight, style_weight=args.style_weight)
    if args.init != options.init:
        resolved["init"] = args.init
    save_record(out, args, ctx, inputs=inputs, extra=extra, options=resolved, status=status)


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel stylize`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["stylize", "photo.jpg", "--style", "starry.jpg", "-o", "art.png"])  # runs this function  # doctest: +SKIP
        0
    """
    from easel.io.images import WRITE_SUFFIXES
    from easel.io.outputs import OutputPlan
    from easel.style.grid import sweep_path
    from easel.style.inputs import expand_style_paths
    from easel.style.options import INIT_CHOICES

    options = _options(args)
    if args.content.is_dir() or any(path.is_dir() for path, _ in args.style):
        return _run_grid(args, ctx, options)
    styles = expand_style_paths(args.style)
    if len(args.mask) > len(styles):
        raise InputError(
            f"{len(args.mask)} --mask options for {len(styles)} --style images (one mask per style, in order)"
        )
    sweeping = len(args.content_weight) > 1 or len(args.style_weight) > 1
    init_path = None if args.init in INIT_CHOICES else Path(args.init)

    # every file this run writes, checked together before an image is read or the encoder loads
    plan = OutputPlan(
        inputs=[args.content, *(p for p, _ in styles), *args.mask, init_path], overwrite=args.overwrite
    )
    out = plan.file(args.output, option="-o", suffixes=WRITE_SUFFIXES, record=True)
    if args.bit_depth == 16 and out.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise InputError(f"-o {out}: --bit-depth 16 needs a .png or .tif output")
    renders: dict[tuple[float, float], Path] = {}
    if sweeping:
        if args.animation is not None or args.save_every is not None:
            raise InputError(
                "--animation/--save-every record one run; they cannot be combined with a weight sweep"
            )
        for a in args.content_weight:
            for b in args.style_weight:
                renders[(a, b)] = plan.file(sweep_path(out, a, b), option="-o (a sweep render)")
    animation = None
    if args.animation is not None:
        animation = plan.file(args.animation, option="--animation", suffixes=(".gif", ".mp4", ".webm"))
    steps_dir = None
    if args.save_every is not None:
        steps_dir = plan.folder(out.with_name(f"{out.stem}_steps"), option="--save-every")
    plan.check()

    inputs = _load_inputs(args, ctx, styles, init_path)
    _check_memory(args, options, inputs.content.shape[:2])
    if sweeping:
        return _run_sweep(args, ctx, options, inputs, out, renders)

    from easel.style.recording import SnapshotRecorder, animation_interval
    from easel.style.transfer import Stylizer

    frame_every = None
    if animation is not None:
        frame_every = animation_interval(options.total_steps(inputs.content.shape[:2]))
    recorder = SnapshotRecorder(save_every=args.save_every, steps_dir=steps_dir, frame_every=frame_every)
    with ctx.timed("load_model"):
        stylizer = Stylizer(options)
    with ctx.timed("stylize"):
        result = stylizer.run(
            inputs.content,
            inputs.styles,
            init_image=inputs.init_image,
            progress=ctx.progress,
            on_step=recorder if recorder.active else None,
        )
    recorder.finish(result.image)
    _write(out, result.image, args.bit_depth, ctx)
    if animation is not None and recorder.frames:
        _write_animation(animation, recorder.frames, args.fps, ctx)
    extra: dict[str, Any] = {"result": result.summary()}
    if steps_dir is not None:
        extra["steps"] = [str(p) for p in recorder.written]
    if animation is not None:
        extra["animation"] = {"path": str(animation), "frames": len(recorder.frames), "fps": args.fps}
    _record(out, args, ctx, inputs.paths, options, result.status, extra)
    if result.status == "interrupted":
        saved = f" and {plural(len(recorder.frames), 'animation frame')} to {animation}" if animation else ""
        ctx.notice(f"interrupted: saved the image reached so far to {out}{saved}")
        return ctx.interrupted_exit_code()
    if result.status == "non-finite":
        ctx.notice(f"{result.message}; wrote {out}")
        return 1
    ctx.done(f"wrote {out} ({result.image.shape[1]}x{result.image.shape[0]}, loss {result.final_loss:.4g})")
    return 0


def _load_inputs(
    args: argparse.Namespace, ctx: CommandContext, styles: list[tuple[Path, float]], init_path: Path | None
) -> StyleInputs:
    from easel.style.inputs import load_style_inputs

    with ctx.timed("read"):
        inputs = load_style_inputs(args.content, styles, args.mask, init_path, max_size=args.max_size)
    for note in inputs.notes:
        ctx.notice(note)
    return inputs


def _write(out: Path, image: np.ndarray, bit_depth: int, ctx: CommandContext) -> None:
    from easel.io.images import write_image

    with ctx.timed("write"):
        write_image(out, image, bit_depth=bit_depth)


def _write_animation(path: Path, frames: list[np.ndarray], fps: float, ctx: CommandContext) -> None:
    from easel.io.video import VideoWriter

    with ctx.timed("animation"), VideoWriter(path, fps=fps) as writer:
        for frame in frames:
            writer.write(frame)


def _fmt(value: float) -> str:
    return f"{value:g}"


def _run_sweep(
    args: argparse.Namespace,
    ctx: CommandContext,
    options: StyleOptions,
    inputs: StyleInputs,
    out: Path,
    renders: dict[tuple[float, float], Path],
) -> int:
    from easel.style.grid import SweepItem, sweep, sweep_sheet

    written: list[tuple[SweepItem, Path]] = []

    def save_item(item: SweepItem) -> None:
        path = renders[(item.content_weight, item.style_weight)]
        _write(path, item.result.image, args.bit_depth, ctx)
        written.append((item, path))

    with ctx.timed("stylize"):
        items = sweep(
            inputs.content,
            inputs.styles,
            options,
            args.content_weight,
            args.style_weight,
            progress=ctx.progress,
            on_item=save_item,
            init_image=inputs.init_image,
        )
    _write(
        out,
        sweep_sheet(items),
        8 if out.suffix.lower() not in (".png", ".tif", ".tiff") else args.bit_depth,
        ctx,
    )
    interrupted = bool(items) and items[-1].result.status == "interrupted"
    extra: dict[str, Any] = {
        "renders": [
            {
                "content_weight": i.content_weight,
                "style_weight": i.style_weight,
                "path": str(p),
                "status": i.result.status,
                "final_loss": i.result.final_loss,
            }
            for i, p in written
        ]
    }
    status = "interrupted" if interrupted else "finished"
    _record(out, args, ctx, inputs.paths, options, status, extra)
    if interrupted:
        ctx.notice(
            f"interrupted: saved {plural(len(written), 'render')} (the last one unfinished) "
            f"and the contact sheet {out}"
        )
        return ctx.interrupted_exit_code()
    bad = [i for i in items if i.result.status == "non-finite"]
    for item in bad:
        ctx.notice(f"a={_fmt(item.content_weight)} b={_fmt(item.style_weight)}: {item.result.message}")
    ctx.done(f"wrote {plural(len(items), 'render')} and the contact sheet {out}")
    return 1 if bad else 0


def _run_grid(args: argparse.Namespace, ctx: CommandContext, options: StyleOptions) -> int:
    from easel.io.images import read_image
    from easel.io.outputs import OutputPlan
    from easel.style.grid import plan_grid, render_grid
    from easel.style.options import INIT_CHOICES

    if args.mask:
        raise InputError("--mask applies to a single content image, not to a folder grid")
    if len(args.content_weight) > 1 or len(args.style_weight) > 1:
        raise InputError("weight sweeps apply to a single content image, not to a folder grid")
    if args.animation is not None or args.save_every is not None:
        raise InputError("--animation/--save-every record a single run, not a grid")
    if args.init not in INIT_CHOICES:
        raise InputError("--init FILE applies to a single content image, not to a folder grid")
    out = Path(args.output)
    if out.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"):
        raise InputError(f"-o {out}: a grid writes many images; -o must be a folder")
    suffix = ".tif" if args.bit_depth == 16 else ".png"
    plan = OutputPlan(overwrite=args.overwrite)
    grid = plan_grid(
        args.content,
        args.style,
        out,
        suffix=suffix,
        overwrite=args.overwrite,
        plan=plan,
        record=True,
        option="-o",
    )
    plan.check()
    for path in dict.fromkeys(cell.content for cell in grid.todo):
        with ctx.timed("read"):
            shape = read_image(path, max_size=args.max_size).shape
        _check_memory(args, options, shape)
    with ctx.timed("stylize"):
        report = render_grid(
            grid, options, max_size=args.max_size, bit_depth=args.bit_depth, progress=ctx.progress
        )
    for note in dict.fromkeys(report.notes):
        ctx.notice(note)
    _record(
        out,
        args,
        ctx,
        [*grid.contents, *(p for p, _ in grid.styles)],
        options,
        report.status,
        {
            "done": [str(p) for p in report.done],
            "skipped": [str(p) for p in report.skipped],
            "failed": [[str(p), m] for p, m in report.failed],
            "contact_sheet": str(report.sheet),
        },
    )
    if report.skipped:
        ctx.notice(
            f"skipped {plural(len(report.skipped), 'finished pair')} (use --overwrite to render them again)"
        )
    for path, message in report.failed:
        ctx.notice(f"{path}: {message}")
    if report.status == "interrupted":
        ctx.notice(
            f"interrupted: wrote {plural(len(report.done), 'image')} and {report.sheet}; run again to resume"
        )
        return ctx.interrupted_exit_code()
    ctx.done(f"wrote {plural(len(report.done), 'image')} and {report.sheet} into {out}")
    return 1 if report.failed else 0


def demo(gallery: Gallery) -> None:
    """Stylize a bundled photo with a random-weight VGG-19 when real weights are absent (small, fast).

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """

    content = gallery.sample("astronaut", max_size=256)
    style = gallery.sample("immunohistochemistry", max_size=256)
    style2 = gallery.sample("hubble_deep_field", max_size=256)
    extra, note = gallery.vgg19("the texture is not the painterly one real weights give")
    out = gallery.path("stylize.png")
    gallery.run(
        "Neural style transfer",
        "photo in the style of a micrograph (coarse-to-fine L-BFGS, bf16)",
        [
            "stylize",
            str(content),
            "--style",
            str(style),
            "-o",
            str(out),
            "--size",
            "224",
            "--iterations",
            "15",
            "--coarse-iterations",
            "40",
            "--min-scale",
            "112",
            *extra,
        ],
        [content, style],
        [out],
        note=note,
    )
    mix = gallery.path("stylize_mix.png")
    gallery.run(
        "Neural style transfer",
        "two styles mixed by weight, photo colours preserved",
        [
            "stylize",
            str(content),
            "--style",
            str(style),
            "--style",
            f"{style2}:0.45",
            "-o",
            str(mix),
            "--size",
            "192",
            "--iterations",
            "10",
            "--coarse-iterations",
            "30",
            "--min-scale",
            "96",
            "--preserve-color",
            "luminance",
            *extra,
        ],
        [content, style, style2],
        [mix],
        note=note,
    )
