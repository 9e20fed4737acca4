"""``easel flythrough``: a smooth video from a handful of photos (fit, render, eval, export)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from easel.cli._common import CommandContext, new_plan, save_record
from easel.cli._options import add_options, argument_group, options_from_args

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery

NAME = "flythrough"
HELP = "a smooth fly-through video from a handful of photos (ADOP-style point rendering)"
ORDER = 70
DESCRIPTION = """\
From photos of a scene and the point cloud that structure from motion
triangulates from them, a per-scene model renders the scene from new
viewpoints (ADOP): a one-pixel point rasterizer at several resolutions with a
learned descriptor per point, a small U-Net that fills holes, and a
tonemapper (per-photo exposure and white balance, response curve,
vignetting). Four sub-commands:

  fit PHOTOS/ -o SCENE/                   fit a scene (SCENE/ holds model.pt, config.json,
                                          metrics.json, heldout.npz, checkpoint.pt; --resume continues);
                                          structure from motion first (pycolmap), or --colmap MODEL/
  render SCENE/ -o video.mp4              a smooth path through the input cameras, or --camera-path
  eval SCENE/ [-o metrics.json]           PSNR/SSIM on the held-out photos
  export SCENE/ --points cloud.ply        the fitted point cloud with colours

Every 8th photo by sorted name (index % 8 == 0) is held out of the fit;
its exposure and white balance are interpolated from its neighbours. Run
`easel flythrough SUBCOMMAND --help` for each one's options.
"""
EPILOG = """\
examples:
  easel flythrough fit photos/ -o scene/
  easel flythrough fit photos/ --colmap photos/sparse/0 -o scene/
  easel flythrough fit photos/ --colmap sparse/0 -o scene/ --steps 6000 --resume
  easel flythrough render scene/ -o flythrough.mp4 --seconds 8 --fps 30 --size 1024
  easel flythrough render scene/ --camera-path path.json -o path.mp4 --exposure 0.5
  easel flythrough eval scene/ -o heldout.json
  easel flythrough export scene/ --points cloud.ply
"""

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")
ACTIONS = ("fit", "render", "eval", "export")


def _general(parser: argparse.ArgumentParser) -> None:
    # the sub-command's own --quiet/--debug (SUPPRESS: given before the sub-command, they still count)
    group = argument_group(parser, "general")
    group.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars or notices"
    )
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


def _overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y", "--overwrite", action="store_true", help="replace outputs that exist (never an input)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sub-commands ``fit``, ``render``, ``eval`` and ``export`` to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel flythrough")
        >>> add_arguments(parser)
        >>> parser.parse_args(["fit", "photos", "--colmap", "sparse", "-o", "scene"]).action
        'fit'
    """
    from easel.flythrough.options import FitOptions, RenderOptions
    from easel.flythrough.sfm import SfmOptions

    sub = parser.add_subparsers(dest="action", metavar="SUBCOMMAND", required=True)
    formatter = argparse.RawDescriptionHelpFormatter

    fit = sub.add_parser(
        "fit",
        help="fit a scene to photos",
        description="Fit a fly-through scene to PHOTOS/ and their COLMAP model.",
        epilog="example:\n  easel flythrough fit photos/ --colmap photos/sparse/0 -o scene/\n",
        formatter_class=formatter,
    )
    fit.add_argument("images", type=Path, metavar="PHOTOS", help="folder of photos")
    fit.add_argument(
        "--colmap",
        type=Path,
        metavar="MODEL",
        help="COLMAP model of PHOTOS (folder with cameras, images, points3D; .bin or .txt); "
        "without it, structure from motion runs first (pycolmap; SCENE/colmap/)",
    )
    add_options(fit, FitOptions)
    add_options(fit, SfmOptions, exclude=("seed",))  # --seed seeds both
    fit.add_argument(
        "--resume", action="store_true", help="continue the fit saved in SCENE (its checkpoint.pt)"
    )
    fit.add_argument(
        "-o", "--output", type=Path, required=True, metavar="SCENE", help="scene folder to write"
    )
    _overwrite(fit)
    _general(fit)

    render = sub.add_parser(
        "render",
        help="render a video of a fitted scene",
        description=(
            "Render a fitted scene along a smooth path through its input cameras (spline positions,\n"
            "slerped rotations, constant speed) or along --camera-path (nerfstudio JSON in the COLMAP\n"
            "model's world, OpenGL camera axes)."
        ),
        epilog="example:\n  easel flythrough render scene/ -o flythrough.mp4 --seconds 6 --fps 24\n",
        formatter_class=formatter,
    )
    render.add_argument(
        "scene", type=Path, metavar="SCENE", help="scene folder (from `easel flythrough fit`)"
    )
    add_options(render, RenderOptions)
    render.add_argument("--camera-path", type=Path, metavar="JSON", help="render this nerfstudio camera path")
    render.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="video.mp4, .webm, .gif, or a folder for PNG frames",
    )
    _overwrite(render)
    _general(render)

    ev = sub.add_parser(
        "eval",
        help="PSNR/SSIM of a fitted scene on its held-out photos",
        description="Evaluate a fitted scene on its held-out photos: PSNR and SSIM, model and splatting baseline.",
        epilog="example:\n  easel flythrough eval scene/ -o heldout.json\n",
        formatter_class=formatter,
    )
    ev.add_argument("scene", type=Path, metavar="SCENE", help="scene folder")
    ev.add_argument("-o", "--output", type=Path, metavar="JSON", help="also write the figures as JSON")
    ev.add_argument(
        "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help="where the model runs"
    )
    _overwrite(ev)
    _general(ev)

    ex = sub.add_parser(
        "export",
        help="write the fitted point cloud as PLY",
        description=(
            "Write the fitted point cloud with colours as binary PLY, in the COLMAP model's world\n"
            "(the frame of the input cameras, as COLMAP and its viewers show it)."
        ),
        epilog="example:\n  easel flythrough export scene/ --points cloud.ply\n",
        formatter_class=formatter,
    )
    ex.add_argument("scene", type=Path, metavar="SCENE", help="scene folder")
    ex.add_argument("--points", type=Path, required=True, metavar="PLY", help="the .ply file to write")
    _overwrite(ex)
    _general(ex)


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel flythrough SUBCOMMAND`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["flythrough", "eval", "scene/"])  # doctest: +SKIP
        0
    """
    args.command = f"flythrough {args.action}"  # messages and the record name the sub-command
    handler = {"fit": _fit, "render": _render, "eval": _eval, "export": _export}[args.action]
    return handler(args, ctx)


def _interrupted(ctx: CommandContext, what: str) -> int:
    code = ctx.interrupted_exit_code()
    ctx.close()
    print(f"easel flythrough: {'terminated' if code == 143 else 'interrupted'}; {what}", file=sys.stderr)
    return code


def _fit(args: argparse.Namespace, ctx: CommandContext) -> int:
    from easel.flythrough.options import FitOptions
    from easel.flythrough.pipeline import fit_photos
    from easel.flythrough.scene import CHECKPOINT, SCENE_FILES
    from easel.flythrough.sfm import SfmOptions
    from easel.options import options_dict

    options = options_from_args(FitOptions, args).validate()
    inputs = [args.images, args.colmap]
    plan = new_plan(args, inputs)
    scene_dir = plan.folder(args.output, option="-o", resume=bool(args.resume))
    for name in (*SCENE_FILES, CHECKPOINT):
        plan.file(scene_dir / name, option="-o", refresh=bool(args.resume))
    plan.record(scene_dir, refresh=bool(args.resume))
    plan.check()
    # --seed seeds both; SfM's options are read only when it runs
    sfm_options = options_from_args(SfmOptions, args, seed=options.seed) if args.colmap is None else None
    fitted = fit_photos(
        args.images,
        scene_dir,
        options,
        colmap=args.colmap,
        sfm_options=sfm_options,
        resume=bool(args.resume),
        progress=ctx.progress,
        notice=ctx.notice,
    )
    ctx.timings.update(fitted.timings)
    result = fitted.fit
    metrics = fitted.metrics
    record = save_record(
        scene_dir,
        args,
        ctx,
        inputs=inputs,
        options={
            "images": args.images,
            "colmap": args.colmap,
            "resume": args.resume,
            **options_dict(options),
        },
        status=result.status,
        extra={
            "steps": result.steps,
            "views": fitted.views,
            "unregistered": fitted.unregistered,
            "sfm": fitted.sfm,
            "heldout_psnr": metrics.get("psnr"),
            "baseline_psnr": metrics.get("baseline_psnr"),
            "written": [str(p) for p in fitted.written],
        },
    )
    if result.status == "interrupted":
        return _interrupted(
            ctx,
            f"saved the scene at step {result.steps} in {scene_dir} (record {record}); "
            "run again with --resume to continue",
        )
    if result.status == "non-finite":
        ctx.close()
        print(
            f"easel flythrough fit: {result.message}; saved the last good scene in {scene_dir}",
            file=sys.stderr,
        )
        return 1
    psnr = metrics.get("psnr")
    figures = (
        f"held-out PSNR {psnr:.2f} dB (splatting {metrics['baseline_psnr']:.2f} dB)"
        if psnr is not None
        else "no held-out views"
    )
    ctx.done(f"wrote {scene_dir} ({result.steps} steps, {figures})")
    return 0


def _render(args: argparse.Namespace, ctx: CommandContext) -> int:
    from easel.flythrough.options import RenderOptions
    from easel.flythrough.pipeline import render_video
    from easel.io.video import video_format
    from easel.options import options_dict

    options = options_from_args(RenderOptions, args)
    inputs = [args.scene, args.camera_path]
    plan = new_plan(args, inputs)
    if video_format(args.output) == "frames":
        out = plan.folder(args.output, option="-o", record=True)
    else:
        out = plan.file(args.output, option="-o", suffixes=VIDEO_SUFFIXES, record=True)
    plan.check()
    video = render_video(args.scene, out, options, camera_path=args.camera_path, progress=ctx.progress)
    ctx.timings["render_and_write"] = video.seconds
    frames, total, fps = video.frames, video.frames_planned, video.fps
    w, h = video.frame_size
    record = save_record(
        out,
        args,
        ctx,
        inputs=[p for p in inputs if p is not None],
        options={
            "scene": args.scene,
            "camera_path": args.camera_path,
            **options_dict(options),
            "device": video.device,
        },
        status=video.status,
        extra={"frames": frames, "frames_planned": total, "frame_size": [w, h], "fps": fps},
    )
    if video.status == "interrupted":
        return _interrupted(ctx, f"kept the first {frames} of {total} frames in {out} (record {record})")
    rate = f", {frames / video.seconds:.1f} frames/s" if video.seconds > 0 else ""
    ctx.done(f"wrote {out} ({frames} frames, {w}x{h}, {fps:g} fps{rate})")
    return 0


def _eval(args: argparse.Namespace, ctx: CommandContext) -> int:
    from easel.flythrough.scene import Scene
    from easel.io.atomic import write_text_atomic

    inputs = [args.scene]
    out = None
    if args.output is not None:
        plan = new_plan(args, inputs)
        out = plan.file(args.output, option="-o", suffixes=(".json",), record=True)
        plan.check()
    scene = Scene.load(args.scene, device=args.device)
    with ctx.timed("evaluate"):
        figures = scene.evaluate()
    if out is not None:
        write_text_atomic(out, json.dumps(figures, indent=1) + "\n")
        save_record(out, args, ctx, inputs=inputs, options={"scene": args.scene, "device": str(scene.device)})
    lines = [f"{v['name']}: PSNR {v['psnr']:.2f} dB, SSIM {v['ssim']:.4f}" for v in figures["views"]]
    lines.append(
        f"held-out mean: PSNR {figures['psnr']:.2f} dB, SSIM {figures['ssim']:.4f} "
        f"(plain splatting: {figures['baseline_psnr']:.2f} dB, {figures['baseline_ssim']:.4f})"
    )
    if out is not None:
        lines.append(f"wrote {out}")
    ctx.done("\n".join(lines))
    return 0


def _export(args: argparse.Namespace, ctx: CommandContext) -> int:
    from easel.flythrough.scene import Scene, write_point_cloud

    inputs = [args.scene]
    plan = new_plan(args, inputs)
    out = plan.file(args.points, option="--points", suffixes=(".ply",), record=True)
    plan.check()
    scene = Scene.load(args.scene)
    points, colors = scene.point_cloud()
    with ctx.timed("write"):
        write_point_cloud(out, points, colors)
    save_record(out, args, ctx, inputs=inputs, options={"scene": args.scene}, extra={"points": len(points)})
    ctx.done(f"wrote {out} ({len(points)} points)")
    return 0


def demo(gallery: Gallery) -> None:
    """A synthetic 12-photo scene: fit it (quick), then a fly-through video along its cameras.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """
    from easel.flythrough.synthetic import write_synthetic_scene

    data = gallery.path("inputs/flythrough_synthetic")
    if gallery.quick:
        synthetic = write_synthetic_scene(data, num_views=8, shape=(48, 64), points=10_000, supersample=1)
    else:
        synthetic = write_synthetic_scene(data, num_views=12, shape=(72, 96), points=40_000, supersample=2)
    scene = gallery.path("flythrough_scene")
    video = gallery.path("flythrough.mp4")
    steps = "20" if gallery.quick else "400"
    fitted = gallery.run(
        "Fly-through",
        f"Fit a synthetic {len(synthetic.names)}-photo scene with exact cameras ({steps} steps)",
        [
            "flythrough",
            "fit",
            str(synthetic.images_dir),
            "--colmap",
            str(synthetic.model_dir),
            "-o",
            str(scene),
        ]
        + ["--steps", steps, "--eval-every", "100"],
        inputs=[synthetic.images_dir / synthetic.names[1]],
        outputs=[scene / "metrics.json"],
        note="Every 8th photo is held out; metrics.json compares its PSNR with plain point splatting.",
    )
    if fitted:
        gallery.run(
            "Fly-through",
            "A 3 s video along a smooth path through the input cameras",
            ["flythrough", "render", str(scene), "-o", str(video), "--seconds", "3", "--fps", "15"],
            inputs=[],
            outputs=[video],
        )
