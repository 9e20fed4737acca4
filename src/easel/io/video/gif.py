"""The GIF sink of :class:`~easel.io.video.VideoWriter`: a shared 256-colour palette, streamed.

The palette is built (median cut) from the first ``palette_frames`` frames,
which are the only ones held in memory; every frame is then mapped to it,
with Floyd-Steinberg dithering when asked. A frame the palette fits badly (a
cut to new colours) gets a local palette of its own. GIF stores delays in
1/100 s, so the frame rate is rounded to 100/n; the animation loops forever.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from easel.io.video._pyav import OutputStream

LOCAL_PALETTE_ERROR = 10.0
"""Mean absolute error (0-255) above which a GIF frame gets its own local palette."""


def palette_argb(palette_image: Any) -> NDArray[np.uint8]:
    """The ``(256, 4)`` uint8 ARGB table of a Pillow ``P`` image (opaque; unused entries black).

    Example:
        >>> from PIL import Image
        >>> palette_argb(Image.new("P", (1, 1))).shape
        (256, 4)
    """
    flat = list(palette_image.getpalette() or [])[: 256 * 3]
    flat += [0] * (256 * 3 - len(flat))
    rgb = np.asarray(flat, dtype=np.uint8).reshape(256, 3)
    return np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)


class GifSink:
    """Encode frames to an animated GIF with a palette built from the first frames.

    Args:
        path: the file to write.
        shape: ``(height, width)`` of the frames (GIF keeps odd sizes).
        rate: frames per second.
        palette_frames: how many leading frames build the shared palette (>= 1).
        dither: map frames to the palette with Floyd-Steinberg dithering.

    Example:
        >>> sink = GifSink(Path("a.gif"), (32, 48), Fraction(10), 32, dither=True)  # doctest: +SKIP
        >>> sink.write(np.zeros((32, 48, 3), np.uint8)); sink.finish()  # doctest: +SKIP
    """

    def __init__(
        self, path: Path, shape: tuple[int, int], rate: Fraction, palette_frames: int, dither: bool
    ) -> None:
        self._out = OutputStream(path, "gif", "gif", rate, shape, "pal8")
        self._palette_frames = palette_frames
        self._dither = dither
        self._pending: list[NDArray[np.uint8]] = []
        self._palette: Any = None
        self._palette_argb: NDArray[np.uint8] | None = None

    def write(self, data: NDArray[np.uint8]) -> None:
        """Add one ``(H, W, 3)`` uint8 RGB frame (held until the palette is built)."""
        if self._palette is None:
            self._pending.append(data)
            if len(self._pending) >= self._palette_frames:
                self._flush_pending()
            return
        self._encode(data)

    def finish(self) -> None:
        """Build the palette if fewer frames than ``palette_frames`` came, encode them, close the file."""
        if self._palette is None:
            self._flush_pending()
        self._out.finish()

    def abort(self) -> None:
        """Drop the held frames and close the file after an error."""
        self._out.abort()
        self._pending = []

    def _flush_pending(self) -> None:
        from PIL import Image

        pending, self._pending = self._pending, []
        if not pending:
            return
        # a mosaic of subsampled frames stands in for "all the pixels" (like ffmpeg's palettegen)
        step = max(1, int(math.ceil(math.sqrt(pending[0].shape[0] * pending[0].shape[1] / 65536))))
        sample = np.concatenate([f[::step, ::step] for f in pending], axis=0)
        self._palette = Image.fromarray(np.ascontiguousarray(sample), mode="RGB").quantize(
            256, method=Image.Quantize.MEDIANCUT
        )
        self._palette_argb = palette_argb(self._palette)
        for data in pending:
            self._encode(data)

    def _encode(self, data: NDArray[np.uint8]) -> None:
        from PIL import Image

        dither = Image.Dither.FLOYDSTEINBERG if self._dither else Image.Dither.NONE
        image = Image.fromarray(data, mode="RGB")
        palette, argb = self._palette, self._palette_argb
        # A frame the shared palette cannot represent (a scene cut to new colours)
        # gets its own local palette instead of being mapped to wrong colours.
        step = max(1, int(math.ceil(math.sqrt(data.shape[0] * data.shape[1] / 16384))))
        probe = np.ascontiguousarray(data[::step, ::step])
        mapped = Image.fromarray(probe, mode="RGB").quantize(palette=palette, dither=Image.Dither.NONE)
        error = np.abs(np.asarray(mapped.convert("RGB"), dtype=np.int16) - probe).mean()
        if error > LOCAL_PALETTE_ERROR:
            palette = image.quantize(256, method=Image.Quantize.MEDIANCUT)
            argb = palette_argb(palette)
        indexed = image.quantize(palette=palette, dither=dither)
        self._out.encode(np.asarray(indexed, dtype=np.uint8), palette=argb)
