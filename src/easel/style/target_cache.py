"""Style targets computed once per process: a memo of style Gram matrices shared by every run.

A :class:`~easel.style.transfer.Stylizer` keeps the Grams of its styles for its
own runs; a batch worker, though, builds a new stylizer for each job (each job
is one ``easel stylize`` command line), so without this memo every job would
compute the Grams of the same style image again. :func:`memo_grams` keeps them
for the life of the process, keyed by everything they depend on:

* the style image's **pixels** (a BLAKE2 digest of the array, its shape and
  dtype): this covers the file's path, size and modification time and also how it
  was read (``--max-size``, alpha over white, a colour-matched copy), so a changed
  file or another reading never hits a stale entry;
* the long side it is resized to, and the style layers;
* the encoder object itself (held by a weak reference: when the encoder is
  dropped, for instance by :func:`easel.nets.vgg.load_encoder`'s own memo, its
  Grams go with it; its weights file, layers, pooling, preprocessing and device
  are the encoder's), whether it runs channels-last;
* the autocast dtype of the forward pass (``None`` for fp32).

The style weight is not part of the key: a Gram matrix does not depend on it
(the weight multiplies the loss), so two jobs with one style at two weights
share their Grams. The memo is bounded (:data:`MAX_BYTES`, least recently used
dropped first) and may be emptied at any time with :func:`clear`.

Example:
    >>> from easel.style.target_cache import clear, stats
    >>> clear()
    >>> stats()
    MemoStats(hits=0, misses=0, entries=0, bytes=0)
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["MAX_BYTES", "MemoStats", "clear", "image_digest", "memo_grams", "stats"]

MAX_BYTES = 256 * 1024 * 1024
"""The most bytes of Gram matrices kept (about 100 style-and-size pairs of full VGG-19 style layers)."""

Grams = dict[str, torch.Tensor]


@dataclass(frozen=True)
class MemoStats:
    """How the memo has served this process.

    Attributes:
        hits: lookups answered from the memo.
        misses: lookups that computed the Grams.
        entries: Gram sets held now.
        bytes: their size in bytes.

    Example:
        >>> MemoStats(hits=1, misses=1, entries=1, bytes=4096).hits
        1
    """

    hits: int
    misses: int
    entries: int
    bytes: int


class _Memo:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[Any, ...], tuple[weakref.ref[Any], Grams, int]] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.dead = False  # an encoder was collected: sweep its entries at the next call

    def encoder_collected(self, _ref: Any) -> None:
        # a weakref callback may run inside any allocation, the lock held: only raise a flag here
        self.dead = True

    def sweep(self) -> None:
        """Drop the entries of collected encoders (the lock held)."""
        if self.dead:
            self.dead = False
            for key in [k for k, v in self.entries.items() if v[0]() is None]:
                self.bytes -= self.entries.pop(key)[2]


_MEMO = _Memo()


def image_digest(image: np.ndarray) -> str:
    """A digest of an array's pixels, shape and dtype (the memo's key for a style image).

    Example:
        >>> a = np.zeros((4, 4, 3), np.float32)
        >>> image_digest(a) == image_digest(a.copy()), image_digest(a) == image_digest(a[:2])
        (True, False)
    """
    array = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{array.shape}{array.dtype.str}".encode())
    digest.update(array.view(np.uint8).reshape(-1).data if array.size else b"")
    return digest.hexdigest()


def memo_grams(
    image: np.ndarray,
    long_side: int,
    layers: Sequence[str],
    encoder: torch.nn.Module,
    dtype: torch.dtype | None,
    compute: Callable[[], Grams],
) -> Grams:
    """The style Grams of ``image`` at ``long_side`` for ``encoder``: from the memo, or ``compute()``.

    Args:
        image: the style image as the run uses it, ``(H, W, 3)`` float32 RGB in [0, 1],
            before it is resized.
        long_side: the long side it is resized to, in pixels.
        layers: the style layers.
        encoder: the encoder that computes the features (kept by weak reference).
        dtype: the autocast dtype of the forward pass (``None``: fp32).
        compute: computes the Grams (layer name -> ``(N, C, C)`` tensor) on a miss.
            Callers must not modify the tensors it returns: they are shared.

    Returns:
        The Grams, the same tensors for every hit (so a second job computes
        bit-identical losses).

    Example:
        >>> import torch
        >>> enc = torch.nn.Identity()
        >>> calls = []
        >>> def compute():
        ...     calls.append(1)
        ...     return {"relu1_1": torch.ones(1, 3, 3)}
        >>> img = np.zeros((8, 8, 3), np.float32)
        >>> a = memo_grams(img, 8, ["relu1_1"], enc, None, compute)
        >>> b = memo_grams(img, 8, ["relu1_1"], enc, None, compute)
        >>> a is b, len(calls)
        (True, 1)
    """
    key = (
        id(encoder),
        image_digest(image),
        int(long_side),
        tuple(layers),
        bool(getattr(encoder, "channels_last", False)),
        str(dtype),
    )
    with _MEMO.lock:
        _MEMO.sweep()
        found = _MEMO.entries.get(key)
        if found is not None and found[0]() is encoder:
            _MEMO.entries.move_to_end(key)
            _MEMO.hits += 1
            return found[1]
        if found is not None:  # a dead encoder's id taken by a new one
            _MEMO.bytes -= _MEMO.entries.pop(key)[2]
    grams = compute()
    size = sum(t.numel() * t.element_size() for t in grams.values())
    ref = weakref.ref(encoder, _MEMO.encoder_collected)
    with _MEMO.lock:
        _MEMO.misses += 1
        if size <= MAX_BYTES:
            old = _MEMO.entries.pop(key, None)
            if old is not None:
                _MEMO.bytes -= old[2]
            _MEMO.entries[key] = (ref, grams, size)
            _MEMO.bytes += size
            while _MEMO.bytes > MAX_BYTES:
                _MEMO.bytes -= _MEMO.entries.popitem(last=False)[1][2]
    return grams


def stats() -> MemoStats:
    """Hits, misses and size of the memo in this process.

    Example:
        >>> stats().entries >= 0
        True
    """
    with _MEMO.lock:
        _MEMO.sweep()
        return MemoStats(_MEMO.hits, _MEMO.misses, len(_MEMO.entries), _MEMO.bytes)


def clear() -> None:
    """Empty the memo and reset its counters.

    Example:
        >>> clear(); stats().entries
        0
    """
    with _MEMO.lock:
        _MEMO.entries.clear()
        _MEMO.bytes = 0
        _MEMO.hits = 0
        _MEMO.misses = 0
