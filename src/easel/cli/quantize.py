"""``easel quantize``: reduce an image to K colours (K-means), optionally dithered."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from easel.art.quantize import QuantizeOptions
from easel.cli._common import (
    CommandContext,
    add_max_size,
    add_output,
    load_image,
    load_kernels_in_background,
    save_record,
)
from easel.cli._options import add_options, options_from_args
from easel.errors import InputError
from easel.io.outputs import OutputPlan
from easel.options import options_dict
from easel.text import plural

if TYPE_CHECKING:
    from easel.cli._gallery import Gallery

NAME = "quantize"
HELP = "reduce an image to K colours with K-means (posterize), optionally dithered"
ORDER = 10
DESCRIPTION = """\
Colour quantization: K-means clusters the image's colours into K groups and
every pixel takes the mean colour (centroid) of its group. --space lab clusters
in CIELAB, which spends the palette closer to how differences look; --dither
spreads the error with Floyd-Steinberg, trading flat areas for finer gradients.
--palette also writes a swatch strip of the K colours with their hex codes,
most used first. A .png output is an indexed-colour PNG (the palette and one
index per pixel: small, fast to write, the same colours); --compress trades
writing time for file size. Results are reproducible for a given --seed. A transparent
input keeps its alpha channel when OUT can store it (PNG, WebP, TIFF), and its
fully transparent pixels do not take part in choosing the palette.
"""
EPILOG = """\
examples:
  easel quantize photo.jpg -k 16 -o poster.png
  easel quantize photo.jpg -k 8 --space lab --dither -o dithered.png --palette palette.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel quantize``'s arguments and options to ``parser`` (from :class:`QuantizeOptions`).

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel quantize")
        >>> add_arguments(parser)
        >>> parser.parse_args(["photo.jpg", "-k", "8", "-o", "poster.png"]).n_colors
        8
    """
    parser.add_argument("image", type=Path, metavar="IMAGE", help="input image")
    add_options(parser, QuantizeOptions)
    parser.add_argument(
        "--palette",
        type=Path,
        metavar="PNG",
        help="also write the palette as a swatch strip with hex codes (an image file)",
    )
    parser.add_argument(
        "--compress",
        type=int,
        choices=range(10),
        metavar="0-9",
        help="PNG compression level: 0 fastest, 9 smallest (default: 1 for images of a megapixel "
        "or more, 6 for smaller ones)",
    )
    add_max_size(parser)
    add_output(parser, "output image (.png keeps the colours exact, as an indexed PNG; .jpg blurs them)")


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel quantize`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["quantize", "photo.jpg", "-k", "8", "-o", "poster.png"])  # runs this function  # doctest: +SKIP
        0
    """
    from easel.art.quantize import load_kernels, palette_swatch, quantize_colors, write_quantized
    from easel.io.images import WRITE_SUFFIXES, write_image

    options: QuantizeOptions = options_from_args(QuantizeOptions, args).validate()
    # every file this run writes, checked together before the image is read
    plan = OutputPlan(inputs=[args.image], overwrite=args.overwrite)
    out = plan.file(args.output, option="-o", suffixes=WRITE_SUFFIXES, record=True)
    palette_out: Path | None = None
    if args.palette is not None:
        if Path(args.palette).resolve() == out.resolve():
            raise InputError(f"{args.palette}: --palette must differ from -o/--output")
        palette_out = plan.file(args.palette, option="--palette", suffixes=WRITE_SUFFIXES)
    plan.check()
    load_kernels_in_background(args.image, load_kernels, options)

    loaded = load_image(args.image, ctx, args.max_size, min_side=1)
    with ctx.timed("quantize"):
        result = quantize_colors(
            loaded.rgb,
            options=options,
            # transparent pixels keep their place but do not choose the palette
            mask=None if loaded.alpha is None or not (loaded.alpha > 0).any() else loaded.alpha > 0,
            progress=ctx.progress,
        )
    if result.note:  # fewer distinct colours than asked: the palette has them all
        ctx.notice(f"{args.image}: {result.note}")
    with ctx.timed("write"):
        write_quantized(out, result, alpha=loaded.alpha, compress_level=args.compress)
        if palette_out is not None:
            write_image(palette_out, palette_swatch(result.palette, result.counts))
    save_record(
        out,
        args,
        ctx,
        inputs=[args.image],
        options={
            "image": args.image,
            "output": out,
            "palette": palette_out,
            "compress": args.compress,
            "max_size": args.max_size,
            **options_dict(options),
        },
        extra={
            "palette": result.hex_codes,
            "counts": result.counts.tolist(),
            "mse": result.mse,
            "size": [int(result.labels.shape[1]), int(result.labels.shape[0])],
        },
    )
    extra = f" and {palette_out}" if palette_out is not None else ""
    n_found = len(result.palette)
    ctx.done(f"wrote {out}{extra} ({plural(n_found, 'colour')}, mse {result.mse:.5f})")
    return 0


def demo(gallery: Gallery) -> None:
    """Two posters of bundled photos: 8 colours with their palette, and 6 dithered colours in CIELAB.

    Example:
        >>> from easel.cli._gallery import Gallery
        >>> demo(Gallery(Path("outputs/demo")))  # doctest: +SKIP
    """
    photo = gallery.sample("astronaut", max_size=512)
    poster = gallery.path("quantize_astronaut_k8.png")
    swatch = gallery.path("quantize_astronaut_k8_palette.png")
    gallery.run(
        "Colour quantization",
        "K-means, 8 colours",
        ["quantize", str(photo), "-k", "8", "-o", str(poster), "--palette", str(swatch)],
        inputs=[photo],
        outputs=[poster, swatch],
        note="Every pixel takes the centroid of its K-means cluster; the swatch lists the palette, most used first.",
    )
    coffee = gallery.sample("coffee", max_size=512)
    dithered = gallery.path("quantize_coffee_k6_lab_dither.png")
    gallery.run(
        "Colour quantization",
        "6 colours in CIELAB, Floyd-Steinberg dithering",
        ["quantize", str(coffee), "-k", "6", "--space", "lab", "--dither", "-o", str(dithered)],
        inputs=[coffee],
        outputs=[dithered],
        note="Dithering trades flat areas for smoother gradients with the same 6 colours.",
    )
