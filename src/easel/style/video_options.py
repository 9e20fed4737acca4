"""The options of a video style transfer, declared once for the API and ``easel stylize-video``.

Plain data (no torch), like :mod:`easel.style.options`, so the CLI builds its
parser without loading the model code.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace

from easel.options import OptionError, option
from easel.style.flow import FLOW_METHODS
from easel.style.options import StyleOptions

__all__ = ["DEFAULT_NEXT_ITERATIONS", "VideoStyleOptions", "parse_frame_range"]

DEFAULT_NEXT_ITERATIONS = 45
"""Iterations of a frame that starts from the warped previous output."""

_VIDEO = "video"


def parse_frame_range(text: str) -> tuple[int, int | None]:
    """``"START:END"`` -> ``(START, END)``: source frames START..END-1, 0-based (the CLI's ``--frames``).

    ``END`` may be left out (``"64:"``: to the last frame) and ``START`` too (``":64"``: from
    the first); ``"START,END"`` is read the same way.

    Example:
        >>> parse_frame_range("100:200"), parse_frame_range("64:"), parse_frame_range(":8")
        ((100, 200), (64, None), (0, 8))
    """
    parts = [p.strip() for p in text.replace(",", ":").split(":")]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected START:END (0-based, END excluded), got {text!r}")
    try:
        start = int(parts[0]) if parts[0] else 0
        end = int(parts[1]) if parts[1] and parts[1].lower() != "none" else None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END (whole numbers, 0-based, END excluded), got {text!r}"
        ) from None
    problem = _range_problem((start, end))
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return start, end


def _range_problem(frame_range: tuple[int, int | None]) -> str:
    start, end = frame_range
    if start < 0:
        return f"START must be >= 0, got {start}"
    if end is not None and end <= start:
        return f"END must be greater than START (the range is half-open), got {start}:{end}"
    return ""


@dataclass
class VideoStyleOptions(StyleOptions):
    """Settings of a video style transfer: :class:`StyleOptions` per frame, plus the temporal ones.

    ``iterations`` counts the iterations of a frame started from the warped
    previous output (single scale, at the output size); the first frame, and
    any frame started from scratch, runs ``easel stylize``'s coarse-to-fine
    schedule with ``iterations_first`` at the finest scale.

    Attributes:
        iterations: iterations of a warped frame (``None``: 45).
        iterations_first: finest-scale iterations of a frame from scratch (``None``: 80 as
            ``easel stylize``; 500 without multiscale).
        temporal_weight: weight of the temporal loss: an RMS deviation of one grey level (0-255)
            from the warped previous output, where the flow holds, costs this fraction of the
            frame's starting loss (scale-free across encoders).
        temporal_detail: compare the images themselves in the temporal loss (Ruder et al.);
            ``False`` (default) compares them blurred by a 3x3 binomial kernel, so the finest
            texture, which resampling by the flow blurs, is free to sharpen again.
        long_term: how many earlier outputs the temporal loss looks back to (1 = the previous only).
        flow: use optical flow; ``False`` stylizes every frame from scratch (a burst).
        flow_method: ``"dis"`` (OpenCV DIS) or ``"farneback"``.
        min_overlap: a frame that the previous one covers consistently over less than this
            fraction (a cut, or unrelated photos) starts from scratch.
        frame_range: ``(START, END)``: stylize only source frames START..END-1 (0-based,
            half-open; ``END=None``: to the last frame); ``None``: every frame. The frames
            before START are read only for the optical flow into the range.

    Example:
        >>> opts = VideoStyleOptions(size=256, long_term=3)
        >>> opts.resolved_iterations(), opts.first_frame_options().resolved_iterations()
        (45, 80)
    """

    iterations: int | None = option(
        None,
        help=f"iterations of a frame started from the warped previous one (default {DEFAULT_NEXT_ITERATIONS})",
        metavar="N",
        group="size and iterations",
    )
    iterations_first: int | None = option(
        None,
        help="finest-scale iterations of the first frame and of frames from scratch (default 80)",
        metavar="N",
        group="size and iterations",
    )
    temporal_weight: float = option(
        0.001,
        help="temporal loss weight: what an RMS deviation of one grey level from the warped previous "
        "frame costs, as a fraction of the frame's starting loss",
        metavar="T",
        group=_VIDEO,
    )
    temporal_detail: bool = option(
        False,
        help="hold the finest detail (one-pixel texture) to the warped previous frame too; by default the "
        "temporal loss compares the images blurred by one pixel, so the texture the warp's resampling "
        "blurred may sharpen again (lower loss, a little more flicker)",
        group=_VIDEO,
    )
    long_term: int = option(
        1, help="temporal loss towards the K previous outputs (1 = the last only)", metavar="K", group=_VIDEO
    )
    flow: bool = option(
        True,
        help="no optical flow: stylize every frame from scratch (a burst of separate photos)",
        negative_flag="--no-flow",
        group=_VIDEO,
    )
    flow_method: str = option("dis", help="optical flow estimator", choices=FLOW_METHODS, group=_VIDEO)
    min_overlap: float = option(
        0.4,
        help="start a frame from scratch when the previous one covers less than F of it (a cut)",
        metavar="F",
        group=_VIDEO,
    )
    frame_range: tuple[int, int | None] | None = option(
        None,
        help="stylize only source frames START to END-1 (0-based, END excluded; START: to the end); "
        "--previous gives the stylized frames before START to continue from",
        flag="--frames",
        metavar="START:END",
        parse=parse_frame_range,
        group=_VIDEO,
    )

    def validate(self) -> VideoStyleOptions:
        """Check every field (:meth:`StyleOptions.validate` and the video ones).

        Example:
            >>> VideoStyleOptions(long_term=0).validate()
            Traceback (most recent call last):
            ...
            easel.options.OptionError: long_term must be at least 1, got 0
        """
        super().validate()
        if self.iterations_first is not None and self.iterations_first < 0:
            raise OptionError("iterations_first", f"must be >= 0, got {self.iterations_first}")
        if not math.isfinite(self.temporal_weight) or self.temporal_weight < 0:
            raise OptionError("temporal_weight", f"must be a finite number >= 0, got {self.temporal_weight}")
        if self.long_term < 1:
            raise OptionError("long_term", f"must be at least 1, got {self.long_term}")
        if not 0 <= self.min_overlap <= 1:
            raise OptionError("min_overlap", f"must be between 0 and 1, got {self.min_overlap}")
        if self.flow_method not in FLOW_METHODS:
            raise OptionError(
                "flow_method", f"must be one of {', '.join(FLOW_METHODS)}, got {self.flow_method!r}"
            )
        if self.frame_range is not None:
            if len(self.frame_range) != 2:
                raise OptionError("frame_range", f"must be (START, END), got {self.frame_range!r}")
            problem = _range_problem(self.frame_range)
            if problem:
                raise OptionError("frame_range", problem)
        if self.tile_size is not None:
            raise OptionError("tile_size", "is not supported for videos (frames are optimized whole)")
        return self

    @property
    def range_start(self) -> int:
        """The first source frame stylized (0 without ``frame_range``).

        Example:
            >>> VideoStyleOptions(frame_range=(64, 128)).range_start
            64
        """
        return 0 if self.frame_range is None else self.frame_range[0]

    @property
    def range_end(self) -> int | None:
        """The source frame after the last one stylized (``None``: to the end).

        Example:
            >>> VideoStyleOptions(frame_range=(64, None)).range_end is None
            True
        """
        return None if self.frame_range is None else self.frame_range[1]

    def resolved_iterations(self) -> int:
        """Iterations of a warped frame (``iterations``, default 45)."""
        return DEFAULT_NEXT_ITERATIONS if self.iterations is None else self.iterations

    def style_options(self) -> StyleOptions:
        """The per-frame :class:`StyleOptions` fields of these options (the video ones dropped)."""
        names = {f for f in StyleOptions.__dataclass_fields__}
        return StyleOptions(**{name: getattr(self, name) for name in names})

    def first_frame_options(self) -> StyleOptions:
        """The options of a frame from scratch: ``easel stylize``'s schedule with ``iterations_first``.

        Example:
            >>> VideoStyleOptions(iterations_first=120).first_frame_options().iterations
            120
        """
        return replace(self.style_options(), iterations=self.iterations_first)

    def next_frame_options(self) -> StyleOptions:
        """The options of a warped frame: one scale (the output size), ``iterations`` steps.

        Example:
            >>> VideoStyleOptions(iterations=20).next_frame_options().total_steps((64, 64))
            20
        """
        return replace(
            self.style_options(), iterations=self.resolved_iterations(), multiscale=False, init="content"
        )

    def resolved(self) -> VideoStyleOptions:
        """A copy with the defaults resolved (what a run record stores)."""
        return replace(
            self,
            iterations=self.resolved_iterations(),
            iterations_first=self.first_frame_options().resolved_iterations(),
            min_scale=self.resolved_min_scale(),
        )
