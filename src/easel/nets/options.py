"""The encoder's option fields (``model``, ``weights``, ``precision``), declared once for every capability.

Torch-free, like the options dataclasses that use them, so ``easel --help`` stays light.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Opts:
    ...     model: str = model_option()
    ...     precision: str = precision_option()
    >>> Opts().model, Opts().precision
    ('vgg19-caffe', 'auto')
"""

from __future__ import annotations

from typing import Any

from easel.nets.registry import PREPROCESSING as MODEL_PREPROCESSING
from easel.options import option

__all__ = ["DEFAULT_MODEL", "PRECISIONS", "model_option", "precision_option", "weights_option"]

DEFAULT_MODEL = "vgg19-caffe"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def model_option(group: str | None = None) -> Any:
    """The ``model`` field: a VGG-19 of the weights registry.

    Example:
        >>> model_option().default
        'vgg19-caffe'
    """
    return option(
        DEFAULT_MODEL,
        help="encoder weights from the registry",
        choices=tuple(MODEL_PREPROCESSING),
        group=group,
    )


def weights_option(group: str | None = None) -> Any:
    """The ``weights`` field: a local weights file that replaces the cached ``--model``.

    Example:
        >>> weights_option().default is None
        True
    """
    return option(
        None, help="use this local weights file instead of the cached --model", metavar="PATH", group=group
    )


def precision_option(group: str | None = None, note: str = "") -> Any:
    """The ``precision`` field: autocast precision, ``auto`` measured per machine (:mod:`easel.nets.precision`).

    Example:
        >>> precision_option().default
        'auto'
    """
    return option(
        "auto",
        help="autocast precision (default auto: the faster of fp32 and bf16 here, measured once and cached"
        + (f"; {note})" if note else ")"),
        choices=PRECISIONS,
        group=group,
    )
