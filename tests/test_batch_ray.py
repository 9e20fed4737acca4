"""``easel batch --engine ray`` and the Ray engine, on a local Ray instance with 2 CPUs.

Starting Ray is slow on a busy 2-core machine, so one instance serves the whole
module; the engine then uses it as it is (and leaves it running). The task
functions of ``test_batch_engine`` reach the Ray workers through ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from easel.cli import main
from easel.jobs import Task, run_tasks

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    import ray

    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield ray
    ray.shutdown()


def test_a_batch_on_ray_runs_the_jobs_as_ray_tasks_and_reports_failures_per_job(
    ray_instance: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "out").mkdir()
    for i in range(2):
        rgb = (np.random.default_rng(i).random((16, 20, 3)) * 255).astype(np.uint8)
        Image.fromarray(rgb).save(tmp_path / "photos" / f"p{i}.png")
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(
        "jobs:\n"
        "  - {command: quantize, input: 'photos/*.png', output: 'out/{stem}.png', args: {colors: 2}}\n"
        "  - {command: quantize, input: photos/gone.png, output: out/gone.png}\n"
    )
    report = tmp_path / "report"
    code = main(["batch", str(manifest), "--engine", "ray", "--report", str(report)])
    err = capfd.readouterr().err
    assert code == 1, err
    summary = json.loads((report / "batch-summary.json").read_text())
    assert summary["counts"] == {"done": 2, "skipped": 0, "failed": 1}
    statuses = {job["id"]: (job["status"], job["error"]) for job in summary["jobs"]}
    assert statuses["jobs[0]/photos/p0.png"] == ("done", None)
    assert statuses["jobs[1]/photos/gone.png"][0] == "failed"
    assert "photos/gone.png: no such file" in statuses["jobs[1]/photos/gone.png"][1]
    for i in range(2):
        record = json.loads((tmp_path / "out" / f"p{i}.png.json").read_text())
        assert record["status"] == "finished" and record["command"] == "quantize"
    assert ray_instance.is_initialized()  # a running instance is used, not shut down


def test_on_ray_a_killed_worker_loses_nothing_and_a_failed_task_is_retried(
    ray_instance: Any, tmp_path: Path
) -> None:
    from test_batch_engine import fail_until, killed_mid_write

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    log = tmp_path / "done.log"
    outcomes = run_tasks(
        killed_mid_write,
        [Task(f"t{i}", (str(out_dir / f"o{i}.bin"), str(log))) for i in range(2)],
        engine="ray",
    )
    assert all(o.ok and o.attempts == 2 for o in outcomes), [o.error for o in outcomes]
    done = sorted(line.split()[0] for line in log.read_text().splitlines())
    assert done == ["o0.bin", "o1.bin"]  # each task completed once
    assert sorted(p.name for p in out_dir.iterdir()) == ["o0.bin", "o1.bin"]  # no half-written file

    retried = run_tasks(fail_until, [Task("r", (str(tmp_path / "r.log"), 2, True))], engine="ray", retries=1)
    assert retried[0].ok and retried[0].value == 2 and retried[0].attempts == 2


def test_on_ray_the_caller_sees_each_frame_a_task_reports(ray_instance: Any) -> None:
    from test_batch_engine import reports_frames

    seen: list[tuple[str, str]] = []
    outcomes = run_tasks(
        reports_frames,
        [Task("clip", 3)],
        engine="ray",
        on_progress=lambda key, update: seen.append((key, update.stage)),
    )
    assert outcomes[0].ok, outcomes[0].error
    assert outcomes[0].value != os.getpid()
    assert list(dict.fromkeys(seen)) == [("clip", f"frame {i + 1}/3 lbfgs") for i in range(3)]


def test_on_ray_a_task_waits_for_the_tasks_before_it(ray_instance: Any) -> None:
    from test_batch_engine import timed

    outcomes = run_tasks(
        timed,
        [
            Task("a", ("a", 0.5, False)),
            Task("b", ("b", 0.0, False), after=("a",)),
            Task("bad", ("bad", 0.0, True)),
            Task("c", ("c", 0.0, False), after=("bad",)),
        ],
        engine="ray",
    )
    a, b, bad, c = outcomes
    assert a.ok and b.ok and not bad.ok and b.value[0] >= a.value[1]
    assert c.error == "not run: bad failed"
