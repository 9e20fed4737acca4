"""The finished frames of a resumable video run, in a folder, with the state that pins its arguments.

Each finished frame is written atomically as ``frame_00001.png``,
``frame_00002.png`` ... as soon as it is done; a JSON state file records what
made them (the options, the inputs' names, sizes and modification times). A
run with the same state continues after the last finished frame; a run with
another state is refused rather than mixing frames of two settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from easel.errors import InputError, OutputExistsError
from easel.image import FloatImage
from easel.io.atomic import write_text_atomic
from easel.io.images import read_image, write_image

__all__ = ["STATE_VERSION", "FrameStore", "file_fingerprint"]

STATE_VERSION = 1
"""Bumped when the frames of the same arguments would come out differently."""


def file_fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"path", "size", "mtime_ns"}`` of a file or folder (a folder: its files' total size, latest
    mtime; a missing path: ``None`` for both).

    Example:
        >>> sorted(file_fingerprint(__file__))
        ['mtime_ns', 'path', 'size']
    """
    p = Path(path)
    if not p.exists():  # reported by the reader that needs it, in its own words
        return {"path": str(p.absolute()), "size": None, "mtime_ns": None}
    if p.is_dir():
        files = [f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")]
        stats = [f.stat() for f in files]
        size = sum(s.st_size for s in stats)
        mtime = max((s.st_mtime_ns for s in stats), default=p.stat().st_mtime_ns)
    else:
        stat = p.stat()
        size, mtime = stat.st_size, stat.st_mtime_ns
    return {"path": str(p.resolve()), "size": size, "mtime_ns": mtime}


def _differences(saved: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = "") -> list[str]:
    names = []
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            names.extend(_differences(a, b, f"{prefix}{key}."))
        elif a != b:
            names.append(f"{prefix}{key}")
    return names


class FrameStore(Sequence[FloatImage]):
    """A folder of finished frames (a sequence of the consecutive ones from the first).

    Files are numbered by source frame (``frame_00001.png`` is frame 0), so the
    frames of a range (``first=START``) keep their numbers, and the folders of
    consecutive ranges merge into the folder of the whole clip.

    Args:
        folder: where the frames go.
        state_name: the state file's name inside ``folder``.
        first: the source frame the stored sequence starts at (``store[0]``).

    Example:
        >>> store = FrameStore(Path("clip.mp4.frames"))  # doctest: +SKIP
        >>> store.open({"options": {"size": 512}}, fresh=False)  # doctest: +SKIP
        >>> len(store), store.save(len(store), frame)  # doctest: +SKIP
        (12, PosixPath('clip.mp4.frames/frame_00013.png'))
    """

    def __init__(
        self, folder: str | os.PathLike[str], state_name: str = "state.json", first: int = 0
    ) -> None:
        self.folder = Path(folder)
        self.state_path = self.folder / state_name
        self.first = first
        self._count: int | None = None

    def frame_path(self, index: int) -> Path:
        """The file of source frame ``index`` (0-based; ``frame_00001.png`` is frame 0)."""
        return self.folder / f"frame_{index + 1:05d}.png"

    def read_state(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is none.

        Raises:
            OutputExistsError: the state file exists but is not one of ours.
        """
        if not self.state_path.exists():
            return None
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            state = None
        if not isinstance(state, dict) or state.get("state_version") is None:
            raise OutputExistsError(
                f"{self.state_path}: exists but is not the state of a resumable run "
                "(use --overwrite / -y to start over)"
            )
        return state

    def matches(self, state: Mapping[str, Any]) -> bool:
        """Whether the saved state is ``state`` (a run with it may continue here)."""
        try:
            saved = self.read_state()
        except OutputExistsError:
            return False
        return saved is not None and saved == self._stamped(state)

    def check(self, state: Mapping[str, Any]) -> None:
        """Refuse to continue here with ``state`` when frames of other arguments are stored.

        Raises:
            OutputExistsError: a state that differs (naming what differs), or an unreadable one.
        """
        saved = self.read_state()
        if saved is None:
            if self.finished():
                raise OutputExistsError(
                    f"{self.folder}: exists with frames but no state file; use --overwrite / -y to start over"
                )
            return
        wanted = self._stamped(state)
        if saved != wanted:
            diff = ", ".join(_differences(saved, wanted)[:4])
            raise OutputExistsError(
                f"{self.folder}: exists with frames of other arguments ({diff} differ); "
                "run with the same arguments to continue, or use --overwrite / -y to start over"
            )

    @staticmethod
    def _stamped(state: Mapping[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps({"state_version": STATE_VERSION, **state}, default=str))

    def open(self, state: Mapping[str, Any], fresh: bool) -> None:
        """Create the folder and write ``state``; ``fresh`` removes stored frames first."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if fresh:
            for path in self.folder.glob("frame_[0-9]*.png"):
                path.unlink()
        write_text_atomic(self.state_path, json.dumps(self._stamped(state), indent=2) + "\n")
        self._count = None

    def finished(self) -> int:
        """How many consecutive frames from ``first`` are stored."""
        if self._count is None:
            n = 0
            while self.frame_path(self.first + n).is_file():
                n += 1
            self._count = n
        return self._count

    def save(self, index: int, image: FloatImage) -> Path:
        """Write source frame ``index`` atomically (8-bit PNG) and return its path."""
        path = write_image(self.frame_path(index), image)
        if self._count is not None and index == self.first + self._count:
            self._count += 1
        return path

    def __len__(self) -> int:
        return self.finished()

    @overload
    def __getitem__(self, index: int) -> FloatImage: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[FloatImage]: ...

    def __getitem__(self, index: int | slice) -> FloatImage | Sequence[FloatImage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        path = self.frame_path(self.first + index)
        loaded = read_image(path, max_size=None, min_side=1)
        if loaded.rgb.dtype != np.float32:  # pragma: no cover - read_image returns float32
            raise InputError(f"{path}: unexpected pixel type")
        return loaded.rgb
