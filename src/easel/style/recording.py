"""Recording a style transfer as it runs: step images and animation frames.

:class:`SnapshotRecorder` is an ``on_step`` hook for
:func:`~easel.style.transfer.stylize`: every ``save_every`` steps it writes the
current image to a folder, and every ``frame_every`` steps it keeps a frame for
an animation, resized to the final output size (coarse scales are smaller), so
the frames of an interrupted run can still be written as a video.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from easel.image import FloatImage, resize, to_uint8

__all__ = ["SnapshotRecorder", "StepLike", "animation_interval"]

DEFAULT_FRAMES = 60
"""About how many frames an animation of a whole run holds."""


class StepLike(Protocol):
    """What :class:`SnapshotRecorder` reads from the state passed to an ``on_step`` hook.

    Example:
        >>> recorder = SnapshotRecorder(frame_every=10)  # reads StepLike's step, output_shape and image()  # doctest: +SKIP
        >>> stylize(photo, [(starry, 1.0)], on_step=recorder)  # doctest: +SKIP
    """

    @property
    def step(self) -> int: ...

    @property
    def output_shape(self) -> tuple[int, int]: ...

    def image(self) -> FloatImage: ...


def animation_interval(total_steps: int, frames: int = DEFAULT_FRAMES) -> int:
    """Steps between animation frames so a run of ``total_steps`` gives about ``frames`` frames.

    ``total_steps`` is :meth:`StyleOptions.total_steps <easel.style.options.StyleOptions.total_steps>`.

    Example:
        >>> animation_interval(280)
        4
    """
    return max(1, total_steps // max(1, frames))


class SnapshotRecorder:
    """An ``on_step`` hook that writes step images and collects animation frames.

    Args:
        save_every: write the current image every this many steps (``None``: never),
            as ``steps_dir/step_NNNNN.png`` at the current scale's size.
        steps_dir: the folder of step images (created on the first write).
        frame_every: keep an animation frame every this many steps (``None``: no animation).
        bit_depth: 8, or 16 for PNG step images.

    Attributes:
        frames: ``(H, W, 3)`` uint8 frames at the final output size, in step order.
        written: the step images written so far.

    Example:
        >>> recorder = SnapshotRecorder(frame_every=5)  # doctest: +SKIP
        >>> result = stylize(photo, [starry], on_step=recorder)  # doctest: +SKIP
        >>> recorder.finish(result.image)  # doctest: +SKIP
        >>> write_video("steps.gif", recorder.frames, fps=12)  # doctest: +SKIP
    """

    def __init__(
        self,
        save_every: int | None = None,
        steps_dir: str | os.PathLike[str] | None = None,
        frame_every: int | None = None,
        bit_depth: int = 8,
    ) -> None:
        if save_every is not None and (save_every < 1 or steps_dir is None):
            raise ValueError("save_every must be >= 1 and needs steps_dir")
        if frame_every is not None and frame_every < 1:
            raise ValueError("frame_every must be >= 1")
        self.save_every = save_every
        self.steps_dir = None if steps_dir is None else Path(steps_dir)
        self.frame_every = frame_every
        self.bit_depth = bit_depth
        self.frames: list[NDArray[np.uint8]] = []
        self.written: list[Path] = []
        self.output_shape: tuple[int, int] | None = None

    @property
    def active(self) -> bool:
        """Whether this recorder records anything."""
        return self.save_every is not None or self.frame_every is not None

    def __call__(self, state: StepLike) -> bool:
        """Record ``state`` when its step is due; never stops the run (returns ``False``)."""
        step = state.step
        self.output_shape = tuple(state.output_shape)  # type: ignore[assignment]
        save = self.save_every is not None and step % self.save_every == 0
        frame = self.frame_every is not None and step % self.frame_every == 0
        if not (save or frame):
            return False
        image = state.image()
        if save:
            from easel.io.images import write_image

            assert self.steps_dir is not None
            self.steps_dir.mkdir(exist_ok=True)
            self.written.append(
                write_image(self.steps_dir / f"step_{step:05d}.png", image, bit_depth=self.bit_depth)
            )
        if frame:
            self.frames.append(self._frame(image))
        return False

    def _frame(self, image: FloatImage) -> NDArray[np.uint8]:
        shape = self.output_shape or image.shape[:2]
        return to_uint8(resize(image, (int(shape[0]), int(shape[1]))))

    def finish(self, image: FloatImage) -> None:
        """Add the final image as the last animation frame (resized to the output size).

        Args:
            image: ``(H, W, 3)`` float32 RGB in [0, 1], the run's result.
        """
        if self.frame_every is None:
            return
        if self.output_shape is None:
            self.output_shape = (int(image.shape[0]), int(image.shape[1]))
        self.frames.append(self._frame(image))
