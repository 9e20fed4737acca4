"""Pretrained VGG-19 encoders of :mod:`easel.nets.vgg` (collected by :mod:`easel.weights`)."""

from __future__ import annotations

from easel.weights import WeightsEntry, WeightsFile

ENTRIES: tuple[WeightsEntry, ...] = (
    WeightsEntry(
        name="vgg19-caffe",
        files=(
            WeightsFile(
                filename="vgg19-d01eb7cb.pth",
                url="https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
                # The "d01eb7cb" in the name is not a sha256 prefix (unlike torchvision's names):
                # the file's sha256 and size are those Hugging Face publishes for its Git LFS
                # copy (spaces/AfrodreamsAI/afrodreams, the file neural-style ports point to),
                # and the same hash is pinned by an independent neural-style port.
                sha256="dd893d447ece014ad32d71b8d32b1e0b5c09b912a2866990c286fdeebd368d74",
                size=574_679_411,
                mirrors=(
                    "https://huggingface.co/spaces/AfrodreamsAI/afrodreams/resolve/"
                    "8970ea4f6cc349d826137af0866565df84f0a0ed/vgg19-d01eb7cb.pth",
                ),
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
                sha256="dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
                size=574_673_361,
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
