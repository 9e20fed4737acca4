"""A differentiable, physically based tonemapper (ADOP's third module).

From the renderer's linear (HDR) colour to the final image, in the order a
camera applies them:

1. **vignetting** -- a radial falloff ``1 + k1 r^2 + k2 r^4 + k3 r^6`` (``r``
   from the image centre, 1 at the corners), shared by all images;
2. **exposure** -- a per-image gain ``2**e``;
3. **white balance** -- per-image gains on R, G, B (``exp`` of learned logs,
   with their mean fixed at zero so they do not trade off with exposure);
4. **response curve** -- a learned, monotonic, piecewise-linear curve on
   [0, 1] (``knots`` values, identity at the start), extended linearly outside;
5. **leaky clamp** -- values outside [0, 1] keep a small slope (0.01), so
   over- and under-exposed pixels still pass a gradient.

A view without fitted appearance (a held-out or a new camera) uses an
interpolated one: :meth:`Tonemapper.appearance` takes fractional image
indices and weights.

Example:
    >>> tm = Tonemapper(num_images=2)
    >>> hdr = torch.full((1, 3, 4, 4), 0.5)
    >>> float(tm(hdr, tm.appearance([(0, 1.0)]))[0, 0, 0, 0].detach())  # identity at the start
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Appearance", "Tonemapper", "leaky_clamp"]

LEAK = 0.01


def leaky_clamp(x: torch.Tensor, leak: float = LEAK) -> torch.Tensor:
    """Clamp to [0, 1] with slope ``leak`` outside (a gradient everywhere).

    Example:
        >>> leaky_clamp(torch.tensor([-1.0, 0.5, 2.0])).tolist()
        [-0.009999999776482582, 0.5, 1.0099999904632568]
    """
    clamped = x.clamp(0.0, 1.0)
    return clamped + leak * (x - clamped)


@dataclass
class Appearance:
    """One view's exposure (stops) and white balance (log gains on R, G, B, mean zero).

    Example:
        >>> Appearance(torch.tensor(0.0), torch.zeros(3)).exposure.item()
        0.0
    """

    exposure: torch.Tensor
    white_balance: torch.Tensor


class Tonemapper(nn.Module):
    """Vignetting, per-image exposure and white balance, a learned response curve and a leaky clamp.

    Args:
        num_images: images with their own exposure and white balance.
        knots: points of the response curve (>= 2).

    Example:
        >>> tm = Tonemapper(3)
        >>> sorted(name for name, _ in tm.named_parameters())
        ['exposure', 'response', 'vignette', 'white_balance']
    """

    def __init__(self, num_images: int, knots: int = 25) -> None:
        super().__init__()
        if num_images < 1 or knots < 2:
            raise ValueError("need at least one image and two knots")
        self.exposure = nn.Parameter(torch.zeros(num_images))
        self.white_balance = nn.Parameter(torch.zeros(num_images, 3))
        self.vignette = nn.Parameter(torch.zeros(3))
        # increments of the response curve through softplus: inverse softplus of 1 / (knots - 1)
        step = 1.0 / (knots - 1)
        self.response = nn.Parameter(
            torch.full((knots - 1,), float(torch.log(torch.expm1(torch.tensor(step)))))
        )

    def appearance(self, weights: Sequence[tuple[int, float]]) -> Appearance:
        """The appearance mixing images by weight: ``[(index, weight), ...]`` (weights summing to 1).

        Example:
            >>> Tonemapper(2).appearance([(0, 0.5), (1, 0.5)]).white_balance.shape
            torch.Size([3])
        """
        exposure = sum(self.exposure[i] * w for i, w in weights)
        wb = sum(self.white_balance[i] * w for i, w in weights)
        assert isinstance(exposure, torch.Tensor) and isinstance(wb, torch.Tensor)
        return Appearance(exposure, wb)

    def curve(self, x: torch.Tensor) -> torch.Tensor:
        """The response curve applied to ``x`` (any shape), linear beyond [0, 1].

        Example:
            >>> [round(v, 4) for v in Tonemapper(1).curve(torch.tensor([0.25, 1.5])).detach().tolist()]
            [0.25, 1.5]
        """
        inc = nn.functional.softplus(self.response)
        values = torch.cat([inc.new_zeros(1), torch.cumsum(inc, 0)])
        values = values / values[-1]  # from 0 to 1
        n = len(values) - 1
        t = x.clamp(0.0, 1.0) * n
        i = t.floor().clamp(max=n - 1).long()
        frac = t - i
        y = values[i] * (1 - frac) + values[i + 1] * frac
        slope_lo = (values[1] - values[0]) * n
        slope_hi = (values[-1] - values[-2]) * n
        return y + slope_lo * (x - x.clamp_min(0.0)) + slope_hi * (x - x.clamp_max(1.0))

    def vignetting(self, shape: tuple[int, int], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """``(1, 1, H, W)`` gain, 1 at the centre when the coefficients are zero.

        Example:
            >>> float(Tonemapper(1).vignetting((4, 6), torch.device("cpu"), torch.float32).detach().mean())
            1.0
        """
        h, w = shape
        ys = (torch.arange(h, device=device, dtype=dtype) + 0.5 - h / 2) / (0.5 * (h * h + w * w) ** 0.5)
        xs = (torch.arange(w, device=device, dtype=dtype) + 0.5 - w / 2) / (0.5 * (h * h + w * w) ** 0.5)
        r2 = ys[:, None] ** 2 + xs[None, :] ** 2
        k = self.vignette
        gain = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
        return gain[None, None]

    def forward(
        self, hdr: torch.Tensor, appearance: Appearance, exposure_offset: float = 0.0
    ) -> torch.Tensor:
        """Tonemap ``(1, 3, H, W)`` linear colour into ``(1, 3, H, W)`` (about [0, 1]; leaky outside).

        Args:
            hdr: the renderer's output.
            appearance: the view's exposure and white balance.
            exposure_offset: stops added to the exposure (``--exposure``).
        """
        x = hdr * self.vignetting(tuple(hdr.shape[2:]), hdr.device, hdr.dtype)  # type: ignore[arg-type]
        wb = appearance.white_balance - appearance.white_balance.mean()
        gain = torch.exp2(appearance.exposure + exposure_offset) * torch.exp(wb)
        x = x * gain.view(1, 3, 1, 1)
        return leaky_clamp(self.curve(x))
