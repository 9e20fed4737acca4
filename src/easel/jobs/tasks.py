"""What every engine shares: a task, its outcome, and when to run it again.

A *task* is one call ``fn(payload, attempt)`` of a module-level function (so it
pickles by reference, for process pools and Ray). The engine runs the tasks,
each in a worker process, and reports each :class:`Outcome` as it arrives:

* ``fn`` raising :class:`TaskFailed` (or any exception) is a failure; it is run
  again up to ``retries`` times, unless the exception says ``retry=False``
  (bad input fails the same way every time);
* a worker that dies during a task (killed, out of memory) loses the task; it
  is run again, in a new worker, up to :data:`LOST_RETRIES` times;
* ``attempt`` counts from 1, so a task can tell a first run from a re-run (a
  re-run may replace what the lost attempt left);
* a task may wait for others (``Task.after``): it starts once they all
  succeeded, and fails without running ("not run: ... failed") when one of
  them failed; it may only wait for tasks listed before it;
* a task may report its progress with :func:`task_progress`: when the caller
  asked for it (``on_progress``), each :class:`~easel.progress.ProgressUpdate` goes
  to the caller's process (a manager queue for the local pool, a Ray queue
  actor for Ray), at most every :data:`PROGRESS_INTERVAL_S` per task and always
  at a new stage or a stage's last step.

Ctrl-C or SIGTERM in the caller cancels the tasks not started, sends SIGTERM to
the workers (each saves what it can), waits for them, and re-raises.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from easel.progress import ProgressFn, ProgressUpdate

log = logging.getLogger(__name__)

LOST_RETRIES = 3
"""How many times a task whose worker died is run again (Ray's default for system failures)."""

PROGRESS_INTERVAL_S = 0.2
"""The least time between two progress updates a task sends (a new stage or a last step always goes)."""

TaskFn = Callable[[Any, int], Any]
OutcomeFn = Callable[["Outcome"], None]
TaskProgressFn = Callable[[str, ProgressUpdate], None]
"""``on_progress(key, update)``: a task's progress, in the caller's process."""


class TaskFailed(Exception):
    """Raised by a task function: the task failed, with a one-line message.

    Args:
        message: what went wrong, shown in reports.
        retry: whether running it again may help (``False`` for bad input).

    Example:
        >>> exc = TaskFailed("photo.jpg: no such file", retry=False)
        >>> str(exc), exc.retry
        ('photo.jpg: no such file', False)
    """

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message, retry)
        self.message = message
        self.retry = retry

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(payload, attempt)`` in a worker.

    Attributes:
        key: a unique name (reports, retries).
        payload: the argument of the task function; picklable.
        num_cpus: CPUs the task needs (a Ray resource request).
        gpu: the task uses a GPU when the engine has one (one worker per GPU
            locally, ``num_gpus=1`` on Ray).
        after: keys of tasks (listed before this one) that must succeed before it starts.

    Example:
        >>> Task("jobs[0]/photo.jpg", payload=["quantize", "photo.jpg"]).num_cpus
        1.0
    """

    key: str
    payload: Any
    num_cpus: float = 1.0
    gpu: bool = False
    after: tuple[str, ...] = ()


@dataclass
class Outcome:
    """How a task ended.

    Attributes:
        key: the task's key.
        value: what the task function returned (``None`` when it failed).
        error: the failure's one-line message (``None`` on success).
        attempts: how many times it was started.
        seconds: wall time of the last attempt, in seconds.

    Example:
        >>> Outcome("a", value=0, attempts=1, seconds=0.5).ok
        True
    """

    key: str
    value: Any = None
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def call_task(fn: TaskFn, payload: Any, attempt: int, key: str = "", queue: Any = None) -> tuple[Any, float]:
    """Run one task in a worker: ``(fn(payload, attempt), seconds)``.

    With a ``queue`` (anything with ``put``), :func:`task_progress` sends the
    task's progress there as ``(key, update)`` pairs while ``fn`` runs.

    Example:
        >>> call_task(lambda payload, attempt: payload * attempt, 21, 2)[0]
        42
    """
    start = time.perf_counter()
    with _reporting(key, queue):
        value = fn(payload, attempt)
    return value, time.perf_counter() - start


class _Sender:
    """Puts a task's progress updates on a queue, thinned to one per :data:`PROGRESS_INTERVAL_S`."""

    def __init__(self, key: str, queue: Any) -> None:
        self.key = key
        self.queue = queue
        self.stage: str | None = None
        self.last = 0.0

    def __call__(self, update: ProgressUpdate) -> None:
        now = time.monotonic()
        last_step = update.total > 0 and update.step >= update.total
        if update.stage == self.stage and not last_step and now - self.last < PROGRESS_INTERVAL_S:
            return
        self.stage, self.last = update.stage, now
        try:
            self.queue.put(
                (self.key, ProgressUpdate(update.stage, update.step, update.total, dict(update.metrics)))
            )
        except Exception as exc:  # the caller went away: progress is not worth failing the task for
            log.debug("progress of %s not sent: %s", self.key, exc)


_CURRENT: _Sender | None = None


@contextlib.contextmanager
def _reporting(key: str, queue: Any) -> Iterator[None]:
    global _CURRENT
    previous, _CURRENT = _CURRENT, (_Sender(key, queue) if queue is not None else None)
    try:
        yield
    finally:
        _CURRENT = previous


def task_progress() -> ProgressFn | None:
    """In a task function: a progress callback whose updates reach the caller's ``on_progress``.

    ``None`` outside a task, or when the caller did not ask for progress; pass it
    on as any ``progress=`` argument.

    Example:
        >>> def task(payload, attempt):
        ...     report = task_progress()
        ...     if report is not None:
        ...         report(ProgressUpdate("work", 1, 1))
        ...     return payload
        >>> task_progress() is None
        True
    """
    return _CURRENT


class Attempts:
    """Bookkeeping shared by the engines: attempts per task, and whether to run again.

    Example:
        >>> book = Attempts(retries=1)
        >>> book.start("a")
        1
        >>> book.again_after_failure("a", TaskFailed("boom")), book.again_after_failure("a", TaskFailed("boom"))
        (True, False)
    """

    def __init__(self, retries: int, lost_retries: int = LOST_RETRIES) -> None:
        self.retries = retries
        self.lost_retries = lost_retries
        self.started: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.lost: dict[str, int] = {}

    def start(self, key: str) -> int:
        """Count a start of ``key``; return its attempt number (from 1)."""
        self.started[key] = self.started.get(key, 0) + 1
        return self.started[key]

    def again_after_failure(self, key: str, exc: BaseException) -> bool:
        """Whether a task that raised ``exc`` runs again."""
        if isinstance(exc, TaskFailed) and not exc.retry:
            return False
        self.failed[key] = self.failed.get(key, 0) + 1
        return self.failed[key] <= self.retries

    def again_after_loss(self, key: str) -> bool:
        """Whether a task whose worker died runs again."""
        self.lost[key] = self.lost.get(key, 0) + 1
        return self.lost[key] <= self.lost_retries


def check_order(tasks: Sequence[Task]) -> None:
    """Unique keys, and every ``after`` naming a task listed earlier (so no cycle can form).

    Raises:
        ValueError: a duplicate key, or a task waiting for itself, a later task or an unknown one.

    Example:
        >>> check_order([Task("a", 1), Task("b", 2, after=("a",))])
        >>> check_order([Task("a", 1, after=("b",)), Task("b", 2)])
        Traceback (most recent call last):
        ...
        ValueError: task 'a' waits for 'b', which is not listed before it
    """
    seen: set[str] = set()
    for task in tasks:
        if task.key in seen:
            raise ValueError("task keys must be unique")
        for key in task.after:
            if key not in seen:
                raise ValueError(f"task {task.key!r} waits for {key!r}, which is not listed before it")
        seen.add(task.key)


class Waiting:
    """The tasks not started yet, in order, released as the tasks they wait for end.

    Example:
        >>> waiting = Waiting([Task("a", 1), Task("b", 2, after=("a",))])
        >>> waiting.take().key, waiting.take()
        ('a', None)
        >>> waiting.ended(Outcome("a", value=1)); waiting.take().key
        'b'
    """

    def __init__(self, tasks: Sequence[Task]) -> None:
        self.tasks: list[Task] = list(tasks)
        self.ok: set[str] = set()
        self.failed: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def ended(self, outcome: Outcome) -> None:
        """Note how a task ended."""
        (self.ok if outcome.ok else self.failed).add(outcome.key)

    def again(self, task: Task, first: bool = False) -> None:
        """Put a task back (to run again): at the end, or ``first`` in line."""
        if first:
            self.tasks.insert(0, task)
        else:
            self.tasks.append(task)

    def take(self) -> Task | None:
        """The first task whose waits are over (removed), or ``None``."""
        for index, task in enumerate(self.tasks):
            if all(key in self.ok for key in task.after):
                return self.tasks.pop(index)
        return None

    def blocked(self) -> list[Outcome]:
        """Remove the tasks that can never run (a task they wait for failed), as failed outcomes."""
        out: list[Outcome] = []
        changed = True
        while changed:
            changed = False
            for task in list(self.tasks):
                failed = next((key for key in task.after if key in self.failed), None)
                if failed is not None:
                    self.tasks.remove(task)
                    self.failed.add(task.key)
                    out.append(Outcome(task.key, error=f"not run: {failed} failed"))
                    changed = True
        return out


def describe_failure(exc: BaseException) -> str:
    """One line for a task's exception (its message; the class name for others).

    Example:
        >>> describe_failure(TaskFailed("photo.jpg: no such file"))
        'photo.jpg: no such file'
        >>> describe_failure(ZeroDivisionError("division by zero"))
        'ZeroDivisionError: division by zero'
    """
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if isinstance(exc, TaskFailed):
        return message
    return f"{exc.__class__.__name__}: {message}" if message else exc.__class__.__name__


def gpu_ids() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries, without initializing CUDA.

    ``CUDA_VISIBLE_DEVICES`` when it is set, else the GPUs the NVIDIA driver lists.

    Example:
        >>> isinstance(gpu_ids(), list)
        True
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [d.strip() for d in visible.split(",") if d.strip()]
        return [] if not ids or ids[0] == "-1" else ids
    try:
        return [str(i) for i in range(len(list(Path("/proc/driver/nvidia/gpus").iterdir())))]
    except OSError:
        return []
