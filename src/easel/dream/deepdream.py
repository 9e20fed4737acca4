"""DeepDream: gradient ascent on the image to excite the layers of a CNN.

The original recipe (google/deepdream): an image pyramid of *octaves*, the
detail added at a coarse octave carried up to the next; at each step the image
is randomly shifted (jitter), the gradient of the activation energy is
divided by its mean absolute value and added, and the pixels are kept in
range. Gradients are computed in tiles whose grid moves randomly every step
(:mod:`easel.dream.tiles`), so memory stays bounded at any size without
visible seams. A *guide* image turns the objective into the dot product
between the image's features and their best match among the guide's.

The steps run in :func:`easel.optim.optimize` (one per-step hook, Ctrl-C
returning the image reached so far, a status saying how the run ended) with
:class:`NormalizedAscent` as the optimizer.

Example:
    >>> result = dream(image, DreamOptions(octaves=3, iterations=10))  # doctest: +SKIP
    >>> result.status, result.image.shape                             # doctest: +SKIP
    ('finished', (600, 800, 3))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from easel.dream.options import MIN_OCTAVE_SIDE, DreamOptions, auto_tile_size
from easel.dream.tiles import tile_boxes
from easel.image import FloatImage, as_float_rgb, from_tensor, to_tensor
from easel.nets.precision import PrecisionChoice
from easel.optim import StepHook, optimize
from easel.options import OptionError
from easel.progress import ProgressFn

log = logging.getLogger(__name__)

__all__ = [
    "GUIDE_SIZE",
    "MEASURE_SIZE",
    "DreamResult",
    "Dreamer",
    "NormalizedAscent",
    "auto_precision",
    "dream",
    "load_dream_encoder",
    "measure_encoder_speed",
    "resize_tensor",
]

GUIDE_SIZE = 512
"""Long side (px) at which a guide image's features are computed (smaller guides keep their size)."""
MEASURE_SIZE = 192
"""Side (px) of the image ``precision="auto"`` times the encoder on (fp32 against the low precision).

Not smaller: at 96 px fixed costs swamp the arithmetic, and on a loaded CPU the
bf16/fp32 ratio of a 96 px pass swung between 0.65 and 1.1 where 192 px gave
0.57-0.72 (a full 512 px step: 0.4)."""

_AUTO_CHOICES: dict[tuple[str, bool, tuple[int, ...], tuple[str, ...]], PrecisionChoice] = {}


def _set_memory_format(encoder: torch.nn.Module, channels_last: bool) -> None:
    """Switch a :class:`~easel.nets.vgg.VGGEncoder` (shared by several dreamers) to the wanted layout."""
    switch = getattr(encoder, "use_channels_last", None)
    if switch is not None and bool(getattr(encoder, "channels_last", False)) != channels_last:
        switch(channels_last)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure_encoder_speed(
    encoder: torch.nn.Module,
    device: torch.device,
    precisions: Iterable[str] = ("fp32", "bf16"),
    *,
    channels_last: bool = True,
    size: int = MEASURE_SIZE,
    repeats: int = 3,
) -> dict[str, float]:
    """Seconds of one dream gradient (forward + backward to the image) of ``encoder``, per precision.

    The measurement behind ``precision="auto"``: the dream's own encoder, in the
    dream's memory format, on a ``(1, 3, size, size)`` image; each precision is
    warmed up once and the best of ``repeats`` passes is kept. On the CPU the
    process's CPU time is measured (on a machine shared with other jobs the wall
    time mostly measures the others); elsewhere the wall time.

    Example:
        >>> from easel.nets.vgg import VGGEncoder
        >>> times = measure_encoder_speed(VGGEncoder(widths=(4,) * 16), torch.device("cpu"), ("fp32",), size=16)
        >>> list(times), times["fp32"] > 0
        (['fp32'], True)
    """
    from easel.devices import autocast
    from easel.nets.precision import PRECISION_DTYPES

    _set_memory_format(encoder, channels_last)
    clock = time.process_time if device.type == "cpu" else time.perf_counter
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    seconds: dict[str, float] = {}
    for name in precisions:
        best = float("inf")
        for run in range(repeats + 1):
            x = image.clone().requires_grad_(True)
            _sync(device)
            start = clock()
            with autocast(device, PRECISION_DTYPES[name]):
                feats = encoder(x)
            loss = sum((f.float().square().mean() for f in feats.values()), x.new_zeros(()))
            torch.autograd.grad(loss, x)
            _sync(device)
            if run > 0:  # the first pass warms up (allocations, kernel selection)
                best = min(best, clock() - start)
        seconds[name] = best
    return seconds


def auto_precision(
    encoder: torch.nn.Module, device: torch.device, *, channels_last: bool = True
) -> tuple[torch.dtype | None, PrecisionChoice]:
    """``precision="auto"`` for a dream: the faster of fp32 and the low precision, for this encoder and layout.

    The machine-wide measurement of :mod:`easel.nets.precision` times plain
    (channels-first) convolutions; in channels-last layout the answer can
    differ (on one AVX512-BF16/AMX Xeon a VGG-19 step in bf16 is 1.4 times faster
    than fp32 channels-first, 2.2 times channels-last). So a channels-last dream times its own
    encoder with :func:`measure_encoder_speed` (a fraction of a second), once
    per process, through :func:`easel.nets.precision.choose_precision` (same
    margin, same record); a channels-first one uses the shared cached measurement.

    Returns:
        ``(dtype, choice)``: the autocast dtype (``None`` = fp32) and the measurement.

    Example:
        >>> dtype, choice = auto_precision(encoder, torch.device("cpu"))  # doctest: +SKIP
        >>> choice.precision, choice.seconds  # doctest: +SKIP
        ('bf16', {'fp32': 0.21, 'bf16': 0.09})
    """
    from easel.nets.precision import PRECISION_DTYPES, choose_precision, device_key, resolve_precision

    if not channels_last:
        dtype, shared = resolve_precision(device, "auto")
        assert shared is not None
        return dtype, shared
    widths = tuple(m.out_channels for m in encoder.modules() if isinstance(m, torch.nn.Conv2d))
    layers = tuple(getattr(encoder, "layers", ()))
    key = (device_key(device), channels_last, widths, layers)
    choice = _AUTO_CHOICES.get(key)
    if choice is None:

        def measure(device: torch.device, precisions: Iterable[str]) -> dict[str, float]:
            return measure_encoder_speed(encoder, device, precisions, channels_last=channels_last)

        choice = choose_precision(device, measure=measure, use_cache=False)
        _AUTO_CHOICES[key] = choice
    return PRECISION_DTYPES[choice.precision], choice


class NormalizedAscent(torch.optim.Optimizer):
    """DeepDream's step: ``x -= lr * g / mean|g|``, then ``x`` clamped to ``[low, high]``.

    It descends the loss it is given (:func:`~easel.optim.optimize` minimizes),
    so a dream passes the negative activation energy. The step does not depend
    on the scale of the gradient, only on its direction pattern.

    Args:
        params: the tensors to optimize (an image).
        lr: the step, in the units of the parameters (1.5 / 255 for DeepDream in [0, 1]).
        low: lower bound after each step (``None``: none).
        high: upper bound after each step (``None``: none).

    Example:
        >>> x = torch.zeros(4, requires_grad=True)
        >>> opt = NormalizedAscent([x], lr=0.1)
        >>> x.grad = torch.tensor([-2.0, -2.0, 2.0, 2.0])
        >>> _ = opt.step()
        >>> x.tolist()
        [0.10000000149011612, 0.10000000149011612, 0.0, 0.0]
    """

    def __init__(self, params: Any, lr: float, low: float | None = 0.0, high: float | None = 1.0) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        super().__init__(params, {"lr": lr, "low": low, "high": high})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Apply one normalized step with the gradients already computed (``closure`` is only called)."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                scale = g.abs().mean()
                if float(scale) > 0:
                    p.sub_(g, alpha=group["lr"] / float(scale))
                if group["low"] is not None or group["high"] is not None:
                    p.clamp_(group["low"], group["high"])
        return loss


def resize_tensor(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Resize ``(N, C, H, W)`` to ``shape`` ``(height, width)``: bilinear, antialiased when shrinking.

    Example:
        >>> resize_tensor(torch.zeros(1, 3, 8, 10), (4, 5)).shape
        torch.Size([1, 3, 4, 5])
    """
    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    shrinking = shape[0] * shape[1] < x.shape[-2] * x.shape[-1]
    return F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=shrinking)


@dataclass
class DreamResult:
    """How a dream ended, and its image.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1], the input's size (also when
            the run ended early: the detail reached so far, carried up to full size).
        status: ``"finished"``, ``"stopped"`` (the hook asked), ``"interrupted"``
            (Ctrl-C/SIGTERM) or ``"non-finite"``.
        message: one line saying how it ended (``""`` when finished).
        octave_shapes: ``(height, width)`` of each octave, coarse to fine.
        history: one dict per step: ``step``, ``octave`` and ``energy`` (the
            activation energy of that step's jittered image, before the step).
        notes: things worth telling the user (fewer octaves than asked).
        seconds: wall time of the dream.
        octave_seconds: wall time of each octave's steps (where the time goes).

    Example:
        >>> result = dream(image, DreamOptions(iterations=5))  # doctest: +SKIP
        >>> result.final_energy > result.history[0]["energy"]  # doctest: +SKIP
        True
    """

    image: FloatImage
    status: str
    message: str
    octave_shapes: list[tuple[int, int]]
    history: list[dict[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    octave_seconds: list[float] = field(default_factory=list)

    @property
    def final_energy(self) -> float:
        """The energy of the last step (``nan`` when no step ran)."""
        return self.history[-1]["energy"] if self.history else float("nan")

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary for a run record.

        Example:
            >>> import numpy as np
            >>> DreamResult(np.zeros((2, 2, 3), np.float32), "finished", "", [(2, 2)]).summary()["steps"]
            0
        """
        return {
            "status": self.status,
            "message": self.message,
            "octaves": [[w, h] for h, w in self.octave_shapes],
            "steps": len(self.history),
            "first_energy": self.history[0]["energy"] if self.history else None,
            "final_energy": self.history[-1]["energy"] if self.history else None,
            "seconds": round(self.seconds, 3),
            "octave_seconds": [round(s, 3) for s in self.octave_seconds],
        }


@torch.no_grad()
def _layer_widths(encoder: torch.nn.Module, layers: Iterable[str], device: torch.device) -> dict[str, int]:
    """Channels of each named activation of an encoder (a VGG-19 or a GoogLeNet): one small forward pass."""
    feats = encoder(torch.zeros(1, 3, 64, 64, device=device))
    return {name: int(feats[name].shape[1]) for name in layers if name in feats}


def load_dream_encoder(options: DreamOptions, device: torch.device) -> torch.nn.Module:
    """The encoder of ``options.model`` (or ``options.weights``) returning the options' layers.

    Raises:
        WeightsError: the weights are not cached, or not a file of that network.

    Example:
        >>> enc = load_dream_encoder(DreamOptions(model="googlenet-torchvision"), torch.device("cpu"))  # doctest: +SKIP
        >>> enc.layers  # doctest: +SKIP
        ['inception4c']
    """
    from easel.dream.options import family

    layers = list(options.layer_weights())
    if family(options.model) == "googlenet":
        from easel.nets.googlenet import load_googlenet
        from easel.weights import resolve

        return load_googlenet(resolve(options.model, override=options.weights), layers=layers, device=device)
    from easel.nets.vgg import load_encoder

    return load_encoder(options.model, weights=options.weights, layers=layers, device=device)


class Dreamer:
    """An encoder and an objective, ready to dream any number of images (the frames of a zoom video).

    Args:
        options: the settings (validated here).
        guide: a guide image (``(H, W, 3)`` float32 RGB in [0, 1]): maximize the
            dot product with its features instead of the activation energy.
        encoder: an already loaded encoder returning the options' layers
            (default: :func:`easel.nets.load_encoder` with ``model``/``weights``).

    Raises:
        OptionError: a channel index the encoder's layers do not have; channels with a guide.
        WeightsError: the weights are not cached, or not a file of the options' network.

    Example:
        >>> dreamer = Dreamer(DreamOptions(weights="vgg19-tiny.pth"))  # doctest: +SKIP
        >>> frames = [dreamer.run(image, seed=i).image for i in range(3)]  # doctest: +SKIP
    """

    def __init__(
        self,
        options: DreamOptions,
        guide: ArrayLike | None = None,
        encoder: torch.nn.Module | None = None,
    ) -> None:
        from easel.devices import resolve_device
        from easel.nets.precision import resolve_precision

        self.options = options.validate()
        self.weights = options.layer_weights()
        self.device = resolve_device(options.device)
        self.channels_last = options.channels_last
        self.dtype: torch.dtype | None = None
        self.precision_choice: PrecisionChoice | None = None
        if options.precision != "auto":
            self.dtype, _ = resolve_precision(self.device, options.precision)  # an unknown name fails early
        if encoder is None:
            encoder = load_dream_encoder(options, self.device)
        self.encoder = encoder.to(self.device)
        if options.precision == "auto":
            self.dtype, self.precision_choice = auto_precision(
                self.encoder, self.device, channels_last=self.channels_last
            )
        self.widths = _layer_widths(self.encoder, self.weights, self.device)
        if options.channels is not None:
            if guide is not None:
                raise OptionError(
                    "channels", "cannot be combined with a guide image (the guide picks the features)"
                )
            for name, width in self.widths.items():
                bad = [c for c in options.channels if c >= width]
                if bad:
                    raise OptionError(
                        "channels", f"has index {bad[0]}, but {name} has {width} channels (0-{width - 1})"
                    )
        self.guide: dict[str, torch.Tensor] | None = None
        if guide is not None:
            self.guide = self._guide_features(as_float_rgb(guide, name="guide image"))

    # ------------------------------------------------------------ the objective

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        from easel.devices import autocast

        _set_memory_format(self.encoder, self.channels_last)  # the encoder may be shared
        with autocast(self.device, self.dtype):
            feats = self.encoder(x)
        return {name: f.float() for name, f in feats.items()}

    @torch.no_grad()
    def _guide_features(self, guide: FloatImage) -> dict[str, torch.Tensor]:
        x = to_tensor(guide, device=self.device)
        long_side = max(x.shape[-2:])
        if long_side > GUIDE_SIZE:
            h, w = x.shape[-2:]
            x = resize_tensor(
                x, (max(1, round(h * GUIDE_SIZE / long_side)), max(1, round(w * GUIDE_SIZE / long_side)))
            )
        return {name: f[0].flatten(1) for name, f in self._features(x).items()}  # (C, M) per layer

    def objective(self, x: torch.Tensor) -> torch.Tensor:
        """The quantity a dream maximizes for an image batch ``x`` ``(1, 3, h, w)`` in [0, 1].

        Without a guide: the weighted sum over layers of the mean squared
        activation (of the chosen channels). With a guide: the weighted sum of
        the mean dot product between each feature vector of ``x`` and its best
        match (largest dot product) among the guide's.

        Example:
            >>> float(dreamer.objective(torch.rand(1, 3, 64, 64))) > 0  # doctest: +SKIP
            True
        """
        feats = self._features(x)
        total = x.new_zeros(())
        for name, weight in self.weights.items():
            f = feats[name]
            if self.guide is not None:
                xf = f[0].flatten(1)  # (C, N)
                y = self.guide[name]
                with torch.no_grad():
                    match = (xf.t() @ y).argmax(dim=1)
                term = (xf * y[:, match]).sum() / max(1, xf.shape[1])
            else:
                if self.options.channels is not None:
                    f = f[:, list(self.options.channels)]
                term = f.square().mean()
            total = total + weight * term
        return total

    def gradient(
        self, image: torch.Tensor, generator: torch.Generator | None = None, *, jitter: bool = True
    ) -> tuple[torch.Tensor, float]:
        """The gradient of :meth:`objective` with respect to ``image``, in tiles, and the energy.

        The image is rolled by a random shift of up to ``jitter`` pixels, the
        tile grid is offset at random (both from ``generator``), each tile's
        objective (weighted by its share of the pixels) is differentiated on
        its own, and the gradient is rolled back. An image that fits in one
        tile gets exactly the untiled gradient.

        Args:
            image: ``(1, 3, H, W)`` float32 in [0, 1].
            generator: the source of the random shifts (CPU generator).
            jitter: apply the jitter roll (``False``: measure the image as it is).

        Returns:
            ``(gradient, energy)``: a tensor of ``image``'s shape, and the
            objective (the sum over tiles) as a float.

        Example:
            >>> grad, energy = dreamer.gradient(torch.rand(1, 3, 64, 64))  # doctest: +SKIP
        """
        h, w = image.shape[-2:]
        j = self.options.jitter if jitter else 0
        shifts = torch.randint(-j, j + 1, (2,), generator=generator).tolist() if j > 0 else [0, 0]
        tile = auto_tile_size((h, w), self.options.tile_size)
        offset = torch.randint(0, tile, (2,), generator=generator).tolist()
        sy, sx = int(shifts[0]), int(shifts[1])
        rolled = image.detach().roll((sy, sx), (2, 3)) if (sy or sx) else image.detach()
        grad = torch.zeros_like(rolled)
        energy = 0.0
        area = float(h * w)
        for rows, cols in tile_boxes((h, w), tile, (int(offset[0]), int(offset[1]))):
            part = rolled[:, :, rows, cols].clone().requires_grad_(True)
            share = part.shape[-2] * part.shape[-1] / area
            value = self.objective(part) * share
            (g,) = torch.autograd.grad(value, part)
            grad[:, :, rows, cols] = g
            energy += float(value.detach())
        if sy or sx:
            grad = grad.roll((-sy, -sx), (2, 3))
        return grad, energy

    @torch.no_grad()
    def energy(self, image: ArrayLike) -> float:
        """The objective of ``image`` ``(H, W, 3)`` in [0, 1], untiled when it fits one tile, without jitter.

        The measure a benchmark compares dreams with (the same for every run).

        Example:
            >>> dreamer.energy(result.image) > dreamer.energy(image)  # doctest: +SKIP
            True
        """
        x = to_tensor(image, device=self.device)
        h, w = x.shape[-2:]
        tile = auto_tile_size((h, w), self.options.tile_size)
        total = 0.0
        for rows, cols in tile_boxes((h, w), tile):
            part = x[:, :, rows, cols]
            total += float(self.objective(part)) * part.shape[-2] * part.shape[-1] / (h * w)
        return total

    # ------------------------------------------------------------ the dream

    def run(
        self,
        image: ArrayLike,
        *,
        seed: int | None = None,
        progress: ProgressFn | None = None,
        on_step: StepHook | None = None,
    ) -> DreamResult:
        """Dream ``image`` ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8`` accepted); same size out.

        Args:
            image: the photo to dream into.
            seed: the jitter's seed; ``None`` = the options' seed.
            progress: receives one update per step (stage ``"octave i/n WxH"``, the energy).
            on_step: :func:`easel.optim.optimize`'s hook; returning ``True`` stops the dream.

        Returns:
            A :class:`DreamResult`; Ctrl-C ends the run with ``status="interrupted"``
            and the image reached so far (not an exception).

        Example:
            >>> dreamer.run(image, seed=1).status  # doctest: +SKIP
            'finished'
        """
        start = time.perf_counter()
        rgb = as_float_rgb(image)
        shapes, note = self.options.octave_shapes(rgb.shape[:2])
        notes = [note] if note else []
        if min(rgb.shape[:2]) < MIN_OCTAVE_SIDE:
            log.debug("image %s smaller than an octave's minimum; one octave", rgb.shape[:2])
        seed = self.options.seed if seed is None else seed
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(int(seed))
        else:
            generator.seed()
        full = to_tensor(rgb, device=self.device)
        bases = [resize_tensor(full, shape) for shape in shapes]
        detail = torch.zeros_like(bases[0])
        history: list[dict[str, float]] = []
        status, message = "finished", ""
        lr = self.options.step / 255.0
        offset = 0
        octave_seconds: list[float] = []
        for index, base in enumerate(bases):
            octave_start = time.perf_counter()
            detail = resize_tensor(detail, tuple(base.shape[-2:]))  # type: ignore[arg-type]
            param = (base + detail).clamp(0.0, 1.0).requires_grad_(True)
            h, w = base.shape[-2:]
            stage = f"octave {index + 1}/{len(bases)} {w}x{h}"

            def loss_fn(param: torch.Tensor = param) -> tuple[torch.Tensor, dict[str, float]]:
                grad, energy = self.gradient(param, generator)
                surrogate = (param * grad).sum()
                # value: -energy; gradient: -grad (optimize minimizes; the step is normalized)
                return surrogate.detach() - surrogate - energy, {"energy": energy}

            fit = optimize(
                param,
                loss_fn,
                self.options.iterations,
                optimizer=lambda tensors: NormalizedAscent(tensors, lr=lr),
                stage=stage,
                progress=progress,
                on_step=on_step,
                step_offset=offset,
            )
            offset += fit.steps
            octave_seconds.append(time.perf_counter() - octave_start)
            history.extend(
                {"step": entry["step"], "octave": float(index + 1), "energy": entry["energy"]}
                for entry in fit.history
            )
            detail = fit.param.detach() - base
            if fit.status != "finished":
                status, message = fit.status, fit.message
                break
        out = (full + resize_tensor(detail, tuple(full.shape[-2:]))).clamp(0.0, 1.0)  # type: ignore[arg-type]
        if not bool(torch.isfinite(out).all()):
            out = full
        return DreamResult(
            image=from_tensor(out),
            status=status,
            message=message,
            octave_shapes=shapes,
            history=history,
            notes=notes,
            seconds=time.perf_counter() - start,
            octave_seconds=octave_seconds,
        )


def dream(
    image: ArrayLike,
    options: DreamOptions | None = None,
    *,
    guide: ArrayLike | None = None,
    progress: ProgressFn | None = None,
    on_step: StepHook | None = None,
) -> DreamResult:
    """DeepDream ``image`` ``(H, W, 3)`` float32 RGB in [0, 1]: octaves, jitter, tiled gradients.

    Args:
        image: the photo (``uint8`` accepted); the result has its size.
        options: the settings (:class:`~easel.dream.options.DreamOptions`).
        guide: a guide image ``(H, W, 3)`` in [0, 1]: dream towards its features.
        progress: receives one :class:`~easel.progress.ProgressUpdate` per step.
        on_step: a per-step hook (:class:`easel.optim.StepState`); ``True`` stops.

    Returns:
        A :class:`DreamResult` (``status`` says how it ended; Ctrl-C keeps the image so far).

    Raises:
        OptionError: a bad option (unknown layer, channel out of range ...).
        WeightsError: the encoder's weights are missing or unreadable.

    Example:
        >>> result = dream(photo, DreamOptions(layers=("relu4_2",), octaves=4, seed=0))  # doctest: +SKIP
        >>> result.image.shape == photo.shape                                             # doctest: +SKIP
        True
    """
    options = options or DreamOptions()
    return Dreamer(options, guide=guide).run(image, progress=progress, on_step=on_step)
