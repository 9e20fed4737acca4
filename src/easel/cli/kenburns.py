"""``easel kenburns``: one image to a parallax video (the 3D Ken Burns effect)."""

from __future__ import annotations

import argparse
import sys
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
from easel.cli._options import add_depth_file, add_options, argument_group, options_from_args
from easel.errors import InputError

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery

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

Every output (the clip, its record OUT.json, --export-ply, --export-path) is
checked before any work. A --shift that would move the view off the picture
and a --zoom above 10 are refused; a zoom the picture cannot give (the camera
stops short of the nearest surface) is reduced with a notice. Ctrl-C or
SIGTERM while frames are written keeps the frames so far (the record says
"status": "interrupted"; exit code 130 or 143).

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel kenburns``' arguments and options to ``parser`` (from :class:`KenBurnsOptions`).

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel kenburns")
        >>> add_arguments(parser)
        >>> parser.parse_args(["photo.jpg", "-o", "clip.mp4", "--size", "1280x720"]).output_shape
        (720, 1280)
    """
    from easel.scene3d.clipwriter import EncodeOptions
    from easel.scene3d.kenburns import KenBurnsOptions

    parser.add_argument("image", type=Path, metavar="IMAGE", help="input image")
    add_options(parser, KenBurnsOptions)
    add_options(parser, EncodeOptions)
    add_depth_file(parser)
    cam = argument_group(parser, "camera path")
    cam.add_argument("--camera-path", type=Path, metavar="JSON", help="render this nerfstudio camera path")
    loop = cam.add_mutually_exclusive_group()
    loop.add_argument(
        "--boomerang", dest="boomerang", action="store_true", default=True, help="out and back (default)"
    )
    loop.add_argument("--one-way", dest="boomerang", action="store_false", help="move one way only")
    out = argument_group(parser, "rendering")
    out.add_argument("--export-ply", type=Path, metavar="PLY", help="also write the coloured point cloud")
    out.add_argument(
        "--export-path", type=Path, metavar="JSON", help="also write the camera path (nerfstudio JSON)"
    )
    add_max_size(parser, default=1024)
    parser.add_argument("--frames", type=positive_int, help=argparse.SUPPRESS)
    add_output(parser, "clip.mp4, clip.webm, clip.gif, or a folder for PNG frames (frames/)")


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel kenburns`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["kenburns", "photo.jpg", "-o", "clip.mp4"])  # runs this function  # doctest: +SKIP
        0
    """
    from easel.cameras import read_camera_path
    from easel.io.video import video_format
    from easel.options import options_dict
    from easel.scene3d.clipwriter import EncodeOptions, check_clip_output, describe_frames, write_clip
    from easel.scene3d.kenburns import KenBurnsOptions, check_kenburns_options, kenburns

    options = options_from_args(KenBurnsOptions, args)
    encode = options_from_args(EncodeOptions, args)
    inputs = [p for p in (args.image, args.depth, args.camera_path) if p is not None]
    plan = new_plan(args, inputs)
    if video_format(args.output) == "frames":
        out = plan.folder(args.output, option="-o", record=True)
    else:
        out = plan.file(args.output, option="-o", suffixes=VIDEO_SUFFIXES, record=True)
    ply_out = (
        plan.file(args.export_ply, option="--export-ply", suffixes=(".ply",)) if args.export_ply else None
    )
    path_out = (
        plan.file(args.export_path, option="--export-path", suffixes=(".json",)) if args.export_path else None
    )
    plan.check()
    check_clip_output(out, encode, fps=options.fps)

    loaded = load_image(args.image, ctx, args.max_size)
    path = read_camera_path(args.camera_path, default_shape=loaded.shape) if args.camera_path else None
    check_kenburns_options(options, image_shape=loaded.shape, path=path)
    depth = None
    if args.depth is not None:
        from easel.depth import read_depth

        with ctx.timed("read_depth"):
            depth = read_depth(
                args.depth, shape=loaded.shape, kind=args.depth_kind, depth_range=options.depth_range
            )
    with ctx.timed("prepare"):
        clip = kenburns(loaded.rgb, depth, path, options, exif_path=args.image, progress=ctx.progress)
    with ctx.timed("render_and_write"):
        result = write_clip(
            clip, out, encode=encode, export_ply=ply_out, export_path=path_out, progress=ctx.progress
        )
    intr = clip.intrinsics
    recorded: dict[str, Any] = {
        "image": args.image,
        "depth": args.depth,
        "depth_kind": args.depth_kind,
        "camera_path": args.camera_path,
        "max_size": args.max_size,
        "output": out,
        "export_ply": ply_out,
        "export_path": path_out,
        **options_dict(options),
        **options_dict(encode),
        # the resolved values, not "auto"
        "device": clip.device,
        "backend": clip.renderer.backend,
    }
    record = save_record(
        out,
        args,
        ctx,
        inputs=inputs,
        options=recorded,
        status=result.status,
        extra={
            "frames": result.frames_written,
            "frames_planned": result.total_frames,
            "frame_size": [result.frame_shape[1], result.frame_shape[0]],  # width, height
            "fps": result.fps,
            "shift": list(clip.shift) if clip.shift is not None else None,
            "subject_zoom": clip.stats.get("subject_zoom"),
            "intrinsics": {
                "fx": intr.fx,
                "fy": intr.fy,
                "cx": intr.cx,
                "cy": intr.cy,
                "source": clip.intrinsics_source,
            },
            "fill_layers": len(clip.layers) - 1,
            "written": [str(p) for p in result.written],
        },
    )
    fh, fw = result.frame_shape
    if result.status == "interrupted":
        code = ctx.interrupted_exit_code()
        ctx.close()
        print(
            f"easel kenburns: {'terminated' if code == 143 else 'interrupted'}; kept the first "
            f"{describe_frames(result.frames_written)} of {result.total_frames} in {out} (record {record})",
            file=sys.stderr,
        )
        return code
    extras = "".join(f" and {p}" for p in (result.point_cloud, result.camera_path) if p is not None)
    ctx.done(f"wrote {out}{extras} ({describe_frames(result.frames_written)}, {fw}x{fh}, {result.fps:g} fps)")
    return 0


def demo(gallery: Gallery) -> None:
    """A Ken Burns clip of the synthetic layered scene (exact depth); another of a photo when depth weights are cached.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """
    import numpy as np

    from easel.cameras import Camera
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
