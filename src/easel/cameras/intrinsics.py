"""Pinhole intrinsics (OpenCV style) and the focal length recorded in a photo's EXIF.

Example:
    >>> intr = Intrinsics.from_fov(640, 480, fov_deg=90.0)
    >>> round(intr.fy, 6), intr.shape
    (240.0, (480, 640))
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from easel.errors import InputError

DEFAULT_FOCAL_FRACTION = 0.5
"""Default focal length as a fraction of the long side (the 3D Ken Burns reference's 512 px at 1024 px)."""


def check_fov(fov_deg: float, name: str = "fov_deg") -> float:
    """Validate a vertical field of view in degrees: finite and strictly between 0 and 180.

    Args:
        fov_deg: the value to check.
        name: how to call it in the message (a field name, or ``path.json: camera_path[2].fov``).

    Returns:
        ``fov_deg`` as a float.

    Raises:
        InputError: ``"<name> must be between 0 and 180 degrees (vertical); got <value>"``.

    Example:
        >>> check_fov(60)
        60.0
    """
    value = float(fov_deg)
    if not (0.0 < value < 180.0):
        raise InputError(f"{name} must be between 0 and 180 degrees (vertical); got {fov_deg:g}")
    return value


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera's intrinsics, OpenCV style, for an image of ``width`` x ``height``.

    Attributes:
        fx: focal length along x, in pixels.
        fy: focal length along y, in pixels.
        cx: principal point x, in pixels (the image centre is ``width / 2``).
        cy: principal point y, in pixels.
        width: image width in pixels.
        height: image height in pixels.

    Example:
        >>> round(Intrinsics.from_fov(640, 480, 90.0).fy, 6)
        240.0
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0 and math.isfinite(self.fx) and math.isfinite(self.fy)):
            raise InputError(f"focal lengths must be positive and finite; got fx={self.fx}, fy={self.fy}")
        if self.width < 1 or self.height < 1:
            raise InputError(f"camera image size must be positive; got {self.width}x{self.height}")

    @classmethod
    def from_fov(cls, width: int, height: int, fov_deg: float) -> Intrinsics:
        """Square pixels, centred principal point, vertical field of view ``fov_deg`` degrees.

        Example:
            >>> round(Intrinsics.from_fov(64, 48, 60.0).fov_y, 6)
            60.0
        """
        fov = check_fov(fov_deg)
        f = 0.5 * height / math.tan(math.radians(fov) / 2.0)
        return cls(f, f, width / 2.0, height / 2.0, int(width), int(height))

    @classmethod
    def from_focal(cls, width: int, height: int, focal: float) -> Intrinsics:
        """Square pixels of focal length ``focal`` pixels, centred principal point.

        Example:
            >>> Intrinsics.from_focal(6, 4, 3.0).cx
            3.0
        """
        return cls(float(focal), float(focal), width / 2.0, height / 2.0, int(width), int(height))

    @classmethod
    def default(cls, width: int, height: int) -> Intrinsics:
        """The 3D Ken Burns reference's default: focal length half the long side (90 degrees across it).

        Example:
            >>> Intrinsics.default(1024, 768).fx
            512.0
        """
        return cls.from_focal(width, height, DEFAULT_FOCAL_FRACTION * max(width, height))

    @property
    def K(self) -> NDArray[np.float64]:  # noqa: N802 - the usual name
        """The 3x3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def fov_y(self) -> float:
        """Vertical field of view in degrees."""
        return math.degrees(2.0 * math.atan(0.5 * self.height / self.fy))

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    def resized(self, width: int, height: int) -> Intrinsics:
        """The same camera for an output of ``width`` x ``height`` that covers the view.

        The image is scaled to fill the new size and centre-cropped (the
        principal point keeps its offset from the centre, scaled).

        Example:
            >>> Intrinsics.default(64, 48).resized(32, 24).fx
            16.0
        """
        scale = max(width / self.width, height / self.height)
        return Intrinsics(
            self.fx * scale,
            self.fy * scale,
            (self.cx - self.width / 2.0) * scale + width / 2.0,
            (self.cy - self.height / 2.0) * scale + height / 2.0,
            int(width),
            int(height),
        )


def intrinsics_from_exif(path: str | os.PathLike[str], width: int, height: int) -> Intrinsics | None:
    """Intrinsics from an image's EXIF 35 mm-equivalent focal length, or ``None`` when absent.

    The 35 mm equivalent refers to a 36 mm wide frame, matched to the long side.

    Args:
        path: the image file.
        width: width in pixels of the image as it will be used (after any downscale).
        height: its height in pixels.

    Example:
        >>> intrinsics_from_exif("photo.jpg", 1024, 768)  # doctest: +SKIP
        Intrinsics(fx=739.5, ...)
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            exif = img.getexif()
            value = exif.get_ifd(0x8769).get(0xA405) or exif.get(0xA405)
    except (OSError, SyntaxError, ValueError):
        return None
    try:
        f35 = float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return None
    if not (5.0 <= f35 <= 2000.0):
        return None
    return Intrinsics.from_focal(width, height, f35 / 36.0 * max(width, height))


def resolve_intrinsics(
    width: int,
    height: int,
    *,
    fov: float | None = None,
    focal: float | None = None,
    exif_path: str | os.PathLike[str] | None = None,
) -> tuple[Intrinsics, str]:
    """The camera of an image: ``fov``, else ``focal``, else the EXIF focal length, else the default.

    Args:
        width: image width in pixels (as used, after any downscale).
        height: image height in pixels.
        fov: vertical field of view in degrees, when known.
        focal: focal length in pixels, when known.
        exif_path: the image file whose EXIF 35 mm-equivalent focal length to read.

    Returns:
        ``(intrinsics, source)``: ``source`` says where the focal length came from
        (``"fov 60"``, ``"focal 512 px"``, ``"EXIF focal length"`` or
        ``"default focal length (half the long side)"``).

    Example:
        >>> resolve_intrinsics(64, 48)[1]
        'default focal length (half the long side)'
    """
    if fov is not None:
        return Intrinsics.from_fov(width, height, check_fov(fov, "fov")), f"fov {fov:g}"
    if focal is not None:
        if not (focal > 0 and math.isfinite(focal)):
            raise InputError(f"focal must be a positive number of pixels; got {focal:g}")
        return Intrinsics.from_focal(width, height, focal), f"focal {focal:g} px"
    if exif_path is not None:
        exif = intrinsics_from_exif(exif_path, width, height)
        if exif is not None:
            return exif, "EXIF focal length"
    return Intrinsics.default(width, height), "default focal length (half the long side)"
