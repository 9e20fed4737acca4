"""The studio: a Gradio page with one tab per capability, a job queue and a gallery.

:class:`Studio` holds what the page needs (settings, queue, folders) and the
steps of a run that do not need a browser: :meth:`Studio.prepare` checks the
uploads and the form, copies the inputs into a new job folder and computes the
equivalent command line; the job calls the tab's ``run`` and writes the run
record; :meth:`Studio.watch` is what the page's Run button streams (queue
position, progress, previews, then the results). :func:`easel.web.page.build_page` makes
the Gradio ``Blocks``; :func:`easel.web.server.start` serves it.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from easel.errors import EaselError, InputError
from easel.options import OptionError, declared_options, options_dict
from easel.web.forms import FormField, build_options, form_fields, option_args
from easel.web.limits import Limits
from easel.web.queue import Job, JobCancelled, JobQueue
from easel.web.tabs import FOLDER_UPLOADS, TABS, Run, Step, Tab

__all__ = ["Prepared", "Studio", "StudioSettings", "error_html", "gallery_records", "status_html"]

log = logging.getLogger(__name__)

CSS = """
.easel-status { font-size: 0.95em; }
.easel-status progress { width: 100%; height: 0.9em; }
.easel-error { color: #b00020; font-weight: 600; }
"""


@dataclass
class StudioSettings:
    """How the studio runs (``easel serve``'s options).

    Attributes:
        outputs: where results are kept, one folder per job with its run record.
        temp: the studio's temporary folder (uploads, per-session previews); a new
            one under the system's temporary folder when ``None``.
        limits: upload size, pixels, video length.
        concurrency: jobs that run at the same time (1 on a CPU).
        weights: registry model name -> local weights file/folder the server uses.
        tabs: the tabs, in page order.

    Example:
        >>> StudioSettings(Path("outputs/studio")).concurrency
        1
    """

    outputs: Path
    temp: Path | None = None
    limits: Limits = field(default_factory=Limits)
    concurrency: int = 1
    weights: Mapping[str, Path] = field(default_factory=dict)
    tabs: Sequence[Tab] = TABS


@dataclass
class Prepared:
    """A checked run, ready to queue.

    Attributes:
        job: the job (not queued yet).
        run: what the tab's ``run`` gets.
        folder: the job folder in the outputs.
        argvs: the equivalent command lines (run in ``folder``, one after the other), without ``easel``.

    Example:
        >>> prepared.command  # doctest: +SKIP
        'easel quantize image.png --colors 8 -o quantize.png --palette palette.png'
    """

    job: Job
    run: Run
    folder: Path
    argvs: list[list[str]]

    @property
    def argv(self) -> list[str]:
        """The first (for most tabs the only) command line."""
        return self.argvs[0]

    @property
    def command(self) -> str:
        """The command lines as a shell would take them, one a line."""
        return "\n".join("easel " + shlex.join(argv) for argv in self.argvs)


def _fixed_args(fixed: Mapping[type, Mapping[str, Any]]) -> list[str]:
    """The flags of the values the server sets (``--weights PATH``)."""
    args: list[str] = []
    for cls, values in fixed.items():
        flags = {o.name: o.flag for o in declared_options(cls)}
        for name, value in values.items():
            args += [flags.get(name, "--" + name.replace("_", "-")), os.fspath(value)]
    return args


def _one_line(exc: BaseException, folder: Path | None = None) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else exc.__class__.__name__
    if folder is not None:
        text = text.replace(f"{folder}{os.sep}", "").replace(str(folder), "the job folder")
    return text


class Studio:
    """The studio's state and the steps of a run (see the module docstring).

    Example:
        >>> studio = Studio(StudioSettings(Path("outputs/studio")))  # doctest: +SKIP
        >>> start(studio)  # easel.web.server.start: the page, served  # doctest: +SKIP
    """

    def __init__(self, settings: StudioSettings) -> None:
        self.settings = settings
        self.outputs = Path(settings.outputs).resolve()
        self.outputs.mkdir(parents=True, exist_ok=True)
        self._own_temp = settings.temp is None
        temp = settings.temp or Path(tempfile.mkdtemp(prefix="easel-studio-"))
        self.temp = Path(temp).resolve()
        self.temp.mkdir(parents=True, exist_ok=True)
        self.uploads = self.temp / "uploads"
        self.sessions = self.temp / "sessions"
        self.uploads.mkdir(exist_ok=True)
        self.sessions.mkdir(exist_ok=True)
        self.queue = JobQueue(settings.concurrency)
        self.tabs = {tab.name: tab for tab in settings.tabs}
        self.fields = {
            tab.name: [
                f for cls in tab.options for f in form_fields(cls, main=tab.main, exclude=tab.excluded(cls))
            ]
            for tab in settings.tabs
        }

    def close(self) -> None:
        """Remove the temporary folder when the studio made it (the outputs stay)."""
        if self._own_temp:
            shutil.rmtree(self.temp, ignore_errors=True)

    @property
    def roots(self) -> list[Path]:
        """The folders requests may read from: the outputs and the temporary folder."""
        return [self.outputs, self.temp]

    def session_folder(self, session: str) -> Path:
        """The session's temporary folder (previews), made when missing."""
        safe = "".join(c for c in session if c.isalnum() or c in "-_")[:64] or "anonymous"
        folder = self.sessions / safe
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def end_session(self, session: str) -> None:
        """Remove the session's temporary folder (its jobs keep running; results stay in the outputs)."""
        safe = "".join(c for c in session if c.isalnum() or c in "-_")[:64] or "anonymous"
        shutil.rmtree(self.sessions / safe, ignore_errors=True)

    # ------------------------------------------------------------ one run

    def prepare(self, tab_name: str, session: str, values: Sequence[Any]) -> Prepared:
        """Check the uploads and the form, copy the inputs into a new job folder, plan the outputs.

        ``values`` are the widgets' values: the uploads in the tab's order, then
        the form fields (:attr:`fields`).

        Raises:
            InputError: a missing or over-limit upload, a bad option (named by its
                flag), an output problem; nothing is left behind.
        """
        from easel.io.outputs import OutputPlan

        tab = self.tabs[tab_name]
        fields = self.fields[tab_name]
        n_up = len(tab.uploads)
        if len(values) != n_up + len(fields):
            raise ValueError(f"{tab_name}: expected {n_up + len(fields)} values, got {len(values)}")
        limits = self.settings.limits
        sources: dict[str, list[Path]] = {}
        for upload, value in zip(tab.uploads, values[:n_up], strict=True):
            paths = [Path(v) for v in (value if isinstance(value, list) else [value]) if v]
            if not paths and upload.required:
                raise InputError(f"{upload.label}: upload a file first")
            for path in paths:
                if upload.kind in ("image", "images"):
                    limits.check_image(path, upload.label)
                elif upload.kind not in FOLDER_UPLOADS:  # checked file by file as they are unpacked
                    limits.check_upload(path, upload.label)
            sources[upload.key] = paths
        raw = list(values[n_up:])
        fixed: dict[type, dict[str, Any]] = {}
        options = {cls: self._options(tab, cls, fields, raw, fixed) for cls in tab.options}

        job = Job(tab.name, session, work=lambda job: None)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = self.outputs / f"{stamp}-{tab.name}-{job.id}"
        folder.mkdir(parents=True)
        try:
            inputs: dict[str, Any] = {}
            names: dict[str, list[str]] = {}  # upload key -> its names in the job folder
            for upload in tab.uploads:
                copies = []
                if upload.kind in FOLDER_UPLOADS and sources[upload.key]:
                    from easel.web.uploads import FolderKind, collect_folder

                    kind: FolderKind = "photos" if upload.kind == "photos" else "colmap"
                    collect_folder(sources[upload.key], folder / upload.key, kind, limits, upload.label)
                    copies.append(folder / upload.key)
                for i, src in enumerate([] if upload.kind in FOLDER_UPLOADS else sources[upload.key]):
                    suffix = src.suffix.lower() if src.suffix.isascii() else ""
                    name = (
                        f"{upload.key}-{i + 1}{suffix}"
                        if upload.kind == "images"
                        else f"{upload.key}{suffix}"
                    )
                    shutil.copyfile(src, folder / name)
                    copies.append(folder / name)
                names[upload.key] = [p.name for p in copies]
                inputs[upload.key] = copies if upload.kind == "images" else (copies[0] if copies else None)
            plan = OutputPlan(
                inputs=[p for c in inputs.values() for p in (c if isinstance(c, list) else [c])]
            )
            outputs = {}
            for i, result in enumerate(tab.results):
                target = folder / result.filename
                option = result.flag or result.key
                outputs[result.key] = (
                    plan.folder(target, option=option, record=i == 0)
                    if result.kind == "folder"
                    else plan.file(target, option=option, record=i == 0)
                )
            plan.check()
            argvs = [
                _step_argv(tab, step, names, fields, options, raw, fixed)
                for step in (tab.steps or (_one_step(tab),))
            ]
            run = Run(inputs, options, outputs, job, limits, self.session_folder(session))
            if tab.check is not None:
                tab.check(run)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        prepared = Prepared(job, run, folder, argvs)
        job.work = lambda job: self._work(tab, prepared)
        return prepared

    def _options(
        self, tab: Tab, cls: type, fields: list[FormField], raw: list[Any], fixed: dict[type, dict[str, Any]]
    ) -> Any:
        mine = [(f, v) for f, v in zip(fields, raw, strict=True) if f.cls is cls]
        try:
            if tab.fixed is not None:
                chosen = {f.name: f.parse(v) for f, v in mine}
                fixed[cls] = tab.fixed(cls, chosen, self.settings.weights)
            return build_options(cls, [f for f, _ in mine], [v for _, v in mine], **fixed.get(cls, {}))
        except OptionError as exc:
            flags = {f.name: f.flag for f in fields if f.cls is cls}
            raise InputError(exc.with_name(flags.get(exc.field, exc.field))) from None

    def _work(self, tab: Tab, prepared: Prepared) -> dict[str, Path]:
        run, folder = prepared.run, prepared.folder
        start = time.perf_counter()
        try:
            tab.run(run)
        except JobCancelled:
            prepared.job.message = "cancelled"
            if any(p.exists() for p in run.outputs.values()):
                self._record(tab, prepared, "interrupted", time.perf_counter() - start)
                prepared.job.message = "cancelled; what was done so far is saved"
            else:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        except MemoryError:
            shutil.rmtree(folder, ignore_errors=True)
            prepared.job.message = "out of memory; try a smaller size"
            raise
        except (InputError, EaselError, ImportError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            prepared.job.message = _one_line(exc, folder)
            raise
        except Exception as exc:
            shutil.rmtree(folder, ignore_errors=True)
            prepared.job.message = f"internal error: {exc.__class__.__name__}: {_one_line(exc, folder)}"
            raise
        status = run.status
        self._record(tab, prepared, status, time.perf_counter() - start)
        if status != "finished":
            prepared.job.message = f"ended early ({status}); the result so far is saved"
            if prepared.job.stop_requested:  # cancelled: what was done is kept
                prepared.job.message = "cancelled; what was done so far is saved"
                raise JobCancelled()
        elif run.summary:
            prepared.job.message = f"Finished: {run.summary}"
        return run.outputs

    def _record(self, tab: Tab, prepared: Prepared, status: str, seconds: float) -> Path:
        from easel.io.record import write_record

        run = prepared.run
        main = run.outputs[tab.results[0].key]
        resolved: dict[str, Any] = {}
        for cls, value in run.options.items():
            # a name two classes share keeps the first's value; another value is `render.size`
            step = next((s.command[-1] for s in tab.steps if cls in s.options), cls.__name__)
            for name, item in options_dict(value).items():
                if name not in resolved:
                    resolved[name] = item
                elif resolved[name] != item:
                    resolved[f"{step}.{name}"] = item
        names = {
            key: ([p.name for p in v] if isinstance(v, list) else (v.name if v is not None else None))
            for key, v in run.inputs.items()
        }
        inputs = [
            p for v in run.inputs.values() for p in (v if isinstance(v, list) else [v]) if p is not None
        ]
        seed = next((getattr(v, "seed", None) for v in run.options.values() if hasattr(v, "seed")), None)
        return write_record(
            main,
            command=tab.name,
            options={**names, **self._output_names(tab, run), **resolved},
            inputs=[p.name for p in inputs],
            seed=seed,
            timings={"total": round(seconds, 4)},
            extra={
                **run.extra,
                **({"argvs": prepared.argvs} if len(prepared.argvs) > 1 else {}),
                "status": status,
                "studio": {
                    "tab": tab.name,
                    "results": {r.key: r.filename for r in tab.results if run.outputs[r.key].exists()},
                },
            },
            argv=prepared.argv,
        )

    @staticmethod
    def _output_names(tab: Tab, run: Run) -> dict[str, str]:
        """The outputs as the CLI's records name them: ``output`` for ``-o``, the others by key."""
        names = {}
        for i, result in enumerate(tab.results):
            key = (
                "output"
                if i == 0
                else (result.key if result.key not in run.inputs else f"{result.key}_output")
            )
            names[key] = run.outputs[result.key].name
        return names

    def watch(
        self, tab_name: str, session: str, values: Sequence[Any], poll_s: float = 0.2
    ) -> Iterator[dict[str, Any]]:
        """Prepare, queue and follow one run; yield what the page shows as it changes.

        Each item has ``status`` (HTML), and when they change ``preview`` (a file),
        ``command``, and at the end ``results`` (result key -> file) and ``downloads``.
        The job keeps running if the page goes away.
        """
        tab = self.tabs[tab_name]
        try:
            prepared = self.prepare(tab_name, session, values)
        except InputError as exc:
            yield {"status": error_html(tab_name, _one_line(exc)), "command": ""}
            return
        job = self.queue.submit(prepared.job)
        shown: tuple[Any, ...] = ()
        first = True
        while True:
            ended = job.wait(poll_s)
            view = status_html(tab_name, job, self.queue.position(job), len(self.queue.running()))
            item: dict[str, Any] = {}
            if (view, job.preview) != shown:
                shown = (view, job.preview)
                item["status"] = view
                if job.preview is not None and job.preview.exists():
                    item["preview"] = job.preview
            if first:
                item["command"] = prepared.command
                first = False
            if ended:
                break
            if item:
                yield item
        results = (
            {r.key: path for r in tab.results if (path := prepared.run.outputs[r.key]).exists()}
            if job.state in ("finished", "cancelled")
            else {}
        )
        record = prepared.run.outputs[tab.results[0].key]
        downloads = [p for p in results.values() if p.is_file()]
        if results and (rec := record.with_name(record.name + ".json")).exists():
            downloads.append(rec)
        final: dict[str, Any] = {
            "status": status_html(tab_name, job, 0, 0),
            "results": results,
            "downloads": downloads,
            "command": prepared.command,
        }
        if job.preview is not None and job.preview.exists():
            final["preview"] = job.preview
        yield final

    def cancel(self, tab_name: str, session: str) -> int:
        """Cancel this session's jobs in this tab; how many there were."""
        return len(self.queue.cancel_session(session, tab_name))


def _one_step(tab: Tab) -> Step:
    """The single command line of a tab without steps: ``easel NAME`` with everything."""
    return Step(
        (tab.name,), tab.options, tuple(u.key for u in tab.uploads), tuple(r.key for r in tab.results)
    )


def _step_argv(
    tab: Tab,
    step: Step,
    names: Mapping[str, list[str]],
    fields: list[FormField],
    options: Mapping[type, Any],
    raw: list[Any],
    fixed: Mapping[type, Mapping[str, Any]],
) -> list[str]:
    """One command line: the command, positional uploads and ``args``, flagged uploads, options, outputs."""
    argv = [*step.command]
    flagged: list[str] = []
    for upload in tab.uploads:
        if upload.key in step.uploads:
            for name in names[upload.key]:
                if upload.flag is None:
                    argv.append(name)
                else:
                    flagged += [upload.flag, name]
    argv += [*step.args, *flagged]
    mine = [(f, v) for f, v in zip(fields, raw, strict=True) if f.cls in step.options]
    argv += option_args([f for f, _ in mine], options, [v for _, v in mine])
    argv += _fixed_args({cls: values for cls, values in fixed.items() if cls in step.options})
    for result in tab.results:
        if result.key in step.results and result.flag is not None:
            argv += [result.flag, result.filename]
    return argv


# ---------------------------------------------------------------- what the page shows


def error_html(tab: str, message: str) -> str:
    """The status line of a refused run: one line, ``data-state="error"``.

    Example:
        >>> 'data-state="error"' in error_html("quantize", "Photo: upload a file first")
        True
    """
    return (
        f'<div class="easel-status easel-error" id="{tab}-state" data-state="error" role="alert">'
        f"{html.escape(message)}</div>"
    )


def status_html(tab: str, job: Job, position: int, running: int) -> str:
    """The status line of a job as HTML (``data-state`` says which; the tests read it).

    Example:
        >>> job = Job("quantize", "s", work=print)
        >>> "position 2" in status_html("quantize", job, 2, 1)
        True
    """
    state = job.state
    attrs = f'class="easel-status" id="{tab}-state" data-state="{state}" data-job="{job.id}"'
    if state == "queued":
        ahead = f"{running} running, " if running else ""
        return (
            f'<div {attrs} data-position="{position}">Queued: position {position} '
            f"({ahead}{max(position - 1, 0)} waiting before it)</div>"
        )
    if state == "running":
        update = job.progress
        if update is None:
            return f"<div {attrs}>Running: starting…</div>"
        metrics = " · ".join(f"{k} {v:.4g}" for k, v in list(update.metrics.items())[:3])
        bar = f'<progress value="{update.step}" max="{update.total}"></progress>' if update.total else ""
        counts = f"{update.step}/{update.total}" if update.total else str(update.step)
        return (
            f'<div {attrs} data-step="{update.step}" data-total="{update.total}">{bar}'
            f"Running: {html.escape(update.stage)} {counts}{' · ' + html.escape(metrics) if metrics else ''}</div>"
        )
    took = f" in {job.ended - job.started:.1f} s" if job.ended and job.started else ""
    if state == "finished":
        text = job.message or "Finished"
        return f"<div {attrs}>{html.escape(text)}{took}.</div>"
    if state == "cancelled":
        return f"<div {attrs}>Cancelled{': ' + html.escape(job.message) if job.message not in ('', 'cancelled') else ''}.</div>"
    return f'<div {attrs} role="alert"><span class="easel-error">{html.escape(job.message)}</span></div>'


def gallery_records(outputs: Path, limit: int = 200) -> list[dict[str, Any]]:
    """The run records of past results in ``outputs`` (the studio's job folders), newest first.

    Each is the record with ``folder`` and ``files`` (result key -> path that exists) added.

    Example:
        >>> gallery_records(Path("outputs/studio"))[0]["command"]  # doctest: +SKIP
        'quantize'
    """
    found = []
    for record in outputs.glob("*/*.json"):
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        studio = data.get("studio") if isinstance(data, dict) else None
        if not isinstance(studio, dict) or "command" not in data:
            continue
        files = {
            key: record.parent / name
            for key, name in dict(studio.get("results") or {}).items()
            if isinstance(name, str) and "/" not in name and (record.parent / name).is_file()
        }
        data.update(folder=record.parent, files=files)
        found.append(data)
    found.sort(key=lambda d: str(d.get("created", "")), reverse=True)
    return found[:limit]
