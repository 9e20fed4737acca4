"""Reading and writing videos and image sequences (PyAV).

Reading is streaming: :func:`read_frames` returns an iterable that decodes one
frame at a time, so a long 1080p video never sits in memory whole. A video
file (anything FFmpeg opens) and a folder of images (sorted naturally, so
``frame2`` comes before ``frame10``) read the same way: ``(H, W, 3)`` float32
RGB frames in [0, 1], plus a :class:`VideoInfo`.

Writing goes through :class:`VideoWriter`, which picks the format from the
path: ``.mp4`` (H.264, yuv420p), ``.webm`` (VP9), ``.gif`` (256-colour
palette built from the first frames) or a path without a suffix (or ending in
``/``) for a folder of PNG frames ``frame_00001.png``, ``frame_00002.png`` ...
Output is atomic: frames go to a temporary file or folder beside the target,
which is renamed into place only when the writer closes cleanly.

Example:
    >>> frames = read_frames("clip.mp4", max_size=512)          # doctest: +SKIP
    >>> with VideoWriter("out.mp4", fps=frames.info.fps or 30) as w:  # doctest: +SKIP
    ...     for frame in frames:
    ...         w.write(1.0 - frame)
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb, fit_long_side, to_uint8
from easel.io.atomic import atomic_dir, atomic_path
from easel.io.images import IMAGE_SUFFIXES, read_image
from easel.progress import ProgressFn, report

if TYPE_CHECKING:
    import av.container

log = logging.getLogger(__name__)

VideoFormat = Literal["mp4", "webm", "gif", "frames"]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".wmv")
"""Suffixes recognised as video files when reading (anything FFmpeg opens is tried)."""
VIDEO_WRITE_SUFFIXES = (".mp4", ".webm", ".gif")
"""Suffixes :class:`VideoWriter` writes; a path without a suffix is a folder of PNG frames."""
SEQUENCE_SUFFIXES = (*IMAGE_SUFFIXES, ".gif")
"""Image files picked up from a frame folder (hidden files are skipped)."""

DEFAULT_CRF = {"mp4": 18, "webm": 32}
_CRF_RANGE = {"mp4": (0, 51), "webm": (0, 63)}
_MAX_FPS = 1000.0
_FRAME_NAME = re.compile(r"frame_\d+\.png")
_GIF_LOCAL_PALETTE_ERROR = 10.0
"""Mean absolute error (0-255) above which a GIF frame gets its own local palette."""


# ---------------------------------------------------------------- metadata


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video or a folder of frames before decoding it.

    Attributes:
        path: the file or folder.
        width: frame width in pixels, as displayed (after rotation metadata).
        height: frame height in pixels, as displayed.
        fps: frames per second; ``None`` for a folder of images (which has none).
        num_frames: number of frames; exact for folders and for containers
            that store it, estimated from the duration otherwise (see
            :attr:`frames_estimated`), ``None`` when neither is known.
        frames_estimated: whether :attr:`num_frames` is an estimate.
        duration_s: duration in seconds, when known.
        codec: the codec name (``h264``, ``vp9``, ``gif``), or ``images`` for a folder.
        rotation: degrees counterclockwise applied to the decoded frames to
            display them upright (from the container's display matrix).
    """

    path: Path
    width: int
    height: int
    fps: float | None
    num_frames: int | None
    frames_estimated: bool = False
    duration_s: float | None = None
    codec: str = ""
    rotation: int = 0

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the frames."""
        return self.height, self.width

    @property
    def is_sequence(self) -> bool:
        """Whether the source is a folder of image files."""
        return self.codec == "images"


def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded numbers by value (``frame2`` before ``frame10``).

    Example:
        >>> sorted(["f10.png", "f2.png", "f1.png"], key=natural_key)
        ['f1.png', 'f2.png', 'f10.png']
    """
    parts = re.split(r"(\d+)", name)
    return [int(part) if i % 2 else part.lower() for i, part in enumerate(parts)]


def list_frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of a frame folder, naturally sorted (hidden files skipped).

    Raises:
        InputError: the folder holds no image files.
    """
    root = Path(folder)
    files = [
        p
        for p in root.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in SEQUENCE_SUFFIXES and p.is_file()
    ]
    if not files:
        raise InputError(
            f"{root}: folder has no image files ({', '.join(SEQUENCE_SUFFIXES)}) to read as frames"
        )
    return sorted(files, key=lambda p: natural_key(p.name))


def _header_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image as displayed, from its header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(0x0112, 1)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file, or a format easel cannot read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: cannot read image header ({exc})") from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return width, height


def _probe_folder(root: Path) -> tuple[VideoInfo, list[Path]]:
    files = list_frame_files(root)
    first = _header_size(files[0])
    for path in files[1:]:
        size = _header_size(path)
        if size != first:
            raise InputError(
                f"{root}: frames differ in size ({files[0].name} is {first[0]}x{first[1]}, "
                f"{path.name} is {size[0]}x{size[1]}); resize them to one size first"
            )
    info = VideoInfo(
        path=root, width=first[0], height=first[1], fps=None, num_frames=len(files), codec="images"
    )
    return info, files


def _av_error() -> tuple[type[BaseException], ...]:
    import av

    return (av.FFmpegError, OSError, ValueError)


def _open_input(path: Path) -> av.container.InputContainer:
    import av

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    try:
        container = av.open(str(path), "r")
    except _av_error() as exc:
        raise InputError(f"{path}: not a video file, or a format easel cannot read ({_short(exc)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _rotation_of(container: av.container.InputContainer) -> int:
    """Rotation from the first frame's display matrix (0 when absent)."""
    stream = container.streams.video[0]
    try:
        for frame in container.decode(stream):
            return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except _av_error():
        return 0
    return 0


def _probe_file(path: Path) -> VideoInfo:
    container = _open_input(path)
    with container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise InputError(f"{path}: video stream has no frame size")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else None
        if fps is not None and not (0 < fps <= _MAX_FPS):
            fps = None
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        num_frames: int | None = int(stream.frames) or None
        estimated = False
        if num_frames is None and duration is not None and fps is not None:
            num_frames = max(1, round(duration * fps))
            estimated = True
        codec = stream.codec_context.name
        rotation = _rotation_of(container)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        width=int(width),
        height=int(height),
        fps=fps,
        num_frames=num_frames,
        frames_estimated=estimated,
        duration_s=duration,
        codec=codec,
        rotation=rotation,
    )


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the metadata of a video file or a folder of frames without decoding it all.

    Args:
        path: a video file (MP4, WebM, MOV, GIF, anything FFmpeg reads) or a
            folder of same-sized images.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        InputError: a missing or empty file, a file that is not a video, an
            empty folder, or a folder of frames of different sizes.

    Example:
        >>> info = probe_video("clip.mp4")     # doctest: +SKIP
        >>> info.size, info.fps, info.num_frames  # doctest: +SKIP
        ((1080, 1920), 29.97002997002997, 300)
    """
    p = Path(path)
    if p.is_dir():
        return _probe_folder(p)[0]
    return _probe_file(p)


# ---------------------------------------------------------------- reading


class VideoFrames:
    """A re-iterable stream of frames; see :func:`read_frames`.

    Attributes:
        info: the source's :class:`VideoInfo` (size before ``max_size``).
        size: ``(height, width)`` of the frames this yields.
    """

    def __init__(self, path: Path, max_size: int | None) -> None:
        if max_size is not None and max_size < 1:
            raise InputError(f"--max-size must be a positive number of pixels, got {max_size}")
        self.path = path
        self.max_size = max_size
        self._files: list[Path] | None = None
        if path.is_dir():
            self.info, self._files = _probe_folder(path)
        else:
            self.info = _probe_file(path)
        self.size = fit_long_side(self.info.size, max_size) if max_size is not None else self.info.size

    def __iter__(self) -> Iterator[FloatImage]:
        if self._files is not None:
            return self._iter_folder(self._files)
        return self._iter_file()

    def __repr__(self) -> str:
        return f"VideoFrames({str(self.path)!r}, size={self.size}, frames={self.info.num_frames})"

    def _iter_folder(self, files: list[Path]) -> Iterator[FloatImage]:
        from easel.image import resize

        for path in files:
            loaded = read_image(path, max_size=self.max_size, min_size=1)
            if loaded.original_size != self.info.size:
                h, w = loaded.original_size
                raise InputError(
                    f"{path}: frame is {w}x{h}, not {self.info.width}x{self.info.height} like the others"
                )
            rgb = loaded.rgb
            if rgb.shape[:2] != self.size:
                rgb = resize(rgb, self.size)
            yield rgb

    def _iter_file(self) -> Iterator[FloatImage]:
        container = _open_input(self.path)
        rotation = self.info.rotation
        height, width = self.size
        # swscale resizes before rotation, so ask it for the unrotated shape
        dec_w, dec_h = (height, width) if rotation in (90, 270) else (width, height)
        scale = self.size != self.info.size
        index = 0
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    if scale or frame.width != dec_w or frame.height != dec_h:
                        arr = frame.to_ndarray(
                            width=dec_w, height=dec_h, format="rgb24", interpolation="AREA"
                        )
                    else:
                        arr = frame.to_ndarray(format="rgb24")
                    if rotation:
                        arr = np.rot90(arr, k=rotation // 90)
                    index += 1
                    yield np.ascontiguousarray(arr).astype(np.float32) / np.float32(255.0)
            except _av_error() as exc:
                raise InputError(
                    f"{self.path}: cannot decode frame {index + 1} ({_short(exc)}); "
                    "the file may be truncated or corrupt"
                ) from None
        if index == 0:
            raise InputError(f"{self.path}: video has no decodable frames")
        expected = self.info.num_frames
        if expected is not None and not self.info.frames_estimated and index < expected:
            log.warning(
                "%s: decoded %d of the %d frames the file declares; it may be truncated",
                self.path,
                index,
                expected,
            )


def read_frames(path: str | os.PathLike[str], max_size: int | None = None) -> VideoFrames:
    """Open a video file or a folder of images for streaming, frame by frame.

    The source is probed at once (so bad input fails before any work); frames
    are decoded only while iterating, one at a time, and the result can be
    iterated more than once (each pass decodes again).

    Args:
        path: a video file or a folder of same-sized images (sorted naturally).
        max_size: downscale (area filter) so the long side of each frame is at
            most this many pixels; ``None`` keeps the full size.

    Returns:
        A :class:`VideoFrames`: iterate it for ``(H, W, 3)`` float32 RGB
        frames in [0, 1]; ``.info`` is the :class:`VideoInfo` and ``.size``
        the ``(height, width)`` of the frames yielded.

    Raises:
        InputError: as :func:`probe_video`; also while iterating, for a frame
            that cannot be decoded.

    Example:
        >>> frames = read_frames("clip.mp4", max_size=640)  # doctest: +SKIP
        >>> for frame in frames:                             # doctest: +SKIP
        ...     assert frame.shape == (*frames.size, 3)
    """
    return VideoFrames(Path(path), max_size)


# ---------------------------------------------------------------- writing


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
    if suffix in (".mp4", ".webm", ".gif"):
        return suffix[1:]  # type: ignore[return-value]
    raise InputError(
        f"{path}: unsupported video format {suffix!r}; use .mp4, .webm, .gif, "
        "or a folder (no suffix) for PNG frames"
    )


def has_encoder(name: str) -> bool:
    """Whether this PyAV build can encode with codec ``name`` (e.g. ``libvpx-vp9``)."""
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


def _check_fps(fps: float | Fraction) -> Fraction:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number, got {fps!r}") from None
    if not math.isfinite(value) or not (0 < value <= _MAX_FPS):
        raise InputError(f"fps must be between 0 and {_MAX_FPS:g}, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _palette_argb(palette_image: Any) -> NDArray[np.uint8]:
    flat = list(palette_image.getpalette() or [])[: 256 * 3]
    flat += [0] * (256 * 3 - len(flat))
    rgb = np.asarray(flat, dtype=np.uint8).reshape(256, 3)
    return np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)


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
        size: ``(height, width)`` of the frames (from the first one), or ``None``.

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
        if self.format in _CRF_RANGE:
            lo, hi = _CRF_RANGE[self.format]
            crf = DEFAULT_CRF[self.format] if crf is None else crf
            if not (lo <= int(crf) <= hi):
                raise InputError(f"crf for {self.format} must be in {lo}..{hi}, got {crf}")
        self.crf = crf
        self.preset = preset
        if palette_frames < 1:
            raise InputError(f"palette_frames must be at least 1, got {palette_frames}")
        self.palette_frames = palette_frames
        self.dither = dither
        if self.format == "webm" and not has_encoder("libvpx-vp9"):
            raise InputError(
                f"{self.path}: this PyAV build has no VP9 encoder (libvpx-vp9); write .mp4 or .gif instead"
            )
        self._check_target()
        self.frames_written = 0
        self.size: tuple[int, int] | None = None
        self._stack: contextlib.ExitStack | None = None
        self._tmp: Path | None = None
        self._container: Any = None
        self._stream: Any = None
        self._pending: list[NDArray[np.uint8]] = []
        self._palette: Any = None
        self._palette_argb: NDArray[np.uint8] | None = None
        self._stream_frames = 0

    def _check_target(self) -> None:
        """Refuse targets whose replacement would destroy something that is not ours."""
        target = self.path
        if self.format != "frames":
            if target.is_dir():
                raise InputError(f"{target}: is a folder; choose a file name for the {self.format} output")
            return
        if target.exists() and not target.is_dir():
            raise InputError(f"{target}: exists and is not a folder; choose a folder name for the PNG frames")
        if target.is_dir():
            foreign = [
                p.name
                for p in target.iterdir()
                if not p.name.startswith(".") and not _FRAME_NAME.fullmatch(p.name)
            ]
            if foreign:
                raise InputError(
                    f"{target}: folder holds other files ({', '.join(sorted(foreign)[:3])}"
                    f"{', ...' if len(foreign) > 3 else ''}); writing frames would replace it, "
                    "so choose a new or empty folder"
                )

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
        if self.size is None:
            self.size = (data.shape[0], data.shape[1])
            self._start()
        elif data.shape[:2] != self.size:
            raise InputError(
                f"{self.path}: frame {self.frames_written + 1} is {data.shape[1]}x{data.shape[0]}, "
                f"but the first frame was {self.size[1]}x{self.size[0]}; all frames must have one size"
            )
        if self.format == "frames":
            self._write_png(data)
        elif self.format == "gif":
            self._write_gif(data)
        else:
            self._encode(self._pad_even(data))
        self.frames_written += 1

    def _to_uint8(self, frame: ArrayLike) -> NDArray[np.uint8]:
        arr = np.asarray(frame)
        if arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and min(arr.shape[:2]) > 0:
            return np.ascontiguousarray(arr)
        return to_uint8(as_float_rgb(arr, name=f"frame {self.frames_written + 1}"))

    def _start(self) -> None:
        import av

        if self.format == "frames":
            return
        assert self._tmp is not None and self.size is not None
        height, width = self.size
        if self.format == "gif":
            container = av.open(str(self._tmp), "w", format="gif")
            stream = container.add_stream("gif", rate=self.rate)
            stream.pix_fmt = "pal8"
        elif self.format == "mp4":
            container = av.open(str(self._tmp), "w", format="mp4", options={"movflags": "+faststart"})
            stream = container.add_stream(
                "libx264", rate=self.rate, options={"crf": str(self.crf), "preset": self.preset}
            )
            stream.pix_fmt = "yuv420p"
            height, width = height + height % 2, width + width % 2
        else:
            container = av.open(str(self._tmp), "w", format="webm")
            stream = container.add_stream(
                "libvpx-vp9",
                rate=self.rate,
                options={"crf": str(self.crf), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
            )
            stream.pix_fmt = "yuv420p"
            height, width = height + height % 2, width + width % 2
        stream.width, stream.height = width, height
        self._container, self._stream = container, stream

    @staticmethod
    def _pad_even(data: NDArray[np.uint8]) -> NDArray[np.uint8]:
        pad_h, pad_w = data.shape[0] % 2, data.shape[1] % 2
        if pad_h or pad_w:
            data = np.pad(data, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        return data

    def _encode(self, data: NDArray[np.uint8], fmt: str = "rgb24", palette: Any = None) -> None:
        import av

        frame = (
            av.VideoFrame.from_ndarray((data, palette), format="pal8")  # type: ignore[arg-type]
            if fmt == "pal8"
            else av.VideoFrame.from_ndarray(data, format=fmt)
        )
        frame.pts = self._stream_frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._stream_frames += 1

    def _write_png(self, data: NDArray[np.uint8]) -> None:
        from PIL import Image

        assert self._tmp is not None
        name = f"frame_{self.frames_written + 1:05d}.png"
        Image.fromarray(data, mode="RGB").save(self._tmp / name, format="PNG", compress_level=4)

    def _write_gif(self, data: NDArray[np.uint8]) -> None:
        if self._palette is None:
            self._pending.append(data)
            if len(self._pending) >= self.palette_frames:
                self._flush_gif()
            return
        self._encode_gif(data)

    def _flush_gif(self) -> None:
        from PIL import Image

        pending, self._pending = self._pending, []
        if not pending:
            return
        # a mosaic of subsampled frames stands in for "all the pixels" (like ffmpeg's palettegen)
        step = max(1, int(math.ceil(math.sqrt(pending[0].shape[0] * pending[0].shape[1] / 65536))))
        sample = np.concatenate([f[::step, ::step] for f in pending], axis=0)
        self._palette = Image.fromarray(np.ascontiguousarray(sample), mode="RGB").quantize(
            256, method=Image.Quantize.MEDIANCUT
        )
        self._palette_argb = _palette_argb(self._palette)
        for data in pending:
            self._encode_gif(data)

    def _encode_gif(self, data: NDArray[np.uint8]) -> None:
        from PIL import Image

        dither = Image.Dither.FLOYDSTEINBERG if self.dither else Image.Dither.NONE
        image = Image.fromarray(data, mode="RGB")
        palette, argb = self._palette, self._palette_argb
        # A frame the shared palette cannot represent (a scene cut to new colours)
        # gets its own local palette instead of being mapped to wrong colours.
        step = max(1, int(math.ceil(math.sqrt(data.shape[0] * data.shape[1] / 16384))))
        probe = np.ascontiguousarray(data[::step, ::step])
        mapped = Image.fromarray(probe, mode="RGB").quantize(palette=palette, dither=Image.Dither.NONE)
        error = np.abs(np.asarray(mapped.convert("RGB"), dtype=np.int16) - probe).mean()
        if error > _GIF_LOCAL_PALETTE_ERROR:
            palette = image.quantize(256, method=Image.Quantize.MEDIANCUT)
            argb = _palette_argb(palette)
        indexed = image.quantize(palette=palette, dither=dither)
        self._encode(np.asarray(indexed, dtype=np.uint8), fmt="pal8", palette=argb)

    def _finish(self) -> None:
        if self.frames_written == 0:
            raise InputError(f"{self.path}: no frames were written")
        if self.format == "gif" and self._palette is None:
            self._flush_gif()
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
        log.debug("wrote %d frames to %s", self.frames_written, self.path)

    def _abort(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        self._pending = []


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
