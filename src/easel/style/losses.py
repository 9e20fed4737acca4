"""Losses of Gatys et al.'s style transfer: content, Gram-matrix style, total variation.

All Gram matrices are computed in float32, also under bf16/fp16 autocast
(half precision overflows on sums over many pixels). Grams are normalized by
``C * H * W`` (``C * sum(mask)`` with a mask), so the style loss does not
depend on the image size -- the property multiscale optimization relies on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

_CHUNK = 1 << 18  # pixels per chunk when accumulating large Gram matrices


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Size-normalized Gram matrix of ``(N, C, H, W)`` features, in float32.

    Args:
        features: activations ``(N, C, H, W)``, any float dtype.
        mask: optional ``(N, 1, H, W)`` or ``(1, 1, H, W)`` weights in [0, 1]; the
            Gram is then taken over the masked pixels only.

    Returns:
        ``(N, C, C)`` float32: ``F Fᵀ / (C · H · W)`` (``C · Σ mask`` with a mask).

    Example:
        >>> gram_matrix(torch.ones(1, 2, 3, 3))
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    n, c, h, w = features.shape
    if mask is None and not features.requires_grad and h * w > _CHUNK:
        # Targets of large style images: accumulate in fp32 chunks instead of copying all to fp32.
        low = features.reshape(n, c, h * w)
        gram = torch.zeros(n, c, c, device=features.device, dtype=torch.float32)
        with torch.autocast(device_type=features.device.type, enabled=False):
            for start in range(0, h * w, _CHUNK):
                part = low[:, :, start : start + _CHUNK].float()
                gram += torch.bmm(part, part.transpose(1, 2))
        return gram / float(c * h * w)
    flat = features.float().reshape(n, c, h * w)
    if mask is None:
        denom = float(c * h * w)
        with torch.autocast(device_type=flat.device.type, enabled=False):
            return torch.bmm(flat, flat.transpose(1, 2)) / denom
    m = mask.float().reshape(mask.shape[0], 1, h * w)
    weighted = flat * m
    denom_t = (m.sum(dim=2, keepdim=True) * c).clamp_min(1.0)
    with torch.autocast(device_type=flat.device.type, enabled=False):
        return torch.bmm(weighted, flat.transpose(1, 2)) / denom_t


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between activations (float32 scalar).

    Example:
        >>> content_loss(torch.ones(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)).item()
        1.0
    """
    return F.mse_loss(features.float(), target.float())


def style_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between two Gram matrices (float32 scalar).

    Example:
        >>> style_loss(torch.eye(2)[None], torch.zeros(1, 2, 2)).item()
        0.5
    """
    return F.mse_loss(gram.float(), target.float())


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of neighbouring pixels of ``(N, 3, H, W)``.

    Example:
        >>> tv_loss(torch.full((1, 3, 4, 4), 0.5)).item()
        0.0
    """
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    return dx.float().pow(2).mean() + dy.float().pow(2).mean()


def resize_mask(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Area-resize an ``(N, 1, H, W)`` mask to a layer's ``shape`` ``(height, width)``.

    Example:
        >>> tuple(resize_mask(torch.ones(1, 1, 8, 8), (2, 2)).shape)
        (1, 1, 2, 2)
    """
    if tuple(mask.shape[-2:]) == tuple(shape):
        return mask
    return F.adaptive_avg_pool2d(mask.float(), shape)


@dataclass
class StyleTarget:
    """A style's precomputed Gram matrices, its weight and optional region mask.

    Attributes:
        grams: layer name -> ``(1, C, C)`` float32 Gram of the style image.
        weight: this style's weight wᵢ in ``β Σ wᵢ styleᵢ``.
        mask: ``(1, 1, H, W)`` float32 in [0, 1] at the output's size, or ``None``.

    Example:
        >>> target = StyleTarget({"relu1_1": torch.eye(2)[None]}, weight=0.5)
        >>> target.weight, target.mask is None
        (0.5, True)
    """

    grams: dict[str, torch.Tensor]
    weight: float = 1.0
    mask: torch.Tensor | None = None


@dataclass(frozen=True)
class LossTerms:
    """The parts of one evaluation, each already weighted; ``total`` is their sum.

    Example:
        >>> zero = torch.zeros(())
        >>> terms = LossTerms(total=torch.tensor(3.0), content=torch.tensor(1.0), style=torch.tensor(2.0), tv=zero, per_style=())
        >>> float(terms.total) == float(terms.content + terms.style + terms.tv)
        True
    """

    total: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    per_style: tuple[torch.Tensor, ...]


def total_loss(
    features: Mapping[str, torch.Tensor],
    image: torch.Tensor | None,
    content_targets: Mapping[str, torch.Tensor],
    styles: Sequence[StyleTarget],
    style_layers: Mapping[str, float],
    content_weight: float,
    style_weight: float,
    tv_weight: float = 0.0,
) -> LossTerms:
    """``α·content + β·Σᵢ wᵢ·Σₗ λₗ·style(i, l) + γ·TV``.

    Args:
        features: the encoder's activations of the image being optimized.
        image: the image itself (for TV; may be ``None`` when ``tv_weight`` is 0).
        content_targets: layer -> activations of the content image.
        styles: the style targets (Grams, weight wᵢ, optional mask).
        style_layers: layer -> per-layer weight λₗ.
        content_weight: α.
        style_weight: β.
        tv_weight: γ.

    Returns:
        The weighted terms and their sum (scalar float32 tensors).

    Example:
        >>> feats = {"relu1_1": torch.ones(1, 2, 4, 4)}
        >>> target = StyleTarget({"relu1_1": gram_matrix(feats["relu1_1"])})
        >>> total_loss(feats, None, feats, [target], {"relu1_1": 1.0}, 1.0, 100.0).total.item()
        0.0
    """
    zero = torch.zeros((), device=next(iter(features.values())).device)
    content = zero
    for layer, target in content_targets.items():
        content = content + content_loss(features[layer], target)
    if content_targets:
        content = content / len(content_targets)
    per_style = []
    for style_target in styles:
        s = zero
        for layer, lam in style_layers.items():
            feats = features[layer]
            mask = None
            if style_target.mask is not None:
                mask = resize_mask(style_target.mask, (int(feats.shape[-2]), int(feats.shape[-1])))
            s = s + lam * style_loss(gram_matrix(feats, mask), style_target.grams[layer])
        per_style.append(style_weight * style_target.weight * s)
    style = torch.stack(per_style).sum() if per_style else zero
    content = content_weight * content
    tv = tv_weight * tv_loss(image) if tv_weight and image is not None else zero
    return LossTerms(content + style + tv, content, style, tv, tuple(per_style))


PIXEL_SCALE = 255.0
"""The temporal loss measures colours in 0-255 units: an RMS deviation of one grey level is 1."""


def temporal_loss(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean squared colour difference, in 0-255 units: ``Σ c (x - ω)² / (3 H W)``.

    Args:
        image: ``(N, 3, H, W)`` in [0, 1], the image being optimized.
        target: ``(N, 3, H, W)`` in [0, 1], the earlier output warped to this frame (``ω``).
        mask: ``(N, 1, H, W)`` in [0, 1], where the warp holds (``c``).

    Example:
        >>> x = torch.zeros(1, 3, 2, 2); target = torch.full((1, 3, 2, 2), 1 / 255)
        >>> temporal_loss(x, target, torch.ones(1, 1, 2, 2)).item()
        1.0
    """
    diff = (image.float() - target.float()) * PIXEL_SCALE
    return (mask.float() * diff.pow(2)).sum() / float(diff.numel())


@dataclass
class TemporalTarget:
    """Earlier outputs warped to the current frame, each with the mask where it holds.

    The loss is ``weight · Σⱼ temporal_loss(x, ωⱼ, cⱼ)``: with long-term
    consistency there is one pair per frame back, and each pixel counts only
    for the nearest frame where it is consistent (Ruder et al.'s ``c_long``).

    Attributes:
        targets: ``(1, 3, H, W)`` float32 in [0, 1] warped earlier outputs, nearest first.
        masks: ``(1, 1, H, W)`` float32 in [0, 1], one per target.
        weight: the temporal weight.

    Example:
        >>> term = TemporalTarget([torch.zeros(1, 3, 2, 2)], [torch.ones(1, 1, 2, 2)], weight=2.0)
        >>> term(torch.full((1, 3, 2, 2), 1 / 255)).item()
        2.0
    """

    targets: list[torch.Tensor]
    masks: list[torch.Tensor]
    weight: float = 1.0

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """The weighted temporal loss of ``image`` ``(1, 3, H, W)`` (float32 scalar)."""
        total = torch.zeros((), device=image.device)
        for target, mask in zip(self.targets, self.masks, strict=True):
            if tuple(target.shape[-2:]) != tuple(image.shape[-2:]):
                size = (int(image.shape[-2]), int(image.shape[-1]))
                target = F.interpolate(target, size=size, mode="bilinear", align_corners=False)
                mask = F.interpolate(mask, size=size, mode="area")
            total = total + temporal_loss(image, target, mask)
        return self.weight * total
