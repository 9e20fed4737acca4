"""Image conversions between the package's conventions.

NumPy images are ``(H, W, 3)`` float32 RGB in [0, 1]; torch images are
``(N, 3, H, W)`` float32 in [0, 1]. ``uint8`` (and ``uint16``) input is
accepted and scaled; floats outside [0, 1] raise -- easel never rescales
silently. Conversion to integers happens only when writing, with rounding
and clipping.

Sizes: a ``shape`` is ``(height, width)`` in NumPy order; a ``size`` or
``max_size`` is one number of pixels, the long side; messages write
``width x height`` (``1920x1080``), as image viewers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError

if TYPE_CHECKING:
    import torch

FloatImage = NDArray[np.float32]
"""``(H, W, 3)`` float32 RGB in [0, 1]."""

_RANGE_SLACK = 1e-4


def as_float_rgb(image: ArrayLike, name: str = "image") -> FloatImage:
    """Return ``image`` as a ``(H, W, 3)`` float32 RGB array in [0, 1].

    Args:
        image: ``(H, W)`` gray, ``(H, W, 1)``, ``(H, W, 3)`` RGB or ``(H, W, 4)``
            RGBA (alpha is dropped: use :func:`split_alpha` to keep it).
            ``uint8`` is divided by 255, ``uint16`` by 65535, ``bool`` maps to
            {0, 1}; floats must already lie in [0, 1].
        name: what to call the array in error messages.

    Returns:
        A new or the same C-contiguous float32 array of shape ``(H, W, 3)``.

    Raises:
        InputError: wrong number of dimensions or channels, an empty image,
            non-finite values, or floats outside [0, 1].

    Example:
        >>> as_float_rgb(np.zeros((4, 5), np.uint8)).shape
        (4, 5, 3)
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InputError(f"{name} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / np.float32(255.0)
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float32) / np.float32(65535.0)
    elif arr.dtype == np.bool_:
        out = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32, copy=False)
        lo, hi = float(out.min()), float(out.max())  # NaN propagates, inf is an extreme
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise InputError(f"{name} contains NaN or infinite values")
        if lo < -_RANGE_SLACK or hi > 1.0 + _RANGE_SLACK:
            raise InputError(
                f"{name} must be float in [0, 1]; found values in [{lo:.4g}, {hi:.4g}] "
                "(divide by 255 for 8-bit data)"
            )
        if lo < 0.0 or hi > 1.0:
            out = np.clip(out, 0.0, 1.0)
    else:
        raise InputError(f"{name} has unsupported dtype {arr.dtype}")
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out, dtype=np.float32)


def split_alpha(image: ArrayLike, name: str = "image") -> tuple[FloatImage, NDArray[np.float32] | None]:
    """Split an RGBA image into RGB and an ``(H, W)`` float32 alpha in [0, 1].

    Images without an alpha channel return ``None`` as alpha.

    Example:
        >>> rgb, alpha = split_alpha(np.zeros((2, 3, 4), np.uint8))
        >>> rgb.shape, alpha.shape
        ((2, 3, 3), (2, 3))
    """
    arr = np.asarray(image)
    alpha: NDArray[np.float32] | None = None
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = as_float_rgb(arr[:, :, 3], name=f"{name} alpha")[:, :, 0].copy()
    return as_float_rgb(arr, name=name), alpha


def to_uint8(image: ArrayLike) -> NDArray[np.uint8]:
    """Round and clip a float image in [0, 1] to ``uint8`` (any channel count).

    Example:
        >>> to_uint8(np.array([0.0, 0.5, 1.2])).tolist()
        [0, 128, 255]
    """
    arr = np.asarray(image, dtype=np.float32)
    return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)


def to_uint16(image: ArrayLike) -> NDArray[np.uint16]:
    """Round and clip a float image in [0, 1] to ``uint16`` (any channel count).

    Example:
        >>> to_uint16(np.array([0.0, 0.5, 1.0])).tolist()
        [0, 32768, 65535]
    """
    arr = np.asarray(image, dtype=np.float32)
    return np.clip(np.rint(arr * 65535.0), 0, 65535).astype(np.uint16)


def to_tensor(
    image: ArrayLike,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Convert a NumPy image to a ``(1, 3, H, W)`` tensor in [0, 1].

    Args:
        image: anything :func:`as_float_rgb` accepts.
        device: target device (default CPU).
        dtype: target dtype (default float32).

    Example:
        >>> to_tensor(np.zeros((4, 5, 3), np.float32)).shape
        torch.Size([1, 3, 4, 5])
    """
    import torch

    rgb = as_float_rgb(image)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()
    return tensor.to(device=device or "cpu", dtype=dtype or torch.float32)


def from_tensor(tensor: torch.Tensor) -> FloatImage:
    """Convert a ``(1, 3, H, W)`` or ``(3, H, W)`` tensor to a ``(H, W, 3)`` float32 array.

    Values are clipped to [0, 1]; the tensor is detached and moved to the CPU.

    Example:
        >>> import torch
        >>> from_tensor(torch.zeros(1, 3, 4, 5)).shape
        (4, 5, 3)
    """
    t = tensor.detach()
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise InputError(f"expected a batch of one image, got shape {tuple(t.shape)}")
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise InputError(f"expected a (3, H, W) tensor, got shape {tuple(t.shape)}")
    arr = t.float().clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(arr, dtype=np.float32)


def resize(image: FloatImage, shape: tuple[int, int]) -> FloatImage:
    """Resize a float image to ``shape`` ``(height, width)``.

    Area averaging when shrinking, bicubic when growing; any channel count
    (kept), output clipped to [0, 1].

    Example:
        >>> resize(np.zeros((32, 48, 3), np.float32), (16, 24)).shape
        (16, 24, 3)
    """
    import cv2

    height, width = shape
    if height < 1 or width < 1:
        raise InputError(f"cannot resize to {width}x{height}")
    src_h, src_w = image.shape[:2]
    if (src_h, src_w) == (height, width):
        return image
    shrinking = height * width < src_h * src_w
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = cv2.resize(image, (width, height), interpolation=interp)
    if image.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def fit_long_side(shape: tuple[int, int], max_size: int) -> tuple[int, int]:
    """``shape`` ``(height, width)`` scaled so the long side is at most ``max_size`` (never up).

    Example:
        >>> fit_long_side((3000, 4000), 1000)
        (750, 1000)
    """
    height, width = shape
    long_side = max(height, width)
    if long_side <= max_size:
        return height, width
    scale = max_size / long_side
    return max(1, round(height * scale)), max(1, round(width * scale))
