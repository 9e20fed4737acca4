"""argparse options generated from an options dataclass (see :mod:`easel.options`).

``add_options(parser, StyleOptions)`` adds one CLI option per declared field,
with the field's help text and default; ``options_from_args(StyleOptions,
args)`` builds the dataclass back from the parsed namespace. The flags each
field maps to are remembered on the parser, so an :class:`~easel.options.OptionError`
raised by the library is shown with the user's flag.
"""

from __future__ import annotations

import argparse
import os
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from easel.options import DeclaredOption, declared_options

FLAGS_DEST = "_option_flags"


def _comma_list(item: Callable[[str], Any], name: str) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected comma-separated {name}, got {text!r}")
        try:
            return tuple(item(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {name}, got {text!r}") from None

    return parse


def _number(kind: type, name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None

    return parse


def _parser_for(opt: DeclaredOption) -> Callable[[str], Any] | None:
    if opt.spec.parse is not None:
        return opt.spec.parse
    tp = opt.base_type
    origin = typing.get_origin(tp)
    if tp is int:
        return _number(int, "a whole number")
    if tp is float:
        return _number(float, "a number")
    if tp is str:
        return None
    if origin is tuple:
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        item = args[0] if args else str
        if item is float:
            return _comma_list(float, "numbers")
        if item is int:
            return _comma_list(int, "whole numbers")
        return _comma_list(str, "names")
    if origin is typing.Literal:
        return None
    if _is_pathlike(tp):
        return Path
    return None


def _is_pathlike(tp: Any) -> bool:
    args = typing.get_args(tp)
    return tp in (Path, os.PathLike) or any(
        a in (Path, os.PathLike) or typing.get_origin(a) is os.PathLike for a in args
    )


def _default_text(opt: DeclaredOption) -> str:
    value = opt.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def argument_group(parser: argparse.ArgumentParser, title: str) -> argparse._ArgumentGroup:
    """The ``--help`` section called ``title``, made when the parser has none yet."""
    for group in parser._action_groups:
        if group.title == title:
            return group
    return parser.add_argument_group(title)


def add_depth_file(parser: argparse.ArgumentParser) -> None:
    """The "depth" section of a command that takes a depth file: ``--depth FILE`` and ``--depth-kind``.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_depth_file(parser)
        >>> parser.parse_args(["--depth", "d.png", "--depth-kind", "disparity"]).depth_kind
        'disparity'
    """
    from pathlib import Path

    depth = argument_group(parser, "depth")
    depth.add_argument(
        "--depth", type=Path, metavar="FILE", help="depth of IMAGE (.npy, 16-bit .png, .exr ...)"
    )
    depth.add_argument(
        "--depth-kind",
        choices=("depth", "disparity"),
        default="depth",
        help="what --depth holds when the file does not say (default depth)",
    )


def add_options(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    exclude: Iterable[str] = (),
    only: Iterable[str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Add an option for every declared field of ``cls`` to ``parser``; return field -> flag.

    Args:
        parser: the command's parser.
        cls: an options dataclass whose fields are declared with :func:`easel.options.option`.
        exclude: fields the command handles itself (or not at all).
        only: add just these fields.
        defaults: CLI defaults that differ from the dataclass's (rare; say why at the call).

    Example:
        >>> add_options(parser, StyleOptions, exclude=("weights",))  # doctest: +SKIP
    """
    skip = set(exclude)
    wanted = None if only is None else set(only)
    groups: dict[str, argparse._ArgumentGroup] = {}
    flags: dict[str, str] = dict(parser.get_default(FLAGS_DEST) or {})
    for opt in declared_options(cls):
        if not opt.spec.cli or opt.name in skip or (wanted is not None and opt.name not in wanted):
            continue
        target: Any = parser
        if opt.spec.group:
            target = groups.get(opt.spec.group) or groups.setdefault(
                opt.spec.group, argument_group(parser, opt.spec.group)
            )
        default = (defaults or {}).get(opt.name, opt.default)
        help_text = opt.spec.help.replace("%", "%%")  # argparse formats help with %
        # a one-letter flag comes first, as in `-k/--colors`, in --help and in messages;
        # a longer alias (`--output-size` for `--size`) follows the flag and is not named
        short = opt.spec.short
        if short and len(short) == 2:
            names, shown_flag = [short, opt.flag], f"{short}/{opt.flag}"
        else:
            names, shown_flag = [opt.flag, *([short] if short else [])], opt.flag
        if opt.base_type is bool:
            if default:
                negative = opt.spec.negative_flag or "--no-" + opt.name.replace("_", "-")
                target.add_argument(negative, dest=opt.name, action="store_false", help=help_text)
                flags[opt.name] = negative
            else:
                target.add_argument(*names, dest=opt.name, action="store_true", help=help_text)
                flags[opt.name] = shown_flag
            parser.set_defaults(**{opt.name: default})
            continue
        choices = opt.spec.choices
        if choices is None and typing.get_origin(opt.base_type) is typing.Literal:
            choices = typing.get_args(opt.base_type)
        shown = _default_text(opt) if default == opt.default else str(default)
        if shown and "default" not in help_text:
            help_text = f"{help_text} (default {shown})"
        kwargs: dict[str, Any] = {"dest": opt.name, "default": default, "help": help_text}
        parse = _parser_for(opt)
        if parse is not None:
            kwargs["type"] = parse
        if choices is not None:
            kwargs["choices"] = choices
        if opt.spec.metavar:
            kwargs["metavar"] = opt.spec.metavar
        target.add_argument(*names, **kwargs)
        flags[opt.name] = shown_flag
    parser.set_defaults(**{FLAGS_DEST: flags})
    return flags


def options_from_args(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """Build ``cls`` from the declared fields found in ``args``, then ``overrides``.

    Example:
        >>> options = options_from_args(StyleOptions, args, weights=args.weights)  # doctest: +SKIP
    """
    values = {opt.name: getattr(args, opt.name) for opt in declared_options(cls) if hasattr(args, opt.name)}
    values.update(overrides)
    return cls(**values)


def flag_for(args: argparse.Namespace | None, field: str) -> str:
    """The CLI flag of option ``field`` in this command (``--`` + the dashed name when unknown)."""
    flags = getattr(args, FLAGS_DEST, None) or {}
    return flags.get(field) or "--" + field.replace("_", "-")
