"""Long videos as chunks: independent frame ranges that run in parallel, then one output.

A video stylized frame to frame (``easel stylize-video``) is a chain: each
frame starts from the previous output. Run as one task, a 900-frame clip keeps
one worker busy for a day while the others idle. Split into chunks, every
chunk is a task of its own, and the chunks run **in parallel**, so they cannot
start from each other's frames. Instead each chunk after the first starts
``overlap`` frames early (a warm-up from scratch), and those frames, stylized
twice, are **cross-faded** at the join: the output moves from the earlier
chunk's frames to the later one's over ``overlap`` frames instead of jumping
at a cut. Within a chunk temporal consistency is exactly that of one run.

(``stylize-video --frames A:B --previous DIR`` also lets a range continue an
earlier one exactly, bit for bit, but then chunk k+1 waits for chunk k: no
parallelism within one video. That chain is what a single run already is.)

:func:`plan_chunks` cuts a clip into chunks; :func:`join_chunks` reads the
chunks' PNG frame folders (numbered by source frame, as ``stylize-video -o
FOLDER --frames A:B`` writes them), cross-fades the overlaps and writes the
output (MP4/WebM with the source's audio, GIF, or a frame folder).

Example:
    >>> [(c.start, c.end, c.fade) for c in plan_chunks(20, 8, 2)]
    [(0, 8, 0), (6, 16, 2), (14, None, 2)]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from easel.errors import InputError
from easel.image import FloatImage

__all__ = ["Chunk", "JoinResult", "crossfade_weight", "join_chunks", "plan_chunks"]


@dataclass(frozen=True)
class Chunk:
    """One chunk of a clip: the source frames it stylizes.

    Attributes:
        start: its first source frame (0-based), warm-up included.
        end: the source frame after its last (``None``: to the clip's end).
        fade: how many of its first frames are cross-faded with the chunk before
            (``0`` for the first chunk).

    Example:
        >>> Chunk(6, 16, 2).frames_arg
        '6:16'
    """

    start: int
    end: int | None
    fade: int = 0

    @property
    def frames_arg(self) -> str:
        """The ``--frames START:END`` value of this chunk."""
        return f"{self.start}:{'' if self.end is None else self.end}"

    @property
    def name(self) -> str:
        """A folder name that sorts in frame order (``00006-00016``, ``00014-end``)."""
        return f"{self.start:05d}-{'end' if self.end is None else f'{self.end:05d}'}"


def plan_chunks(num_frames: int, chunk_frames: int, overlap: int) -> list[Chunk]:
    """Cut a clip of ``num_frames`` into chunks of about ``chunk_frames`` new frames each.

    Chunk ``k`` owns source frames ``k * chunk_frames`` onwards; every chunk but
    the first starts ``overlap`` frames before that. A short tail (fewer than
    half a chunk) joins the chunk before it. The last chunk runs to the clip's
    end (``end=None``), so a frame count that was only estimated loses no frame.

    Args:
        num_frames: frames in the clip (exact or estimated), >= 1.
        chunk_frames: new frames per chunk, >= 1.
        overlap: warm-up frames each later chunk stylizes twice, ``0 <= overlap < chunk_frames``.

    Returns:
        The chunks in order (a single chunk ``(0, None)`` for a short clip).

    Raises:
        ValueError: a count out of range.

    Example:
        >>> [c.frames_arg for c in plan_chunks(100, 40, 4)]
        ['0:40', '36:80', '76:']
        >>> [c.frames_arg for c in plan_chunks(90, 40, 4)]  # a 10-frame tail joins the last chunk
        ['0:40', '36:']
        >>> plan_chunks(10, 40, 4)
        [Chunk(start=0, end=None, fade=0)]
    """
    if num_frames < 1 or chunk_frames < 1:
        raise ValueError("num_frames and chunk_frames must be at least 1")
    if not 0 <= overlap < chunk_frames:
        raise ValueError(f"overlap must be between 0 and chunk_frames - 1, got {overlap}")
    owned = list(range(0, num_frames, chunk_frames))
    if len(owned) > 1 and num_frames - owned[-1] < max(1, chunk_frames // 2):
        owned.pop()  # a short tail goes to the chunk before
    chunks = []
    for index, first in enumerate(owned):
        end = owned[index + 1] if index + 1 < len(owned) else None
        fade = overlap if index > 0 else 0
        chunks.append(Chunk(first - fade, end, fade))
    return chunks


def crossfade_weight(position: int, fade: int) -> float:
    """The later chunk's share of the ``position``-th of ``fade`` cross-faded frames (0-based).

    The weights step evenly from the earlier chunk to the later one, never reaching
    either end: ``1/(fade+1) ... fade/(fade+1)``.

    Example:
        >>> [round(crossfade_weight(i, 3), 2) for i in range(3)]
        [0.25, 0.5, 0.75]
    """
    return (position + 1) / (fade + 1)


@dataclass
class JoinResult:
    """What :func:`join_chunks` wrote.

    Attributes:
        path: the output.
        num_frames: frames written.
        blended: how many of them are cross-fades of two chunks.
        audio: ``"copied"``/``"encoded"`` when the source's audio was added, else ``None``.

    Example:
        >>> JoinResult(Path("art.mp4"), 120, 8, "copied").num_frames
        120
    """

    path: Path
    num_frames: int
    blended: int
    audio: str | None = None


def _frame_file(folder: Path, index: int) -> Path:
    return folder / f"frame_{index + 1:05d}.png"


def _chunk_frames(chunk: Chunk, folder: Path) -> range:
    """The source frames ``folder`` holds for ``chunk`` (its open end found on disk)."""
    end = chunk.end
    if end is None:
        end = chunk.start
        while _frame_file(folder, end).is_file():
            end += 1
    missing = [i for i in range(chunk.start, end) if not _frame_file(folder, i).is_file()]
    if missing or end <= chunk.start:
        first = missing[0] if missing else chunk.start
        raise InputError(f"{folder}: chunk {chunk.frames_arg} has no {_frame_file(folder, first).name}")
    return range(chunk.start, end)


def _read(path: Path) -> FloatImage:
    from easel.io.images import read_image

    return read_image(path, max_size=None, min_side=1).rgb


def join_chunks(
    chunks: Sequence[Chunk],
    folders: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    fps: float,
    *,
    audio_from: str | os.PathLike[str] | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> JoinResult:
    """Join the chunks' frame folders into one output, cross-fading each overlap.

    Args:
        chunks: from :func:`plan_chunks`, in order.
        folders: each chunk's folder of ``frame_NNNNN.png`` (numbered by source frame).
        output: ``.mp4``/``.webm``/``.gif``, or a folder for PNG frames; written atomically.
        fps: the output frame rate.
        audio_from: a media file whose audio goes into an MP4/WebM output (``None``: none).
        on_frame: called with ``(frames written, total)`` after each frame.

    Returns:
        A :class:`JoinResult`. Frames are ``(H, W, 3)`` RGB; a cross-faded frame is
        ``(1 - w) * earlier + w * later`` with ``w`` from :func:`crossfade_weight`,
        rounded to 8 bits as written.

    Raises:
        InputError: a chunk's frame missing, or frames of different sizes.

    Example:
        >>> chunks = plan_chunks(120, 64, 8)  # doctest: +SKIP
        >>> join_chunks(chunks, ["art.mp4.chunks/00000-00064", "art.mp4.chunks/00056-end"],
        ...             "art.mp4", fps=30, audio_from="clip.mp4").num_frames  # doctest: +SKIP
        120
    """
    from easel.io.video import VideoWriter, video_format
    from easel.io.video.audio import copy_audio

    if len(chunks) != len(folders) or not chunks:
        raise ValueError("one folder per chunk, and at least one chunk")
    dirs = [Path(f) for f in folders]
    spans = [_chunk_frames(chunk, folder) for chunk, folder in zip(chunks, dirs, strict=True)]
    for index in range(1, len(chunks)):
        if spans[index - 1].stop != chunks[index].start + chunks[index].fade:
            raise InputError(
                f"{dirs[index - 1]}: chunk {chunks[index - 1].frames_arg} ends at frame "
                f"{spans[index - 1].stop}, not where chunk {chunks[index].frames_arg} takes over"
            )
    total = spans[-1].stop
    out = Path(output)
    written = blended = 0
    with VideoWriter(out, fps=fps) as writer:
        for index, (chunk, folder, span) in enumerate(zip(chunks, dirs, spans, strict=True)):
            own = span.stop if index + 1 == len(chunks) else spans[index + 1].start
            for frame in range(span.start, own):
                image = _read(_frame_file(folder, frame))
                position = frame - span.start
                if position < chunk.fade:  # the warm-up: cross-faded with the chunk before
                    earlier = _read(_frame_file(dirs[index - 1], frame))
                    if earlier.shape != image.shape:
                        raise InputError(
                            f"{folder}: frame {frame} is {image.shape[1]}x{image.shape[0]}, but "
                            f"{dirs[index - 1]} has it at {earlier.shape[1]}x{earlier.shape[0]}"
                        )
                    weight = np.float32(crossfade_weight(position, chunk.fade))
                    image = ((1 - weight) * earlier + weight * image).astype(np.float32)
                    blended += 1
                writer.write(np.clip(image, 0.0, 1.0))
                written += 1
                if on_frame is not None:
                    on_frame(written, total)
    audio = None
    if audio_from is not None and video_format(out) in ("mp4", "webm"):
        audio = copy_audio(out, audio_from)
    return JoinResult(out, written, blended, audio)
