"""Probing and streaming reads of video files and frame folders (PyAV, Pillow)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from easel.errors import InputError
from easel.image import FloatImage, fit_long_side
from easel.io.guard import read_image_shape
from easel.io.images import IMAGE_SUFFIXES, read_image
from easel.io.video._pyav import MAX_FPS, av_errors, short_message

if TYPE_CHECKING:
    import av.container

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".wmv")
"""Suffixes recognised as video files when reading (anything FFmpeg opens is tried)."""
SEQUENCE_SUFFIXES = (*IMAGE_SUFFIXES, ".gif")
"""Image files picked up from a frame folder (hidden files are skipped)."""


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

    Example:
        >>> info = probe_video("clip.mp4")              # doctest: +SKIP
        >>> info.shape, info.fps, info.is_sequence      # doctest: +SKIP
        ((1080, 1920), 30.0, False)
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
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the frames (NumPy order; ``width x height`` in messages)."""
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

    Example:
        >>> [p.name for p in list_frame_files("frames")]  # doctest: +SKIP
        ['frame_00001.png', 'frame_00002.png', 'frame_00010.png']
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


def _probe_folder(root: Path) -> tuple[VideoInfo, list[Path]]:
    files = list_frame_files(root)
    first = read_image_shape(files[0], what="frame")
    for path in files[1:]:
        shape = read_image_shape(path, what="frame")
        if shape != first:
            raise InputError(
                f"{root}: frames differ in size ({files[0].name} is {first[1]}x{first[0]}, "
                f"{path.name} is {shape[1]}x{shape[0]}); resize them to one size first"
            )
    info = VideoInfo(
        path=root, width=first[1], height=first[0], fps=None, num_frames=len(files), codec="images"
    )
    return info, files


def _open_input(path: Path) -> av.container.InputContainer:
    import av

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    try:
        container = av.open(str(path), "r")
    except av_errors() as exc:
        raise InputError(
            f"{path}: not a video file, or a format easel cannot read ({short_message(exc)})"
        ) from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container


def _rotation_of(container: av.container.InputContainer) -> int:
    """Rotation from the first frame's display matrix (0 when absent)."""
    stream = container.streams.video[0]
    try:
        for frame in container.decode(stream):
            return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except av_errors():
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
        if fps is not None and not (0 < fps <= MAX_FPS):
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
        >>> info.shape, info.fps, info.num_frames  # doctest: +SKIP
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
        info: the source's :class:`VideoInfo` (its shape is before ``max_size``).
        shape: ``(height, width)`` of the frames this yields.

    Example:
        >>> frames = read_frames("frames/", max_size=256)  # doctest: +SKIP
        >>> frames.shape, frames.info.shape                 # doctest: +SKIP
        ((144, 256), (1080, 1920))
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
        self.shape = fit_long_side(self.info.shape, max_size) if max_size is not None else self.info.shape

    def __iter__(self) -> Iterator[FloatImage]:
        if self._files is not None:
            return self._iter_folder(self._files)
        return self._iter_file()

    def __repr__(self) -> str:
        return f"VideoFrames({str(self.path)!r}, shape={self.shape}, frames={self.info.num_frames})"

    def _iter_folder(self, files: list[Path]) -> Iterator[FloatImage]:
        from easel.image import resize

        for path in files:
            loaded = read_image(path, max_size=self.max_size, min_side=1)
            if loaded.original_shape != self.info.shape:
                h, w = loaded.original_shape
                raise InputError(
                    f"{path}: frame is {w}x{h}, not {self.info.width}x{self.info.height} like the others"
                )
            rgb = loaded.rgb
            if rgb.shape[:2] != self.shape:
                rgb = resize(rgb, self.shape)
            yield rgb

    def _iter_file(self) -> Iterator[FloatImage]:
        container = _open_input(self.path)
        rotation = self.info.rotation
        height, width = self.shape
        # swscale resizes before rotation, so ask it for the unrotated shape
        dec_w, dec_h = (height, width) if rotation in (90, 270) else (width, height)
        scale = self.shape != self.info.shape
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
            except av_errors() as exc:
                raise InputError(
                    f"{self.path}: cannot decode frame {index + 1} ({short_message(exc)}); "
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
        frames in [0, 1]; ``.info`` is the :class:`VideoInfo` and ``.shape``
        the ``(height, width)`` of the frames yielded.

    Raises:
        InputError: as :func:`probe_video`; also while iterating, for a frame
            that cannot be decoded.

    Example:
        >>> frames = read_frames("clip.mp4", max_size=640)  # doctest: +SKIP
        >>> for frame in frames:                             # doctest: +SKIP
        ...     assert frame.shape == (*frames.shape, 3)
    """
    return VideoFrames(Path(path), max_size)
