"""Depth from one image, and depth files: ``easel depth``.

Conventions (see ``docs/depth.md``): *depth* is the distance along the
optical axis (> 0, larger = farther) in scene units; *disparity* is
proportional to ``1 / depth`` (larger = nearer). Monocular networks predict
relative disparity, which becomes depth through a ``(near, far)`` range
(default ``(1, 10)``).

Settings are a :class:`DepthOptions` (the fields of ``easel depth``'s options);
:func:`depth_for_image` does what the command does (estimate, or read a file
and fit it to the photo).

Example:
    >>> from easel.depth import estimate_depth, write_depth, colorize_depth  # doctest: +SKIP
    >>> depth = estimate_depth(image)                   # (H, W) float32  # doctest: +SKIP
    >>> depth = estimate_depth(image, DepthOptions(depth_range=(2, 50)))    # doctest: +SKIP
    >>> write_depth("depth.png", depth)                                    # doctest: +SKIP
"""

from easel.depth.convert import (
    DEFAULT_DEPTH_RANGE,
    DepthMap,
    DisparityMap,
    check_depth_range,
    depth_to_disparity,
    disparity_to_depth,
    fill_invalid,
    rescale_depth,
    resize_depth,
    validate_depth,
)
from easel.depth.estimator import DepthEstimator, Preprocess, clear_cache, estimate_depth, get_estimator
from easel.depth.files import DEPTH_KINDS, DEPTH_SUFFIXES, DepthKind, load_depth_file, read_depth, write_depth
from easel.depth.options import PRECISIONS, DepthOptions
from easel.depth.pipeline import DepthResult, depth_for_image
from easel.depth.preview import colorize_depth
from easel.depth.refine import refine_depth, refine_disparity
from easel.depth.registry import DEFAULT_MODEL, MODELS, DepthModelSpec

__all__ = [
    "DEFAULT_DEPTH_RANGE",
    "DEFAULT_MODEL",
    "DEPTH_KINDS",
    "DEPTH_SUFFIXES",
    "MODELS",
    "PRECISIONS",
    "DepthEstimator",
    "DepthKind",
    "DepthMap",
    "DepthModelSpec",
    "DepthOptions",
    "DepthResult",
    "DisparityMap",
    "Preprocess",
    "check_depth_range",
    "clear_cache",
    "colorize_depth",
    "depth_for_image",
    "depth_to_disparity",
    "disparity_to_depth",
    "estimate_depth",
    "fill_invalid",
    "get_estimator",
    "load_depth_file",
    "read_depth",
    "refine_depth",
    "refine_disparity",
    "rescale_depth",
    "resize_depth",
    "validate_depth",
    "write_depth",
]
