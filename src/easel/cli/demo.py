"""``easel demo``: run every capability on bundled samples and write a gallery page."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from easel.cli._common import CommandContext, Terminated, describe_exception
from easel.errors import InputError
from easel.progress import report

NAME = "demo"
ORDER = 90
HELP = "run every capability on bundled sample images and write an HTML gallery"
DESCRIPTION = (
    "Runs each available capability on sample photos bundled with scikit-image (no downloads) "
    "and writes the outputs and OUT/index.html, a gallery showing each input beside its outputs "
    "with the command that made them."
)
EPILOG = """example:
  easel demo -o outputs/demo            # then open outputs/demo/index.html
  easel demo -o outputs/demo --only quantize --only superpixels -y
  easel demo -o /tmp/smoke --quick      # every command at a tiny size, in seconds
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel demo``'s options to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel demo")
        >>> add_arguments(parser)
        >>> parser.parse_args([]).output
        PosixPath('outputs/demo')
    """
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("outputs/demo"),
        metavar="DIR",
        help="folder for the gallery (default outputs/demo)",
    )
    parser.add_argument(
        "-y", "--overwrite", action="store_true", help="reuse DIR if it already holds a gallery"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small photos and short runs: a smoke test of every command in seconds, not a gallery to show",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="COMMAND",
        help="run only this command's demo (repeatable)",
    )


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Run ``easel demo``: each command's demo (or those in ``--only``) into one gallery; return the exit code.

    Example:
        >>> from easel.cli import main
        >>> main(["demo", "-o", "outputs/demo"])  # runs this function  # doctest: +SKIP
        0
    """
    from easel.cli import command_modules
    from easel.cli._gallery import Gallery

    out: Path = args.output
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if (out / "index.html").exists() and not args.overwrite:
        raise InputError(f"{out}: already holds a gallery (use --overwrite / -y to replace it)")
    demos = [m for m in command_modules() if hasattr(m, "demo")]
    known = {m.NAME for m in demos}
    if args.only:
        unknown = sorted(set(args.only) - known)
        if unknown:
            raise InputError(f"--only: no demo for {', '.join(unknown)}; demos: {', '.join(sorted(known))}")
        demos = [m for m in demos if m.NAME in args.only]
    out.mkdir(parents=True, exist_ok=True)
    gallery = Gallery(out, quiet=True, quick=args.quick)
    interrupted = False
    for index, module in enumerate(demos):
        with ctx.timed(module.NAME):
            try:
                report(ctx.progress, "demo", index, len(demos))
                ctx.notice(f"demo {index + 1}/{len(demos)}: {module.NAME}")
                module.demo(gallery)
            except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM, here or in a command: stop
                if isinstance(exc, Terminated):
                    ctx.signal = signal.SIGTERM
                elif ctx.signal is None:
                    ctx.signal = signal.SIGINT
                interrupted = True
            except Exception as exc:  # one broken demo must not hide the others
                if args.debug:
                    raise
                gallery.failures.append(f"{module.NAME}: {describe_exception(exc)}")
        if interrupted:
            break
    page = gallery.write_html()
    if interrupted:  # the page shows what was made so far
        ctx.notice(f"interrupted: {page} shows the {len(gallery.entries)} results made so far")
        return ctx.interrupted_exit_code()
    report(ctx.progress, "demo", len(demos), len(demos))
    for failure in gallery.failures:
        ctx.notice(f"demo failed: {failure}")
    ctx.done(f"wrote {page} ({len(gallery.entries)} results from {len(demos)} commands)")
    return 1 if gallery.failures else 0
