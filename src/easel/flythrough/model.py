"""The per-scene model: point descriptors, rasterizer, U-Net renderer and tonemapper, and its loss.

:class:`FlythroughModel` holds the point cloud (fixed positions), one
learnable descriptor per point (its first three channels start as the
point's colour: decisive for a fast fit), the :class:`~easel.flythrough.unet.PointUNet`
and the :class:`~easel.flythrough.tonemap.Tonemapper`. :meth:`FlythroughModel.splat`
is the plain-splatting baseline: the same points with their colours, the same
rasterizer and pull-push hole filling, no renderer and no tonemapper.

Example:
    >>> model = FlythroughModel(torch.rand(200, 3) + 1, torch.rand(200, 3), num_images=2, width=4, levels=3)
    >>> K, pose = torch.tensor([[8.0, 0, 8], [0, 8.0, 8], [0, 0, 1]]), torch.eye(4)
    >>> model(K, pose, (16, 16), model.tonemapper.appearance([(0, 1.0)])).shape
    torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

import torch
from torch import nn

from easel.flythrough.rasterize import pull_push, rasterize
from easel.flythrough.tonemap import Appearance, Tonemapper
from easel.flythrough.unet import PointUNet

__all__ = ["FlythroughModel", "ssim_torch", "photometric_loss"]


class FlythroughModel(nn.Module):
    """Points with learned descriptors, rendered by a U-Net and a tonemapper.

    Args:
        points: ``(N, 3)`` world points (OpenCV world of the cameras).
        colors: ``(N, 3)`` float colours in [0, 1]: the descriptors' first channels start there.
        num_images: training images (each with its own exposure and white balance).
        descriptor_channels: channels per point (>= 3).
        width: the U-Net's channels at full resolution.
        levels: point-pyramid levels.
        depth_band: the fuzzy depth test's relative band.

    Example:
        >>> m = FlythroughModel(torch.zeros(5, 3), torch.ones(5, 3), num_images=1)
        >>> m.descriptors.shape
        torch.Size([5, 4])
    """

    points: torch.Tensor
    colors: torch.Tensor
    renderer: PointUNet
    tonemapper: Tonemapper

    def __init__(
        self,
        points: torch.Tensor,
        colors: torch.Tensor,
        num_images: int,
        *,
        descriptor_channels: int = 4,
        width: int = 8,
        levels: int = 4,
        depth_band: float = 0.01,
    ) -> None:
        super().__init__()
        pts = torch.as_tensor(points, dtype=torch.float32).reshape(-1, 3)
        cols = torch.as_tensor(colors, dtype=torch.float32).reshape(-1, 3)
        if len(pts) != len(cols):
            raise ValueError(f"{len(pts)} points but {len(cols)} colours")
        self.register_buffer("points", pts)
        self.register_buffer("colors", cols)
        init = torch.zeros(len(pts), descriptor_channels)
        init[:, :3] = cols
        self.descriptors = nn.Parameter(init)
        self.levels = levels
        self.depth_band = depth_band
        self.renderer = PointUNet(descriptor_channels, num_levels=levels, width=width)
        self.tonemapper = Tonemapper(num_images)

    def rasterize(self, K: torch.Tensor, world_to_camera: torch.Tensor, shape: tuple[int, int]) -> list:  # noqa: N803
        """The point pyramid of the descriptors seen by this camera (see :func:`~easel.flythrough.rasterize.rasterize`)."""
        return rasterize(
            self.points,
            self.descriptors,
            K,
            world_to_camera,
            shape,
            num_levels=self.levels,
            depth_band=self.depth_band,
        )

    def forward(
        self,
        K: torch.Tensor,  # noqa: N803
        world_to_camera: torch.Tensor,
        shape: tuple[int, int],
        appearance: Appearance,
        exposure_offset: float = 0.0,
    ) -> torch.Tensor:
        """Render ``(1, 3, H, W)`` (about [0, 1]; the leaky clamp lets it stray a little outside).

        Args:
            K: ``(3, 3)`` camera matrix of the ``shape`` image.
            world_to_camera: ``(4, 4)`` OpenCV pose.
            shape: ``(height, width)``.
            appearance: exposure and white balance of the view.
            exposure_offset: stops added to the exposure.
        """
        hdr = self.renderer(self.rasterize(K, world_to_camera, shape))
        return self.tonemapper(hdr, appearance, exposure_offset)

    @torch.no_grad()
    def splat(self, K: torch.Tensor, world_to_camera: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:  # noqa: N803
        """The plain-splatting baseline: point colours, z-buffer, fuzzy depth test, pull-push fill; ``(1, 3, H, W)``.

        Example:
            >>> m = FlythroughModel(torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 3), num_images=1)
            >>> float(m.splat(torch.eye(3), torch.eye(4), (2, 2)).max())
            1.0
        """
        levels = rasterize(
            self.points,
            self.colors,
            K,
            world_to_camera,
            shape,
            num_levels=self.levels,
            depth_band=self.depth_band,
        )
        return pull_push(levels, 3).clamp(0.0, 1.0)


def ssim_torch(pred: torch.Tensor, target: torch.Tensor, win_size: int = 7) -> torch.Tensor:
    """Mean SSIM of two ``(N, C, H, W)`` images in [0, 1] with a uniform window; differentiable.

    The same definition as :func:`easel.metrics.ssim` (sample covariance, K1 = 0.01,
    K2 = 0.03), computed over the valid windows.

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> round(float(ssim_torch(x, x)), 6)
        1.0
    """
    c1, c2 = 0.01**2, 0.03**2
    cov = win_size**2 / (win_size**2 - 1.0)
    # the five local means in one separable box filter (rows, then columns)
    stack = torch.cat([pred, target, pred * pred, target * target, pred * target], dim=1)
    pooled = nn.functional.avg_pool2d(nn.functional.avg_pool2d(stack, (win_size, 1), 1), (1, win_size), 1)
    ux, uy, xx, yy, xy = pooled.chunk(5, dim=1)
    vx = cov * (xx - ux * ux)
    vy = cov * (yy - uy * uy)
    vxy = cov * (xy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean()


def photometric_loss(
    pred: torch.Tensor, target: torch.Tensor, ssim_weight: float = 0.2
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``(1 - w) * L1 + w * (1 - SSIM)`` of two ``(N, 3, H, W)`` images, and its terms.

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> float(photometric_loss(x, x)[0])
        0.0
    """
    l1 = (pred - target).abs().mean()
    if ssim_weight > 0 and min(pred.shape[2:]) >= 7:
        dssim = 1.0 - ssim_torch(pred, target)
    else:
        dssim = l1.new_zeros(())
    return (1 - ssim_weight) * l1 + ssim_weight * dssim, {"l1": l1.detach(), "dssim": dssim.detach()}
