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


def reports_frames(payload: int, attempt: int) -> int:
    """A task that reports ``payload`` frames, one stage per frame, as a video job does."""
    from easel.jobs.tasks import task_progress
    from easel.progress import ProgressUpdate

    report = task_progress()
    assert report is not None  # the caller asked for progress
    for frame in range(payload):
        for step in range(1, 4):
            report(ProgressUpdate(f"frame {frame + 1}/{payload} lbfgs", step, 3))
    return os.getpid()


def test_the_caller_sees_each_frame_a_worker_reports_in_order() -> None:
    seen: list[tuple[str, str, int]] = []
    outcomes = run_tasks(
        reports_frames,
        [Task("clip-a", 4), Task("clip-b", 2)],
        workers=2,
        on_progress=lambda key, update: seen.append((key, update.stage, update.step)),
    )
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert os.getpid() not in {o.value for o in outcomes}  # reported from worker processes
    for key, frames in (("clip-a", 4), ("clip-b", 2)):
        stages = [stage for k, stage, _ in seen if k == key]
        # every frame's stage arrives (a new stage always goes), in order, and each one's last step
        assert list(dict.fromkeys(stages)) == [f"frame {i + 1}/{frames} lbfgs" for i in range(frames)]
        assert (key, f"frame {frames}/{frames} lbfgs", 3) in seen


def test_no_progress_is_sent_when_nobody_asks() -> None:
    from easel.jobs.tasks import task_progress

    assert task_progress() is None
    outcomes = run_tasks(no_reporter, [Task("a", None)], workers=1)
    assert outcomes[0].ok and outcomes[0].value is True


def no_reporter(payload: object, attempt: int) -> bool:
    from easel.jobs.tasks import task_progress

    return task_progress() is None


def timed(payload: tuple[str, float, bool], attempt: int) -> tuple[float, float]:
    """Sleep ``payload[1]`` s and return (start, end) times; fail when ``payload[2]``."""
    start = time.time()
    time.sleep(payload[1])
    if payload[2]:
        raise TaskFailed(f"{payload[0]} failed", retry=False)
    return start, time.time()


def test_a_task_starts_after_the_tasks_it_waits_for_and_is_not_run_when_one_failed() -> None:
    outcomes = run_tasks(
        timed,
        [
            Task("a", ("a", 0.5, False)),
            Task("free", ("free", 0.0, False)),  # waits for nothing: runs beside a
            Task("b", ("b", 0.0, False), after=("a",)),
            Task("bad", ("bad", 0.0, True)),
            Task("c", ("c", 0.0, False), after=("b", "bad")),
            Task("d", ("d", 0.0, False), after=("c",)),
        ],
        workers=2,
    )
    a, free, b, bad, c, d = outcomes
    assert a.ok and free.ok and b.ok and not bad.ok
    assert b.value[0] >= a.value[1]  # b started once a had ended
    assert free.value[0] < a.value[1]  # the free task did not wait
    assert (c.error, c.attempts) == ("not run: bad failed", 0)
    assert d.error == "not run: c failed"
    with pytest.raises(ValueError, match="not listed before it"):
        run_tasks(timed, [Task("x", ("x", 0, False), after=("y",)), Task("y", ("y", 0, False))])
