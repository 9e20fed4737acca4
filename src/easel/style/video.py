"""Style transfer for videos and photo bursts without flicker (Ruder et al. 2016).

:func:`stylize_video` stylizes frames one after another with the shared
:class:`~easel.style.transfer.Stylizer` (one encoder, the style Grams computed
once for all frames). The first frame runs the full coarse-to-fine schedule of
``easel stylize``; each later frame starts from the previous output warped by
the optical flow between the two input frames (:mod:`easel.style.flow`) and
adds a temporal loss that keeps it close to that warped output wherever the
flow is consistent (occlusions and motion boundaries are left free), so far
fewer iterations reach a finished frame and the style stays put instead of
flickering. ``long_term=K`` adds the same loss towards the outputs 2..K frames
back, each pixel counted for the nearest frame where it is visible.

Frames without usable flow -- ``flow=False`` (a burst of separate photos), or
a frame that overlaps the previous one too little (a cut) -- start from scratch
with the first frame's schedule, sharing the style targets and settings.

Outputs are quantized to 8 bits before they become the next frame's start, so
a run resumed from saved PNG frames (``resume=``) continues exactly as an
uninterrupted one would. For the same reason a frame range
(``VideoStyleOptions.frame_range``, e.g. one chunk of a batch) started from
the saved outputs of the frames before it (``previous=``) gives the frames a
run over the whole clip gives there.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb, resize, to_uint8
from easel.optim import Status
from easel.progress import ProgressFn, prefixed
from easel.style.flow import FlowLink, flow_link, warp
from easel.style.transfer import Style, StyleLike, StyleResult, Stylizer, as_styles
from easel.style.video_options import DEFAULT_NEXT_ITERATIONS, VideoStyleOptions

__all__ = [
    "DEFAULT_NEXT_ITERATIONS",
    "FrameStart",
    "StyledFrame",
    "VideoStyleOptions",
    "quantize",
    "stylize_video",
]

FrameStart = Literal["scratch", "warped", "resumed"]


@dataclass
class StyledFrame:
    """One frame of :func:`stylize_video`.

    Attributes:
        index: 0-based frame number.
        image: ``(H, W, 3)`` float32 RGB in [0, 1], quantized to multiples of 1/255 (as saved).
        status: the frame's run: ``"finished"``, ``"interrupted"`` (Ctrl-C/SIGTERM:
            ``image`` is unfinished and the generator stops), ``"stopped"`` or ``"non-finite"``.
        start: ``"scratch"`` (full schedule), ``"warped"`` (from the previous output) or
            ``"resumed"`` (taken from ``resume``, not recomputed).
        overlap: the fraction of this frame the previous one covers consistently (``None``
            without flow or for the first frame).
        steps: optimizer evaluations spent on it.
        seconds: wall time spent on it (flow included).
        final_loss: its total loss (temporal term included) when known, else ``nan``.
        message: why a frame started from scratch, or how its run ended.

    Example:
        >>> for frame in stylize_video(frames, [starry]):  # doctest: +SKIP
        ...     print(frame.index, frame.start, frame.steps)
        0 scratch 280
        1 warped 45
    """

    index: int
    image: FloatImage
    status: Status = "finished"
    start: FrameStart = "scratch"
    overlap: float | None = None
    steps: int = 0
    seconds: float = 0.0
    final_loss: float = float("nan")
    message: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (for run records)."""
        return {
            "index": self.index,
            "status": self.status,
            "start": self.start,
            "overlap": None if self.overlap is None else round(self.overlap, 4),
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "final_loss": None if not math.isfinite(self.final_loss) else self.final_loss,
            "message": self.message,
        }


def quantize(image: ArrayLike) -> FloatImage:
    """``image`` rounded to 8 bits and back: what a saved PNG frame reads as.

    Example:
        >>> round(float(quantize(np.full((1, 1, 3), 0.3, np.float32))[0, 0, 0]) * 255, 3)
        76.0
    """
    return (to_uint8(as_float_rgb(image, name="frame")).astype(np.float32) / np.float32(255.0)).astype(
        np.float32
    )


def _keyed(styles: Sequence[StyleLike]) -> list[Style]:
    """Styles with a cache key each, so their Grams are computed once for all frames."""
    out = as_styles(styles)
    for index, style in enumerate(out):
        if style.key is None:
            style.key = f"video style {index + 1} @{id(style.image):x}"
    return out


def _blur3(image: Any) -> Any:
    """``(N, 3, H, W)`` blurred by the 3x3 binomial kernel (edges repeated)."""
    import torch
    import torch.nn.functional as F

    k = torch.tensor([1.0, 2.0, 1.0], device=image.device, dtype=image.dtype)
    kernel = (k[:, None] * k[None, :] / 16.0)[None, None].repeat(image.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=image.shape[1])


def _temporal_target(
    links: Sequence[FlowLink], outputs: Sequence[FloatImage], weight: float, device: Any, detail: bool = True
) -> Any:
    """Earlier outputs warped to this frame with Ruder et al.'s long-term masks (nearest first).

    ``detail=False``: the loss compares both images blurred by one pixel (:func:`_blur3`): a
    warped output has lost its finest texture to the resampling, and holding the frame to
    that blur would fight the style loss, which sharpens it again.
    """
    import torch

    from easel.image import to_tensor
    from easel.style.losses import TemporalTarget

    class LowPassTarget(TemporalTarget):
        def __call__(self, image: torch.Tensor) -> torch.Tensor:
            return super().__call__(_blur3(image.float()))

    targets, masks = [], []
    covered: NDArray[np.float32] | None = None
    for link, output in zip(links, outputs, strict=True):
        mask = link.mask if covered is None else np.maximum(link.mask - covered, 0.0).astype(np.float32)
        covered = link.mask if covered is None else np.maximum(covered, link.mask)
        target = to_tensor(np.clip(warp(output, link.flow, "cubic"), 0.0, 1.0), device=device)
        targets.append(target if detail else _blur3(target))
        masks.append(torch.from_numpy(np.ascontiguousarray(mask))[None, None].to(device))
    return TemporalTarget(targets, masks, weight) if detail else LowPassTarget(targets, masks, weight)


def stylize_video(
    frames: Iterable[ArrayLike],
    styles: Sequence[StyleLike],
    options: VideoStyleOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    resume: Sequence[ArrayLike] = (),
    previous: Sequence[ArrayLike] = (),
    num_frames: int | None = None,
    stylizer: Stylizer | None = None,
) -> Iterator[StyledFrame]:
    """Stylize a sequence of frames with temporal consistency, yielding each frame as it is done.

    Args:
        frames: ``(H, W, 3)`` RGB frames (float32 in [0, 1] or uint8), all one size,
            consumed one at a time (a :func:`~easel.io.video.read_frames` stream works),
            from the source's first frame even with ``options.frame_range``: the frames
            before the range are only read (the last ``long_term`` of them for the flow).
        styles: as :func:`~easel.style.stylize`: images, ``(image, weight)``,
            ``(image, weight, mask)`` or :class:`~easel.style.transfer.Style`; a mask
            applies to every frame.
        options: :class:`VideoStyleOptions` (defaults when ``None``).
        progress: receives a :class:`~easel.progress.ProgressUpdate` per evaluation, the
            stage prefixed with ``frame i/n``.
        resume: outputs of frames of the range already finished (source frames
            ``START..START+len(resume)-1``, as saved: 8-bit values); they are yielded as
            ``"resumed"`` without recomputing, and the next frame starts from them as it would have.
        previous: stylized outputs of the frames just before the range, in order (the last
            one is frame ``START-1``), as saved; the first frame of the range starts from the
            last one warped, and the temporal loss looks back at up to ``long_term`` of them,
            so with ``min(long_term, START)`` frames of an earlier run the range continues it
            exactly. Empty: the range's first frame starts from scratch.
        num_frames: the number of source frames, for progress (``len(frames)`` when it has one).
        stylizer: a :class:`~easel.style.transfer.Stylizer` built for these options to reuse.

    Yields:
        :class:`StyledFrame` per frame of the range (every frame by default), in order, its
        ``index`` the source frame's, with ``image`` at the output size (long side
        ``options.size``). A range whose END lies past the last frame stops there. A
        frame whose run was interrupted is yielded with status ``"interrupted"`` and ends
        the iteration.

    Raises:
        InputError: no frames (or none from the range's START), frames of changing size,
            ``previous`` frames of another size, or given for a range that starts at 0; bad styles.

    Example:
        >>> from easel.io.video import read_frames, write_video  # doctest: +SKIP
        >>> clip = read_frames("clip.mp4", max_size=512)  # doctest: +SKIP
        >>> styled = stylize_video(clip, [starry], VideoStyleOptions(size=512))  # doctest: +SKIP
        >>> write_video("art.mp4", (f.image for f in styled), fps=clip.info.fps)  # doctest: +SKIP
        PosixPath('art.mp4')
    """
    opts = (options or VideoStyleOptions()).validate()
    style_list = _keyed(styles)
    if not style_list:
        raise InputError("at least one style image is needed")
    first_index, end_index = opts.range_start, opts.range_end
    if previous and first_index == 0:
        raise InputError("previous stylized frames were given, but the frame range starts at frame 0")
    if num_frames is None and hasattr(frames, "__len__"):
        num_frames = len(frames)  # type: ignore[arg-type]
    first_stylizer = stylizer.with_options(opts.first_frame_options()) if stylizer else None
    if first_stylizer is None:
        first_stylizer = Stylizer(opts.first_frame_options())
    next_stylizer = first_stylizer.with_options(opts.next_frame_options())
    history = opts.long_term if opts.flow else 0
    inputs: deque[FloatImage] = deque(maxlen=max(1, history))
    outputs: deque[FloatImage] = deque(maxlen=max(1, history))
    skipped: deque[FloatImage] = deque(maxlen=max(1, history))  # source frames before the range
    shape: tuple[int, int] | None = None
    source_shape: tuple[int, int] | None = None
    total = num_frames or 0  # frames to stylize, for progress (0: unknown)
    if opts.frame_range is not None:
        stop = end_index if num_frames is None else min(end_index or num_frames, num_frames)
        total = max(0, stop - first_index) if stop is not None else 0
    # how many frames before the range a full run would still hold (outputs and inputs)
    carried = min(history, len(previous), first_index)
    num_resumed = len(resume)
    index = -1
    for index, raw in enumerate(frames):
        if end_index is not None and index >= end_index:
            break
        start_time = time.perf_counter()
        frame = as_float_rgb(raw, name=f"frame {index + 1}")
        if source_shape is None:
            source_shape = frame.shape[:2]
            shape = opts.first_frame_options().output_shape(source_shape)
        elif frame.shape[:2] != source_shape:
            h, w = frame.shape[:2]
            raise InputError(
                f"frame {index + 1} is {w}x{h}, but the first frame was {source_shape[1]}x{source_shape[0]}"
            )
        assert shape is not None
        if index < first_index:
            if first_index - index <= carried:  # a flow reference for the range's first frame
                skipped.append(frame)
            continue
        content = frame if frame.shape[:2] == shape else resize(frame, shape)
        if index == first_index and carried:
            # the stylized frames before the range, with their inputs, as a full run would hold them
            given = [quantize(p) for p in list(previous)[-carried:]]
            for offset, done in enumerate(given):
                if done.shape[:2] != shape:
                    raise InputError(
                        f"previous stylized frame {first_index - carried + offset + 1} is "
                        f"{done.shape[1]}x{done.shape[0]}, not {shape[1]}x{shape[0]}"
                    )
            for done, source in zip(given, skipped, strict=True):
                inputs.appendleft(source if source.shape[:2] == shape else resize(source, shape))
                outputs.appendleft(done)
            skipped.clear()
        position = index - first_index
        if position < num_resumed:
            done = quantize(resume[position])
            if done.shape[:2] != shape:
                raise InputError(
                    f"resumed frame {index + 1} is {done.shape[1]}x{done.shape[0]}, not {shape[1]}x{shape[0]}"
                )
            inputs.appendleft(content)
            outputs.appendleft(done)
            yield StyledFrame(index, done, start="resumed")
            continue
        if opts.frame_range is None:
            prefix = f"frame {index + 1}/{total}" if total else f"frame {index + 1}"
        else:
            prefix = f"frame {index + 1} ({position + 1}/{total})" if total else f"frame {index + 1}"
        links: list[FlowLink] = []
        if history and inputs:
            links = [flow_link(earlier, content, opts.flow_method) for earlier in inputs]
        overlap = links[0].overlap if links else None
        message = ""
        result: StyleResult
        if links and overlap is not None and overlap >= opts.min_overlap:
            start: FrameStart = "warped"
            # the previous output moved along the flow (bicubic: repeated warps stay sharp); what
            # entered the view has no source there and starts from the frame itself
            init = np.clip(warp(outputs[0], links[0].flow, "cubic"), 0.0, 1.0)
            init = np.where(links[0].outside[:, :, None], content, init).astype(np.float32)
            temporal = None
            if opts.temporal_weight > 0:
                # scale-free: an RMS deviation of one grey level costs temporal_weight x the
                # start's own loss, whatever the encoder's feature scale (Caffe, torchvision, random)
                start_loss = float(next_stylizer.evaluate(init, content, style_list, precision="fp32").total)
                weight = opts.temporal_weight * max(start_loss, 1e-12)
                temporal = _temporal_target(
                    links, list(outputs)[: len(links)], weight, next_stylizer.device, opts.temporal_detail
                )
            result = next_stylizer.run(
                content, style_list, init_image=init, progress=prefixed(progress, prefix), temporal=temporal
            )
        else:
            start = "scratch"
            if links:
                message = f"only {overlap:.0%} of it follows from the previous frame; started from scratch"
            result = first_stylizer.run(content, style_list, progress=prefixed(progress, prefix))
        image = quantize(result.image)
        if result.status != "finished" and result.message:
            message = f"{message}; {result.message}" if message else result.message
        frame_out = StyledFrame(
            index,
            image,
            status=result.status,
            start=start,
            overlap=overlap,
            steps=len(result.losses),
            seconds=time.perf_counter() - start_time,
            final_loss=result.final_loss,
            message=message,
        )
        yield frame_out
        if result.status == "interrupted":
            return
        inputs.appendleft(content)
        outputs.appendleft(image)
    if index < 0:
        raise InputError("no frames to stylize")
    if index < first_index:
        raise InputError(
            f"the frame range starts at frame {first_index} (0-based), but there are only {index + 1} frames"
        )
