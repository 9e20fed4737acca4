"""What the studio accepts: upload size, image pixels, video length.

Each check raises :class:`~easel.errors.InputError` with a one-line message the
page shows as it is; images are measured from their header, before decoding.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from easel.errors import InputError

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """The studio's limits (``easel serve --max-upload-mb ...``).

    Attributes:
        max_upload_mb: largest uploaded file, in MB (10^6 bytes).
        max_megapixels: most pixels of an input image, in millions.
        max_video_s: longest video the studio makes or reads, in seconds.

    Example:
        >>> Limits().max_upload_bytes
        50000000
    """

    max_upload_mb: float = 50.0
    max_megapixels: float = 40.0
    max_video_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_megapixels", "max_video_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise InputError(f"{name.replace('_', '-')} must be a number > 0, got {value}")

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1_000_000)

    def check_upload(self, path: str | os.PathLike[str], label: str) -> None:
        """Refuse a file larger than the upload limit.

        Example:
            >>> Limits(max_upload_mb=1e-6).check_upload(__file__, "image")
            Traceback (most recent call last):
            ...
            easel.errors.InputError: image: the file is ... MB; the studio accepts up to 1e-06 MB
        """
        size = os.path.getsize(path)
        if size > self.max_upload_bytes:
            raise InputError(
                f"{label}: the file is {size / 1e6:.3g} MB; the studio accepts up to {self.max_upload_mb:g} MB"
            )

    def check_image(self, path: str | os.PathLike[str], label: str) -> tuple[int, int]:
        """Refuse an image over the pixel limit (read from its header); return its ``(height, width)``.

        Example:
            >>> Limits(max_megapixels=0.001).check_image("photo.jpg", "image")  # doctest: +SKIP
            Traceback (most recent call last):
            ...
            easel.errors.InputError: image: 640x480 is 0.31 megapixels; the studio accepts up to 0.001
        """
        from easel.io.guard import probe_image_shape, read_image_shape

        self.check_upload(path, label)
        claimed = probe_image_shape(path)  # the header alone, before any decoding
        for height, width in [claimed] if claimed is not None else []:
            if width * height > self.max_megapixels * 1e6:
                raise InputError(
                    f"{label}: {width}x{height} is {width * height / 1e6:.3g} megapixels; "
                    f"the studio accepts up to {self.max_megapixels:g}"
                )
        try:
            height, width = read_image_shape(path)
        except InputError as exc:
            raise InputError(f"{label}: {_after_path(str(exc), path)}") from None
        if width * height > self.max_megapixels * 1e6:  # rotated or unparsed headers
            raise InputError(
                f"{label}: {width}x{height} is {width * height / 1e6:.3g} megapixels; "
                f"the studio accepts up to {self.max_megapixels:g}"
            )
        return height, width

    def check_video_length(self, seconds: float, label: str) -> None:
        """Refuse a video longer than the limit.

        Example:
            >>> Limits(max_video_s=10).check_video_length(12, "clip")
            Traceback (most recent call last):
            ...
            easel.errors.InputError: clip: 12 s is longer than the studio's limit of 10 s
        """
        if seconds > self.max_video_s:
            raise InputError(
                f"{label}: {seconds:g} s is longer than the studio's limit of {self.max_video_s:g} s"
            )


def _after_path(message: str, path: str | os.PathLike[str]) -> str:
    """The message without the (temporary, meaningless to the user) file path in front."""
    prefix = f"{os.fspath(path)}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
