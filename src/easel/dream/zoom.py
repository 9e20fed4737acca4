"""Zoom videos: each dreamed frame, zoomed in (and rotated) a little, is dreamed again.

The classic endless DeepDream fly-in. Frames are written to a frame folder
as they finish (``frame_00001.png`` ..., each atomically), beside a small
JSON file (``.easel-dream.json``) that pins what made them (the options, the
zoom, hashes of the input and guide pixels). Running again with the same
settings keeps the finished frames and continues after the last one; the
video (MP4, WebM or GIF) is encoded once at the end and the working frame
folder is then removed. With a frame-folder output the frames stay where
they are.

Each frame is fed back as the 8-bit image written to disk, with its own
seed (``seed + index``), so a resumed video is the same, bit for bit, as one
made in a single run.

Example:
    >>> result = dream_zoom(image, "fly.mp4", DreamOptions(), ZoomOptions(zoom_frames=60))  # doctest: +SKIP
    >>> result.status, result.frames_written                                              # doctest: +SKIP
    ('finished', 60)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from easel.dream.deepdream import Dreamer
from easel.dream.options import DreamOptions, ZoomOptions
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb, from_tensor, to_tensor, to_uint8
from easel.options import options_dict
from easel.progress import ProgressFn, report

log = logging.getLogger(__name__)

__all__ = [
    "PIN_NAME",
    "ZoomResult",
    "dream_zoom",
    "finished_frames",
    "frame_path",
    "frames_folder",
    "zoom_pin",
    "zoom_transform",
]

PIN_NAME = ".easel-dream.json"
"""The file in a frame folder that pins the settings its frames were made with."""
PIN_FORMAT = "easel-dream-zoom"
PIN_VERSION = 1


def zoom_transform(image: torch.Tensor, zoom: float, rotate: float = 0.0) -> torch.Tensor:
    """Zoom ``image`` ``(N, C, H, W)`` into its centre by ``zoom`` and rotate it by ``rotate`` degrees.

    Bilinear sampling at the output pixel centres; what the rotation brings in
    from outside the picture is mirrored from inside. The size is kept (odd
    sizes too); the centre of the image stays in place.

    Example:
        >>> x = torch.arange(25.0).view(1, 1, 5, 5)
        >>> float(zoom_transform(x, 1.5)[0, 0, 2, 2])  # the centre pixel stays
        12.0
    """
    n, _, h, w = image.shape
    angle = math.radians(rotate)
    cos, sin = math.cos(angle), math.sin(angle)
    # normalized coordinates -> pixels (relative to the centre) -> rotate and shrink -> normalized
    sx, sy = w / 2.0, h / 2.0
    theta = torch.tensor(
        [
            [cos / zoom, -sin * sy / sx / zoom, 0.0],
            [sin * sx / sy / zoom, cos / zoom, 0.0],
        ],
        dtype=image.dtype,
        device=image.device,
    ).expand(n, 2, 3)
    grid = F.affine_grid(theta, [n, image.shape[1], h, w], align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def frames_folder(output: str | os.PathLike[str]) -> Path:
    """The frame folder of a zoom video: ``output`` itself for a folder, else ``<stem>_frames`` beside it.

    Example:
        >>> frames_folder("out/fly.mp4"), frames_folder("out/fly")
        (PosixPath('out/fly_frames'), PosixPath('out/fly'))
    """
    from easel.io.video import video_format

    out = Path(output)
    if video_format(output) == "frames":
        return out
    return out.with_name(f"{out.stem}_frames")


def frame_path(folder: str | os.PathLike[str], index: int) -> Path:
    """The file of frame ``index`` (0-based) in ``folder``: ``frame_00001.png`` for index 0.

    Example:
        >>> frame_path("frames", 0)
        PosixPath('frames/frame_00001.png')
    """
    return Path(folder) / f"frame_{index + 1:05d}.png"


def _digest(array: ArrayLike | None) -> str | None:
    if array is None:
        return None
    data = np.ascontiguousarray(as_float_rgb(array))
    h = hashlib.sha256()
    h.update(str(data.shape).encode())
    h.update(data.tobytes())
    return h.hexdigest()


def zoom_pin(
    image: ArrayLike, options: DreamOptions, zoom: ZoomOptions, guide: ArrayLike | None = None
) -> dict[str, Any]:
    """What a frame folder's frames depend on: the options, zoom and rotation, the pixels' hashes.

    The number of frames and the frame rate are not pinned: a longer video
    continues a shorter one.

    Example:
        >>> zoom_pin(np.zeros((4, 4, 3), np.float32), DreamOptions(), ZoomOptions())["zoom"]
        1.05
    """
    settings = options_dict(options)
    settings.pop("device", None)  # the same dream on another device: the frames are kept
    return {
        "format": PIN_FORMAT,
        "version": PIN_VERSION,
        "options": settings,
        "zoom": zoom.zoom,
        "rotate": zoom.rotate,
        "image": _digest(image),
        "guide": _digest(guide),
    }


def _read_pin(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / PIN_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def finished_frames(folder: str | os.PathLike[str]) -> int:
    """How many frames ``frame_00001.png``, ``frame_00002.png`` ... are in ``folder`` without a gap.

    Example:
        >>> finished_frames("no-such-folder")
        0
    """
    count = 0
    while frame_path(folder, count).is_file():
        count += 1
    return count


@dataclass
class ZoomResult:
    """What :func:`dream_zoom` wrote.

    Attributes:
        output: the video file or frame folder.
        status: ``"finished"`` or how the dream of a frame ended early
            (``"interrupted"``, ``"non-finite"``, ``"stopped"``): the frames
            finished before stay in the frame folder, and the video is not encoded.
        frames_written: finished frames (those kept from an earlier run included).
        total_frames: frames of the whole video.
        resumed_from: finished frames found when the run started.
        frame_shape: ``(height, width)`` of the frames.
        fps: frames per second.
        frames_dir: where the frames are (removed after a video is encoded,
            unless it is the output).
        message: one line saying how it ended (``""`` when finished).

    Example:
        >>> dream_zoom(image, "fly.gif", zoom=ZoomOptions(zoom_frames=5)).frames_written  # doctest: +SKIP
        5
    """

    output: Path
    status: str
    frames_written: int
    total_frames: int
    resumed_from: int
    frame_shape: tuple[int, int]
    fps: float
    frames_dir: Path
    message: str = ""

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary for a run record.

        Example:
            >>> ZoomResult(Path("a.gif"), "finished", 2, 2, 0, (4, 6), 12.0, Path("a_frames")).summary()["frame_size"]
            [6, 4]
        """
        return {
            "frames": self.frames_written,
            "frames_planned": self.total_frames,
            "resumed_from": self.resumed_from,
            "frame_size": [self.frame_shape[1], self.frame_shape[0]],
            "fps": self.fps,
            "frames_dir": str(self.frames_dir),
        }


def _quantized(image: FloatImage) -> FloatImage:
    """The image as written to an 8-bit PNG and read back (what a resumed run starts from)."""
    return (to_uint8(image).astype(np.float32) / 255.0).astype(np.float32)


def _read_frame(path: Path) -> FloatImage:
    from easel.io.images import read_image

    return read_image(path, max_size=None, min_side=1).rgb


def _prepare_folder(folder: Path, pin: dict[str, Any], overwrite: bool) -> int:
    """Create or reuse the frame folder; return the finished frames kept."""
    from easel.io.atomic import remove_stale_parts, write_text_atomic

    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder; cannot keep the zoom frames there")
    kept = 0
    if folder.is_dir():
        old = _read_pin(folder)
        if old == pin:
            remove_stale_parts(folder)  # what a killed run left half-written
            kept = finished_frames(folder)
        else:
            entries = [p for p in folder.iterdir()]
            if entries and not overwrite:
                what = "the frames of another dream (other settings)" if old is not None else "other files"
                raise InputError(f"{folder}: holds {what}; use --overwrite to start afresh")
            for path in entries:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    folder.mkdir(parents=False, exist_ok=True)
    write_text_atomic(folder / PIN_NAME, json.dumps(pin, indent=1, sort_keys=True) + "\n")
    return kept


def dream_zoom(
    image: ArrayLike,
    output: str | os.PathLike[str],
    options: DreamOptions | None = None,
    zoom: ZoomOptions | None = None,
    *,
    guide: ArrayLike | None = None,
    overwrite: bool = False,
    crf: int | None = None,
    progress: ProgressFn | None = None,
    dreamer: Dreamer | None = None,
) -> ZoomResult:
    """Dream a zoom video from ``image`` ``(H, W, 3)`` float32 RGB in [0, 1]; resumable.

    Frame 1 is the dreamed input; frame ``k + 1`` is frame ``k`` zoomed by
    ``zoom.zoom`` and rotated by ``zoom.rotate`` degrees, dreamed again (seed
    ``options.seed + k``). Frames go to :func:`frames_folder` as they finish;
    with a ``.mp4``/``.webm``/``.gif`` output they are encoded once at the end
    and the frame folder is removed.

    Args:
        image: the first frame's photo; every frame has its size (odd sizes too).
        output: ``.mp4``, ``.webm``, ``.gif`` or a folder (no suffix) of PNG frames.
        options: the dream's settings.
        zoom: frames, zoom, rotation and frame rate.
        guide: a guide image for every frame (see :class:`~easel.dream.deepdream.Dreamer`).
        overwrite: a frame folder holding other frames (other settings) is
            emptied; without it such a folder is an error. Frames made with the
            same settings are always kept.
        crf: MP4/WebM quality (lower is better), ``None`` for the default.
        progress: one update per finished frame (stage ``"frames"``).
        dreamer: an already built :class:`~easel.dream.deepdream.Dreamer` for ``options``.

    Returns:
        A :class:`ZoomResult`. Ctrl-C while a frame is dreamed keeps the frames
        finished so far and returns ``status="interrupted"`` (run again to resume).

    Raises:
        InputError: a bad output, or a frame folder holding something else.
        OptionError: bad options.

    Example:
        >>> dream_zoom(photo, "fly.mp4", zoom=ZoomOptions(zoom_frames=30, rotate=0.5)).status  # doctest: +SKIP
        'finished'
    """
    from easel.io.images import write_image
    from easel.io.video import VideoWriter, video_format

    options = (options or DreamOptions()).validate()
    zoom = (zoom or ZoomOptions()).validate()
    rgb = as_float_rgb(image)
    guide_rgb = None if guide is None else as_float_rgb(guide, name="guide image")
    out = Path(output)
    fmt = video_format(out)
    folder = frames_folder(out)
    if fmt != "frames" and out.is_dir():
        raise InputError(f"{out}: is a folder; choose a file name for the {fmt} output")
    dreamer = dreamer or Dreamer(options, guide=guide_rgb)
    pin = zoom_pin(rgb, options, zoom, guide_rgb)
    kept = _prepare_folder(folder, pin, overwrite)
    total = zoom.zoom_frames
    done = min(kept, total)
    shape = (rgb.shape[0], rgb.shape[1])
    status, message = "finished", ""
    report(progress, "frames", done, total)
    previous = _read_frame(frame_path(folder, done - 1)) if done > 0 else None
    base_seed = options.seed if options.seed is not None else int(torch.seed() % 2**31)
    try:
        for index in range(done, total):
            if previous is None:
                source = rgb
            else:
                moved = zoom_transform(to_tensor(previous), zoom.zoom, zoom.rotate)
                source = from_tensor(moved)
            result = dreamer.run(source, seed=base_seed + index)
            if result.status != "finished":
                status, message = result.status, result.message
                break
            previous = _quantized(result.image)
            write_image(frame_path(folder, index), previous)
            done = index + 1
            report(progress, "frames", done, total, energy=result.final_energy)
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted at frame {done + 1} of {total}"
    if status == "finished" and fmt != "frames":
        try:
            with VideoWriter(out, fps=zoom.fps, crf=crf) as writer:
                for index in range(total):
                    writer.write(_read_frame(frame_path(folder, index)))
                    report(progress, "encode", index + 1, total)
        except KeyboardInterrupt:
            status, message = "interrupted", "interrupted while encoding; the frames are kept"
        else:
            shutil.rmtree(folder)
    if status == "finished":
        log.debug("zoom video %s: %d frames (%d kept from an earlier run)", out, total, kept)
    return ZoomResult(
        output=out,
        status=status,
        frames_written=done,
        total_frames=total,
        resumed_from=min(kept, total),
        frame_shape=shape,
        fps=zoom.fps,
        frames_dir=folder,
        message=message,
    )
