"""The output plan: every output declared and checked together before the work; stale temp files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from easel.errors import InputError, OutputExistsError
from easel.io.atomic import atomic_dir, atomic_path, remove_stale_parts
from easel.io.outputs import OutputPlan


def test_a_fresh_plan_passes_and_returns_the_paths(tmp_path: Path) -> None:
    plan = OutputPlan(inputs=[tmp_path / "in.png"])
    out = plan.file(tmp_path / "out.png", option="-o", suffixes=(".png",), record=True)
    frames = plan.folder(tmp_path / "frames", option="--frames")
    assert plan.check() is plan
    assert out == tmp_path / "out.png"
    assert plan.paths == [out, tmp_path / "out.png.json", frames]
    assert not any(p.name.startswith(".easel-probe") for p in tmp_path.iterdir())  # the probe is removed


def test_suffix_is_checked_at_once(tmp_path: Path) -> None:
    plan = OutputPlan()
    with pytest.raises(InputError, match=r"^--palette .*out.txt: unsupported format '.txt'; use .png, .jpg$"):
        plan.file(tmp_path / "out.txt", option="--palette", suffixes=(".png", ".jpg"))


def test_an_output_may_not_be_an_input_even_through_a_symlink_or_dotdot(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    for out in (photo, tmp_path / "sub" / ".." / "photo.png", link):
        plan = OutputPlan(inputs=[photo], overwrite=True)
        plan.file(out, option="-o")
        with pytest.raises(InputError, match="would overwrite an input file"):
            plan.check()
    assert photo.read_bytes() == b"x"


def test_the_record_of_an_output_may_not_replace_an_input(tmp_path: Path) -> None:
    camera_path = tmp_path / "clip.mp4.json"
    camera_path.write_text("{}")
    plan = OutputPlan(inputs=[camera_path], overwrite=True)
    plan.file(tmp_path / "clip.mp4", option="-o", record=True)
    with pytest.raises(InputError, match="would overwrite an input file"):
        plan.check()


def test_two_outputs_with_one_path_are_refused(tmp_path: Path) -> None:
    plan = OutputPlan()
    plan.file(tmp_path / "clip.mp4", option="-o", record=True)
    plan.file(tmp_path / "clip.mp4.json", option="--export-path")
    with pytest.raises(
        InputError, match="the run record of clip.mp4 and --export-path would write the same file"
    ):
        plan.check()


def test_existing_outputs_need_overwrite(tmp_path: Path) -> None:
    (tmp_path / "out.png").write_bytes(b"old")
    (tmp_path / "out.png.json").write_text("{}")
    plan = OutputPlan()
    plan.file(tmp_path / "out.png", option="-o")
    with pytest.raises(OutputExistsError, match="exists .use --overwrite"):
        plan.check()
    record_only = OutputPlan()
    record_only.record(tmp_path / "other.png")
    record_only.record(tmp_path / "out.png")
    with pytest.raises(OutputExistsError, match=r"out.png.json \(the run record of out.png\): exists"):
        record_only.check()
    OutputPlan(overwrite=True).file(tmp_path / "out.png", record=True, check=True)


def test_folders(tmp_path: Path) -> None:
    (tmp_path / "frames").mkdir()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputExistsError, match="folder exists"):
        OutputPlan().folder(tmp_path / "frames", check=True)
    OutputPlan().folder(tmp_path / "frames", resume=True, check=True)
    with pytest.raises(InputError, match="exists and is not a folder"):
        OutputPlan(overwrite=True).folder(tmp_path / "afile", check=True)
    with pytest.raises(InputError, match="is a folder; give a file name"):
        OutputPlan(overwrite=True).file(tmp_path / "frames", check=True)
    photo = tmp_path / "frames" / "photo.png"
    photo.write_bytes(b"x")
    with pytest.raises(InputError, match="holds the input"):
        OutputPlan(inputs=[photo], overwrite=True).folder(tmp_path / "frames", check=True)


def test_missing_or_unwritable_folders_fail_before_the_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        OutputPlan().file(tmp_path / "nope" / "out.png", check=True)
    with pytest.raises(InputError, match="cannot write in /proc"):
        OutputPlan().file("/proc/out.png", check=True)
    if os.geteuid() != 0:  # root writes anywhere; /proc above covers it
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(InputError, match="cannot write in"):
            OutputPlan().file(locked / "out.png", check=True)


def test_outputs_declared_after_the_check_are_checked_at_once(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes(b"x")
    plan = OutputPlan()
    plan.file(tmp_path / "a.png")
    plan.check()
    with pytest.raises(OutputExistsError):
        plan.file(tmp_path / "b.png")
    with pytest.raises(InputError, match="would write the same file"):
        plan.file(tmp_path / "a.png")


def test_temporary_names_carry_the_process_id(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "out.png") as tmp:
        assert tmp.name.startswith(f".out.{os.getpid()}-") and tmp.name.endswith(".part.png")
        tmp.write_bytes(b"x")
        assert remove_stale_parts(tmp_path) == []  # a running writer's file is never removed
    with atomic_dir(tmp_path / "frames") as tmpdir:
        assert tmpdir.name.startswith(f".frames.{os.getpid()}-") and tmpdir.name.endswith(".part")


def test_stale_parts_of_killed_runs_are_removed_by_the_next_plan(tmp_path: Path) -> None:
    # a writer that is killed outright (no cleanup runs) leaves its temporary file and folder behind
    code = (
        "import os, sys\n"
        "from easel.io.atomic import atomic_dir, atomic_path\n"
        "d = sys.argv[1]\n"
        "with atomic_path(os.path.join(d, 'art.png')) as t, atomic_dir(os.path.join(d, 'frames')) as f:\n"
        "    t.write_bytes(b'partial'); (f / 'f1.png').write_bytes(b'x')\n"
        "    os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(".part" in name for name in left)
    keep = tmp_path / ".hidden-user-file.part.png"  # not one of ours: never touched
    keep.write_text("mine")
    plan = OutputPlan()
    plan.file(tmp_path / "art.png")
    plan.check()
    assert sorted(p.name for p in tmp_path.iterdir()) == [keep.name]


def test_files_inside_a_new_output_folder_and_refreshed_files(tmp_path: Path) -> None:
    plan = OutputPlan()
    grid = plan.folder(tmp_path / "grid", resume=True)
    plan.file(grid / "a__b.png")  # the folder does not exist yet: it will be created
    plan.check()
    with pytest.raises(InputError, match="does not exist"):
        OutputPlan().file(tmp_path / "other" / "a.png", check=True)
    grid.mkdir()
    (grid / "contact_sheet.png").write_bytes(b"old")
    (grid / "contact_sheet.png.json").write_text("{}")
    resumed = OutputPlan()
    resumed.folder(grid, resume=True)
    resumed.file(grid / "contact_sheet.png", refresh=True, record=True)
    resumed.check()  # the command's own index files may be refreshed
    with pytest.raises(OutputExistsError):
        OutputPlan().file(grid / "contact_sheet.png", check=True)
