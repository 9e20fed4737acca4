"""The settings of a style transfer, declared once for the API, the CLI and the studio.

:class:`StyleOptions` is plain data (no torch): ``easel stylize --help`` and
the studio's forms are built from its field declarations
(:func:`easel.options.option`) without loading the network, and its
:meth:`~StyleOptions.validate` names the bad field (``style_weight must be
...``), which the CLI shows with the user's flag.

Example:
    >>> opts = StyleOptions(size=1024)
    >>> opts.scales((600, 800))
    [(192, 256), (384, 512), (768, 1024)]
    >>> StyleOptions(size=384).scales((600, 800))  # small outputs get a coarse pass too
    [(144, 192), (288, 384)]
    >>> opts.resolved_iterations(), StyleOptions(multiscale=False).resolved_iterations()
    (80, 500)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

from easel.devices import device_option
from easel.nets.options import PRECISIONS, model_option, precision_option, weights_option
from easel.nets.registry import PREPROCESSING as MODEL_PREPROCESSING
from easel.nets.vgg_layers import LAYERS, POOLINGS, PREPROCESSINGS
from easel.options import OptionError, option
from easel.pyramid import pyramid_shapes
from easel.style.color import PRESERVE_COLOR_CHOICES

__all__ = [
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "DEFAULT_STYLE_LAYER_WEIGHTS",
    "INIT_CHOICES",
    "MIN_SIDE",
    "OPTIMIZERS",
    "PRECISIONS",
    "StyleOptions",
]

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_STYLE_LAYER_WEIGHTS = (1.0, 0.75, 0.2, 0.2, 0.2)
DEFAULT_CONTENT_LAYERS = ("relu4_2",)
INIT_CHOICES = ("content", "noise", "style")
OPTIMIZERS = ("lbfgs", "adam")
MIN_SIDE = 32
"""Smallest side (px) of a content or style image that carries usable features."""
MULTISCALE_ITERATIONS = 80
"""Default iterations at the finest scale with multiscale (most of the work is done coarser)."""
SINGLE_SCALE_ITERATIONS = 500
"""Default iterations without multiscale (Gatys et al.'s full-resolution run)."""
COARSEST_SCALE = 256
"""Default long side of the coarsest scale for outputs of 512 px and more (half the output below)."""

_SIZE = "size and iterations"
_LOSSES = "losses"
_OPTIM = "optimization"
_ENCODER = "encoder"


@dataclass
class StyleOptions:
    """Settings of a style transfer (the CLI's options, with the same names).

    Attributes:
        size: long side of the output, in pixels.
        iterations: optimizer iterations at the finest scale; ``None`` = 80 with
            ``multiscale``, 500 without (see :meth:`resolved_iterations`).
        coarse_iterations: iterations at each coarser scale (``None``: same as ``iterations``).
            Coarse iterations cost a quarter (or less) of a fine one, so the default
            spends most of them there (200 coarse, 80 at the finest scale).
        content_weight: α, weight of the content loss.
        style_weight: β, weight of the style loss (each style's own weight multiplies it).
        tv_weight: γ, weight of the total-variation smoothness loss.
        content_layers: VGG-19 layers of the content loss.
        style_layers: VGG-19 layers of the style loss.
        style_layer_weights: per-layer weights λ (default 1, 0.75, 0.2, 0.2, 0.2: early layers heavier).
        style_scale: style images are resized to ``style_scale`` x the output's long side.
        init: ``"content"`` (default), ``"noise"`` or ``"style"`` (the first style);
            an explicit image can be passed to :func:`~easel.style.stylize` as ``init_image``.
        optimizer: ``"lbfgs"`` (default) or ``"adam"``.
        learning_rate: Adam's step size, in [0, 1] pixel units.
        lbfgs_history: L-BFGS history length; ``None`` caps it so the history
            uses at most :data:`easel.optim.LBFGS_HISTORY_BUDGET` bytes (at most 100).
        multiscale: optimize coarse to fine (``size``, ``size / 2``, ... down to ``min_scale``).
        min_scale: smallest long side of a coarser scale; ``None`` = half the output,
            at most 256 px (so an output under 512 px also gets one coarse pass,
            and larger ones halve down to 256-511 px); see :meth:`resolved_min_scale`.
        preserve_color: ``"none"``, ``"luminance"`` or ``"histogram"``.
        pooling: ``"max"`` or ``"avg"``.
        model: registry name of the encoder (``vgg19-caffe`` or ``vgg19-torchvision``).
        weights: a local weights file overriding the registry's cached copy.
        preprocessing: ``"auto"`` (from ``model`` or the file name), ``"caffe"`` or ``"torchvision"``.
        precision: ``"auto"`` (the faster of fp32 and the device's low precision,
            measured once per device: :func:`easel.nets.precision.choose_precision`),
            ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        channels_last: run the convolutions in channels-last memory format.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        seed: random seed (noise init); ``None`` leaves torch's generator alone.
        tile_size: optimize the finest scale in overlapping tiles of this many
            pixels (for outputs beyond memory); coarser scales larger than a tile
            are tiled only if they would not fit in the memory free at the time;
            ``None`` = whole image.
        tile_overlap: overlap of neighbouring tiles, in pixels.

    Example:
        >>> opts = StyleOptions(size=256, style_weight=1e5)
        >>> opts.resolved().iterations, opts.output_shape((600, 800))
        (80, (192, 256))
    """

    size: int = option(512, help="long side of the output, in pixels", metavar="PX", group=_SIZE)
    iterations: int | None = option(
        None,
        help="iterations at the finest scale (default: 80, 500 without multiscale)",
        metavar="N",
        group=_SIZE,
    )
    coarse_iterations: int | None = option(
        200,
        help="iterations at each coarser scale",
        metavar="N",
        group=_SIZE,
    )
    content_weight: float = option(1.0, help="content weight alpha", metavar="A", group=_LOSSES)
    style_weight: float = option(100.0, help="style weight beta", metavar="B", group=_LOSSES)
    tv_weight: float = option(
        0.0, help="total-variation (smoothness) weight gamma", metavar="G", group=_LOSSES
    )
    content_layers: tuple[str, ...] = option(
        DEFAULT_CONTENT_LAYERS, help="content layers", metavar="L[,L]", group=_LOSSES
    )
    style_layers: tuple[str, ...] = option(
        DEFAULT_STYLE_LAYERS, help="style layers", metavar="L[,L]", group=_LOSSES
    )
    style_layer_weights: tuple[float, ...] | None = option(
        None, help="per-style-layer weights (default 1,0.75,0.2,0.2,0.2)", metavar="W[,W]", group=_LOSSES
    )
    style_scale: float = option(
        1.0, help="resize style images to F x the output's long side", metavar="F", group=_SIZE
    )
    init: str = option(
        "content",
        help="starting image: content, noise or style (the first style image)",
        metavar="content|noise|style",
        group=_OPTIM,
    )
    optimizer: str = option("lbfgs", help="the optimizer", choices=OPTIMIZERS, group=_OPTIM)
    learning_rate: float = option(0.02, help="Adam step in [0,1] pixel units", metavar="LR", group=_OPTIM)
    lbfgs_history: int | None = option(
        None, help="L-BFGS history length (default: capped by memory, at most 100)", metavar="N", group=_OPTIM
    )
    multiscale: bool = option(
        True,
        help="optimize at full resolution from the first iteration",
        negative_flag="--no-multiscale",
        group=_SIZE,
    )
    min_scale: int | None = option(
        None,
        help="smallest long side of a coarser scale (default: half of --size, at most 256)",
        metavar="PX",
        group=_SIZE,
    )
    preserve_color: str = option(
        "none",
        help="keep the photo's colours: luminance-only transfer, or match the style's histogram",
        choices=PRESERVE_COLOR_CHOICES,
        group=_LOSSES,
    )
    pooling: str = option("max", help="pooling of the encoder", choices=POOLINGS, group=_ENCODER)
    model: str = model_option(_ENCODER)
    weights: str | os.PathLike[str] | None = weights_option(_ENCODER)
    preprocessing: str = option(
        "auto",
        help="preprocessing of --weights (default: from --model or the file name)",
        choices=("auto", *PREPROCESSINGS),
        group=_ENCODER,
    )
    precision: str = precision_option(_OPTIM, note="Grams stay fp32")
    channels_last: bool = option(False, help="channels-last convolutions", group=_OPTIM)
    device: str = device_option()
    seed: int | None = option(0, help="random seed, for reproducible results")
    tile_size: int | None = option(
        None,
        help="optimize the finest scale in overlapping tiles of PX (for outputs beyond memory)",
        metavar="PX",
        group=_SIZE,
    )
    tile_overlap: int = option(64, help="tile overlap", metavar="PX", group=_SIZE)

    def validate(self) -> StyleOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the bad one.

        Example:
            >>> StyleOptions(style_weight=-1).validate()
            Traceback (most recent call last):
            ...
            easel.options.OptionError: style_weight must be a finite number >= 0, got -1
        """
        if self.size < MIN_SIDE:
            raise OptionError("size", f"must be at least {MIN_SIDE} px, got {self.size}")
        for name in ("iterations", "coarse_iterations"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise OptionError(name, f"must be >= 0, got {value}")
        for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "learning_rate"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise OptionError(name, f"must be a finite number >= 0, got {value}")
        if self.style_scale <= 0:
            raise OptionError("style_scale", f"must be > 0, got {self.style_scale}")
        for name in ("content_layers", "style_layers"):
            for layer in getattr(self, name):
                if layer not in LAYERS:
                    raise OptionError(
                        name,
                        f"has an unknown VGG-19 layer {layer!r}; layers are named like relu4_2 or conv1_1",
                    )
        if not self.style_layers:
            raise OptionError("style_layers", "must name at least one layer")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise OptionError(
                "style_layer_weights",
                f"has {len(self.style_layer_weights)} weights for {len(self.style_layers)} style layers",
            )
        choices = {
            "init": INIT_CHOICES,
            "optimizer": OPTIMIZERS,
            "pooling": POOLINGS,
            "preprocessing": ("auto", *PREPROCESSINGS),
            "precision": PRECISIONS,
            "preserve_color": PRESERVE_COLOR_CHOICES,
            "model": tuple(MODEL_PREPROCESSING),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise OptionError(name, f"must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.lbfgs_history is not None and self.lbfgs_history < 1:
            raise OptionError("lbfgs_history", f"must be >= 1, got {self.lbfgs_history}")
        if self.min_scale is not None and self.min_scale < MIN_SIDE:
            raise OptionError("min_scale", f"must be at least {MIN_SIDE} px, got {self.min_scale}")
        if self.tile_overlap < 0:
            raise OptionError("tile_overlap", f"must be >= 0, got {self.tile_overlap}")
        if self.tile_size is not None and self.tile_size < 2 * self.tile_overlap + MIN_SIDE:
            raise OptionError(
                "tile_size",
                f"must be at least 2 x the tile overlap + {MIN_SIDE} px "
                f"({2 * self.tile_overlap + MIN_SIDE}), got {self.tile_size}",
            )
        return self

    def resolved_iterations(self) -> int:
        """Iterations at the finest scale: ``iterations``, or 80 with multiscale and 500 without.

        Example:
            >>> StyleOptions(multiscale=False).resolved_iterations()
            500
        """
        if self.iterations is not None:
            return self.iterations
        return MULTISCALE_ITERATIONS if self.multiscale else SINGLE_SCALE_ITERATIONS

    def resolved_min_scale(self) -> int:
        """Smallest long side of a coarser scale: ``min_scale``, or half the output capped at 256 px.

        The scales halve from ``size`` while they stay at least this long, so
        the default gives one coarse pass below 512 px (384 -> 192, 384) and
        today's 256-px start above (512 -> 256, 512; 1024 -> 256, 512, 1024).

        Example:
            >>> [StyleOptions(size=s).resolved_min_scale() for s in (64, 384, 512, 2048)]
            [32, 192, 256, 256]
            >>> StyleOptions(size=384, min_scale=256).resolved_min_scale()
            256
        """
        if self.min_scale is not None:
            return self.min_scale
        return max(MIN_SIDE, min(COARSEST_SCALE, self.size // 2))

    def resolved_coarse_iterations(self) -> int:
        """Iterations at each coarser scale (``coarse_iterations``, or the finest scale's)."""
        return self.coarse_iterations if self.coarse_iterations is not None else self.resolved_iterations()

    def resolved(self) -> StyleOptions:
        """A copy with ``iterations`` and ``min_scale`` resolved (what a run record stores).

        Example:
            >>> StyleOptions().resolved().iterations, StyleOptions(size=384).resolved().min_scale
            (80, 192)
        """
        return replace(self, iterations=self.resolved_iterations(), min_scale=self.resolved_min_scale())

    def layer_weights(self) -> dict[str, float]:
        """Style layer -> λ.

        Example:
            >>> StyleOptions(style_layers=("relu1_1", "relu2_1")).layer_weights()
            {'relu1_1': 1.0, 'relu2_1': 1.0}
        """
        if self.style_layer_weights is not None:
            weights = self.style_layer_weights
        elif tuple(self.style_layers) == DEFAULT_STYLE_LAYERS:
            weights = DEFAULT_STYLE_LAYER_WEIGHTS
        else:
            weights = tuple(1.0 for _ in self.style_layers)
        return dict(zip(self.style_layers, weights, strict=True))

    def scales(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """The ``(height, width)`` of each scale, coarse to fine, for a content of ``shape``.

        Example:
            >>> StyleOptions(size=512, multiscale=False).scales((600, 800))
            [(384, 512)]
        """
        return pyramid_shapes(
            shape, self.size, self.resolved_min_scale() if self.multiscale else None, ratio=2.0
        )

    def output_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """``(height, width)`` of the output for a content of ``shape`` (long side ``size``).

        Example:
            >>> StyleOptions(size=64).output_shape((100, 50))
            (64, 32)
        """
        return self.scales(shape)[-1]

    def tile_count(self, shape: tuple[int, int]) -> int:
        """How many tiles the finest scale of ``shape`` is optimized in (1 = untiled)."""
        if self.tile_size is None or max(shape) <= self.tile_size:
            return 1
        from easel.style.tiling import tile_grid

        return len(tile_grid(shape, self.tile_size, self.tile_overlap))

    def total_steps(self, shape: tuple[int, int]) -> int:
        """Optimizer steps of a whole run for a content of ``shape``, over all scales and tiles.

        Exact unless a coarser scale is tiled because memory is short at run time,
        or tiles are skipped because every style mask is empty there.

        Example:
            >>> StyleOptions(size=512, min_scale=256).total_steps((384, 512))
            280
        """
        scales = self.scales(shape)
        fine = self.resolved_iterations() * self.tile_count(scales[-1])
        return fine + self.resolved_coarse_iterations() * (len(scales) - 1)
