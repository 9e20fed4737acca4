"""``easel depth``: estimate depth from a photo, or convert/refine/preview a depth file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from easel.cli._common import (
    CommandContext,
    add_max_size,
    add_output,
    load_image,
    save_record,
)
from easel.cli._options import add_options, argument_group, options_from_args
from easel.errors import InputError
from easel.io.outputs import OutputPlan
from easel.options import declared_options, options_dict

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery

NAME = "depth"
ORDER = 50
HELP = "estimate a depth map from one photo (or convert, refine and preview a depth file)"
DESCRIPTION = """\
Estimates depth from one photo with a monocular network (Depth Anything V2
Small by default, Apache-2.0: run `easel weights download depth-anything-v2-small`
once), aligns its edges with the photo's colour edges, and converts the network's
relative disparity to depth spanning --depth-range (near,far in scene units;
default 1,10).

With --depth FILE it reads your own depth or disparity map instead (a phone's
portrait depth, another tool's output), resizes it to the photo, fills small
holes, refines it when it had to be enlarged, and writes it in another format,
with a preview.

Outputs: .npy (float32 depth), .png (16-bit inverse depth, its range stored in
the file), .exr, .tif or .pfm (float32 depth). --preview writes a colour-mapped
picture (near = bright). See docs/depth.md.
"""
EPILOG = """examples:
  easel weights download depth-anything-v2-small       # once (99 MB)
  easel depth photo.jpg -o depth.png --preview depth_preview.png
  easel depth photo.jpg -o depth.npy --depth-range 2,50 --device cuda
  easel depth photo.jpg --depth phone_depth.png --depth-kind disparity -o depth.exr --preview p.png
  easel depth photo.jpg -o depth.npy --model depth-anything-v2-base --weights ./Depth-Anything-V2-Base-hf

models (licence): depth-anything-v2-small (Apache-2.0, default), dpt-large (DPT/MiDaS 3.0,
Apache-2.0; easel weights download dpt-large), depth-anything-v2-base and depth-anything-v2-large
(CC-BY-NC-4.0, non-commercial; --weights FOLDER), dpt-hybrid-midas (Apache-2.0; --weights FOLDER).
See docs/depth.md.
"""

PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel depth``'s arguments and options to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel depth")
        >>> add_arguments(parser)
        >>> parser.parse_args(["photo.jpg", "-o", "depth.png"]).output
        PosixPath('depth.png')
    """
    from easel.depth.files import DEPTH_SUFFIXES
    from easel.depth.options import DepthOptions

    parser.add_argument(
        "image",
        nargs="?",
        type=Path,
        metavar="IMAGE",
        help="the photo (optional with --depth: then no resizing or edge refinement)",
    )
    add_output(parser, f"depth file: {', '.join(DEPTH_SUFFIXES)}")
    parser.add_argument(
        "--preview", type=Path, metavar="PNG", help="also write a colour-mapped preview (near = bright)"
    )
    argument_group(parser, "model")
    argument_group(parser, "depth").add_argument(
        "--depth",
        type=Path,
        metavar="FILE",
        help="use this depth/disparity file instead of estimating (.npy, .png, .exr, .tif, .pfm)",
    )
    add_options(parser, DepthOptions, exclude=("refine",))
    # --refine / --no-refine: one tri-state field (None = the default rule), two exclusive flags
    refine = argument_group(parser, "depth").add_mutually_exclusive_group()
    declared = next(o for o in declared_options(DepthOptions) if o.name == "refine")
    refine.add_argument("--refine", dest="refine", action="store_true", default=None, help=declared.spec.help)
    refine.add_argument("--no-refine", dest="refine", action="store_false", help="never refine")
    add_max_size(parser)


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Run ``easel depth`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["depth", "photo.jpg", "-o", "depth.png"])  # runs this function  # doctest: +SKIP
        0
    """
    from easel.depth.files import DEPTH_SUFFIXES, write_depth
    from easel.depth.options import DepthOptions
    from easel.depth.pipeline import depth_for_image

    options: DepthOptions = options_from_args(DepthOptions, args).validate()
    if args.image is None and args.depth is None:
        raise InputError("give a photo (IMAGE) to estimate depth from, or --depth FILE to convert")
    inputs = [p for p in (args.image, args.depth) if p is not None]
    # every file this run writes, checked together before a pixel is read or a model loaded
    plan = OutputPlan(inputs=inputs, overwrite=args.overwrite)
    out = plan.file(args.output, option="-o", suffixes=DEPTH_SUFFIXES, record=True)
    preview = None
    if args.preview is not None:
        if Path(args.preview).resolve() == out.resolve():
            raise InputError(f"{args.preview}: --preview must differ from the output")
        preview = plan.file(args.preview, option="--preview", suffixes=PREVIEW_SUFFIXES)
    plan.check()

    rgb = None
    if args.image is not None:
        rgb = load_image(args.image, ctx, max_size=args.max_size).rgb
        fitted = options.for_image(rgb.shape[:2])
        if fitted.refine_radius != options.refine_radius:
            ctx.notice(
                f"--refine-radius {options.refine_radius} is larger than the photo; using {fitted.refine_radius}"
            )
        options = fitted
    if args.depth is not None and options.weights is not None:
        ctx.notice("--weights is ignored with --depth (no network runs)")
    result = depth_for_image(rgb, options, depth_file=args.depth, progress=ctx.progress)
    ctx.timings.update(result.timings)
    depth = result.depth
    source: dict[str, object] = (
        {"model": result.model, "refined": result.refined}
        if args.depth is None
        else {"depth_file": str(args.depth), "kind": options.depth_kind, "refined": result.refined}
    )

    with ctx.timed("write"):
        write_depth(out, depth)
        if preview is not None:
            from easel.depth.preview import colorize_depth
            from easel.io.images import write_image

            write_image(preview, colorize_depth(depth))
    near, far = float(np.min(depth)), float(np.max(depth))
    save_record(
        out,
        args,
        ctx,
        inputs=inputs,
        options={
            "image": args.image,
            "depth": args.depth,
            "output": out,
            "preview": preview,
            "max_size": args.max_size,
            **options_dict(result.options),
            # what ran, not "auto" (no network runs for a depth file)
            "device": result.device,
            "precision": result.precision,
        },
        extra={
            "depth": {**source, "near": near, "far": far, "height": depth.shape[0], "width": depth.shape[1]}
        },
    )
    also = f" and {preview}" if preview is not None else ""
    ctx.done(f"wrote {out}{also} ({depth.shape[1]}x{depth.shape[0]}, depth {near:.3g} to {far:.3g})")
    return 0


def demo(gallery: Gallery) -> None:
    """Depth of a sample photo when the weights are cached, else of a synthetic scene.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """
    from easel import weights
    from easel.depth.registry import DEFAULT_MODEL

    if weights.is_present(DEFAULT_MODEL):
        image = gallery.sample("astronaut", max_size=768)
        out = gallery.path("depth_astronaut.png")
        preview = gallery.path("depth_astronaut_preview.png")
        gallery.run(
            "3D: depth",
            "Depth Anything V2 Small",
            ["depth", str(image), "-o", str(out), "--preview", str(preview)],
            [image],
            [preview],
            note="16-bit depth PNG plus a preview (near = bright)",
        )
        return
    from easel.depth.files import write_depth

    rgb, depth = synthetic_scene()
    image = gallery.add_input("depth_scene.png", rgb)
    depth_in = gallery.out_dir / "inputs" / "depth_scene.npy"
    write_depth(depth_in, depth)
    out = gallery.path("depth_scene.png")
    preview = gallery.path("depth_scene_preview.png")
    gallery.run(
        "3D: depth",
        "A given depth map (synthetic scene), converted and previewed",
        ["depth", str(image), "--depth", str(depth_in), "-o", str(out), "--preview", str(preview)],
        [image],
        [preview],
        note=f"no depth weights cached: run `easel weights download {DEFAULT_MODEL}` to see estimation",
    )


def synthetic_scene(height: int = 384, width: int = 512) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """A textured box in front of a textured wall, with exact depth (wall 8, box 3 units).

    Example:
        >>> image, depth = synthetic_scene(48, 64)
        >>> image.shape, float(depth.min()), float(depth.max())
        ((48, 64, 3), 3.0, 8.0)
    """
    import skimage.data

    from easel.image import as_float_rgb, resize

    wall = resize(as_float_rgb(skimage.data.brick()), (height, width))
    box = resize(as_float_rgb(skimage.data.chelsea()), (height // 2, width // 3))
    rgb = wall.copy()
    depth = np.full((height, width), 8.0, np.float32)
    top, left = height // 4, width // 3
    rgb[top : top + box.shape[0], left : left + box.shape[1]] = box
    depth[top : top + box.shape[0], left : left + box.shape[1]] = 3.0
    return rgb, depth
