"""``easel superpixels``: SLIC superpixels filled with their mean colour."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from easel.cli._common import (
    CommandContext,
    add_max_size,
    add_output,
    load_image,
    positive_float,
    positive_int,
    prepare_output,
    save_record,
)

if TYPE_CHECKING:
    from easel.gallery import Gallery

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


def _hex_color(text: str) -> tuple[float, float, float]:
    value = text.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    try:
        if len(value) != 6:
            raise ValueError
        rgb = tuple(int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a colour like '#ffcc00', got {text!r}") from None
    return rgb[0], rgb[1], rgb[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, metavar="IMAGE", help="input image")
    parser.add_argument(
        "-n",
        "--segments",
        dest="n_segments",
        type=positive_int,
        default=500,
        metavar="N",
        help="approximate number of superpixels (default 500)",
    )
    parser.add_argument(
        "--compactness",
        type=positive_float,
        default=10.0,
        metavar="M",
        help="shape regularity vs colour fidelity, scikit-image's scale (default 10)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--boundaries", action="store_true", help="draw the outlines over the mean-colour fill")
    mode.add_argument(
        "--boundaries-only", action="store_true", help="draw the outlines over the original image, no fill"
    )
    parser.add_argument(
        "--boundary-color",
        type=_hex_color,
        default=(1.0, 1.0, 0.0),
        metavar="HEX",
        help="outline colour (default '#ffff00', yellow)",
    )
    add_max_size(parser)
    add_output(parser, "output image (.png, .jpg, .webp or .tif)")


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    from easel.art.superpixels import mark_boundaries, mean_color, slic_superpixels
    from easel.io.images import WRITE_SUFFIXES, write_image

    out = prepare_output(args.output, [args.image], args.overwrite, suffixes=WRITE_SUFFIXES)
    loaded = load_image(args.image, ctx, args.max_size)
    with ctx.timed("superpixels"):
        labels = slic_superpixels(loaded.rgb, args.n_segments, args.compactness, progress=ctx.progress)
    with ctx.timed("render"):
        if args.boundaries_only:
            image = mark_boundaries(loaded.rgb, labels, args.boundary_color)
        else:
            image = mean_color(loaded.rgb, labels)
            if args.boundaries:
                image = mark_boundaries(image, labels, args.boundary_color)
    with ctx.timed("write"):
        write_image(out, image, alpha=loaded.alpha)
    n_found = int(labels.max()) + 1
    save_record(
        out,
        args,
        ctx,
        inputs=[args.image],
        extra={"segments_found": n_found, "size": [int(image.shape[1]), int(image.shape[0])]},
    )
    ctx.done(f"wrote {out} ({n_found} superpixels)")
    return 0


def demo(gallery: Gallery) -> None:
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
