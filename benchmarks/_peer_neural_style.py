"""The real peer of ``easel stylize``: neural-style-pt 0.5.7 (PyPI ``neural-style``), run as a user runs it.

* **Install**: ``pip install --no-deps --target <folder> neural-style==0.5.7`` into a
  folder of its own beside easel's weights cache (``$EASEL_HOME/bench/``, by default
  ``~/.cache/easel/bench/neural-style-0.5.7``), never into the venv and never inside
  the repository. ``--no-deps`` because its requirements are ``torch``, ``torchvision``
  and ``pillow``: torch and Pillow come from the venv, and torchvision (which would
  pull another torch build) is replaced by the stand-in below.
* **torchvision**: the peer's script imports ``torchvision.transforms`` only;
  ``benchmarks/_peer_stand_in/torchvision`` provides those transforms with
  torchvision's arithmetic and is put on the *subprocess's* ``PYTHONPATH`` only.
* **Weights**: the peer's loader (``loader/CaffeLoader.py``) picks the architecture
  from the file *path* (it must contain ``vgg`` and ``19``, and not ``sod``,
  ``pruning`` or ``fcn32s``), builds a full VGG-19 with its 25088x4096 classifier
  and loads the file strictly unless ``-disable_check``. Easel's weight files
  (:func:`easel.nets.vgg.save_random_vgg19`, the Caffe layout ``features.N.weight``
  of ``vgg19-d01eb7cb.pth``) have no classifier, so the peer runs with
  ``-disable_check`` on a link named ``vgg19-caffe-layout.pth`` in its working folder,
  passed as a relative path. ``-disable_check`` would also skip *misnamed* keys
  silently; the benchmark therefore checks that the peer's loss at its first
  evaluation equals easel's evaluator on the same image.
* **What the peer optimizes** (read from ``neural_style.py`` 0.5.7): pixels are
  loaded as ``ToTensor(image) * 256``, flipped to BGR, the Caffe mean subtracted
  (note: 256, not Caffe's 255); content loss ``content_weight * MSE`` at each content
  layer; style loss ``style_weight * MSE(G, G_target)`` at each style layer with
  ``G = F Fᵀ / (C·H·W)`` (``input.nelement()`` with batch 1); TV only when
  ``-tv_weight`` > 0; ``torch.optim.LBFGS(history_size=100, max_iter=N)`` without
  line search, i.e. N evaluations; ``-init image`` starts from the content image.
  The image saved after evaluation N is ``clamp((x + mean) / 256, 0, 1)``, truncated
  to uint8 by ``ToPILImage``.

Example:
    >>> peer = install_peer()  # doctest: +SKIP
    >>> run = run_peer(peer, work, "content.png", "style.png", weights, size=384, iterations=500)  # doctest: +SKIP
    >>> run.wall_s, run.final_loss  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PEER_PACKAGE = "neural-style"
PEER_VERSION = "0.5.7"
PEER_MODULE = "neural_style.neural_style"
PEER_PIXEL_SCALE = 256.0
"""neural-style-pt multiplies [0, 1] pixels by 256 before the Caffe mean (Caffe itself: 255)."""
STAND_IN = Path(__file__).resolve().parent / "_peer_stand_in"
"""Folder holding the ``torchvision`` stand-in package (for the peer's ``PYTHONPATH`` only)."""
WEIGHTS_LINK = "vgg19-caffe-layout.pth"
"""Name the weights file gets in the peer's working folder (the loader reads the architecture from it)."""

_ITERATION = re.compile(r"^Iteration (\d+) / (\d+)\s*$")
_TOTAL = re.compile(r"^\s*Total loss: (\S+)\s*$")
_CONTENT = re.compile(r"^\s*Content (\d+) loss: (\S+)\s*$")
_STYLE = re.compile(r"^\s*Style (\d+) loss: (\S+)\s*$")
_LOOP_START = "Running optimization"


def default_peer_dir() -> Path:
    """Where the peer is installed: ``<easel cache>/bench/neural-style-<version>`` (outside the repo)."""
    from easel import weights

    return weights.cache_dir().parent / "bench" / f"neural-style-{PEER_VERSION}"


def install_peer(target: Path | None = None, quiet: bool = True) -> Path:
    """Install neural-style-pt into ``target`` (once) with pip; return the folder to put on ``PYTHONPATH``.

    Installs into a temporary sibling first and renames it, so an interrupted
    install leaves nothing that looks complete.

    Raises:
        RuntimeError: pip failed (no network, no registry).
    """
    target = Path(target) if target is not None else default_peer_dir()
    if (target / "neural_style" / "neural_style.py").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(staging),
            f"{PEER_PACKAGE}=={PEER_VERSION}",
        ]
        if quiet:
            cmd.insert(4, "--quiet")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not (staging / "neural_style" / "neural_style.py").is_file():
            raise RuntimeError(f"could not install {PEER_PACKAGE}=={PEER_VERSION}: {proc.stderr[-1000:]}")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def peer_sources(peer_dir: Path) -> dict[str, str]:
    """sha256 of the peer's two source files (provenance for the results)."""
    out = {}
    for rel in ("neural_style/neural_style.py", "neural_style/loader/CaffeLoader.py"):
        out[rel] = hashlib.sha256((peer_dir / rel).read_bytes()).hexdigest()
    return out


def peer_environment(peer_dir: Path) -> dict[str, str]:
    """The subprocess's environment: the stand-in and the peer on ``PYTHONPATH``, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(STAND_IN), str(peer_dir)])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def peer_command(
    content: str,
    style: str,
    size: int,
    iterations: int,
    output: str = "peer.png",
    content_weight: float = 5.0,
    style_weight: float = 100.0,
) -> list[str]:
    """The peer's command line: CPU, ``-init image``, no TV, L-BFGS, one line of losses per evaluation.

    Paths are relative to the peer's working folder (see :data:`WEIGHTS_LINK`).

    Example:
        >>> peer_command("c.png", "s.png", 384, 500)[:3]  # doctest: +ELLIPSIS
        ['...', '-m', 'neural_style.neural_style']
    """
    return [
        sys.executable,
        "-m",
        PEER_MODULE,
        "-content_image",
        content,
        "-style_image",
        style,
        "-image_size",
        str(size),
        "-gpu",
        "c",
        "-backend",
        "nn",
        "-optimizer",
        "lbfgs",
        "-num_iterations",
        str(iterations),
        "-init",
        "image",
        "-content_weight",
        repr(float(content_weight)),
        "-style_weight",
        repr(float(style_weight)),
        "-tv_weight",
        "0",
        "-pooling",
        "max",
        "-style_scale",
        "1.0",
        "-content_layers",
        "relu4_2",
        "-style_layers",
        "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
        "-model_file",
        WEIGHTS_LINK,
        "-disable_check",
        "-print_iter",
        "1",
        "-save_iter",
        "0",
        "-seed",
        "0",
        "-output_image",
        output,
    ]


@dataclass
class PeerStep:
    """One evaluation of the peer, as its log reports it.

    Attributes:
        elapsed_s: seconds from the subprocess's start to the line ``Iteration N``
            (printed right after evaluation N's backward pass).
        iteration: N, 1-based.
        total: its total loss (of the unclamped image it optimizes).
        content: the content terms, weighted.
        style: the style terms (one per style layer), weighted.
    """

    elapsed_s: float
    iteration: int
    total: float
    content: list[float] = field(default_factory=list)
    style: list[float] = field(default_factory=list)


@dataclass
class PeerLog:
    """The peer's progress log, parsed line by line (see :func:`parse_peer_log`)."""

    steps: list[PeerStep] = field(default_factory=list)
    loop_start_s: float | None = None
    _pending: PeerStep | None = None

    def feed(self, elapsed_s: float, line: str) -> None:
        """Parse one line of the peer's stdout, received ``elapsed_s`` after its start."""
        if line.startswith(_LOOP_START) and self.loop_start_s is None:
            self.loop_start_s = elapsed_s
            return
        match = _ITERATION.match(line)
        if match:
            self._pending = PeerStep(elapsed_s, int(match.group(1)), float("nan"))
            return
        if self._pending is None:
            return
        if match := _CONTENT.match(line):
            self._pending.content.append(float(match.group(2)))
        elif match := _STYLE.match(line):
            self._pending.style.append(float(match.group(2)))
        elif match := _TOTAL.match(line):
            self._pending.total = float(match.group(1))
            self.steps.append(self._pending)
            self._pending = None


def parse_peer_log(lines: Iterable[tuple[float, str]]) -> PeerLog:
    """Parse ``(elapsed_s, line)`` pairs of the peer's stdout into its steps.

    Example:
        >>> log = parse_peer_log([(1.0, "Running optimization with L-BFGS"), (2.5, "Iteration 1 / 5"),
        ...                       (2.5, "  Content 1 loss: 0.0"), (2.5, "  Style 1 loss: 3.5"),
        ...                       (2.5, "  Total loss: 3.5")])
        >>> log.loop_start_s, log.steps[0].iteration, log.steps[0].total
        (1.0, 1, 3.5)
    """
    log = PeerLog()
    for elapsed, line in lines:
        log.feed(elapsed, line)
    return log


@dataclass
class PeerRun:
    """A finished peer run.

    Attributes:
        wall_s: seconds of the whole subprocess (Python start, imports, model load, the loop, saving).
        cpu_s: CPU seconds of the subprocess (user + system, all threads).
        loop_start_s: when its optimization began (from its log), seconds after the start.
        steps: its evaluations (see :class:`PeerStep`).
        output: the image it wrote.
        command: the command line (relative to ``workdir``).
        workdir: its working folder.
    """

    wall_s: float
    cpu_s: float
    loop_start_s: float | None
    steps: list[PeerStep]
    output: Path
    command: list[str]
    workdir: Path

    @property
    def final_loss(self) -> float:
        """The loss it printed for its last evaluation (the image it saved, before clamping)."""
        return self.steps[-1].total if self.steps else float("nan")

    @property
    def loop_s(self) -> float:
        """Seconds from the start of its optimization to its last evaluation."""
        if not self.steps:
            return float("nan")
        return self.steps[-1].elapsed_s - (self.loop_start_s or 0.0)


def link_weights(weights: Path, workdir: Path) -> Path:
    """Make ``workdir / WEIGHTS_LINK`` point at ``weights`` (a symlink, a copy where links fail)."""
    link = workdir / WEIGHTS_LINK
    if link.is_symlink() or link.exists():
        link.unlink()
    try:
        link.symlink_to(Path(weights).resolve())
    except OSError:
        shutil.copyfile(weights, link)
    return link


def run_peer(
    peer_dir: Path,
    workdir: Path,
    content: str,
    style: str,
    weights: Path,
    size: int,
    iterations: int,
    timeout_s: float | None = None,
    echo: bool = False,
) -> PeerRun:
    """Run neural-style-pt in a subprocess in ``workdir`` and time each of its evaluations.

    Args:
        peer_dir: the folder :func:`install_peer` returned.
        workdir: the peer's working folder; ``content`` and ``style`` are file names in it.
        content: the content image, already at its output size (long side ``size``).
        style: the style image (its long side becomes ``size``, as ``-style_scale 1``).
        weights: a VGG-19 state dict in the Caffe layout (``features.N.weight``).
        size: ``-image_size``.
        iterations: ``-num_iterations`` (= evaluations).
        timeout_s: kill the peer after this many seconds.
        echo: print the peer's output as it comes (progress on long runs).

    Raises:
        RuntimeError: the peer failed, timed out or printed no loss.
    """
    workdir = Path(workdir)
    link_weights(weights, workdir)
    output = "peer.png"
    (workdir / output).unlink(missing_ok=True)
    cmd = peer_command(content, style, size, iterations, output=output)
    log = PeerLog()
    tail: list[str] = []
    stderr_path = workdir / "peer.stderr.txt"
    before = os.times()
    start = time.perf_counter()
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            cmd,
            cwd=workdir,
            env=peer_environment(peer_dir),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
        ) as proc,
    ):
        timer = threading.Timer(timeout_s, proc.kill) if timeout_s else None
        if timer is not None:
            timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                elapsed = time.perf_counter() - start
                log.feed(elapsed, line.rstrip("\n"))
                tail = [*tail[-40:], line.rstrip("\n")]
                if echo and (line.startswith("Iteration") or line.startswith("  Total")):
                    print(f"    peer {elapsed:7.1f}s {line.strip()}", flush=True)
            code = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if code != 0:
        err = stderr_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"neural-style-pt failed (exit {code}): {err or chr(10).join(tail)}")
    if not log.steps or not (workdir / output).is_file():
        raise RuntimeError("neural-style-pt printed no loss or wrote no image:\n" + "\n".join(tail))
    return PeerRun(
        wall_s=wall,
        cpu_s=cpu,
        loop_start_s=log.loop_start_s,
        steps=log.steps,
        output=workdir / output,
        command=cmd,
        workdir=workdir,
    )
