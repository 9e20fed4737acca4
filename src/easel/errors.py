"""Exceptions shared by the whole package.

The CLI maps :class:`InputError` (and its subclasses) to exit code 2 with a
one-line message; anything else is an internal error (exit code 1).
"""

from __future__ import annotations


class EaselError(Exception):
    """Base class of every error easel raises on purpose."""


class InputError(EaselError, ValueError):
    """Bad user input: a file that cannot be read, a bad option value, a bad shape.

    The message is shown to the user as a single line, so it names the file or
    option and the problem.
    """


class OutputExistsError(InputError):
    """An output file exists and ``overwrite`` was not requested."""


class WeightsError(InputError):
    """Pretrained weights are missing, corrupt or of the wrong format."""


class MissingExtraError(EaselError, ImportError):
    """An optional dependency group (``pip install easel[NAME]``) is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this feature needs the optional dependency {module!r}: "
            f"install it with `pip install 'easel[{extra}]'`"
        )
        self.extra = extra
        self.module = module
