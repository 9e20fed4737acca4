"""``easel dream``: DeepDream a photo (octaves, tiles, guides) or dream a zoom video."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from easel.cli._common import (
    CommandContext,
    add_max_size,
    add_output,
    load_image,
    new_plan,
    positive_int,
    save_record,
)
from easel.errors import InputError
from easel.text import plural

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery
    from easel.dream.deepdream import Dreamer
    from easel.dream.options import DreamOptions, ZoomOptions

NAME = "dream"
HELP = "DeepDream: let a CNN hallucinate the patterns it knows into a photo, or a zoom video"
ORDER = 40
DESCRIPTION = """\
DeepDream (Mordvintsev et al.): gradient ascent on the image to maximize the
mean squared activation of chosen encoder layers (--layers NAME[:W], weighted)
or of chosen channels (--channels), as in google/deepdream: a pyramid of
--octaves scales (the detail added at a coarse scale carried up to the next),
a random shift (--jitter) each step, the gradient divided by its mean absolute
value, pixels kept in range. Gradients are computed in tiles whose grid moves
randomly every step (--tile-size, default 1024), so any size fits in memory
without seams. --guide IMG dreams towards the features of another image.

--zoom-frames N writes a zoom video (.mp4, .webm, .gif, or a folder of PNG
frames): each dreamed frame, zoomed by --zoom (and rotated by --rotate
degrees), is dreamed again. Frames are written to OUT_frames/ as they finish;
run the same command again after Ctrl-C to continue where it stopped. The
video is encoded at the end and OUT_frames/ removed.

The encoder is VGG-19 (`easel weights download vgg19-caffe`, or --weights
FILE); layers are named as in stylize (relu4_2, conv5_1, ...). --model
googlenet-torchvision dreams with GoogLeNet / Inception-v1, the original
DeepDream's network (layers conv1 ... inception4c ... inception5b; default
inception4c). Ctrl-C saves the image reached so far.
"""
EPILOG = """\
examples:
  easel dream photo.jpg -o dream.png
  easel dream photo.jpg -o dream.png --layers relu4_2,relu5_1:0.5 --octaves 5 --iterations 20
  easel dream photo.jpg -o dream.png --layers relu4_4 --channels 12,47
  easel dream photo.jpg -o dream.png --guide flowers.jpg
  easel dream photo.jpg -o dream.png --model googlenet-torchvision --layers inception4c,inception4d:0.5
  easel dream huge.tif -o huge_dream.tif --max-size 8192 --tile-size 512
  easel dream photo.jpg -o fly.mp4 --zoom-frames 60 --zoom 1.05 --rotate 0.5 --fps 15
"""

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel dream``'s arguments and options to ``parser`` (from :class:`DreamOptions`, :class:`ZoomOptions`).

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel dream")
        >>> add_arguments(parser)
        >>> args = parser.parse_args(["photo.jpg", "-o", "d.png", "--layers", "relu4_2:1,relu5_1:0.5"])
        >>> args.layers, args.octaves, args.zoom_frames
        (('relu4_2:1', 'relu5_1:0.5'), 4, None)
    """
    from easel.cli._options import add_options, argument_group
    from easel.dream.options import DreamOptions, ZoomOptions
    from easel.options import declared_options

    parser.add_argument("image", type=Path, metavar="IMAGE", help="the photo to dream into")
    add_options(parser, DreamOptions)
    argument_group(parser, "objective").add_argument(
        "--guide", type=Path, metavar="IMAGE", help="dream towards the features of this image"
    )
    frames = next(opt for opt in declared_options(ZoomOptions) if opt.name == "zoom_frames")
    argument_group(parser, "zoom video").add_argument(
        "--zoom-frames",
        dest="zoom_frames",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"{frames.spec.help}: write a zoom video of N frames instead of one image",
    )
    add_options(parser, ZoomOptions, exclude=("zoom_frames",))
    add_max_size(parser)
    add_output(
        parser, "output image; with --zoom-frames: clip.mp4, clip.webm, clip.gif or a folder (frames/)"
    )


def _record(
    out: Path,
    args: argparse.Namespace,
    ctx: CommandContext,
    options: DreamOptions,
    dreamer: Dreamer,
    status: str,
    extra: dict[str, Any],
    zoom: ZoomOptions | None = None,
) -> None:
    from easel.nets.precision import precision_name
    from easel.options import options_dict

    resolved: dict[str, Any] = options_dict(options)
    resolved["layers"] = [
        f"{name}:{weight:g}" for name, weight in dreamer.weights.items()
    ]  # None: the default
    resolved["device"] = str(dreamer.device)
    resolved["precision"] = precision_name(dreamer.dtype)
    if dreamer.precision_choice is not None:
        resolved["precision_measurement"] = dreamer.precision_choice.as_record()
    resolved.update(image=args.image, guide=args.guide, max_size=args.max_size, output=args.output)
    if zoom is not None:
        resolved.update(options_dict(zoom))
    inputs = [p for p in (args.image, args.guide) if p is not None]
    save_record(out, args, ctx, inputs=inputs, extra=extra, options=resolved, status=status)


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel dream`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["dream", "photo.jpg", "-o", "dream.png"])  # runs this function  # doctest: +SKIP
        0
    """
    from easel.cli._options import options_from_args
    from easel.dream.options import MIN_SIDE, DreamOptions, ZoomOptions
    from easel.dream.zoom import PIN_NAME, frames_folder
    from easel.io.images import WRITE_SUFFIXES
    from easel.io.video import VideoWriter, video_format

    options: DreamOptions = options_from_args(DreamOptions, args).validate()
    video = args.zoom_frames is not None
    zoom: ZoomOptions | None = None
    plan = new_plan(args, [args.image, args.guide, Path(options.weights) if options.weights else None])
    if video:
        zoom = options_from_args(ZoomOptions, args).validate()
        fmt = video_format(args.output)
        folder = frames_folder(args.output)
        resuming = (folder / PIN_NAME).is_file()
        if fmt == "frames":
            out = plan.folder(args.output, option="-o", resume=resuming)
        else:
            out = plan.file(args.output, option="-o", suffixes=VIDEO_SUFFIXES)
            plan.folder(folder, option="the zoom frames", resume=resuming)
        plan.record(out, refresh=resuming)
    else:
        asked = options_from_args(ZoomOptions, args, zoom_frames=ZoomOptions().zoom_frames)
        if asked != ZoomOptions():
            raise InputError("--zoom, --rotate and --fps make a zoom video: add --zoom-frames N")
        out = plan.file(args.output, option="-o", suffixes=WRITE_SUFFIXES, record=True)
    plan.check()
    if video and zoom is not None and video_format(out) != "frames":
        VideoWriter(out, fps=zoom.fps)  # checks the encoder and the target without creating anything

    loaded = load_image(args.image, ctx, args.max_size, min_side=MIN_SIDE)
    guide = load_image(args.guide, ctx, args.max_size, min_side=MIN_SIDE).rgb if args.guide else None
    from easel.dream.deepdream import Dreamer

    with ctx.timed("load_model"):
        dreamer = Dreamer(options, guide=guide)
    _, note = options.octave_shapes(loaded.shape)
    if note:
        ctx.notice(note)
    if video and zoom is not None:
        return _run_zoom(args, ctx, options, zoom, dreamer, loaded.rgb, guide, out)

    from easel.io.images import write_image

    with ctx.timed("dream"):
        result = dreamer.run(loaded.rgb, progress=ctx.progress)
    with ctx.timed("write"):
        write_image(out, result.image)
    _record(out, args, ctx, options, dreamer, result.status, {"result": result.summary()})
    if result.status == "interrupted":
        ctx.notice(f"interrupted: saved the image reached so far to {out}")
        return ctx.interrupted_exit_code()
    if result.status == "non-finite":
        ctx.notice(f"{result.message}; wrote {out}")
        return 1
    h, w = result.image.shape[:2]
    ctx.done(
        f"wrote {out} ({w}x{h}, {plural(len(result.history), 'step')}, energy {result.final_energy:.4g})"
    )
    return 0


def _run_zoom(
    args: argparse.Namespace,
    ctx: CommandContext,
    options: DreamOptions,
    zoom: ZoomOptions,
    dreamer: Dreamer,
    image: Any,
    guide: Any,
    out: Path,
) -> int:
    from easel.dream.zoom import dream_zoom

    with ctx.timed("dream_and_write"):
        result = dream_zoom(
            image,
            out,
            options,
            zoom,
            guide=guide,
            overwrite=bool(args.overwrite),
            progress=ctx.progress,
            dreamer=dreamer,
        )
    if result.resumed_from:
        ctx.notice(
            f"kept {plural(result.resumed_from, 'finished frame')} from an earlier run in {result.frames_dir}"
        )
    _record(out, args, ctx, options, dreamer, result.status, {"video": result.summary()}, zoom=zoom)
    if result.status == "interrupted":
        ctx.notice(
            f"interrupted: kept {plural(result.frames_written, 'frame')} of {result.total_frames} in "
            f"{result.frames_dir}; run the same command again to continue"
        )
        return ctx.interrupted_exit_code()
    if result.status != "finished":
        ctx.notice(f"{result.message}; kept {plural(result.frames_written, 'frame')} in {result.frames_dir}")
        return 1
    h, w = result.frame_shape
    ctx.done(f"wrote {out} ({plural(result.total_frames, 'frame')}, {w}x{h}, {result.fps:g} fps)")
    return 0


def demo(gallery: Gallery) -> None:
    """Dream a bundled photo, and a short zoom clip, with a random-weight VGG-19 when real weights are absent.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """

    photo = gallery.sample("astronaut", max_size=256)
    extra, note = gallery.vgg19("the patterns are not the eyes and pagodas real weights dream")
    out = gallery.path("dream.png")
    gallery.run(
        "DeepDream",
        "relu4_2 excited over 4 octaves (jitter, normalized gradient ascent)",
        ["dream", str(photo), "-o", str(out), "--layers", "relu4_2", "--iterations", "10", *extra],
        [photo],
        [out],
        note=note,
    )
    small = gallery.sample("chelsea", max_size=160)
    clip = gallery.path("dream_zoom.mp4")
    gallery.run(
        "DeepDream",
        "zoom video: each dreamed frame, zoomed 5 % and turned 1 degree, dreamed again",
        [
            "dream",
            str(small),
            "-o",
            str(clip),
            "--zoom-frames",
            "12",
            "--zoom",
            "1.05",
            "--rotate",
            "1",
            "--octaves",
            "2",
            "--iterations",
            "5",
            "--fps",
            "8",
            *extra,
        ],
        [small],
        [clip],
        note=note,
    )
