"""Uploads that become a folder in the job: photos (several files or a zip) and a COLMAP model.

A zip is never extracted as it stands: only its members of the accepted kinds are
read, each under its base name (folders inside the zip, ``../`` and absolute
names are dropped; names must stay unique), each within the upload limit (as
its header says, and as read), at most :data:`MAX_FILES` of them and
:data:`ZIP_RATIO` times the upload limit in all, so a zip bomb stops at once.
Photos then pass the image checks (size, pixels, readable header) one by one.

Example:
    >>> names = collect_folder([Path("a.jpg"), Path("more.zip")], Path("job/photos"), "photos",
    ...                        Limits(), "Photos")  # doctest: +SKIP
    >>> names  # doctest: +SKIP
    ['a.jpg', 'b.jpg', 'c.jpg']
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from easel.errors import InputError
from easel.web.limits import Limits

__all__ = ["COLMAP_FILES", "MAX_FILES", "ZIP_RATIO", "FolderKind", "collect_folder"]

FolderKind = Literal["photos", "colmap"]

MAX_FILES = 1000
"""Most files one folder upload may hold."""
ZIP_RATIO = 4
"""A zip may unpack to at most this many times the upload limit, in all."""
COLMAP_FILES = tuple(f"{stem}.{ext}" for ext in ("bin", "txt") for stem in ("cameras", "images", "points3D"))
"""The files of a COLMAP sparse model that an upload may hold."""


def _accepted(name: str, kind: FolderKind) -> bool:
    from easel.io.images import IMAGE_SUFFIXES

    if kind == "colmap":
        return name in COLMAP_FILES
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _base_name(name: str) -> str:
    """The member's file name without any folder (``/`` or ``\\``); "" for folders and hidden files."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "" if base in ("", ".", "..") or base.startswith(".") else base


def _members(archive: Path, label: str) -> Iterator[tuple[str, zipfile.ZipFile, zipfile.ZipInfo]]:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir() and "__MACOSX" not in info.filename:
                    yield info.filename, zf, info
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InputError(f"{label}: the zip cannot be read ({exc})") from None


def _copy_capped(source: IO[bytes], target: Path, cap: int) -> int:
    """Copy at most ``cap`` bytes; the number copied, or ``cap + 1`` when there was more."""
    written = 0
    with open(target, "wb") as out:
        while chunk := source.read(min(1 << 20, cap + 1 - written)):
            out.write(chunk)
            written += len(chunk)
            if written > cap:
                break
    return written


def collect_folder(
    uploads: Sequence[Path], dest: Path, kind: FolderKind, limits: Limits, label: str
) -> list[str]:
    """Put the accepted files of ``uploads`` (plain files and zips) into the new folder ``dest``.

    Args:
        uploads: the uploaded files; ``.zip`` files are unpacked (their accepted members only).
        dest: the folder to make (it must not exist).
        kind: ``photos`` (image files) or ``colmap`` (``cameras``/``images``/``points3D``, ``.bin`` or ``.txt``).
        limits: the studio's limits (each file's size, each photo's pixels).
        label: the upload's label, for messages.

    Returns:
        The names of the files in ``dest``, sorted.

    Raises:
        InputError: a file of another kind, a name given twice, a file or zip over the
            limits, an unreadable zip or photo, no accepted file, an incomplete COLMAP model.

    Example:
        >>> collect_folder([Path("model.zip")], Path("job/colmap"), "colmap", Limits(), "Model")  # doctest: +SKIP
        ['cameras.bin', 'images.bin', 'points3D.bin']
    """
    cap = limits.max_upload_bytes
    budget = ZIP_RATIO * cap
    dest.mkdir(parents=True)
    names: set[str] = set()

    def claim(name: str) -> Path:
        if name in names:
            raise InputError(f"{label}: two files are named {name}; names must be unique")
        if len(names) >= MAX_FILES:
            raise InputError(f"{label}: more than {MAX_FILES} files")
        names.add(name)
        return dest / name

    for upload in uploads:
        upload = Path(upload)
        if upload.suffix.lower() == ".zip":
            limits.check_upload(upload, label)
            for member, zf, info in _members(upload, label):
                name = _base_name(member)
                if not name or not _accepted(name, kind):
                    continue
                if info.file_size > cap:
                    raise InputError(
                        f"{label}: {name} in the zip is {info.file_size / 1e6:.3g} MB; "
                        f"the studio accepts up to {limits.max_upload_mb:g} MB"
                    )
                target = claim(name)
                try:
                    with zf.open(info) as source:
                        size = _copy_capped(source, target, min(cap, budget))
                except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
                    raise InputError(f"{label}: {name} in the zip cannot be read ({exc})") from None
                budget -= size
                if size > cap or budget < 0:
                    raise InputError(
                        f"{label}: the zip unpacks to more than the studio accepts "
                        f"({limits.max_upload_mb:g} MB a file, {ZIP_RATIO * limits.max_upload_mb:g} MB in all)"
                    )
        else:
            name = _base_name(upload.name)
            if not name or not _accepted(name, kind):
                wanted = "a photo or a zip of photos" if kind == "photos" else ", ".join(COLMAP_FILES)
                raise InputError(f"{label}: {upload.name} is not {wanted}")
            limits.check_upload(upload, label)
            shutil.copyfile(upload, claim(name))
    if kind == "photos":
        for name in sorted(names):
            limits.check_image(dest / name, f"{label}: {name}")
    if not names:
        what = "photos" if kind == "photos" else "COLMAP model files (" + ", ".join(COLMAP_FILES) + ")"
        raise InputError(f"{label}: no {what} in the upload")
    if kind == "colmap" and not any(
        {f"{stem}.{ext}" for stem in ("cameras", "images", "points3D")} <= names for ext in ("bin", "txt")
    ):
        raise InputError(
            f"{label}: a COLMAP model needs cameras, images and points3D (all .bin or all .txt); "
            f"got {', '.join(sorted(names))}"
        )
    return sorted(names)
