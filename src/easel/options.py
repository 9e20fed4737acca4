"""Options declared once: a dataclass field carries its help text, flag and choices.

A capability's settings are a dataclass (``StyleOptions``, ``KenBurnsOptions``,
...). Declaring each field with :func:`option` puts the user-facing
description next to the default, so the CLI (``easel.cli._options``), the
studio's forms and the batch manifest's ``args`` are all generated from the
same declaration (nerfstudio's dataclass configs are the model):

.. code-block:: python

    @dataclass
    class PosterOptions:
        n_colors: int = option(16, help="number of colours", flag="--colors", short="-k", metavar="K")
        dither: bool = option(False, help="Floyd-Steinberg dithering")

        def validate(self) -> PosterOptions:
            if self.n_colors < 1:
                raise OptionError("n_colors", f"must be at least 1, got {self.n_colors}")
            return self

Library errors name the field (``n_colors must be at least 1``); the CLI
rewrites them to the user's flag (``--colors must be at least 1``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from typing import Any

from easel.errors import InputError

__all__ = [
    "DeclaredOption",
    "OptionError",
    "OptionSpec",
    "declared_options",
    "option",
    "options_dict",
]

_KEY = "easel.option"


@dataclass(frozen=True)
class OptionSpec:
    """The user-facing side of one option.

    Attributes:
        help: one-line description (the ``--help`` text, the studio's label hint).
        flag: the CLI flag (default ``--field-name``).
        short: an optional one-letter flag (``-k``, listed first: ``-k/--colors``) or a
            longer alias (``--output-size``, listed after ``flag``).
        metavar: the placeholder shown in ``--help``.
        choices: the allowed values, when they are a fixed set.
        cli: whether the CLI shows it (False for API-only fields such as arrays).
        group: the ``--help`` section it is listed under.
        parse: turns the CLI text into the value (default: from the field's type).
        negative_flag: for a boolean that defaults to True, the flag that turns it
            off (default ``--no-field-name``).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Opts:
        ...     n_colors: int = option(16, help="number of colours", flag="--colors", short="-k", metavar="K")
        >>> spec = declared_options(Opts)[0].spec
        >>> spec.short, spec.flag, spec.metavar
        ('-k', '--colors', 'K')
    """

    help: str
    flag: str | None = None
    short: str | None = None
    metavar: str | None = None
    choices: tuple[Any, ...] | None = None
    cli: bool = True
    group: str | None = None
    parse: Callable[[str], Any] | None = None
    negative_flag: str | None = None


def option(
    default: Any = MISSING,
    *,
    help: str,  # noqa: A002 (the natural name, as in argparse)
    flag: str | None = None,
    short: str | None = None,
    metavar: str | None = None,
    choices: tuple[Any, ...] | None = None,
    cli: bool = True,
    group: str | None = None,
    parse: Callable[[str], Any] | None = None,
    negative_flag: str | None = None,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field with its user-facing declaration (see :class:`OptionSpec`).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Opts:
        ...     size: int = option(512, help="long side of the output, in pixels", metavar="PX")
        >>> declared_options(Opts)[0].flag
        '--size'
    """
    spec = OptionSpec(help, flag, short, metavar, choices, cli, group, parse, negative_flag)
    metadata = {_KEY: spec}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class DeclaredOption:
    """A field of an options dataclass with its declaration and resolved type.

    Attributes:
        name: the field name (``style_weight``).
        type: the resolved annotation (``float``, ``int | None``, ``tuple[str, ...]``).
        default: the default value (``MISSING`` when the field has none).
        spec: the declaration.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Opts:
        ...     size: int = option(512, help="long side of the output, in pixels")
        >>> opt = declared_options(Opts)[0]
        >>> opt.name, opt.type, opt.default
        ('size', <class 'int'>, 512)
    """

    name: str
    type: Any
    default: Any
    spec: OptionSpec

    @property
    def flag(self) -> str:
        """The CLI flag (``--style-weight``)."""
        return self.spec.flag or "--" + self.name.replace("_", "-")

    @property
    def base_type(self) -> Any:
        """The annotation without ``None`` (``int | None`` -> ``int``)."""
        args = typing.get_args(self.type)
        if _is_union(self.type):
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                return rest[0]
        return self.type

    @property
    def optional(self) -> bool:
        """Whether ``None`` is an allowed value."""
        return _is_union(self.type) and type(None) in typing.get_args(self.type)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def declared_options(cls: type) -> list[DeclaredOption]:
    """The fields of dataclass ``cls`` declared with :func:`option`, in order.

    Example:
        >>> [o.name for o in declared_options(SomeOptions)]  # doctest: +SKIP
        ['size', 'iterations']
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_KEY)
        if spec is None:
            continue
        default = f.default
        if default is MISSING and f.default_factory is not MISSING:
            default = f.default_factory()
        found.append(DeclaredOption(f.name, hints[f.name], default, spec))
    return found


def options_dict(options: Any) -> dict[str, Any]:
    """A JSON-friendly dict of an options dataclass (paths as strings, tuples as lists).

    Example:
        >>> options_dict(StyleOptions(size=256))["size"]  # doctest: +SKIP
        256
    """
    import os

    def plain(value: Any) -> Any:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    return {k: plain(v) for k, v in dataclasses.asdict(options).items()}


class OptionError(InputError):
    """A bad option value; ``field`` names the option, the message says what is wrong.

    The library's message names the field (``style_weight must be >= 0``); the CLI
    shows the same message with the user's flag (``--style-weight must be >= 0``).

    Example:
        >>> str(OptionError("n_colors", "must be at least 1, got 0"))
        'n_colors must be at least 1, got 0'
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem

    def with_name(self, name: str) -> str:
        """The message with ``name`` (a CLI flag, a form label) in place of the field."""
        return f"{name} {self.problem}"
