"""The settings of a DeepDream and of a zoom video, declared once for the API, the CLI and the studio.

:class:`DreamOptions` and :class:`ZoomOptions` are plain data (no torch):
``easel dream --help`` is built from their field declarations without loading
the network, and :meth:`~DreamOptions.validate` names the bad field
(``layers has an unknown VGG-19 layer 'relu4_5' (did you mean relu4_4 ...?)``), which
the CLI shows with the user's flag (``--layers ...``).

Example:
    >>> opts = DreamOptions(layers=("relu4_2", "relu5_1:0.5"))
    >>> opts.layer_weights()
    {'relu4_2': 1.0, 'relu5_1': 0.5}
    >>> octave_shapes((600, 800), octaves=4, octave_scale=1.4)[0]
    [(218, 290), (305, 407), (428, 571), (600, 800)]
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass

from easel.devices import device_option
from easel.dream.registry import GOOGLENET
from easel.nets.options import DEFAULT_MODEL, PRECISIONS, precision_option, weights_option
from easel.nets.registry import PREPROCESSING as MODEL_PREPROCESSING
from easel.nets.vgg_layers import LAYERS
from easel.options import OptionError, option
from easel.pyramid import pyramid_shapes

__all__ = [
    "DEFAULT_LAYERS",
    "MAX_ZOOM",
    "MODELS",
    "MIN_OCTAVE_SIDE",
    "MIN_SIDE",
    "MIN_TILE",
    "PRECISIONS",
    "DreamOptions",
    "ZoomOptions",
    "auto_tile_size",
    "family",
    "layer_names",
    "octave_shapes",
    "parse_layer_spec",
]

MODELS: tuple[str, ...] = (*MODEL_PREPROCESSING, GOOGLENET)
"""Registry names of the encoders a dream can use: the VGG-19s of ``stylize`` and GoogLeNet."""
DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {"vgg19": ("relu4_2",), "googlenet": ("inception4c",)}
"""Network family -> the layers dreamed when ``layers`` is ``None`` (inception4c: the original notebook's)."""
MIN_SIDE = 32
"""Smallest side (px) of an input image."""
MIN_OCTAVE_SIDE = 32
"""Smallest short side (px) of the coarsest octave; coarser octaves are dropped with a notice."""
MIN_TILE = 64
"""Smallest ``tile_size`` (px)."""
AUTO_TILE = 1024
"""Tile side (px) used when ``tile_size`` is ``None``: images up to this size are one tile."""
MAX_OCTAVES = 12
MAX_ZOOM = 2.0
"""The largest zoom factor between two frames of a zoom video."""
MAX_ROTATE = 45.0
"""The largest rotation (degrees) between two frames of a zoom video."""
MAX_ZOOM_FRAMES = 100_000

_OBJECTIVE = "objective"
_OCTAVES = "octaves and steps"
_ENCODER = "encoder"
_ZOOM = "zoom video"


def parse_layer_spec(spec: str) -> tuple[str, float]:
    """``"relu4_2"`` -> ``("relu4_2", 1.0)``; ``"relu5_1:0.5"`` -> ``("relu5_1", 0.5)``.

    The name is not checked here (see :meth:`DreamOptions.validate`).

    Raises:
        OptionError: a weight that is not a finite number > 0 (naming ``layers``).

    Example:
        >>> parse_layer_spec("relu5_1:0.5")
        ('relu5_1', 0.5)
    """
    name, sep, weight_text = spec.strip().partition(":")
    if not sep:
        return name, 1.0
    try:
        weight = float(weight_text)
    except ValueError:
        raise OptionError("layers", f"has a bad weight in {spec!r}: expected NAME or NAME:WEIGHT") from None
    if not math.isfinite(weight) or weight <= 0:
        raise OptionError("layers", f"weight of {name!r} must be a finite number > 0, got {weight_text}")
    return name, weight


def family(model: str) -> str:
    """``"googlenet"`` or ``"vgg19"``: which network (and layer names) a registry name means.

    Example:
        >>> family("vgg19-caffe"), family("googlenet-torchvision")
        ('vgg19', 'googlenet')
    """
    return "googlenet" if model == GOOGLENET else "vgg19"


def layer_names(model: str) -> tuple[str, ...]:
    """The layer names of ``model``'s network, in network order.

    Example:
        >>> layer_names("googlenet-torchvision")[-1], layer_names("vgg19-caffe")[0]
        ('inception5b', 'conv1_1')
    """
    if family(model) == "googlenet":
        from easel.nets.googlenet import LAYERS as GOOGLENET_LAYERS  # torch: only once a dream is checked

        return GOOGLENET_LAYERS
    return LAYERS


def _unknown_layer(name: str, model: str) -> str:
    close = difflib.get_close_matches(name, layer_names(model), n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    if family(model) == "googlenet":
        return f"has an unknown GoogLeNet layer {name!r}{hint}; layers are named like inception4c or conv2"
    return f"has an unknown VGG-19 layer {name!r}{hint}; layers are named like relu4_2 or conv5_1"


def auto_tile_size(shape: tuple[int, int], tile_size: int | None) -> int:
    """The tile side used for an image of ``shape``: ``tile_size``, or :data:`AUTO_TILE` when ``None``.

    Example:
        >>> auto_tile_size((4096, 4096), None), auto_tile_size((600, 800), 256)
        (1024, 256)
    """
    del shape  # the automatic size is the same for every image; kept for a future memory-based choice
    return AUTO_TILE if tile_size is None else tile_size


def octave_shapes(
    shape: tuple[int, int], octaves: int, octave_scale: float
) -> tuple[list[tuple[int, int]], str | None]:
    """The ``(height, width)`` of each octave, coarse to fine, and a note when fewer fit.

    The finest octave is ``shape`` itself; each coarser one is ``octave_scale``
    times smaller (:func:`easel.pyramid.pyramid_shapes`). Octaves whose short
    side would fall under :data:`MIN_OCTAVE_SIDE` are dropped, and the note
    says so.

    Example:
        >>> octave_shapes((48, 64), octaves=4, octave_scale=1.4)
        ([(34, 45), (48, 64)], '64x48 is too small for 4 octaves at scale 1.4: using 2 (the coarsest octave keeps at least 32 px on its short side)')
    """
    height, width = shape
    long_side, short_side = max(shape), min(shape)
    min_long = math.ceil(MIN_OCTAVE_SIDE * long_side / short_side)
    shapes = pyramid_shapes(shape, long_side, min_long_side=min_long, ratio=octave_scale, max_levels=octaves)
    shapes[-1] = (height, width)
    note = None
    if len(shapes) < octaves:
        note = (
            f"{width}x{height} is too small for {octaves} octaves at scale {octave_scale:g}: using "
            f"{len(shapes)} (the coarsest octave keeps at least {MIN_OCTAVE_SIDE} px on its short side)"
        )
    return shapes, note


@dataclass
class DreamOptions:
    """Settings of a DeepDream (the CLI's options, with the same names).

    Attributes:
        layers: encoder layers whose activations are maximized, each ``NAME`` or
            ``NAME:WEIGHT`` (``("relu4_2", "relu5_1:0.5")``); ``None``: the model's
            default (:data:`DEFAULT_LAYERS`: ``relu4_2``, ``inception4c`` for GoogLeNet).
        channels: maximize only these channels of each layer (``None``: all).
        octaves: scales of the pyramid, the finest being the input's size.
        octave_scale: size ratio between neighbouring octaves (> 1).
        iterations: gradient steps per octave.
        step: step size in 0-255 pixel levels per step (the gradient is divided
            by its mean absolute value first, as in the original).
        jitter: random shift (roll) of up to this many pixels per step.
        tile_size: compute gradients in tiles of this many pixels, with a random
            grid offset per step; ``None`` = 1024 (images up to 1024 px are one tile).
        model: registry name of the encoder (:data:`MODELS`).
        weights: a local weights file overriding the registry's cached copy.
        precision: ``"auto"`` (the faster of fp32 and the device's low precision,
            measured with this encoder in this memory format, once per process),
            ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        channels_last: run the convolutions in channels-last memory format (on a
            CPU with AMX/AVX512-BF16 this is what makes bf16 fast; ``--no-channels-last``
            for the plain layout).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        seed: random seed of the jitter; ``None`` leaves torch's generator alone.

    Example:
        >>> DreamOptions(octaves=3).validate().octaves
        3
    """

    layers: tuple[str, ...] | None = option(
        None,
        help="encoder layers to excite, each NAME or NAME:WEIGHT (default relu4_2; inception4c for googlenet)",
        metavar="L[:W][,L[:W]]",
        group=_OBJECTIVE,
    )
    channels: tuple[int, ...] | None = option(
        None, help="excite only these channels of each layer (default all)", metavar="C[,C]", group=_OBJECTIVE
    )
    octaves: int = option(4, help="number of octaves (scales)", metavar="N", group=_OCTAVES)
    octave_scale: float = option(1.4, help="size ratio between octaves", metavar="F", group=_OCTAVES)
    iterations: int = option(10, help="gradient steps per octave", metavar="N", group=_OCTAVES)
    step: float = option(1.5, help="step size, in 0-255 pixel levels", metavar="S", group=_OCTAVES)
    jitter: int = option(32, help="random shift per step, in pixels", metavar="PX", group=_OCTAVES)
    tile_size: int | None = option(
        None,
        help="compute gradients in tiles of PX pixels, randomly shifted each step (default 1024)",
        metavar="PX",
        group=_OCTAVES,
    )
    model: str = option(
        DEFAULT_MODEL, help="encoder weights from the registry", choices=MODELS, group=_ENCODER
    )
    weights: str | os.PathLike[str] | None = weights_option(_ENCODER)
    precision: str = precision_option(_ENCODER)
    channels_last: bool = option(
        True, help="channels-last convolutions (default; faster on CPU and CUDA)", group=_ENCODER
    )
    device: str = device_option()
    seed: int | None = option(0, help="random seed, for reproducible results")

    def layer_weights(self) -> dict[str, float]:
        """Layer name -> weight (a layer named twice adds its weights).

        Example:
            >>> DreamOptions(layers=("relu4_2:2", "relu4_2")).layer_weights()
            {'relu4_2': 3.0}
        """
        weights: dict[str, float] = {}
        specs = self.layers if self.layers is not None else DEFAULT_LAYERS[family(self.model)]
        for spec in specs:
            name, weight = parse_layer_spec(spec)
            weights[name] = weights.get(name, 0.0) + weight
        return weights

    def validate(self) -> DreamOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the bad one.

        Example:
            >>> DreamOptions(layers=("relu4_5",)).validate()
            Traceback (most recent call last):
            ...
            easel.options.OptionError: layers has an unknown VGG-19 layer 'relu4_5' (did you mean relu4_4 or relu4_3 or relu4_2?); layers are named like relu4_2 or conv5_1
        """
        if self.model not in MODELS:
            raise OptionError("model", f"must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.layers is not None and not self.layers:
            raise OptionError("layers", "must name at least one layer")
        names = layer_names(self.model)
        for name in self.layer_weights():
            if name not in names:
                raise OptionError("layers", _unknown_layer(name, self.model))
        if self.channels is not None:
            if not self.channels:
                raise OptionError("channels", "must name at least one channel")
            for channel in self.channels:
                if isinstance(channel, bool) or not isinstance(channel, int) or channel < 0:
                    raise OptionError("channels", f"must be channel indices >= 0, got {channel!r}")
        if not 1 <= self.octaves <= MAX_OCTAVES:
            raise OptionError("octaves", f"must be between 1 and {MAX_OCTAVES}, got {self.octaves}")
        if not (math.isfinite(self.octave_scale) and 1.0 < self.octave_scale <= 4.0):
            raise OptionError("octave_scale", f"must be > 1 and at most 4, got {self.octave_scale}")
        if not 1 <= self.iterations <= 100_000:
            raise OptionError("iterations", f"must be between 1 and 100000, got {self.iterations}")
        if not (math.isfinite(self.step) and 0 < self.step <= 255):
            raise OptionError("step", f"must be > 0 and at most 255 (pixel levels), got {self.step}")
        if not 0 <= self.jitter <= 4096:
            raise OptionError("jitter", f"must be between 0 and 4096 pixels, got {self.jitter}")
        if self.tile_size is not None and self.tile_size < MIN_TILE:
            raise OptionError("tile_size", f"must be at least {MIN_TILE} px, got {self.tile_size}")
        if self.precision not in PRECISIONS:
            raise OptionError("precision", f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        return self

    def octave_shapes(self, shape: tuple[int, int]) -> tuple[list[tuple[int, int]], str | None]:
        """The octaves of an image of ``shape`` (see :func:`octave_shapes`).

        Example:
            >>> DreamOptions(octaves=2, octave_scale=2).octave_shapes((300, 400))
            ([(150, 200), (300, 400)], None)
        """
        return octave_shapes(shape, self.octaves, self.octave_scale)

    def total_steps(self, shape: tuple[int, int]) -> int:
        """Gradient steps of a whole dream of an image of ``shape``.

        Example:
            >>> DreamOptions(octaves=4, iterations=10).total_steps((600, 800))
            40
        """
        return self.iterations * len(self.octave_shapes(shape)[0])


@dataclass
class ZoomOptions:
    """Settings of a zoom video: each dreamed frame, zoomed (and rotated), is dreamed again.

    Attributes:
        zoom_frames: frames of the video (the first is the dreamed input).
        zoom: zoom factor between two frames, > 1 and at most :data:`MAX_ZOOM`.
        rotate: rotation between two frames, degrees (counter-clockwise), at most 45.
        fps: frames per second of the video.

    Example:
        >>> ZoomOptions(zoom_frames=60, zoom=1.05).validate().zoom
        1.05
    """

    zoom_frames: int = option(
        60, help="frames of the zoom video (with a video output)", metavar="N", group=_ZOOM
    )
    zoom: float = option(1.05, help="zoom factor between frames", metavar="F", group=_ZOOM)
    rotate: float = option(0.0, help="rotation between frames, degrees", metavar="DEG", group=_ZOOM)
    fps: float = option(12.0, help="frames per second", metavar="FPS", group=_ZOOM)

    def validate(self) -> ZoomOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the bad one.

        Example:
            >>> ZoomOptions(zoom=0.9).validate()
            Traceback (most recent call last):
            ...
            easel.options.OptionError: zoom must be > 1 (zooming in) and at most 2, got 0.9
        """
        if not 1 <= self.zoom_frames <= MAX_ZOOM_FRAMES:
            raise OptionError(
                "zoom_frames", f"must be between 1 and {MAX_ZOOM_FRAMES}, got {self.zoom_frames}"
            )
        if not (math.isfinite(self.zoom) and 1.0 < self.zoom <= MAX_ZOOM):
            raise OptionError("zoom", f"must be > 1 (zooming in) and at most {MAX_ZOOM:g}, got {self.zoom:g}")
        if not (math.isfinite(self.rotate) and abs(self.rotate) <= MAX_ROTATE):
            raise OptionError(
                "rotate", f"must be between -{MAX_ROTATE:g} and {MAX_ROTATE:g} degrees, got {self.rotate:g}"
            )
        if not (math.isfinite(self.fps) and 0 < self.fps <= 240):
            raise OptionError("fps", f"must be > 0 and at most 240, got {self.fps:g}")
        return self
