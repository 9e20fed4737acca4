"""Colour preservation for style transfer (Gatys et al. 2016, "Preserving color ...").

* ``luminance``: transfer only luminance -- the result's Y channel (YIQ) is
  combined with the content photo's I and Q (chroma), after optimization.
* ``histogram``: recolour each style image before optimization so its colour
  mean and covariance match the content photo's (a linear colour transfer).
"""

from __future__ import annotations

import numpy as np

from easel.errors import InputError
from easel.image import FloatImage

PRESERVE_COLOR_CHOICES = ("none", "luminance", "histogram")

_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float64,
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(image: FloatImage) -> np.ndarray:
    """``(H, W, 3)`` RGB in [0, 1] -> ``(H, W, 3)`` float32 YIQ (Y in [0, 1]).

    Example:
        >>> rgb_to_yiq(np.ones((1, 1, 3), np.float32))[0, 0].round(4).tolist()  # white: Y = 1, no chroma
        [1.0, 0.0, -0.0]
    """
    return (image.astype(np.float64) @ _RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_yiq` (not clipped).

    Example:
        >>> rgb = np.random.default_rng(0).random((4, 4, 3), dtype=np.float32)
        >>> bool(np.allclose(yiq_to_rgb(rgb_to_yiq(rgb)), rgb, atol=1e-5))
        True
    """
    return (yiq.astype(np.float64) @ _YIQ_TO_RGB.T).astype(np.float32)


def transfer_luminance(stylized: FloatImage, content: FloatImage) -> FloatImage:
    """Keep ``stylized``'s luminance and ``content``'s chroma.

    Args:
        stylized: ``(H, W, 3)`` float32 RGB in [0, 1].
        content: ``(H, W, 3)`` float32 RGB in [0, 1] (resized to ``stylized`` if needed).

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Example:
        >>> out = transfer_luminance(np.full((2, 2, 3), 0.5, np.float32), np.zeros((2, 2, 3), np.float32))
    """
    from easel.image import resize

    if content.shape[:2] != stylized.shape[:2]:
        content = resize(content, stylized.shape[:2])
    y = rgb_to_yiq(stylized)[..., :1]
    iq = rgb_to_yiq(content)[..., 1:]
    rgb = yiq_to_rgb(np.concatenate([y, iq], axis=2))
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def _sqrt_psd(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    vals = np.clip(vals, 1e-8, None)
    power = -0.5 if inverse else 0.5
    return (vecs * vals**power) @ vecs.T


def match_color(source: FloatImage, reference: FloatImage) -> FloatImage:
    """Recolour ``source`` so its RGB mean and covariance equal ``reference``'s.

    Uses the symmetric (PCA-free) linear map ``A = Σ_r^{1/2} Σ_s^{-1/2}``.

    Args:
        source: ``(H, W, 3)`` float32 RGB in [0, 1] (the style image).
        reference: ``(H', W', 3)`` float32 RGB in [0, 1] (the content photo).

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1] (clipped).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> out = match_color(rng.random((8, 8, 3), dtype=np.float32), rng.random((8, 8, 3), dtype=np.float32))
    """
    src = source.reshape(-1, 3).astype(np.float64)
    ref = reference.reshape(-1, 3).astype(np.float64)
    mu_s, mu_r = src.mean(0), ref.mean(0)
    cov_s = np.cov(src, rowvar=False) + 1e-5 * np.eye(3)
    cov_r = np.cov(ref, rowvar=False) + 1e-5 * np.eye(3)
    transform = _sqrt_psd(cov_r) @ _sqrt_psd(cov_s, inverse=True)
    out = (src - mu_s) @ transform.T + mu_r
    return np.clip(out, 0.0, 1.0).reshape(source.shape).astype(np.float32)


def check_choice(mode: str) -> str:
    """Validate a ``--preserve-color`` value.

    Example:
        >>> check_choice("luminance")
        'luminance'
    """
    if mode not in PRESERVE_COLOR_CHOICES:
        raise InputError(f"unknown colour preservation {mode!r}; choose {', '.join(PRESERVE_COLOR_CHOICES)}")
    return mode
