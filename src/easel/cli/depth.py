"""``easel depth``: estimate depth from a photo, or convert/refine/preview a depth file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from easel.cli._common import (
    CommandContext,
    add_device,
    add_max_size,
    add_output,
    add_weights,
    load_image,
    positive_int,
    prepare_output,
    save_record,
)
from easel.errors import InputError

if TYPE_CHECKING:
    from easel.gallery import Gallery

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


def depth_range_arg(text: str) -> tuple[float, float]:
    """``"near,far"`` -> ``(near, far)`` with ``0 < near < far``."""
    from easel.depth.convert import check_depth_range

    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected near,far (two numbers), got {text!r}")
    try:
        values = (float(parts[0]), float(parts[1]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected near,far (two numbers), got {text!r}") from None
    try:
        return check_depth_range(values)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from easel.depth.files import DEPTH_KINDS, DEPTH_SUFFIXES
    from easel.depth.registry import DEFAULT_MODEL

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
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="NAME",
        help=f"depth network (default {DEFAULT_MODEL}; see the list below)",
    )
    add_weights(group, DEFAULT_MODEL)  # type: ignore[arg-type]
    add_device(group)  # type: ignore[arg-type]
    group.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16", "auto"),
        default="fp32",
        help="fp32 (default), or bf16/fp16 autocast (faster on GPUs and bf16-capable CPUs)",
    )
    depth = parser.add_argument_group("depth")
    depth.add_argument(
        "--depth",
        type=Path,
        metavar="FILE",
        help="use this depth/disparity file instead of estimating (.npy, .png, .exr, .tif, .pfm)",
    )
    depth.add_argument(
        "--depth-kind",
        choices=DEPTH_KINDS,
        default="depth",
        help="what --depth holds: depth (distance, default) or disparity (larger = nearer)",
    )
    depth.add_argument(
        "--depth-range",
        type=depth_range_arg,
        metavar="NEAR,FAR",
        help="depth of the nearest and farthest pixel in scene units (default 1,10 for relative "
        "disparity; a --depth of kind depth keeps its own values unless given)",
    )
    refine = depth.add_mutually_exclusive_group()
    refine.add_argument(
        "--refine",
        dest="refine",
        action="store_true",
        default=None,
        help="align depth edges to the photo's colour edges (default: on for estimated depth, "
        "and for a --depth map smaller than the photo)",
    )
    refine.add_argument(
        "--no-refine",
        dest="refine",
        action="store_false",
        help="never refine",
    )
    depth.add_argument(
        "--refine-radius",
        type=positive_int,
        metavar="PX",
        help="refinement window radius (default 1%% of the long side, at least 4)",
    )
    add_max_size(parser)


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from easel.depth.convert import resize_depth
    from easel.depth.files import DEPTH_SUFFIXES, read_depth, write_depth

    if args.image is None and args.depth is None:
        raise InputError("give a photo (IMAGE) to estimate depth from, or --depth FILE to convert")
    inputs = [p for p in (args.image, args.depth) if p is not None]
    out = prepare_output(args.output, inputs, args.overwrite, suffixes=DEPTH_SUFFIXES)
    preview = None
    if args.preview is not None:
        if Path(args.preview).resolve() == out.resolve():
            raise InputError(f"{args.preview}: --preview must differ from the output")
        preview = prepare_output(args.preview, inputs, args.overwrite, suffixes=PREVIEW_SUFFIXES)

    rgb = None
    if args.image is not None:
        rgb = load_image(args.image, ctx, max_size=args.max_size).rgb
    source: dict[str, object]
    if args.depth is not None:
        if args.weights is not None:
            ctx.notice("--weights is ignored with --depth (no network runs)")
        size = None if rgb is None else (rgb.shape[0], rgb.shape[1])
        with ctx.timed("read_depth"):
            depth = read_depth(args.depth, kind=args.depth_kind, depth_range=args.depth_range)
            enlarged = size is not None and depth.shape[0] * depth.shape[1] < size[0] * size[1]
            if size is not None:
                depth = resize_depth(depth, size, name=str(args.depth))
        refined = rgb is not None and (args.refine or (args.refine is None and enlarged))
        if refined and rgb is not None:
            from easel.depth.refine import refine_depth

            with ctx.timed("refine"):
                depth = refine_depth(depth, rgb, radius=args.refine_radius)
        source = {"depth_file": str(args.depth), "kind": args.depth_kind, "refined": bool(refined)}
    else:
        assert rgb is not None
        depth = _estimate(args, ctx, rgb)
        source = {"model": args.model, "refined": args.refine is not False}

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
        extra={
            "depth": {**source, "near": near, "far": far, "height": depth.shape[0], "width": depth.shape[1]}
        },
    )
    also = f" and {preview}" if preview is not None else ""
    ctx.done(f"wrote {out}{also} ({depth.shape[1]}x{depth.shape[0]}, depth {near:.3g} to {far:.3g})")
    return 0


def _estimate(args: argparse.Namespace, ctx: CommandContext, rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    from easel.depth.convert import DEFAULT_DEPTH_RANGE, disparity_to_depth, rescale_depth, validate_depth
    from easel.depth.estimator import get_estimator
    from easel.depth.refine import refine_depth, refine_disparity

    with ctx.timed("load_model"):
        estimator = get_estimator(
            args.model, weights=args.weights, device=args.device, precision=args.precision
        )
    with ctx.timed("network"):
        raw = estimator.predict(rgb, progress=ctx.progress)
    name = f"the depth predicted by {args.model}"
    with ctx.timed("refine"):
        if estimator.output == "disparity":
            if args.refine is not False:
                raw = refine_disparity(raw, rgb, radius=args.refine_radius)
            return disparity_to_depth(raw, args.depth_range or DEFAULT_DEPTH_RANGE, name=name)
        depth = validate_depth(raw, name=name)
        if args.refine is not False:
            depth = refine_depth(depth, rgb, radius=args.refine_radius)
        return rescale_depth(depth, args.depth_range) if args.depth_range else depth


def demo(gallery: Gallery) -> None:
    """Depth of a sample photo when the weights are cached, else of a synthetic scene."""
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
    """A textured box in front of a textured wall, with exact depth (wall 8, box 3 units)."""
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
