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
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pkgutil
import sys
import types
from typing import NoReturn

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


_COMMAND_PARSERS: dict[str, argparse.ArgumentParser] = {}


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and a pointer to ``--help`` (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="easel",
        description="easel turns photos and paintings into art and 3D motion.",
        epilog="Run `easel COMMAND --help` for a command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"easel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_parent()
    for module in command_modules():
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process and return its exit code.

    0 success; 1 internal error (or a run that ended early, e.g. a non-finite loss);
    2 bad input; 130 interrupted (Ctrl-C); 141 output pipe closed; 143 terminated (SIGTERM).

    Example:
        >>> main(["quantize", "photo.jpg", "-k", "8", "-o", "poster.png"])  # doctest: +SKIP
        0
    """
    parser = build_parser()
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
    ctx = CommandContext.from_args(args)
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
