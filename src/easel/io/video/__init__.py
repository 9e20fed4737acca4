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

Modules: :mod:`~easel.io.video.reading` (probing and streaming reads),
:mod:`~easel.io.video.writer` (:class:`VideoWriter`: format choice, atomic
output, frame checks) and one frame sink per output format:
:mod:`~easel.io.video.mp4_webm`, :mod:`~easel.io.video.gif` and
:mod:`~easel.io.video.png_frames`. A new format is one more sink module.

Example:
    >>> frames = read_frames("clip.mp4", max_size=512)          # doctest: +SKIP
    >>> with VideoWriter("out.mp4", fps=frames.info.fps or 30) as w:  # doctest: +SKIP
    ...     for frame in frames:
    ...         w.write(1.0 - frame)
"""

from __future__ import annotations

from easel.io.video._pyav import has_encoder
from easel.io.video.mp4_webm import DEFAULT_CRF
from easel.io.video.reading import (
    SEQUENCE_SUFFIXES,
    VIDEO_SUFFIXES,
    VideoFrames,
    VideoInfo,
    list_frame_files,
    natural_key,
    probe_video,
    read_frames,
)
from easel.io.video.writer import (
    VIDEO_WRITE_SUFFIXES,
    VideoFormat,
    VideoWriter,
    video_format,
    write_video,
)

__all__ = [
    "DEFAULT_CRF",
    "SEQUENCE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "VIDEO_WRITE_SUFFIXES",
    "VideoFormat",
    "VideoFrames",
    "VideoInfo",
    "VideoWriter",
    "has_encoder",
    "list_frame_files",
    "natural_key",
    "probe_video",
    "read_frames",
    "video_format",
    "write_video",
]
