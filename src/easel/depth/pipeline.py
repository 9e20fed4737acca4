"""A depth map for a photo, from the network or from a file: what ``easel depth`` computes.

:func:`depth_for_image` is the whole command below its parsing and printing:
estimate depth from the photo (network, edge refinement, depth range), or read
a depth/disparity file, fit it to the photo and refine it when it had to be
enlarged. The result says what was done (refined or not, the model, the
resolved device and precision) and how long each stage took.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from numpy.typing import ArrayLike

from easel.depth.convert import DepthMap, resize_depth
from easel.depth.estimator import get_estimator, resolve_options
from easel.depth.files import read_depth
from easel.depth.options import DepthOptions
from easel.errors import InputError
from easel.image import as_float_rgb
from easel.progress import ProgressFn

__all__ = ["DepthResult", "depth_for_image"]


@dataclass(frozen=True)
class DepthResult:
    """The result of :func:`depth_for_image`.

    Attributes:
        depth: ``(H, W)`` float32 depth, > 0, larger = farther (the photo's size,
            or the file's when there is no photo).
        options: the options as used (``refine_radius`` at most the photo's long side).
        refined: whether the edges were aligned with the photo's colour edges.
        model: the network that estimated the depth; ``None`` for a depth file.
        device: the device the network ran on (``"cpu"``, ``"cuda"``, never
            ``"auto"``); ``None`` for a depth file.
        precision: the precision it ran in (``"fp32"``, ``"bf16"``, ``"fp16"``); ``None`` for a file.
        timings: seconds per stage (``load_model``, ``network``, ``refine`` or
            ``read_depth``, ``refine``).

    Example:
        >>> result = depth_for_image(None, depth_file="depth.npy")  # doctest: +SKIP
        >>> result.refined, result.model  # doctest: +SKIP
        (False, None)
    """

    depth: DepthMap
    options: DepthOptions
    refined: bool
    model: str | None = None
    device: str | None = None
    precision: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - start, 4)


def depth_for_image(
    image: ArrayLike | None,
    options: DepthOptions | None = None,
    *,
    depth_file: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> DepthResult:
    """Depth for a photo: estimated by the network, or read from ``depth_file`` and fitted to it.

    Args:
        image: ``(H, W, 3)`` RGB in [0, 1] (or uint8); ``None`` only with
            ``depth_file`` (the file is then converted as it is: no resizing,
            no refinement).
        options: :class:`~easel.depth.options.DepthOptions` (defaults when ``None``).
            With ``depth_file``, ``depth_kind`` says what the file holds and
            ``refine=None`` refines only a map smaller than the photo.
        depth_file: a depth or disparity file (``.npy``, ``.png``, ``.exr``,
            ``.tif``, ``.pfm``) to use instead of the network.
        progress: optional progress callback.
        **overrides: fields of :class:`~easel.depth.options.DepthOptions` to change.

    Returns:
        A :class:`DepthResult`.

    Raises:
        InputError: neither a photo nor a file; a bad file, a map whose aspect
            ratio differs from the photo's, a flat map; see also
            :func:`~easel.depth.estimate_depth`. OptionError: a bad option.

    Example:
        >>> result = depth_for_image(photo, depth_file="phone.png", depth_kind="disparity")  # doctest: +SKIP
        >>> result.depth.shape == photo.shape[:2]  # doctest: +SKIP
        True
    """
    from easel.depth.refine import refine_depth

    opts = resolve_options(options, overrides)
    rgb = None if image is None else as_float_rgb(image)
    if rgb is not None:
        opts = opts.for_image(rgb.shape[:2])
    timings: dict[str, float] = {}
    if depth_file is None:
        if rgb is None:
            raise InputError("give a photo to estimate depth from, or a depth file to convert")
        with _timed(timings, "load_model"):
            estimator = get_estimator(
                opts.model, weights=opts.weights, device=opts.device, precision=opts.precision
            )
        with _timed(timings, "network"):
            raw = estimator.predict(rgb, progress=progress)
        with _timed(timings, "refine"):
            depth = estimator.to_depth(raw, rgb, opts, progress=progress)
        return DepthResult(
            depth,
            opts,
            refined=opts.refine is not False,
            model=opts.model,
            device=str(estimator.device),
            precision=estimator.precision,
            timings=timings,
        )

    with _timed(timings, "read_depth"):
        depth = read_depth(depth_file, kind=opts.depth_kind, depth_range=opts.depth_range)
        shape = None if rgb is None else (rgb.shape[0], rgb.shape[1])
        enlarged = shape is not None and depth.shape[0] * depth.shape[1] < shape[0] * shape[1]
        if shape is not None:
            depth = resize_depth(depth, shape, name=os.fspath(depth_file))
    refined = rgb is not None and (opts.refine or (opts.refine is None and enlarged))
    if refined and rgb is not None:
        with _timed(timings, "refine"):
            depth = refine_depth(depth, rgb, radius=opts.refine_radius)
    return DepthResult(depth, opts, refined=bool(refined), timings=timings)
