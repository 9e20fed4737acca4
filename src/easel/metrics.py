"""Image quality metrics: PSNR and SSIM, over the whole image or over a mask (e.g. disoccluded pixels).

Images are NumPy arrays of the same shape, ``(H, W)`` or ``(H, W, C)``
(float, usually in [0, 1]; ``data_range`` is the span of possible values).
The SSIM follows Wang et al. 2004 as scikit-image computes it by default: a
7x7 uniform window, sample covariances, ``K1 = 0.01``, ``K2 = 0.03``, borders
reflected, channels averaged; :func:`ssim_map` equals scikit-image's
``structural_similarity(..., full=True)`` map (averaged over channels).

Example:
    >>> a = np.zeros((8, 8, 3)); b = a + 0.1
    >>> round(psnr(b, a), 6), ssim(a, a)
    (20.0, 1.0)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError

__all__ = ["mse", "psnr", "psnr_from_mse", "ssim", "ssim_map"]

SSIM_WINDOW = 7
"""Side of the SSIM's uniform window (scikit-image's default)."""
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _pair(pred: ArrayLike, target: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a = np.asarray(pred, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.shape != b.shape:
        raise InputError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3) or a.size == 0:
        raise InputError(f"expected (H, W) or (H, W, C) images; got shape {a.shape}")
    return a, b


def _mask(mask: ArrayLike | None, shape: tuple[int, ...]) -> NDArray[np.bool_] | None:
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    if m.shape != shape[:2]:
        raise InputError(f"mask is {m.shape} but the images are {shape[:2]} (H, W)")
    return m


def mse(pred: ArrayLike, target: ArrayLike, mask: ArrayLike | None = None) -> float:
    """Mean squared error, over every pixel and channel, or over the pixels where ``mask`` is true.

    Args:
        pred: ``(H, W)`` or ``(H, W, C)`` image.
        target: the reference, same shape.
        mask: optional ``(H, W)`` boolean mask of the pixels to count.

    Returns:
        The mean squared error; ``nan`` when the mask selects no pixel.

    Example:
        >>> mse(np.zeros((2, 2)), np.ones((2, 2)), mask=[[True, False], [False, False]])
        1.0
    """
    a, b = _pair(pred, target)
    m = _mask(mask, a.shape)
    sq = (a - b) ** 2
    if m is not None:
        if not m.any():
            return math.nan
        sq = sq[m]
    return float(sq.mean())


def psnr_from_mse(error: float, data_range: float = 1.0) -> float:
    """``10 log10(data_range^2 / error)`` dB; ``inf`` for a zero error, ``nan`` for ``nan``.

    Example:
        >>> psnr_from_mse(0.01)
        20.0
    """
    if math.isnan(error):
        return math.nan
    if error <= 0:
        return math.inf
    return float(10.0 * math.log10(data_range**2 / error))


def psnr(
    pred: ArrayLike, target: ArrayLike, *, data_range: float = 1.0, mask: ArrayLike | None = None
) -> float:
    """Peak signal-to-noise ratio in dB (higher is better), optionally over a mask.

    Args:
        pred: ``(H, W)`` or ``(H, W, C)`` image.
        target: the reference, same shape.
        data_range: the span of possible values (1 for images in [0, 1]).
        mask: optional ``(H, W)`` boolean mask of the pixels to count.

    Returns:
        PSNR in dB; ``inf`` for identical images, ``nan`` for an empty mask.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> target = np.full((64, 64), 0.5)
        >>> noisy = target + np.where(rng.random((64, 64)) < 0.5, -0.1, 0.1)  # error 0.1 everywhere
        >>> round(psnr(noisy, target), 6)
        20.0
    """
    return psnr_from_mse(mse(pred, target, mask), data_range)


def ssim_map(
    pred: ArrayLike, target: ArrayLike, *, data_range: float = 1.0, win_size: int = SSIM_WINDOW
) -> NDArray[np.float64]:
    """The per-pixel SSIM, averaged over channels: ``(H, W)`` float64, 1 where the images agree.

    Args:
        pred: ``(H, W)`` or ``(H, W, C)`` image.
        target: the reference, same shape.
        data_range: the span of possible values (1 for images in [0, 1]).
        win_size: side of the uniform window (odd, at most the image's smaller side).

    Example:
        >>> float(ssim_map(np.zeros((8, 8)), np.zeros((8, 8))).min())
        1.0
    """
    from scipy.ndimage import uniform_filter

    a, b = _pair(pred, target)
    if win_size < 3 or win_size % 2 == 0:
        raise InputError(f"win_size must be odd and at least 3; got {win_size}")
    if min(a.shape[:2]) < win_size:
        raise InputError(
            f"images of {a.shape[1]}x{a.shape[0]} are smaller than the {win_size}x{win_size} SSIM window"
        )
    if not data_range > 0:
        raise InputError(f"data_range must be positive; got {data_range}")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    cov_norm = win_size**2 / (win_size**2 - 1.0)  # sample covariance, as scikit-image
    maps = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        ux = uniform_filter(x, size=win_size)
        uy = uniform_filter(y, size=win_size)
        vx = cov_norm * (uniform_filter(x * x, size=win_size) - ux * ux)
        vy = cov_norm * (uniform_filter(y * y, size=win_size) - uy * uy)
        vxy = cov_norm * (uniform_filter(x * y, size=win_size) - ux * uy)
        num = (2 * ux * uy + c1) * (2 * vxy + c2)
        den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
        maps.append(num / den)
    return np.mean(maps, axis=0)


def ssim(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    data_range: float = 1.0,
    mask: ArrayLike | None = None,
    win_size: int = SSIM_WINDOW,
) -> float:
    """Structural similarity (1 = identical), the mean of :func:`ssim_map` over all pixels or a mask.

    Unlike scikit-image's scalar, which leaves out a border of ``win_size // 2``
    pixels, every pixel counts (so a masked mean and the whole-image mean agree
    in what they average).

    Args:
        pred: ``(H, W)`` or ``(H, W, C)`` image.
        target: the reference, same shape.
        data_range: the span of possible values (1 for images in [0, 1]).
        mask: optional ``(H, W)`` boolean mask of the pixels to average.
        win_size: side of the uniform window.

    Returns:
        The mean SSIM; ``nan`` for an empty mask.

    Example:
        >>> ssim(np.eye(8), np.eye(8))
        1.0
    """
    smap = ssim_map(pred, target, data_range=data_range, win_size=win_size)
    m = _mask(mask, smap.shape)
    if m is not None:
        if not m.any():
            return math.nan
        return float(smap[m].mean())
    return float(smap.mean())
