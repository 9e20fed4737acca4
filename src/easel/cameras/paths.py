"""Camera paths: a sequence of posed cameras at a frame rate, and per-frame progress along a path.

Example:
    >>> cam = Intrinsics.from_fov(64, 48, 60.0)
    >>> path = CameraPath(np.stack([np.eye(4)] * 3), cam, fps=24)
    >>> len(path), path.output_shape
    (3, (48, 64))
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from easel.cameras.intrinsics import Intrinsics
from easel.cameras.poses import Camera, Float64Array, camera_center, check_pose
from easel.errors import InputError

Easing = Literal["smooth", "linear"]
EASINGS: tuple[Easing, ...] = ("smooth", "linear")


@dataclass
class CameraPath:
    """A sequence of posed cameras to render, at ``fps`` frames per second.

    Attributes:
        poses: ``(N, 4, 4)`` float64 world-to-camera poses (OpenCV, easel's world).
        intrinsics: one :class:`Intrinsics` for every frame, or one per frame.
        fps: frames per second of the clip.
        source: where the path came from (a file name), for messages; ``None``
            for a path built in code.

    Example:
        >>> cam = Intrinsics.from_fov(64, 48, 60.0)
        >>> path = CameraPath(np.stack([np.eye(4)] * 3), cam, fps=24)
        >>> [c.intrinsics.width for c in path]
        [64, 64, 64]
    """

    poses: Float64Array
    intrinsics: Intrinsics | Sequence[Intrinsics]
    fps: float = 30.0
    source: str | None = None

    def __post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        poses = np.asarray(self.poses, dtype=np.float64)
        if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) == 0:
            raise InputError(
                f"{where}camera path poses must have shape (N, 4, 4) with N >= 1; got {poses.shape}"
            )
        self.poses = np.stack([check_pose(p, f"{where}camera_path[{i}]") for i, p in enumerate(poses)])
        if not isinstance(self.intrinsics, Intrinsics) and len(self.intrinsics) != len(poses):
            raise InputError(
                f"{where}camera path has {len(poses)} poses but {len(self.intrinsics)} intrinsics"
            )
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise InputError(f"{where}fps must be positive; got {self.fps}")

    def __len__(self) -> int:
        return len(self.poses)

    def intrinsics_at(self, index: int) -> Intrinsics:
        """The intrinsics of frame ``index``."""
        if isinstance(self.intrinsics, Intrinsics):
            return self.intrinsics
        return self.intrinsics[index]

    def __getitem__(self, index: int) -> Camera:
        return Camera(self.intrinsics_at(index), self.poses[index])

    def __iter__(self) -> Iterator[Camera]:
        for i in range(len(self)):
            yield self[i]

    @property
    def output_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the first frame (all frames of a clip share it)."""
        return self.intrinsics_at(0).shape

    @property
    def centers(self) -> Float64Array:
        """``(N, 3)`` camera centres in world coordinates."""
        return np.stack([camera_center(p) for p in self.poses])

    @property
    def duration_s(self) -> float:
        """``len(path) / fps`` seconds."""
        return len(self) / self.fps

    def with_intrinsics(self, intrinsics: Intrinsics | Sequence[Intrinsics]) -> CameraPath:
        """The same poses and frame rate with other intrinsics (e.g. another output shape)."""
        return CameraPath(self.poses.copy(), intrinsics, self.fps, source=self.source)


def path_progress(num_frames: int, boomerang: bool = True, easing: Easing = "smooth") -> NDArray[np.float64]:
    """Per-frame position along a path, in [0, 1].

    One-way runs from 0 to 1 (both included); a boomerang goes out and back
    over ``num_frames`` frames and loops seamlessly (its last frame is one
    step before the first). ``"smooth"`` eases in and out (cosine).

    Args:
        num_frames: frames in the clip (>= 1).
        boomerang: out and back, or one way.
        easing: ``"smooth"`` or ``"linear"``.

    Returns:
        ``(num_frames,)`` float64 in [0, 1].

    Example:
        >>> path_progress(5, boomerang=False, easing="linear").tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if num_frames < 1:
        raise InputError(f"a path needs at least one frame; got {num_frames}")
    if num_frames == 1:
        return np.zeros(1)
    k = np.arange(num_frames, dtype=np.float64)
    s = 1.0 - np.abs(1.0 - 2.0 * k / num_frames) if boomerang else k / (num_frames - 1)
    if easing == "smooth":
        s = 0.5 - 0.5 * np.cos(np.pi * s)
    elif easing != "linear":
        raise InputError(f"unknown easing {easing!r}; choose smooth or linear")
    return s
