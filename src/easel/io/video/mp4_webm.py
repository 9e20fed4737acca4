"""The MP4 (H.264) and WebM (VP9) sink of :class:`~easel.io.video.VideoWriter`, through PyAV.

Both use yuv420p, which needs even frame sides: an odd width or height is
padded by repeating the last column or row.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from easel.errors import InputError
from easel.io.video._pyav import OutputStream, has_encoder

DEFAULT_CRF = {"mp4": 18, "webm": 32}
"""Default quality (constant rate factor) per format; lower is better."""
CRF_RANGE = {"mp4": (0, 51), "webm": (0, 63)}
"""Accepted ``crf`` values per format, inclusive."""


def check_crf(video_format: str, crf: int | None) -> int:
    """The ``crf`` to use for ``mp4`` or ``webm``: the default for ``None``, else checked.

    Raises:
        InputError: ``crf`` outside the format's range.

    Example:
        >>> check_crf("mp4", None), check_crf("webm", 40)
        (18, 40)
    """
    lo, hi = CRF_RANGE[video_format]
    value = DEFAULT_CRF[video_format] if crf is None else crf
    if not (lo <= int(value) <= hi):
        raise InputError(f"crf for {video_format} must be in {lo}..{hi}, got {crf}")
    return value


def check_vp9(path: Path) -> None:
    """Refuse ``.webm`` output when this PyAV build has no VP9 encoder.

    Raises:
        InputError: no ``libvpx-vp9`` encoder.

    Example:
        >>> check_vp9(Path("clip.webm"))  # doctest: +SKIP
    """
    if not has_encoder("libvpx-vp9"):
        raise InputError(
            f"{path}: this PyAV build has no VP9 encoder (libvpx-vp9); write .mp4 or .gif instead"
        )


def pad_even(data: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Pad ``(H, W, 3)`` to even ``H`` and ``W`` by repeating the last row/column.

    Example:
        >>> pad_even(np.zeros((3, 5, 3), np.uint8)).shape
        (4, 6, 3)
    """
    pad_h, pad_w = data.shape[0] % 2, data.shape[1] % 2
    if pad_h or pad_w:
        data = np.pad(data, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return data


class Mp4WebmSink:
    """Encode frames to an MP4 (libx264) or WebM (libvpx-vp9) file.

    Args:
        path: the file to write.
        video_format: ``"mp4"`` or ``"webm"``.
        shape: ``(height, width)`` of the frames (before padding to even).
        rate: frames per second.
        crf: quality, as returned by :func:`check_crf`.
        preset: libx264 speed preset (MP4 only).

    Example:
        >>> sink = Mp4WebmSink(Path("a.mp4"), "mp4", (33, 47), Fraction(30), 18, "fast")  # doctest: +SKIP
        >>> sink.write(np.zeros((33, 47, 3), np.uint8)); sink.finish()  # doctest: +SKIP
    """

    def __init__(
        self, path: Path, video_format: str, shape: tuple[int, int], rate: Fraction, crf: int, preset: str
    ) -> None:
        height, width = shape
        even = (height + height % 2, width + width % 2)
        if video_format == "mp4":
            self._out = OutputStream(
                path,
                "mp4",
                "libx264",
                rate,
                even,
                "yuv420p",
                options={"crf": str(crf), "preset": preset},
                container_options={"movflags": "+faststart"},
            )
        else:
            self._out = OutputStream(
                path,
                "webm",
                "libvpx-vp9",
                rate,
                even,
                "yuv420p",
                options={"crf": str(crf), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
            )

    def write(self, data: NDArray[np.uint8]) -> None:
        """Encode one ``(H, W, 3)`` uint8 RGB frame."""
        self._out.encode(pad_even(data))

    def finish(self) -> None:
        """Flush the encoder and close the file."""
        self._out.finish()

    def abort(self) -> None:
        """Close the file after an error."""
        self._out.abort()
