"""Gatys et al.'s neural style transfer, coarse to fine, on the shared optimization loop.

:func:`stylize` optimizes the pixels of an image so that its VGG-19 features
match the content photo and its Gram matrices match one or more style
images. :class:`Stylizer` keeps the encoder and each style's Gram matrices
between calls, for grids of many contents x many styles.

The pieces live apart: the encoder in :mod:`easel.nets.vgg`, the losses in
:mod:`easel.style.losses`, the loop in :mod:`easel.optim`, the scales in
:mod:`easel.pyramid` and tiles in :mod:`easel.style.tiling`; this module
wires them together. A run ends with a status (``finished``, ``stopped``,
``interrupted``, ``non-finite``) instead of an exception, and its image always
has the asked output size.

Speed levers, on by default (see ``benchmarks/stylize.py``): bf16 autocast
where it measures faster than fp32 (:mod:`easel.nets.precision`; Grams stay
fp32), the encoder truncated after the deepest used layer, no gradients for
the encoder's weights, precomputed style Grams and multiscale optimization
(most iterations at a quarter of the pixels). The loss is that of the image
clipped to [0, 1], as it will be written, and L-BFGS is
:class:`easel.optim.GuardedLBFGS`, whose steps do not depend on the loss's scale.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray

from easel.devices import autocast, resolve_device
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb, from_tensor, resize, to_tensor
from easel.nets.precision import PrecisionChoice, precision_name, resolve_precision, save_choice
from easel.nets.vgg import VGGEncoder, load_encoder
from easel.nets.vgg_layers import LAYER_TABLE, LAYERS
from easel.optim import OptimResult, Status, StepState, lbfgs_history_size, optimize
from easel.options import options_dict
from easel.progress import ProgressFn
from easel.pyramid import shape_with_long_side
from easel.style.color import match_color, transfer_luminance
from easel.style.losses import LossTerms, StyleTarget, TemporalTarget, gram_matrix, total_loss
from easel.style.options import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYER_WEIGHTS,
    DEFAULT_STYLE_LAYERS,
    INIT_CHOICES,
    MIN_SIDE,
    OPTIMIZERS,
    StyleOptions,
)
from easel.style.target_cache import memo_grams
from easel.style.tiling import Tile, TileRunner, optimize_tiled

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "DEFAULT_STYLE_LAYER_WEIGHTS",
    "INIT_CHOICES",
    "MIN_SIDE",
    "OPTIMIZERS",
    "Style",
    "StyleHook",
    "StyleOptions",
    "StyleResult",
    "StyleStep",
    "Stylizer",
    "as_styles",
    "available_memory",
    "check_mask_shape",
    "estimate_memory",
    "memory_budget",
    "stylize",
]


@dataclass
class Style:
    """One style: an image, its weight wᵢ and an optional region mask.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1].
        weight: wᵢ (the style loss is ``β Σ wᵢ styleᵢ``).
        mask: ``(H, W)`` float32 in [0, 1] at the content's size (or any size with
            the content's aspect ratio): where this style applies.
        key: a name for caching its Gram matrices between runs (file path).

    Example:
        >>> starry = Style(np.zeros((64, 64, 3), np.float32), weight=0.45, key="starry.jpg")
        >>> starry.weight, starry.mask is None
        (0.45, True)
    """

    image: FloatImage
    weight: float = 1.0
    mask: NDArray[np.float32] | None = None
    key: str | None = None


StyleLike = Style | ArrayLike | tuple[ArrayLike, float] | tuple[ArrayLike, float, ArrayLike | None]


@dataclass(frozen=True, kw_only=True)
class StyleStep(StepState):
    """What an ``on_step`` hook of :func:`stylize` sees after each evaluation.

    Besides :class:`~easel.optim.StepState`'s ``step`` (global, across scales and
    tiles), ``stage_step``, ``total``, ``stage``, ``losses`` (``total``,
    ``content``, ``style`` and, when weighted, ``tv``) and ``params``:

    Attributes:
        scale_index: 0-based index of the current scale (``num_scales - 1`` = the finest).
        num_scales: how many scales the run has.
        shape: ``(height, width)`` of the current scale.
        output_shape: ``(height, width)`` of the final output (to resize snapshots to).
        tile: the tile being optimized, or ``None`` when the scale is whole.

    ``image()`` returns the current image ``(h, w, 3)`` float32 in [0, 1] at the
    current scale (with tiles: the whole canvas, the finished tiles and the
    current one blended in).

    Example:
        >>> def hook(state: StyleStep) -> bool:
        ...     return state.scale_index == 0 and state.stage_step >= 10  # stop after 10 coarse steps
        >>> stylize(photo, [(starry, 1.0)], on_step=hook).status  # doctest: +SKIP
        'stopped'
    """

    scale_index: int
    num_scales: int
    shape: tuple[int, int]
    output_shape: tuple[int, int]
    tile: Tile | None = None


StyleHook = Callable[[StyleStep], "bool | None"]
"""``on_step(state) -> bool | None``: see :class:`StyleStep`; ``True`` stops the run."""


@dataclass
class StyleResult:
    """What :func:`stylize` returns.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1], always at the output size
            (a run that ended at a coarser scale is upscaled; see ``reached_shape``).
        losses: one dict per evaluation: ``scale``, ``step``, ``total``, ``content``, ``style``, ``tv``.
        timings: seconds per stage (``setup``, ``scale 1`` ..., ``total``).
        status: ``"finished"``; ``"stopped"`` (the ``on_step`` hook asked);
            ``"interrupted"`` (Ctrl-C or SIGTERM: ``image`` is the image reached);
            ``"non-finite"`` (the loss became NaN/infinite: ``image`` is the last good one).
        message: a one-line explanation when ``status`` is not ``"finished"``.
        scales: ``(height, width)`` of each scale.
        reached_shape: ``(height, width)`` of the scale the run ended at (the
            output's when it finished).
        options: the options used (``iterations`` and ``min_scale`` resolved).
        precision: the precision asked for and used, and the measurement behind ``auto``
            (see :meth:`Stylizer.precision_record`).
        image_loss: the total loss of ``image`` at the scale it was optimized
            (before colour preservation), when it was evaluated there: L-BFGS
            returns the best point it accepted, which need not be the last
            evaluation. ``None`` when unknown (tiles, Adam's last update).

    Example:
        >>> result = stylize(photo, [(starry, 1.0)], size=512)  # doctest: +SKIP
        >>> result.status, result.image.shape, result.scales  # doctest: +SKIP
        ('finished', (384, 512, 3), [(192, 256), (384, 512)])
    """

    image: FloatImage
    losses: list[dict[str, float]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    status: Status = "finished"
    message: str = ""
    scales: list[tuple[int, int]] = field(default_factory=list)
    reached_shape: tuple[int, int] | None = None
    options: StyleOptions | None = None
    image_loss: float | None = None
    precision: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        """The total loss of the returned image when known (``image_loss``), else the
        last recorded one (``nan`` when none was recorded)."""
        if self.image_loss is not None:
            return self.image_loss
        return self.losses[-1]["total"] if self.losses else float("nan")

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (for run records)."""
        return {
            "status": self.status,
            "message": self.message,
            "final_loss": self.final_loss,
            "evaluations": len(self.losses),
            "scales": [list(s) for s in self.scales],
            "reached_shape": list(self.reached_shape) if self.reached_shape else None,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "options": options_dict(self.options) if self.options else None,
            "precision": self.precision,
        }


def _as_style(item: StyleLike, index: int) -> Style:
    if isinstance(item, Style):
        style = item
    elif isinstance(item, tuple) and len(item) in (2, 3):
        mask = item[2] if len(item) == 3 else None  # type: ignore[misc]
        style = Style(
            image=as_float_rgb(item[0], name=f"style {index + 1}"),
            weight=float(item[1]),  # type: ignore[arg-type]
            mask=None if mask is None else np.asarray(mask, dtype=np.float32),
        )
    else:
        style = Style(image=as_float_rgb(item, name=f"style {index + 1}"))  # type: ignore[arg-type]
    style.image = as_float_rgb(style.image, name=f"style {index + 1}")
    if min(style.image.shape[:2]) < MIN_SIDE:
        h, w = style.image.shape[:2]
        raise InputError(f"style {index + 1} is only {w}x{h} px; at least {MIN_SIDE} px on a side is needed")
    if not math.isfinite(style.weight) or style.weight < 0:
        raise InputError(f"style {index + 1}: weight must be a finite number >= 0, got {style.weight}")
    if style.mask is not None:
        mask = np.asarray(style.mask, dtype=np.float32)
        if mask.ndim == 3:
            mask = mask.mean(axis=2)
        if mask.ndim != 2 or not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise InputError(f"style {index + 1}: mask must be (H, W) with values in [0, 1]")
        style.mask = np.ascontiguousarray(mask)
    return style


def as_styles(styles: Sequence[StyleLike]) -> list[Style]:
    """Each item of ``styles`` as a checked :class:`Style` (the forms :func:`stylize` accepts).

    Raises:
        InputError: a style image too small, a bad weight or mask.

    Example:
        >>> [s.weight for s in as_styles([np.zeros((64, 64, 3), np.float32), (np.ones((64, 64, 3)), 0.5)])]
        [1.0, 0.5]
    """
    return [_as_style(s, i) for i, s in enumerate(styles)]


def check_mask_shape(mask_shape: tuple[int, int], content_shape: tuple[int, int], name: str = "mask") -> None:
    """A mask must have the content's size, or at least its aspect ratio (within 1 %).

    Example:
        >>> check_mask_shape((240, 320), (480, 640))  # half the size, same aspect ratio: fine
        >>> check_mask_shape((100, 100), (480, 640))
        Traceback (most recent call last):
        ...
        easel.errors.InputError: mask is 100x100 px but the content is 640x480 px; a mask must have the content's size (or its aspect ratio)
    """
    mh, mw = mask_shape
    ch, cw = content_shape
    if (mh, mw) == (ch, cw):
        return
    if abs(mw / mh - cw / ch) > 0.01 * (cw / ch):
        raise InputError(
            f"{name} is {mw}x{mh} px but the content is {cw}x{ch} px; "
            "a mask must have the content's size (or its aspect ratio)"
        )


def estimate_memory(shape: tuple[int, int], options: StyleOptions) -> int:
    """Rough peak memory in bytes of optimizing a ``(height, width)`` image (whole, untiled).

    Counts the activations kept for the backward pass up to the deepest layer,
    their gradients, and L-BFGS's history; calibrated on CPU (see the benchmark).

    Example:
        >>> estimate_memory((512, 512), StyleOptions()) // 2**20  # doctest: +SKIP
        1164
    """
    h, w = shape
    pixels = h * w
    deepest = max(LAYERS.index(n) for n in (*options.content_layers, *options.style_layers))
    per_px = 0.0
    for layer in LAYER_TABLE[: deepest + 1]:
        if layer.kind == "conv":  # block b runs at 1/4**(b-1) of the pixels
            per_px += layer.width / 4 ** (layer.block - 1)
    # "auto" counts as the low precision; resolve it first for the measured choice (check_memory does)
    low = options.precision in ("auto", "bf16", "fp16")
    elem = 2 if low else 4
    activations = per_px * pixels * elem * 3.5  # conv outputs + autocast copies + backward transients
    history = 0
    if options.optimizer == "lbfgs":
        numel = 3 * pixels
        hist = options.lbfgs_history or lbfgs_history_size(numel)
        history = 2 * hist * numel * 4 + 6 * numel * 4
    return int(activations + history + 300 * 2**20)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), or ``None``.

    Example:
        >>> available = available_memory()
        >>> available is None or available > 0
        True
    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget(device: torch.device) -> int | None:
    """Bytes free for a run on ``device`` now (host memory for the CPU), or ``None`` if unknown.

    Example:
        >>> budget = memory_budget(torch.device("cpu"))
        >>> budget is None or budget > 0
        True
    """
    if device.type == "cpu":
        return available_memory()
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return None


class Stylizer:
    """An encoder plus cached style Grams, reusable across many contents.

    Args:
        options: the settings (the encoder is built for its layers and pooling).
        encoder: an already-built encoder to reuse (otherwise loaded from the weights).

    Example:
        >>> stylizer = Stylizer(StyleOptions(size=256))  # doctest: +SKIP
        >>> art = stylizer.run(photo, [Style(starry, 1.0, key="starry")]).image  # doctest: +SKIP
    """

    def __init__(self, options: StyleOptions | None = None, encoder: VGGEncoder | None = None) -> None:
        self.options = (options or StyleOptions()).validate()
        self.device = resolve_device(self.options.device)
        # a new `auto` measurement is written to the cache when a run starts (a refused one leaves it alone)
        self.amp_dtype, self.precision_choice = resolve_precision(
            self.device, self.options.precision, persist=False
        )
        self._gram_cache: dict[tuple[str, int, int], dict[str, torch.Tensor]] = {}
        start = time.perf_counter()
        self.encoder = encoder if encoder is not None else self._load_encoder()
        self.load_seconds = time.perf_counter() - start

    def with_options(self, options: StyleOptions) -> Stylizer:
        """A stylizer for other per-run settings (iterations, scales, weights) sharing this one's
        encoder, precision and cached style Grams; the encoder's settings must be the same.

        Example:
            >>> fine_only = stylizer.with_options(replace(stylizer.options, multiscale=False))  # doctest: +SKIP
        """
        opts = options.validate()
        for name in ("model", "weights", "preprocessing", "pooling", "device", "precision", "channels_last"):
            if getattr(opts, name) != getattr(self.options, name):
                raise ValueError(f"with_options cannot change the encoder setting {name!r}")
        needed = set(opts.content_layers) | set(opts.style_layers)
        if not needed <= set(self.options.content_layers) | set(self.options.style_layers):
            raise ValueError("with_options cannot use layers the encoder was not built for")
        other = object.__new__(Stylizer)
        other.options = opts
        other.device = self.device
        other.amp_dtype, other.precision_choice = self.amp_dtype, self.precision_choice
        other._gram_cache = self._gram_cache
        other.encoder = self.encoder
        other.load_seconds = 0.0
        return other

    @property
    def precision(self) -> str:
        """The precision the optimization runs in: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (never ``"auto"``)."""
        return precision_name(self.amp_dtype)

    def precision_record(self) -> dict[str, Any]:
        """What a run record says about the precision: asked, used, and for ``auto`` the measurement.

        Example:
            >>> Stylizer(StyleOptions(precision="fp32")).precision_record()  # doctest: +SKIP
            {'requested': 'fp32', 'used': 'fp32', 'measurement': None}
        """
        choice: PrecisionChoice | None = self.precision_choice
        return {
            "requested": self.options.precision,
            "used": self.precision,
            "measurement": choice.as_record() if choice is not None else None,
        }

    def _load_encoder(self) -> VGGEncoder:
        opts = self.options
        encoder = load_encoder(
            opts.model,
            opts.weights,
            layers=list(dict.fromkeys((*opts.content_layers, *opts.style_layers))),
            pooling=opts.pooling,
            preprocessing=opts.preprocessing,
            device=self.device,
        )
        if opts.channels_last:
            encoder.use_channels_last(True)
        return encoder

    # ------------------------------------------------------------ features

    def _features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        with autocast(self.device, self.amp_dtype):
            return self.encoder(image)

    def style_grams(
        self, style: Style, long_side: int, content: FloatImage | None = None
    ) -> dict[str, torch.Tensor]:
        """Gram matrices of ``style`` resized to ``long_side`` (cached by ``style.key``)."""
        opts = self.options
        side = max(MIN_SIDE, round(long_side * opts.style_scale))
        cache_key = None
        if style.key is not None and opts.preserve_color != "histogram":
            cache_key = (style.key, side, id(self.encoder))
            if cache_key in self._gram_cache:
                return self._gram_cache[cache_key]
        image = style.image
        if opts.preserve_color == "histogram" and content is not None:
            image = match_color(image, content)

        def compute() -> dict[str, torch.Tensor]:
            resized = resize(image, shape_with_long_side(image.shape[:2], side))
            with torch.no_grad():
                feats = self._features(to_tensor(resized, device=self.device))
                return {layer: gram_matrix(feats[layer]) for layer in opts.style_layers}

        # once per process, not per job: a batch worker builds a new stylizer for every job
        grams = memo_grams(image, side, opts.style_layers, self.encoder, self.amp_dtype, compute)
        if cache_key is not None:
            self._gram_cache[cache_key] = grams
        return grams

    def evaluate(
        self,
        image: FloatImage,
        content: FloatImage,
        styles: Sequence[StyleLike],
        precision: str = "fp32",
    ) -> LossTerms:
        """Score ``image`` against ``content`` and ``styles`` at ``image``'s size (fp32 by default).

        This is the single evaluator the benchmark uses for every method.
        """
        opts = self.options
        img = as_float_rgb(image, name="image")
        shape = img.shape[:2]
        style_list = [_as_style(s, i) for i, s in enumerate(styles)]
        saved = self.amp_dtype
        self.amp_dtype = resolve_precision(self.device, precision)[0]
        try:
            with torch.no_grad():
                content_t = to_tensor(resize(as_float_rgb(content), shape), device=self.device)
                cfeats = self._features(content_t)
                ctargets = {layer: cfeats[layer].float() for layer in opts.content_layers}
                targets = [self._target(s, shape, content) for s in style_list]
                feats = self._features(to_tensor(img, device=self.device))
                return total_loss(
                    feats,
                    to_tensor(img, device=self.device),
                    ctargets,
                    targets,
                    opts.layer_weights(),
                    opts.content_weight,
                    opts.style_weight,
                    opts.tv_weight,
                )
        finally:
            self.amp_dtype = saved

    def _target(self, style: Style, shape: tuple[int, int], content: FloatImage) -> StyleTarget:
        grams = self.style_grams(style, max(shape), content=content)
        mask_t = None
        if style.mask is not None:
            mask = resize(style.mask[:, :, None], shape)[:, :, 0]
            mask_t = torch.from_numpy(np.ascontiguousarray(mask)).to(self.device)[None, None]
        return StyleTarget(grams=grams, weight=style.weight, mask=mask_t)

    # ------------------------------------------------------------ the run

    def run(
        self,
        content: ArrayLike,
        styles: Sequence[StyleLike],
        *,
        init_image: ArrayLike | None = None,
        progress: ProgressFn | None = None,
        on_step: StyleHook | None = None,
        temporal: TemporalTarget | None = None,
    ) -> StyleResult:
        """Stylize ``content``; see :func:`stylize` for the arguments.

        ``temporal`` (video) adds a temporal loss towards earlier outputs warped to
        this frame (:class:`~easel.style.losses.TemporalTarget`); its value is
        reported as ``temporal`` in the losses. Not with tiles.
        """
        opts = self.options.validate()
        t0 = time.perf_counter()
        content_img = as_float_rgb(content, name="content")
        if min(content_img.shape[:2]) < MIN_SIDE:
            h, w = content_img.shape[:2]
            raise InputError(f"content is only {w}x{h} px; at least {MIN_SIDE} px on a side is needed")
        style_list = as_styles(styles)
        if not style_list:
            raise InputError("at least one style image is needed")
        if temporal is not None and opts.tile_size is not None:
            raise InputError("a temporal loss (video) cannot be combined with tiles (tile_size)")
        for i, s in enumerate(style_list):
            if s.mask is not None:
                check_mask_shape(s.mask.shape[:2], content_img.shape[:2], name=f"mask of style {i + 1}")
        if sum(s.weight for s in style_list) <= 0 and opts.style_weight > 0:
            raise InputError("all style weights are 0")
        init_arr = None if init_image is None else as_float_rgb(init_image, name="init image")
        scales = opts.scales(content_img.shape[:2])
        if opts.seed is not None:
            torch.manual_seed(opts.seed)
        gen = torch.Generator(device="cpu")
        gen.manual_seed(0 if opts.seed is None else opts.seed)

        if self.precision_choice is not None:
            save_choice(self.precision_choice)
        result = StyleResult(
            image=content_img, scales=scales, options=opts.resolved(), precision=self.precision_record()
        )
        result.timings["setup"] = self.load_seconds
        run = _Run(self, result, progress, on_step, temporal)
        current: torch.Tensor | None = None  # the image reached (at the scale before `shape`)
        reached = scales[0]
        stage = "stylize"
        try:
            for index, shape in enumerate(scales):
                ts = time.perf_counter()
                final = index == len(scales) - 1
                # the finest scale runs `iterations`, coarser ones `coarse_iterations`
                num_steps = opts.resolved_iterations() if final else opts.resolved_coarse_iterations()
                stage = (
                    f"scale {index + 1}/{len(scales)} {shape[1]}x{shape[0]}" if len(scales) > 1 else "stylize"
                )
                content_s = resize(content_img, shape)
                use_tiles = self._tiled(shape, final)
                with torch.no_grad():
                    content_t = to_tensor(content_s, device=self.device)
                    targets = [self._target(s, shape, content_img) for s in style_list]
                if current is None:
                    x0 = self._init(content_t, style_list, init_arr, shape, gen)
                else:
                    x0 = F.interpolate(current, size=shape, mode="bicubic", align_corners=False).clamp_(
                        0.0, 1.0
                    )
                run.scale_index, run.shape = index, shape
                if use_tiles:
                    assert opts.tile_size is not None
                    tiled = optimize_tiled(
                        x0,
                        opts.tile_size,
                        opts.tile_overlap,
                        run.tile_runner(content_t, targets, num_steps, stage),
                    )
                    current, status, message = tiled.canvas, tiled.status, tiled.message
                    result.image_loss = None
                else:
                    with torch.no_grad():
                        cfeats = self._features(content_t)
                        ctargets = {layer: cfeats[layer].detach() for layer in opts.content_layers}
                        del cfeats
                    out = run.stage(x0, ctargets, targets, num_steps, stage)
                    current, status, message = out.param.clamp(0.0, 1.0), out.status, out.message
                    result.image_loss = out.loss
                reached = shape
                result.timings[f"scale {index + 1}"] = time.perf_counter() - ts
                if status != "finished":
                    self._end_early(result, current, content_img, shape, status, message)
                    result.timings["total"] = time.perf_counter() - t0
                    return result
        except KeyboardInterrupt:
            # between optimizer steps (style targets, resizing): keep the image reached so far
            if current is None:
                current = to_tensor(resize(content_img, scales[0]), device=self.device)
            self._end_early(result, current, content_img, reached, "interrupted", f"interrupted at {stage}")
            result.timings["total"] = time.perf_counter() - t0
            return result
        assert current is not None
        result.image = self._finish(current, content_img)
        result.reached_shape = scales[-1]
        result.timings["total"] = time.perf_counter() - t0
        return result

    def _end_early(
        self,
        result: StyleResult,
        current: torch.Tensor,
        content: FloatImage,
        shape: tuple[int, int],
        status: Status,
        message: str,
    ) -> None:
        """Fill ``result`` for a run that ended at ``shape`` with ``status``: the image at the output size."""
        output_shape = result.scales[-1]
        if status == "non-finite":
            message += (
                "; stopped and kept the last good image "
                "(try a lower style_weight or learning_rate, or precision fp32)"
            )
        if tuple(shape) != tuple(output_shape):
            current = F.interpolate(current, size=output_shape, mode="bicubic", align_corners=False).clamp_(
                0.0, 1.0
            )
            message += f"; the image reached at {shape[1]}x{shape[0]} was upscaled to {output_shape[1]}x{output_shape[0]}"
        result.image = self._finish(current, content)
        result.status = status
        result.message = message
        result.reached_shape = shape

    def _tiled(self, shape: tuple[int, int], final: bool) -> bool:
        """Whether a scale is optimized in tiles: the finest one when it is larger than a
        tile; a coarser one only when it would not fit in memory whole (tiles overlap, so
        a whole scale is cheaper whenever it fits)."""
        tile = self.options.tile_size
        if tile is None or max(shape) <= tile:
            return False
        if final:
            return True
        budget = memory_budget(self.device)
        return budget is None or estimate_memory(shape, self.options) > 0.8 * budget

    def _finish(self, image: torch.Tensor, content: FloatImage) -> FloatImage:
        out = from_tensor(image.detach().float())
        if self.options.preserve_color == "luminance":
            out = transfer_luminance(out, content)
        return out

    def _init(
        self,
        content_t: torch.Tensor,
        styles: Sequence[Style],
        init_arr: FloatImage | None,
        shape: tuple[int, int],
        gen: torch.Generator,
    ) -> torch.Tensor:
        if init_arr is not None:
            return to_tensor(resize(init_arr, shape), device=self.device)
        if self.options.init == "noise":
            return torch.rand((1, 3, *shape), generator=gen).to(self.device)
        if self.options.init == "style":
            return to_tensor(resize(styles[0].image, shape), device=self.device)
        return content_t.clone()


class _Run:
    """One :meth:`Stylizer.run`: its result, hooks and the global step count."""

    def __init__(
        self,
        stylizer: Stylizer,
        result: StyleResult,
        progress: ProgressFn | None,
        on_step: StyleHook | None,
        temporal: TemporalTarget | None = None,
    ) -> None:
        self.temporal = temporal
        self.stylizer = stylizer
        self.result = result
        self.progress = progress
        self.on_step = on_step
        self.steps = 0
        self.scale_index = 0
        self.shape = result.scales[0]

    def stage(
        self,
        x0: torch.Tensor,
        ctargets: dict[str, torch.Tensor],
        targets: Sequence[StyleTarget],
        num_steps: int,
        stage: str,
        tile: Tile | None = None,
        composite: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> OptimResult:
        """Optimize ``x0`` (a whole scale, or one tile) for ``num_steps`` steps."""
        stylizer, opts = self.stylizer, self.stylizer.options
        x = x0.detach().clone().requires_grad_(True)
        layer_weights = opts.layer_weights()
        temporal = self.temporal

        def loss_fn() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            # The loss of the image as it will be written: pixels outside [0, 1] are clipped
            # before the encoder sees them (an unclipped optimum drifts out of range, and
            # clipping it afterwards can double its loss).
            image = x.clamp(0.0, 1.0)
            terms = total_loss(
                stylizer._features(image),
                image,
                ctargets,
                targets,
                layer_weights,
                opts.content_weight,
                opts.style_weight,
                opts.tv_weight,
            )
            named = {"content": terms.content, "style": terms.style}
            if opts.tv_weight:
                named["tv"] = terms.tv
            if temporal is not None:
                named["temporal"] = temporal(image)
                return terms.total + named["temporal"], named
            return terms.total, named

        hook = None
        if self.on_step is not None:
            user_hook = self.on_step
            scale_index, shape, num_scales = self.scale_index, self.shape, len(self.result.scales)
            output_shape = self.result.scales[-1]

            def render() -> FloatImage:
                image = x.detach()
                return from_tensor(composite(image) if composite is not None else image)

            def hook(state: StepState) -> bool | None:
                return user_hook(
                    StyleStep(
                        step=state.step,
                        stage_step=state.stage_step,
                        total=state.total,
                        stage=state.stage,
                        losses=state.losses,
                        params=state.params,
                        render=render,
                        scale_index=scale_index,
                        num_scales=num_scales,
                        shape=shape,
                        output_shape=output_shape,
                        tile=tile,
                    )
                )

        out = optimize(
            {"image": x},
            loss_fn,
            num_steps,
            optimizer=opts.optimizer,
            learning_rate=opts.learning_rate,
            lbfgs_history=opts.lbfgs_history,
            stage=stage,
            progress=self.progress,
            on_step=hook,
            step_offset=self.steps,
        )
        self.steps += out.steps
        label = float(max(self.shape))
        self.result.losses.extend(
            {
                "scale": label,
                "step": h["step"],
                "total": h["total"],
                "content": h["content"],
                "style": h["style"],
                "tv": h.get("tv", 0.0),
                **({"temporal": h["temporal"]} if "temporal" in h else {}),
            }
            for h in out.history
        )
        return out

    def tile_runner(
        self,
        content_t: torch.Tensor,
        targets: Sequence[StyleTarget],
        num_steps: int,
        stage: str,
    ) -> TileRunner:
        """The function :func:`optimize_tiled` calls per tile: each tile's own content targets,
        the Grams of the whole style images, the style masks cut to the tile."""
        stylizer = self.stylizer

        def run_tile(
            tile: Tile, start: torch.Tensor, composite: Callable[[torch.Tensor], torch.Tensor]
        ) -> OptimResult | None:
            window = tile.window
            tile_targets = [
                StyleTarget(t.grams, t.weight, None if t.mask is None else t.mask[window].contiguous())
                for t in targets
            ]
            if tile_targets and all(t.mask is not None and float(t.mask.sum()) == 0.0 for t in tile_targets):
                return None  # no style applies here
            with torch.no_grad():
                cfeats = stylizer._features(content_t[window])
                ctargets = {layer: cfeats[layer].detach() for layer in stylizer.options.content_layers}
                del cfeats
            label = f"{stage} tile {tile.index}/{tile.count}"
            return self.stage(start, ctargets, tile_targets, num_steps, label, tile, composite)

        return run_tile


def stylize(
    content: ArrayLike,
    styles: Sequence[StyleLike],
    options: StyleOptions | None = None,
    *,
    init_image: ArrayLike | None = None,
    progress: ProgressFn | None = None,
    on_step: StyleHook | None = None,
    **overrides: Any,
) -> StyleResult:
    """Render ``content`` in the style of one or more images (Gatys et al.).

    Args:
        content: ``(H, W, 3)`` RGB photo (float32 in [0, 1] or uint8).
        styles: style images, each an image, ``(image, weight)``,
            ``(image, weight, mask)`` or a :class:`Style`. The style loss is
            ``β Σᵢ wᵢ styleᵢ``; a mask ``(H, W)`` in [0, 1] confines that style to a region.
        options: :class:`StyleOptions` (defaults when ``None``).
        init_image: start from this image instead of ``options.init``.
        progress: callback receiving a :class:`~easel.progress.ProgressUpdate`
            per evaluation, with ``loss``, ``content`` and ``style`` metrics.
        on_step: called after every evaluation with a :class:`StyleStep` (the
            global step, the losses, ``image()`` at the current scale, the
            output shape); returning ``True`` stops the run (status ``"stopped"``).
        **overrides: fields of :class:`StyleOptions` to change (``size=256, seed=1``).

    Returns:
        A :class:`StyleResult`; ``result.image`` is ``(H', W', 3)`` float32 RGB in
        [0, 1] with long side ``options.size``. A run that ends early -- Ctrl-C or
        SIGTERM (``"interrupted"``), a NaN/infinite loss (``"non-finite"``: the
        last good image) or the hook (``"stopped"``) -- returns its image so far,
        upscaled to the output size when it ended at a coarser scale.

    Raises:
        InputError: bad images or masks; :class:`~easel.options.OptionError` for bad options.
        WeightsError: the encoder weights are missing or invalid.

    Example:
        >>> art = stylize(photo, [(starry, 1.0), (scream, 0.45)], size=512, seed=0)  # doctest: +SKIP
        >>> art.status, art.image.shape  # doctest: +SKIP
        ('finished', (384, 512, 3))
    """
    opts = replace(options or StyleOptions(), **overrides) if overrides else (options or StyleOptions())
    return Stylizer(opts).run(content, styles, init_image=init_image, progress=progress, on_step=on_step)
