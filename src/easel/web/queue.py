"""The studio's job queue: jobs run one at a time (or ``concurrency`` at a time) in worker threads.

The page only watches a job: a job runs to its end whether or not the browser
that asked for it is still there, and its results are in the outputs folder.
A job waiting in the queue knows its position; :meth:`JobQueue.cancel` removes a
waiting job, or asks a running one to stop (its ``progress`` callback raises
:class:`JobCancelled` at the next report, and its ``stop_requested`` turns true for
hooks that stop on their own, as ``easel.stylize``'s ``on_step`` does).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from easel.errors import EaselError
from easel.progress import ProgressUpdate

__all__ = ["Job", "JobCancelled", "JobQueue", "JobState"]

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "finished", "failed", "cancelled"]


class JobCancelled(KeyboardInterrupt):
    """Raised in a job's thread by its progress callback once the job is cancelled.

    A ``KeyboardInterrupt``, so that the library saves what it can as it does for Ctrl-C.

    Example:
        >>> issubclass(JobCancelled, KeyboardInterrupt)
        True
    """


_ids = itertools.count(1)


@dataclass
class Job:
    """One run of a tab.

    Attributes:
        tab: the tab's name (the CLI command).
        session: the browser session that asked for it.
        work: ``work(job)`` does the job (in a worker thread); what it returns is ``result``.
        id: a number unique in this server.
        state: ``queued``, ``running``, ``finished``, ``failed`` or ``cancelled``.
        progress: the latest progress report.
        preview: the latest intermediate image (a file), for long optimizations.
        message: one line for the user (the error, or how the job ended).
        result: what ``work`` returned.

    Example:
        >>> job = Job("quantize", "session", work=lambda job: "done")
        >>> job.state, job.done
        ('queued', False)
    """

    tab: str
    session: str
    work: Callable[[Job], Any]
    id: int = field(default_factory=lambda: next(_ids))
    state: JobState = "queued"
    progress: ProgressUpdate | None = None
    preview: Path | None = None
    message: str = ""
    result: Any = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        """Whether the job has ended (finished, failed or cancelled)."""
        return self._ended.is_set()

    @property
    def stop_requested(self) -> bool:
        """Whether the job was asked to stop (a hook may return this to stop the run)."""
        return self._stop.is_set()

    def report(self, update: ProgressUpdate) -> None:
        """The progress callback to give the library; raises :class:`JobCancelled` once cancelled."""
        self.progress = update
        if self._stop.is_set():
            raise JobCancelled()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job has ended; whether it has."""
        return self._ended.wait(timeout)


class JobQueue:
    """Jobs run in submission order by ``concurrency`` worker threads.

    Example:
        >>> queue = JobQueue(concurrency=1)
        >>> job = queue.submit(Job("quantize", "s", work=lambda job: 42))
        >>> job.wait(5), job.state, job.result
        (True, 'finished', 42)
    """

    def __init__(self, concurrency: int = 1) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        self._waiting: deque[Job] = deque()
        self._running: list[Job] = []
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Condition()
        self._workers: list[threading.Thread] = []

    def submit(self, job: Job) -> Job:
        """Queue ``job`` and return it."""
        with self._lock:
            self._jobs[job.id] = job
            self._waiting.append(job)
            while len(self._workers) < self.concurrency:
                worker = threading.Thread(
                    target=self._loop, name=f"easel-job-{len(self._workers)}", daemon=True
                )
                self._workers.append(worker)
                worker.start()
            self._lock.notify_all()
        return job

    def position(self, job: Job) -> int:
        """1-based place of a waiting job in the queue (0 once it runs or has ended)."""
        with self._lock:
            for i, waiting in enumerate(self._waiting):
                if waiting is job:
                    return i + 1
        return 0

    def get(self, job_id: int) -> Job | None:
        """The job with this id, if this server has it."""
        return self._jobs.get(job_id)

    def running(self) -> list[Job]:
        """The jobs running now."""
        with self._lock:
            return list(self._running)

    def cancel(self, job: Job) -> None:
        """Remove a waiting job, or ask a running one to stop; nothing for an ended job."""
        with self._lock:
            if job.done:
                return
            job._stop.set()
            if job in self._waiting:
                self._waiting.remove(job)
                self._end(job, "cancelled", "cancelled before it started")

    def cancel_session(self, session: str, tab: str | None = None) -> list[Job]:
        """Cancel every job of ``session`` (in ``tab``) that has not ended; return them."""
        with self._lock:
            jobs = [
                j for j in self._jobs.values() if j.session == session and not j.done and tab in (None, j.tab)
            ]
        for job in jobs:
            self.cancel(job)
        return jobs

    def _end(self, job: Job, state: JobState, message: str = "") -> None:
        job.state = state
        if message:
            job.message = message
        job.ended = time.time()
        job._ended.set()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                job = self._waiting.popleft()
                self._running.append(job)
                job.state = "running"
                job.started = time.time()
            try:
                job.result = job.work(job)
            except JobCancelled:
                self._finish(job, "cancelled", job.message or "cancelled")
            except Exception as exc:  # the page gets one line; the server log the traceback if unexpected
                if isinstance(exc, (EaselError, ImportError)):
                    log.info(
                        "job %s (%s): %s", job.id, job.tab, str(exc).splitlines()[0] if str(exc) else exc
                    )
                else:
                    log.exception("job %s (%s) failed", job.id, job.tab)
                self._finish(job, "failed", job.message or f"{exc.__class__.__name__}: {exc}")
            else:  # the work ended on its own (it raises JobCancelled when a cancel cut it short)
                self._finish(job, "finished")

    def _finish(self, job: Job, state: JobState, message: str = "") -> None:
        with self._lock:
            if job in self._running:
                self._running.remove(job)
            self._end(job, state, message)
