"""``easel photo3d``: one image to a 3D photo: layered depth inpainting, mesh export and camera trajectories."""

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
    save_record,
)
from easel.cli._options import add_depth_file, add_options, argument_group, options_from_args

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery

NAME = "photo3d"
HELP = "one image to a 3D photo: layered depth inpainting, a textured mesh, 3D videos"
ORDER = 65
DESCRIPTION = """\
3D photography (after Shih et al. 2020): the image and its depth become a
layered depth image. Depth edges are found on disparity jumps and linked;
links across them are cut, and behind every occluding edge the background
surface is extended (its depth first, never pulling foreground depth in,
then its colour, inpainted from the background context only), in layers
behind layers. The result renders as 3D videos along trajectories like the
reference's (zoom-in, dolly-zoom, swing, circle, or all four: one output
each) or any nerfstudio camera path, and exports as a triangle mesh with
vertex colours and no triangle across a cut (--mesh out.ply or out.glb).

Shifts are fractions of the subject's depth (the nearest surface away from
the border). Depth and camera options are those of `easel kenburns`. Every
output (each clip, its record, the mesh) is checked before any work;
Ctrl-C or SIGTERM keeps the frames so far (exit code 130 or 143).
"""
EPILOG = """\
examples:
  easel photo3d photo.jpg --depth photo_depth.npy -o clip.mp4
  easel photo3d photo.jpg --depth d.npy --trajectory all -o clip.mp4   # clip-zoom-in.mp4 ... clip-circle.mp4
  easel photo3d photo.jpg --depth d.npy --trajectory circle --x-shift 0.06 --frames 120 -o loop.gif
  easel photo3d photo.jpg --depth d.npy -o clip.mp4 --mesh photo.glb
  easel photo3d photo.jpg --depth d.npy --camera-path path.json -o fly.mp4 --stereo
"""

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel photo3d``'s arguments (from :class:`Photo3DOptions`, whose shared fields are Ken Burns').

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel photo3d")
        >>> add_arguments(parser)
        >>> parser.parse_args(["photo.jpg", "-o", "clip.mp4", "--trajectory", "all"]).trajectory
        'all'
    """
    from easel.scene3d.clipwriter import EncodeOptions
    from easel.scene3d.photo3d import Photo3DOptions

    parser.add_argument("image", type=Path, metavar="IMAGE", help="input image")
    add_options(parser, Photo3DOptions)
    add_options(parser, EncodeOptions)
    add_depth_file(parser)
    cam = argument_group(parser, "camera path")
    cam.add_argument(
        "--camera-path",
        type=Path,
        metavar="JSON",
        help="render this nerfstudio camera path instead of --trajectory",
    )
    mesh = argument_group(parser, "mesh")
    mesh.add_argument("--mesh", type=Path, metavar="FILE", help="also write the mesh: .ply or .glb")
    mesh.add_argument("--ascii", action="store_true", help="write the PLY mesh as text (default binary)")
    add_max_size(parser, default=1024)
    add_output(
        parser,
        "clip.mp4, clip.webm, clip.gif, or a folder for PNG frames (with several trajectories: OUT-NAME...)",
    )


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel photo3d`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["photo3d", "photo.jpg", "--depth", "d.npy", "-o", "clip.mp4"])  # doctest: +SKIP
        0
    """
    from easel.cameras import read_camera_path
    from easel.io.video import video_format
    from easel.options import OptionError, options_dict
    from easel.scene3d.clipwriter import EncodeOptions, check_clip_output, describe_frames
    from easel.scene3d.mesh import MESH_SUFFIXES
    from easel.scene3d.photo3d import Photo3DOptions, check_photo3d_options, photo3d, trajectory_output

    options = options_from_args(Photo3DOptions, args)
    encode = options_from_args(EncodeOptions, args)
    if args.ascii and (args.mesh is None or args.mesh.suffix.lower() != ".ply"):
        raise OptionError("ascii", "is for a PLY mesh (--mesh out.ply)")
    inputs = [p for p in (args.image, args.depth, args.camera_path) if p is not None]
    plan = new_plan(args, inputs)
    kinds: list[str] = ["camera-path"] if args.camera_path else list(options.trajectories)
    several = len(kinds) > 1
    frames_out = video_format(args.output) == "frames"
    outputs: dict[str, Path] = {}
    for kind in kinds:
        target = trajectory_output(args.output, kind, several)
        if frames_out:
            outputs[kind] = plan.folder(target, option="-o", record=True)
        else:
            outputs[kind] = plan.file(target, option="-o", suffixes=VIDEO_SUFFIXES, record=True)
    mesh_out = plan.file(args.mesh, option="--mesh", suffixes=MESH_SUFFIXES) if args.mesh else None
    plan.check()
    for out in outputs.values():
        check_clip_output(out, encode, fps=options.fps)

    loaded = load_image(args.image, ctx, args.max_size)
    path = read_camera_path(args.camera_path, default_shape=loaded.shape) if args.camera_path else None
    check_photo3d_options(options, path=path)
    depth = None
    if args.depth is not None:
        from easel.depth import read_depth, resize_depth

        with ctx.timed("read_depth"):
            depth = read_depth(args.depth, kind=args.depth_kind, depth_range=options.depth_range)
            if depth.shape != loaded.shape:
                dh, dw = depth.shape
                depth = resize_depth(depth, loaded.shape, name=str(args.depth))
                ctx.notice(
                    f"{args.depth}: depth is {dw}x{dh}, resized to the image's "
                    f"{loaded.shape[1]}x{loaded.shape[0]}"
                )
    with ctx.timed("layers"):
        p3d = photo3d(loaded.rgb, depth, options, exif_path=args.image, progress=ctx.progress)
    if mesh_out is not None:
        with ctx.timed("mesh"):
            p3d.save_mesh(mesh_out, ascii=args.ascii)
    recorded: dict[str, Any] = {
        "image": args.image,
        "depth": args.depth,
        "depth_kind": args.depth_kind,
        "camera_path": args.camera_path,
        "max_size": args.max_size,
        "mesh": mesh_out,
        "ascii": args.ascii,
        **options_dict(options),
        **options_dict(encode),
        "device": p3d.device,
    }
    stats = {k: round(v, 4) if isinstance(v, float) else v for k, v in p3d.stats.items()}
    written: list[str] = []
    for kind, out in outputs.items():
        with ctx.timed(f"render_{kind}"):
            result = p3d.render(out, path if path is not None else kind, encode=encode, progress=ctx.progress)
        record = save_record(
            out,
            args,
            ctx,
            inputs=inputs,
            options=recorded,
            status=result.status,
            extra={
                "trajectory": kind,
                "frames": result.frames_written,
                "frames_planned": result.total_frames,
                "frame_size": [result.frame_shape[1], result.frame_shape[0]],  # width, height
                "fps": result.fps,
                "layers": len(p3d.layers),
                "stats": stats,
                "intrinsics": {
                    "fx": p3d.intrinsics.fx,
                    "fy": p3d.intrinsics.fy,
                    "cx": p3d.intrinsics.cx,
                    "cy": p3d.intrinsics.cy,
                    "source": p3d.intrinsics_source,
                },
                "written": [str(out), *([str(mesh_out)] if mesh_out else [])],
            },
        )
        if result.status == "interrupted":
            code = ctx.interrupted_exit_code()
            ctx.close()
            print(
                f"easel photo3d: {'terminated' if code == 143 else 'interrupted'}; kept the first "
                f"{describe_frames(result.frames_written)} of {result.total_frames} in {out} (record {record})",
                file=sys.stderr,
            )
            return code
        written.append(f"{out} ({describe_frames(result.frames_written)})")
    extras = f" and {mesh_out}" if mesh_out is not None else ""
    ctx.done(f"wrote {', '.join(written)}{extras}; {len(p3d.layers)} layers")
    return 0


def demo(gallery: Gallery) -> None:
    """3D photos of a synthetic scene with a large disocclusion: every trajectory, and the mesh.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """
    import numpy as np

    from easel.cameras import Camera
    from easel.scene3d.synthetic import layered_scene

    scene, cam = layered_scene(*((128, 96) if gallery.quick else (384, 288)))
    view = scene.render(Camera(cam))
    image = gallery.add_input("photo3d_scene.png", view.image)
    depth = gallery.path("inputs/photo3d_scene_depth.npy")
    np.save(depth, view.depth)
    clip = gallery.path("photo3d_scene.mp4")
    outputs = [
        gallery.path(f"photo3d_scene-{kind}.mp4") for kind in ("zoom-in", "dolly-zoom", "swing", "circle")
    ]
    mesh = gallery.path("photo3d_scene.glb")
    gallery.run(
        "3D photo",
        "Layered depth inpainting, four trajectories and a GLB mesh",
        [
            "photo3d",
            str(image),
            "--depth",
            str(depth),
            "--trajectory",
            "all",
            "--frames",
            "8" if gallery.quick else "40",
            "--fps",
            "20",
            "--x-shift",
            "0.08",
            "-o",
            str(clip),
            "--mesh",
            str(mesh),
        ],
        inputs=[image],
        outputs=outputs,
        note="Depth from the synthetic scene (exact); behind each edge the background is extended and inpainted.",
    )
