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
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from easel.errors import InputError, MissingExtraError
from easel.jobs.tasks import Attempts, Outcome, OutcomeFn, Task, TaskFn, call_task, describe_failure

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0
"""How long cancelled tasks get to save what they can."""


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
        return _run(ray, fn, tasks, retries, on_outcome)
    finally:
        if started:
            ray.shutdown()


def _run(
    ray: Any, fn: TaskFn, tasks: Sequence[Task], retries: int, on_outcome: OutcomeFn | None
) -> list[Outcome]:
    from ray.exceptions import RayTaskError

    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    remote = ray.remote(call_task)
    book = Attempts(retries)
    running: dict[Any, Task] = {}
    outcomes: list[Outcome] = []

    def submit(task: Task) -> None:
        attempt = book.start(task.key)
        ref = remote.options(
            num_cpus=task.num_cpus,
            num_gpus=1 if task.gpu and has_gpus else 0,
            max_retries=0,  # lost tasks are resubmitted here, with the next attempt number
            retry_exceptions=False,
            name=task.key,
        ).remote(fn, task.payload, attempt)
        running[ref] = task

    def finish(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    try:
        for task in tasks:
            submit(task)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
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
    except BaseException:
        # Ctrl-C/SIGTERM: stop the running tasks (KeyboardInterrupt in each: it saves what it can)
        for ref in running:
            ray.cancel(ref)
        if running:
            ray.wait(list(running), num_returns=len(running), timeout=STOP_GRACE_S)
        raise
    return outcomes
