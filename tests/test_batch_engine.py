"""The generic job engine (``easel.jobs``): the local process pool, retries, lost workers, interrupts.

The task functions live at module level here, so spawned workers import them by
reference (pytest puts this folder on ``sys.path``, and spawned workers inherit it).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from easel.io.atomic import atomic_path, remove_stale_parts
from easel.jobs import LOST_RETRIES, Task, TaskFailed, run_tasks
from easel.jobs.tasks import Attempts, describe_failure


def square(payload: int, attempt: int) -> tuple[int, int, int]:
    """A task: the square of ``payload``, the attempt and the worker's pid."""
    return payload * payload, attempt, os.getpid()


def fail_until(payload: tuple[str, int, bool], attempt: int) -> int:
    """Fail (retryable or not) until attempt ``payload[1]``; log every start in ``payload[0]``."""
    log, good_from, retry = payload
    with open(log, "a") as handle:
        handle.write(f"{attempt}\n")
    if attempt < good_from:
        raise TaskFailed(f"attempt {attempt} failed", retry=retry)
    return attempt


def killed_mid_write(payload: tuple[str, str], attempt: int) -> int:
    """Write ``out`` atomically; the first attempt's worker is SIGKILLed halfway through the write.

    Every finished write appends a line to ``log``: the test counts the completions.
    """
    out, log = Path(payload[0]), Path(payload[1])
    remove_stale_parts(out.parent)  # what a command's output check does first
    with atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        if attempt == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        tmp.write_bytes(b"whole file")
    with log.open("a") as handle:
        handle.write(f"{out.name} done by {os.getpid()} at attempt {attempt}\n")
    return attempt


def sleepy(payload: float, attempt: int) -> float:
    time.sleep(payload)
    return payload


def test_local_engine_runs_every_task_in_worker_processes_and_keeps_task_order() -> None:
    outcomes = run_tasks(square, [Task(f"t{i}", i) for i in range(5)], engine="local", workers=2)
    assert [o.key for o in outcomes] == [f"t{i}" for i in range(5)]
    assert [o.value[0] for o in outcomes] == [0, 1, 4, 9, 16]
    assert all(o.ok and o.attempts == 1 and o.value[1] == 1 for o in outcomes)
    pids = {o.value[2] for o in outcomes}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # two workers, reused across tasks


def test_a_failed_task_is_retried_up_to_retries_then_reported(tmp_path: Path) -> None:
    log_ok, log_bad, log_final = tmp_path / "ok.log", tmp_path / "bad.log", tmp_path / "final.log"
    seen = []
    outcomes = run_tasks(
        fail_until,
        [
            Task("recovers", (str(log_ok), 2, True)),  # fails once, then works
            Task("never", (str(log_bad), 99, True)),  # fails every time
            Task("bad-input", (str(log_final), 99, False)),  # not worth a retry
        ],
        workers=2,
        retries=1,
        on_outcome=seen.append,
    )
    recovers, never, bad = outcomes
    assert recovers.ok and recovers.value == 2 and recovers.attempts == 2
    assert not never.ok and never.error == "attempt 2 failed" and never.attempts == 2
    assert not bad.ok and bad.attempts == 1
    assert log_final.read_text().split() == ["1"]
    assert sorted(o.key for o in seen) == ["bad-input", "never", "recovers"]  # each reported once


def test_a_worker_killed_mid_task_loses_nothing_and_the_task_completes_once(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    log = tmp_path / "done.log"
    tasks = [Task(f"t{i}", (str(out_dir / f"o{i}.bin"), str(log))) for i in range(3)]
    outcomes = run_tasks(killed_mid_write, tasks, workers=2)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert all(o.attempts >= 2 for o in outcomes)  # every first attempt died with its worker
    lines = log.read_text().splitlines()
    # each completed once (a second death can hit an attempt that the first one's broken pool stopped)
    assert sorted(line.split()[0] for line in lines) == ["o0.bin", "o1.bin", "o2.bin"], lines
    assert not any(line.endswith("at attempt 1") for line in lines)
    assert sorted(p.name for p in out_dir.iterdir()) == ["o0.bin", "o1.bin", "o2.bin"]  # no half file left
    assert all((out_dir / f"o{i}.bin").read_bytes() == b"whole file" for i in range(3))


def test_a_task_whose_worker_always_dies_is_reported_after_the_lost_retries(tmp_path: Path) -> None:
    out = tmp_path / "o.bin"
    # attempt 1 dies; with LOST_RETRIES re-runs all dying too, the task fails with a clear message
    outcomes = run_tasks(always_killed, [Task("doomed", str(out)), Task("fine", 3)], workers=1)
    doomed, fine = outcomes
    assert not doomed.ok and "worker died" in (doomed.error or "")
    assert doomed.attempts == LOST_RETRIES + 1
    assert fine.ok and fine.value == 3


def always_killed(payload: object, attempt: int) -> object:
    if isinstance(payload, str):
        os.kill(os.getpid(), signal.SIGKILL)
    return payload


def test_an_interrupt_in_the_caller_stops_the_workers_and_propagates() -> None:
    started = time.perf_counter()

    def stop(_outcome: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        # the quick task ends first and the interrupt comes while the slow one runs
        run_tasks(sleepy, [Task("quick", 0.0), Task("slow", 60.0)], workers=2, on_outcome=stop)
    assert time.perf_counter() - started < 45  # the slow worker was terminated, not waited for


def test_attempts_bookkeeping_and_failure_lines() -> None:
    book = Attempts(retries=0, lost_retries=1)
    assert book.start("a") == 1 and book.start("a") == 2
    assert not book.again_after_failure("a", RuntimeError("x"))
    assert book.again_after_loss("a") and not book.again_after_loss("a")
    assert describe_failure(RuntimeError("first\nsecond")) == "RuntimeError: first"
    assert describe_failure(TaskFailed("photo.png: no such file")) == "photo.png: no such file"


def test_unknown_engine_and_duplicate_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        run_tasks(square, [Task("a", 1)], engine="slurm")
    with pytest.raises(ValueError, match="unique"):
        run_tasks(square, [Task("a", 1), Task("a", 2)])


def visible_gpu(payload: object, attempt: int) -> tuple[int, str | None]:
    time.sleep(0.3)  # long enough that both workers take tasks
    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")


def test_gpu_tasks_get_one_worker_per_visible_gpu_each_seeing_only_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")  # no GPU is needed: only the pinning is checked
    outcomes = run_tasks(visible_gpu, [Task(f"t{i}", None, gpu=True) for i in range(3)])
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert len({o.value[0] for o in outcomes}) == 1  # one worker for the one GPU, not one per core
    assert {o.value[1] for o in outcomes} == {"7"}  # the visible GPU's own id, not its index


def test_an_attempt_that_finished_before_its_pool_broke_counts_as_done(tmp_path: Path) -> None:
    # a broken pool reports every task in flight as lost: the marker says which ones had finished
    from easel.jobs.local import _call_and_mark, _finished_before_loss

    marker = tmp_path / "0.done"
    assert _finished_before_loss(marker) is None  # never got that far: run it again
    value, seconds = _call_and_mark(pow, 3, 2, str(marker))
    assert value == 9 and seconds >= 0
    assert _finished_before_loss(marker) == (9, seconds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.done"]  # no partial file left
