"""``easel batch``: manifests, validation, per-job failures, resuming, reports (local engine).

Most jobs are ``quantize`` on tiny images (fast); one is ``stylize`` with a tiny
random VGG-19 saved in the real format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easel.cli import main
from easel.cli.batch import parse_manifest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SUMMARY_JOB_KEYS = {"id", "command", "inputs", "outputs", "status", "seconds", "error"}


def _photo(path: Path, seed: int, shape: tuple[int, int] = (20, 28)) -> Path:
    rgb = (np.random.default_rng(seed).random((*shape, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with ``photos/p0.png p1.png`` and an empty ``out/``."""
    (tmp_path / "photos").mkdir()
    for i in range(2):
        _photo(tmp_path / "photos" / f"p{i}.png", i)
    (tmp_path / "out").mkdir()
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


QUANTIZE_AND_MISSING = """\
defaults: {seed: 3}
jobs:
  - command: quantize
    input: photos/*.png
    output: out/{stem}_k{index}.png
    args: {colors: 3, dither: true}
  - command: superpixels
    input: photos/missing.png
    output: out/missing.png
    args: {n: 10}
"""


def _run(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def _summary(folder: Path) -> dict:
    return json.loads((folder / "batch-summary.json").read_text())


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_a_batch_runs_every_job_reports_a_missing_input_per_job_and_a_rerun_skips_what_is_done(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    manifest = _write(project / "jobs.yaml", QUANTIZE_AND_MISSING)
    code, out, err = _run(["batch", str(manifest), "--workers", "2"], capfd)
    assert code == 1, err  # one job failed; the others ran
    summary = _summary(project)  # the report goes next to the manifest by default
    assert set(summary) == {"counts", "jobs"}
    assert summary["counts"] == {"done": 2, "skipped": 0, "failed": 1}
    assert all(set(job) == SUMMARY_JOB_KEYS for job in summary["jobs"])
    by_id = {job["id"]: job for job in summary["jobs"]}
    assert list(by_id) == ["jobs[0]/photos/p0.png", "jobs[0]/photos/p1.png", "jobs[1]/photos/missing.png"]
    failed = by_id["jobs[1]/photos/missing.png"]
    assert failed["status"] == "failed" and "photos/missing.png" in failed["error"]
    assert "missing.png" in err and "failed" in err
    for index in range(2):
        job = by_id[f"jobs[0]/photos/p{index}.png"]
        assert job["status"] == "done" and job["seconds"] > 0 and job["error"] is None
        assert job["outputs"] == [f"out/p{index}_k{index}.png", f"out/p{index}_k{index}.png.json"]
        output = project / job["outputs"][0]
        with Image.open(output) as image:
            assert len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)) <= 3
        record = json.loads((project / job["outputs"][1]).read_text())  # the normal CLI record
        assert record["command"] == "quantize" and record["status"] == "finished" and record["seed"] == 3
        assert "--dither" in record["argv"] and "--colors=3" in record["argv"]
    page = (project / "batch-report.html").read_text()
    assert page.count("<img") == 2 and "easel quantize photos/p0.png --colors=3 --dither" in page
    assert "photos/missing.png: no such file" in page
    assert "2 done, 0 skipped, 1 failed of 3 jobs" in out

    # run again: the finished jobs are skipped (their files untouched), the failed one runs again
    before = _files(project / "out")
    code, out, err = _run(["batch", str(manifest), "--quiet"], capfd)
    assert code == 1, err
    assert _summary(project)["counts"] == {"done": 0, "skipped": 2, "failed": 1}
    assert _files(project / "out") == before


def test_an_unfinished_job_of_this_manifest_runs_again_and_a_foreign_output_is_refused(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    manifest = _write(
        project / "jobs.json",
        json.dumps(
            {
                "jobs": [
                    {
                        "command": "quantize",
                        "input": "photos/p0.png",
                        "output": "out/q.png",
                        "args": {"colors": 2},
                    }
                ]
            }
        ),
    )
    assert _run(["batch", str(manifest), "--quiet"], capfd)[0] == 0
    record_file = project / "out" / "q.png.json"
    record = json.loads(record_file.read_text())
    record["status"] = "interrupted"  # as a job stopped by Ctrl-C leaves it
    record_file.write_text(json.dumps(record))
    code, _, err = _run(["batch", str(manifest), "--quiet"], capfd)
    assert code == 0, err
    assert _summary(project)["counts"] == {"done": 1, "skipped": 0, "failed": 0}
    assert json.loads(record_file.read_text())["status"] == "finished"

    # a file easel's batch did not write (no record of this command line) is never replaced silently
    record_file.unlink()
    before = _files(project)
    code, _, err = _run(["batch", str(manifest)], capfd)
    assert code == 2 and err.count("\n") == 1, err
    assert "jobs[0]/photos/p0.png" in err and "q.png" in err and "exists" in err
    assert _files(project) == before
    # --overwrite runs it again
    code, _, err = _run(["batch", str(manifest), "--overwrite", "--quiet"], capfd)
    assert code == 0, err
    assert record_file.is_file()


def test_an_output_that_is_an_input_is_refused_even_with_overwrite(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    manifest = _write(
        project / "jobs.toml",
        '[[jobs]]\ncommand = "quantize"\ninput = "photos/*.png"\noutput = "photos/{name}"\n',
    )
    before = _files(project)
    code, _, err = _run(["batch", str(manifest), "--overwrite"], capfd)
    assert code == 2 and err.count("\n") == 1, err
    assert "p0.png" in err and "input" in err
    assert _files(project) == before


BAD_MANIFESTS = {
    "unknown command": (
        "jobs:\n  - {command: quantise, input: photos/p0.png, output: out/a.png}\n",
        ["jobs[0]", "'command'", "did you mean 'quantize'"],
    ),
    "a command that makes no files": (
        "jobs:\n  - {command: info, input: photos/p0.png, output: out/a.png}\n",
        ["jobs[0]", "'command'", "unknown command 'info'"],
    ),
    "unknown option": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: out/a.png, args: {colours: 4}}\n",
        ["jobs[0] (quantize)", "'args.colours'", "did you mean 'colors'"],
    ),
    "unknown key at the job's level": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: out/a.png, palete: p.png}\n",
        ["jobs[0] (quantize)", "'palete'", "did you mean 'palette'"],
    ),
    "bad option value": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: out/a.png, args: {colors: many}}\n",
        ["jobs[0] (quantize)", "'colors'", "many"],
    ),
    "a flag given a value": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: out/a.png, args: {dither: 3}}\n",
        ["jobs[0] (quantize)", "'dither'", "true or false"],
    ),
    "a required option missing": (
        "jobs:\n  - {command: stylize, input: photos/p0.png, output: out/a.png}\n",
        ["jobs[0] (stylize)", "'style'", "required"],
    ),
    "bad template field": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: 'out/{stme}.png'}\n",
        ["jobs[0] (quantize)", "'output'", "{stme}"],
    ),
    "unbalanced template": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: 'out/{stem.png'}\n",
        ["jobs[0] (quantize)", "'output'", "bad template"],
    ),
    "a glob with no match": (
        "jobs:\n  - {command: quantize, input: 'photos/*.jpg', output: 'out/{stem}.png'}\n",
        ["jobs[0] (quantize)", "'input'", "no file matches 'photos/*.jpg'"],
    ),
    "every match writes one file": (
        "jobs:\n  - {command: quantize, input: 'photos/*.png', output: out/same.png}\n",
        ["jobs[0] (quantize)", "'output'", "would both write out/same.png"],
    ),
    "no output": (
        "jobs:\n  - {command: quantize, input: photos/p0.png}\n",
        ["jobs[0] (quantize)", "'output'", "missing"],
    ),
    "an option batch sets itself": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: out/a.png, args: {overwrite: true}}\n",
        ["jobs[0] (quantize)", "'args.overwrite'", "easel batch itself"],
    ),
    "a default no job takes": (
        "defaults: {sed: 0}\njobs:\n  - {command: quantize, input: photos/p0.png, output: out/a.png}\n",
        ["defaults", "'sed'"],
    ),
    "unknown top-level key": (
        "job:\n  - {command: quantize, input: photos/p0.png, output: out/a.png}\n",
        ["key 'job'", "did you mean 'jobs'"],
    ),
    "no jobs": ("jobs: []\n", ["'jobs'"]),
    "not YAML": ("jobs: [unclosed\n", ["not valid YAML"]),
    "two outputs collide across jobs": (
        "jobs:\n  - {command: quantize, input: photos/p0.png, output: out/a.png}\n"
        "  - {command: superpixels, input: photos/p1.png, output: out/a.png}\n",
        ["jobs[1]/photos/p1.png", "a.png", "same file"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_malformed_manifest_is_one_line_naming_the_job_and_key_and_nothing_runs(
    case: str, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    text, expected = BAD_MANIFESTS[case]
    manifest = _write(project / "jobs.yaml", text)
    before = _files(project)
    code, out, err = _run(["batch", str(manifest)], capfd)
    assert code == 2, (case, err)
    assert err.count("\n") == 1 and "Traceback" not in err and "usage:" not in err, err
    assert err.startswith("easel batch: error: "), err
    for part in expected:
        assert part in err, (case, part, err)
    assert _files(project) == before  # nothing ran, nothing was written


def test_toml_json_and_yaml_manifests_mean_the_same_jobs(project: Path) -> None:
    yaml_text = (
        "defaults: {seed: 1}\njobs:\n  - command: quantize\n    input: [photos/p1.png, 'photos/p0.*']\n"
        "    output: 'out/{parent}-{stem}-{index:02d}.png'\n    space: lab\n    args: {colors: 5, dither: false}\n"
    )
    toml_text = (
        '[defaults]\nseed = 1\n[[jobs]]\ncommand = "quantize"\ninput = ["photos/p1.png", "photos/p0.*"]\n'
        'output = "out/{parent}-{stem}-{index:02d}.png"\nspace = "lab"\nargs = {colors = 5, dither = false}\n'
    )
    data = {
        "defaults": {"seed": 1},
        "jobs": [
            {
                "command": "quantize",
                "input": ["photos/p1.png", "photos/p0.*"],
                "output": "out/{parent}-{stem}-{index:02d}.png",
                "space": "lab",
                "args": {"colors": 5, "dither": False},
            }
        ],
    }
    parsed = [
        parse_manifest(_write(project / "m.yaml", yaml_text)),
        parse_manifest(_write(project / "m.toml", toml_text)),
        parse_manifest(_write(project / "m.json", json.dumps(data))),
    ]
    assert parsed[0] == parsed[1] == parsed[2]
    jobs = parsed[0]
    assert [job.argv for job in jobs] == [
        ("quantize", "photos/p1.png", "--space=lab", "--colors=5", "--seed=1", "-o", "out/photos-p1-00.png"),
        ("quantize", "photos/p0.png", "--space=lab", "--colors=5", "--seed=1", "-o", "out/photos-p0-01.png"),
    ]
    assert all(job.base == os.fspath(project) and not job.gpu for job in jobs)


def test_engine_options_are_checked_before_the_manifest(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    manifest = _write(project / "jobs.yaml", QUANTIZE_AND_MISSING)
    for argv, words in (
        (["--address", "auto"], "--address needs --engine ray"),
        (["--engine", "ray", "--workers", "2"], "--workers is for --engine local"),
        (["--retries", "-1"], "--retries"),
    ):
        code, _, err = _run(["batch", str(manifest), *argv], capfd)
        assert code == 2 and words in err and err.count("\n") == 1, err


def test_a_stylize_job_with_a_tiny_vgg_writes_its_output_and_record(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from easel.nets.vgg import save_random_vgg19

    save_random_vgg19(project / "vgg19-tiny.pth", widths=(4, 4, 6, 6) + (8,) * 12, seed=0)
    _photo(project / "content.png", 5, (40, 48))
    _photo(project / "style.png", 6, (40, 40))
    manifest = _write(
        project / "jobs.yaml",
        "jobs:\n  - command: stylize\n    input: content.png\n    style: [style.png]\n"
        "    output: out/{stem}__style.png\n"
        "    args: {weights: vgg19-tiny.pth, size: 32, iterations: 2, coarse-iterations: 2, device: cpu, precision: fp32}\n",
    )
    code, _, err = _run(["batch", str(manifest)], capfd)
    assert code == 0, err
    record = json.loads((project / "out" / "content__style.png.json").read_text())
    assert record["command"] == "stylize" and record["status"] == "finished"
    with Image.open(project / "out" / "content__style.png") as image:
        assert max(image.size) == 32


def _spawned_workers(parent: int) -> list[int]:
    """The pids of the process-pool workers of ``parent`` (from /proc: spawned interpreters)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_a_worker_killed_mid_job_has_its_job_run_again_once_with_nothing_half_written(project: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from easel.nets.vgg import save_random_vgg19

    save_random_vgg19(project / "vgg19-tiny.pth", widths=(4, 4, 6, 6) + (8,) * 12, seed=0)
    _photo(project / "content.png", 5, (40, 48))
    manifest = _write(
        project / "jobs.yaml",
        "jobs:\n  - command: stylize\n    input: content.png\n    style: [content.png]\n    output: out/art.png\n"
        "    args: {weights: vgg19-tiny.pth, size: 40, iterations: 60, coarse-iterations: 20, device: cpu,"
        " precision: fp32, save-every: 1}\n",
    )
    batch = subprocess.Popen(
        [sys.executable, "-m", "easel", "batch", str(manifest), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    steps = project / "out" / "art_steps"
    deadline = time.monotonic() + 240
    while not (steps.is_dir() and any(steps.iterdir())):  # the job is under way
        assert batch.poll() is None and time.monotonic() < deadline, batch.communicate()
        time.sleep(0.2)
    workers = _spawned_workers(batch.pid)
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    out, err = batch.communicate(timeout=300)
    assert batch.returncode == 0, err
    summary = _summary(project)
    assert summary["counts"] == {"done": 1, "skipped": 0, "failed": 0}
    record = json.loads((project / "out" / "art.png.json").read_text())
    assert record["status"] == "finished" and "--overwrite" in record["argv"]  # the second attempt
    with Image.open(project / "out" / "art.png") as image:
        assert max(image.size) == 40
    leftovers = [p.name for p in (project / "out").rglob("*") if ".part" in p.name]
    assert not leftovers, leftovers  # nothing half-written is left
    assert sorted(p.name for p in (project / "out").iterdir()) == ["art.png", "art.png.json", "art_steps"]


def test_a_ray_address_with_no_cluster_is_one_line(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    manifest = _write(project / "jobs.yaml", QUANTIZE_AND_MISSING)
    code, _, err = _run(["batch", str(manifest), "--engine", "ray", "--address", "nonsense::"], capfd)
    assert code == 2 and err.count("\n") == 1, err
    assert "Ray address 'nonsense::': cannot connect" in err
    assert not list((project / "out").iterdir())
