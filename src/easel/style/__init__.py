"""Neural style transfer (Gatys et al.): encoder, losses, optimization loop, grids.

* :mod:`easel.style.vgg` -- the VGG-19 encoder with its preprocessing as first layer;
* :mod:`easel.style.losses` -- content, Gram style and total-variation losses;
* :mod:`easel.style.transfer` -- :func:`stylize`, the coarse-to-fine optimization loop;
* :mod:`easel.style.color` -- colour preservation;
* :mod:`easel.style.tiling` -- tiled optimization for outputs beyond memory;
* :mod:`easel.style.grid` -- many contents x many styles, weight sweeps, contact sheets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from easel.style.transfer import (
        Style,
        StyleInterrupted,
        StyleOptions,
        StyleResult,
        Stylizer,
        estimate_memory,
        stylize,
    )

__all__ = [
    "Style",
    "StyleInterrupted",
    "StyleOptions",
    "StyleResult",
    "Stylizer",
    "estimate_memory",
    "stylize",
]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI reads option choices from the light submodules (color, losses)
    # without loading torch through transfer.py.
    if name in __all__:
        value = getattr(importlib.import_module("easel.style.transfer"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'easel.style' has no attribute {name!r}")
