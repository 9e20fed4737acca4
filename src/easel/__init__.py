"""easel: photos and paintings into art and 3D motion.

The public API is imported lazily, so ``import easel`` stays fast and does
not load torch until a model-backed function is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "read_image": "easel.io.images",
    "write_image": "easel.io.images",
    "read_frames": "easel.io.video",
    "write_video": "easel.io.video",
    "VideoWriter": "easel.io.video",
    "probe_video": "easel.io.video",
    "as_float_rgb": "easel.image",
    "to_uint8": "easel.image",
    "to_tensor": "easel.image",
    "from_tensor": "easel.image",
    "resolve_device": "easel.devices",
    "InputError": "easel.errors",
    "EaselError": "easel.errors",
    "WeightsError": "easel.errors",
    "ProgressUpdate": "easel.progress",
    # photo -> artwork
    "quantize_colors": "easel.art.quantize",
    "slic_superpixels": "easel.art.superpixels",
    "mean_color": "easel.art.superpixels",
    "stylize": "easel.style",
    "StyleOptions": "easel.style",
    "StyleResult": "easel.style",
    # one image -> 3D motion
    "estimate_depth": "easel.depth",
    "kenburns": "easel.scene3d.kenburns",
    "KenBurnsOptions": "easel.scene3d.kenburns",
}


def _register_exports(module: str, names: list[str]) -> None:
    for name in names:
        _EXPORTS[name] = module


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'easel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)  # noqa: PLE0605
