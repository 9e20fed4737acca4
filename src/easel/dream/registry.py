"""Pretrained networks only ``easel dream`` uses (collected by :mod:`easel.weights`).

GoogLeNet / Inception-v1, the network of the original DeepDream, as torchvision
publishes it. torchvision names its files ``<model>-<first 8 hex digits of the
file's sha256>.pth`` and checks that prefix when it downloads one
(``torch.hub.load_state_dict_from_url(..., check_hash=True)``), so the prefix in
``googlenet-1378be20.pth`` is a published checksum; easel checks downloads
against it. The module layout is :mod:`easel.nets.googlenet`.

Example:
    >>> [entry.name for entry in ENTRIES]
    ['googlenet-torchvision']
"""

from __future__ import annotations

from easel.weights import WeightsEntry, WeightsFile

__all__ = ["ENTRIES", "GOOGLENET"]

GOOGLENET = "googlenet-torchvision"
"""Registry name of torchvision's GoogLeNet."""

ENTRIES: tuple[WeightsEntry, ...] = (
    WeightsEntry(
        name=GOOGLENET,
        files=(
            WeightsFile(
                filename="googlenet-1378be20.pth",
                url="https://download.pytorch.org/models/googlenet-1378be20.pth",
                sha256="1378be20",  # torchvision's published sha256 prefix (the file name's suffix)
            ),
        ),
        licence="BSD-3-Clause",
        used_by="dream",
        description=(
            "torchvision's ImageNet GoogLeNet / Inception-v1 (ported from TensorFlow; RGB in [-1, 1]): "
            "the network of the original DeepDream"
        ),
        homepage="https://pytorch.org/vision/stable/models/generated/torchvision.models.googlenet.html",
        extra={"preprocessing": "googlenet"},
    ),
)
