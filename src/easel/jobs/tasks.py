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
  re-run may replace what the lost attempt left).

Ctrl-C or SIGTERM in the caller cancels the tasks not started, sends SIGTERM to
the workers (each saves what it can), waits for them, and re-raises.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOST_RETRIES = 3
"""How many times a task whose worker died is run again (Ray's default for system failures)."""

TaskFn = Callable[[Any, int], Any]
OutcomeFn = Callable[["Outcome"], None]


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

    Example:
        >>> Task("jobs[0]/photo.jpg", payload=["quantize", "photo.jpg"]).num_cpus
        1.0
    """

    key: str
    payload: Any
    num_cpus: float = 1.0
    gpu: bool = False


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


def call_task(fn: TaskFn, payload: Any, attempt: int) -> tuple[Any, float]:
    """Run one task in a worker: ``(fn(payload, attempt), seconds)``.

    Example:
        >>> call_task(lambda payload, attempt: payload * attempt, 21, 2)[0]
        42
    """
    start = time.perf_counter()
    value = fn(payload, attempt)
    return value, time.perf_counter() - start


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
