"""Atomic output: write to a temporary sibling, then rename into place.

A crash, Ctrl-C or error mid-write never leaves a partial output behind, and
an existing output is only replaced once the new one is complete. Temporary
names carry the writer's process id (``.<name>.<pid>-<random>.part<suffix>``),
so the temporary files of a run that was killed outright (``kill -9``, power
loss) are recognised and removed by :func:`remove_stale_parts` the next time
easel writes in that folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

StrPath = str | os.PathLike[str]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _default_mode(path: Path, directory: bool) -> None:
    """Give a temporary file/folder the permissions a plain ``open``/``mkdir`` would have.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) entries; outputs should not be.
    """
    base = 0o777 if directory else 0o666
    os.chmod(path, base & ~_umask())


@contextlib.contextmanager
def atomic_path(path: StrPath) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it to ``path`` on success.

    The temporary name keeps the suffix, so writers that pick a format from
    the suffix (Pillow, PyAV) still do. On an exception the temporary file is
    removed and ``path`` is left untouched.

    Example:
        >>> with atomic_path("out.png") as tmp:  # doctest: +SKIP
        ...     Image.fromarray(arr).save(tmp)
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.{os.getpid()}-", suffix=f".part{target.suffix}", dir=target.resolve().parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            _default_mode(tmp, directory=False)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: StrPath) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move it to ``path`` on success.

    An existing folder at ``path`` is replaced only after the new one is complete.

    Example:
        >>> with atomic_dir("frames") as tmp:  # doctest: +SKIP
        ...     (tmp / "frame_0001.png").write_bytes(png)
    """
    target = Path(path)
    parent = target.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".part", dir=parent))
    try:
        yield tmp
        _default_mode(tmp, directory=True)
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".part.old", dir=parent)
            )
            old.rmdir()
            os.replace(target, old)
            os.replace(tmp, target)
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes_atomic(path: StrPath, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Example:
        >>> write_bytes_atomic("palette.bin", bytes(range(16)))  # doctest: +SKIP
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: StrPath, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically.

    Example:
        >>> write_text_atomic("notes.txt", "done")  # doctest: +SKIP
    """
    write_bytes_atomic(path, text.encode("utf-8"))


_PART_NAME = re.compile(r"^\..+\.(?P<pid>\d+)-[A-Za-z0-9_]{8}\.part(\.old|\.[A-Za-z0-9]+)?$")
_LEGACY_PART_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.(part|old)(\.[A-Za-z0-9]+)?$")
LEGACY_PART_AGE_S = 24 * 3600
"""Temporary entries from before names carried a process id are removed once this old."""


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or cannot tell: keep it)
    return True


def remove_stale_parts(folder: StrPath) -> list[Path]:
    """Remove the temporary files and folders that killed easel runs left in ``folder``.

    An entry is stale when its name has the form :func:`atomic_path` and
    :func:`atomic_dir` give temporary entries and the process that made it is
    no longer running (older unnamed-process entries: when older than a day).
    Entries of running processes, and every other file, are never touched.

    Returns:
        The paths removed.

    Example:
        >>> remove_stale_parts("outputs")  # doctest: +SKIP
        [PosixPath('outputs/.art.4242-k3j2l1x0.part.png')]
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        match = _PART_NAME.match(entry.name)
        try:
            if match is not None:
                stale = not _process_alive(int(match["pid"]))
            elif _LEGACY_PART_NAME.match(entry.name):
                stale = now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_PART_AGE_S
            else:
                continue
            if not stale:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
