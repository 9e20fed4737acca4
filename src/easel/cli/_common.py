"""Plumbing shared by the CLI commands: options, progress bars, outputs, records.

This is the only place (with the command modules) that parses argv or draws
progress bars; the library reports progress through callbacks.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from easel.errors import InputError
from easel.io.images import DEFAULT_MAX_SIZE, LoadedImage, read_image
from easel.io.outputs import OutputPlan
from easel.io.record import write_record
from easel.options import options_dict
from easel.progress import ProgressFn, ProgressUpdate

log = logging.getLogger("easel.cli")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that always writes to the current ``sys.stderr`` (the CLI's log handler).

    Looked up at each write, so a test's or a caller's replaced ``sys.stderr``
    gets the messages.

    Example:
        >>> logging.getLogger("easel").addHandler(StderrHandler())  # doctest: +SKIP
    """

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def common_parent() -> argparse.ArgumentParser:
    """Options every command takes: ``--quiet`` and ``--debug``."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("general")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notices")
    group.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    return parent


# ---------------------------------------------------------------- option helpers


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got 0")
    return value


def float_list(text: str) -> list[float]:
    """``"1,10,100"`` -> ``[1.0, 10.0, 100.0]``."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def add_output(parser: argparse.ArgumentParser, help_text: str, required: bool = True) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("-o", "--output", type=Path, required=required, metavar="OUT", help=help_text)
    group.add_argument(
        "-y", "--overwrite", action="store_true", help="replace OUT if it exists (never an input)"
    )


def add_max_size(parser: argparse.ArgumentParser, default: int | None = DEFAULT_MAX_SIZE) -> None:
    parser.add_argument(
        "--max-size",
        type=positive_int,
        default=default,
        metavar="PX",
        help=f"downscale inputs so the long side is at most PX pixels (default {default})",
    )


def add_seed(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument(
        "--seed", type=int, default=default, help=f"random seed, for reproducible results (default {default})"
    )


def add_device(parser: argparse.ArgumentParser) -> None:
    from easel.devices import DEVICE_CHOICES

    parser.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="where models run: auto picks cuda, then mps, then cpu (default auto)",
    )


def add_weights(parser: argparse.ArgumentParser, default_name: str) -> None:
    parser.add_argument(
        "--weights",
        type=Path,
        metavar="PATH",
        help=f"use this local weights file/folder instead of the cached {default_name!r}",
    )


# ---------------------------------------------------------------- progress


class _Bar:
    """A tqdm bar per stage, drawn on stderr."""

    def __init__(self, disable: bool) -> None:
        self.disable = disable
        self.stage: str | None = None
        self.bar: Any = None

    def __call__(self, update: ProgressUpdate) -> None:
        if self.disable:
            return
        from tqdm import tqdm

        if update.stage != self.stage or self.bar is None:
            self.close()
            self.stage = update.stage
            unit_scale = update.total > 10_000_000
            # the bar starts where the stage is now: a rate is shown only once steps are timed
            # (drawing the first step at once would show thousands of steps per second)
            self.bar = tqdm(
                total=update.total or None,
                initial=update.step,
                desc=update.stage,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                unit="B" if unit_scale else "it",
                unit_scale=unit_scale,
                mininterval=0.2,
            )
        if update.total and self.bar.total != update.total:
            self.bar.total = update.total
        self.bar.n = update.step
        if update.metrics:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in update.metrics.items()}, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.stage = None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that ``except KeyboardInterrupt`` saves what it can."""


@dataclass
class CommandContext:
    """What a command needs from the CLI beyond its arguments."""

    quiet: bool = False
    debug: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    signal: int | None = None
    """The signal that interrupted the command (``SIGINT``/``SIGTERM``), if any."""
    progress_sink: ProgressFn | None = None
    """Where progress goes instead of a bar (a batch worker reports it to the batch)."""
    _bar: _Bar | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, progress_sink: ProgressFn | None = None) -> CommandContext:
        return cls(quiet=bool(args.quiet), debug=bool(args.debug), progress_sink=progress_sink)

    def interrupted_exit_code(self) -> int:
        """128 + the signal that interrupted the command: 130 for Ctrl-C, 143 for SIGTERM."""
        return 128 + int(self.signal or signal.SIGINT)

    @property
    def progress(self) -> ProgressFn:
        """A progress callback: the sink when one was given, else bars on stderr (silent with ``--quiet``)."""
        if self.progress_sink is not None:
            return self.progress_sink
        if self._bar is None:
            self._bar = _Bar(disable=self.quiet or not _stderr_is_terminal_or_forced())
        return self._bar

    def notice(self, message: str) -> None:
        """A one-line notice on stderr (silent with ``--quiet``)."""
        if not self.quiet:
            if self._bar is not None:
                self._bar.close()
            print(f"easel: {message}", file=sys.stderr)

    def done(self, message: str) -> None:
        """The final line of a successful command, on stdout (silent with ``--quiet``)."""
        if self._bar is not None:
            self._bar.close()
        if not self.quiet:
            print(message)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 4)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def handle_signals(ctx: CommandContext) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``KeyboardInterrupt`` (SIGTERM as :class:`Terminated`) and
    remember which one came in ``ctx.signal``, for the exit code (130 or 143)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        ctx.signal = signum
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stderr_is_terminal_or_forced() -> bool:
    if os.environ.get("EASEL_PROGRESS") == "1":
        return True
    if os.environ.get("EASEL_PROGRESS") == "0":
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


# ---------------------------------------------------------------- inputs and outputs


def load_image(
    path: Path, ctx: CommandContext, max_size: int | None = DEFAULT_MAX_SIZE, min_side: int | None = None
) -> LoadedImage:
    """Read an input image, telling the user when it was downscaled.

    ``min_side`` is the smallest side the command can use (default: the input guard's).
    """
    with ctx.timed("read"):
        loaded = (
            read_image(path, max_size=max_size)
            if min_side is None
            else read_image(path, max_size=max_size, min_side=min_side)
        )
    if loaded.downscaled:
        h, w = loaded.original_shape
        ctx.notice(
            f"{path}: downscaled from {w}x{h} to {loaded.rgb.shape[1]}x{loaded.rgb.shape[0]} "
            f"(--max-size {max_size})"
        )
    return loaded


def new_plan(args: argparse.Namespace, inputs: Iterable[Path | None]) -> OutputPlan:
    """An :class:`~easel.io.outputs.OutputPlan` for this command's inputs and ``--overwrite``."""
    return OutputPlan(inputs=inputs, overwrite=bool(getattr(args, "overwrite", False)))


def save_record(
    output: Path,
    args: argparse.Namespace,
    ctx: CommandContext,
    inputs: Iterable[Path] = (),
    extra: Mapping[str, Any] | None = None,
    *,
    options: Any = None,
    status: str = "finished",
) -> Path:
    """Write ``<output>.json``: command line, resolved options, status, versions, seed and timings.

    Args:
        options: the resolved options (an options dataclass or a mapping); when
            ``None``, the parsed command-line values are recorded instead.
        status: how the run ended (``finished``, ``interrupted``, ``non-finite`` ...).
    """
    if options is None:
        resolved: Mapping[str, Any] = {
            k: v
            for k, v in vars(args).items()
            if not k.startswith("_") and k not in ("quiet", "debug", "overwrite", "command")
        }
    elif dataclasses.is_dataclass(options) and not isinstance(options, type):
        resolved = options_dict(options)
    else:
        resolved = dict(options)
    return write_record(
        output,
        command=args.command,
        options=resolved,
        inputs=inputs,
        seed=getattr(args, "seed", None),
        timings=ctx.timings,
        extra={"status": status, **(extra or {})},
        argv=getattr(args, "_argv", None),
    )


def run_device_fields(device: str, precision: str | None = None) -> dict[str, Any]:
    """The device (and precision) a run really uses, for its record: never ``auto``.

    ``precision`` ``auto`` resolves through the machine's cached measurement
    (:func:`easel.nets.precision.resolve_precision`), which is then recorded too.

    Example:
        >>> run_device_fields("cpu")
        {'device': 'cpu'}
    """
    from easel.devices import resolve_device

    resolved = resolve_device(device)
    fields: dict[str, Any] = {"device": str(resolved)}
    if precision is not None:
        from easel.nets.precision import precision_name, resolve_precision

        dtype, choice = resolve_precision(resolved, precision)
        fields["precision"] = precision_name(dtype)
        if choice is not None:
            fields["precision_measurement"] = choice.as_record()
    return fields


def load_kernels_in_background(image: Path, load: Callable[..., object], *args: object) -> None:
    """Start ``load(*args)`` (numba's kernel loading) in a daemon thread, to overlap reading ``image``.

    Only for an input that exists (a bad one is reported at once, without the
    load); errors are left for the real call to raise and report.

    Example:
        >>> load_kernels_in_background(Path("photo.png"), print, "loading")  # doctest: +SKIP
    """
    if not Path(image).is_file():
        return

    def quietly() -> None:
        with contextlib.suppress(Exception):
            load(*args)

    threading.Thread(target=quietly, name="easel-load-kernels", daemon=True).start()


def describe_exception(exc: BaseException) -> str:
    """One line for an exception: its message, without a traceback."""
    text = str(exc).strip().splitlines()
    message = text[0] if text else exc.__class__.__name__
    if isinstance(exc, InputError):
        return message
    return f"{exc.__class__.__name__}: {message}" if not isinstance(exc, ImportError) else message
