"""Depth from one image, and depth files: ``easel depth``.

Conventions (see ``docs/depth.md``): *depth* is the distance along the
optical axis (> 0, larger = farther) in scene units; *disparity* is
proportional to ``1 / depth`` (larger = nearer). Monocular networks predict
relative disparity, which becomes depth through a ``(near, far)`` range
(default ``(1, 10)``).

Example:
    >>> from easel.depth import estimate_depth, write_depth, colorize_depth  # doctest: +SKIP
    >>> depth = estimate_depth(image)                   # (H, W) float32  # doctest: +SKIP
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
from easel.depth.preview import colorize_depth
from easel.depth.refine import refine_depth, refine_disparity
from easel.depth.registry import DEFAULT_MODEL, MODELS, DepthModelSpec

__all__ = [
    "DEFAULT_DEPTH_RANGE",
    "DEFAULT_MODEL",
    "DEPTH_KINDS",
    "DEPTH_SUFFIXES",
    "MODELS",
    "DepthEstimator",
    "DepthKind",
    "DepthMap",
    "DepthModelSpec",
    "DisparityMap",
    "Preprocess",
    "check_depth_range",
    "clear_cache",
    "colorize_depth",
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
