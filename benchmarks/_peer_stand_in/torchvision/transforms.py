"""The transforms neural-style-pt 0.5.7 calls, with torchvision's arithmetic (our own code).

The peer uses ``Compose``, ``Resize`` (to an ``(h, w)`` tuple), ``ToTensor``,
``Lambda`` and ``Normalize`` to load an image, and ``ToPILImage`` to save one:

* ``Resize``: PIL's bilinear resize of a PIL image (torchvision's default for
  PIL input); an ``int`` resizes the short side, keeping the aspect ratio;
* ``ToTensor``: ``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 ``/ 255``;
* ``Normalize``: ``(x - mean) / std`` per channel, on a copy;
* ``ToPILImage``: float ``(3, H, W)`` -> ``x * 255`` truncated to uint8 (torchvision
  truncates, it does not round), an RGB PIL image.

Example:
    >>> from PIL import Image
    >>> ToTensor()(Image.new("RGB", (2, 1), (255, 0, 51))).shape
    torch.Size([3, 1, 2])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["Compose", "Lambda", "Normalize", "Resize", "ToPILImage", "ToTensor"]


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, value: Any) -> Any:
        for transform in self.transforms:
            value = transform(value)
        return value


class Lambda:
    """Apply a function."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, value: Any) -> Any:
        return self.fn(value)


class Resize:
    """Resize a PIL image to ``size``: ``(height, width)``, or an ``int`` for the short side."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = size

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        if isinstance(self.size, int):
            short, long = (width, height) if width <= height else (height, width)
            new_short, new_long = self.size, int(self.size * long / short)
            new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
        else:
            new_h, new_w = int(self.size[0]), int(self.size[1])
        if (new_w, new_h) == (width, height):
            return image
        return image.resize((new_w, new_h), Image.Resampling.BILINEAR)


class ToTensor:
    """An RGB (or L) PIL image -> ``(C, H, W)`` float32 in [0, 1] (uint8 / 255)."""

    def __call__(self, image: Image.Image) -> torch.Tensor:
        array = np.array(image, dtype=np.uint8, copy=True)
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array).permute(2, 0, 1).contiguous().float().div(255)


class Normalize:
    """``(x - mean) / std`` per channel of a ``(C, H, W)`` tensor (on a copy)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = list(mean)
        self.std = list(std)

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=tensor.dtype).view(-1, 1, 1)
        return (tensor - mean) / std


class ToPILImage:
    """A float ``(3, H, W)`` tensor in [0, 1] -> an RGB PIL image (``x * 255`` truncated)."""

    def __call__(self, tensor: torch.Tensor) -> Image.Image:
        pic = tensor.detach().cpu()
        if pic.is_floating_point():
            pic = pic.mul(255).byte()
        array = np.ascontiguousarray(pic.numpy().transpose(1, 2, 0))
        return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
