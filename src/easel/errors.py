"""Exceptions shared by the whole package.

The CLI maps :class:`InputError` (and its subclasses) to exit code 2 with a
one-line message; anything else is an internal error (exit code 1).
"""

from __future__ import annotations


class EaselError(Exception):
    """Base class of every error easel raises on purpose.

    Example:
        >>> issubclass(InputError, EaselError) and issubclass(MissingExtraError, EaselError)
        True
    """


class InputError(EaselError, ValueError):
    """Bad user input: a file that cannot be read, a bad option value, a bad shape.

    The message is shown to the user as a single line, so it names the file or
    option and the problem.

    Example:
        >>> try:
        ...     raise InputError("photo.jpg: no such file")
        ... except ValueError as exc:  # an InputError is also a ValueError
        ...     print(exc)
        photo.jpg: no such file
    """


class OutputExistsError(InputError):
    """An output file exists and ``overwrite`` was not requested.

    Example:
        >>> isinstance(OutputExistsError("art.png exists; pass --overwrite to replace it"), InputError)
        True
    """


class WeightsError(InputError):
    """Pretrained weights are missing, corrupt or of the wrong format.

    Example:
        >>> isinstance(WeightsError("vgg19-caffe is not downloaded"), InputError)
        True
    """


class MissingExtraError(EaselError, ImportError):
    """An optional dependency group (``pip install easel[NAME]``) is not installed.

    Example:
        >>> print(MissingExtraError("depth", "transformers"))
        this feature needs the optional dependency 'transformers': install it with `pip install 'easel[depth]'`
    """

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this feature needs the optional dependency {module!r}: "
            f"install it with `pip install 'easel[{extra}]'`"
        )
        self.extra = extra
        self.module = module
