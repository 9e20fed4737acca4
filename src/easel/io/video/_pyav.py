"""What the video reader and the PyAV-backed sinks share: error types, messages, one output stream."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_FPS = 1000.0
"""Frame rates above this are refused when writing and ignored when probing."""


def av_errors() -> tuple[type[BaseException], ...]:
    """The exceptions PyAV raises for files it cannot open or decode.

    Example:
        >>> OSError in av_errors()
        True
    """
    import av

    return (av.FFmpegError, OSError, ValueError)


def short_message(exc: BaseException) -> str:
    """The first line of an exception's message (FFmpeg's can run to many).

    Example:
        >>> short_message(ValueError("bad header" + chr(10) + "more detail"))
        'bad header'
    """
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def has_encoder(name: str) -> bool:
    """Whether this PyAV build can encode with codec ``name`` (e.g. ``libvpx-vp9``).

    Example:
        >>> has_encoder("libx264"), has_encoder("no-such-codec")  # doctest: +SKIP
        (True, False)
    """
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


class OutputStream:
    """One PyAV output container with one video stream; frames get consecutive timestamps.

    Args:
        path: the file to write (the writer's temporary file).
        container_format: FFmpeg muxer name (``mp4``, ``webm``, ``gif``).
        codec: encoder name (``libx264``, ``libvpx-vp9``, ``gif``).
        rate: frames per second, as an exact fraction.
        shape: ``(height, width)`` of the encoded frames.
        pix_fmt: the stream's pixel format (``yuv420p``, ``pal8``).
        options: encoder options, or ``None`` for none.
        container_options: muxer options, or ``None`` for none.

    Example:
        >>> out = OutputStream(Path("a.gif"), "gif", "gif", Fraction(10), (32, 48), "pal8")  # doctest: +SKIP
        >>> out.encode(indices, palette=argb); out.finish()                                  # doctest: +SKIP
    """

    def __init__(
        self,
        path: Path,
        container_format: str,
        codec: str,
        rate: Fraction,
        shape: tuple[int, int],
        pix_fmt: str,
        options: dict[str, str] | None = None,
        container_options: dict[str, str] | None = None,
    ) -> None:
        import av
        from av.video.stream import VideoStream

        if container_options is None:
            container = av.open(str(path), "w", format=container_format)
        else:
            container = av.open(str(path), "w", format=container_format, options=container_options)
        if options is None:
            stream = container.add_stream(codec, rate=rate)
        else:
            stream = container.add_stream(codec, rate=rate, options=options)
        assert isinstance(stream, VideoStream)
        stream.pix_fmt = pix_fmt
        stream.height, stream.width = shape
        self._container: Any = container
        self._stream: Any = stream
        self._frames = 0

    def encode(self, data: NDArray[np.uint8], palette: NDArray[np.uint8] | None = None) -> None:
        """Encode one frame: ``(H, W, 3)`` uint8 RGB, or ``(H, W)`` indices into an ARGB ``palette``."""
        import av

        frame = (
            av.VideoFrame.from_ndarray(data, format="rgb24")
            if palette is None
            else av.VideoFrame.from_ndarray((data, palette), format="pal8")  # type: ignore[arg-type]
        )
        frame.pts = self._frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._frames += 1

    def finish(self) -> None:
        """Flush the encoder and close the file."""
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def abort(self) -> None:
        """Close the file without flushing (after an error); never raises."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
