"""``easel stylize-video``: flicker-free style transfer of a video or a photo burst, resumable."""

from __future__ import annotations

import argparse
import itertools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from easel.cli._common import (
    CommandContext,
    add_max_size,
    add_output,
    new_plan,
    positive_float,
    run_device_fields,
    save_record,
)
from easel.errors import InputError
from easel.style.options import MIN_SIDE
from easel.text import plural

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery
    from easel.style.frame_store import FrameStore
    from easel.style.transfer import Style
    from easel.style.video_options import VideoStyleOptions

log = logging.getLogger(__name__)

NAME = "stylize-video"
HELP = "style transfer for videos and photo bursts, without flicker (optical flow, resumable)"
ORDER = 35
DESCRIPTION = """\
Neural style transfer of every frame of a video (or a folder of frames),
consistent from frame to frame after Ruder et al. (2016): optical flow between
consecutive input frames (OpenCV DIS; --flow-method farneback) carries each
stylized frame to the next one, which starts from it and keeps close to it
wherever the flow is consistent (a temporal loss; occlusions and motion
boundaries are left free). --long-term K looks back K frames. The first frame
runs easel stylize's full coarse-to-fine schedule (--iterations-first at the
finest scale); each later frame needs only --iterations from its warped start.

Every option of easel stylize that applies per frame works with the same name
(weights, layers, --size, --preserve-color, --weights, --seed, --device,
--mask). The style Grams are computed once for all frames.

Resumable: each finished frame is saved at once in a work folder beside OUT
(OUT.frames/, or OUT itself when OUT is a folder of PNG frames) with a state
file pinning the arguments. A killed run, started again with the same
arguments, continues after the last finished frame and gives the same frames;
the final encode happens once at the end (--reencode redoes only that, e.g.
at another --fps). Delete the work folder when you no longer need it.

A frame range (--frames START:END, 0-based, END excluded) stylizes only those
source frames, e.g. one chunk of a long clip; --previous gives the stylized
frames before START (an earlier run's OUT: a folder of frames, or a video), so
the range continues that run exactly as one run over the whole clip would
(bit-identical from PNG frames). Output frames keep their source numbers.

OUT is .mp4/.webm (the source's audio copied in; not for a partial frame
range), .gif, a folder of PNG frames, or an image (.png/.jpg): a contact
sheet of the frames. Output runs at
the source's frame rate (--fps for a folder, default 12). Bursts: --no-flow
stylizes every frame from scratch with the same style targets; a frame the
previous one does not cover (a cut; --min-overlap) starts from scratch too.
"""
EPILOG = """\
examples:
  easel stylize-video clip.mp4 --style starry.jpg -o starry.mp4 --size 512
  easel stylize-video clip.mp4 --style starry.jpg -o starry.mp4 --long-term 3 --iterations 40
  easel stylize-video timelapse/ --style scream.jpg:0.5 --style starry.jpg -o out.mp4 --fps 30
  easel stylize-video burst/ --style starry.jpg --no-flow -o burst.gif
  easel stylize-video burst/ --style starry.jpg --no-flow -o sheet.png
  easel stylize-video clip.mp4 --style starry.jpg -o starry.mp4 --reencode --fps 24
  easel stylize-video clip.mp4 --style starry.jpg -o part1/ --frames 0:450
  easel stylize-video clip.mp4 --style starry.jpg -o part2/ --frames 450:900 --previous part1/
"""

STATE_IN_FOLDER = ".easel-stylize-video.json"
"""The state file's name when OUT is itself the folder of frames."""
SHEET_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
DEFAULT_FOLDER_FPS = 12.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel stylize-video``'s arguments and options (from :class:`VideoStyleOptions`).

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel stylize-video")
        >>> add_arguments(parser)
        >>> args = parser.parse_args(["clip.mp4", "--style", "starry.jpg", "-o", "art.mp4", "--no-flow"])
        >>> args.flow, args.iterations, args.long_term
        (False, None, 1)
    """
    from easel.cli._options import add_options, argument_group
    from easel.cli.stylize import add_style_arguments
    from easel.style.video_options import VideoStyleOptions

    parser.add_argument(
        "input", type=Path, metavar="INPUT", help="a video file, or a folder of frames (a photo burst)"
    )
    add_style_arguments(parser, styles="style image", masks="for every frame")
    add_options(parser, VideoStyleOptions, exclude=("tile_size", "tile_overlap"))
    add_max_size(parser)
    video = argument_group(parser, "video")
    video.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        help=f"output frame rate (default: the source's; {DEFAULT_FOLDER_FPS:g} for a folder)",
    )
    video.add_argument(
        "--previous",
        type=Path,
        default=None,
        metavar="FRAMES",
        help="the stylized frames before --frames START, to continue from: an earlier run's OUT "
        "(a folder of frame_NNNNN.png numbered by source frame, or a video ending at START)",
    )
    video.add_argument("--no-audio", action="store_true", help="do not copy the source's audio")
    video.add_argument(
        "--reencode",
        action="store_true",
        help="only encode OUT again from the finished frames in the work folder",
    )
    add_output(
        parser,
        "clip.mp4, clip.webm, clip.gif, a folder for PNG frames (frames/), or sheet.png for a contact sheet",
    )


def _kind(out: Path) -> str:
    from easel.io.video import video_format

    suffix = out.suffix.lower()
    if suffix in SHEET_SUFFIXES:
        return "sheet"
    try:
        return video_format(out)
    except InputError:
        raise InputError(
            f"-o {out}: unsupported format {suffix!r}; use .mp4, .webm, .gif, a folder (no suffix) "
            f"for PNG frames, or {', '.join(SHEET_SUFFIXES)} for a contact sheet"
        ) from None


def _state(
    args: argparse.Namespace, options: VideoStyleOptions, styles: list[tuple[Path, float]]
) -> dict[str, Any]:
    """What the stored frames depend on: the inputs and every option that changes a frame."""
    from easel.devices import resolve_device
    from easel.options import options_dict
    from easel.style.frame_store import file_fingerprint

    resolved = options_dict(options.resolved())
    resolved["device"] = str(resolve_device(options.device))
    return {
        "input": file_fingerprint(args.input),
        "styles": [{**file_fingerprint(p), "weight": w} for p, w in styles],
        "masks": [file_fingerprint(m) for m in args.mask],
        "previous": None if args.previous is None else file_fingerprint(args.previous),
        "max_size": args.max_size,
        "options": resolved,
    }


def _skipped_notice(folder: Path, ctx: CommandContext) -> None:
    from easel.io.video import SEQUENCE_SUFFIXES

    others = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in SEQUENCE_SUFFIXES
    )
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        ctx.notice(
            f"{folder}: skipped {plural(len(others), 'file')} that {'is' if len(others) == 1 else 'are'} not an image ({shown})"
        )


def _load_styles(
    args: argparse.Namespace,
    ctx: CommandContext,
    styles: list[tuple[Path, float]],
    frame_shape: tuple[int, int],
) -> list[Style]:
    from easel.io.images import read_image
    from easel.style.inputs import load_style_image
    from easel.style.transfer import Style, check_mask_shape

    notes: list[str] = []
    out = []
    with ctx.timed("read"):
        for index, (path, weight) in enumerate(styles):
            rgb = load_style_image(path, "style", args.max_size, notes)
            mask = None
            if index < len(args.mask):
                loaded = read_image(args.mask[index], max_size=None)
                check_mask_shape(loaded.original_shape, frame_shape, name=str(args.mask[index]))
                mask = loaded.rgb.mean(axis=2)
            out.append(Style(rgb, weight=weight, mask=mask, key=str(path.resolve())))
    for note in notes:
        ctx.notice(note)
    return out


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel stylize-video`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["stylize-video", "clip.mp4", "--style", "starry.jpg", "-o", "art.mp4"])  # doctest: +SKIP
        0
    """
    from easel.cli._options import options_from_args
    from easel.io.video import read_frames
    from easel.io.video.png_frames import check_frame_folder
    from easel.style.frame_store import FrameStore
    from easel.style.inputs import expand_style_paths
    from easel.style.video_options import VideoStyleOptions

    options: VideoStyleOptions = options_from_args(VideoStyleOptions, args).validate()
    if args.previous is not None and options.range_start == 0:
        raise InputError(
            "--previous: the stylized frames before the range need --frames START:END with START > 0"
        )
    styles = expand_style_paths(args.style)
    if len(args.mask) > len(styles):
        raise InputError(
            f"{len(args.mask)} --mask options for {len(styles)} --style images (one mask per style, in order)"
        )
    given = [args.input, *(p for p, _ in styles), *args.mask, *([args.previous] if args.previous else [])]
    for path in given:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
    kind = _kind(args.output)
    state = _state(args, options, styles)

    # every file this run writes, checked before a frame is decoded or the encoder loads
    plan = new_plan(args, given)
    if kind == "frames":
        out = plan.folder(args.output, option="-o", resume=True)
        check_frame_folder(out)
        store = FrameStore(out, STATE_IN_FOLDER, first=options.range_start)
        resuming = not args.overwrite and store.matches(state)
        plan.record(out, refresh=resuming)
    else:
        work = Path(f"{args.output}.frames")
        store = FrameStore(work, first=options.range_start)
        resuming = not args.overwrite and store.matches(state)
        suffixes = SHEET_SUFFIXES if kind == "sheet" else (f".{kind}",)
        out = plan.file(args.output, option="-o", suffixes=suffixes, refresh=bool(args.reencode))
        plan.record(out, refresh=resuming)
        plan.folder(work, option="the work folder", resume=True)
    if args.reencode:
        if args.overwrite:
            raise InputError(
                "--reencode encodes the finished frames again; it cannot start over (--overwrite)"
            )
        if kind == "frames":
            raise InputError("--reencode: OUT is the folder of frames itself; there is nothing to encode")
        if not store.matches(state):
            raise InputError(
                f"--reencode: {store.folder} holds no finished frames of these arguments; run without --reencode"
            )
    if not args.overwrite:  # before the plan's check, which probes the folder with a file
        store.check(state)
    plan.check()

    frames = read_frames(args.input, max_size=options.size)
    if frames.info.is_sequence:
        _skipped_notice(args.input, ctx)
    fps = args.fps or frames.info.fps or DEFAULT_FOLDER_FPS
    total = _range_length(args, options, frames.info.num_frames, frames.info.frames_estimated)
    if args.reencode:
        done = store.finished()
        if total is not None and not frames.info.frames_estimated and done < total:
            raise InputError(
                f"--reencode: only {done} of {total} frames are finished in {store.folder}; "
                "run without --reencode to continue"
            )
        whole = _whole_clip(options, frames.info.num_frames)
        return _finish(args, ctx, options, store, out, kind, fps, [], "finished", done, whole)
    stream = iter(frames)
    first = next(stream, None)  # a file with no decodable frame fails here, before the model loads
    if first is None:
        raise InputError(f"{args.input}: has no frames")
    height, width = frames.info.shape  # the source's, as `easel stylize` checks its content
    if min(height, width) < MIN_SIDE:
        raise InputError(
            f"{args.input}: frames are only {width}x{height} px; style transfer needs at least {MIN_SIDE} px "
            "on a side"
        )
    shape = options.first_frame_options().output_shape(first.shape[:2])
    previous = _previous_frames(args.previous, options, shape) if args.previous is not None else []
    style_list = _load_styles(args, ctx, styles, frames.info.shape)
    return _stylize(
        args,
        ctx,
        options,
        store,
        out,
        kind,
        fps,
        itertools.chain([first], stream),
        style_list,
        (total, frames.info.num_frames),
        state,
        previous,
    )


def _range_length(
    args: argparse.Namespace, options: VideoStyleOptions, num_frames: int | None, estimated: bool
) -> int | None:
    """The number of frames this run writes (``None``: unknown), the range checked against the source."""
    if options.frame_range is None:
        return num_frames
    start, end = options.range_start, options.range_end
    if num_frames is not None and not estimated:
        if start >= num_frames or (end is not None and end > num_frames):
            raise InputError(
                f"--frames {start}:{'' if end is None else end}: {args.input} has {plural(num_frames, 'frame')} "
                f"(0 to {num_frames - 1}; END is excluded)"
            )
    if end is None:
        return None if num_frames is None else max(0, num_frames - start)
    return end - start


def _whole_clip(options: VideoStyleOptions, num_frames: int | None) -> bool:
    """Whether the run covers the whole source (so its audio belongs to the output)."""
    start, end = options.range_start, options.range_end
    return start == 0 and (end is None or (num_frames is not None and end >= num_frames))


def _previous_frames(path: Path, options: VideoStyleOptions, shape: tuple[int, int]) -> list[Any]:
    """The stylized frames before the range that a run over the whole clip would still hold.

    A folder of ``frame_NNNNN.png`` (numbered by source frame, as stylize-video writes them)
    gives the frames numbered START-K+1 .. START; any other folder, or a video, its last K
    frames (K = ``--long-term``, at most START). A video's even-size padding is cropped.
    """
    import collections

    from easel.io.images import read_image
    from easel.io.video import read_frames
    from easel.io.video.png_frames import FRAME_NAME

    start = options.range_start
    need = min(options.long_term, start) if options.flow else 0
    if need == 0:
        return []
    if path.is_dir() and any(FRAME_NAME.fullmatch(p.name) for p in path.iterdir()):
        images = []
        for index in range(start - need, start):
            file = path / f"frame_{index + 1:05d}.png"
            if not file.is_file():
                raise InputError(
                    f"--previous {path}: has no {file.name} (source frame {index}); continuing at frame "
                    f"{start} with --long-term {options.long_term} needs frames {start - need} to {start - 1}"
                )
            images.append(read_image(file, max_size=None, min_side=1).rgb)
    else:
        images = list(collections.deque(read_frames(path), maxlen=need))
        if len(images) < need:
            raise InputError(
                f"--previous {path}: has {plural(len(images), 'frame')}; continuing at frame {start} "
                f"with --long-term {options.long_term} needs the {need} before it"
            )
    h, w = shape
    out = []
    for image in images:
        if image.shape[0] - h in (0, 1) and image.shape[1] - w in (0, 1):
            out.append(image[:h, :w])
        else:
            raise InputError(
                f"--previous {path}: frames are {image.shape[1]}x{image.shape[0]}, this run's are {w}x{h} "
                "(the same --size and input as the earlier run?)"
            )
    return out


def _stylize(
    args: argparse.Namespace,
    ctx: CommandContext,
    options: VideoStyleOptions,
    store: FrameStore,
    out: Path,
    kind: str,
    fps: float,
    frames: Any,
    styles: list[Style],
    counts: tuple[int | None, int | None],
    state: dict[str, Any],
    previous: list[Any],
) -> int:
    from easel.style.transfer import Stylizer
    from easel.style.video import stylize_video

    total, num_source = counts  # frames to write; frames in the source
    fresh = bool(args.overwrite)
    store.open(state, fresh=fresh)
    resumed = 0 if fresh else store.finished()
    if resumed:
        ctx.notice(f"continuing after {plural(resumed, 'finished frame')} in {store.folder}")
    with ctx.timed("load_model"):
        stylizer = Stylizer(options.first_frame_options())
    summaries: list[dict[str, Any]] = []
    status = "finished"
    count = 0
    bad = 0
    try:
        with ctx.timed("stylize"):
            for frame in stylize_video(
                frames,
                styles,
                options,
                progress=ctx.progress,
                resume=store if not fresh else (),
                previous=previous,
                num_frames=num_source,
                stylizer=stylizer,
            ):
                if frame.status == "interrupted":
                    status = "interrupted"
                    break
                if frame.start != "resumed":
                    store.save(frame.index, frame.image)
                    summaries.append(frame.summary())
                    if frame.status == "non-finite":
                        bad += 1
                    if frame.message:
                        ctx.notice(f"frame {frame.index + 1}: {frame.message}")
                count = frame.index - options.range_start + 1
    except KeyboardInterrupt:
        status = "interrupted"
    if status == "interrupted":
        return _interrupted(args, ctx, options, out, summaries, count, total)
    whole = _whole_clip(options, num_source)
    code = _finish(args, ctx, options, store, out, kind, fps, summaries, status, count, whole)
    return 1 if code == 0 and bad else code


def _interrupted(
    args: argparse.Namespace,
    ctx: CommandContext,
    options: VideoStyleOptions,
    out: Path,
    summaries: list[dict[str, Any]],
    count: int,
    total: int | None,
) -> int:
    _record(args, ctx, options, out, "interrupted", {"frames_done": count, "frames": summaries})
    of = f" of {total}" if total else ""
    ctx.notice(
        f"interrupted after {plural(count, 'finished frame')}{of}; run the same command again to continue"
    )
    return ctx.interrupted_exit_code()


def _finish(
    args: argparse.Namespace,
    ctx: CommandContext,
    options: VideoStyleOptions,
    store: FrameStore,
    out: Path,
    kind: str,
    fps: float,
    summaries: list[dict[str, Any]],
    status: str,
    count: int,
    whole: bool,
) -> int:
    """The final encode (once, from the stored frames), the audio (``whole`` clip only), the record."""
    from easel.io.images import write_image
    from easel.io.video import VideoWriter
    from easel.io.video.audio import copy_audio
    from easel.progress import report
    from easel.style.grid import contact_sheet

    audio = None
    try:
        with ctx.timed("encode"):
            if kind == "sheet":
                columns = max(1, round(count**0.5))
                images = [store[i] for i in range(count)]
                rows = [images[i : i + columns] for i in range(0, count, columns)]
                write_image(out, contact_sheet(rows, cell_size=192))
            elif kind != "frames":
                with VideoWriter(out, fps=fps) as writer:
                    for index in range(count):
                        writer.write(store[index])
                        report(ctx.progress, "encode", index + 1, count)
                if kind in ("mp4", "webm") and not args.no_audio:
                    if whole:
                        audio = copy_audio(out, args.input)
                    else:
                        ctx.notice("the source's audio is not copied for a part of the clip (--frames)")
    except KeyboardInterrupt:
        _record(args, ctx, options, out, "interrupted", {"frames_done": count, "frames": summaries})
        ctx.notice(f"interrupted while encoding; the frames are in {store.folder}: run with --reencode")
        return ctx.interrupted_exit_code()
    _record(
        args,
        ctx,
        options,
        out,
        status,
        {
            "frames_done": count,
            "fps": fps,
            "work_folder": str(store.folder),
            "audio": audio,
            "frames": summaries,
        },
    )
    sound = f", audio {audio}" if audio else ""
    what = "contact sheet of " if kind == "sheet" else ""
    ctx.done(
        f"wrote {out} ({what}{plural(count, 'frame')}{'' if kind == 'sheet' else f', {fps:g} fps'}{sound})"
    )
    return 0


def _record(
    args: argparse.Namespace,
    ctx: CommandContext,
    options: VideoStyleOptions,
    out: Path,
    status: str,
    extra: dict[str, Any],
) -> None:
    from easel.options import options_dict

    resolved = options_dict(options.resolved())
    resolved.update(run_device_fields(options.device, options.precision))
    resolved.update(
        input=args.input,
        style=args.style,
        mask=args.mask,
        max_size=args.max_size,
        fps=args.fps,
        no_audio=args.no_audio,
        reencode=args.reencode,
        output=out,
    )
    inputs = [args.input, *(p for p, _ in args.style), *args.mask]
    save_record(out, args, ctx, inputs=inputs, options=resolved, status=status, extra=extra)


def demo(gallery: Gallery) -> None:
    """A short synthetic pan stylized frame to frame, with a random-weight VGG-19 when real weights are absent.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """
    from easel.image import resize
    from easel.io.video import write_video
    from easel.samples import sample_image

    side = 64 if gallery.quick else 160
    photo = sample_image("chelsea")
    frames = []
    num = 4 if gallery.quick else 12
    h, w = photo.shape[:2]
    crop = min(h, w) * 2 // 3
    for t in range(num):  # a slow pan across the photo
        x = (w - crop) * t // max(1, num - 1)
        frames.append(resize(photo[(h - crop) // 2 : (h + crop) // 2, x : x + crop], (side, side)))
    clip = gallery.path("inputs/video_pan.mp4")
    write_video(clip, frames, fps=8)
    style = gallery.sample("immunohistochemistry", max_size=256)
    extra, note = gallery.vgg19("the texture is not the painterly one real weights give")
    out = gallery.path("stylize_video.mp4")
    gallery.run(
        "Neural style transfer",
        "a panning clip stylized frame to frame (flow-warped starts, temporal loss)",
        [
            "stylize-video",
            str(clip),
            "--style",
            str(style),
            "-o",
            str(out),
            "--size",
            str(side),
            "--iterations-first",
            "10",
            "--coarse-iterations",
            "20",
            "--iterations",
            "8",
            *extra,
        ],
        [clip, style],
        [out],
        note=note,
    )
