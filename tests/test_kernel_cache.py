"""Issue #15: numba compiles easel's kernels once per machine; later processes load them from its cache.

A child process runs every kernel (quantize, dithering, superpixels, the
renderer on one and on two threads) twice with the same empty
``NUMBA_CACHE_DIR``: the first run compiles each kernel for exactly one
signature and leaves an index file per kernel, the second compiles nothing
and gives identical results. A copy of the package that numba cannot write
beside (as a read-only install in site-packages) caches in numba's user-wide
folder instead. ``benchmarks/cold_start.py`` times the same thing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"

# Records the outermost numba compilations (nested ones are part of them).
_COMPILE_LOG = """
import json, sys
from numba.core import event

compiled = []

class _Compiles(event.Listener):
    depth = 0

    def on_start(self, ev):
        if self.depth == 0:
            compiled.append(ev.data["dispatcher"].py_func.__qualname__)
        self.depth += 1

    def on_end(self, ev):
        self.depth -= 1

event.register("numba:compile", _Compiles())
"""

EVERY_KERNEL = (
    _COMPILE_LOG
    + """
import numpy as np
from numba.core.registry import CPUDispatcher

from easel.art import _kernels as art_kernels
from easel.art.quantize import quantize_colors
from easel.art.superpixels import slic_superpixels
from easel.cameras import Camera, invert_pose
from easel.scene3d import _kernels as render_kernels
from easel.scene3d.render import GridLayer, Renderer
from easel.scene3d.synthetic import layered_scene

image = np.random.default_rng(0).random((24, 32, 3), dtype=np.float32)
out = {
    "quantize": quantize_colors(image, n_colors=6, seed=0).image,
    "quantize_lab_dither": quantize_colors(image, n_colors=6, seed=0, space="lab", dither=True).image,
    "superpixels": slic_superpixels(image, n_segments=12),
}
scene, cam = layered_scene(32, 24)
view = scene.render(Camera(cam))
layer = GridLayer.from_rgbd(view.image, view.depth, cam)
moved = invert_pose(np.eye(4))
moved[0, 3] = 0.05  # a small step sideways: some holes appear
for threads in (1, 2):
    result = Renderer([layer], backend="numba", threads=threads).render(Camera(cam, moved))
    out[f"render_{threads}"] = result.image
    out[f"holes_{threads}"] = result.holes
np.savez(sys.argv[1], **out)
signatures = {
    f"{module.__name__}.{name}": len(value.signatures)
    for module in (art_kernels, render_kernels)
    for name, value in vars(module).items()
    if isinstance(value, CPUDispatcher) and value.signatures
}
# the renderer's kernels, whatever their names: every loop of its module not inlined into another
render_loops = [
    name
    for name, value in vars(render_kernels).items()
    if isinstance(value, CPUDispatcher) and value.targetoptions.get("inline", "never") != "always"
]
print(json.dumps({"compiled": compiled, "signatures": signatures, "render_loops": render_loops}))
"""
)

ONE_KERNEL = (
    _COMPILE_LOG
    + """
import numpy as np
from easel.art import _kernels

points = np.eye(3, dtype=np.float32)
sums, totals = _kernels.weighted_sums(points, np.ones(3), np.array([0, 1, 1], np.int32), 2)
assert totals.tolist() == [1.0, 2.0], totals
print(json.dumps({"compiled": compiled, "kernels_file": _kernels.__file__}))
"""
)

# what the art kernels compile to (the outermost numba functions); the renderer's come from
# its module (``render_loops`` in the child's report), so that they can be renamed or merged
KERNELS = {
    "_assign_and_sum_chunks",
    "_color_histogram",
    "_connect_regions",
    "_dither_floyd_steinberg",
    "_kmeans_pp_seeds",
    "_nearest_lut",
    "_slic_chunks",
}


def run_child(script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def child_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(NUMBA_NUM_THREADS="2", PYTHONDONTWRITEBYTECODE="1", **values)
    return env


def indexed_functions(folder: Path) -> set[str]:
    """Names of the functions numba keeps an index for (``<module>.<function>-<line>.py311.nbi``)."""
    return {path.name.split(".")[1].rsplit("-", 1)[0] for path in folder.rglob("*.nbi")}


def test_second_process_loads_every_kernel_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    env = child_env(NUMBA_CACHE_DIR=str(cache))

    first = run_child(EVERY_KERNEL, [str(tmp_path / "first.npz")], env)
    kernels = KERNELS | set(first["render_loops"])
    assert first["render_loops"], "the renderer's module has no numba loops"
    assert kernels <= set(first["compiled"]), first["compiled"]
    assert kernels <= indexed_functions(cache)
    # one signature each: callers always pass the same dtypes and C-contiguous arrays
    assert first["signatures"] and all(n == 1 for n in first["signatures"].values()), first["signatures"]

    second = run_child(EVERY_KERNEL, [str(tmp_path / "second.npz")], env)
    assert second["compiled"] == []  # every kernel came from the cache

    before, after = np.load(tmp_path / "first.npz"), np.load(tmp_path / "second.npz")
    assert sorted(before.files) == sorted(after.files)
    for name in before.files:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_read_only_install_caches_in_the_user_folder(tmp_path: Path) -> None:
    """numba cannot write ``__pycache__`` beside a read-only package; it falls back to its
    user-wide cache folder (``$XDG_CACHE_HOME/numba``), and the second run loads from there."""
    package = tmp_path / "site" / "easel"
    shutil.copytree(SRC / "easel", package, ignore=shutil.ignore_patterns("__pycache__"))
    folders = [package, *(p for p in package.rglob("*") if p.is_dir())]
    for folder in folders:
        # a root user writes through permissions, so a file also stands where __pycache__ would go
        (folder / "__pycache__").write_text("not a folder\n")
    for path in [*package.rglob("*"), package]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    user_cache = tmp_path / "xdg-cache"
    env = child_env(PYTHONPATH=str(package.parent), XDG_CACHE_HOME=str(user_cache), HOME=str(tmp_path))
    try:
        first = run_child(ONE_KERNEL, [], env)
        assert Path(first["kernels_file"]).resolve().is_relative_to(package.resolve())
        assert "_assign_and_sum_chunks" in first["compiled"]
        assert "_assign_and_sum_chunks" in indexed_functions(user_cache / "numba")
        assert not list(package.rglob("*.nbi"))
        second = run_child(ONE_KERNEL, [], env)
        assert second["compiled"] == []
    finally:
        for path in [package, *package.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


PRELOAD_THEN_RUN = """
import json, sys
import numpy as np
from numba.core.registry import CPUDispatcher

from easel.art import _kernels
from easel.art.quantize import QuantizeOptions, load_kernels as load_quantize, quantize_colors
from easel.art.superpixels import load_kernels as load_superpixels, slic_superpixels

def loaded():
    return {name: len(value.signatures) for name, value in vars(_kernels).items()
            if isinstance(value, CPUDispatcher) and value.signatures}

options = QuantizeOptions(n_colors=12, space=sys.argv[1], dither=sys.argv[2] == "dither")
load_quantize(options)
load_superpixels()
before = loaded()
image = np.random.default_rng(1).random((120, 160, 3), dtype=np.float32)
quantize_colors(image, options=options)
slic_superpixels(image, n_segments=200)  # small superpixels: no refinement to full size
print(json.dumps({"before": before, "after": loaded()}))
"""


def test_load_kernels_loads_what_a_run_uses() -> None:
    """What the CLI loads in a thread while it reads the image is all a run needs, nothing else:
    the run itself loads no more kernel (and no other signature of one)."""
    for space, dither in (("rgb", "plain"), ("lab", "dither")):
        report = run_child(PRELOAD_THEN_RUN, [space, dither], child_env())
        assert report["before"] == report["after"], (space, dither, report)
        assert all(n == 1 for n in report["after"].values()), report
        assert {"_slic_chunks", "_connect_regions", "_assign_and_sum_chunks"} <= set(report["after"])
        assert ("_dither_floyd_steinberg" in report["after"]) == (dither == "dither")
        assert ("_nearest_lut" in report["after"]) == (space == "rgb")
