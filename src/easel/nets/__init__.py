"""Pretrained networks shared by the capabilities (below them, above the core).

* :mod:`easel.nets.vgg` -- the VGG-19 encoder with its preprocessing as first
  layer, and :func:`load_encoder` (registry name or local file -> encoder);
* :mod:`easel.nets.vgg_layers` -- VGG-19's layer table (plain data, no torch);
* :mod:`easel.nets.registry` -- the VGG-19 weights entries (collected by :mod:`easel.weights`).

Style transfer, DeepDream and perceptual losses import the encoder from here,
never from one another. Names are imported on first use, so
``easel.nets.registry`` loads without torch.

Example:
    >>> from easel.nets import load_encoder  # doctest: +SKIP
    >>> encoder = load_encoder("vgg19-caffe", layers=["relu4_2"])  # doctest: +SKIP
"""

from __future__ import annotations

from easel._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "easel.nets.vgg": ["VGGEncoder", "VGGPreprocess", "load_encoder"],
        "easel.nets.vgg_layers": ["LAYERS", "LAYER_TABLE", "VGGLayer"],
    },
    submodules=["registry", "vgg", "vgg_layers"],
)
