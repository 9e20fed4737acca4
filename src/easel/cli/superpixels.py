"""``easel superpixels``: SLIC superpixels filled with their mean colour."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from easel.art.superpixels import SuperpixelOptions
from easel.cli._common import (
    CommandContext,
    add_max_size,
    add_output,
    load_image,
    load_kernels_in_background,
    save_record,
)
from easel.cli._options import add_options, options_from_args
from easel.io.outputs import OutputPlan
from easel.options import declared_options, options_dict
from easel.text import plural

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery

NAME = "superpixels"
HELP = "SLIC superpixels: a mosaic of compact regions, each filled with its mean colour"
ORDER = 11
DESCRIPTION = """\
Cut the image into about N superpixels with SLIC (k-means on colour and
position, in CIELAB) and fill each one with the mean colour of its pixels.
--compactness uses scikit-image's scale: higher values give rounder, more
regular cells, lower values follow colour edges more closely (1-40 is useful).

What is drawn:
  (default)          the mean-colour mosaic
  --boundaries       the mosaic with the superpixel outlines on top
  --boundaries-only  the outlines over the original image (no fill)

A transparent input keeps its alpha channel when OUT can store it (PNG, WebP, TIFF).
"""
EPILOG = """\
examples:
  easel superpixels photo.jpg -n 500 --compactness 10 -o mosaic.png
  easel superpixels photo.jpg -n 2000 --boundaries-only --boundary-color '#ff0000' -o outlines.png
"""

_MODES = ("boundaries", "boundaries_only")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel superpixels``' arguments and options to ``parser`` (from :class:`SuperpixelOptions`).

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel superpixels")
        >>> add_arguments(parser)
        >>> parser.parse_args(["photo.jpg", "-o", "mosaic.png"]).output
        PosixPath('mosaic.png')
    """
    parser.add_argument("image", type=Path, metavar="IMAGE", help="input image")
    add_options(parser, SuperpixelOptions, exclude=_MODES)
    # what is drawn: the two outline modes exclude each other (the declaration says so too)
    declared = {o.name: o for o in declared_options(SuperpixelOptions)}
    mode = parser.add_mutually_exclusive_group()
    for name in _MODES:
        mode.add_argument(declared[name].flag, dest=name, action="store_true", help=declared[name].spec.help)
    add_max_size(parser)
    add_output(parser, "output image (.png, .jpg, .webp or .tif)")


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel superpixels`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["superpixels", "photo.jpg", "-o", "mosaic.png"])  # runs this function  # doctest: +SKIP
        0
    """
    from easel.art.superpixels import load_kernels, superpixel_mosaic
    from easel.io.images import WRITE_SUFFIXES, write_image

    options: SuperpixelOptions = options_from_args(SuperpixelOptions, args).validate()
    # every file this run writes, checked together before the image is read
    plan = OutputPlan(inputs=[args.image], overwrite=args.overwrite)
    out = plan.file(args.output, option="-o", suffixes=WRITE_SUFFIXES, record=True)
    plan.check()
    load_kernels_in_background(args.image, load_kernels)
    loaded = load_image(args.image, ctx, args.max_size, min_side=1)
    n_pixels = loaded.shape[0] * loaded.shape[1]
    if options.n_segments > n_pixels:  # clamped by SLIC: say so rather than pretend
        ctx.notice(
            f"-n {options.n_segments} is more than the image's {plural(n_pixels, 'pixel')}; "
            f"at most {plural(n_pixels, 'superpixel')} can be made"
        )
    with ctx.timed("superpixels"):
        result = superpixel_mosaic(loaded.rgb, options, progress=ctx.progress)
    with ctx.timed("write"):
        write_image(out, result.image, alpha=loaded.alpha)
    save_record(
        out,
        args,
        ctx,
        inputs=[args.image],
        options={"image": args.image, "output": out, "max_size": args.max_size, **options_dict(options)},
        extra={
            "segments_found": result.n_segments,
            "size": [int(result.image.shape[1]), int(result.image.shape[0])],
        },
    )
    ctx.done(f"wrote {out} ({plural(result.n_segments, 'superpixel')})")
    return 0


def demo(gallery: Gallery) -> None:
    """Two superpixel mosaics of bundled photos: 300 cells with outlines, and 1500 compact ones.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """
    photo = gallery.sample("chelsea", max_size=512)
    mosaic = gallery.path("superpixels_chelsea_n300.png")
    gallery.run(
        "Superpixels",
        "SLIC, 300 superpixels, mean colour with outlines",
        ["superpixels", str(photo), "-n", "300", "--compactness", "10", "--boundaries", "-o", str(mosaic)],
        inputs=[photo],
        outputs=[mosaic],
        note="Each superpixel is filled with the mean colour of its pixels; outlines in yellow.",
    )
    coffee = gallery.sample("coffee", max_size=512)
    fine = gallery.path("superpixels_coffee_n1500_c20.png")
    gallery.run(
        "Superpixels",
        "1500 compact superpixels (compactness 20)",
        ["superpixels", str(coffee), "-n", "1500", "--compactness", "20", "-o", str(fine)],
        inputs=[coffee],
        outputs=[fine],
        note="More, more regular cells give a mosaic look.",
    )
