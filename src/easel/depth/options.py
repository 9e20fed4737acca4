"""The settings of a depth estimate or conversion, declared once for the API and ``easel depth``.

:class:`DepthOptions` is plain data (no torch): ``easel depth --help`` is
built from its field declarations (:func:`easel.options.option`) without
loading a network, and :meth:`~DepthOptions.validate` names the bad field
(``refine_radius must be ...``), which the CLI shows with the user's flag.

Example:
    >>> DepthOptions(depth_range=(2.0, 50.0)).validate().depth_range
    (2.0, 50.0)
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass, replace
from typing import Any

from easel.depth.convert import check_depth_range
from easel.depth.files import DEPTH_KINDS, DepthKind
from easel.depth.registry import DEFAULT_MODEL
from easel.devices import DEVICE_CHOICES, device_option
from easel.errors import InputError
from easel.options import OptionError, option

__all__ = ["PRECISIONS", "DepthOptions", "parse_depth_range"]

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "auto")
"""Precisions a depth network runs in (``fp32``, or ``bf16``/``fp16`` autocast, or ``auto``)."""

_MODEL = "model"
_DEPTH = "depth"


def parse_depth_range(text: str) -> tuple[float, float]:
    """``"near,far"`` -> ``(near, far)`` with ``0 < near < far`` (the CLI's ``--depth-range``).

    Example:
        >>> parse_depth_range("2,50")
        (2.0, 50.0)
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected near,far (two numbers), got {text!r}")
    try:
        values = (float(parts[0]), float(parts[1]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected near,far (two numbers), got {text!r}") from None
    try:
        return check_depth_range(values)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass
class DepthOptions:
    """Settings of :func:`~easel.depth.estimate_depth` and :func:`~easel.depth.depth_for_image`.

    Attributes:
        model: registry name of the depth network (default ``depth-anything-v2-small``).
        weights: a local Hugging Face folder or ``.safetensors`` file instead of the cached download.
        device: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: ``fp32``, ``bf16``/``fp16`` autocast, or ``auto`` (per device).
        depth_kind: what a depth file holds when it does not say itself:
            ``depth`` (distance) or ``disparity`` (larger = nearer).
        depth_range: ``(near, far)`` in scene units. Relative disparity (a
            network's, or a disparity file's) is mapped to it (default
            ``(1, 10)``); metric depth is rescaled to it only when given.
        refine: align depth edges with the photo's colour edges; ``None``
            (default) refines estimated depth, and a depth file only when it
            had to be enlarged to the photo.
        refine_radius: refinement window radius in pixels; ``None`` = 1 % of
            the long side, at least 4 (:func:`~easel.depth.refine.default_radius`).

    Example:
        >>> DepthOptions(refine_radius=0).validate()
        Traceback (most recent call last):
        ...
        easel.options.OptionError: refine_radius must be a whole number >= 1, got 0
    """

    model: str = option(
        DEFAULT_MODEL,
        help=f"depth network (default {DEFAULT_MODEL}; see the list below)",
        metavar="NAME",
        group=_MODEL,
    )
    weights: str | os.PathLike[str] | None = option(
        None,
        help=f"use this local weights file/folder instead of the cached {DEFAULT_MODEL!r}",
        metavar="PATH",
        group=_MODEL,
    )
    device: str = device_option(group=_MODEL)
    precision: str = option(
        "fp32",
        help="fp32 (default), or bf16/fp16 autocast (faster on GPUs and bf16-capable CPUs)",
        choices=PRECISIONS,
        group=_MODEL,
    )
    depth_kind: DepthKind = option(
        "depth",
        help="what --depth holds: depth (distance, default) or disparity (larger = nearer)",
        choices=DEPTH_KINDS,
        group=_DEPTH,
    )
    depth_range: tuple[float, float] | None = option(
        None,
        help="depth of the nearest and farthest pixel in scene units (default 1,10 for relative "
        "disparity; a --depth of kind depth keeps its own values unless given)",
        metavar="NEAR,FAR",
        parse=parse_depth_range,
        group=_DEPTH,
    )
    refine: bool | None = option(
        None,
        help="align depth edges to the photo's colour edges (default: on for estimated depth, "
        "and for a --depth map smaller than the photo)",
        group=_DEPTH,
    )
    refine_radius: int | None = option(
        None,
        help="refinement window radius (default: a hundredth of the long side, at least 4)",
        metavar="PX",
        group=_DEPTH,
    )

    def validate(self) -> DepthOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the first bad one.

        Example:
            >>> DepthOptions(depth_range=(10, 1)).validate()
            Traceback (most recent call last):
            ...
            easel.options.OptionError: depth_range must have 0 < near < far; got near=10, far=1
        """
        if not isinstance(self.model, str) or not self.model:
            raise OptionError("model", f"must name a depth model, got {self.model!r}")
        if not (self.device in DEVICE_CHOICES or re.fullmatch(r"cuda:\d+", str(self.device))):
            raise OptionError(
                "device", f"must be one of {', '.join(DEVICE_CHOICES)} or cuda:N; got {self.device!r}"
            )
        if self.precision not in PRECISIONS:
            raise OptionError("precision", f"must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if self.depth_kind not in DEPTH_KINDS:
            raise OptionError(
                "depth_kind", f"must be one of {', '.join(DEPTH_KINDS)}; got {self.depth_kind!r}"
            )
        if self.depth_range is not None:
            self._check_depth_range(self.depth_range)
        if self.refine is not None and not isinstance(self.refine, bool):
            raise OptionError("refine", f"must be True, False or None, got {self.refine!r}")
        radius = self.refine_radius
        if radius is not None and not (
            isinstance(radius, int) and not isinstance(radius, bool) and radius >= 1
        ):
            raise OptionError("refine_radius", f"must be a whole number >= 1, got {radius!r}")
        return self

    @staticmethod
    def _check_depth_range(depth_range: Any) -> None:
        try:
            near, far = (float(v) for v in depth_range)
        except (TypeError, ValueError):
            raise OptionError(
                "depth_range", f"must be two numbers (near, far); got {depth_range!r}"
            ) from None
        if not (math.isfinite(near) and math.isfinite(far) and 0 < near < far):
            raise OptionError("depth_range", f"must have 0 < near < far; got near={near:g}, far={far:g}")

    def for_image(self, shape: tuple[int, int]) -> DepthOptions:
        """A copy whose ``refine_radius`` is at most the long side of an image of ``shape``.

        Example:
            >>> DepthOptions(refine_radius=500).for_image((48, 64)).refine_radius
            64
        """
        long_side = max(int(shape[0]), int(shape[1]))
        if self.refine_radius is not None and self.refine_radius > long_side:
            return replace(self, refine_radius=long_side)
        return self
