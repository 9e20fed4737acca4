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

from easel.flythrough.rasterize import RasterPlan, pull_push, raster_plan, rasterize, rasterize_planned
from easel.flythrough.tonemap import Appearance, Tonemapper
from easel.flythrough.unet import PointUNet

__all__ = [
    "PERCEPTUAL_LAYERS",
    "FlythroughModel",
    "PerceptualLoss",
    "photometric_loss",
    "se3_exp",
    "ssim_torch",
]


def se3_exp(delta: torch.Tensor) -> torch.Tensor:
    """The ``(4, 4)`` rigid transform of a ``(6,)`` correction: axis-angle rotation (radians), then translation.

    Rodrigues' formula, differentiable (also at zero, where it is the identity).

    Example:
        >>> se3_exp(torch.zeros(6)).equal(torch.eye(4))
        True
        >>> se3_exp(torch.tensor([0.0, 0.0, torch.pi / 2, 1.0, 0.0, 0.0]))[:3, :2].round().tolist()
        [[0.0, -1.0], [1.0, 0.0], [0.0, 0.0]]
    """
    omega, t = delta[:3], delta[3:]
    theta2 = (omega * omega).sum()
    zero = omega.new_zeros(())
    k = torch.stack(
        [
            torch.stack([zero, -omega[2], omega[1]]),
            torch.stack([omega[2], zero, -omega[0]]),
            torch.stack([-omega[1], omega[0], zero]),
        ]
    )
    # sin(x)/x and (1 - cos(x))/x^2 by their series near zero (no 0/0 in the gradient)
    small = bool(theta2 < 1e-8)
    theta = torch.sqrt(theta2 if not small else theta2 + 1.0)
    a = 1.0 - theta2 / 6.0 if small else torch.sin(theta) / theta
    b = 0.5 - theta2 / 24.0 if small else (1.0 - torch.cos(theta)) / theta2
    rot = torch.eye(3, dtype=delta.dtype, device=delta.device) + a * k + b * (k @ k)
    top = torch.cat([rot, t[:, None]], dim=1)
    bottom = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=delta.dtype, device=delta.device)
    return torch.cat([top, bottom], dim=0)


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
        refine_poses: learn an se(3) correction of each training camera
            (``pose_deltas``, ``(num_images, 6)``: rotation in radians, translation in
            units of :attr:`scale`), applied as ``se3_exp(delta) @ world_to_camera``.
        refine_points: learn an offset of each point (``point_offsets``, ``(N, 3)``, in units of :attr:`scale`).

    The positions reach the loss only through which pixel each point falls in;
    their gradient is ADOP's image-space approximation (``displacement`` of
    :func:`~easel.flythrough.rasterize.rasterize`).

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
        refine_poses: bool = False,
        refine_points: bool = False,
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
        # the unit of the position corrections: the cloud's median distance from its median
        spread = (pts - pts.median(dim=0).values).norm(dim=1).median() if len(pts) else torch.tensor(1.0)
        self.scale = float(spread) if float(spread) > 0 else 1.0
        self.pose_deltas = nn.Parameter(torch.zeros(num_images, 6)) if refine_poses else None
        self.point_offsets = nn.Parameter(torch.zeros(len(pts), 3)) if refine_points else None

    def _pose_delta(self, image: int | None) -> torch.Tensor | None:
        if self.pose_deltas is None or image is None:
            return None
        d = self.pose_deltas[image]
        return torch.cat([d[:3], d[3:] * self.scale])

    def fitted_points(self) -> torch.Tensor:
        """``(N, 3)`` the point positions with their learned offsets (detached).

        Example:
            >>> FlythroughModel(torch.zeros(2, 3), torch.ones(2, 3), 1, refine_points=True).fitted_points().shape
            torch.Size([2, 3])
        """
        if self.point_offsets is None:
            return self.points
        return self.points + self.point_offsets.detach() * self.scale

    def can_plan(self) -> bool:
        """Whether a camera's raster plan stays valid while fitting (no pose or point refinement).

        Example:
            >>> FlythroughModel(torch.zeros(2, 3), torch.ones(2, 3), 1).can_plan()
            True
        """
        return self.pose_deltas is None and self.point_offsets is None

    def plan(self, K: torch.Tensor, world_to_camera: torch.Tensor, shape: tuple[int, int]) -> RasterPlan:  # noqa: N803
        """The :class:`~easel.flythrough.rasterize.RasterPlan` of a camera (for :meth:`forward`'s ``plan``).

        Example:
            >>> m = FlythroughModel(torch.tensor([[0.0, 0.0, 2.0]]), torch.ones(1, 3), 1, levels=2)
            >>> m.plan(torch.eye(3), torch.eye(4), (2, 2)).shapes
            [(2, 2), (1, 1)]
        """
        return raster_plan(
            self.fitted_points(),
            K,
            world_to_camera,
            shape,
            num_levels=self.levels,
            depth_band=self.depth_band,
        )

    def rasterize(
        self,
        K: torch.Tensor,  # noqa: N803
        world_to_camera: torch.Tensor,
        shape: tuple[int, int],
        image: int | None = None,
        plan: RasterPlan | None = None,
    ) -> list:
        """The point pyramid of the descriptors seen by this camera (see :func:`~easel.flythrough.rasterize.rasterize`).

        ``image``: the training image whose pose correction applies (``None``: the pose as given).
        ``plan``: this camera's :func:`~easel.flythrough.rasterize.raster_plan`, reused when
        neither the poses nor the points are refined (:meth:`can_plan`).
        """
        if plan is not None and self.can_plan():
            return rasterize_planned(plan, self.descriptors)
        delta = self._pose_delta(image)
        pose = world_to_camera if delta is None else se3_exp(delta.detach()) @ world_to_camera
        points = self.fitted_points()
        displacement = None
        track = (delta is not None and delta.requires_grad) or (
            self.point_offsets is not None and self.point_offsets.requires_grad
        )
        if track and torch.is_grad_enabled():
            from easel.flythrough.rasterize import project_points

            moved = points
            if self.point_offsets is not None:
                moved = points + (self.point_offsets - self.point_offsets.detach()) * self.scale
            cam = moved @ pose[:3, :3].T + pose[:3, 3]
            if delta is not None:
                residual = se3_exp(delta - delta.detach())
                cam = cam @ residual[:3, :3].T + residual[:3, 3]
            uv, _ = project_points(cam, K, torch.eye(4, dtype=cam.dtype, device=cam.device))
            base, _ = project_points(points, K, pose)
            displacement = uv - base.detach()
            displacement = displacement - displacement.detach()  # exactly zero-valued
        return rasterize(
            points,
            self.descriptors,
            K,
            pose,
            shape,
            num_levels=self.levels,
            depth_band=self.depth_band,
            displacement=displacement,
        )

    def forward(
        self,
        K: torch.Tensor,  # noqa: N803
        world_to_camera: torch.Tensor,
        shape: tuple[int, int],
        appearance: Appearance,
        exposure_offset: float = 0.0,
        image: int | None = None,
        plan: RasterPlan | None = None,
    ) -> torch.Tensor:
        """Render ``(1, 3, H, W)`` (about [0, 1]; the leaky clamp lets it stray a little outside).

        Args:
            K: ``(3, 3)`` camera matrix of the ``shape`` image.
            world_to_camera: ``(4, 4)`` OpenCV pose.
            shape: ``(height, width)``.
            appearance: exposure and white balance of the view.
            exposure_offset: stops added to the exposure.
            image: the training image whose pose correction applies (``None``: the pose as given).
            plan: the camera's raster plan (:meth:`plan`; used when :meth:`can_plan`).
        """
        hdr = self.renderer(self.rasterize(K, world_to_camera, shape, image, plan))
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


PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
"""VGG-19 activations compared by :class:`PerceptualLoss` (shallow: cheap, and about texture and edges)."""


class PerceptualLoss(nn.Module):
    """Mean over :data:`PERCEPTUAL_LAYERS` of ``L1(F(pred), F(target)) / mean |F(target)|``.

    Each layer's term is relative to the target's activations, so layers of
    different magnitudes count alike. The encoder's weights stay fixed.

    Args:
        encoder: a VGG-19 encoder returning at least :data:`PERCEPTUAL_LAYERS`
            (:func:`easel.nets.vgg.load_encoder`; it takes RGB in [0, 1]).

    Example:
        >>> enc = load_encoder("vgg19-caffe", layers=PERCEPTUAL_LAYERS)  # doctest: +SKIP
        >>> float(PerceptualLoss(enc)(x, x))  # doctest: +SKIP
        0.0
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``(1, 3, H, W)`` images (``target`` needs no gradient)."""
        with torch.no_grad():
            want = self.encoder(target.clamp(0.0, 1.0))
        have = self.encoder(pred)
        terms = [
            (have[k] - want[k]).abs().mean() / want[k].abs().mean().clamp_min(1e-6) for k in PERCEPTUAL_LAYERS
        ]
        return torch.stack(terms).mean()


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
