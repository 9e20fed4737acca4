"""Pretrained encoders used by ``easel stylize`` (collected by :mod:`easel.weights`)."""

from __future__ import annotations

from easel.weights import WeightsEntry, WeightsFile

ENTRIES: tuple[WeightsEntry, ...] = (
    WeightsEntry(
        name="vgg19-caffe",
        files=(
            WeightsFile(
                filename="vgg19-d01eb7cb.pth",
                url="https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
                sha256="d01eb7cb",
                size=None,
            ),
        ),
        licence="CC-BY-4.0",
        used_by="stylize",
        description=(
            "VGG-19 converted from the original Caffe model (BGR, 0-255, mean subtracted); "
            "the default style-transfer encoder, as in neural-style / neural-style-pt"
        ),
        homepage="https://github.com/jcjohnson/pytorch-vgg",
        extra={"preprocessing": "caffe"},
    ),
    WeightsEntry(
        name="vgg19-torchvision",
        files=(
            WeightsFile(
                filename="vgg19-dcbb9e9d.pth",
                url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
                sha256="dcbb9e9d",
                size=None,
            ),
        ),
        licence="BSD-3-Clause",
        used_by="stylize",
        description="torchvision's ImageNet VGG-19 (RGB, ImageNet mean/std normalization)",
        homepage="https://pytorch.org/vision/stable/models/generated/torchvision.models.vgg19.html",
        extra={"preprocessing": "torchvision"},
    ),
)

PREPROCESSING: dict[str, str] = {entry.name: entry.extra["preprocessing"] for entry in ENTRIES}
"""Registry name -> preprocessing variant of that encoder."""
