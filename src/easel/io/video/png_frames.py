"""The PNG frame-folder sink of :class:`~easel.io.video.VideoWriter`: ``frame_00001.png``, ..."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from easel.errors import InputError

FRAME_NAME = re.compile(r"frame_\d+\.png")
"""Names of the frames this sink writes."""


def check_frame_folder(target: Path) -> None:
    """Refuse a frame-folder target whose replacement would destroy files that are not our frames.

    A missing folder, an empty one or one holding only ``frame_NNNNN.png``
    files (and hidden files) may be replaced.

    Raises:
        InputError: ``target`` is a file, or a folder holding other files.

    Example:
        >>> check_frame_folder(Path("new_frames"))  # doctest: +SKIP
    """
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a folder; choose a folder name for the PNG frames")
    if target.is_dir():
        foreign = [
            p.name
            for p in target.iterdir()
            if not p.name.startswith(".") and not FRAME_NAME.fullmatch(p.name)
        ]
        if foreign:
            raise InputError(
                f"{target}: folder holds other files ({', '.join(sorted(foreign)[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); writing frames would replace it, "
                "so choose a new or empty folder"
            )


class PngFrameSink:
    """Write each frame as ``frame_NNNNN.png`` (numbered from 1) into a folder.

    Args:
        folder: the folder to write into (the writer's temporary folder).

    Example:
        >>> sink = PngFrameSink(Path("frames"))  # doctest: +SKIP
        >>> sink.write(np.zeros((32, 48, 3), np.uint8))  # frames/frame_00001.png  # doctest: +SKIP
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._written = 0

    def write(self, data: NDArray[np.uint8]) -> None:
        """Save one ``(H, W, 3)`` uint8 RGB frame."""
        from PIL import Image

        self._written += 1
        name = f"frame_{self._written:05d}.png"
        Image.fromarray(data, mode="RGB").save(self._folder / name, format="PNG", compress_level=4)

    def finish(self) -> None:
        """Nothing to flush: every frame is already a file."""

    def abort(self) -> None:
        """Nothing to close: the writer removes the temporary folder."""
