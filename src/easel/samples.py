"""Sample photos bundled with scikit-image, for examples, tests and the demo (no downloads).

Example:
    >>> from easel.samples import sample_image
    >>> sample_image("chelsea").shape
    (300, 451, 3)
"""

from __future__ import annotations

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb

__all__ = ["SAMPLES", "sample_image"]

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")
"""Names of scikit-image's bundled colour photos that :func:`sample_image` returns."""


def sample_image(name: str) -> FloatImage:
    """A bundled sample photo as ``(H, W, 3)`` float32 RGB in [0, 1].

    Args:
        name: one of :data:`SAMPLES` (scikit-image's ``skimage.data`` photos).

    Raises:
        InputError: an unknown name.

    Example:
        >>> img = sample_image("astronaut")
        >>> img.shape, img.dtype.name
        ((512, 512, 3), 'float32')
    """
    if name not in SAMPLES:
        raise InputError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    import skimage.data

    return as_float_rgb(getattr(skimage.data, name)(), name=name)
