"""Behaviour of ``easel.io.atomic.remove_stale_parts`` that the mutation run (docs/mutation.md)
found untested: other processes' entries, unnamed-process entries by age, symbolic links."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from easel.io import atomic
from easel.io.atomic import LEGACY_PART_AGE_S, remove_stale_parts


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A running process that is not this one (a second easel writer, say)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_a_running_processs_parts_are_kept_and_the_process_is_not_signalled(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    part = tmp_path / f".art.{other_process.pid}-abcd1234.part.png"
    part.write_bytes(b"partial")
    assert remove_stale_parts(tmp_path) == []
    assert part.exists()
    time.sleep(0.2)
    assert other_process.poll() is None  # only probed (signal 0), never sent a real signal


def test_a_process_that_cannot_be_probed_counts_as_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "kill", denied)
    part = tmp_path / ".art.999999-abcd1234.part.png"
    part.write_bytes(b"partial")
    assert remove_stale_parts(tmp_path) == []
    assert part.exists()


def test_unnamed_process_parts_are_removed_only_when_older_than_a_day(tmp_path: Path) -> None:
    old = tmp_path / ".art.abcd1234.part.png"
    fresh = tmp_path / ".clip.efgh5678.part.mp4"
    old_dir = tmp_path / ".frames.ijkl9012.old"
    for path in (old, fresh):
        path.write_bytes(b"x")
    old_dir.mkdir()
    (old_dir / "f1.png").write_bytes(b"x")
    _age(old, LEGACY_PART_AGE_S + 60)
    _age(old_dir, LEGACY_PART_AGE_S + 60)
    _age(fresh, LEGACY_PART_AGE_S - 60)
    assert sorted(remove_stale_parts(tmp_path)) == sorted([old, old_dir])
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name]


def test_every_stale_part_is_found_among_many_other_entries(tmp_path: Path) -> None:
    for i in range(20):  # plain files, other hidden files, this running process's own parts
        (tmp_path / f"photo_{i:02d}.png").write_bytes(b"x")
        (tmp_path / f".hidden_{i:02d}").write_bytes(b"x")
        (tmp_path / f".art_{i:02d}.{os.getpid()}-abcd1234.part.png").write_bytes(b"x")
    stale = tmp_path / ".art.999999-abcd1234.part.png"  # pid 999999: not running
    stale.write_bytes(b"x")
    assert remove_stale_parts(tmp_path) == [stale]
    assert len(list(tmp_path.iterdir())) == 60


def test_a_stale_symbolic_link_is_removed_and_its_target_kept(tmp_path: Path) -> None:
    target_file = tmp_path / "kept.png"
    target_file.write_bytes(b"x")
    target_dir = tmp_path / "kept"
    target_dir.mkdir()
    (target_dir / "f1.png").write_bytes(b"x")
    old_link = tmp_path / ".art.abcd1234.part.png"  # an old link to a fresh file: its own age counts
    old_link.symlink_to(target_file)
    _age(old_link, LEGACY_PART_AGE_S + 60)
    dir_link = tmp_path / ".frames.999999-abcd1234.part"  # a link to a folder: the link goes, not the folder
    dir_link.symlink_to(target_dir, target_is_directory=True)
    assert sorted(remove_stale_parts(tmp_path)) == sorted([old_link, dir_link])
    assert target_file.read_bytes() == b"x"
    assert (target_dir / "f1.png").exists()


def test_an_entry_that_cannot_be_removed_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = [tmp_path / f".art_{i:02d}.999999-abcd1234.part.png" for i in range(20)]
    for path in stale:
        path.write_bytes(b"x")
    stuck = stale[7]
    unlink = os.unlink

    def refuse_one(path: str) -> None:
        if Path(path) == stuck:
            raise PermissionError(13, "Permission denied", path)
        unlink(path)

    monkeypatch.setattr(atomic.os, "unlink", refuse_one)
    assert sorted(remove_stale_parts(tmp_path)) == sorted(set(stale) - {stuck})
    assert [p.name for p in tmp_path.iterdir()] == [stuck.name]
