""":class:`VideoWriter`: the output format from the path, atomic output, one frame size.

The writer checks its options and each frame, owns the temporary file or
folder and hands ``(H, W, 3)`` uint8 frames to a *sink* for the format:
:class:`~easel.io.video.mp4_webm.Mp4WebmSink`,
:class:`~easel.io.video.gif.GifSink` or
:class:`~easel.io.video.png_frames.PngFrameSink`. A sink has three methods:
``write(frame)``, ``finish()`` (the output is complete) and ``abort()``
(after an error; must not raise).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.image import as_float_rgb, to_uint8
from easel.io.atomic import atomic_dir, atomic_path
from easel.io.video import mp4_webm, png_frames
from easel.io.video._pyav import MAX_FPS
from easel.progress import ProgressFn, report

log = logging.getLogger(__name__)

VideoFormat = Literal["mp4", "webm", "gif", "frames"]

VIDEO_WRITE_SUFFIXES = (".mp4", ".webm", ".gif")
"""Suffixes :class:`VideoWriter` writes; a path without a suffix is a folder of PNG frames."""


class FrameSink(Protocol):
    """Where a :class:`VideoWriter` sends its frames, one implementation per format.

    Example:
        >>> sink: FrameSink = png_frames.PngFrameSink(Path("frames"))  # doctest: +SKIP
    """

    def write(self, data: NDArray[np.uint8]) -> None:
        """Add one ``(H, W, 3)`` uint8 RGB frame of the writer's shape."""

    def finish(self) -> None:
        """Complete the output (flush, close)."""

    def abort(self) -> None:
        """Release what is open after an error; never raises."""


def video_format(path: str | os.PathLike[str]) -> VideoFormat:
    """The output format a path asks for: ``mp4``, ``webm``, ``gif`` or ``frames`` (a folder).

    A path without a suffix, or ending in ``/``, is a folder of PNG frames.

    Raises:
        InputError: any other suffix.

    Example:
        >>> video_format("clip.mp4"), video_format("frames/")
        ('mp4', 'frames')
    """
    text = os.fspath(path)
    if text.endswith(("/", os.sep)):
        return "frames"
    suffix = Path(text).suffix.lower()
    if suffix == "":
        return "frames"
    if suffix in VIDEO_WRITE_SUFFIXES:
        return suffix[1:]  # type: ignore[return-value]
    raise InputError(
        f"{path}: unsupported video format {suffix!r}; use .mp4, .webm, .gif, "
        "or a folder (no suffix) for PNG frames"
    )


def _check_fps(fps: float | Fraction) -> Fraction:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number, got {fps!r}") from None
    if not math.isfinite(value) or not (0 < value <= MAX_FPS):
        raise InputError(f"fps must be between 0 and {MAX_FPS:g}, got {fps}")
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Write frames to an MP4, WebM, GIF or folder of PNGs, atomically.

    Use it as a context manager: the output appears under its final name only
    when the ``with`` block ends without an exception; on an exception the
    temporary file or folder is removed and an existing output is untouched.

    * ``.mp4``: H.264 (libx264), yuv420p, ``crf`` (0-51, default 18),
      fast-start; odd widths/heights are padded to even by repeating the last
      row/column.
    * ``.webm``: VP9 (libvpx-vp9), yuv420p, ``crf`` (0-63, default 32); padded
      the same way. A PyAV build without VP9 raises :class:`InputError`.
    * ``.gif``: one 256-colour palette, built (median cut) from the first
      ``palette_frames`` frames, then each frame is mapped to it (with
      Floyd-Steinberg dithering when ``dither``); a later frame the palette
      fits badly (new colours after a cut) gets a local palette of its own.
      Only those first frames are buffered, so long GIFs stream too. GIF
      stores delays in 1/100 s, so fps is rounded to 100/n (30 -> 33.3);
      loops forever.
    * no suffix / trailing ``/``: a folder of ``frame_00001.png`` ...

    Args:
        path: output path; the format follows its suffix (:func:`video_format`).
        fps: frames per second (kept as an exact fraction, e.g. 30000/1001).
        crf: quality for MP4/WebM, lower is better; ``None`` for the default.
        preset: libx264 speed preset (``ultrafast`` ... ``veryslow``).
        palette_frames: GIF only: how many leading frames build the palette.
        dither: GIF only: dither frames to the palette.

    Attributes:
        frames_written: frames written so far.
        shape: ``(height, width)`` of the frames (from the first one), or ``None``.

    Raises:
        InputError: bad path suffix, fps or crf; a frame of another size than
            the first; no frames at all; no VP9 encoder for ``.webm``.

    Example:
        >>> with VideoWriter("clip.mp4", fps=30) as writer:  # doctest: +SKIP
        ...     for t in range(60):
        ...         writer.write(np.full((240, 320, 3), t / 59, np.float32))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float | Fraction = 30.0,
        crf: int | None = None,
        preset: str = "medium",
        palette_frames: int = 32,
        dither: bool = True,
    ) -> None:
        self.path = Path(path)
        self.format: VideoFormat = video_format(path)
        self.rate = _check_fps(fps)
        self.fps = float(self.rate)
        if self.format in mp4_webm.CRF_RANGE:
            crf = mp4_webm.check_crf(self.format, crf)
        self.crf = crf
        self.preset = preset
        if palette_frames < 1:
            raise InputError(f"palette_frames must be at least 1, got {palette_frames}")
        self.palette_frames = palette_frames
        self.dither = dither
        if self.format == "webm":
            mp4_webm.check_vp9(self.path)
        self._check_target()
        self.frames_written = 0
        self.shape: tuple[int, int] | None = None
        self._stack: contextlib.ExitStack | None = None
        self._tmp: Path | None = None
        self._sink: FrameSink | None = None

    def _check_target(self) -> None:
        """Refuse targets whose replacement would destroy something that is not ours."""
        if self.format == "frames":
            png_frames.check_frame_folder(self.path)
        elif self.path.is_dir():
            raise InputError(f"{self.path}: is a folder; choose a file name for the {self.format} output")

    # -- context management

    def __enter__(self) -> VideoWriter:
        if self._stack is not None:
            raise RuntimeError("VideoWriter is already open")
        stack = contextlib.ExitStack()
        if self.format == "frames":
            self._tmp = stack.enter_context(atomic_dir(self.path))
        else:
            self._tmp = stack.enter_context(atomic_path(self.path))
        self._stack = stack
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._stack
        if stack is None:
            return
        self._stack = None
        if exc is not None:
            self._abort()
            stack.__exit__(exc_type, exc, tb)
            return
        try:
            self._finish()
        except BaseException as err:
            self._abort()
            if not stack.__exit__(type(err), err, err.__traceback__):
                raise
            return
        stack.close()

    def close(self) -> None:
        """Finish the output (same as leaving the ``with`` block cleanly)."""
        self.__exit__(None, None, None)

    # -- writing

    def write(self, frame: ArrayLike) -> None:
        """Append one frame.

        Args:
            frame: ``(H, W, 3)`` float32 RGB in [0, 1] (``uint8`` and gray
                accepted as in :func:`easel.image.as_float_rgb`); every frame
                must have the size of the first.
        """
        if self._stack is None:
            raise RuntimeError("use VideoWriter as a context manager: `with VideoWriter(...) as w:`")
        data = self._to_uint8(frame)
        if self.shape is None:
            self.shape = (data.shape[0], data.shape[1])
            self._sink = self._open_sink(self.shape)
        elif data.shape[:2] != self.shape:
            raise InputError(
                f"{self.path}: frame {self.frames_written + 1} is {data.shape[1]}x{data.shape[0]}, "
                f"but the first frame was {self.shape[1]}x{self.shape[0]}; all frames must have one size"
            )
        assert self._sink is not None
        self._sink.write(data)
        self.frames_written += 1

    def _to_uint8(self, frame: ArrayLike) -> NDArray[np.uint8]:
        arr = np.asarray(frame)
        if arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and min(arr.shape[:2]) > 0:
            return np.ascontiguousarray(arr)
        return to_uint8(as_float_rgb(arr, name=f"frame {self.frames_written + 1}"))

    def _open_sink(self, shape: tuple[int, int]) -> FrameSink:
        """The sink for this format, writing to the temporary file or folder."""
        from easel.io.video.gif import GifSink

        assert self._tmp is not None
        if self.format == "frames":
            return png_frames.PngFrameSink(self._tmp)
        if self.format == "gif":
            return GifSink(self._tmp, shape, self.rate, self.palette_frames, self.dither)
        assert self.crf is not None
        return mp4_webm.Mp4WebmSink(self._tmp, self.format, shape, self.rate, self.crf, self.preset)

    def _finish(self) -> None:
        if self.frames_written == 0:
            raise InputError(f"{self.path}: no frames were written")
        assert self._sink is not None
        sink, self._sink = self._sink, None
        sink.finish()
        log.debug("wrote %d frames to %s", self.frames_written, self.path)

    def _abort(self) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.abort()


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[ArrayLike],
    fps: float | Fraction = 30.0,
    crf: int | None = None,
    progress: ProgressFn | None = None,
    total: int | None = None,
) -> Path:
    """Write an iterable of frames with a :class:`VideoWriter`; return the path.

    Args:
        path: ``.mp4``, ``.webm``, ``.gif`` or a folder (no suffix) of PNGs.
        frames: ``(H, W, 3)`` float32 RGB frames in [0, 1], all one size;
            consumed lazily, so a generator keeps memory flat.
        fps: frames per second.
        crf: MP4/WebM quality (lower is better), ``None`` for the default.
        progress: called after each frame with stage ``"encode"``.
        total: number of frames, for the progress total (``0``/unknown otherwise).

    Example:
        >>> frames = (np.full((64, 64, 3), t / 9, np.float32) for t in range(10))
        >>> write_video("fade.gif", frames, fps=10)  # doctest: +SKIP
        PosixPath('fade.gif')
    """
    with VideoWriter(path, fps=fps, crf=crf) as writer:
        for frame in frames:
            writer.write(frame)
            report(progress, "encode", writer.frames_written, total or 0)
    return Path(path)
