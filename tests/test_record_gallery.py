"""Run records and the demo gallery page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from easel.cli import main
from easel.cli._gallery import Gallery
from easel.io.record import record_path, write_record
from easel.samples import sample_image


def test_record_path_appends_json() -> None:
    assert record_path(Path("a/art.png")) == Path("a/art.png.json")
    assert record_path(Path("frames")) == Path("frames.json")


def test_write_record_is_json_with_versions(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    path = write_record(
        out,
        "quantize",
        {"k": 16, "path": tmp_path},
        inputs=[tmp_path / "in.png"],
        seed=3,
        timings={"total": 1.5},
    )
    data = json.loads(path.read_text())
    assert data["command"] == "quantize"
    assert data["options"] == {"k": 16, "path": str(tmp_path)}
    assert data["seed"] == 3
    assert data["versions"]["easel"]
    assert data["timings_s"] == {"total": 1.5}


def test_sample_image_is_float_rgb() -> None:
    img = sample_image("chelsea")
    assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
    assert 0.0 <= img.min() and img.max() <= 1.0


def test_gallery_records_failures_and_writes_html(tmp_path: Path) -> None:
    gallery = Gallery(tmp_path)
    sample = gallery.sample("chelsea", max_size=64)
    assert sample.exists()
    ok = gallery.run("broken", "a missing input", ["info", "--no-such-flag"], inputs=[], outputs=[])
    assert not ok and gallery.failures
    page = gallery.write_html()
    text = page.read_text()
    assert "Failed" in text and "--no-such-flag" in text


def test_demo_refuses_existing_gallery_without_overwrite(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("old")
    assert main(["demo", "-o", str(tmp_path), "--quiet"]) == 2
    assert (tmp_path / "index.html").read_text() == "old"


def test_demo_rejects_unknown_only(tmp_path: Path) -> None:
    assert main(["demo", "-o", str(tmp_path / "g"), "--only", "nope", "--quiet"]) == 2


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    import os
    import stat

    from easel.io.atomic import atomic_dir, write_text_atomic

    mask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "frames") as folder:
            (folder / "f.png").write_bytes(b"x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "frames").stat().st_mode) == 0o755
