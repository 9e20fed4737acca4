"""The Ray engine: each task is a Ray task, on a cluster or a local Ray instance.

``address=None`` starts a local Ray instance with this machine's CPUs and shuts
it down afterwards (unless Ray was already initialized in this process, which
is then used as it is); ``"auto"`` joins the cluster started on this machine
with ``ray start --head``; ``"ray://host:10001"`` connects a Ray client.

Each task asks for ``num_cpus`` CPUs and, when it uses a GPU and the cluster
has GPUs, one GPU. Ray's own re-execution is off: this engine resubmits a lost
or failed task itself with the next attempt number, as the local engine does,
so a re-run knows it may replace what the lost attempt left. Ray reuses its
worker processes, so what a worker loads once (model weights) serves later tasks.

Progress from the tasks (``on_progress``) travels on a :class:`ray.util.queue.Queue`
(an actor) and is handed to ``on_progress`` in the calling thread, between waits.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from typing import Any

from easel.errors import InputError, MissingExtraError
from easel.jobs.tasks import (
    Attempts,
    Outcome,
    OutcomeFn,
    Task,
    TaskFn,
    TaskProgressFn,
    Waiting,
    call_task,
    describe_failure,
)

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0
"""How long cancelled tasks get to save what they can."""

POLL_S = 0.2
"""How often the progress queue is read while tasks run (only when progress is asked for)."""


def require_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra to install.

    Raises:
        MissingExtraError: Ray is not installed (``pip install 'easel[ray]'``).

    Example:
        >>> require_ray().__name__  # doctest: +SKIP
        'ray'
    """
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "ray") from None
    return ray


def run_ray(
    fn: TaskFn,
    tasks: Sequence[Task],
    *,
    address: str | None = None,
    retries: int = 0,
    on_outcome: OutcomeFn | None = None,
    on_progress: TaskProgressFn | None = None,
) -> list[Outcome]:
    """Run the tasks as Ray tasks; see :func:`easel.jobs.engine.run_tasks`.

    Raises:
        MissingExtraError: Ray is not installed (``pip install 'easel[ray]'``).
        InputError: no Ray cluster at ``address``.

    Example:
        >>> run_ray(abs, [Task("a", -1)], address="auto")  # doctest: +SKIP
    """
    if not tasks:
        return []
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(
                address=address,
                num_cpus=(os.cpu_count() or 1) if address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, ValueError) as exc:  # no cluster there, or a malformed address
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"Ray address {address!r}: cannot connect ({first})") from None
    try:
        return _run(ray, fn, tasks, retries, on_outcome, on_progress)
    finally:
        if started:
            ray.shutdown()


def _run(
    ray: Any,
    fn: TaskFn,
    tasks: Sequence[Task],
    retries: int,
    on_outcome: OutcomeFn | None,
    on_progress: TaskProgressFn | None,
) -> list[Outcome]:
    from ray.exceptions import RayTaskError

    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    remote = ray.remote(call_task)
    book = Attempts(retries)
    running: dict[Any, Task] = {}
    outcomes: list[Outcome] = []
    progress_queue = None
    if on_progress is not None:
        from ray.util.queue import Queue

        progress_queue = Queue(actor_options={"num_cpus": 0})

    def drain() -> None:
        if progress_queue is None or on_progress is None:
            return
        try:
            items = progress_queue.get_nowait_batch(progress_queue.qsize())
        except Exception as exc:  # the queue actor is gone: progress is not worth failing the batch for
            log.debug("progress queue unreadable: %s", exc)
            return
        for key, update in items:
            on_progress(key, update)

    def submit(task: Task) -> None:
        attempt = book.start(task.key)
        ref = remote.options(
            num_cpus=task.num_cpus,
            num_gpus=1 if task.gpu and has_gpus else 0,
            max_retries=0,  # lost tasks are resubmitted here, with the next attempt number
            retry_exceptions=False,
            name=task.key,
        ).remote(fn, task.payload, attempt, task.key, progress_queue)
        running[ref] = task

    waiting = Waiting(tasks)

    def finish(outcome: Outcome) -> None:
        waiting.ended(outcome)
        for ended in [outcome, *waiting.blocked()]:  # and the tasks that waited for a failed one
            outcomes.append(ended)
            if on_outcome is not None:
                on_outcome(ended)
        submit_ready()

    def submit_ready() -> None:
        task = waiting.take()
        while task is not None:
            submit(task)
            task = waiting.take()

    try:
        submit_ready()
        while running:
            timeout = POLL_S if progress_queue is not None else None
            ready, _ = ray.wait(list(running), num_returns=1, timeout=timeout)
            drain()
            for ref in ready:
                task = running.pop(ref)
                attempts = book.started[task.key]
                try:
                    value, seconds = ray.get(ref)
                except RayTaskError as exc:  # the task raised: a failure
                    cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                    if book.again_after_failure(task.key, cause):
                        log.info("%s failed (%s); running it again", task.key, describe_failure(cause))
                        submit(task)
                    else:
                        finish(Outcome(task.key, error=describe_failure(cause), attempts=attempts))
                except ray.exceptions.RayError as exc:  # the worker or its node died: the task was lost
                    if book.again_after_loss(task.key):
                        log.info("%s: its worker died (%s); running it again", task.key, type(exc).__name__)
                        submit(task)
                    else:
                        finish(Outcome(task.key, error="its worker died every time", attempts=attempts))
                else:
                    finish(Outcome(task.key, value=value, attempts=attempts, seconds=seconds))
        drain()
    except BaseException:
        # Ctrl-C/SIGTERM: stop the running tasks (KeyboardInterrupt in each: it saves what it can)
        for ref in running:
            ray.cancel(ref)
        if running:
            ray.wait(list(running), num_returns=len(running), timeout=STOP_GRACE_S)
        raise
    finally:
        if progress_queue is not None:
            with contextlib.suppress(Exception):
                progress_queue.shutdown()
    return outcomes
