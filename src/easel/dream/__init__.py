"""DeepDream: octaves, jitter, tiled gradients for any size, guided dreams and zoom videos.

* :mod:`easel.dream.options` -- :class:`DreamOptions` and :class:`ZoomOptions`, plain data
  (no torch), declared once for the API and the CLI; the octave sizes;
* :mod:`easel.dream.deepdream` -- :func:`dream` and :class:`Dreamer`: encoder + objective +
  :func:`easel.optim.optimize` with :class:`NormalizedAscent`, coarse to fine;
* :mod:`easel.dream.tiles` -- the tile grid with a random offset per step;
* :mod:`easel.dream.zoom` -- :func:`dream_zoom`: the resumable zoom video.

The encoder is :mod:`easel.nets.vgg`, the loop :mod:`easel.optim`, the octaves
:mod:`easel.pyramid`. Names are imported on first use: ``DreamOptions`` (and
the CLI's options built from it) load without torch.

Example:
    >>> from easel.dream import DreamOptions, dream  # doctest: +SKIP
    >>> art = dream(photo, DreamOptions(layers=("relu4_2",), octaves=4)).image  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from typing import Any

from easel._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "easel.dream.options": ["DreamOptions", "ZoomOptions", "octave_shapes"],
        "easel.dream.deepdream": ["DreamResult", "Dreamer", "NormalizedAscent", "dream"],
        "easel.dream.zoom": ["ZoomResult", "dream_zoom"],
    },
    submodules=["deepdream", "options", "tiles", "zoom"],
)


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`~easel.dream.deepdream.dream`.

    ``easel.dream`` is both this package and the API function: importing a
    submodule (``easel.dream.options``, as the CLI does) makes the attribute
    ``easel.dream`` the package, so the package itself answers
    ``easel.dream(image, options=...)``.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from easel.dream.deepdream import dream

        return dream(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
