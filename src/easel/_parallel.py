"""Run a compiled loop over ranges of work items on numba's thread count, with Python threads.

The numba kernels (:mod:`easel.art._kernels`, :mod:`easel.scene3d._kernels`)
are plain serial loops compiled with ``nogil=True`` that take the range of
work items (chunks, rows, points) to do; :func:`run_chunks` splits the items
into contiguous ranges and runs them at once on ``numba.get_num_threads()``
threads. This is what ``numba.prange`` would do, but without numba's
parallel compiler passes, which cost a second of compilation or more per
kernel on the first run of each machine (numba re-optimizes a parallel
kernel's whole body for its thread launcher). Results never depend on the
number of threads as long as each work item writes only its own outputs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["run_chunks"]

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_worker = threading.local()


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool when needed."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _mark_worker() -> None:
    _worker.active = True


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            import numba

            most = max(1, int(numba.config.NUMBA_NUM_THREADS) - 1)  # type: ignore[attr-defined]
            _pool = ThreadPoolExecutor(most, thread_name_prefix="easel-kernel", initializer=_mark_worker)
        return _pool


def run_chunks(loop: Callable[[int, int], object], n_items: int, threads: int | None = None) -> None:
    """Call ``loop(start, stop)`` on contiguous ranges that cover ``range(n_items)``, one per thread.

    Args:
        loop: does items ``[start, stop)``; a numba kernel compiled with
            ``nogil=True`` (or anything else that releases the GIL) runs in parallel.
        n_items: how many work items, >= 0.
        threads: how many threads (default: ``numba.get_num_threads()``, the
            calling thread's numba setting, capped by ``NUMBA_NUM_THREADS``).
            One thread, or one item, runs ``loop(0, n_items)`` in the calling
            thread. The calling thread always does the first range itself.

    Raises:
        Whatever ``loop`` raises, after every range has finished.

    Example:
        >>> done = []
        >>> run_chunks(lambda start, stop: done.extend(range(start, stop)), 10, threads=3)
        >>> sorted(done) == list(range(10))
        True
    """
    if threads is None:
        import numba

        threads = int(numba.get_num_threads())
    threads = min(threads, n_items)
    if threads <= 1 or getattr(_worker, "active", False):  # never wait on the pool from inside it
        if n_items > 0:
            loop(0, n_items)
        return
    bounds = [n_items * t // threads for t in range(threads + 1)]
    pool = _get_pool()
    futures: list[Future[object]] = [pool.submit(loop, bounds[t], bounds[t + 1]) for t in range(1, threads)]
    try:
        loop(bounds[0], bounds[1])
    finally:
        errors = [f.exception() for f in futures]  # waits for every range, even after an error here
    for error in errors:
        if error is not None:
            raise error
