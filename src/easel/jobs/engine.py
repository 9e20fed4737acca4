"""The engine choice: one call runs tasks locally or on Ray (see :mod:`easel.jobs.tasks`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from easel.jobs.tasks import Outcome, OutcomeFn, Task, TaskFn, TaskProgressFn, check_order

ENGINES = ("local", "ray")


def run_tasks(
    fn: TaskFn,
    tasks: Iterable[Task],
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    retries: int = 0,
    on_outcome: OutcomeFn | None = None,
    on_progress: TaskProgressFn | None = None,
) -> list[Outcome]:
    """Run ``fn(task.payload, attempt)`` for every task on an engine; return the outcomes in task order.

    Args:
        fn: a module-level function (it is pickled by reference).
        tasks: the tasks; keys must be unique, and a task may wait (``Task.after``)
            only for tasks listed before it.
        engine: ``"local"`` (a process pool on this machine, see
            :func:`easel.jobs.local.run_local`) or ``"ray"`` (a Ray cluster, see
            :func:`easel.jobs.ray_engine.run_ray`).
        workers: local worker processes (default: the cores, or one per GPU
            when a task uses a GPU and GPUs are present).
        address: Ray only: ``"auto"`` (a running cluster), ``"ray://host:10001"``,
            or ``None`` (start a local Ray instance and shut it down after).
        retries: how many times a failed task runs again.
        on_outcome: called in this process as each task ends (progress, reports).
        on_progress: called in this process with ``(key, update)`` as a running task
            reports progress through :func:`easel.jobs.tasks.task_progress` (thinned
            to a few updates a second per task).

    Raises:
        ValueError: duplicate keys, or a task waiting for one not listed before it.
        KeyboardInterrupt: Ctrl-C/SIGTERM; the workers were stopped first.

    Example:
        >>> run_tasks(abs, [Task("a", -1)])  # doctest: +SKIP
    """
    task_list: Sequence[Task] = list(tasks)
    keys = [t.key for t in task_list]
    check_order(task_list)
    if engine == "local":
        from easel.jobs.local import run_local

        outcomes = run_local(
            fn, task_list, workers=workers, retries=retries, on_outcome=on_outcome, on_progress=on_progress
        )
    elif engine == "ray":
        from easel.jobs.ray_engine import run_ray

        outcomes = run_ray(
            fn, task_list, address=address, retries=retries, on_outcome=on_outcome, on_progress=on_progress
        )
    else:
        raise ValueError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
    by_key = {o.key: o for o in outcomes}
    return [by_key[k] for k in keys]
