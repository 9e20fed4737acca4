"""The options of ``easel flythrough``: fitting (:class:`FitOptions`) and rendering (:class:`RenderOptions`).

Declared once with :func:`easel.options.option`: the CLI's flags and help,
the API's defaults and the scene's ``config.json`` all come from here.

Example:
    >>> FitOptions(steps=100).validate().steps
    100
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from easel.devices import device_option
from easel.options import OptionError, option

__all__ = ["FitOptions", "PERCEPTUAL_DEFAULT", "RenderOptions", "SHAPE_FIELDS"]

PERCEPTUAL_DEFAULT = 0.1
"""The perceptual loss's weight when ``perceptual_weight`` is ``None`` and the VGG-19 weights are there."""

SHAPE_FIELDS = ("descriptor_channels", "width", "levels", "refine_poses", "refine_points")
"""Fields that change the model's tensors: a resumed fit must keep them."""


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass
class FitOptions:
    """How a scene is fitted to its photos.

    Attributes:
        size: long side of the training images in pixels (larger photos are downscaled).
        steps: optimizer steps (one training view per step).
        epochs: passes over the training views instead of ``steps`` (``None``: use ``steps``).
        learning_rate: Adam's step size (the tonemapper's: 5x).
        lr_schedule: ``"constant"`` or ``"cosine"`` (full rate for half the fit, then a half cosine to 5 %).
        descriptor_channels: channels of each point's learned descriptor (the first 3 start as its colour).
        width: channels of the U-Net at full resolution (about 100k parameters at 8).
        levels: point-pyramid levels (each 2x coarser).
        depth_band: relative depth band of the fuzzy depth test.
        refine_poses: refine the training cameras' poses (se(3) corrections; held-out cameras keep theirs).
        refine_points: refine the point positions (an offset per point).
        ssim_weight: weight of ``1 - SSIM`` in the loss (the rest is L1).
        perceptual_weight: weight of the VGG-19 perceptual loss added to it (``None``:
            :data:`PERCEPTUAL_DEFAULT` when the ``vgg19-caffe`` weights are cached, else 0).
        vgg_weights: a VGG-19 weights file for it instead of the cached ``vgg19-caffe``.
        holdout_every: every n-th image by sorted name (index % n == 0) is held out (0: none).
        eval_every: evaluate the held-out views every this many steps (0: only at the end).
        checkpoint_every: save a resumable checkpoint every this many steps (0: only at the end).
        seed: seed of the initialization and of the order of views.
        device: where the model runs.

    Example:
        >>> FitOptions().levels
        4
    """

    size: int = option(512, help="long side of the training images in pixels", metavar="PX", group="fit")
    steps: int = option(2500, help="optimizer steps, one training view each", metavar="N", group="fit")
    epochs: int | None = option(
        None,
        help="train for this many passes over the training views instead of --steps",
        metavar="N",
        group="fit",
    )
    learning_rate: float = option(
        1e-3,
        help="Adam step size of the neural renderer (tonemapper 5x)",
        metavar="LR",
        group="fit",
    )
    lr_schedule: str = option(
        "constant",
        help="learning-rate schedule: constant, or cosine (decays over the second half of the fit)",
        choices=("cosine", "constant"),
        group="fit",
    )
    descriptor_channels: int = option(
        4,
        help="channels of each point's descriptor (the first 3 start as its colour)",
        flag="--descriptors",
        metavar="C",
        group="model",
    )
    width: int = option(8, help="U-Net channels at full resolution", metavar="C", group="model")
    levels: int = option(4, help="point-pyramid levels, each 2x coarser", metavar="N", group="model")
    depth_band: float = option(
        0.01, help="relative depth band of the fuzzy depth test", metavar="F", group="model"
    )
    refine_poses: bool = option(
        False,
        help="also refine each training camera's pose (a small se(3) correction; held-out cameras are not)",
        group="fit",
    )
    refine_points: bool = option(
        False, help="also refine the point positions (a learned offset per point)", group="fit"
    )
    ssim_weight: float = option(
        0.2, help="weight of 1 - SSIM in the loss (the rest is L1)", metavar="W", group="fit"
    )
    perceptual_weight: float | None = option(
        None,
        help="weight of a VGG-19 perceptual loss (default: 0.1 when the vgg19-caffe weights are cached, "
        "otherwise 0 = off; it costs about 2-2.5x the rest of a step on a CPU)",
        metavar="W",
        group="fit",
    )
    vgg_weights: str | os.PathLike[str] | None = option(
        None,
        help="VGG-19 weights file of the perceptual loss instead of the cached vgg19-caffe",
        metavar="PATH",
        group="fit",
    )
    holdout_every: int = option(
        8,
        help="hold out every N-th image by sorted name (index % N == 0; 0: none)",
        metavar="N",
        group="fit",
    )
    eval_every: int = option(
        500, help="evaluate the held-out views every N steps (0: at the end)", metavar="N", group="fit"
    )
    checkpoint_every: int = option(
        500, help="save a resumable checkpoint every N steps (0: at the end)", metavar="N", group="fit"
    )
    seed: int = option(0, help="random seed (initialization, order of views)")
    device: str = device_option()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> FitOptions:
        """Check every field; return ``self``.

        Raises:
            OptionError: a value out of range (naming the field).

        Example:
            >>> FitOptions(levels=0)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            easel.options.OptionError: levels must be between 1 and 6; got 0
        """
        positive = {"size": 16, "steps": 0, "descriptor_channels": 3, "width": 1}
        for name, low in positive.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise OptionError(name, f"must be a whole number >= {low}; got {value}")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise OptionError("epochs", f"must be a whole number >= 1; got {self.epochs}")
        if not isinstance(self.levels, int) or not 1 <= self.levels <= 6:
            raise OptionError("levels", f"must be between 1 and 6; got {self.levels}")
        if not (_finite(self.learning_rate) and self.learning_rate > 0):
            raise OptionError("learning_rate", f"must be a positive number; got {self.learning_rate}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise OptionError("lr_schedule", f"must be cosine or constant; got {self.lr_schedule!r}")
        if not (_finite(self.depth_band) and 0 <= self.depth_band <= 1):
            raise OptionError("depth_band", f"must be between 0 and 1; got {self.depth_band}")
        if not (_finite(self.ssim_weight) and 0 <= self.ssim_weight <= 1):
            raise OptionError("ssim_weight", f"must be between 0 and 1; got {self.ssim_weight}")
        if self.perceptual_weight is not None and not (
            _finite(self.perceptual_weight) and 0 <= self.perceptual_weight <= 100
        ):
            raise OptionError("perceptual_weight", f"must be between 0 and 100; got {self.perceptual_weight}")
        for name in ("holdout_every", "eval_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise OptionError(name, f"must be a whole number >= 0; got {value}")
        if self.holdout_every == 1:
            raise OptionError(
                "holdout_every", "must be 0 (none) or at least 2 (1 would hold out every image)"
            )
        return self


@dataclass
class RenderOptions:
    """How a fitted scene is rendered to a video.

    Attributes:
        seconds: length of the video along the smooth path through the input cameras.
        fps: frames per second.
        size: long side of the frames in pixels (``None``: the training size).
        exposure: stops added to every frame's exposure.
        device: where the model runs.

    Example:
        >>> RenderOptions(seconds=2, fps=10).num_frames
        20
    """

    seconds: float = option(
        6.0, help="length of the video through the input cameras", metavar="S", group="rendering"
    )
    fps: float = option(24.0, help="frames per second", group="rendering")
    size: int | None = option(
        None,
        help="long side of the frames in pixels (default: the training size)",
        metavar="PX",
        group="rendering",
    )
    exposure: float = option(
        0.0, help="stops added to the exposure of every frame", metavar="EV", group="rendering"
    )
    device: str = device_option()

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_frames(self) -> int:
        """Frames of the smooth path: ``round(seconds * fps)``, at least 2."""
        return max(2, round(self.seconds * self.fps))

    def validate(self) -> RenderOptions:
        """Check every field; return ``self``.

        Raises:
            OptionError: a value out of range (naming the field).

        Example:
            >>> RenderOptions(fps=0)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            easel.options.OptionError: fps must be a positive number; got 0
        """
        if not (_finite(self.seconds) and self.seconds > 0):
            raise OptionError("seconds", f"must be a positive number; got {self.seconds:g}")
        if not (_finite(self.fps) and 0 < self.fps <= 240):
            raise OptionError("fps", f"must be a positive number; got {self.fps:g}")
        if self.size is not None and (not isinstance(self.size, int) or not 16 <= self.size <= 8192):
            raise OptionError("size", f"must be between 16 and 8192 pixels; got {self.size}")
        if not (_finite(self.exposure) and abs(self.exposure) <= 20):
            raise OptionError(
                "exposure", f"must be a number of stops between -20 and 20; got {self.exposure:g}"
            )
        if self.seconds * self.fps > 100_000:
            raise OptionError("seconds", f"{self.seconds:g} s at {self.fps:g} fps is too many frames")
        return self
