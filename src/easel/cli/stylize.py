"""``easel stylize``: neural style transfer (Gatys et al.) of a photo, a sweep, or a grid."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from easel.cli._common import (
    CommandContext,
    add_device,
    add_max_size,
    add_output,
    add_seed,
    add_weights,
    float_list,
    load_image,
    non_negative_float,
    positive_float,
    positive_int,
    prepare_output,
    save_record,
)
from easel.errors import InputError

if TYPE_CHECKING:
    from easel.gallery import Gallery
    from easel.io.images import LoadedImage
    from easel.style.transfer import Style, StyleOptions

log = logging.getLogger(__name__)

PRESERVE_COLOR_CHOICES = ("none", "luminance", "histogram")

NAME = "stylize"
HELP = "paint a photo in the style of one or more images (neural style transfer, VGG-19)"
ORDER = 30
DESCRIPTION = """\
Neural style transfer (Gatys et al.): the pixels of an image are optimized so
that its VGG-19 features match the content photo and its Gram matrices match
the style images. Total loss = a*content + b*sum_i w_i*style_i (+ TV).

Several styles mix by weight: --style a.jpg --style b.jpg:0.45 (w = 1 and 0.45).
--mask M (one per --style, in order) confines a style to a region (white = on).
Optimization runs coarse to fine (--min-scale, 2x, ..., --size) with bf16
autocast on CPU; --tile-size optimizes the finest scale in overlapping tiles
for outputs beyond memory. Progress shows the current losses; Ctrl-C saves
the image reached so far.

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


def _style_spec(text: str) -> tuple[Path, float]:
    """``path`` or ``path:weight``."""
    path, sep, weight = text.rpartition(":")
    if sep and path and not weight.startswith(("/", "\\")):
        try:
            value = float(weight)
        except ValueError:
            return Path(text), 1.0
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"style weight must be >= 0, got {weight}")
        return Path(path), value
    return Path(text), 1.0


def _layers(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content", type=Path, metavar="CONTENT", help="content photo, or a folder of photos")
    parser.add_argument(
        "-s",
        "--style",
        type=_style_spec,
        action="append",
        required=True,
        metavar="STYLE[:W]",
        help="style image (or folder) with optional weight, repeatable: --style a.jpg --style b.jpg:0.45",
    )
    parser.add_argument(
        "--mask",
        type=Path,
        action="append",
        default=[],
        metavar="MASK",
        help="region mask for the style of the same position (white = style applies); content's size",
    )
    size = parser.add_argument_group("size and iterations")
    size.add_argument(
        "--size", type=positive_int, default=512, metavar="PX", help="long side of the output (default 512)"
    )
    size.add_argument(
        "--iterations",
        type=positive_int,
        default=None,
        metavar="N",
        help="iterations at the finest scale (default: 80, 500 with --no-multiscale)",
    )
    size.add_argument(
        "--coarse-iterations",
        type=positive_int,
        default=200,
        metavar="N",
        help="iterations at each coarser scale (default 200)",
    )
    size.add_argument(
        "--no-multiscale",
        dest="multiscale",
        action="store_false",
        help="optimize at full resolution from the first iteration",
    )
    size.add_argument(
        "--min-scale",
        type=positive_int,
        default=256,
        metavar="PX",
        help="long side of the coarsest scale (default 256)",
    )
    size.add_argument(
        "--tile-size",
        type=positive_int,
        default=None,
        metavar="PX",
        help="optimize the finest scale in overlapping tiles of PX (for outputs beyond memory)",
    )
    size.add_argument(
        "--tile-overlap", type=positive_int, default=64, metavar="PX", help="tile overlap (default 64)"
    )
    size.add_argument(
        "--style-scale",
        type=positive_float,
        default=1.0,
        metavar="F",
        help="resize style images to F x the output's long side (default 1)",
    )
    add_max_size(parser)

    loss = parser.add_argument_group("losses")
    loss.add_argument(
        "--content-weight",
        type=float_list,
        default=[1.0],
        metavar="A[,A...]",
        help="content weight alpha; a list sweeps (default 1)",
    )
    loss.add_argument(
        "--style-weight",
        type=float_list,
        default=[100.0],
        metavar="B[,B...]",
        help="style weight beta; a list sweeps (default 100)",
    )
    loss.add_argument(
        "--tv-weight",
        type=non_negative_float,
        default=0.0,
        metavar="G",
        help="total-variation (smoothness) weight (default 0)",
    )
    loss.add_argument(
        "--content-layers",
        type=_layers,
        default=("relu4_2",),
        metavar="L[,L]",
        help="content layers (default relu4_2)",
    )
    loss.add_argument(
        "--style-layers",
        type=_layers,
        default=None,
        metavar="L[,L]",
        help="style layers (default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)",
    )
    loss.add_argument(
        "--style-layer-weights",
        type=float_list,
        default=None,
        metavar="W[,W]",
        help="per-style-layer weights (default 1,0.75,0.2,0.2,0.2)",
    )
    loss.add_argument(
        "--preserve-color",
        choices=PRESERVE_COLOR_CHOICES,  # kept in sync with easel.style.color (importing it loads torch)
        default="none",
        help="keep the photo's colours: luminance-only transfer, or match the style's histogram",
    )

    opt = parser.add_argument_group("optimization")
    opt.add_argument(
        "--init",
        default="content",
        metavar="content|noise|style|FILE",
        help="starting image (default content)",
    )
    opt.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs", help="(default lbfgs)")
    opt.add_argument(
        "--learning-rate",
        type=positive_float,
        default=0.02,
        metavar="LR",
        help="Adam step in [0,1] pixel units (default 0.02)",
    )
    opt.add_argument(
        "--lbfgs-history",
        type=positive_int,
        default=None,
        metavar="N",
        help="L-BFGS history length (default: capped by memory, at most 100)",
    )
    opt.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="autocast precision (default auto: bf16 on CPU; Grams stay fp32)",
    )
    opt.add_argument("--channels-last", action="store_true", help="channels-last convolutions")
    add_seed(parser)
    add_device(parser)

    model = parser.add_argument_group("encoder")
    model.add_argument(
        "--model",
        choices=("vgg19-caffe", "vgg19-torchvision"),
        default="vgg19-caffe",
        help="encoder weights from the registry (default vgg19-caffe)",
    )
    add_weights(parser, "vgg19-caffe")
    model.add_argument(
        "--preprocessing",
        choices=("auto", "caffe", "torchvision"),
        default="auto",
        help="preprocessing of --weights (default: from --model or the file name)",
    )
    model.add_argument("--pooling", choices=("max", "avg"), default="max", help="(default max)")

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
        help="write the optimization as an animation",
    )
    rec.add_argument("--fps", type=positive_float, default=12.0, help="animation frame rate (default 12)")
    rec.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="16 for 16-bit PNG/TIFF")
    add_output(parser, "output image (PNG/JPEG/WebP/TIFF); a folder for grids; the contact sheet for sweeps")


def _options(args: argparse.Namespace) -> StyleOptions:
    from easel.style.transfer import DEFAULT_STYLE_LAYERS, INIT_CHOICES, StyleOptions

    iterations = args.iterations if args.iterations is not None else (80 if args.multiscale else 500)
    return StyleOptions(
        size=args.size,
        iterations=iterations,
        coarse_iterations=args.coarse_iterations,
        content_weight=args.content_weight[0],
        style_weight=args.style_weight[0],
        tv_weight=args.tv_weight,
        content_layers=tuple(args.content_layers),
        style_layers=tuple(args.style_layers) if args.style_layers else DEFAULT_STYLE_LAYERS,
        style_layer_weights=tuple(args.style_layer_weights) if args.style_layer_weights else None,
        style_scale=args.style_scale,
        init=args.init if args.init in INIT_CHOICES else "content",
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        lbfgs_history=args.lbfgs_history,
        multiscale=args.multiscale,
        min_scale=args.min_scale,
        preserve_color=args.preserve_color,
        pooling=args.pooling,
        model=args.model,
        weights=args.weights,
        preprocessing=args.preprocessing,
        precision=args.precision,
        channels_last=args.channels_last,
        device=args.device,
        seed=args.seed,
        tile_size=args.tile_size,
        tile_overlap=args.tile_overlap,
    ).validate()


def _check_loaded(loaded: LoadedImage, role: str, ctx: CommandContext) -> np.ndarray:
    """Tell the user about grayscale/alpha inputs; refuse tiny ones."""
    from easel.style.transfer import MIN_SIDE

    h, w = loaded.original_size
    if min(loaded.rgb.shape[:2]) < MIN_SIDE:
        raise InputError(
            f"{loaded.path}: {role} is only {w}x{h} px; at least {MIN_SIDE} px on a side is needed"
        )
    rgb = loaded.rgb
    if loaded.alpha is not None:
        ctx.notice(f"{loaded.path}: {role} has transparency; composited over white")
        a = loaded.alpha[:, :, None]
        rgb = (rgb * a + (1.0 - a)).astype(np.float32)
    if loaded.mode in ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "F") or (
        np.ptp(rgb - rgb.mean(axis=2, keepdims=True)) < 1e-6
    ):
        ctx.notice(f"{loaded.path}: {role} is grayscale; its Grams carry no colour")
    return rgb


def _check_memory(options: StyleOptions, shape: tuple[int, int], ctx: CommandContext) -> None:
    from easel.style.transfer import available_memory, estimate_memory, fit_size

    out_shape = fit_size(shape, options.size)
    if options.tile_size is not None and max(out_shape) > options.tile_size:
        tile = options.tile_size
        need = estimate_memory((min(tile, out_shape[0]), min(tile, out_shape[1])), options)
    else:
        need = estimate_memory(out_shape, options)
    avail = available_memory()
    if avail is not None and need > avail:
        gib = 2**30
        suggestion = "" if options.tile_size else " or use tiled optimization, e.g. --tile-size 1024"
        raise InputError(
            f"--size {options.size} ({out_shape[1]}x{out_shape[0]}) needs about {need / gib:.1f} GiB but only "
            f"{avail / gib:.1f} GiB is available; choose a smaller --size{suggestion}"
        )
    log.debug("estimated peak memory %.2f GiB", need / 2**30)


def _expand_styles(specs: list[tuple[Path, float]]) -> tuple[list[tuple[Path, float]], bool]:
    """Folders expand to their images (with the folder's weight)."""
    from easel.style.grid import list_images

    out: list[tuple[Path, float]] = []
    any_dir = False
    for path, weight in specs:
        if path.is_dir():
            any_dir = True
            files = list_images(path)
            if not files:
                raise InputError(f"{path}: no images in this style folder")
            out.extend((f, weight) for f in files)
        else:
            out.append((path, weight))
    return out, any_dir


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    from easel.io.images import WRITE_SUFFIXES

    styles, style_dir = _expand_styles(args.style)
    if args.content.is_dir() or style_dir:
        return _run_grid(args, ctx, styles)
    if len(args.mask) > len(styles):
        raise InputError(
            f"{len(args.mask)} --mask options for {len(styles)} --style options (one mask per style)"
        )
    options = _options(args)
    sweeping = len(args.content_weight) > 1 or len(args.style_weight) > 1
    inputs = [args.content, *(p for p, _ in styles), *args.mask]
    init_path = None if args.init in ("content", "noise", "style") else Path(args.init)
    if init_path is not None:
        inputs.append(init_path)
    out = prepare_output(args.output, inputs, args.overwrite, suffixes=WRITE_SUFFIXES)
    if args.bit_depth == 16 and out.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise InputError(f"{out}: --bit-depth 16 needs a .png or .tif output")
    animation = None
    if args.animation is not None:
        if args.animation.suffix.lower() not in (".gif", ".mp4", ".webm"):
            raise InputError(f"{args.animation}: --animation must end in .gif, .mp4 or .webm")
        if sweeping:
            raise InputError("--animation records one run; it cannot be combined with a weight sweep")
        animation = prepare_output(args.animation, inputs, args.overwrite)
    steps_dir = None
    if args.save_every is not None:
        steps_dir = out.with_name(f"{out.stem}_steps")

    content_loaded = load_image(args.content, ctx, args.max_size)
    content = _check_loaded(content_loaded, "content", ctx)
    style_objs = _load_styles(styles, args.mask, content_loaded, ctx, args.max_size)
    init_image = None
    if init_path is not None:
        init_image = _check_loaded(load_image(init_path, ctx, args.max_size), "init image", ctx)
    _check_memory(options, content.shape[:2], ctx)

    if sweeping:
        return _run_sweep(args, ctx, options, content, style_objs, out, inputs)

    from easel.style.transfer import StyleInterrupted, Stylizer, fit_size

    final_shape = fit_size(content.shape[:2], options.size)
    frames: list[np.ndarray] = []
    total_steps = options.iterations + (options.coarse_iterations or options.iterations) * (
        len(options.scales(content.shape[:2])) - 1
    )
    every = args.save_every or 0
    if animation is not None and not every:
        every = max(1, total_steps // 60)

    def snapshot(step: int, image: np.ndarray) -> None:
        from easel.image import resize, to_uint8

        if steps_dir is not None and args.save_every and step % args.save_every == 0:
            from easel.io.images import write_image

            steps_dir.mkdir(exist_ok=True)
            write_image(steps_dir / f"step_{step:05d}.png", image)
        if animation is not None:
            frames.append(to_uint8(resize(image, final_shape)))

    with ctx.timed("load_model"):
        stylizer = Stylizer(options)
    interrupted = False
    with ctx.timed("stylize"):
        try:
            result = stylizer.run(
                content,
                style_objs,
                init_image=init_image,
                progress=ctx.progress,
                callback=snapshot if every else None,
                snapshot_every=every,
            )
        except StyleInterrupted as exc:
            result = exc.result
            interrupted = True
    if animation is not None:
        from easel.image import to_uint8

        frames.append(to_uint8(result.image))
    _write(out, result.image, args.bit_depth, ctx)
    if animation is not None and frames:
        _write_animation(animation, frames, args.fps, ctx)
    save_record(out, args, ctx, inputs=inputs, extra={"result": result.summary()})
    if interrupted:
        ctx.notice(f"interrupted: saved the image reached so far to {out}")
        return 130
    if result.status != "done":
        ctx.notice(f"{result.message}; wrote {out}")
        return 1
    ctx.done(f"wrote {out} ({result.image.shape[1]}x{result.image.shape[0]}, loss {result.final_loss:.4g})")
    return 0


def _load_styles(
    styles: list[tuple[Path, float]],
    masks: list[Path],
    content: LoadedImage,
    ctx: CommandContext,
    max_size: int | None,
) -> list[Style]:
    from easel.style.transfer import Style, check_mask_shape

    out = []
    for index, (path, weight) in enumerate(styles):
        loaded = load_image(path, ctx, max_size)
        rgb = _check_loaded(loaded, "style", ctx)
        mask = None
        if index < len(masks):
            mloaded = load_image(masks[index], ctx, None)
            check_mask_shape(mloaded.original_size, content.original_size, name=str(masks[index]))
            mask = mloaded.rgb.mean(axis=2).astype(np.float32)
        out.append(Style(rgb, weight=weight, mask=mask, key=str(path.resolve())))
    return out


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
    content: np.ndarray,
    styles: list[Style],
    out: Path,
    inputs: list[Path],
) -> int:
    from easel.style.grid import SweepItem, sweep, sweep_sheet

    paths: list[str] = []

    def save_item(item: SweepItem) -> None:
        path = out.with_name(
            f"{out.stem}_c{_fmt(item.content_weight)}_s{_fmt(item.style_weight)}{out.suffix}"
        )
        _write(path, item.result.image, args.bit_depth, ctx)
        paths.append(str(path))

    with ctx.timed("stylize"):
        items = sweep(
            content,
            styles,
            options,
            args.content_weight,
            args.style_weight,
            progress=ctx.progress,
            on_item=save_item,
        )
    _write(
        out,
        sweep_sheet(items),
        8 if out.suffix.lower() not in (".png", ".tif", ".tiff") else args.bit_depth,
        ctx,
    )
    extra: dict[str, Any] = {
        "renders": [
            {
                "content_weight": i.content_weight,
                "style_weight": i.style_weight,
                "path": p,
                "final_loss": i.result.final_loss,
            }
            for i, p in zip(items, paths, strict=True)
        ]
    }
    save_record(out, args, ctx, inputs=inputs, extra=extra)
    bad = [i for i in items if i.result.status != "done"]
    for item in bad:
        ctx.notice(f"a={_fmt(item.content_weight)} b={_fmt(item.style_weight)}: {item.result.message}")
    ctx.done(f"wrote {len(items)} renders and the contact sheet {out}")
    return 1 if bad else 0


def _run_grid(args: argparse.Namespace, ctx: CommandContext, styles: list[tuple[Path, float]]) -> int:
    from easel.style.grid import list_images, stylize_grid

    if args.mask:
        raise InputError("--mask applies to a single content image, not to a folder grid")
    if len(args.content_weight) > 1 or len(args.style_weight) > 1:
        raise InputError("weight sweeps apply to a single content image, not to a folder grid")
    if args.animation is not None or args.save_every is not None:
        raise InputError("--animation/--save-every record a single run, not a grid")
    contents = list_images(args.content) if args.content.is_dir() else [args.content]
    if not contents:
        raise InputError(f"{args.content}: no images in this folder")
    out = Path(args.output)
    if out.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"):
        raise InputError(f"{out}: a grid writes many images; -o must be a folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if not out.resolve().parent.is_dir():
        raise InputError(f"{out}: parent folder {out.resolve().parent} does not exist")
    options = _options(args)
    for path in contents:
        _check_memory(options, load_image(path, ctx, args.max_size).rgb.shape[:2], ctx)
    suffix = ".tif" if args.bit_depth == 16 else ".png"
    with ctx.timed("stylize"):
        report = stylize_grid(
            contents,
            styles,
            out,
            options,
            suffix=suffix,
            overwrite=args.overwrite,
            max_size=args.max_size,
            bit_depth=args.bit_depth,
            progress=ctx.progress,
        )
    save_record(
        out,
        args,
        ctx,
        inputs=[*contents, *(p for p, _ in styles)],
        extra={
            "done": [str(p) for p in report.done],
            "skipped": [str(p) for p in report.skipped],
            "failed": [[str(p), m] for p, m in report.failed],
            "contact_sheet": str(report.sheet),
        },
    )
    if report.skipped:
        ctx.notice(f"skipped {len(report.skipped)} finished pairs (use --overwrite to render them again)")
    for path, message in report.failed:
        ctx.notice(f"{path}: {message}")
    ctx.done(f"wrote {len(report.done)} images and {report.sheet} into {out}")
    return 1 if report.failed else 0


def demo(gallery: Gallery) -> None:
    """Stylize a bundled photo with a random-weight VGG-19 when real weights are absent (small, fast)."""
    from easel import weights
    from easel.style.vgg import save_random_vgg19

    content = gallery.sample("astronaut", max_size=256)
    style = gallery.sample("immunohistochemistry", max_size=256)
    style2 = gallery.sample("hubble_deep_field", max_size=256)
    extra: list[str] = []
    note = "Caffe VGG-19 weights."
    if not weights.is_present("vgg19-caffe"):
        path = gallery.path("vgg19-random-init.pth")
        if not path.exists():
            save_random_vgg19(path, seed=0)
        extra = ["--weights", str(path)]
        note = (
            "ENCODER IS A RANDOM-INITIALIZED VGG-19 (real weights not cached: `easel weights download "
            "vgg19-caffe`), so the texture is not the painterly one real weights give."
        )
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
