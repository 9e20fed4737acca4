"""Classical (NumPy) art filters: colour quantization and superpixels.

Import from the submodules or from :mod:`easel` directly::

    easel.quantize_colors(image, n_colors=16)
    easel.slic_superpixels(image, n_segments=500, compactness=10)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

SMALL_WORK = 1 << 18
"""Pixel counts below this run the numba kernels on one thread."""


@contextmanager
def threads_for(n_items: int) -> Iterator[None]:
    """Run numba's parallel kernels on one thread for small inputs.

    Starting the thread team costs little on an idle machine but can cost
    milliseconds per kernel call on a busy one, more than small images need.
    Numba's thread count is per calling thread, so this does not affect others.
    """
    if n_items >= SMALL_WORK:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
