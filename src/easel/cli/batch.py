"""``easel batch``: many jobs from one manifest, on a local process pool or a Ray cluster.

The manifest (YAML, TOML or JSON) lists jobs; each is one run of an easel
command that makes files from an input (``quantize``, ``superpixels``,
``stylize``, ``kenburns`` ...). A job's input may be a glob: one job per
matching file. Every job is parsed with its command's own parser before
anything runs, so a bad manifest is one line naming the job and the key (exit
2, nothing run). Each job then runs in a worker process through the same code
as the command line (:func:`easel.cli.main`), so its output gets the normal run
record; the engines are :mod:`easel.jobs`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import glob
import html
import io
import json
import os
import re
import shlex
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from easel.cli._common import CommandContext, positive_int
from easel.errors import InputError, MissingExtraError
from easel.io.atomic import write_text_atomic
from easel.io.outputs import OutputPlan
from easel.io.record import record_path
from easel.jobs.engine import ENGINES, run_tasks
from easel.jobs.tasks import Outcome, Task, TaskFailed, task_progress
from easel.jobs.video import Chunk, plan_chunks
from easel.progress import ProgressFn, ProgressUpdate
from easel.text import plural

NAME = "batch"
HELP = "run many jobs from one manifest (YAML/TOML/JSON) on a local process pool or a Ray cluster"
ORDER = 90
DESCRIPTION = """\
Runs every job of MANIFEST, each one easel command on one input:

  defaults: {seed: 0}              # options for every job that takes them
  jobs:
    - command: stylize             # any easel command that makes files from an input
      input: photos/*.jpg          # a path or a glob: one job per matching file
      style: [styles/starry.jpg, "styles/scream.jpg:0.45"]
      output: out/{stem}__starry.png   # {stem} {name} {parent} {index} of the input
      args: {size: 512, style-weight: 1000}   # long options; true for a flag

A stylize-video job may be split into chunks of frames, each a task of its
own (a killed chunk runs again alone): `chunk: 64` (frames per chunk) makes
each chunk continue from the last frames of the one before, exactly as one
run would (the chunks of one clip run one after another; other jobs run
beside them). `overlap: 8` instead makes the chunks independent, so they run
in parallel: each chunk after the first starts 8 frames early, and those
frames, stylized twice, are cross-faded at the join (the clip dissolves from
one chunk's stylization to the next over 8 frames instead of continuing it).
The chunks' frames go to OUT.chunks/; the join writes OUT (the source's
audio copied into .mp4/.webm) and its record.

Paths are relative to the manifest's folder (jobs run there). The whole
manifest is checked first (commands, options, templates, globs, outputs): a
problem is one line naming the job and the key, and nothing runs.

--engine local (default) runs the jobs on a process pool on this machine (one
worker per core, or one per GPU for jobs that use one); --engine ray runs each
job as a Ray task: --address auto joins the cluster of `ray start --head`,
ray://HOST:10001 a remote one, and without --address a local Ray instance is
started and stopped. Workers keep model weights and style targets loaded
between jobs. The progress bar counts jobs, and frames within video jobs.

Re-running is safe: a job whose output and its run record (<out>.json, same
command line, finished) exist is skipped; a job that was interrupted is run
again. A failing job (a missing input, say) is reported and the others go on;
the batch then exits 1. --retries N runs failed jobs again; a job whose worker
died is always run again. The report (--report DIR, default the manifest's
folder) is batch-summary.json and batch-report.html, a contact sheet of the
results with each job's command line.
"""
EPILOG = """\
examples:
  easel batch jobs.yaml
  easel batch jobs.yaml --workers 2 --retries 1 --report reports/
  easel batch jobs.toml --engine ray --address auto
  # jobs.yaml: - {command: stylize-video, input: clip.mp4, style: starry.jpg,
  #               output: art.mp4, chunk: 64}
"""

SUMMARY_NAME = "batch-summary.json"
REPORT_NAME = "batch-report.html"
_GENERATOR = '<meta name="generator" content="easel batch">'
_RESERVED = ("command", "input", "output", "args", "chunk", "overlap")
_CHUNKED = "stylize-video"  # the command whose jobs may be split into chunks
_CHUNK_REFUSED = ("frames", "previous", "reencode")  # options a chunked job sets itself, or cannot take
_FRAME_STAGE = re.compile(r"frame (\d+)\b")
_CONTROL = {"help", "quiet", "debug", "overwrite", "output"}  # set by batch itself, not by a manifest
_CONTROL_FLAGS = {"--quiet", "-q", "--overwrite", "-y", "--debug"}
_TEMPLATE_FIELDS = ("stem", "name", "parent", "index")
_MEDIA_IMAGE = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_MEDIA_VIDEO = (".mp4", ".webm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel batch``'s arguments to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel batch")
        >>> add_arguments(parser)
        >>> parser.parse_args(["jobs.yaml", "--engine", "ray", "--address", "auto"]).address
        'auto'
    """
    parser.add_argument(
        "manifest", type=Path, metavar="MANIFEST", help="the jobs: a .yaml, .toml or .json file"
    )
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine", choices=ENGINES, default="local", help="local process pool or Ray (default local)"
    )
    engine.add_argument(
        "--address",
        metavar="auto|ray://HOST:PORT",
        help="Ray cluster to join (default: start a local Ray instance for the batch)",
    )
    engine.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="local worker processes (default: one per core, or one per GPU for GPU jobs)",
    )
    engine.add_argument(
        "--retries", type=int, default=0, metavar="N", help="run a failed job again up to N times (default 0)"
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help=f"where {SUMMARY_NAME} and {REPORT_NAME} go (default: the manifest's folder)",
    )
    out.add_argument(
        "-y",
        "--overwrite",
        action="store_true",
        help="run every job again and replace existing outputs (never an input)",
    )


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True)
class BatchJob:
    """One job of a manifest: one easel command line, run in the manifest's folder.

    Attributes:
        id: ``jobs[N]/INPUT`` (the manifest entry and its input).
        command: the easel command.
        argv: the command line without ``easel`` (paths relative to ``base``).
        base: the folder the job runs in (the manifest's).
        inputs: the input as written in ``argv``.
        output: the ``-o`` output as written in ``argv``.
        gpu: the command runs a model on ``--device`` other than ``cpu``.
        overwrite: pass ``--overwrite`` (``easel batch -y``, or a re-run of this batch's own output).
        chunking: ``(chunk, overlap)`` for a video job split into chunks (see
            :mod:`easel.jobs.video`; ``overlap`` ``None``: each chunk continues the one
            before), else ``None``.
        resumable: a re-run continues what an earlier attempt left instead of replacing it
            (a chunk: ``stylize-video`` resumes its frame folder).
        frames: a chunk's source frames ``(start, end)`` (``end`` ``None``: to the clip's end).

    Example:
        >>> job = BatchJob("jobs[0]/a.png", "quantize", ("quantize", "a.png", "-o", "q.png"), "/data",
        ...                ("a.png",), "q.png")
        >>> job.command_line()
        'easel quantize a.png -o q.png'
    """

    id: str
    command: str
    argv: tuple[str, ...]
    base: str
    inputs: tuple[str, ...]
    output: str
    gpu: bool = False
    overwrite: bool = False
    chunking: tuple[int, int | None] | None = None
    resumable: bool = False
    frames: tuple[int, int | None] | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """The output and its run record (paths relative to ``base``)."""
        return (self.output, os.fspath(record_path(self.output)))

    def command_line(self) -> str:
        """The job as one shell command line (run in ``base``)."""
        return shlex.join(["easel", *self.argv])


def run_job(job: BatchJob, attempt: int = 1) -> int:
    """Run one job in this process (a batch worker): ``easel.cli.main`` on its command line.

    The job runs in the manifest's folder, quietly; a re-run (``attempt`` > 1)
    may replace what the earlier attempt left (``--overwrite``), or, for a
    resumable job, continues it. Its progress goes to the batch
    (:func:`easel.jobs.tasks.task_progress`) when the batch asked for it.

    Raises:
        TaskFailed: the command failed; the message is its error line. Bad input
            (exit 2) is not worth a retry.

    Example:
        >>> run_job(BatchJob("jobs[0]/a.png", "quantize", ("quantize", "a.png", "-o", "q.png"), ".",
        ...                  ("a.png",), "q.png"))  # doctest: +SKIP
        0
    """
    from easel.cli import main

    argv = [*job.argv, "--quiet"]
    if job.overwrite or (attempt > 1 and not job.resumable):
        argv.append("--overwrite")
    errors = io.StringIO()
    cwd = os.getcwd()
    os.chdir(job.base)
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv, progress=task_progress())
    finally:
        os.chdir(cwd)
    if code != 0:
        lines = [line.strip() for line in errors.getvalue().splitlines() if line.strip()]
        raise TaskFailed(lines[-1] if lines else f"easel {job.command}: exit {code}", retry=code != 2)
    return code


# ---------------------------------------------------------------- manifest


def _fail(manifest: Path, where: str, problem: str) -> InputError:
    return InputError(f"{manifest.name}: {where}: {problem}")


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_manifest(path: Path) -> dict[str, Any]:
    """Read a manifest file (``.yaml``/``.yml``, ``.toml``, ``.json``) into a mapping.

    Raises:
        InputError: a missing or unreadable file, a syntax error, or not a mapping.

    Example:
        >>> load_manifest(Path("jobs.yaml"))["jobs"][0]["command"]  # doctest: +SKIP
        'stylize'
    """
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise InputError(
            f"{path}: unsupported manifest format {suffix or '(no suffix)'!r}; use .yaml, .toml or .json"
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc.__class__.__name__})") from None
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            try:
                import yaml
            except ImportError:
                raise MissingExtraError("batch", "yaml") from None
            data = yaml.safe_load(text)
    except (ValueError, ImportError) as exc:
        if isinstance(exc, ImportError):
            raise
        raise InputError(f"{path}: not valid {suffix.lstrip('.').upper()}: {_first_line(exc)}") from None
    except Exception as exc:  # yaml.YAMLError
        raise InputError(f"{path}: not valid YAML: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a manifest is a mapping with a 'jobs' list")
    return data


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else exc.__class__.__name__


@dataclass
class _Command:
    """What a manifest needs to know of one command: its parser and its long options."""

    name: str
    parser: argparse.ArgumentParser
    options: dict[str, argparse.Action] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, parser: argparse.ArgumentParser) -> _Command:
        # a manifest key is a long option without its dashes, or a short one's letter (n: 100)
        options = {
            flag.lstrip("-"): action
            for action in parser._actions  # argparse keeps no public list of its actions
            for flag in action.option_strings
            if not flag.startswith("--no-")
        }
        return cls(name, parser, options)

    def flag(self, key: str) -> str:
        """The option string a manifest key is written as: the action's long flag when it has one."""
        strings = self.options[key].option_strings
        longs = [s for s in strings if s.startswith("--") and not s.startswith("--no-")]
        return longs[0] if longs else f"-{key}"

    def controlled(self, key: str) -> bool:
        """An option ``easel batch`` sets itself (``--output``, ``--overwrite``, ``--quiet`` ...)."""
        action = self.options.get(key)
        return key in _CONTROL or (action is not None and action.dest in _CONTROL)

    @property
    def makes_files(self) -> bool:
        positionals = [a for a in self.parser._actions if not a.option_strings]
        return len(positionals) == 1 and "output" in self.options and "overwrite" in self.options


def batch_commands() -> dict[str, _Command]:
    """The commands a manifest may run: those that make files from one input.

    Example:
        >>> {"quantize", "stylize"} <= set(batch_commands()), "info" in batch_commands()
        (True, False)
    """
    from easel.cli import _COMMAND_PARSERS, build_parser

    build_parser()
    commands = {name: _Command.of(name, parser) for name, parser in _COMMAND_PARSERS.items()}
    return {name: cmd for name, cmd in commands.items() if cmd.makes_files and name != NAME}


def _option_argv(flag: str, action: argparse.Action, value: Any) -> list[str] | str:
    """``--flag=value`` tokens for one manifest value, or the problem as a string."""
    if action.nargs == 0:  # a flag
        if value is True:
            return [flag]
        if value is False or value is None:
            negative = f"--no-{flag.lstrip('-')}"
            return [negative] if negative in action.option_strings else []
        return f"{flag} is a flag: use true or false, not {value!r}"
    if value is None:
        return []
    if isinstance(value, bool):
        return f"{flag} takes a value, not {str(value).lower()}"
    if isinstance(value, Mapping):
        return f"{flag} takes a value or a list, not a mapping"
    if isinstance(value, list):
        if not value or any(isinstance(v, (list, Mapping, bool)) or v is None for v in value):
            return f"{flag}: a list of plain values, please"
        if isinstance(action, argparse._AppendAction):  # repeatable: --style a --style b
            return [f"{flag}={_scalar(v)}" for v in value]
        return [f"{flag}={','.join(_scalar(v) for v in value)}"]  # --style-weight=10,100
    return [f"{flag}={_scalar(value)}"]


def _scalar(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def _safe_path(text: str) -> str:
    return f"./{text}" if text.startswith("-") else text


def _expand_inputs(manifest: Path, where: str, base: Path, value: Any) -> list[str]:
    patterns = value if isinstance(value, list) else [value]
    if not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise _fail(manifest, f"{where} key 'input'", "a path or a glob, or a list of them")
    found: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, root_dir=base, recursive=True))
            matches = [m for m in matches if (base / m).is_file()]
            if not matches:
                raise _fail(manifest, f"{where} key 'input'", f"no file matches {pattern!r} (in {base})")
            found.extend(matches)
        else:
            found.append(pattern)
    return list(dict.fromkeys(found))


def _template_fields(manifest: Path, where: str, template: Any) -> None:
    if not isinstance(template, str) or not template.strip():
        raise _fail(manifest, f"{where} key 'output'", "a path template such as out/{stem}.png")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise _fail(manifest, f"{where} key 'output'", f"bad template {template!r}: {exc}") from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        root = name.split(".")[0].split("[")[0]
        if root not in _TEMPLATE_FIELDS:
            raise _fail(
                manifest,
                f"{where} key 'output'",
                f"unknown field {{{name}}} in {template!r}; use {' '.join('{' + f + '}' for f in _TEMPLATE_FIELDS)}",
            )


def _fill(manifest: Path, where: str, template: str, input_path: str, index: int) -> str:
    path = Path(input_path)
    try:
        return template.format(stem=path.stem, name=path.name, parent=path.parent.name, index=index)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise _fail(manifest, f"{where} key 'output'", f"bad template {template!r}: {exc}") from None


def _parse_error(command: _Command, argv: list[str]) -> str | None:
    """The command parser's error for ``argv`` (without its ``see --help`` tail), or ``None``."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            command.parser.parse_args(argv)
    except SystemExit:
        text = stderr.getvalue().strip().splitlines()
        message = text[-1] if text else "cannot parse the options"
        message = message.split(": error: ", 1)[-1]
        return message.split(" (see `", 1)[0]
    return None


def _key_in(message: str, keys: Sequence[str], command: _Command) -> str:
    """The manifest key an argparse message is about (the flag it names)."""
    for key in [*keys, *(k for k in command.options if len(k) > 1)]:
        action = command.options.get(key)
        if action is not None and any(flag in message for flag in action.option_strings):
            return key
    return "args"


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chunking(
    manifest: Path,
    where: str,
    name: str,
    entry: Mapping[str, Any],
    command: _Command,
    options: Mapping[str, Any],
) -> tuple[int, int | None] | None:
    """A job's ``chunk`` and ``overlap`` keys, checked: ``(chunk, overlap)`` (``overlap`` ``None``:
    chained chunks), or ``None`` when not chunked."""
    if "chunk" not in entry:
        if "overlap" in entry:
            raise _fail(manifest, f"{where} key 'overlap'", "needs 'chunk' (frames per chunk)")
        return None
    if name != _CHUNKED:
        raise _fail(manifest, f"{where} key 'chunk'", f"only {_CHUNKED} jobs are split into chunks")
    chunk = _whole(entry["chunk"])
    if chunk is None or chunk < 2:
        raise _fail(
            manifest, f"{where} key 'chunk'", f"frames per chunk: a whole number >= 2, not {entry['chunk']!r}"
        )
    overlap = _whole(entry["overlap"]) if "overlap" in entry else None
    if "overlap" in entry and (overlap is None or not 0 <= overlap < chunk):
        raise _fail(
            manifest,
            f"{where} key 'overlap'",
            f"frames stylized twice at each chunk border: 0 to {chunk - 1} (less than 'chunk'), "
            f"not {entry.get('overlap')!r}",
        )
    for key in options:
        flag = command.flag(key)
        if flag.lstrip("-") in _CHUNK_REFUSED:
            raise _fail(
                manifest,
                f"{where} key {key!r}",
                f"a chunked job cannot take {flag} (it sets the ranges itself)",
            )
    return chunk, overlap


def _check_chunked_output(manifest: Path, where: str, template: str) -> None:
    from easel.io.video import video_format

    try:
        video_format(template)
    except InputError:
        raise _fail(
            manifest,
            f"{where} key 'output'",
            f"a chunked job writes .mp4, .webm, .gif or a folder of frames, not {template!r}",
        ) from None


def parse_manifest(path: Path, overwrite: bool = False) -> list[BatchJob]:
    """Every job of a manifest, checked: commands, options (with each command's parser), templates, globs.

    Raises:
        InputError: the first problem, naming the job and the key.

    Example:
        >>> [job.id for job in parse_manifest(Path("jobs.yaml"))]  # doctest: +SKIP
        ['jobs[0]/photos/a.jpg', 'jobs[0]/photos/b.jpg']
    """
    data = load_manifest(path)
    base = path.resolve().parent
    for key in data:
        if key not in ("defaults", "jobs"):
            raise _fail(
                path,
                f"key {key!r}",
                f"unknown key{_did_you_mean(str(key), ['defaults', 'jobs'])}"
                " (a manifest has 'defaults' and 'jobs')",
            )
    entries = data.get("jobs")
    if not isinstance(entries, list) or not entries:
        raise _fail(path, "key 'jobs'", "a list of jobs, each with command, input and output")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise _fail(path, "key 'defaults'", "a mapping of options, such as {seed: 0}")
    defaults = {str(k).replace("_", "-"): v for k, v in defaults.items()}
    for key in defaults:
        if key in _RESERVED or key in _CONTROL:
            raise _fail(path, f"defaults key {key!r}", "defaults hold command options only")
    commands = batch_commands()
    used_defaults: set[str] = set()
    jobs: list[BatchJob] = []
    for number, entry in enumerate(entries):
        where = f"jobs[{number}]"
        if not isinstance(entry, dict):
            raise _fail(path, where, "a mapping with command, input and output")
        name = entry.get("command")
        if not isinstance(name, str):
            raise _fail(path, f"{where} key 'command'", f"missing; one of {', '.join(sorted(commands))}")
        command = commands.get(name)
        if command is None:
            raise _fail(
                path,
                f"{where} key 'command'",
                f"unknown command {name!r}{_did_you_mean(name, sorted(commands))}"
                f" (batch runs: {', '.join(sorted(commands))})",
            )
        where = f"jobs[{number}] ({name})"
        for key in ("input", "output"):
            if key not in entry:
                raise _fail(path, f"{where} key {key!r}", "missing")
        options: dict[str, Any] = {}
        args = entry.get("args") or {}
        if not isinstance(args, dict):
            raise _fail(path, f"{where} key 'args'", "a mapping of long options, such as {size: 512}")
        top = {str(k).replace("_", "-"): v for k, v in entry.items() if k not in _RESERVED}
        given: dict[int, str] = {}  # one key per option (``n`` and ``segments`` are the same)
        for label, values in (("", top), ("args.", {str(k).replace("_", "-"): v for k, v in args.items()})):
            for key, value in values.items():
                if command.controlled(key) or key not in command.options:
                    known = [k for k in command.options if len(k) > 1 and not command.controlled(k)]
                    problem = (
                        "is set by easel batch itself"
                        if command.controlled(key)
                        else f"easel {name} has no option {key!r}{_did_you_mean(key, known)}"
                    )
                    raise _fail(path, f"{where} key '{label}{key}'", problem)
                action_id = id(command.options[key])
                if action_id in given:
                    raise _fail(
                        path, f"{where} key '{label}{key}'", f"the same option as {given[action_id]!r}"
                    )
                given[action_id] = f"{label}{key}"
                options[key] = value
        for key, value in defaults.items():
            if (
                key in command.options
                and id(command.options[key]) not in given
                and not command.controlled(key)
            ):
                options[key] = value
                used_defaults.add(key)
        chunking = _chunking(path, where, name, entry, command, options)
        option_argv: list[str] = []
        for key, value in options.items():
            tokens = _option_argv(command.flag(key), command.options[key], value)
            if isinstance(tokens, str):
                raise _fail(path, f"{where} key {key!r}", tokens)
            option_argv.extend(tokens)
        _template_fields(path, where, entry["output"])
        if chunking is not None:
            _check_chunked_output(path, where, entry["output"])
        inputs = _expand_inputs(path, where, base, entry["input"])
        outputs: dict[str, str] = {}
        for index, input_path in enumerate(inputs):
            output = _fill(path, where, entry["output"], input_path, index)
            if output in outputs:
                raise _fail(
                    path,
                    f"{where} key 'output'",
                    f"{outputs[output]} and {input_path} would both write {output}; use {{stem}} or {{index}}",
                )
            outputs[output] = input_path
            argv = [name, _safe_path(input_path), *option_argv, "-o", _safe_path(output)]
            parse_problem = _parse_error(command, argv[1:])
            if parse_problem is not None:
                key = _key_in(parse_problem, list(options), command)
                raise _fail(path, f"{where} key {key!r}", parse_problem)
            device = options.get("device", getattr(command.options.get("device"), "default", None))
            jobs.append(
                BatchJob(
                    id=f"jobs[{number}]/{input_path}",
                    command=name,
                    argv=tuple(argv),
                    base=os.fspath(base),
                    inputs=(input_path,),
                    output=output,
                    gpu="device" in command.options and device != "cpu",
                    overwrite=overwrite,
                    chunking=chunking,
                )
            )
    unused = sorted(set(defaults) - used_defaults)
    if unused:
        raise _fail(path, f"defaults key {unused[0]!r}", f"no job's command takes --{unused[0]}")
    return jobs


# ---------------------------------------------------------------- resuming


def _without_control(argv: Any) -> list[str] | None:
    if not isinstance(argv, list):
        return None
    return [str(a) for a in argv if a not in _CONTROL_FLAGS]


def _state(job: BatchJob) -> str:
    """``"done"`` (output and a finished record of this command line), ``"ours"`` (a record of this
    command line, the run unfinished) or ``"new"``."""
    out = Path(job.base) / job.output
    record = record_path(out)
    try:
        data = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or _without_control(data.get("argv")) != list(job.argv):
        return "new"
    return "done" if data.get("status") == "finished" and out.exists() else "ours"


def _is_ours(path: Path, marker: str) -> bool:
    """Whether ``path`` is the report page an earlier batch wrote (so it may be refreshed)."""
    try:
        with path.open(encoding="utf-8") as handle:
            return marker in handle.read(4096)
    except (OSError, UnicodeDecodeError):
        return False


def _is_summary(path: Path) -> bool:
    """Whether ``path`` is the summary an earlier batch wrote (so it may be refreshed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and set(data) == {"counts", "jobs"}


# ---------------------------------------------------------------- reports


@dataclass
class _Row:
    job: BatchJob
    status: str = "pending"
    seconds: float = 0.0
    error: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.job.id,
            "command": self.job.command,
            "inputs": list(self.job.inputs),
            "outputs": list(self.job.outputs),
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


def _counts(rows: Sequence[_Row]) -> dict[str, int]:
    return {status: sum(1 for r in rows if r.status == status) for status in ("done", "skipped", "failed")}


def _summary_dict(rows: Sequence[_Row]) -> dict[str, Any]:
    """``batch-summary.json``: ``{"counts": {"done", "skipped", "failed"}, "jobs": [...]}``."""
    return {"counts": _counts(rows), "jobs": [row.summary() for row in rows]}


def _card(row: _Row, report_dir: Path) -> str:
    job = row.job
    out = Path(job.base) / job.output
    link = html.escape(os.path.relpath(out, report_dir))
    if row.status in ("done", "skipped") and out.suffix.lower() in _MEDIA_IMAGE:
        media = f'<a href="{link}"><img src="{link}" alt="{html.escape(job.output)}" loading="lazy"></a>'
    elif row.status in ("done", "skipped") and out.suffix.lower() in _MEDIA_VIDEO:
        media = f'<video src="{link}" controls muted loop></video>'
    elif row.status in ("done", "skipped"):
        media = f'<a class="file" href="{link}">{html.escape(job.output)}</a>'
    else:
        media = f'<div class="missing">{html.escape(row.status)}</div>'
    error = f'<p class="error">{html.escape(row.error)}</p>' if row.error else ""
    return (
        f'<figure class="{html.escape(row.status)}">{media}<figcaption>'
        f"<b>{html.escape(job.id)}</b> · {html.escape(row.status)} · {row.seconds:.1f} s"
        f"<code>{html.escape(job.command_line())}</code>{error}</figcaption></figure>"
    )


def _report_html(rows: Sequence[_Row], manifest: Path, report_dir: Path) -> str:
    """``batch-report.html``: a contact sheet of the results, each with its command line."""
    counts = _counts(rows)
    base = rows[0].job.base if rows else os.fspath(manifest.resolve().parent)
    cards = "\n".join(_card(row, report_dir) for row in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{_GENERATOR}
<title>easel batch: {html.escape(manifest.name)}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 1em; }}
figure {{ margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: .5em; }}
figure.failed {{ border-color: #c33; }}
img, video {{ width: 100%; height: 180px; object-fit: contain; background: #f4f4f4; }}
.missing {{ height: 180px; display: flex; align-items: center; justify-content: center; background: #f4f4f4; }}
code {{ display: block; font-size: 11px; margin-top: .3em; word-break: break-all; }}
.error {{ color: #c33; margin: .3em 0 0; }}
</style></head><body>
<h1>easel batch: {html.escape(manifest.name)}</h1>
<p>{counts["done"]} done, {counts["skipped"]} skipped, {counts["failed"]} failed, of {plural(len(rows), "job")}.
Commands run in <code>{html.escape(base)}</code></p>
<main>
{cards}
</main></body></html>
"""


# ---------------------------------------------------------------- the command


def _plan(
    args: argparse.Namespace, jobs: Sequence[BatchJob], report_dir: Path
) -> tuple[list[BatchJob], list[BatchJob], tuple[Path, Path]]:
    """Check every output before anything runs: the jobs to run, the jobs to skip, the report files."""
    to_run: list[BatchJob] = []
    skipped: list[BatchJob] = []
    plan = OutputPlan(
        inputs=[Path(job.base) / p for job in jobs for p in job.inputs] + [args.manifest],
        overwrite=args.overwrite,
    )
    for job in jobs:
        state = "new" if args.overwrite else _state(job)
        if state == "done":
            skipped.append(job)
            continue
        ours = state == "ours"  # what an unfinished run of this very job left: it may be replaced
        out = Path(job.base) / job.output
        if out.suffix:
            plan.file(out, option=f"{job.id}: -o", refresh=ours)
        else:
            plan.folder(out, option=f"{job.id}: -o", resume=ours)
        plan.file(record_path(out), option=f"{job.id}: the run record", refresh=ours)
        if (
            job.chunking is not None
        ):  # the chunks' frame folders: stylize-video resumes or refuses them itself
            plan.folder(_chunks_folder(out), option=f"{job.id}: the chunks' folder", resume=True)
        to_run.append(dataclasses.replace(job, overwrite=job.overwrite or ours))
    if not report_dir.is_dir():
        plan.folder(report_dir, option="--report", resume=True)
    summary = plan.file(
        report_dir / SUMMARY_NAME, option="--report", refresh=_is_summary(report_dir / SUMMARY_NAME)
    )
    page = plan.file(
        report_dir / REPORT_NAME, option="--report", refresh=_is_ours(report_dir / REPORT_NAME, _GENERATOR)
    )
    plan.check()
    return to_run, skipped, (summary, page)


def run(args: argparse.Namespace, ctx: CommandContext) -> int | None:
    """Run ``easel batch`` with parsed ``args``; return the exit code (``None``: 0).

    Example:
        >>> from easel.cli import main
        >>> main(["batch", "jobs.yaml"])  # runs this function  # doctest: +SKIP
        0
    """
    if args.retries < 0:
        raise InputError(f"--retries must be 0 or more, got {args.retries}")
    if args.engine != "ray" and args.address is not None:
        raise InputError("--address needs --engine ray")
    if args.engine == "ray" and args.workers is not None:
        raise InputError(
            "--workers is for --engine local (Ray places the jobs on the cluster's CPUs and GPUs)"
        )
    if args.engine == "ray":
        from easel.jobs.ray_engine import require_ray

        require_ray()  # a missing extra is one line before anything else
    jobs = parse_manifest(args.manifest, overwrite=args.overwrite)
    report_dir = args.report if args.report is not None else args.manifest.resolve().parent
    to_run, skipped, (summary_path, page_path) = _plan(args, jobs, report_dir)
    report_dir.mkdir(exist_ok=True)

    rows = {job.id: _Row(job) for job in jobs}
    for job in skipped:
        rows[job.id].status = "skipped"
    total = len(jobs)
    if skipped:
        ctx.notice(f"{plural(len(skipped), 'job')} already done (output and record present): skipped")
    board = _Board(ctx, total, len(skipped))
    videos: dict[str, _Video] = {}
    tasks: list[Task] = []
    for job in to_run:
        if job.chunking is not None:
            try:
                video = _Video.plan(job)
            except InputError as exc:  # a missing or unreadable clip fails this job only
                rows[job.id].status, rows[job.id].error = "failed", str(exc)
                board.job_ended(failed=True)
                ctx.notice(f"{job.id} failed: {exc}")
                continue
            if video is not None:
                videos[job.id] = video
                for chunk_job, after in video.tasks():
                    tasks.append(Task(chunk_job.id, chunk_job, gpu=chunk_job.gpu, after=after))
                    board.expect(chunk_job.id, chunk_job.frames, video.num_frames)
                board.frames_skipped(video.frames_done())
                continue
            job = dataclasses.replace(job, chunking=None)  # one chunk: the job runs as it is
        tasks.append(Task(job.id, job, gpu=job.gpu))
        if job.command == _CHUNKED:
            board.expect(job.id, (0, None), _num_frames(job))
    chunk_of = {chunk_job.id: video for video in videos.values() for chunk_job in video.to_run}

    def write_reports() -> None:
        ordered = list(rows.values())
        write_text_atomic(summary_path, json.dumps(_summary_dict(ordered), indent=2) + "\n")
        write_text_atomic(page_path, _report_html(ordered, args.manifest, report_dir))

    def on_outcome(outcome: Outcome) -> None:
        board.task_ended(outcome)
        video = chunk_of.get(outcome.key)
        row = rows[video.job.id if video is not None else outcome.key]
        if video is not None:
            video.outcomes[outcome.key] = outcome
            row.seconds += outcome.seconds
            if outcome.ok or row.status == "failed":
                return  # a chunked job is done once joined; its first failed chunk is its error
            outcome = Outcome(row.job.id, error=f"chunk {video.frames_of(outcome.key)}: {outcome.error}")
        row.status = "done" if outcome.ok else "failed"
        row.seconds = row.seconds if video is not None else outcome.seconds
        row.error = outcome.error
        board.job_ended(failed=not outcome.ok)
        if not outcome.ok:
            ctx.notice(f"{outcome.key} failed: {outcome.error}")

    board.show()
    try:
        with ctx.timed("jobs"):
            run_tasks(
                run_job,
                tasks,
                engine=args.engine,
                workers=args.workers,
                address=args.address,
                retries=args.retries,
                on_outcome=on_outcome,
                on_progress=board.task_progress if board.first else None,  # frames of video jobs
            )
        with ctx.timed("join"):
            for job_id, video in videos.items():
                row = rows[job_id]
                if row.status == "failed":
                    continue
                try:
                    row.seconds += video.join(ctx.progress)
                except InputError as exc:
                    row.status, row.error = "failed", f"join: {exc}"
                    ctx.notice(f"{job_id} failed: {row.error}")
                else:
                    row.status = "done"
                board.job_ended(failed=row.status == "failed")
    except KeyboardInterrupt:
        for row in rows.values():
            if row.status == "pending":
                row.status = "interrupted"
        write_reports()
        raise
    write_reports()
    counts = _counts(list(rows.values()))
    ctx.done(
        f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"
        f" of {plural(total, 'job')}; report: {page_path}"
    )
    return 1 if counts["failed"] else 0


# ---------------------------------------------------------------- progress and video chunks


class _Board:
    """The batch's progress: jobs done of all, and frames done of all frames in video jobs."""

    def __init__(self, ctx: CommandContext, total: int, finished: int) -> None:
        self.ctx = ctx
        self.total = total
        self.finished = finished
        self.failed = 0
        self.frames_total = 0
        self.frames_before = 0  # frames of chunks finished in an earlier batch
        self.first: dict[str, int] = {}  # a video task's first source frame
        self.span: dict[str, int] = {}  # its frames (0: unknown)
        self.done: dict[str, int] = {}  # its frames done so far

    def expect(self, key: str, frames: tuple[int, int | None] | None, num_frames: int | None) -> None:
        """A video task of source frames ``frames`` in a clip of ``num_frames``."""
        start, end = frames or (0, None)
        stop = end if end is not None else (num_frames or start)
        self.first[key], self.span[key], self.done[key] = start, max(0, stop - start), 0
        self.frames_total += self.span[key]

    def frames_skipped(self, count: int) -> None:
        self.frames_total += count
        self.frames_before += count

    def task_progress(self, key: str, update: ProgressUpdate) -> None:
        """A worker's update: a video task's ``frame N`` stage says N-1 source frames are done."""
        match = _FRAME_STAGE.match(update.stage)
        if key in self.first and match is not None:
            done = int(match.group(1)) - 1 - self.first[key]
            self.done[key] = max(self.done[key], min(done, self.span[key] or done))
            self.show()

    def task_ended(self, outcome: Outcome) -> None:
        if outcome.ok and outcome.key in self.span:
            self.done[outcome.key] = self.span[outcome.key]
            self.show()

    def job_ended(self, failed: bool) -> None:
        self.finished += 1
        self.failed += int(failed)
        self.show()

    def show(self) -> None:
        metrics: dict[str, float] = {}
        if self.frames_total:
            metrics["frames"] = self.frames_before + sum(self.done.values())
            metrics["of"] = self.frames_total
        if self.failed:
            metrics["failed"] = self.failed
        self.ctx.progress(ProgressUpdate("jobs", self.finished, self.total, metrics))


def _chunks_folder(output: Path) -> Path:
    """Where a chunked job's chunks keep their frames: ``OUT.chunks/``."""
    return output.with_name(f"{output.name.rstrip('/')}.chunks")


def _num_frames(job: BatchJob) -> int | None:
    """The frames of a video job's input, for progress (``None`` when it cannot be read now)."""
    from easel.io.video import probe_video

    try:
        return probe_video(Path(job.base) / job.inputs[0]).num_frames
    except InputError:
        return None


@dataclass
class _Video:
    """A video job split into chunks: its chunk jobs, what they did, and the join."""

    job: BatchJob
    chunks: list[Chunk]
    chunk_jobs: list[BatchJob]
    to_run: list[BatchJob]
    num_frames: int | None
    fps: float
    audio: bool
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @classmethod
    def plan(cls, job: BatchJob) -> _Video | None:
        """The chunks of ``job`` (``None``: the clip fits one chunk).

        Raises:
            InputError: the clip cannot be read.
        """
        from easel.cli.stylize_video import DEFAULT_FOLDER_FPS
        from easel.io.video import probe_video

        assert job.chunking is not None
        info = probe_video(Path(job.base) / job.inputs[0])
        size, overlap = job.chunking
        chunks = plan_chunks(info.num_frames or 1, size, overlap or 0)
        if len(chunks) == 1:
            return None
        parsed = batch_commands()[job.command].parser.parse_args(list(job.argv[1:]))
        at = len(job.argv) - 1 - job.argv[::-1].index("-o")  # the last -o is batch's own
        folder = _chunks_folder(Path(job.output))
        chunk_jobs: list[BatchJob] = []
        for chunk in chunks:
            # chained: a chunk starts from the last stylized frames of the one before
            previous = (f"--previous={chunk_jobs[-1].output}",) if overlap is None and chunk_jobs else ()
            chunk_jobs.append(
                dataclasses.replace(
                    job,
                    id=f"{job.id} [frames {chunk.frames_arg}]",
                    argv=(
                        *job.argv[:at],
                        f"--frames={chunk.frames_arg}",
                        *previous,
                        "-o",
                        os.fspath(folder / chunk.name),
                    ),
                    output=os.fspath(folder / chunk.name),
                    chunking=None,
                    resumable=True,
                    frames=(chunk.start, chunk.end),
                )
            )
        to_run = [c for c in chunk_jobs if job.overwrite or _state(c) != "done"]
        if overlap is None:  # a chunk after one that runs again runs again too
            first = next((i for i, c in enumerate(chunk_jobs) if c in to_run), len(chunk_jobs))
            to_run = chunk_jobs[first:]
        (Path(job.base) / folder).mkdir(exist_ok=True)
        return cls(
            job,
            chunks,
            chunk_jobs,
            to_run,
            info.num_frames,
            float(parsed.fps or info.fps or DEFAULT_FOLDER_FPS),
            not parsed.no_audio,
        )

    @property
    def chained(self) -> bool:
        """Each chunk continues the one before (no ``overlap``): they run one after another."""
        return self.job.chunking is not None and self.job.chunking[1] is None

    def tasks(self) -> list[tuple[BatchJob, tuple[str, ...]]]:
        """The chunk jobs to run, each with the keys of the tasks it waits for."""
        out: list[tuple[BatchJob, tuple[str, ...]]] = []
        for job in self.to_run:
            out.append((job, (out[-1][0].id,) if self.chained and out else ()))
        return out

    def frames_of(self, key: str) -> str:
        """The ``START:END`` of a chunk job."""
        return next(c.frames_arg for c, j in zip(self.chunks, self.chunk_jobs, strict=True) if j.id == key)

    def frames_done(self) -> int:
        """Frames of chunks finished in an earlier batch (not run again)."""
        running = {j.id for j in self.to_run}
        stops = [c.end if c.end is not None else (self.num_frames or c.start) for c in self.chunks]
        return sum(
            stop - chunk.start
            for chunk, stop, job in zip(self.chunks, stops, self.chunk_jobs, strict=True)
            if job.id not in running
        )

    def join(self, progress: ProgressFn) -> float:
        """Join the chunks into the job's output and write its record; return the seconds it took."""
        import time

        from easel.io.record import write_record
        from easel.jobs.video import join_chunks

        start = time.perf_counter()
        base = Path(self.job.base)
        out = base / self.job.output
        folders = [base / j.output for j in self.chunk_jobs]
        label = f"join {self.job.output}"
        result = join_chunks(
            self.chunks,
            folders,
            out,
            self.fps,
            audio_from=base / self.job.inputs[0] if self.audio else None,
            on_frame=lambda done, total: progress(ProgressUpdate(label, done, total)),
        )
        first = _read_json(record_path(folders[0]))
        options = dict(first.get("options") or {})
        options.pop("frame_range", None)
        seconds = time.perf_counter() - start
        write_record(
            out,
            command=self.job.command,
            options={
                **options,
                "chunk": self.job.chunking[0] if self.job.chunking else None,
                "overlap": self.job.chunking[1] if self.job.chunking else None,
            },
            inputs=first.get("inputs") or list(self.job.inputs),
            seed=first.get("seed"),
            timings={"join": round(seconds, 4)},
            argv=list(self.job.argv),
            extra={
                "status": "finished",
                "frames_done": result.num_frames,
                "fps": self.fps,
                "audio": result.audio,
                "blended_frames": result.blended,
                "chunks": [
                    {
                        "frames": chunk.frames_arg,
                        "folder": os.fspath(folder),
                        "attempts": self.outcomes[job.id].attempts if job.id in self.outcomes else 0,
                        "seconds": round(self.outcomes[job.id].seconds, 3)
                        if job.id in self.outcomes
                        else 0.0,
                    }
                    for chunk, job, folder in zip(self.chunks, self.chunk_jobs, folders, strict=True)
                ],
            },
        )
        return seconds


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
