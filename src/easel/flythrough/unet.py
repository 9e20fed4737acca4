"""The neural renderer: a small U-Net from rasterized point descriptors to an HDR image.

Level ``l`` of the point pyramid (descriptors and a coverage channel) enters
the encoder at its own resolution, as in ADOP: the coarse levels, where the
points are dense, fill the holes of the fine ones. The decoder upsamples
(bilinear) and concatenates the encoder's features; the last 1x1 convolution
predicts a **correction** to the pull-push filled point colours (it starts at
zero), so an untrained renderer already shows the splatted points and training
only has to learn what splatting gets wrong.

Example:
    >>> from easel.flythrough.rasterize import rasterize
    >>> net = PointUNet(descriptor_channels=4, num_levels=3, width=8)
    >>> levels = rasterize(torch.rand(50, 3) + 1, torch.rand(50, 4), torch.eye(3) * 8, torch.eye(4), (16, 16), num_levels=3)
    >>> net(levels).shape
    torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

import torch
from torch import nn

from easel.flythrough.rasterize import RasterLevel, pull_push

__all__ = ["PointUNet", "count_parameters"]


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.ELU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.ELU(inplace=True),
    )


class PointUNet(nn.Module):
    """A U-Net over a point-rasterization pyramid; outputs ``(1, 3, H, W)`` linear (HDR) colour.

    Args:
        descriptor_channels: ``C``, channels of the point descriptors (the first 3 are colour).
        num_levels: pyramid levels it takes (>= 1).
        width: channels at full resolution; level ``l`` has ``width * 2**l``, at most ``4 * width``.

    Example:
        >>> count_parameters(PointUNet(4, num_levels=4, width=8)) < 120_000
        True
    """

    def __init__(self, descriptor_channels: int, num_levels: int = 4, width: int = 16) -> None:
        super().__init__()
        if num_levels < 1 or width < 1 or descriptor_channels < 3:
            raise ValueError("need num_levels >= 1, width >= 1 and at least 3 descriptor channels")
        self.num_levels = num_levels
        cin = descriptor_channels + 1  # descriptors and coverage
        widths = [min(width * 2**level, 4 * width) for level in range(num_levels)]
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        for level, ch in enumerate(widths):
            if level == 0:
                self.encoders.append(_block(cin, ch))
            else:
                self.downs.append(nn.Conv2d(widths[level - 1], ch, 3, stride=2, padding=1))
                self.encoders.append(_block(ch + cin, ch))
        self.decoders = nn.ModuleList(
            _block(widths[level + 1] + widths[level], widths[level]) for level in range(num_levels - 1)
        )
        self.head = nn.Conv2d(widths[0], 3, 1)
        nn.init.zeros_(self.head.weight)
        if self.head.bias is not None:
            nn.init.zeros_(self.head.bias)

    def forward(self, levels: list[RasterLevel]) -> torch.Tensor:
        """Render ``(1, 3, H, W)`` linear colour from :func:`~easel.flythrough.rasterize.rasterize`'s levels."""
        inputs = [torch.cat([lv.features, lv.mask], dim=1) for lv in levels[: self.num_levels]]
        skips: list[torch.Tensor] = []
        x = self.encoders[0](inputs[0])
        skips.append(x)
        for level in range(1, self.num_levels):
            down = nn.functional.elu(self.downs[level - 1](x))
            x = self.encoders[level](torch.cat([down, inputs[level]], dim=1))
            skips.append(x)
        for level in reversed(range(self.num_levels - 1)):
            skip = skips[level]
            up = nn.functional.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
            x = self.decoders[level](torch.cat([up, skip], dim=1))
        base = pull_push(levels[: self.num_levels], 3)
        return base + self.head(x)


def count_parameters(module: nn.Module) -> int:
    """The number of trainable values of ``module``.

    Example:
        >>> count_parameters(nn.Linear(3, 2))
        8
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
