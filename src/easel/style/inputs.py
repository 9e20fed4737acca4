"""Files into style-transfer inputs: style specs, folders, images, masks, and the memory check.

Everything ``easel stylize`` does before the optimization, available to Python:

* :func:`parse_style_spec` -- ``"starry.jpg:0.45"`` into a path and a weight;
* :func:`expand_style_paths` -- style folders into their images;
* :func:`load_style_inputs` -- the content, styles (with masks) and init image read from
  files, transparency composited over white, with notes for the caller to show;
* :func:`check_memory` -- refuse an output size that cannot fit in the memory free on
  the device, before the encoder is loaded.

This module does not import torch until a function needs it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from easel.errors import InputError
from easel.image import FloatImage
from easel.io.images import DEFAULT_MAX_SIZE, IMAGE_SUFFIXES, LoadedImage, read_image
from easel.options import OptionError
from easel.style.options import MIN_SIDE

if TYPE_CHECKING:
    from easel.style.options import StyleOptions
    from easel.style.transfer import Style

StrPath = str | os.PathLike[str]

GRAY_MODES = ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "F")
"""Pillow modes of single-channel files (their Gram matrices carry no colour)."""
WHOLE_IMAGE_BYTES_PER_PIXEL = 96
"""Bytes per output pixel of the whole-image buffers a tiled run keeps (canvas, content,
upsampled start, blend, result: about eight float32 RGB copies)."""

__all__ = [
    "MemoryLimitError",
    "StyleInputs",
    "check_memory",
    "composite_over_white",
    "expand_style_paths",
    "is_grayscale",
    "list_images",
    "load_style_image",
    "load_style_inputs",
    "parse_style_spec",
]


def list_images(folder: StrPath) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped).

    Example:
        >>> list_images("styles/")  # doctest: +SKIP
        [PosixPath('styles/scream.jpg'), PosixPath('styles/starry.png')]
    """
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def parse_style_spec(text: str) -> tuple[Path, float]:
    """Split ``"PATH"`` or ``"PATH:WEIGHT"`` into a path and a weight (default 1).

    A suffix that is not a number is part of the file name (``dir/with:colon.jpg``)
    unless the part before it names an image or an existing file or folder: then
    it was meant as a weight (``a.jpg:abc`` is refused, not reported as a missing file).

    Args:
        text: a style file or folder, optionally followed by ``:`` and a weight >= 0.

    Returns:
        ``(path, weight)``.

    Raises:
        InputError: the weight is not a finite number >= 0.

    Example:
        >>> parse_style_spec("starry.jpg:0.45")
        (PosixPath('starry.jpg'), 0.45)
    """
    path, sep, weight = text.rpartition(":")
    if not sep or not path or weight.startswith(("/", "\\")):  # no weight, or a drive letter ("C:\\x")
        return Path(text), 1.0
    try:
        value = float(weight)
    except ValueError:
        meant_weight = Path(path).suffix.lower() in IMAGE_SUFFIXES or Path(path).exists()
        if Path(text).exists() or not meant_weight:
            return Path(text), 1.0
        raise InputError(
            f"{text}: style weight {weight!r} is not a number; write PATH:WEIGHT, e.g. {path}:0.5"
        ) from None
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"{text}: style weight must be a finite number >= 0, got {weight}")
    return Path(path), value


def expand_style_paths(styles: Sequence[tuple[StrPath, float]]) -> list[tuple[Path, float]]:
    """Replace each style folder by the images inside it (each with the folder's weight).

    Args:
        styles: ``(file or folder, weight)`` pairs.

    Returns:
        ``(file, weight)`` pairs, folders expanded in name order.

    Raises:
        InputError: a folder holds no images.

    Example:
        >>> expand_style_paths([("styles/", 1.0), ("scream.jpg", 0.45)])  # doctest: +SKIP
        [(PosixPath('styles/a.jpg'), 1.0), (PosixPath('styles/b.png'), 1.0), (PosixPath('scream.jpg'), 0.45)]
    """
    out: list[tuple[Path, float]] = []
    for path, weight in styles:
        p = Path(path)
        if p.is_dir():
            files = list_images(p)
            if not files:
                raise InputError(f"{p}: no images in this style folder")
            out.extend((f, weight) for f in files)
        else:
            out.append((p, weight))
    return out


def composite_over_white(rgb: FloatImage, alpha: NDArray[np.float32] | None) -> FloatImage:
    """Composite an image with transparency over a white background.

    Args:
        rgb: ``(H, W, 3)`` float32 RGB in [0, 1] (straight, not premultiplied).
        alpha: ``(H, W)`` float32 in [0, 1], or ``None`` (``rgb`` is returned as is).

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Example:
        >>> composite_over_white(np.zeros((1, 1, 3), np.float32), np.zeros((1, 1), np.float32))[0, 0]
        array([1., 1., 1.], dtype=float32)
    """
    if alpha is None:
        return rgb
    a = alpha[:, :, None]
    return (rgb * a + (1.0 - a)).astype(np.float32)


def is_grayscale(rgb: FloatImage, mode: str = "RGB") -> bool:
    """Whether an image carries no colour: a single-channel file, or R = G = B everywhere.

    Example:
        >>> is_grayscale(np.full((2, 2, 3), 0.5, np.float32))
        True
    """
    return mode in GRAY_MODES or float(np.ptp(rgb - rgb.mean(axis=2, keepdims=True))) < 1e-6


def load_style_image(
    path: StrPath,
    role: str = "style",
    max_size: int | None = DEFAULT_MAX_SIZE,
    notes: list[str] | None = None,
) -> FloatImage:
    """Read a content, style or init image for style transfer.

    Transparency is composited over white; a grayscale image is accepted with a
    note (its Gram matrices carry no colour); an image smaller than the minimum
    side style transfer needs is refused.

    Args:
        path: the image file.
        role: what it is, for messages (``"content"``, ``"style"``, ``"init image"``).
        max_size: downscale so the long side is at most this many pixels (``None``: keep).
        notes: where to append one-line notes for the user (transparency, grayscale).

    Returns:
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Raises:
        InputError: unreadable file, or a side shorter than 32 px.

    Example:
        >>> starry = load_style_image("starry.jpg", "style", max_size=1024)  # doctest: +SKIP
    """
    loaded = read_image(path, max_size=max_size)
    return _checked(loaded, role, notes)


def _checked(loaded: LoadedImage, role: str, notes: list[str] | None) -> FloatImage:
    min_side = MIN_SIDE
    h, w = loaded.rgb.shape[:2]
    if min(h, w) < min_side:
        raise InputError(
            f"{loaded.path}: {role} is only {w}x{h} px; style transfer needs at least {min_side} px "
            "on a side (VGG-19's deepest style layer sees the image at 1/16 of its size)"
        )
    rgb = composite_over_white(loaded.rgb, loaded.alpha)
    if notes is not None:
        if loaded.alpha is not None:
            notes.append(f"{loaded.path}: {role} has transparency; composited over white")
        if is_grayscale(rgb, loaded.mode):
            notes.append(f"{loaded.path}: {role} is grayscale; its Grams carry no colour")
    return rgb


@dataclass
class StyleInputs:
    """The images of a style transfer, read from files.

    Attributes:
        content: ``(H, W, 3)`` float32 RGB in [0, 1].
        styles: one :class:`~easel.style.transfer.Style` per style file (with its
            weight, mask and a cache key).
        init_image: ``(H, W, 3)`` float32 RGB in [0, 1], or ``None``.
        content_shape: ``(height, width)`` of the content file before any downscaling.
        notes: one-line notes worth showing the user (transparency, grayscale).
        paths: every file read (content, styles, masks, init image).

    Example:
        >>> inputs = load_style_inputs("photo.jpg", ["starry.jpg"])  # doctest: +SKIP
        >>> inputs.content.shape, inputs.content_shape, len(inputs.styles)  # doctest: +SKIP
        ((3072, 4096, 3), (3072, 4096), 1)
    """

    content: FloatImage
    styles: list[Style]
    init_image: FloatImage | None = None
    content_shape: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


def load_style_inputs(
    content: StrPath,
    styles: Sequence[StrPath | tuple[StrPath, float]],
    masks: Sequence[StrPath] = (),
    init_image: StrPath | None = None,
    max_size: int | None = DEFAULT_MAX_SIZE,
) -> StyleInputs:
    """Read the content photo, the styles (folders expanded, with masks) and an init image.

    Args:
        content: the content photo.
        styles: style files or folders, each a path or ``(path, weight)``.
        masks: region masks, one per style in order (white = that style applies);
            each has the content file's size, or at least its aspect ratio.
        init_image: an image to start the optimization from, or ``None``.
        max_size: downscale the images so their long side is at most this (``None``: keep).

    Returns:
        A :class:`StyleInputs`; pass ``inputs.content``, ``inputs.styles`` and
        ``inputs.init_image`` to :func:`~easel.style.transfer.stylize`.

    Raises:
        InputError: unreadable or too small files, an empty style folder, more
            masks than styles, or a mask of another shape than the content.

    Example:
        >>> inputs = load_style_inputs("photo.jpg", ["starry.jpg", ("scream.jpg", 0.45)])  # doctest: +SKIP
        >>> art = stylize(inputs.content, inputs.styles, size=512).image  # doctest: +SKIP
    """
    from easel.style.transfer import Style, check_mask_shape

    pairs = expand_style_paths([s if isinstance(s, tuple) else (s, 1.0) for s in styles])
    if not pairs:
        raise InputError("at least one style image is needed")
    if len(masks) > len(pairs):
        raise InputError(f"{len(masks)} masks for {len(pairs)} styles (one mask per style, in order)")
    notes: list[str] = []
    loaded = read_image(content, max_size=max_size)
    content_rgb = _checked(loaded, "content", notes)
    paths = [Path(content)]
    style_list = []
    for index, (path, weight) in enumerate(pairs):
        rgb = load_style_image(path, "style", max_size, notes)
        mask = None
        if index < len(masks):
            mask_file = read_image(masks[index], max_size=None)
            check_mask_shape(mask_file.original_shape, loaded.original_shape, name=str(masks[index]))
            mask = mask_file.rgb.mean(axis=2).astype(np.float32)
            paths.append(Path(masks[index]))
        style_list.append(Style(rgb, weight=weight, mask=mask, key=str(path.resolve())))
        paths.append(path)
    init = None
    if init_image is not None:
        init = load_style_image(init_image, "init image", max_size, notes)
        paths.append(Path(init_image))
    return StyleInputs(
        content=content_rgb,
        styles=style_list,
        init_image=init,
        content_shape=loaded.original_shape,
        notes=notes,
        paths=paths,
    )


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


class MemoryLimitError(OptionError):
    """An output size whose run would need more memory than is free on the device.

    Attributes:
        size: the asked long side.
        shape: ``(height, width)`` of the output.
        need: the estimated peak, in bytes.
        budget: the bytes free on the device.
        device: the device type (``cpu``, ``cuda``).
        tiled: whether the run is already tiled (otherwise tiling is suggested).

    Example:
        >>> check_memory(StyleOptions(size=16384), (3000, 4000))  # doctest: +SKIP
        Traceback (most recent call last):
        ...
        easel.style.inputs.MemoryLimitError: size 16384 (16384x12288 px) needs about 416.9 GiB but only 22.8 GiB is free on cpu; ...
    """

    def __init__(
        self, size: int, shape: tuple[int, int], need: int, budget: int, device: str, tiled: bool
    ) -> None:
        self.size, self.shape, self.need, self.budget = size, shape, need, budget
        self.device, self.tiled = device, tiled
        super().__init__("size", self._problem("tile_size"))

    def _problem(self, tile_name: str) -> str:
        hint = "" if self.tiled else f", or optimize in tiles, e.g. {tile_name} 1024"
        return (
            f"{self.size} ({self.shape[1]}x{self.shape[0]} px) needs about {_gib(self.need)} but only "
            f"{_gib(self.budget)} is free on {self.device}; choose a smaller size{hint}"
        )

    def with_name(self, name: str, tile_flag: str | None = None) -> str:
        """The message with ``name`` for ``size`` (and ``tile_flag`` for ``tile_size``)."""
        problem = self._problem(tile_flag or "tile_size").replace("smaller size", f"smaller {name}")
        return f"{name} {problem}"


def check_memory(options: StyleOptions, content_shape: tuple[int, int]) -> int:
    """Estimate the peak memory of a run and refuse one that cannot fit on its device.

    The budget is the memory free now on ``options.device`` (host memory for the
    CPU, free GPU memory for CUDA). With ``tile_size`` the estimate is that of
    one tile plus the whole-image buffers a tiled run keeps, so a huge ``size``
    is refused even when tiled.

    Args:
        options: the run's settings (``size``, layers, ``optimizer``, ``tile_size``, ``device``).
        content_shape: ``(height, width)`` of the content image.

    Returns:
        The estimated peak in bytes.

    Raises:
        MemoryLimitError: the estimate exceeds the free memory (an
            :class:`~easel.options.OptionError` naming ``size``).
        InputError: the device is not available.

    Example:
        >>> check_memory(StyleOptions(size=512), (768, 1024))  # doctest: +SKIP
        1234567890
    """
    from easel.devices import resolve_device
    from easel.nets.precision import choose_precision
    from easel.style.transfer import estimate_memory, memory_budget

    device = resolve_device(options.device)
    if options.precision == "auto":  # the run's measured choice; written to the cache only if the run goes on
        options = replace(options, precision=choose_precision(device, persist=False).precision)
    out_shape = options.output_shape(content_shape)
    tiled = options.tile_size is not None and max(out_shape) > options.tile_size
    if tiled:
        tile = int(options.tile_size or 0)
        need = estimate_memory((min(tile, out_shape[0]), min(tile, out_shape[1])), options)
        need += WHOLE_IMAGE_BYTES_PER_PIXEL * out_shape[0] * out_shape[1]
    else:
        need = estimate_memory(out_shape, options)
    budget = memory_budget(device)
    if budget is not None and need > budget:
        raise MemoryLimitError(
            options.size, out_shape, need, budget, device.type, options.tile_size is not None
        )
    return need
