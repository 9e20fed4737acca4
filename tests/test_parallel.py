"""easel._parallel.run_chunks: the ranges cover the work once, run at the same time, errors surface."""

from __future__ import annotations

import multiprocessing
import threading
import warnings

import pytest

from easel._parallel import run_chunks


@pytest.mark.parametrize("n_items", [0, 1, 2, 7, 100])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_ranges_cover_every_item_once_in_contiguous_pieces(n_items: int, threads: int) -> None:
    ranges: list[tuple[int, int]] = []
    lock = threading.Lock()

    def loop(start: int, stop: int) -> None:
        with lock:
            ranges.append((start, stop))

    run_chunks(loop, n_items, threads=threads)
    covered = sorted(i for start, stop in ranges for i in range(start, stop))
    assert covered == list(range(n_items))
    assert len(ranges) == (min(threads, n_items) if n_items else 0)
    assert all(stop > start for start, stop in ranges)


def test_ranges_run_at_the_same_time() -> None:
    """Two ranges that each wait for the other finish only if they run concurrently."""
    both = threading.Barrier(2, timeout=10)
    names = set()

    def loop(start: int, stop: int) -> None:
        names.add(threading.current_thread().name)
        both.wait()

    run_chunks(loop, 2, threads=2)
    assert len(names) == 2


def test_default_thread_count_is_numbas() -> None:
    import numba

    ranges: list[tuple[int, int]] = []
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        run_chunks(lambda start, stop: ranges.append((start, stop)), 10)
    finally:
        numba.set_num_threads(before)
    assert ranges == [(0, 10)]


def test_an_error_surfaces_after_every_range_finished() -> None:
    finished = []
    release = threading.Event()

    def loop(start: int, stop: int) -> None:
        if start == 0:
            release.set()
            raise ValueError("first range failed")
        release.wait(10)
        finished.append(start)

    with pytest.raises(ValueError, match="first range failed"):
        run_chunks(loop, 4, threads=2)
    assert finished == [2]

    def worker_fails(start: int, stop: int) -> None:
        if start > 0:
            raise KeyError(start)

    with pytest.raises(KeyError):
        run_chunks(worker_fails, 4, threads=2)


def test_nested_calls_run_serially_instead_of_waiting_on_the_pool() -> None:
    inner: list[tuple[int, int]] = []

    def outer(start: int, stop: int) -> None:
        if start > 0:  # in a pool thread
            run_chunks(lambda a, b: inner.append((a, b)), 6, threads=3)

    run_chunks(outer, 2, threads=2)
    assert inner == [(0, 6)]


def _sum_in_child(n: int) -> int:
    total = []
    run_chunks(lambda start, stop: total.append(sum(range(start, stop))), n, threads=2)
    return sum(total)


def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    run_chunks(lambda start, stop: None, 2, threads=2)  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork with threads running
        with context.Pool(1) as pool:
            assert pool.apply_async(_sum_in_child, (10,)).get(timeout=60) == 45
