"""``easel serve``: the studio, a local web page over every capability."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from easel.cli._common import CommandContext, positive_float, positive_int
from easel.errors import InputError

NAME = "serve"
HELP = "the studio: a local web page with a tab per capability, a job queue and a gallery"
ORDER = 85
DESCRIPTION = """\
Serves the studio, a web page with a tab per capability (quantize, superpixels,
stylize, stylize-video, dream, depth, kenburns, photo3d, flythrough): upload
inputs, set the options (the same defaults as the command line, the rarer ones
under "Advanced"), follow the progress and the intermediate images, download the
results, and copy the equivalent `easel ...` command line. Jobs run one at a time (--concurrency N on a GPU); each page shows
its place in the queue and can cancel its job. Every result is kept in --outputs
(one folder per job, with its run record OUT.json), whether or not its page is
still open; the Gallery tab lists them.

It listens on 127.0.0.1 (this machine only). Any other --host needs logins
(--auth USER:PASS or --auth-file FILE with one USER:PASS per line); no public
share link is ever made. Uploads over --max-upload-mb, images over
--max-megapixels and clips over --max-video-seconds are refused with a message
on the page. Requests can only read files in the outputs folder and the
studio's temporary folder. Stop it with Ctrl-C.
"""
EPILOG = """\
examples:
  easel serve                                   # http://127.0.0.1:7860/
  easel serve --port 8080 --outputs ~/easel-results
  easel serve --host 0.0.0.0 --auth-file logins.txt --concurrency 2
  easel serve --weights vgg19-caffe=./vgg19.pth --weights depth-anything-v2-small=./da2-small/
"""


def weights_arg(text: str) -> tuple[str, Path]:
    """``MODEL=PATH`` -> ``(model, path)``.

    Example:
        >>> weights_arg("vgg19-caffe=vgg.pth")
        ('vgg19-caffe', PosixPath('vgg.pth'))
    """
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected MODEL=PATH, got {text!r}")
    return name.strip(), Path(path.strip())


def _port(text: str) -> int:
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 1-65535, not {port}")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel serve``'s options to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel serve")
        >>> add_arguments(parser)
        >>> parser.parse_args(["--port", "8080"]).port
        8080
    """
    net = parser.add_argument_group("network")
    net.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    net.add_argument("--port", type=_port, default=7860, help="TCP port, 1-65535 (default 7860)")
    net.add_argument("--auth", metavar="USER:PASS", help="a login (needed for a --host other than loopback)")
    net.add_argument("--auth-file", type=Path, metavar="FILE", help="logins, one USER:PASS per line")
    jobs = parser.add_argument_group("jobs")
    jobs.add_argument(
        "--outputs",
        type=Path,
        default=Path("outputs/studio"),
        metavar="DIR",
        help="where results and their run records are kept (default outputs/studio)",
    )
    jobs.add_argument(
        "--concurrency",
        type=positive_int,
        default=1,
        metavar="N",
        help="jobs run at the same time (default 1)",
    )
    jobs.add_argument(
        "--weights",
        type=weights_arg,
        action="append",
        default=[],
        metavar="MODEL=PATH",
        help="a local weights file/folder for a registry model (repeatable); pages cannot name files",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-upload-mb", type=positive_float, default=50.0, metavar="MB", help="largest upload (default 50)"
    )
    limits.add_argument(
        "--max-megapixels",
        type=positive_float,
        default=40.0,
        metavar="MP",
        help="largest input image (default 40)",
    )
    limits.add_argument(
        "--max-video-seconds",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="longest clip (default 60)",
    )


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Serve the studio until Ctrl-C (exit 130) or SIGTERM (143).

    Example:
        >>> from easel.cli import main
        >>> main(["serve", "--port", "8080"])  # serves until Ctrl-C  # doctest: +SKIP
        130
    """
    from easel.web.app import Studio, StudioSettings
    from easel.web.limits import Limits
    from easel.web.server import check_bind, parse_login, read_logins, start

    logins = []
    if args.auth is not None:
        logins.append(parse_login(args.auth))
    if args.auth_file is not None:
        logins += read_logins(args.auth_file)
    check_bind(args.host, logins)
    weights = {}
    for name, path in args.weights:
        if not path.exists():
            raise InputError(f"--weights {name}={path}: no such file or folder")
        weights[name] = path.resolve()
    if args.outputs.exists() and not args.outputs.is_dir():
        raise InputError(f"--outputs {args.outputs}: not a folder")
    limits = Limits(args.max_upload_mb, args.max_megapixels, args.max_video_seconds)
    studio = Studio(
        StudioSettings(args.outputs, limits=limits, concurrency=args.concurrency, weights=weights)
    )
    try:
        server = start(studio, host=args.host, port=args.port, logins=logins)
    except OSError as exc:
        raise InputError(
            f"--port {args.port}: cannot listen on {args.host} ({exc.strerror or exc})"
        ) from None
    ctx.done(f"easel studio on {server.url} (results in {studio.outputs}; Ctrl-C stops it)")
    try:
        while True:
            time.sleep(3600)
    finally:
        server.close()
