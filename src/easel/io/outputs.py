"""One output plan per command: every file it will write, declared up front and checked together.

A command declares its main output, the run record beside it and every side
file (palettes, sweep renders, snapshots, animations, exported paths and
meshes, frame folders) before it loads a model or reads a pixel, then calls
:meth:`OutputPlan.check` once. The check refuses, in one line naming the
user's option:

* an output that is one of the inputs (after resolving symlinks and ``..``),
  or a replaced output folder that holds an input;
* an output that exists, unless ``overwrite`` (a resumable folder may exist);
* two outputs that are the same path (``--export-path clip.mp4.json`` and the
  record of ``clip.mp4``);
* a folder that is missing or cannot be written (probed with a real
  temporary file, so read-only mounts and ``/proc`` fail here, not after an
  hour of work).

It also removes the temporary files that killed runs left in those folders
(:func:`~easel.io.atomic.remove_stale_parts`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from easel.errors import InputError, OutputExistsError
from easel.io.atomic import StrPath, remove_stale_parts
from easel.io.record import record_path

__all__ = ["OutputPlan", "PlannedOutput", "check_output_path"]


@dataclass(frozen=True)
class PlannedOutput:
    """One declared output.

    Attributes:
        path: where it will be written.
        option: the user's name for it (``-o``, ``--palette``, ``the run record``), used in messages.
        folder: a folder of files (frames, grid cells) rather than one file.
        resume: a folder that may exist already (a resumable grid); its files are declared one by one.
        refresh: a file this command keeps up to date and may replace without ``overwrite``
            (a resumable grid's contact sheet and record).

    Example:
        >>> plan = OutputPlan(inputs=["photo.jpg"])
        >>> _ = plan.file("art.png", option="-o", record=True)
        >>> [(str(p.path), p.option) for p in plan.outputs]
        [('art.png', '-o'), ('art.png.json', 'the run record of art.png')]
    """

    path: Path
    option: str
    folder: bool = False
    resume: bool = False
    refresh: bool = False


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def _same(a: Path, b: Path) -> bool:
    if _resolved(a) == _resolved(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(child: Path, folder: Path) -> bool:
    return _resolved(folder) in _resolved(child).parents


def _probe_writable(folder: Path) -> str | None:
    """``None`` when a file can be created in ``folder``, else the reason."""
    try:
        fd, name = tempfile.mkstemp(prefix=".easel-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or exc.__class__.__name__
    os.close(fd)
    try:
        os.unlink(name)
    except OSError:
        pass
    return None


class OutputPlan:
    """Every output of one command, checked together before the heavy work.

    Args:
        inputs: the files (and folders) the command reads; no output may replace one.
        overwrite: whether existing outputs may be replaced (``--overwrite`` / ``-y``).

    Example:
        >>> plan = OutputPlan(inputs=["photo.jpg"], overwrite=False)  # doctest: +SKIP
        >>> out = plan.file("art.png", option="-o", suffixes=(".png", ".jpg"), record=True)  # doctest: +SKIP
        >>> plan.check()  # doctest: +SKIP
    """

    def __init__(self, inputs: Iterable[StrPath | None] = (), overwrite: bool = False) -> None:
        self.inputs: list[Path] = [Path(p) for p in inputs if p is not None]
        self.overwrite = overwrite
        self.outputs: list[PlannedOutput] = []
        self.checked = False

    def add_inputs(self, *paths: StrPath | None) -> None:
        """Declare more inputs (before :meth:`check`)."""
        self.inputs.extend(Path(p) for p in paths if p is not None)

    # ------------------------------------------------------------ declaring

    def file(
        self,
        path: StrPath,
        *,
        option: str = "-o",
        suffixes: Sequence[str] | None = None,
        record: bool = False,
        refresh: bool = False,
        check: bool = False,
    ) -> Path:
        """Declare one output file and return its path.

        Args:
            path: where it will be written; it may lie in a declared output folder
                that does not exist yet.
            option: the user's name for it, for messages (``-o``, ``--palette``).
            suffixes: the accepted suffixes (lower case, with the dot); checked at once.
            record: also declare the run record ``<path>.json``.
            refresh: the command keeps this file up to date (a resumable folder's
                index or contact sheet): it may be replaced without ``overwrite``.
            check: check this output now (automatic once :meth:`check` has run).
        """
        out = Path(path)
        if suffixes is not None and out.suffix.lower() not in suffixes:
            raise InputError(
                f"{option} {out}: unsupported format {out.suffix or '(no suffix)'!r}; use {', '.join(suffixes)}"
            )
        self._declare(PlannedOutput(out, option, refresh=refresh), check)
        if record:
            self.record(out, refresh=refresh, check=check)
        return out

    def folder(
        self,
        path: StrPath,
        *,
        option: str = "-o",
        resume: bool = False,
        record: bool = False,
        check: bool = False,
    ) -> Path:
        """Declare an output folder (frames, grid cells) and return its path.

        Args:
            path: the folder.
            option: the user's name for it.
            resume: the folder may exist already (its files are then declared with
                :meth:`file`); otherwise an existing folder needs ``overwrite``.
            record: also declare the run record ``<folder>.json`` beside it.
            check: check it now (automatic once :meth:`check` has run).
        """
        out = Path(path)
        self._declare(PlannedOutput(out, option, folder=True, resume=resume), check)
        if record:
            self.record(out, check=check)
        return out

    def record(self, output: StrPath, *, refresh: bool = False, check: bool = False) -> Path:
        """Declare the run record of ``output`` (``<output>.json``) and return its path."""
        path = record_path(output)
        self._declare(PlannedOutput(path, f"the run record of {Path(output).name}", refresh=refresh), check)
        return path

    def _declare(self, planned: PlannedOutput, check: bool) -> None:
        self.outputs.append(planned)
        if check or self.checked:
            self._check_one(planned, self.outputs[:-1])

    # ------------------------------------------------------------ checking

    @property
    def paths(self) -> list[Path]:
        """The declared output paths, in declaration order."""
        return [p.path for p in self.outputs]

    def check(self) -> OutputPlan:
        """Check every declared output together; raise :class:`InputError` at the first problem.

        Raises:
            InputError: an output is an input, two outputs collide, or a folder is
                missing or not writable.
            OutputExistsError: an output exists and ``overwrite`` is false.
        """
        for index, planned in enumerate(self.outputs):
            self._check_one(planned, self.outputs[:index])
        self.checked = True
        return self

    def _check_one(self, planned: PlannedOutput, earlier: Sequence[PlannedOutput]) -> None:
        out = planned.path
        name = (
            f"{planned.option} {out}"
            if not planned.option.startswith("the ")
            else f"{out} ({planned.option})"
        )
        for other in earlier:
            if _same(other.path, out):
                raise InputError(
                    f"{out}: {other.option} and {planned.option} would write the same file; choose another name"
                )
        for inp in self.inputs:
            if _same(out, inp):
                raise InputError(f"{name}: would overwrite an input file; choose another name")
            if planned.folder and not planned.resume and self.overwrite and _inside(inp, out):
                raise InputError(f"{name}: this folder holds the input {inp}, and would be replaced")
        if out.is_symlink() and not out.exists():
            raise InputError(f"{name}: is a broken symbolic link")
        if planned.folder:
            if out.exists() and not out.is_dir():
                raise InputError(f"{name}: exists and is not a folder")
            if out.is_dir() and not planned.resume and not self.overwrite:
                raise OutputExistsError(f"{name}: folder exists (use --overwrite / -y to replace it)")
        elif out.is_dir():
            raise InputError(f"{name}: is a folder; give a file name")
        elif out.exists() and not (self.overwrite or planned.refresh):
            raise OutputExistsError(f"{name}: exists (use --overwrite / -y to replace it)")
        parent = _resolved(out).parent
        if not parent.is_dir():
            if any(p.folder and _resolved(p.path) == parent for p in earlier):
                return  # inside an output folder this command creates; that folder was checked
            raise InputError(f"{name}: output folder {parent} does not exist")
        where = _resolved(out) if planned.folder and planned.resume and out.is_dir() else parent
        reason = _probe_writable(where)
        if reason is not None:
            raise InputError(f"{name}: cannot write in {where} ({reason})")
        remove_stale_parts(where)


def check_output_path(output: StrPath, inputs: Iterable[StrPath] = (), overwrite: bool = False) -> Path:
    """Check one output path before any work: an :class:`OutputPlan` of a single file.

    Raises:
        InputError: the output is one of the inputs, or its folder is missing or not writable.
        OutputExistsError: the output exists and ``overwrite`` is false.

    Example:
        >>> check_output_path("art.png", inputs=["photo.jpg"])  # doctest: +SKIP
        PosixPath('art.png')
    """
    plan = OutputPlan(inputs=inputs, overwrite=overwrite)
    out = plan.file(output, option="output")
    plan.check()
    return out
