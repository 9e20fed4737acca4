"""Classical art filters (NumPy and numba): colour quantization and SLIC superpixels.

* :mod:`easel.art.quantize` -- :func:`quantize_colors` (K-means) and its
  :class:`QuantizeOptions`, :func:`palette_swatch`;
* :mod:`easel.art.superpixels` -- :func:`slic_superpixels`, :func:`superpixel_mosaic`
  (what ``easel superpixels`` draws) and its :class:`SuperpixelOptions`, :func:`mean_color`, borders;
* :mod:`easel.art._kernels` -- their numba loops, each tested against a NumPy reference.

Names are imported on first use, and the drivers load numba only when they
run, so reading ``easel.art.quantize.SPACES`` stays light.

Example:
    >>> from easel.art import QuantizeOptions, quantize_colors, slic_superpixels  # doctest: +SKIP
    >>> poster = quantize_colors(image, n_colors=16).image          # doctest: +SKIP
    >>> labels = slic_superpixels(image, n_segments=500, compactness=10)  # doctest: +SKIP
    >>> options = QuantizeOptions(n_colors=8, space="lab")          # doctest: +SKIP
    >>> poster = quantize_colors(image, options=options).image       # doctest: +SKIP
"""

from __future__ import annotations

from easel._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "easel.art.quantize": [
            "QuantizeOptions",
            "QuantizeResult",
            "palette_swatch",
            "quantize_colors",
            "to_hex",
        ],
        "easel.art.superpixels": [
            "SuperpixelOptions",
            "SuperpixelResult",
            "boundary_mask",
            "mark_boundaries",
            "mean_color",
            "relabel_consecutive",
            "slic_superpixels",
            "superpixel_mosaic",
        ],
    },
    submodules=["quantize", "superpixels"],
)
