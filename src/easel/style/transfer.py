"""The optimization loop of Gatys et al.'s neural style transfer, coarse to fine.

:func:`stylize` optimizes the pixels of an image so that its VGG-19 features
match the content photo and its Gram matrices match one or more style
images. :class:`Stylizer` keeps the encoder and each style's Gram matrices
between calls, for grids of many contents x many styles.

Speed levers, on by default (see ``benchmarks/stylize.py``): bf16 autocast
(Grams stay fp32), the encoder truncated after the deepest used layer, no
gradients for the encoder's weights, precomputed style Grams and multiscale
optimization (most iterations at a quarter of the pixels).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray

from easel.devices import autocast, autocast_dtype, resolve_device
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb, from_tensor, resize, to_tensor
from easel.progress import ProgressFn, report
from easel.style.color import check_choice, match_color, transfer_luminance
from easel.style.losses import LossTerms, StyleTarget, gram_matrix, total_loss
from easel.style.vgg import LAYERS, POOLINGS, VGGEncoder, guess_preprocessing, load_vgg19

log = logging.getLogger(__name__)

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_STYLE_LAYER_WEIGHTS = (1.0, 0.75, 0.2, 0.2, 0.2)
DEFAULT_CONTENT_LAYERS = ("relu4_2",)
INIT_CHOICES = ("content", "noise", "style")
OPTIMIZERS = ("lbfgs", "adam")
MIN_SIDE = 32
"""Smallest side (px) of a content or style image that carries usable features."""
LBFGS_HISTORY_BUDGET = 512 * 2**20
"""Bytes allowed for L-BFGS's history; caps its length at high resolution."""

SnapshotFn = Callable[[int, FloatImage], None]


@dataclass
class StyleOptions:
    """Settings of a style transfer (the CLI's options, with the same names).

    Attributes:
        size: long side of the output, in pixels.
        iterations: optimizer iterations at the finest scale.
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
            an explicit image can be passed to :func:`stylize` as ``init_image``.
        optimizer: ``"lbfgs"`` (default) or ``"adam"``.
        learning_rate: Adam's step size, in [0, 1] pixel units.
        lbfgs_history: L-BFGS history length; ``None`` caps it so the history
            uses at most :data:`LBFGS_HISTORY_BUDGET` bytes (at most 100).
        multiscale: optimize coarse to fine (``min_scale``, 2x, ..., ``size``).
        min_scale: long side of the coarsest scale.
        preserve_color: ``"none"``, ``"luminance"`` or ``"histogram"``.
        pooling: ``"max"`` or ``"avg"``.
        model: registry name of the encoder (``vgg19-caffe`` or ``vgg19-torchvision``).
        weights: a local weights file overriding the registry's cached copy.
        preprocessing: ``"auto"`` (from ``model`` or the file name), ``"caffe"`` or ``"torchvision"``.
        precision: ``"auto"`` (bf16 autocast on CPU), ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        channels_last: run the convolutions in channels-last memory format.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        seed: random seed (noise init); ``None`` leaves torch's generator alone.
        tile_size: optimize the finest scale in overlapping tiles of this many
            pixels (for outputs beyond memory); coarser scales larger than a tile
            are tiled only if they would not fit in the memory free at the time;
            ``None`` = whole image.
        tile_overlap: overlap of neighbouring tiles, in pixels.
    """

    size: int = 512
    iterations: int = 80
    coarse_iterations: int | None = 200
    content_weight: float = 1.0
    style_weight: float = 100.0
    tv_weight: float = 0.0
    content_layers: tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    style_scale: float = 1.0
    init: str = "content"
    optimizer: str = "lbfgs"
    learning_rate: float = 0.02
    lbfgs_history: int | None = None
    multiscale: bool = True
    min_scale: int = 256
    preserve_color: str = "none"
    pooling: str = "max"
    model: str = "vgg19-caffe"
    weights: str | os.PathLike[str] | None = None
    preprocessing: str = "auto"
    precision: str = "auto"
    channels_last: bool = False
    device: str = "auto"
    seed: int | None = 0
    tile_size: int | None = None
    tile_overlap: int = 64

    def validate(self) -> StyleOptions:
        """Check every field; raise :class:`InputError` naming the bad one."""
        if self.size < MIN_SIDE:
            raise InputError(f"--size must be at least {MIN_SIDE} px, got {self.size}")
        if self.iterations < 0 or (self.coarse_iterations is not None and self.coarse_iterations < 0):
            raise InputError("--iterations must be >= 0")
        for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "learning_rate"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InputError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
        if self.style_scale <= 0:
            raise InputError("--style-scale must be > 0")
        for layer in (*self.content_layers, *self.style_layers):
            if layer not in LAYERS:
                raise InputError(f"unknown VGG-19 layer {layer!r}; layers are named like relu4_2 or conv1_1")
        if not self.style_layers:
            raise InputError("at least one style layer is needed")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise InputError(
                f"{len(self.style_layer_weights)} style layer weights for {len(self.style_layers)} style layers"
            )
        if self.init not in INIT_CHOICES:
            raise InputError(f"unknown init {self.init!r}; choose {', '.join(INIT_CHOICES)} or a file")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}; choose lbfgs or adam")
        if self.pooling not in POOLINGS:
            raise InputError(f"unknown pooling {self.pooling!r}; choose max or avg")
        if self.preprocessing not in ("auto", "caffe", "torchvision"):
            raise InputError(f"unknown preprocessing {self.preprocessing!r}")
        check_choice(self.preserve_color)
        if self.min_scale < MIN_SIDE:
            raise InputError(f"--min-scale must be at least {MIN_SIDE} px")
        if self.tile_size is not None and self.tile_size < 2 * self.tile_overlap + MIN_SIDE:
            raise InputError(f"--tile-size must be at least 2 x --tile-overlap + {MIN_SIDE} px")
        return self

    def layer_weights(self) -> dict[str, float]:
        """Style layer -> λ."""
        if self.style_layer_weights is not None:
            weights = self.style_layer_weights
        elif tuple(self.style_layers) == DEFAULT_STYLE_LAYERS:
            weights = DEFAULT_STYLE_LAYER_WEIGHTS
        else:
            weights = tuple(1.0 for _ in self.style_layers)
        return dict(zip(self.style_layers, weights, strict=True))

    def scales(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """The ``(height, width)`` of each scale, coarse to fine, for a content of ``shape``."""
        h, w = shape
        long_sides = [self.size]
        if self.multiscale:
            while long_sides[0] // 2 >= self.min_scale:
                long_sides.insert(0, long_sides[0] // 2)
        return [_fit_exact((h, w), s) for s in long_sides]


@dataclass
class Style:
    """One style: an image, its weight wᵢ and an optional region mask.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1].
        weight: wᵢ (the style loss is ``β Σ wᵢ styleᵢ``).
        mask: ``(H, W)`` float32 in [0, 1] at the content's size (or any size with
            the content's aspect ratio): where this style applies.
        key: a name for caching its Gram matrices between runs (file path).
    """

    image: FloatImage
    weight: float = 1.0
    mask: NDArray[np.float32] | None = None
    key: str | None = None


StyleLike = Style | ArrayLike | tuple[ArrayLike, float] | tuple[ArrayLike, float, ArrayLike | None]


@dataclass
class StyleResult:
    """What :func:`stylize` returns.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1].
        losses: one dict per evaluation: ``scale``, ``step``, ``total``, ``content``, ``style``, ``tv``.
        timings: seconds per stage (``setup``, ``scale 1`` ..., ``total``).
        status: ``"done"``, ``"nan"`` (stopped: the loss became non-finite; ``image``
            is the last good one) or ``"interrupted"``.
        message: a one-line explanation when ``status`` is not ``"done"``.
        scales: ``(height, width)`` of each scale.
        options: the options used.
    """

    image: FloatImage
    losses: list[dict[str, float]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    status: str = "done"
    message: str = ""
    scales: list[tuple[int, int]] = field(default_factory=list)
    options: StyleOptions | None = None

    @property
    def final_loss(self) -> float:
        """The last recorded total loss (``nan`` when none was recorded)."""
        return self.losses[-1]["total"] if self.losses else float("nan")

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (for run records)."""
        return {
            "status": self.status,
            "message": self.message,
            "final_loss": self.final_loss,
            "evaluations": len(self.losses),
            "scales": [list(s) for s in self.scales],
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "options": {
                k: (os.fspath(v) if isinstance(v, os.PathLike) else v)
                for k, v in asdict(self.options).items()
            }
            if self.options
            else None,
        }


class StyleInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`stylize`; ``result`` holds the image reached so far."""

    def __init__(self, result: StyleResult) -> None:
        super().__init__("interrupted")
        self.result = result


class _NonFinite(Exception):
    pass


def _fit_exact(shape: tuple[int, int], long_side: int) -> tuple[int, int]:
    h, w = shape
    if h >= w:
        return long_side, max(1, round(w * long_side / h))
    return max(1, round(h * long_side / w)), long_side


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


def check_mask_shape(mask_shape: tuple[int, int], content_shape: tuple[int, int], name: str = "mask") -> None:
    """A mask must have the content's size, or at least its aspect ratio (within 1 %)."""
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
    """
    h, w = shape
    pixels = h * w
    deepest = max(LAYERS.index(n) for n in (*options.content_layers, *options.style_layers))
    per_px = 0.0
    from easel.style.vgg import _layer_table

    widths = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name, kind, _ in _layer_table()[: deepest + 1]:
        if kind == "conv":  # "conv3_2" -> block 3, at 1/4**(3-1) of the pixels
            block = int(name[4])
            per_px += widths[block] / 4 ** (block - 1)
    low = options.precision in ("auto", "bf16", "fp16")
    elem = 2 if low else 4
    activations = per_px * pixels * elem * 3.5  # conv outputs + autocast copies + backward transients
    history = 0
    if options.optimizer == "lbfgs":
        numel = 3 * pixels
        hist = options.lbfgs_history or _auto_history(numel)
        history = 2 * hist * numel * 4 + 6 * numel * 4
    return int(activations + history + 300 * 2**20)


def _auto_history(numel: int) -> int:
    return int(max(5, min(100, LBFGS_HISTORY_BUDGET // (8 * numel))))


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), or ``None``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget(device: torch.device) -> int | None:
    """Bytes free for a run on ``device`` now (host memory for the CPU), or ``None`` if unknown."""
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
        self.amp_dtype = autocast_dtype(self.device, self.options.precision)
        self._gram_cache: dict[tuple[str, int, int], dict[str, torch.Tensor]] = {}
        start = time.perf_counter()
        self.encoder = encoder if encoder is not None else self._load_encoder()
        self.load_seconds = time.perf_counter() - start

    def _load_encoder(self) -> VGGEncoder:
        from easel.style.registry import PREPROCESSING
        from easel.weights import resolve

        opts = self.options
        path = resolve(opts.model, override=opts.weights)
        preprocessing = opts.preprocessing
        if preprocessing == "auto":
            default = PREPROCESSING.get(opts.model, "caffe")
            preprocessing = guess_preprocessing(path, default=default) if opts.weights else default
        layers = list(dict.fromkeys((*opts.content_layers, *opts.style_layers)))
        encoder = load_vgg19(
            path, layers, preprocessing=preprocessing, pooling=opts.pooling, device=self.device
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
        image = resize(image, _fit_exact(image.shape[:2], side))
        with torch.no_grad():
            feats = self._features(to_tensor(image, device=self.device))
            grams = {layer: gram_matrix(feats[layer]) for layer in opts.style_layers}
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
        self.amp_dtype = autocast_dtype(self.device, precision)
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

    # ------------------------------------------------------------ the loop

    def run(
        self,
        content: ArrayLike,
        styles: Sequence[StyleLike],
        init_image: ArrayLike | None = None,
        progress: ProgressFn | None = None,
        callback: SnapshotFn | None = None,
        snapshot_every: int = 0,
    ) -> StyleResult:
        """Stylize ``content``; see :func:`stylize` for the arguments."""
        opts = self.options
        t0 = time.perf_counter()
        content_img = as_float_rgb(content, name="content")
        if min(content_img.shape[:2]) < MIN_SIDE:
            h, w = content_img.shape[:2]
            raise InputError(f"content is only {w}x{h} px; at least {MIN_SIDE} px on a side is needed")
        style_list = [_as_style(s, i) for i, s in enumerate(styles)]
        if not style_list:
            raise InputError("at least one style image is needed")
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

        result = StyleResult(image=content_img, scales=scales, options=opts)
        result.timings["setup"] = self.load_seconds
        current: torch.Tensor | None = None
        step_offset = 0
        for index, shape in enumerate(scales):
            ts = time.perf_counter()
            # the finest scale runs `iterations`, coarser ones `coarse_iterations`
            final = index == len(scales) - 1
            iters = (
                opts.iterations
                if final
                else (opts.coarse_iterations if opts.coarse_iterations is not None else opts.iterations)
            )
            content_s = resize(content_img, shape)
            use_tiles = self._tiled(shape, final)
            with torch.no_grad():
                content_t = to_tensor(content_s, device=self.device)
                ctargets: dict[str, torch.Tensor] = {}
                if not use_tiles:  # tiles compute their own content targets
                    cfeats = self._features(content_t)
                    ctargets = {layer: cfeats[layer].detach() for layer in opts.content_layers}
                    del cfeats
                targets = [self._target(s, shape, content_img) for s in style_list]
            if current is None:
                x0 = self._init(content_t, style_list, init_arr, shape, gen)
            else:
                x0 = F.interpolate(current, size=shape, mode="bicubic", align_corners=False).clamp_(0.0, 1.0)
            stage = f"scale {index + 1}/{len(scales)} {shape[1]}x{shape[0]}" if len(scales) > 1 else "stylize"
            try:
                if use_tiles:
                    from easel.style.tiling import optimize_tiled

                    current = optimize_tiled(
                        self,
                        x0,
                        content_t,
                        targets,
                        iters,
                        stage,
                        result,
                        progress,
                        callback,
                        snapshot_every,
                        step_offset,
                    )
                else:
                    current = self._optimize(
                        x0,
                        ctargets,
                        targets,
                        iters,
                        stage,
                        result,
                        progress,
                        callback,
                        snapshot_every,
                        step_offset,
                    )
            except _NonFinite as exc:
                last = exc.args[0] if exc.args else x0
                result.image = self._finish(last, content_img)
                result.status = "nan"
                result.message = (
                    f"the loss became NaN/infinite at {stage}, step {len(result.losses) + 1}; stopped and kept "
                    "the last good image (try a lower --style-weight or --learning-rate, or --precision fp32)"
                )
                result.timings[f"scale {index + 1}"] = time.perf_counter() - ts
                result.timings["total"] = time.perf_counter() - t0
                return result
            except KeyboardInterrupt as exc:
                partial = getattr(exc, "partial", None)
                result.image = self._finish(partial if partial is not None else x0, content_img)
                result.status = "interrupted"
                result.message = f"interrupted at {stage}"
                result.timings["total"] = time.perf_counter() - t0
                raise StyleInterrupted(result) from None
            step_offset = len(result.losses)
            result.timings[f"scale {index + 1}"] = time.perf_counter() - ts
        assert current is not None
        result.image = self._finish(current, content_img)
        result.timings["total"] = time.perf_counter() - t0
        return result

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

    def _optimize(
        self,
        x0: torch.Tensor,
        ctargets: dict[str, torch.Tensor],
        targets: Sequence[StyleTarget],
        iterations: int,
        stage: str,
        result: StyleResult,
        progress: ProgressFn | None,
        callback: SnapshotFn | None,
        snapshot_every: int,
        step_offset: int,
        region: tuple[int, int, int, int] | None = None,
    ) -> torch.Tensor:
        """Optimize ``x0`` for ``iterations`` steps; return the final image tensor."""
        opts = self.options
        x = x0.detach().clone().requires_grad_(True)
        if iterations == 0:
            return x.detach()
        layer_weights = opts.layer_weights()
        last_good = x.detach().clone()
        evals = 0
        scale_label = float(max(x.shape[-2:]))

        def closure() -> torch.Tensor:
            nonlocal evals, last_good
            if x.grad is not None:
                x.grad = None
            feats = self._features(x)
            terms = total_loss(
                feats,
                x,
                ctargets,
                targets,
                layer_weights,
                opts.content_weight,
                opts.style_weight,
                opts.tv_weight,
            )
            loss = terms.total
            value = float(loss.detach())
            content_value, style_value = float(terms.content.detach()), float(terms.style.detach())
            if not math.isfinite(value):
                raise _NonFinite(last_good)
            loss.backward()
            if x.grad is None or not bool(torch.isfinite(x.grad).all()):
                raise _NonFinite(last_good)
            last_good = x.detach().clone()
            evals += 1
            result.losses.append(
                {
                    "scale": scale_label,
                    "step": float(step_offset + evals),
                    "total": value,
                    "content": content_value,
                    "style": style_value,
                    "tv": float(terms.tv.detach()),
                }
            )
            report(progress, stage, evals, iterations, loss=value, content=content_value, style=style_value)
            if callback is not None and snapshot_every and (step_offset + evals) % snapshot_every == 0:
                callback(step_offset + evals, from_tensor(x.detach().float()))
            return loss.detach()

        try:
            if opts.optimizer == "lbfgs":
                history = opts.lbfgs_history or _auto_history(x.numel())
                optimizer: torch.optim.Optimizer = torch.optim.LBFGS(
                    [x],
                    lr=1.0,
                    max_iter=iterations,
                    max_eval=iterations,
                    history_size=history,
                    tolerance_grad=-1.0,
                    tolerance_change=-1.0,
                )
                # With no tolerances and max_eval == max_iter, one step() is exactly `iterations` evaluations.
                optimizer.step(closure)  # type: ignore[arg-type]
            else:
                optimizer = torch.optim.Adam([x], lr=opts.learning_rate)
                while evals < iterations:
                    optimizer.zero_grad(set_to_none=True)
                    closure()
                    optimizer.step()
        except KeyboardInterrupt as exc:
            exc.partial = last_good  # type: ignore[attr-defined]
            raise
        final = x.detach()
        if not bool(torch.isfinite(final).all()):
            return last_good
        return final.clamp(0.0, 1.0)


def stylize(
    content: ArrayLike,
    styles: Sequence[StyleLike],
    options: StyleOptions | None = None,
    progress: ProgressFn | None = None,
    init_image: ArrayLike | None = None,
    callback: SnapshotFn | None = None,
    snapshot_every: int = 0,
    **overrides: Any,
) -> StyleResult:
    """Render ``content`` in the style of one or more images (Gatys et al.).

    Args:
        content: ``(H, W, 3)`` RGB photo (float32 in [0, 1] or uint8).
        styles: style images, each an image, ``(image, weight)``,
            ``(image, weight, mask)`` or a :class:`Style`. The style loss is
            ``β Σᵢ wᵢ styleᵢ``; a mask ``(H, W)`` in [0, 1] confines that style to a region.
        options: :class:`StyleOptions` (defaults when ``None``).
        progress: callback receiving a :class:`~easel.progress.ProgressUpdate`
            per evaluation, with ``loss``, ``content`` and ``style`` metrics.
        init_image: start from this image instead of ``options.init``.
        callback: called as ``callback(step, image)`` every ``snapshot_every`` steps
            (for ``--save-every`` and animations); ``image`` is ``(h, w, 3)`` float32.
        snapshot_every: see ``callback``.
        **overrides: fields of :class:`StyleOptions` to change (``size=256, seed=1``).

    Returns:
        A :class:`StyleResult`; ``result.image`` is ``(H', W', 3)`` float32 RGB in
        [0, 1] with long side ``options.size``. When the loss becomes NaN the run
        stops early with ``status == "nan"`` and the last good image.

    Raises:
        InputError: bad images, options or masks.
        WeightsError: the encoder weights are missing or invalid.
        StyleInterrupted: Ctrl-C; its ``result`` holds the image so far.

    Example:
        >>> art = stylize(photo, [(starry, 1.0), (scream, 0.45)], size=512, seed=0)  # doctest: +SKIP
        >>> art.image.shape  # doctest: +SKIP
        (384, 512, 3)
    """
    opts = replace(options or StyleOptions(), **overrides) if overrides else (options or StyleOptions())
    return Stylizer(opts).run(
        content,
        styles,
        init_image=init_image,
        progress=progress,
        callback=callback,
        snapshot_every=snapshot_every,
    )


def fit_size(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """``(height, width)`` of an output with long side ``size`` for a content of ``shape``."""
    return _fit_exact(shape, size)


__all__ = [
    "Style",
    "StyleInterrupted",
    "StyleOptions",
    "StyleResult",
    "Stylizer",
    "estimate_memory",
    "fit_size",
    "stylize",
]
