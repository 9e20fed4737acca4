"""Grids planned before any work: outputs checked together, input folders never written into,
resumable, and an interrupted grid keeps only finished cells (a stand-in stylizer keeps it fast)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import easel.style.grid as grid_mod
from easel.errors import InputError, OutputExistsError
from easel.io.images import read_image, write_image
from easel.io.outputs import OutputPlan
from easel.style.grid import plan_grid, render_grid, stylize_grid
from easel.style.options import StyleOptions


def _img(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((h, w, 3)).astype(np.float32)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    photos, styles = tmp_path / "photos", tmp_path / "styles"
    photos.mkdir()
    styles.mkdir()
    write_image(photos / "a.png", _img(40, 48, 1))
    write_image(photos / "b.png", _img(48, 40, 2))
    write_image(styles / "s1.png", _img(40, 40, 3))
    return photos, styles


class _FakeStylizer:
    """Returns the content tinted; the run numbered ``interrupt_at`` ends interrupted."""

    runs = 0
    interrupt_at: int | None = None

    def __init__(self, options: Any = None) -> None:
        self.options = options

    def run(self, content: np.ndarray, styles: Any, **kwargs: Any) -> SimpleNamespace:
        type(self).runs += 1
        status = "interrupted" if type(self).runs == self.interrupt_at else "finished"
        return SimpleNamespace(image=content * 0.5, status=status, message="")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[_FakeStylizer]:
    _FakeStylizer.runs = 0
    _FakeStylizer.interrupt_at = None
    monkeypatch.setattr(grid_mod, "Stylizer", _FakeStylizer)
    return _FakeStylizer


@pytest.mark.parametrize("where", ["photos", "photos/sub", "styles", "styles/deeper/grid"])
def test_grid_never_writes_into_an_input_folder(folders: tuple[Path, Path], where: str) -> None:
    photos, styles = folders
    out = photos.parent / where
    with pytest.raises(InputError, match=r"^-o .*would write into the input folder .*next run"):
        plan_grid(photos, [styles], out, plan=OutputPlan(), option="-o")


def test_grid_folder_beside_or_above_the_inputs_is_fine(folders: tuple[Path, Path], fake: Any) -> None:
    photos, styles = folders
    plan = OutputPlan()
    grid = plan_grid(photos, [styles], photos.parent, plan=plan)  # the folder holding photos/ and styles/
    plan.check()
    assert [c.target.name for c in grid.todo] == ["a__s1.png", "b__s1.png"]


def test_two_pairs_with_one_output_name_are_refused(folders: tuple[Path, Path], tmp_path: Path) -> None:
    photos, styles = folders
    write_image(photos / "a.jpg", _img(40, 48, 4))
    with pytest.raises(InputError, match="would both be written to .*a__s1.png"):
        plan_grid(photos, [styles], tmp_path / "grid")


def test_contact_sheet_over_an_input_is_refused(folders: tuple[Path, Path], tmp_path: Path) -> None:
    _, styles = folders
    out = tmp_path / "grid"
    out.mkdir()
    content = write_image(out / "contact_sheet.png", _img(40, 40, 5))
    plan = OutputPlan(overwrite=True)
    plan_grid(content, [styles], out, overwrite=True, plan=plan)
    with pytest.raises(InputError, match="would overwrite an input"):
        plan.check()
    # resuming (no --overwrite) refreshes the sheet, but never over an input either
    with pytest.raises(InputError, match="would overwrite an input"):
        plan_grid(content, [styles], out, plan=OutputPlan())


def test_new_grid_refuses_an_existing_record(folders: tuple[Path, Path], tmp_path: Path) -> None:
    photos, styles = folders
    (tmp_path / "grid.json").write_text("{}")
    plan = OutputPlan()
    plan_grid(photos, [styles], tmp_path / "grid", plan=plan, record=True)
    with pytest.raises(OutputExistsError, match="grid.json"):
        plan.check()
    assert (tmp_path / "grid.json").read_text() == "{}"


def test_resume_skips_finished_cells_and_refreshes_sheet_and_record(
    folders: tuple[Path, Path], tmp_path: Path, fake: type[_FakeStylizer]
) -> None:
    photos, styles = folders
    out = tmp_path / "grid"
    report = stylize_grid(photos, [styles], out, StyleOptions())
    assert [p.name for p in report.done] == ["a__s1.png", "b__s1.png"] and fake.runs == 2
    (tmp_path / "grid.json").write_text("{}")  # the record of that run
    (out / "b__s1.png").unlink()
    plan = OutputPlan()
    grid = plan_grid(photos, [styles], out, plan=plan, record=True)
    plan.check()  # the existing sheet and record belong to the grid: no --overwrite needed
    assert [c.target.name for c in grid.todo] == ["b__s1.png"]
    assert [p.name for p in grid.finished] == ["a__s1.png"]
    report = render_grid(grid, StyleOptions())
    assert [p.name for p in report.done] == ["b__s1.png"] and fake.runs == 3
    assert report.sheet == out / "contact_sheet.png" and report.status == "finished"


def test_interrupted_grid_keeps_finished_cells_only(
    folders: tuple[Path, Path], tmp_path: Path, fake: type[_FakeStylizer]
) -> None:
    photos, styles = folders
    fake.interrupt_at = 2
    out = tmp_path / "grid"
    report = stylize_grid(photos, [styles], out, StyleOptions())
    assert report.status == "interrupted"
    assert [p.name for p in report.done] == ["a__s1.png"]
    assert not (out / "b__s1.png").exists()  # unfinished: the next run renders it
    assert read_image(out / "contact_sheet.png").rgb.shape[2] == 3
