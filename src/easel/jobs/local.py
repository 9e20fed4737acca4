"""The local engine: a process pool on this machine (nothing to start or install).

Workers are *spawned* (a fresh interpreter each: no forked torch or CUDA state)
and live for the whole batch, so what a worker loads once (model weights, see
:func:`easel.nets.vgg.load_encoder`) serves every task it runs. There are as many
workers as cores, each with ``cores / workers`` threads, or, when a task uses a
GPU and GPUs are present, one worker per GPU, each seeing only its own
(``CUDA_VISIBLE_DEVICES``).

A worker that dies during a task (killed, out of memory) breaks the pool: the
tasks it was running are lost, a new pool is started and they run again (up to
:data:`~easel.jobs.tasks.LOST_RETRIES` times); finished tasks are kept. A broken
pool reports *every* task in flight as lost, also one that another worker had
just finished: each attempt leaves a completion marker as soon as its function
returns, and a "lost" task whose marker exists counts as done, not run again.

Progress from the workers (``on_progress``) travels on a manager queue (a
server process, so a worker killed in the middle of a put breaks nothing) and
is handed to ``on_progress`` in the calling thread, between waits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue as queue_module
import signal
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

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
    gpu_ids,
)

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0
"""How long stopped workers get to save what they can before they are killed."""

POLL_S = 0.2
"""How often the progress queue is read while tasks run (only when progress is asked for)."""


def default_workers(tasks: Sequence[Task]) -> int:
    """Workers for ``tasks``: one per GPU when a task uses one and GPUs exist, else one per core.

    Never more than there are tasks.

    Example:
        >>> default_workers([Task("a", None)]) >= 1
        True
    """
    gpus = len(gpu_ids()) if any(t.gpu for t in tasks) else 0
    count = gpus if gpus > 0 else (os.cpu_count() or 1)
    return max(1, min(count, len(tasks)))


def _call_and_mark(
    fn: TaskFn, payload: Any, attempt: int, marker: str, key: str = "", queue: Any = None
) -> tuple[Any, float]:
    """:func:`call_task`, then the result written to ``marker`` (atomically) before it is returned."""
    result = call_task(fn, payload, attempt, key, queue)
    part = f"{marker}.part"
    with open(part, "wb") as fh:
        pickle.dump(result, fh)
    os.replace(part, marker)
    return result


def _finished_before_loss(marker: Path) -> tuple[Any, float] | None:
    """The result an attempt left in ``marker`` before its pool broke, if it got that far."""
    try:
        with open(marker, "rb") as fh:
            value: tuple[Any, float] = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
    return value


def _init_worker(threads: int, gpu_queue: Any) -> None:
    """Set up one worker process: its thread count, its GPU, and its own process group."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))
    if gpu_queue is not None:  # before anything imports torch in this process
        with contextlib.suppress(Exception):
            os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_queue.get(timeout=5))
    # Ctrl-C in a terminal reaches the whole process group: the batch stops its workers itself,
    # with one SIGTERM each, so a worker is not interrupted twice while it saves
    with contextlib.suppress(OSError):
        os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _progress_manager() -> SyncManager:
    """A spawned manager for the progress queue; Ctrl-C is the batch's to handle, not its."""
    manager = SyncManager(ctx=multiprocessing.get_context("spawn"))
    manager.start(signal.signal, (signal.SIGINT, signal.SIG_IGN))
    return manager


def _new_pool(workers: int, gpus: list[str]) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")
    queue = None
    if gpus:
        queue = context.Queue()
        for index in range(workers):
            queue.put(gpus[index % len(gpus)])
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(threads, queue)
    )


def _stop(pool: ProcessPoolExecutor, running: dict[Future[Any], Task]) -> None:
    """Cancel what has not started, SIGTERM the workers, give them time to save, then kill."""
    processes = list(getattr(pool, "_processes", {}).values())  # the pool's workers (no public accessor)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGTERM)
    if running:
        wait(running, timeout=STOP_GRACE_S)
    for process in processes:
        process.join(timeout=1.0)
        if process.is_alive():
            process.kill()
            process.join(timeout=5.0)


def run_local(
    fn: TaskFn,
    tasks: Sequence[Task],
    *,
    workers: int | None = None,
    retries: int = 0,
    on_outcome: OutcomeFn | None = None,
    on_progress: TaskProgressFn | None = None,
) -> list[Outcome]:
    """Run the tasks on a spawned process pool; see :func:`easel.jobs.engine.run_tasks`.

    Example:
        >>> run_local(abs, [Task("a", -1)], workers=1)  # doctest: +SKIP
    """
    if not tasks:
        return []
    workers = max(1, min(workers or default_workers(tasks), len(tasks)))
    gpus = gpu_ids() if any(t.gpu for t in tasks) else []
    book = Attempts(retries)
    pending = Waiting(tasks)
    outcomes: list[Outcome] = []

    def finish(outcome: Outcome) -> None:
        pending.ended(outcome)
        for ended in [outcome, *pending.blocked()]:  # and the tasks that waited for a failed one
            outcomes.append(ended)
            if on_outcome is not None:
                on_outcome(ended)

    markers = tempfile.TemporaryDirectory(prefix="easel-jobs-")
    manager = _progress_manager() if on_progress is not None else None
    progress_queue = manager.Queue() if manager is not None else None

    def drain() -> None:
        while progress_queue is not None and on_progress is not None:
            try:
                key, update = progress_queue.get_nowait()
            except (queue_module.Empty, OSError, EOFError):
                return
            on_progress(key, update)

    try:
        return _run_pools(
            fn, pending, workers, gpus, book, finish, markers.name, progress_queue, drain, outcomes
        )
    finally:
        markers.cleanup()
        if manager is not None:
            manager.shutdown()


def _run_pools(
    fn: TaskFn,
    pending: Waiting,
    workers: int,
    gpus: list[str],
    book: Attempts,
    finish: OutcomeFn,
    markers: str,
    progress_queue: Any,
    drain: Callable[[], None],
    outcomes: list[Outcome],
) -> list[Outcome]:
    """The pools of one :func:`run_local` call: a new one whenever a dead worker broke the last."""
    submitted = 0
    timeout = POLL_S if progress_queue is not None else None
    while pending:
        pool = _new_pool(workers, gpus)
        running: dict[Future[Any], Task] = {}
        marker_of: dict[Future[Any], Path] = {}
        broken = False
        try:
            while (pending and not broken) or running:
                # at most one task per worker in flight: a broken pool loses only those
                while pending and not broken and len(running) < workers:
                    task = pending.take()
                    if task is None:  # the others wait for tasks still running
                        break
                    attempt = book.start(task.key)
                    marker = Path(markers) / f"{submitted}.done"
                    submitted += 1
                    try:
                        future = pool.submit(
                            _call_and_mark, fn, task.payload, attempt, str(marker), task.key, progress_queue
                        )
                    except BrokenProcessPool:
                        book.started[task.key] -= 1
                        pending.again(task, first=True)
                        broken = True
                    else:
                        running[future], marker_of[future] = task, marker
                if not running:
                    break
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                drain()
                for future in done:
                    task = running.pop(future)
                    attempts = book.started[task.key]
                    try:
                        value, seconds = future.result()
                    except BrokenProcessPool:
                        broken = True
                        finished = _finished_before_loss(marker_of[future])
                        if finished is not None:  # done in a healthy worker; only the pool broke
                            finish(
                                Outcome(task.key, value=finished[0], attempts=attempts, seconds=finished[1])
                            )
                        elif book.again_after_loss(task.key):
                            log.info("%s: its worker died; running it again", task.key)
                            pending.again(task)
                        else:
                            finish(Outcome(task.key, error="its worker died every time", attempts=attempts))
                    except Exception as exc:
                        if book.again_after_failure(task.key, exc):
                            log.info("%s failed (%s); running it again", task.key, describe_failure(exc))
                            pending.again(task)
                        else:
                            finish(Outcome(task.key, error=describe_failure(exc), attempts=attempts))
                    else:
                        finish(Outcome(task.key, value=value, attempts=attempts, seconds=seconds))
        except BaseException:
            _stop(pool, running)
            raise
        pool.shutdown(wait=True, cancel_futures=True)
    drain()
    return outcomes
