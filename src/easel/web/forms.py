"""Forms from options dataclasses: one field per declared option, and the command line back.

The studio's widgets, their defaults, help and choices, and the "Advanced" fold
all come from the declarations of :func:`easel.options.option` (as the CLI's
flags do), so a form value maps to a flag exactly as ``easel CMD --help`` shows
it. :func:`option_args` turns the values the user changed into those flags;
parsing that command line with ``easel``'s own parser gives back the same options
(the tests check it for every tab).

Fields the CLI does not show (``cli=False``) are not in the form either, nor are
local file paths (``--weights PATH``): a web page may not make the server read a
file it names. The server's operator supplies those (``easel serve --weights``).
"""

from __future__ import annotations

import argparse
import math
import os
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from easel.options import DeclaredOption, OptionError, declared_options

__all__ = ["FormField", "build_options", "form_fields", "option_args"]

Kind = typing.Literal["bool", "choice", "int", "float", "text"]


@dataclass(frozen=True)
class FormField:
    """One field of a form, from one declared option.

    Attributes:
        cls: the options dataclass it belongs to.
        option: the declaration.
        kind: the widget: ``bool`` (checkbox), ``choice`` (dropdown), ``int``,
            ``float`` (number boxes), ``text`` (the CLI's text for the value, e.g.
            ``0.05,0`` or ``1280x720``; empty = the default; also numbers whose
            default is ``None``, ``--epochs``: a number box sends 0 when left empty).
        advanced: folded under "Advanced".

    Example:
        >>> from easel.art.quantize import QuantizeOptions
        >>> [(f.name, f.kind) for f in form_fields(QuantizeOptions)]
        [('n_colors', 'int'), ('space', 'choice'), ('dither', 'bool'), ('seed', 'int')]
    """

    cls: type
    option: DeclaredOption
    kind: Kind
    advanced: bool

    @property
    def name(self) -> str:
        """The field name (``n_colors``)."""
        return self.option.name

    @property
    def flag(self) -> str:
        """The CLI flag (``--colors``)."""
        return self.option.flag

    @property
    def cli_flag(self) -> str:
        """The flag a changed value is written with (``--no-multiscale`` for a box that is on by default)."""
        if self.kind == "bool" and self.option.default:
            return self.option.spec.negative_flag or "--no-" + self.name.replace("_", "-")
        return self.flag

    @property
    def label(self) -> str:
        """The widget's label: the flag, as in ``--help`` (``--colors``; ``multiscale (off: --no-multiscale)``)."""
        if self.cli_flag != self.flag:
            return f"{self.name.replace('_', ' ')} (off: {self.cli_flag})"
        return self.flag

    @property
    def choices(self) -> tuple[Any, ...]:
        """The allowed values of a ``choice`` field."""
        found = self.option.spec.choices
        if found is None and typing.get_origin(self.option.base_type) is typing.Literal:
            found = typing.get_args(self.option.base_type)
        return tuple(found or ())

    @property
    def default_text(self) -> str:
        """The default as the CLI would print it (the placeholder of a ``text`` field)."""
        value = self.option.default
        if value is None:
            return ""
        if isinstance(value, tuple):
            return ",".join(_number_text(v) for v in value)
        return _number_text(value)

    @property
    def initial(self) -> Any:
        """The widget's initial value (``None`` = empty: the default)."""
        if self.kind in ("bool", "choice", "int", "float"):
            return self.option.default
        return ""

    def parse(self, raw: Any) -> Any:
        """The option's value for the widget's ``raw`` value; :class:`OptionError` when it is bad.

        Example:
            >>> from easel.art.quantize import QuantizeOptions
            >>> form_fields(QuantizeOptions)[0].parse(8.0)
            8
        """
        opt = self.option
        if self.kind == "bool":
            return bool(raw)
        if self.kind == "choice":
            if raw not in self.choices:
                raise OptionError(
                    opt.name, f"must be one of {', '.join(map(str, self.choices))}, got {raw!r}"
                )
            return raw
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return opt.default
        if self.kind in ("int", "float"):
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise OptionError(opt.name, f"must be a number, got {raw!r}") from None
            if self.kind == "int":
                if not math.isfinite(number) or number != int(number):
                    raise OptionError(opt.name, f"must be a whole number, got {raw!r}")
                return int(number)
            return number
        return _parse_text(opt, str(raw).strip())

    def text(self, value: Any) -> str | None:
        """How the CLI writes ``value`` after the flag; ``None`` when the flag is not needed.

        Example:
            >>> from easel.art.quantize import QuantizeOptions
            >>> form_fields(QuantizeOptions)[0].text(8), form_fields(QuantizeOptions)[0].text(16)
            ('8', None)
        """
        if value == self.option.default or value is None:
            return None
        if isinstance(value, tuple):
            return ",".join(_number_text(v) for v in value)
        return _number_text(value)


def _number_text(value: Any) -> str:
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _parse_text(opt: DeclaredOption, text: str) -> Any:
    parse = opt.spec.parse
    try:
        if parse is not None:
            return parse(text)
        tp = opt.base_type
        if typing.get_origin(tp) is tuple:
            items = [a for a in typing.get_args(tp) if a is not Ellipsis]
            kind = items[0] if items else str
            parts = [p.strip() for p in text.split(",") if p.strip()]
            if not parts:
                raise ValueError(text)
            return tuple(kind(p) for p in parts)
        if tp is int:
            number = float(text)
            if not math.isfinite(number) or number != int(number):
                raise ValueError(text)
            return int(number)
        if tp is float:
            return float(text)
        return text
    except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
        detail = str(exc) if isinstance(exc, argparse.ArgumentTypeError) else f"cannot read {text!r}"
        raise OptionError(opt.name, f"{detail}") from None


def _kind(opt: DeclaredOption) -> Kind:
    tp = opt.base_type
    if opt.spec.parse is not None:
        return "text"
    if tp is bool and not opt.optional:
        return "bool"
    if opt.spec.choices is not None or typing.get_origin(tp) is typing.Literal:
        return "choice"
    if tp is int:
        return "int"
    if tp is float:
        return "float"
    return "text"


def _is_path(opt: DeclaredOption) -> bool:
    if opt.spec.metavar in ("PATH", "FILE", "FOLDER"):
        return True
    args = typing.get_args(opt.type)
    return opt.type is os.PathLike or any(
        a is os.PathLike or typing.get_origin(a) is os.PathLike for a in args
    )


def form_fields(
    cls: type, *, main: Iterable[str] | None = None, exclude: Iterable[str] = ()
) -> list[FormField]:
    """The form of options dataclass ``cls``: every field the CLI shows, except local paths.

    Args:
        cls: the options dataclass.
        main: the fields shown unfolded; default: those without a ``group``.
        exclude: fields the tab handles itself (or not at all).

    Example:
        >>> from easel.style import StyleOptions
        >>> fields = form_fields(StyleOptions, main=("size", "iterations", "style_weight"))
        >>> [f.name for f in fields if not f.advanced]
        ['size', 'iterations', 'style_weight']
        >>> "weights" in {f.name for f in fields}  # a local path: the server's operator sets it
        False
    """
    skip = set(exclude)
    wanted = None if main is None else set(main)
    fields = []
    for opt in declared_options(cls):
        if not opt.spec.cli or opt.name in skip or _is_path(opt):
            continue
        kind = _kind(opt)
        if kind == "bool" and opt.optional:  # tri-state (None = the rule): a choice in the form
            kind = "text"
        if kind in ("int", "float") and opt.optional:  # a number box cannot stay empty (None): text
            kind = "text"
        advanced = (opt.spec.group is not None) if wanted is None else opt.name not in wanted
        fields.append(FormField(cls, opt, kind, advanced))
    return fields


def build_options(cls: type, fields: Sequence[FormField], raw: Sequence[Any], **fixed: Any) -> Any:
    """The options dataclass from the widgets' values (in ``fields`` order), validated.

    Raises:
        OptionError: a bad value, named by its field (show it with :meth:`OptionError.with_name`
            and the field's flag).

    Example:
        >>> from easel.art.quantize import QuantizeOptions
        >>> fields = form_fields(QuantizeOptions)
        >>> build_options(QuantizeOptions, fields, [8, "lab", True, 0]).n_colors
        8
    """
    values = {f.name: f.parse(v) for f, v in zip(fields, raw, strict=True) if f.cls is cls}
    values.update(fixed)
    options = cls(**values)
    validate = getattr(options, "validate", None)
    return validate() if callable(validate) else options


def option_args(
    fields: Sequence[FormField], options: Mapping[type, Any], raw: Sequence[Any] | None = None
) -> list[str]:
    """The CLI flags for the values that differ from the defaults, in form order.

    ``raw`` (the widgets' values, in ``fields`` order) gives the text of ``text``
    fields as the user typed it (``1280x720``), which the CLI reads back.

    Example:
        >>> from easel.art.quantize import QuantizeOptions
        >>> fields = form_fields(QuantizeOptions)
        >>> option_args(fields, {QuantizeOptions: QuantizeOptions(n_colors=8, dither=True)})
        ['--colors', '8', '--dither']
    """
    args: list[str] = []
    for i, f in enumerate(fields):
        value = getattr(options[f.cls], f.name)
        opt = f.option
        if f.kind == "bool":
            if bool(value) == bool(opt.default):
                continue
            args.append(f.cli_flag)
            continue
        text = f.text(value)
        typed = raw[i] if raw is not None else None
        if text is not None and f.kind == "text" and isinstance(typed, str) and typed.strip():
            text = typed.strip()
        if text is not None:
            args += [f.flag, text]
    return args
