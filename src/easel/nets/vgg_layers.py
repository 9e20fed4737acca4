"""VGG-19's layer table: names, kinds, ``features.N`` indices, blocks and widths.

Plain data without torch, so option validation and ``--help`` can name the
layers without loading the network (the network itself is :mod:`easel.nets.vgg`).

Example:
    >>> LAYERS[:3]
    ('conv1_1', 'relu1_1', 'conv1_2')
    >>> LAYER_TABLE[LAYERS.index("relu4_2")].block
    4
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONV_INDICES",
    "DEFAULT_WIDTHS",
    "LAYERS",
    "LAYER_TABLE",
    "POOLINGS",
    "PREPROCESSINGS",
    "VGGLayer",
]

# VGG-19 configuration "E": conv widths and "M" for pooling.
_CFG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    *(256,) * 4,
    "M",
    *(512,) * 4,
    "M",
    *(512,) * 4,
    "M",
)


@dataclass(frozen=True)
class VGGLayer:
    """One layer of VGG-19's ``features``.

    Attributes:
        name: ``conv3_2``, ``relu3_2``, ``pool3`` ...
        kind: ``"conv"``, ``"relu"`` or ``"pool"``.
        index: ``N`` of the ``features.N`` module in the weight files.
        block: 1-5; block ``b`` runs at ``1 / 4**(b - 1)`` of the input's pixels.
        width: output channels of the layer (VGG-19's own widths).

    Example:
        >>> next(layer for layer in LAYER_TABLE if layer.name == "relu3_2")
        VGGLayer(name='relu3_2', kind='relu', index=13, block=3, width=256)
    """

    name: str
    kind: str
    index: int
    block: int
    width: int


def _build_layer_table() -> tuple[VGGLayer, ...]:
    table: list[VGGLayer] = []
    block, conv, index, width = 1, 1, 0, 3
    for item in _CFG:
        if item == "M":
            table.append(VGGLayer(f"pool{block}", "pool", index, block, width))
            index += 1
            block += 1
            conv = 1
        else:
            width = int(item)
            table.append(VGGLayer(f"conv{block}_{conv}", "conv", index, block, width))
            table.append(VGGLayer(f"relu{block}_{conv}", "relu", index + 1, block, width))
            index += 2
            conv += 1
    return tuple(table)


LAYER_TABLE: tuple[VGGLayer, ...] = _build_layer_table()
"""Every layer of VGG-19's ``features``, in order (see :class:`VGGLayer`)."""
LAYERS: tuple[str, ...] = tuple(layer.name for layer in LAYER_TABLE)
"""Every layer name of VGG-19 in order (``conv1_1``, ``relu1_1``, ..., ``pool5``)."""
CONV_INDICES: tuple[int, ...] = tuple(layer.index for layer in LAYER_TABLE if layer.kind == "conv")
"""``features.N`` indices of the 16 convolutions."""
DEFAULT_WIDTHS: tuple[int, ...] = tuple(int(c) for c in _CFG if c != "M")
PREPROCESSINGS = ("caffe", "torchvision")
POOLINGS = ("max", "avg")
