"""The ``easel`` command line: a thin layer over the Python API.

Each command is a module in this package that defines::

    NAME = "quantize"                 # the sub-command
    HELP = "one line for `easel --help`"
    ORDER = 10                        # position in the listing
    EPILOG = "example: ..."           # worked example shown by --help
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace, ctx: CommandContext) -> int | None: ...
    def demo(gallery: Gallery) -> None: ...   # optional: add to `easel demo`

Modules are discovered, so a new capability adds one file and nothing else.
A run imports only the module of the command it runs: the listing of ``easel
--help`` (NAME, HELP, ORDER) is read from the modules' sources, and a module
whose header is not plain literals is imported instead.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import logging
import os
import pkgutil
import re
import sys
import types
from pathlib import Path
from typing import NamedTuple, NoReturn

from easel import __version__
from easel.cli._common import (
    CommandContext,
    StderrHandler,
    common_parent,
    describe_exception,
    handle_signals,
)
from easel.cli._options import flag_for
from easel.errors import EaselError, InputError
from easel.options import OptionError
from easel.progress import ProgressFn

__all__ = ["main", "command_modules"]


def command_modules() -> list[types.ModuleType]:
    """The command modules of this package, in listing order.

    Example:
        >>> [m.__name__.rsplit(".", 1)[1] for m in command_modules()][:3]
        ['quantize', 'superpixels', 'stylize']
    """
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules.append(module)
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


class _Command(NamedTuple):
    name: str
    help: str
    order: int
    module: str  # dotted name, imported only when the command runs


_HEADER = re.compile(r"^(NAME|HELP|ORDER) = (.+)$", re.MULTILINE)


def _header_of(path: Path) -> dict[str, object] | None:
    """NAME, HELP and ORDER of a command module, read from its source without importing it.

    ``None`` when the file cannot be read or its header is not one-line literals
    with ``add_arguments`` and ``run`` defined (the caller imports the module then).
    """
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if "\ndef run(" not in source or "\ndef add_arguments(" not in source:
        return None
    header: dict[str, object] = {}
    for key, value in _HEADER.findall(source):
        if key in header:
            return None
        try:
            header[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
    if not (isinstance(header.get("NAME"), str) and isinstance(header.get("HELP"), str)):
        return None
    if not isinstance(header.setdefault("ORDER", 100), int):
        return None
    return header


def _command_table() -> list[_Command]:
    """Every command, in listing order, importing no command module that has a plain header.

    Example:
        >>> [c.name for c in _command_table()][:3]
        ['quantize', 'superpixels', 'stylize']
    """
    table = []
    folder = Path(__path__[0])
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        dotted = f"{__name__}.{info.name}"
        header = _header_of(folder / f"{info.name}.py")
        if header is None:
            module = importlib.import_module(dotted)
            if not (hasattr(module, "NAME") and hasattr(module, "run")):
                continue
            header = {"NAME": module.NAME, "HELP": module.HELP, "ORDER": getattr(module, "ORDER", 100)}
        order = header["ORDER"]
        assert isinstance(order, int)
        table.append(_Command(str(header["NAME"]), str(header["HELP"]), order, dotted))
    return sorted(table, key=lambda c: (c.order, c.name))


def _command_asked(argv: list[str]) -> str | None:
    """The command word of a command line: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


_COMMAND_PARSERS: dict[str, argparse.ArgumentParser] = {}


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and a pointer to ``--help`` (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``easel`` argument parser; with ``only``, just that command's own parser is complete.

    Every command is listed (``easel --help`` is the same either way), but with
    ``only`` the other commands' modules are not imported and their parsers take
    no options: a run parses one command, so it needs one.

    Example:
        >>> build_parser(only="quantize").parse_args(["quantize", "a.png", "-o", "b.png"]).n_colors
        16
    """
    parser = Parser(
        prog="easel",
        description="easel turns photos and paintings into art and 3D motion.",
        epilog="Run `easel COMMAND --help` for a command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"easel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_parent()
    for command in _command_table():
        if only is not None and command.name != only:
            sub.add_parser(command.name, help=command.help)
            continue
        module = importlib.import_module(command.module)
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            epilog=getattr(module, "EPILOG", None),
            parents=[parent],  # type: ignore[list-item]
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module)
        _COMMAND_PARSERS[module.NAME] = cmd
    return parser


def main(argv: list[str] | None = None, progress: ProgressFn | None = None) -> int:
    """Run the CLI in-process and return its exit code.

    0 success; 1 internal error (or a run that ended early, e.g. a non-finite loss);
    2 bad input; 130 interrupted (Ctrl-C); 141 output pipe closed; 143 terminated (SIGTERM).
    ``progress``, when given, receives the command's progress instead of the bars
    (a batch worker passes it on to the batch).

    Example:
        >>> main(["quantize", "photo.jpg", "-k", "8", "-o", "poster.png"])  # doctest: +SKIP
        0
    """
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_command_asked(words) or "")  # `easel --help`: no command module
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the command's own parser, so the message names the command
            command_parser = _COMMAND_PARSERS.get(getattr(args, "command", None) or "", parser)
            command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        print("easel: error: no COMMAND given (see `easel --help` for the commands)", file=sys.stderr)
        return 2
    args._argv = list(sys.argv[1:] if argv is None else argv)
    ctx = CommandContext.from_args(args, progress_sink=progress)
    _setup_logging(args)
    try:
        with handle_signals(ctx):
            code = args._module.run(args, ctx)
        return 0 if code is None else int(code)
    except KeyboardInterrupt:
        ctx.close()
        code = ctx.interrupted_exit_code()
        print(f"easel {args.command}: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr)
        return code
    except BrokenPipeError:
        # the reader went away (`easel weights list --json | head`): stop quietly, and point
        # stdout at /dev/null so the interpreter's final flush does not complain either
        ctx.close()
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it
    except (InputError, EaselError, ImportError) as exc:
        ctx.close()
        if args.debug:
            raise
        message = (
            exc.with_name(flag_for(args, exc.field))
            if isinstance(exc, OptionError)
            else describe_exception(exc)
        )
        print(f"easel {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(exc, (InputError, ImportError)) else 1
    except MemoryError:
        ctx.close()
        if args.debug:
            raise
        print(
            f"easel {args.command}: error: out of memory; try a smaller --size/--max-size",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:
        ctx.close()
        if args.debug:
            raise
        print(
            f"easel {args.command}: internal error: {describe_exception(exc)} "
            "(run again with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
    finally:
        ctx.close()


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else (logging.WARNING if args.quiet else logging.INFO)
    root = logging.getLogger("easel")
    root.setLevel(level)
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("easel: %(message)s"))
        root.addHandler(handler)
        root.propagate = False


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
