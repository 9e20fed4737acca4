"""``easel kenburns``: one image to a parallax video (the 3D Ken Burns effect)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from easel.cli._common import (
    CommandContext,
    add_device,
    add_max_size,
    add_output,
    float_list,
    load_image,
    non_negative_float,
    positive_float,
    positive_int,
    prepare_output,
    save_record,
)
from easel.errors import InputError
from easel.progress import report
from easel.scene3d.cameras import AUTOZOOM_MAX_SHIFT

if TYPE_CHECKING:
    from easel.gallery import Gallery

NAME = "kenburns"
HELP = "one image to a parallax video: the 3D Ken Burns effect"
ORDER = 60
DESCRIPTION = """\
The 3D Ken Burns effect: the image and its depth become a 3D surface that
breaks at depth edges, a virtual camera zooms towards the nearest surface and
shifts sideways, and what the camera newly sees behind foreground objects is
filled from the background (classical inpainting by default, LaMa with
--inpaint lama). Without --shift the shift is searched (autozoom: the end
point that keeps the most pixels covered). --camera-path renders any
nerfstudio-format camera path instead (OpenGL axes, the input camera is the
identity pose, units of the depth map; see docs/conventions.md).

Depth comes from --depth FILE (.npy, 16-bit PNG, .exr; --depth-kind says
whether it holds depth or disparity) or is estimated with the depth network
(`easel weights download depth-anything-v2-small` first).
"""
EPILOG = """\
examples:
  easel kenburns photo.jpg --depth photo_depth.npy -o clip.mp4
  easel kenburns photo.jpg -o clip.mp4 --zoom 1.4 --shift 0.05,0 --duration 4 --fps 30 --one-way
  easel kenburns photo.jpg --depth d.png --depth-kind disparity -o frames/ --size 1280x720
  easel kenburns photo.jpg --depth d.npy -o stereo.mp4 --stereo --export-ply cloud.ply
  easel kenburns photo.jpg --depth d.npy --camera-path path.json -o fly.mp4
"""

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("*", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if width < 2 or height < 2:
        raise argparse.ArgumentTypeError(f"size must be at least 2x2, got {text!r}")
    return width, height


def _pair(text: str) -> tuple[float, float]:
    values = float_list(text)
    if len(values) == 1:
        return values[0], 0.0
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected X,Y, got {text!r}")
    return values[0], values[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from easel.scene3d.inpaint import INPAINT_METHODS

    parser.add_argument("image", type=Path, metavar="IMAGE", help="input image")
    depth = parser.add_argument_group("depth")
    depth.add_argument(
        "--depth", type=Path, metavar="FILE", help="depth of IMAGE (.npy, 16-bit .png, .exr ...)"
    )
    depth.add_argument(
        "--depth-kind",
        choices=("depth", "disparity"),
        default="depth",
        help="what --depth holds when the file does not say (default depth)",
    )
    depth.add_argument(
        "--depth-range",
        type=float_list,
        metavar="NEAR,FAR",
        help="map relative disparity to depths from NEAR to FAR",
    )
    cam = parser.add_argument_group("camera path")
    cam.add_argument("--camera-path", type=Path, metavar="JSON", help="render this nerfstudio camera path")
    cam.add_argument(
        "--zoom", type=positive_float, default=1.25, help="zoom on the nearest surface (default 1.25)"
    )
    cam.add_argument(
        "--shift",
        type=_pair,
        metavar="X,Y",
        help="pan at the end, fraction of the long side (default: searched by autozoom)",
    )
    cam.add_argument(
        "--shift-x", type=float, metavar="X", help="pan along x only (fraction of the long side)"
    )
    cam.add_argument(
        "--shift-y", type=float, metavar="Y", help="pan along y only (fraction of the long side)"
    )
    cam.add_argument(
        "--max-shift",
        type=non_negative_float,
        default=AUTOZOOM_MAX_SHIFT,
        help="autozoom searches shifts up to this fraction of the long side "
        f"(default {AUTOZOOM_MAX_SHIFT:.4f}, the reference's 100 px at 1024 px)",
    )
    cam.add_argument("--duration", type=positive_float, default=3.0, metavar="S", help="seconds (default 3)")
    cam.add_argument("--fps", type=positive_float, default=25.0, help="frames per second (default 25)")
    loop = cam.add_mutually_exclusive_group()
    loop.add_argument(
        "--boomerang", dest="boomerang", action="store_true", default=True, help="out and back (default)"
    )
    loop.add_argument("--one-way", dest="boomerang", action="store_false", help="move one way only")
    cam.add_argument(
        "--easing", choices=("smooth", "linear"), default="smooth", help="speed profile (default smooth)"
    )
    cam.add_argument(
        "--fov",
        type=positive_float,
        metavar="DEG",
        help="vertical field of view of IMAGE (default: EXIF, else 90 deg across the long side)",
    )
    out = parser.add_argument_group("rendering")
    out.add_argument(
        "--size",
        "--output-size",
        dest="size",
        type=_size,
        metavar="WxH",
        help="frame size (default: the input's)",
    )
    out.add_argument("--stereo", action="store_true", help="side-by-side stereo frames (left, right)")
    out.add_argument(
        "--stereo-disparity",
        type=non_negative_float,
        default=0.02,
        help="stereo strength: disparity of the nearest surface, fraction of the width (default 0.02)",
    )
    out.add_argument(
        "--inpaint", choices=INPAINT_METHODS, default="telea", help="hole filling (default telea)"
    )
    out.add_argument(
        "--inpaint-weights", type=Path, metavar="PATH", help="local big-lama.pt for --inpaint lama"
    )
    out.add_argument("--export-ply", type=Path, metavar="PLY", help="also write the coloured point cloud")
    out.add_argument(
        "--export-path", type=Path, metavar="JSON", help="also write the camera path (nerfstudio JSON)"
    )
    out.add_argument("--crf", type=int, help="video quality, lower is better (default 18 for MP4)")
    out.add_argument(
        "--preset",
        default="veryfast",
        help="libx264 speed preset (ultrafast ... veryslow; default veryfast)",
    )
    out.add_argument(
        "--renderer",
        choices=("auto", "numba", "torch"),
        default="auto",
        help="renderer backend (default auto)",
    )
    add_device(parser)
    add_max_size(parser, default=1024)
    parser.add_argument("--frames", type=positive_int, help=argparse.SUPPRESS)
    add_output(parser, "clip.mp4, clip.webm, clip.gif, or a folder for PNG frames (frames/)")


def _load_depth(
    args: argparse.Namespace, rgb_size: tuple[int, int], rgb: object, ctx: CommandContext
) -> object:
    depth_range = tuple(args.depth_range) if args.depth_range else None
    if depth_range is not None and len(depth_range) != 2:
        raise InputError("--depth-range takes two numbers: NEAR,FAR")
    if args.depth is not None:
        from easel.depth import read_depth

        with ctx.timed("read_depth"):
            return read_depth(args.depth, size=rgb_size, kind=args.depth_kind, depth_range=depth_range)
    from easel.depth import estimate_depth

    with ctx.timed("depth"):
        return estimate_depth(rgb, device=args.device, depth_range=depth_range, progress=ctx.progress)  # type: ignore[arg-type]


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    from easel.io.video import VideoWriter
    from easel.scene3d.cameras import Intrinsics, intrinsics_from_exif, read_camera_path, write_camera_path
    from easel.scene3d.kenburns import KenBurnsOptions, kenburns
    from easel.scene3d.ply import write_ply

    inputs = [p for p in (args.image, args.depth, args.camera_path) if p is not None]
    out = prepare_output(args.output, inputs, args.overwrite, suffixes=VIDEO_SUFFIXES, allow_dir=True)
    ply_out = (
        prepare_output(args.export_ply, inputs, args.overwrite, suffixes=(".ply",))
        if args.export_ply
        else None
    )
    path_out = (
        prepare_output(args.export_path, inputs, args.overwrite, suffixes=(".json",))
        if args.export_path
        else None
    )
    if args.shift is not None and (args.shift_x is not None or args.shift_y is not None):
        raise InputError("use either --shift X,Y or --shift-x/--shift-y, not both")
    shift = args.shift
    if args.shift_x is not None or args.shift_y is not None:
        shift = (args.shift_x or 0.0, args.shift_y or 0.0)
    if args.zoom < 1.0:
        raise InputError(f"--zoom must be at least 1 (the camera only moves forward); got {args.zoom}")
    if args.inpaint == "lama" and args.inpaint_weights is None:
        from easel.weights import get_entry, is_present, local_path

        if not is_present("big-lama"):
            entry = get_entry("big-lama")
            how = (
                "get them with `easel weights download big-lama` or pass"
                if entry.verified
                else f"no verified checksum is recorded, so fetch {entry.files[0].url} yourself and pass"
            )
            raise InputError(
                f"--inpaint lama: weights 'big-lama' are not in the cache ({local_path('big-lama')}); "
                f"{how} the file with --inpaint-weights PATH"
            )

    loaded = load_image(args.image, ctx, args.max_size)
    height, width = loaded.size
    depth = _load_depth(args, loaded.size, loaded.rgb, ctx)
    if args.fov is not None:
        intr = Intrinsics.from_fov(width, height, args.fov)
        source = f"--fov {args.fov:g}"
    else:
        exif = intrinsics_from_exif(args.image, width, height)
        intr = exif or Intrinsics.default(width, height)
        source = "EXIF focal length" if exif else "default focal length (half the long side)"
    path = None
    if args.camera_path is not None:
        path = read_camera_path(args.camera_path, default_size=loaded.size)
    duration = args.duration
    if args.frames is not None:
        duration = args.frames / args.fps
    options = KenBurnsOptions(
        zoom=args.zoom,
        shift=shift,
        max_shift=args.max_shift,
        duration_s=duration,
        fps=args.fps,
        boomerang=args.boomerang,
        easing=args.easing,
        output_size=args.size,
        stereo=args.stereo,
        stereo_disparity=args.stereo_disparity,
        inpaint=args.inpaint,
        inpaint_weights=str(args.inpaint_weights) if args.inpaint_weights else None,
        backend=args.renderer,
        device=args.device,
    )
    with ctx.timed("prepare"):
        clip = kenburns(loaded.rgb, depth, path, options, intrinsics=intr, progress=ctx.progress)  # type: ignore[arg-type]
    total = len(clip)
    with (
        ctx.timed("render_and_write"),
        VideoWriter(out, fps=clip.fps, crf=args.crf, preset=args.preset) as writer,
    ):
        for i in range(total):
            writer.write(clip.frame_uint8(i))
            report(ctx.progress, "frames", i + 1, total)
    if ply_out is not None:
        with ctx.timed("ply"):
            points, colors = clip.point_cloud()
            write_ply(ply_out, points, colors)
    if path_out is not None:
        write_camera_path(path_out, clip.path)
    fh, fw = clip.frame_size
    save_record(
        out,
        args,
        ctx,
        inputs=inputs,
        extra={
            "frames": total,
            "frame_size": [fw, fh],
            "fps": clip.fps,
            "shift": list(clip.shift) if clip.shift is not None else None,
            "intrinsics": {"fx": intr.fx, "fy": intr.fy, "cx": intr.cx, "cy": intr.cy, "source": source},
            "fill_layers": len(clip.layers) - 1,
        },
    )
    extras = "".join(f" and {p}" for p in (ply_out, path_out) if p is not None)
    ctx.done(f"wrote {out}{extras} ({total} frames, {fw}x{fh}, {clip.fps:g} fps)")
    return 0


def demo(gallery: Gallery) -> None:
    import numpy as np

    from easel.scene3d.cameras import Camera
    from easel.scene3d.synthetic import layered_scene

    scene, cam = layered_scene(384, 288)
    view = scene.render(Camera(cam))
    image = gallery.add_input("kenburns_scene.png", view.image)
    depth = gallery.path("inputs/kenburns_scene_depth.npy")
    np.save(depth, view.depth)
    clip = gallery.path("kenburns_scene.mp4")
    gallery.run(
        "3D Ken Burns",
        "Synthetic RGB-D scene, autozoom, 2 s boomerang",
        ["kenburns", str(image), "--depth", str(depth), "-o", str(clip), "--duration", "2", "--fps", "20"],
        inputs=[image],
        outputs=[clip],
        note="Depth from the synthetic scene (exact); with depth weights installed, omit --depth to estimate it.",
    )
    try:
        from easel.depth.registry import DEFAULT_MODEL
        from easel.weights import is_present

        have_weights = is_present(DEFAULT_MODEL)
    except (ImportError, InputError):
        have_weights = False
    if have_weights:
        photo = gallery.sample("chelsea", max_size=384)
        estimated = gallery.path("kenburns_chelsea.mp4")
        gallery.run(
            "3D Ken Burns",
            "A photo with estimated depth, one way",
            ["kenburns", str(photo), "-o", str(estimated), "--duration", "2", "--fps", "20", "--one-way"],
            inputs=[photo],
            outputs=[estimated],
            note="Depth estimated by the default depth network.",
        )
