"""Batch jobs: run many tasks on a local process pool or a Ray cluster.

The engine is generic (it runs module-level functions on payloads; a task may
wait for earlier ones and report progress with :func:`task_progress`); the
CLI's ``easel batch`` turns a manifest into tasks that each run one easel
command, and long videos into chunks (:mod:`easel.jobs.video`).

Example:
    >>> from easel.jobs import Task, run_tasks
    >>> outcomes = run_tasks(my_function, [Task("a", 1), Task("b", 2)], engine="local")  # doctest: +SKIP
    >>> [o.value for o in outcomes]  # doctest: +SKIP
"""

from __future__ import annotations

from easel.jobs.engine import ENGINES, run_tasks
from easel.jobs.tasks import LOST_RETRIES, Outcome, Task, TaskFailed, task_progress

__all__ = ["ENGINES", "LOST_RETRIES", "Outcome", "Task", "TaskFailed", "run_tasks", "task_progress"]
