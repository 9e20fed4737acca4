"""``easel weights``: list, download, locate and verify pretrained model files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from easel.cli._common import CommandContext
from easel.errors import InputError, WeightsError

if TYPE_CHECKING:
    from easel.weights import WeightsEntry

NAME = "weights"
HELP = "list, download, locate and verify pretrained model files"
ORDER = 90
DESCRIPTION = """\
Manage the pretrained model files easel can use. Nothing is ever downloaded
behind your back: commands that need weights look in the cache (or take
--weights PATH) and tell you how to get them when they are missing.

actions:
  list                 every known model: present or missing, size, licence, what uses it
  download NAME...     download into the cache (resumable, sha256-checked); --all for every model
  path NAME            print the cached path (exit 2 when missing)
  verify [NAME...]     re-check cached files against their sha256

The cache is $EASEL_HOME/weights, or the platform cache folder
(~/.cache/easel/weights on Linux) when EASEL_HOME is not set.
"""
EPILOG = """\
examples:
  easel weights list
  easel weights download vgg19-caffe
  easel weights path vgg19-caffe
  easel weights verify --all
"""


MAX_TIMEOUT_S = 86_400.0
"""Longest accepted ``--timeout`` (a day): sockets refuse larger values."""


def timeout_seconds(text: str) -> float:
    """``--timeout`` text -> seconds: a number in (0, 86400].

    Example:
        >>> timeout_seconds("30")
        30.0
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, {MAX_TIMEOUT_S:g}], got {text}")
    return value


def _sub_parent() -> argparse.ArgumentParser:
    """``--quiet``/``--debug`` accepted after the action too, without resetting them when absent."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel weights``' actions (``list``, ``download``, ``path``, ``verify``) to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel weights")
        >>> add_arguments(parser)
        >>> parser.parse_args(["list"]).action
        'list'
    """
    parent = _sub_parent()
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p_list = actions.add_parser(
        "list", parents=[parent], help="show every known model and whether it is cached"
    )
    p_list.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p_down = actions.add_parser(
        "download",
        parents=[parent],
        help="download models into the cache",
        epilog="example: easel weights download vgg19-caffe",
    )
    p_down.add_argument("names", nargs="*", metavar="NAME", help="model names (see `easel weights list`)")
    p_down.add_argument("--all", action="store_true", help="download every model that is not cached yet")
    p_down.add_argument("--force", action="store_true", help="download again even if cached")
    p_down.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=60.0,
        metavar="S",
        help="network timeout in seconds (default 60)",
    )

    p_path = actions.add_parser(
        "path", parents=[parent], help="print where a model is cached (exit 2 when missing)"
    )
    p_path.add_argument("name", metavar="NAME")

    p_verify = actions.add_parser(
        "verify", parents=[parent], help="re-check cached files against their sha256"
    )
    p_verify.add_argument("names", nargs="*", metavar="NAME")
    p_verify.add_argument("--all", action="store_true", help="verify every cached model (the default)")


def human_size(size: int | None) -> str:
    """``548102387`` -> ``"548.1 MB"`` (``"?"`` when unknown).

    Example:
        >>> human_size(548102387), human_size(None)
        ('548.1 MB', '?')
    """
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def _listing() -> list[dict[str, Any]]:
    from easel import weights

    items = []
    for entry in weights.entries():
        present = weights.is_present(entry.name)
        folder = weights.entry_dir(entry.name)
        partial = not present and any((folder / f"{f.filename}.part").is_file() for f in entry.files)
        items.append(
            {
                "name": entry.name,
                "present": present,
                "partial": partial,
                "verified": entry.verified,
                "path": str(weights.local_path(entry.name)),
                # the registry's size; for a cached entry whose size is not pinned, the files' own
                "size_bytes": entry.size
                if entry.size is not None or not present
                else _local_size(folder, entry),
                "licence": entry.licence,
                "used_by": entry.used_by,
                "description": entry.description,
                "format": entry.fmt,
                "homepage": entry.homepage,
                "files": [
                    {
                        "filename": f.filename,
                        "url": f.url,
                        "mirrors": list(f.mirrors),
                        "sha256": f.sha256,
                        "size_bytes": f.size,
                    }
                    for f in entry.files
                ],
            }
        )
    return items


def _local_size(folder: Path, entry: WeightsEntry) -> int:
    """Bytes the cached files of ``entry`` take."""
    return sum((folder / f.filename).stat().st_size for f in entry.files)


def _run_list(args: argparse.Namespace) -> int:
    from easel import weights

    items = _listing()
    if args.json:
        print(json.dumps({"cache_dir": str(weights.cache_dir()), "weights": items}, indent=2))
        return 0
    if not items:
        print("no pretrained weights are registered in this installation")
        return 0
    rows = [
        [
            item["name"],
            "present"
            if item["present"]
            else ("partial" if item["partial"] else ("missing" if item["verified"] else "manual")),
            human_size(item["size_bytes"]),
            item["licence"],
            item["used_by"],
        ]
        for item in items
    ]
    print(_table(rows, ["NAME", "STATUS", "SIZE", "LICENCE", "USED BY"]))
    missing = sum(not item["present"] for item in items)
    print(f"\ncache: {weights.cache_dir()}")
    if missing:
        print("get a missing model with `easel weights download NAME` (or --all); partial downloads resume")
    if any(not item["verified"] and not item["present"] for item in items):
        print(
            "manual: no verified checksum is recorded, so easel does not download it: fetch the file "
            "from its URL (`easel weights list --json`) and pass it with --weights PATH"
        )
    return 0


def _selected(args: argparse.Namespace, action: str) -> list[str]:
    from easel import weights

    if args.names and args.all:
        raise InputError(f"weights {action}: give model names or --all, not both")
    if args.names:
        for name in args.names:
            weights.get_entry(name)  # unknown names fail before any work
        return list(dict.fromkeys(args.names))
    if action == "verify":
        return [entry.name for entry in weights.entries()]
    if args.all:
        return [entry.name for entry in weights.entries() if entry.verified]
    raise InputError(
        f"weights {action}: name the models to {action} (see `easel weights list`), or pass --all"
    )


def _run_download(args: argparse.Namespace, ctx: CommandContext) -> int:
    from easel import weights

    names = _selected(args, "download")
    if not names:
        ctx.done("no pretrained weights are registered in this installation")
        return 0
    failed: list[str] = []
    for name in names:
        if weights.is_present(name) and not args.force:
            ctx.done(f"{name}: already downloaded: {weights.local_path(name)}")
            continue
        try:
            path = weights.download(name, progress=ctx.progress, force=args.force, timeout=args.timeout)
        except WeightsError as exc:
            if len(names) == 1:
                raise
            ctx.close()
            print(f"easel weights: error: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        ctx.done(f"{name}: {path}")
    if failed:
        raise WeightsError(
            f"{len(failed)} of {len(names)} downloads failed ({', '.join(failed)}); "
            "run the same command again to resume"
        )
    return 0


def _run_path(args: argparse.Namespace) -> int:
    from easel import weights

    weights.get_entry(args.name)
    if not weights.is_present(args.name):
        raise WeightsError(weights.missing_message(args.name))
    print(weights.local_path(args.name))
    return 0


def _run_verify(args: argparse.Namespace, ctx: CommandContext) -> int:
    from easel import weights

    explicit = bool(args.names)
    names = _selected(args, "verify")
    problems: list[str] = []
    checked = 0
    for name in names:
        if not weights.is_present(name):
            if explicit:
                problems.append(f"{name} is missing")
            continue
        bad = weights.verify(name)
        checked += 1
        if bad:
            problems.append(f"{name} has a bad checksum ({', '.join(bad)})")
            ctx.done(f"{name}: CORRUPT ({', '.join(bad)})")
        else:
            ctx.done(f"{name}: ok")
    if problems:
        fix = " ".join(name.split()[0] for name in problems)
        raise WeightsError(f"{'; '.join(problems)}; fix with `easel weights download --force {fix}`")
    if checked == 0:
        ctx.done("no downloaded weights to verify")
    return 0


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Run the ``easel weights`` action in ``args.action``; return the exit code.

    Example:
        >>> from easel.cli import main
        >>> main(["weights", "download", "vgg19-caffe"])  # runs this function  # doctest: +SKIP
        0
    """
    if args.action == "list":
        return _run_list(args)
    if args.action == "download":
        return _run_download(args, ctx)
    if args.action == "path":
        return _run_path(args)
    return _run_verify(args, ctx)
