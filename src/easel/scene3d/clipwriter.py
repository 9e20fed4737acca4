"""Writing a Ken Burns clip: the frames (a video file or a folder of PNGs), its point cloud and camera path.

:func:`write_clip` streams the frames to :class:`~easel.io.video.VideoWriter`
with progress; Ctrl-C (or SIGTERM turned into ``KeyboardInterrupt``) while
frames are written keeps the frames written so far (the video is closed
properly, a frame folder keeps its frames) and the result says
``status="interrupted"``. :func:`check_clip_output` checks the encoder settings
and the target before any work.

Example:
    >>> clip = kenburns(image, depth, duration_s=2.0)            # doctest: +SKIP
    >>> result = write_clip(clip, "clip.mp4", export_ply="cloud.ply")  # doctest: +SKIP
    >>> result.status, result.frames_written                    # doctest: +SKIP
    ('finished', 50)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from easel.options import OptionError, option
from easel.progress import ProgressFn, report
from easel.text import plural

if TYPE_CHECKING:
    from easel.scene3d.kenburns import KenBurnsClip

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
"""The libx264 speed presets, fastest first."""

CRF_RANGES = {"mp4": (0, 51), "webm": (0, 63)}
"""The quality (CRF) range of each encoder: libx264 for MP4, libvpx-vp9 for WebM."""

ClipStatus = Literal["finished", "interrupted"]


@dataclass
class EncodeOptions:
    """How the frames are encoded (MP4 and WebM; GIF and frame folders ignore them).

    Attributes:
        crf: quality, lower is better: 0-51 for MP4 (default 18), 0-63 for WebM (default 32).
        preset: libx264 speed preset, one of :data:`X264_PRESETS` (MP4 only).

    Example:
        >>> EncodeOptions(preset="slow").validate().preset
        'slow'
    """

    crf: int | None = option(
        None, help="video quality, lower is better (default 18 for MP4, 32 for WebM)", group="video"
    )
    preset: str = option(
        "veryfast",
        help="libx264 speed preset (ultrafast ... veryslow)",
        metavar="NAME",
        group="video",
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, video_format: str | None = None) -> EncodeOptions:
        """Check the preset and the CRF (its range when ``video_format``, ``mp4`` or ``webm``, is given).

        Raises:
            OptionError: a preset libx264 does not know; a CRF out of range.
        """
        if self.preset not in X264_PRESETS:
            raise OptionError(
                "preset", f"{self.preset!r} is not a libx264 preset; choose one of {', '.join(X264_PRESETS)}"
            )
        if self.crf is not None:
            if isinstance(self.crf, bool) or not isinstance(self.crf, int) or self.crf < 0:
                raise OptionError("crf", f"must be a whole number >= 0; got {self.crf}")
            if video_format in CRF_RANGES:
                lo, hi = CRF_RANGES[video_format]
                if not lo <= self.crf <= hi:
                    name = {"mp4": "MP4", "webm": "WebM"}[video_format]
                    raise OptionError("crf", f"must be in {lo}..{hi} for {name}; got {self.crf}")
        return self


@dataclass
class ClipWriteResult:
    """What :func:`write_clip` wrote.

    Attributes:
        output: the video file or frame folder.
        status: ``"finished"``, or ``"interrupted"`` (Ctrl-C / SIGTERM while writing
            frames: the first ``frames_written`` frames were kept, and the point
            cloud and camera path were not written).
        frames_written: frames in ``output``.
        total_frames: frames of the whole clip.
        frame_shape: ``(height, width)`` of the frames.
        fps: frames per second.
        point_cloud: the PLY written, if any.
        camera_path: the camera-path JSON written, if any.

    Example:
        >>> result = write_clip(kenburns(image, depth), "clip.mp4")  # doctest: +SKIP
        >>> result.status, result.frames_written, result.frame_shape  # doctest: +SKIP
        ('finished', 75, (768, 1024))
    """

    output: Path
    status: ClipStatus
    frames_written: int
    total_frames: int
    frame_shape: tuple[int, int]
    fps: float
    point_cloud: Path | None = None
    camera_path: Path | None = None

    @property
    def written(self) -> list[Path]:
        """Every file or folder written, the clip first."""
        return [p for p in (self.output, self.point_cloud, self.camera_path) if p is not None]


def check_clip_output(
    output: str | os.PathLike[str], encode: EncodeOptions | None = None, fps: float = 25.0
) -> None:
    """Preflight for :func:`write_clip`: the format, encoder settings and target, before any work.

    Args:
        output: ``.mp4``, ``.webm``, ``.gif``, or a folder for PNG frames.
        encode: the encoder settings.
        fps: the clip's frame rate.

    Raises:
        InputError: an unsupported suffix, a bad fps, no VP9 encoder for WebM, a
            file where a frame folder should go (or a folder holding other files).
        OptionError: a bad preset or CRF (naming ``preset`` / ``crf``).

    Example:
        >>> check_clip_output("clip.mp4", EncodeOptions(crf=20))  # doctest: +SKIP
    """
    from easel.io.video import VideoWriter, video_format

    settings = (encode or EncodeOptions()).validate(video_format(output))
    if not (math.isfinite(fps) and fps > 0):
        raise OptionError("fps", f"must be positive; got {fps:g}")
    # constructing the writer checks the target and the encoder without creating anything
    VideoWriter(output, fps=fps, crf=settings.crf, preset=settings.preset)


def describe_frames(count: int) -> str:
    """``"1 frame"``, ``"2 frames"``.

    Example:
        >>> describe_frames(1), describe_frames(0)
        ('1 frame', '0 frames')
    """
    return plural(count, "frame")


def write_clip(
    clip: KenBurnsClip,
    output: str | os.PathLike[str],
    *,
    encode: EncodeOptions | None = None,
    export_ply: str | os.PathLike[str] | None = None,
    export_path: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
) -> ClipWriteResult:
    """Render every frame of ``clip`` into ``output``; then its point cloud and camera path.

    Files are written atomically and replace existing ones: declare them in an
    :class:`~easel.io.outputs.OutputPlan` and check it first when they must not.

    Args:
        clip: the clip (:func:`~easel.scene3d.kenburns.kenburns`).
        output: ``.mp4``, ``.webm``, ``.gif``, or a folder (no suffix) for
            ``frame_00001.png`` ...
        encode: the encoder settings (MP4/WebM).
        export_ply: also write the coloured point cloud of every layer (binary PLY,
            OpenGL axes).
        export_path: also write the camera path (nerfstudio JSON).
        progress: called with ``("frames", i, total)`` updates.

    Returns:
        A :class:`ClipWriteResult`. Ctrl-C (``KeyboardInterrupt``) while frames are
        written does not propagate once a frame is written: the frames so far are
        kept and the result's ``status`` is ``"interrupted"``.

    Raises:
        InputError: see :func:`check_clip_output`.
        KeyboardInterrupt: an interruption before the first frame was written.

    Example:
        >>> write_clip(clip, "frames/", progress=print).frames_written  # doctest: +SKIP
        75
    """
    from easel.cameras import write_camera_path
    from easel.io.ply import write_ply
    from easel.io.video import VideoWriter, video_format

    out = Path(output)
    settings = (encode or EncodeOptions()).validate(video_format(output))
    total = len(clip)
    status: ClipStatus = "finished"
    report(progress, "frames", 0, total)
    with VideoWriter(output, fps=clip.fps, crf=settings.crf, preset=settings.preset) as writer:
        try:
            for i in range(total):
                writer.write(clip.frame_uint8(i))
                report(progress, "frames", i + 1, total)
        except KeyboardInterrupt:
            if writer.frames_written == 0:
                raise
            status = "interrupted"
        written = writer.frames_written
    result = ClipWriteResult(out, status, written, total, clip.frame_shape, clip.fps)
    if status == "finished":
        if export_ply is not None:
            points, colors = clip.point_cloud()
            result.point_cloud = write_ply(export_ply, points, colors)
        if export_path is not None:
            result.camera_path = write_camera_path(export_path, clip.path)
    return result
