"""Benchmark: easel's style transfer against the real peer, neural-style-pt, and our own reference loop.

Issue #15, item 1. For each content/style pair and each size, in one run:

1. **neural-style-pt 0.5.7** (PyPI ``neural-style``), installed by this script with
   pip into a folder of its own (``$EASEL_HOME/bench/neural-style-0.5.7``, see
   ``_peer_neural_style.py``) and run as its own script in a subprocess,
   ``-init image``, ``--peer-iterations`` L-BFGS evaluations, CPU; its one
   torchvision import is served by a stand-in (``_peer_stand_in/``) on the
   subprocess's ``PYTHONPATH`` only;
2. **reference**: our own plain loop, single scale, fp32, ``--ref-iterations`` L-BFGS
   iterations (the second baseline);
3. **easel**: :class:`easel.StyleOptions` defaults (``auto`` precision, coarse to fine),
   and optionally other ``--easel-iterations``.

**Same objective for all**: one VGG-19 weights file in the Caffe layout (the real
``vgg19-caffe`` when cached, else :func:`easel.nets.vgg.save_random_vgg19`), max
pooling, content ``relu4_2`` x 5, style ``relu1_1 ... relu5_1`` x 100 with equal layer
weights, Gram ``F Fᵀ / (C·H·W)``, MSE, no TV, start from the content image; easel runs
with ``preprocessing="caffe", content_weight=5, style_weight=100,
style_layer_weights=(1, 1, 1, 1, 1), tv_weight=0``. These are the peer's definitions
term for term (``neural_style.py``: ``ContentLoss``, ``GramMatrix`` /
``input.nelement()``, ``StyleLoss``), with one difference: the peer scales pixels
by **256** before subtracting the Caffe mean, easel (like Caffe) by 255. With
``--pixel-scale peer`` (the default) every easel run and the evaluator feed the
encoder ``image * 256/255``, so both sides optimize and are scored on exactly the
peer's function; ``--pixel-scale easel`` leaves easel at 255. The content and
style images are resized once (long side = size, easel's resize) and rounded to
uint8, and both sides read those same pixels (the peer from PNG files, at which
size its own resize is the identity).

**One evaluator**: ``Stylizer(...).evaluate(image, content, [style], precision="fp32")``
scores every output as it is written (uint8: the peer's PNG, easel's image
rounded). The setup is checked: the peer's own loss at its first evaluation (the
content image) must equal the evaluator's on that image (relative difference
printed; > 1e-3 with ``--pixel-scale peer`` stops the benchmark: weights not
loaded, or another objective).

**Reported**: wall and CPU seconds (the peer: its whole process; easel: loading the
encoder, choosing the precision and the run), the evaluated objective, and the
**time easel needs to reach the peer's final objective** (the evaluator's score of
the image the peer writes; its own last loss, of the unclamped float image it
optimizes, is recorded beside it): an ``on_step``
hook records ``(elapsed, loss)`` at every step, and at each new lowest loss of the
finest scale within 10 % of the target evaluates that image (rounded to uint8) with
the fp32 evaluator; the first one at or below the target is the reach time. Time
spent in the hook is subtracted from easel's clock. ``reach_vs_peer`` divides it
by the peer's wall time, ``reach_vs_peer_loop`` (stricter) by the peer's
optimization loop alone.

Parts: ``runs`` (the above), ``levers`` (seconds per evaluation of each speed
lever at ``--lever-size``), ``memory`` (peak memory of a 1024 px run in a fresh
process). Results: ``benchmarks/results/stylize.json`` and ``.md`` (all parts) or
``stylize-<parts>[-<tag>].json``.

Usage::

    python benchmarks/stylize.py                 # the issue's configuration: 384 and 512 px, two pairs,
                                                 # 500 peer / 500 reference iterations (about 1.5 h on 2 cores)
    python benchmarks/stylize.py --parts runs --sizes 384 --pairs chelsea:coffee   # one cell (about 12 min)
    python benchmarks/stylize.py --quick         # smoke: 64 px, one pair, 5 peer iterations (a minute)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, markdown_table, run_isolated, write_results  # noqa: E402
from _peer_neural_style import (  # noqa: E402
    PEER_PIXEL_SCALE,
    PEER_VERSION,
    default_peer_dir,
    install_peer,
    peer_sources,
    run_peer,
)

DEFAULT_PAIRS = "chelsea:coffee,astronaut:immunohistochemistry"
EASEL_PIXEL_SCALE = 255.0
"""easel's Caffe preprocessing: [0, 1] pixels x 255 - mean (neural-style-pt: x 256)."""
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OBJECTIVE: dict[str, Any] = {
    "preprocessing": "caffe",
    "content_weight": 5.0,
    "style_weight": 100.0,
    "content_layers": ("relu4_2",),
    "style_layers": STYLE_LAYERS,
    "style_layer_weights": (1.0, 1.0, 1.0, 1.0, 1.0),
    "tv_weight": 0.0,
    "pooling": "max",
    "style_scale": 1.0,
    "init": "content",
}
"""The objective shared with the peer (its defaults, minus TV), as :class:`StyleOptions` fields."""
REACH_MARGIN = 1.1
"""A step's own loss must be within this factor of the target before its image is evaluated."""
REACH_MAX_CHECKS = 40
"""At most this many evaluations of snapshots per run (each costs one fp32 forward pass)."""
PEER_STALL_RATIO = 0.8
"""A peer whose final objective is above this fraction of its first one stalled (no baseline)."""
FIRST_LOSS_TOLERANCE = 1e-3
"""Largest relative difference between the peer's first loss and the evaluator's on the same image."""


def weights_path() -> tuple[Path, str]:
    """The real cached file when present, else a random VGG-19 in the real (Caffe) layout."""
    from easel import weights
    from easel.nets.vgg import save_random_vgg19

    if weights.is_present("vgg19-caffe"):
        return weights.local_path("vgg19-caffe"), "vgg19-caffe (real)"
    # He fan-in keeps activations at the input's scale as the trained network does; with
    # the fan-out init the Caffe-scaled objective is ~1000x smaller and the peer's L-BFGS
    # (absolute 1e-10 curvature test, first step 1/|g|_1) barely moves: no comparison.
    path = weights.cache_dir().parent / "bench" / "vgg19-random-fanin-caffe-format.pth"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_random_vgg19(path, seed=0, fan="in")
    return path, "random-init VGG-19, He fan-in (real file format; real weights not cached)"


# ---------------------------------------------------------------- inputs


def load_image(spec: str) -> Any:
    """A sample name (``easel.samples``) or an image file, as ``(H, W, 3)`` float32 RGB in [0, 1]."""
    from easel.samples import SAMPLES, sample_image

    if spec in SAMPLES:
        return sample_image(spec)
    from easel.io import read_image

    return read_image(spec, max_size=None).rgb


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``"chelsea:coffee,a.jpg:b.png"`` -> ``[("chelsea", "coffee"), ("a.jpg", "b.png")]``.

    Example:
        >>> parse_pairs("chelsea:coffee, astronaut:immunohistochemistry")
        [('chelsea', 'coffee'), ('astronaut', 'immunohistochemistry')]
    """
    pairs = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 2 or not all(parts):
            raise SystemExit(f"--pairs: expected CONTENT:STYLE, got {item!r}")
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise SystemExit("--pairs: no pair given")
    return pairs


def as_written(image: Any) -> Any:
    """``image`` as an 8-bit file stores it: rounded to uint8, back to float32 in [0, 1].

    Example:
        >>> as_written(np.array([0.5, 1.2], np.float32)).tolist()
        [0.501960813999176, 1.0]
    """
    from easel.image import to_uint8

    return to_uint8(image).astype(np.float32) / 255.0


def prepare_pair(content: Any, style: Any, size: int, workdir: Path) -> tuple[Any, Any]:
    """Resize both images to long side ``size``, round to uint8, write ``content.png`` and ``style.png``.

    Returns the same pixels as float32 RGB in [0, 1]: what easel and the evaluator use.
    """
    from PIL import Image

    from easel.image import resize
    from easel.pyramid import shape_with_long_side

    out = []
    for name, image in (("content", content), ("style", style)):
        pixels = resize(image, shape_with_long_side(image.shape[:2], size))
        as_uint8 = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
        Image.fromarray(as_uint8).save(workdir / f"{name}.png")
        out.append(as_uint8.astype(np.float32) / 255.0)
    return out[0], out[1]


def read_png(path: Path) -> Any:
    """An 8-bit RGB file as float32 in [0, 1], unaltered (no EXIF rotation, no resizing)."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


# ---------------------------------------------------------------- the objective


class PixelScaled(torch.nn.Module):
    """An encoder fed ``image * factor``: easel's Caffe preprocessing (x 255) made the peer's (x 256).

    Args:
        encoder: an :class:`easel.nets.vgg.VGGEncoder` (RGB in [0, 1] -> activations).
        factor: multiplies the image before the encoder (``256 / 255`` for the peer's scale).

    Example:
        >>> enc = PixelScaled(torch.nn.Identity(), 2.0)
        >>> enc(torch.ones(1)).item()
        2.0
    """

    def __init__(self, encoder: torch.nn.Module, factor: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.factor = float(factor)

    def forward(self, image: torch.Tensor) -> Any:
        return self.encoder(image * self.factor if self.factor != 1.0 else image)


def objective_options(size: int, weights: Path, device: str = "cpu", **changes: Any) -> Any:
    """:class:`StyleOptions` with the objective shared with the peer (:data:`OBJECTIVE`), plus ``changes``."""
    from easel.style import StyleOptions

    return StyleOptions(size=size, weights=str(weights), device=device, seed=0, **{**OBJECTIVE, **changes})


def load_objective_encoder(weights: Path, pixel_scale: float, device: str = "cpu") -> torch.nn.Module:
    """The encoder of the shared objective (layers, pooling, Caffe preprocessing) at ``pixel_scale``."""
    from easel.devices import resolve_device
    from easel.nets.vgg import load_encoder

    encoder = load_encoder(
        "vgg19-caffe",
        weights,
        layers=[*OBJECTIVE["content_layers"], *OBJECTIVE["style_layers"]],
        pooling=OBJECTIVE["pooling"],
        preprocessing=OBJECTIVE["preprocessing"],
        device=resolve_device(device),
    )
    return PixelScaled(encoder, pixel_scale / EASEL_PIXEL_SCALE)


# ---------------------------------------------------------------- time to reach


@dataclass
class ReachRecorder:
    """An ``on_step`` hook: the loss trace of a run and the first time it reaches ``target``.

    Every step appends ``(elapsed_s, step, scale_index, loss)`` to ``trace``. At the
    finest scale, a step whose loss is a new lowest and at most ``margin x target``
    has its image evaluated by ``evaluate`` (the fp32 evaluator, on the image as
    written); the first evaluation at or below ``target`` sets ``reached``. The
    hook's own time is kept out of ``elapsed_s`` (``hook_s``, ``hook_cpu_s``).

    Args:
        target: the objective to reach (the peer's).
        evaluate: ``f(image (H, W, 3) float32 in [0, 1]) -> objective``.
        margin: see above; a run's own loss (bf16 autocast) and the fp32 evaluation differ a little.
        max_checks: evaluations allowed per run.

    Example:
        >>> rec = ReachRecorder(target=1.0, evaluate=lambda image: 0.5)
        >>> rec.start()
        >>> rec.record(step=1, scale_index=0, num_scales=1, loss=0.9, image=lambda: np.zeros((2, 2, 3)))
        >>> rec.reached["step"], rec.reached["objective"]
        (1, 0.5)
    """

    target: float
    evaluate: Callable[[Any], float]
    margin: float = REACH_MARGIN
    max_checks: int = REACH_MAX_CHECKS
    trace: list[tuple[float, int, int, float]] = field(default_factory=list)
    checks: list[dict[str, float]] = field(default_factory=list)
    reached: dict[str, float] | None = None
    hook_s: float = 0.0
    hook_cpu_s: float = 0.0
    _t0: float = 0.0
    _c0: float = 0.0
    _best: float = math.inf

    def start(self) -> None:
        """Start the clock (call right before the run, encoder loading included)."""
        self._t0 = time.perf_counter()
        self._c0 = time.process_time()
        self.hook_s = self.hook_cpu_s = 0.0

    def elapsed(self) -> float:
        """Seconds since :meth:`start`, without the hook's own time."""
        return time.perf_counter() - self._t0 - self.hook_s

    def record(
        self, step: int, scale_index: int, num_scales: int, loss: float, image: Callable[[], Any]
    ) -> None:
        """Record one step (see the class); ``image()`` returns the step's image."""
        wall_in, cpu_in = time.perf_counter(), time.process_time()
        elapsed = wall_in - self._t0 - self.hook_s
        elapsed_cpu = cpu_in - self._c0 - self.hook_cpu_s
        self.trace.append((round(elapsed, 3), step, scale_index, float(f"{loss:.7g}")))
        finest = scale_index == num_scales - 1
        if (
            self.reached is None
            and finest
            and math.isfinite(loss)
            and loss < self._best
            and loss <= self.margin * self.target
            and len(self.checks) < self.max_checks
        ):
            self._best = loss
            objective = float(self.evaluate(as_written(image())))
            check = {
                "elapsed_s": elapsed,
                "cpu_s": elapsed_cpu,
                "step": step,
                "loss": loss,
                "objective": objective,
            }
            self.checks.append(check)
            if objective <= self.target:
                self.reached = check
        self.hook_s += time.perf_counter() - wall_in
        self.hook_cpu_s += time.process_time() - cpu_in

    def __call__(self, state: Any) -> None:
        """The ``on_step`` hook of :func:`easel.style.stylize` (a :class:`~easel.style.StyleStep`)."""
        if state.tile is not None:  # a tile's loss is not the image's
            return None
        self.record(state.step, state.scale_index, state.num_scales, float(state.loss), state.image)
        return None


# ---------------------------------------------------------------- the runs


class Evaluator:
    """The one fp32 evaluator of every output (a :class:`~easel.style.Stylizer` on the shared encoder)."""

    def __init__(self, weights: Path, encoder: torch.nn.Module, device: str) -> None:
        from easel.style import Stylizer

        self.stylizer = Stylizer(objective_options(64, weights, device, precision="fp32"), encoder=encoder)  # type: ignore[arg-type]

    def terms(self, image: Any, content: Any, style: Any, key: str) -> dict[str, float]:
        """Content, style and total objective of ``image`` (as written: rounded to uint8)."""
        from easel.style import Style

        terms = self.stylizer.evaluate(as_written(image), content, [Style(style, key=key)], precision="fp32")
        return {"objective": float(terms.total), "content": float(terms.content), "style": float(terms.style)}


def run_easel(
    label: str,
    options: Any,
    weights: Path,
    pixel_scale: float,
    content: Any,
    style: Any,
    key: str,
    recorder: ReachRecorder,
) -> dict[str, Any]:
    """One easel run on the shared objective, timed from loading the encoder to the result."""
    from easel.style import Style, Stylizer

    cpu0 = time.process_time()
    recorder.start()
    stylizer = Stylizer(options, encoder=load_objective_encoder(weights, pixel_scale, options.device))  # type: ignore[arg-type]
    result = stylizer.run(content, [Style(style, key=key)], on_step=recorder)
    wall = recorder.elapsed()
    cpu = time.process_time() - cpu0 - recorder.hook_cpu_s
    if result.image.shape != content.shape:
        raise RuntimeError(f"{label}: output {result.image.shape} but content {content.shape}")
    resolved = result.options
    iterations = str(resolved.iterations)
    if len(result.scales) > 1:
        iterations = f"{resolved.coarse_iterations}x{len(result.scales) - 1} + {resolved.iterations}"
    return {
        "method": label,
        "iterations": iterations,
        "scales": [f"{w}x{h}" for h, w in result.scales],
        "precision": result.precision.get("used"),
        "precision_measurement": result.precision.get("measurement"),
        "status": result.status,
        "wall_s": wall,
        "cpu_s": cpu,
        "evaluations": len(result.losses),
        "image": result.image,
    }


def recorded_peer(path: Path, pair_label: str, size: int) -> tuple[Any, dict[str, float]] | None:
    """The peer's run for ``pair_label`` at ``size`` from an earlier result file (``--peer-from``).

    The peer takes about an hour at 384 px on 2 busy cores and is deterministic
    (fixed weights, inputs and iterations), so a re-run of easel may reuse it.
    ``None`` when the file has no such row.
    """
    from _peer_neural_style import PeerRun, PeerStep

    payload = json.loads(path.read_text())
    rows = payload.get("comparison", payload).get("rows", [])
    for row in rows:
        if row["pair"] == pair_label and row["size"] == size and row["method"].startswith("neural-style-pt"):
            steps = [PeerStep(float(e), int(i), float(t)) for e, i, t in row["trace"]]
            run = PeerRun(row["wall_s"], row["cpu_s"], row.get("startup_s"), steps, path, [], path.parent)
            terms = {k: float(row[k]) for k in ("objective", "content", "style")}
            return run, terms
    return None


def compare_pair(
    args: argparse.Namespace,
    peer_dir: Path,
    weights: Path,
    evaluator: Evaluator,
    pair: tuple[str, str],
    size: int,
    workdir: Path,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The peer, the reference and easel on one pair at one size; rows for the table and the checks."""
    pixel_scale = PEER_PIXEL_SCALE if args.pixel_scale == "peer" else EASEL_PIXEL_SCALE
    content_name, style_name = pair
    pair_label = f"{Path(content_name).stem}/{Path(style_name).stem}"
    key = f"{style_name}@{size}"
    workdir.mkdir(parents=True, exist_ok=True)
    content, style = prepare_pair(load_image(content_name), load_image(style_name), size, workdir)
    h, w = content.shape[:2]
    print(f"== {pair_label} at {w}x{h}: neural-style-pt, {args.peer_iterations} iterations ...", flush=True)

    recorded = recorded_peer(Path(args.peer_from), pair_label, size) if args.peer_from else None
    if recorded is not None:
        peer, peer_terms = recorded
        print(f"   peer: its run recorded in {args.peer_from} (not run again)", flush=True)
    else:
        peer = run_peer(
            peer_dir,
            workdir,
            "content.png",
            "style.png",
            weights,
            size,
            args.peer_iterations,
            timeout_s=args.peer_timeout,
            echo=args.verbose,
        )
        peer_image = read_png(peer.output)
        if peer_image.shape != content.shape:
            raise RuntimeError(f"the peer wrote {peer_image.shape}, the content is {content.shape}")
        peer_terms = evaluator.terms(peer_image, content, style, key)
    start_terms = evaluator.terms(content, content, style, key)
    first = peer.steps[0].total
    first_diff = abs(first - start_terms["objective"]) / max(abs(start_terms["objective"]), 1e-30)
    checks = {
        "pair": pair_label,
        "size": size,
        "peer_first_loss": first,
        "evaluator_on_content": start_terms["objective"],
        "first_loss_rel_diff": first_diff,
        "peer_own_final_loss": peer.final_loss,
        "peer_evaluated_final": peer_terms["objective"],
    }
    print(
        f"   peer: {peer.wall_s:.1f} s, objective {peer_terms['objective']:.6g} "
        f"(its own last loss {peer.final_loss:.6g}); first loss {first:.6g} vs evaluator "
        f"{start_terms['objective']:.6g} (rel. diff {first_diff:.2e})",
        flush=True,
    )
    if args.pixel_scale == "peer" and not first_diff <= FIRST_LOSS_TOLERANCE:
        raise RuntimeError(
            f"the peer's first loss {first:.6g} differs from the evaluator's {start_terms['objective']:.6g} "
            f"on the same image (relative {first_diff:.2e}): not the same objective or weights"
        )
    # a peer that did not lower its objective much is no baseline (see weights_path)
    checks["peer_progress"] = peer_terms["objective"] / start_terms["objective"]
    checks["peer_stalled"] = bool(checks["peer_progress"] > PEER_STALL_RATIO)
    if checks["peer_stalled"]:
        print(
            f"   WARNING: the peer ended at {checks['peer_progress']:.3f}x its first objective: "
            "it stalled, so this cell is no comparison",
            flush=True,
        )
    # the peer's final objective is its written image's (scored like easel's); its own last
    # loss is of the unclamped float image it optimizes, which leaves [0, 1], and is kept beside
    target = peer_terms["objective"]
    base = {"pair": pair_label, "size": size, "shape": f"{w}x{h}"}
    rows: list[dict[str, Any]] = [
        {
            **base,
            "method": f"neural-style-pt {PEER_VERSION}, -init image, L-BFGS",
            "iterations": str(args.peer_iterations),
            "precision": "fp32",
            "wall_s": peer.wall_s,
            "cpu_s": peer.cpu_s,
            "loop_s": peer.loop_s,
            "startup_s": peer.loop_start_s,
            **peer_terms,
            "own_final_loss": peer.final_loss,
            "trace": [(round(s.elapsed_s, 3), s.iteration, s.total) for s in peer.steps],
        }
    ]

    runs: list[tuple[str, Any]] = []
    if args.ref_iterations:
        runs.append(
            (
                "reference: easel's plain Gatys loop, single scale, fp32, L-BFGS",
                objective_options(
                    size,
                    weights,
                    args.device,
                    iterations=args.ref_iterations,
                    multiscale=False,
                    precision="fp32",
                    lbfgs_history=100,
                ),
            )
        )
    if args.adam_iterations:
        runs.append(
            (
                "reference: easel's plain Gatys loop, single scale, fp32, Adam (step 10/255)",
                objective_options(
                    size,
                    weights,
                    args.device,
                    iterations=args.adam_iterations,
                    multiscale=False,
                    precision="fp32",
                    optimizer="adam",
                    learning_rate=10 / 255,
                ),
            )
        )
    for spec in args.easel_iterations:
        changes: dict[str, Any] = {"precision": args.easel_precision}
        label = "easel defaults" if spec == "default" else f"easel --iterations {spec}"
        if spec != "default":
            changes["iterations"] = int(spec)
        if args.easel_coarse_iterations is not None:
            changes["coarse_iterations"] = args.easel_coarse_iterations
            label += f" --coarse-iterations {args.easel_coarse_iterations}"
        if args.min_scale is not None:
            changes["min_scale"] = args.min_scale
            label += f" --min-scale {args.min_scale}"
        if args.easel_precision != "auto":
            label += f" --precision {args.easel_precision}"
        runs.append((label, objective_options(size, weights, args.device, **changes)))

    def evaluate(image: Any) -> float:
        return evaluator.terms(image, content, style, key)["objective"]

    for label, options in runs:
        print(f"   {label} ...", flush=True)
        recorder = ReachRecorder(target=target, evaluate=evaluate)
        out = run_easel(label, options, weights, pixel_scale, content, style, key, recorder)
        terms = evaluator.terms(out.pop("image"), content, style, key)
        reach = recorder.reached
        reach_s = reach["elapsed_s"] if reach else None
        reach_cpu_s = reach["cpu_s"] if reach else None
        if reach is None and terms["objective"] <= target:
            reach_s = out["wall_s"]  # reached only by the returned image: count the whole run
            reach_cpu_s = out["cpu_s"]
        row = {
            **base,
            **out,
            **terms,
            "reach_s": reach_s,
            "reach_cpu_s": reach_cpu_s,
            "reach_step": reach["step"] if reach else None,
            "reach_objective": reach["objective"] if reach else None,
            "reach_checks": recorder.checks,
            "trace": recorder.trace,
        }
        rows.append(row)
        print(
            f"   {label}: {out['wall_s']:.1f} s ({out['precision']}), objective {terms['objective']:.6g}, "
            + (
                f"reaches the peer's {target:.6g} at {reach_s:.1f} s"
                if reach_s is not None
                else "does not reach it"
            ),
            flush=True,
        )

    peer_row = rows[0]
    for row in rows:
        row["time_vs_peer"] = row["wall_s"] / peer_row["wall_s"]
        row["loss_vs_peer"] = row["objective"] / peer_row["objective"]
        if row.get("reach_s") is not None:
            row["reach_vs_peer"] = row["reach_s"] / peer_row["wall_s"]
            row["reach_vs_peer_loop"] = row["reach_s"] / peer_row["loop_s"]
        if row.get("reach_cpu_s") is not None and peer_row.get("cpu_s"):
            # CPU seconds: the steadier measure when other work shares the machine
            row["reach_vs_peer_cpu"] = row["reach_cpu_s"] / peer_row["cpu_s"]
    checks["target"] = target
    return rows, checks


def compare(args: argparse.Namespace, weights: Path, weights_label: str) -> dict[str, Any]:
    """Every pair at every size; the table and the JSON payload."""
    peer_dir = install_peer(args.peer_dir)
    pixel_scale = PEER_PIXEL_SCALE if args.pixel_scale == "peer" else EASEL_PIXEL_SCALE
    evaluator = Evaluator(weights, load_objective_encoder(weights, pixel_scale, args.device), args.device)
    root = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="easel-bench-peer-"))
    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    try:
        for pair in args.pairs:
            for size in args.sizes:
                name = f"{Path(pair[0]).stem}__{Path(pair[1]).stem}__{size}"
                pair_rows, pair_checks = compare_pair(
                    args, peer_dir, weights, evaluator, pair, size, root / name
                )
                rows.extend(pair_rows)
                checks.append(pair_checks)
    finally:
        if not args.work_dir:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "peer": {
            "package": f"neural-style=={PEER_VERSION}",
            "installed_in": str(peer_dir),
            "sources_sha256": peer_sources(peer_dir),
            "pixel_scale": PEER_PIXEL_SCALE,
        },
        "objective": {**OBJECTIVE, "pixel_scale": pixel_scale, "weights": weights_label},
        "rows": rows,
        "checks": checks,
    }


def runs_table(payload: dict[str, Any], weights_label: str, target_ratio: float) -> str:
    """The markdown table of the runs, the checks and the target verdicts."""
    info = machine()
    rows = payload["rows"]
    columns = [
        "pair",
        "size",
        "method",
        "iterations",
        "precision",
        "wall_s",
        "cpu_s",
        "objective",
        "time_vs_peer",
        "loss_vs_peer",
        "reach_s",
        "reach_vs_peer",
        "reach_vs_peer_loop",
        "reach_vs_peer_cpu",
    ]
    scale = payload["objective"]["pixel_scale"]
    head = (
        f"Style transfer against neural-style-pt {PEER_VERSION} on {info['cpu']} "
        f"({info['cores']} cores, torch {info.get('torch')}, {info.get('torch_threads')} threads); "
        f"weights: {weights_label}. Objective: content relu4_2 x5, style relu1_1..relu5_1 x100 "
        f"(equal layer weights), Gram/(C*H*W), MSE, no TV, pixels x{scale:g} (Caffe mean), "
        "scored by one fp32 evaluator on the images as written. reach_s: easel's time to the peer's "
        "final objective (confirmed by evaluating the image at that step)."
    )
    verdicts = []
    for row in rows:
        if not row["method"].startswith("easel"):
            continue
        ratio = row.get("reach_vs_peer")
        stalled = any(
            c.get("peer_stalled")
            for c in payload["checks"]
            if (c["pair"], c["size"]) == (row["pair"], row["size"])
        )
        ok = ratio is not None and ratio <= target_ratio and not stalled
        shown = "not reached" if ratio is None else f"{ratio:.3g}x"
        cpu_ratio = row.get("reach_vs_peer_cpu")
        cpu_shown = "" if cpu_ratio is None else f" (CPU seconds: {cpu_ratio:.3g}x)"
        verdicts.append(
            f"- {row['method']}, {row['pair']} at {row['size']} px: {shown}{cpu_shown} -> "
            f"{'PASS' if ok else 'NO BASELINE (the peer stalled)' if stalled else 'FAIL'}"
        )
    check_lines = [
        f"- {c['pair']} at {c['size']} px: peer's first loss {c['peer_first_loss']:.6g}, evaluator "
        f"{c['evaluator_on_content']:.6g} (relative difference {c['first_loss_rel_diff']:.1e}); "
        f"peer's own last loss {c['peer_own_final_loss']:.6g}, its PNG evaluated {c['peer_evaluated_final']:.6g}"
        for c in payload["checks"]
    ]
    return "\n\n".join(
        [
            head,
            markdown_table(rows, columns),
            f"Target: easel (defaults) reaches the peer's final objective in <= {target_ratio:g}x its time:\n"
            + "\n".join(verdicts),
            "Same objective (the peer's loss at its first evaluation vs the evaluator on that image):\n"
            + "\n".join(check_lines),
        ]
    )


# ---------------------------------------------------------------- levers and memory


def lever_times(path: Path, size: int, repeats: int) -> list[dict[str, Any]]:
    """Seconds per forward+backward evaluation for each lever (best of ``repeats`` after a warm-up)."""
    import torch

    from easel.nets.vgg import load_vgg19
    from easel.style.losses import gram_matrix
    from easel.style.options import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS

    used = [*DEFAULT_STYLE_LAYERS, *DEFAULT_CONTENT_LAYERS]
    configs = [
        ("fp32, full VGG-19 conv stack, style Grams recomputed each step", dict(full=True, recompute=True)),
        ("fp32, full conv stack", dict(full=True)),
        ("fp32, truncated after relu5_1", dict()),
        ("fp32 + channels-last", dict(cl=True)),
        ("bf16 autocast", dict(bf16=True)),
        ("bf16 autocast + channels-last", dict(bf16=True, cl=True)),
    ]
    rows = []
    x0 = torch.rand(1, 3, size, size)
    style_img = torch.rand(1, 3, size, size)
    for label, cfg in configs:
        layers = used + (["relu5_4"] if cfg.get("full") else [])
        enc = load_vgg19(path, layers)
        if cfg.get("cl"):
            enc.use_channels_last()
        x = x0.clone().requires_grad_(True)
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(cfg.get("bf16"))):
                feats = enc(x)
                if cfg.get("recompute"):
                    with torch.no_grad():
                        sfeats = enc(style_img)
                        _ = [gram_matrix(sfeats[k]) for k in DEFAULT_STYLE_LAYERS]
            loss = (
                sum(gram_matrix(feats[k]).square().sum() for k in DEFAULT_STYLE_LAYERS)
                + feats["relu4_2"].float().square().mean()
            )
            loss.backward()  # type: ignore[union-attr]
            x.grad = None
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "lever": label,
                "size": size,
                "s_per_iter": min(times[1:]),
                "median_s": sorted(times[1:])[len(times[1:]) // 2],
            }
        )
        print(f"  {label}: {min(times[1:]):.3f} s/iter", flush=True)
    return rows


_MEMORY_CHILD = """
import json, sys, time, numpy as np
from easel.style import stylize, StyleOptions
from easel.samples import sample_image
from easel.image import resize
size, iters, weights, tile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
coarse = int(sys.argv[5])
content = resize(sample_image("astronaut"), (size, size))
style = sample_image("immunohistochemistry")
opts = StyleOptions(size=size, iterations=iters, coarse_iterations=coarse, weights=weights,
                    tile_size=int(tile) if tile != "none" else None)
t = time.perf_counter()
r = stylize(content, [style], opts)
import resource
print(json.dumps({"size": size, "status": r.status, "seconds": time.perf_counter() - t,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "timings": r.timings}))
"""


def memory_run(
    path: Path, size: int, num_steps: int, tile: int | None = None, coarse_num_steps: int | None = None
) -> dict[str, Any]:
    """Peak memory of a stylize run of ``num_steps`` at the finest scale, in a fresh process."""
    coarse = num_steps if coarse_num_steps is None else coarse_num_steps
    out = run_isolated(
        ["-c", _MEMORY_CHILD, str(size), str(num_steps), str(path), str(tile or "none"), str(coarse)]
    )
    out["tile"] = tile
    out["iterations"] = f"{coarse} per coarser scale + {num_steps}"
    from easel.style import StyleOptions
    from easel.style.transfer import estimate_memory

    side = min(size, tile) if tile else size
    out["estimate_mib"] = estimate_memory((side, side), StyleOptions(size=size)) / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", "--size", default="384,512", help="comma-separated output long sides (default 384,512)"
    )
    parser.add_argument(
        "--pairs",
        default=DEFAULT_PAIRS,
        help="comma-separated CONTENT:STYLE pairs, each an easel.samples name or an image file "
        f"(default {DEFAULT_PAIRS})",
    )
    parser.add_argument("--peer-iterations", type=int, default=500, help="neural-style-pt's -num_iterations")
    parser.add_argument(
        "--peer-from",
        default=None,
        help="reuse the peer's runs recorded in this result JSON (same pairs, sizes, weights) instead of running it",
    )
    parser.add_argument(
        "--peer-dir", default=None, help=f"where to install the peer (default {default_peer_dir()})"
    )
    parser.add_argument(
        "--peer-timeout", type=float, default=None, help="kill the peer after this many seconds"
    )
    parser.add_argument(
        "--ref-iterations", type=int, default=500, help="our reference loop's L-BFGS iterations (0: skip it)"
    )
    parser.add_argument(
        "--adam-iterations",
        type=int,
        default=0,
        help="also run the reference loop with Adam for N iterations",
    )
    parser.add_argument(
        "--easel-iterations",
        default="default",
        help="comma-separated easel runs: 'default' (StyleOptions' iterations) or a number (e.g. default,200)",
    )
    parser.add_argument(
        "--easel-coarse-iterations",
        type=int,
        default=None,
        help="easel's --coarse-iterations (default: its own)",
    )
    parser.add_argument("--easel-precision", default="auto", help="easel's --precision (default auto)")
    parser.add_argument("--min-scale", type=int, default=None, help="easel's --min-scale (default: its own)")
    parser.add_argument(
        "--pixel-scale",
        choices=("peer", "easel"),
        default="peer",
        help="peer: easel's encoder sees pixels x256 like the peer (one objective); easel: x255 (easel's own)",
    )
    parser.add_argument("--device", default="cpu", help="device of easel's runs (the peer runs on the CPU)")
    parser.add_argument("--work-dir", default=None, help="keep the inputs and the peer's images here")
    parser.add_argument("--target-ratio", type=float, default=0.2, help="target of reach_vs_peer (1/5)")
    parser.add_argument("--verbose", action="store_true", help="show the peer's progress")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 64 px, the first pair, 5 peer and 5 reference iterations, easel 10 + 10, runs only",
    )
    parser.add_argument("--lever-size", type=int, default=None, help="image size of the lever timings")
    parser.add_argument("--lever-repeats", type=int, default=3)
    parser.add_argument(
        "--parts",
        default="runs,levers,memory",
        help="comma-separated parts: runs, levers, memory (results go to stylize-<parts>.json "
        "unless all three run)",
    )
    parser.add_argument(
        "--memory-sizes", type=str, default="1024", help="comma-separated sizes for peak memory"
    )
    parser.add_argument("--tag", default="", help="suffix of the results' file name (keeps earlier results)")
    parser.add_argument("--memory-iterations", type=int, default=3, help="iterations at the finest scale")
    parser.add_argument(
        "--memory-coarse-iterations",
        type=int,
        default=None,
        help="iterations at each coarser scale (default: --memory-iterations)",
    )
    parser.add_argument(
        "--memory-tile", type=int, default=None, help="tile size for memory runs larger than it (e.g. 1024)"
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.peer_iterations, args.ref_iterations = "64", 5, 5
        args.easel_iterations, args.easel_coarse_iterations = "10", 10
        args.pairs = args.pairs.split(",")[0]
        args.parts = "runs"
        args.tag = args.tag or "quick"
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    args.pairs = parse_pairs(args.pairs)
    args.easel_iterations = [s.strip() for s in args.easel_iterations.split(",") if s.strip()]
    for spec in args.easel_iterations:
        if spec != "default" and not spec.isdigit():
            parser.error(f"--easel-iterations: expected 'default' or a number, got {spec!r}")

    path, weights_label = weights_path()
    print(
        f"weights: {weights_label}; sizes {args.sizes}; torch threads {torch.get_num_threads()}", flush=True
    )
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"runs", "levers", "memory"}
    if unknown:
        parser.error(f"--parts: unknown {', '.join(sorted(unknown))}")

    sections: list[str] = []
    payload: dict[str, Any] = {"config": {**vars(args), "pairs": [":".join(p) for p in args.pairs]}}
    payload["weights"] = weights_label
    if "runs" in parts:
        comparison = compare(args, path, weights_label)
        payload["comparison"] = comparison
        payload["targets"] = {"reach_vs_peer_max": args.target_ratio}
        sections.append(runs_table(comparison, weights_label, args.target_ratio))
    if "levers" in parts:
        levers = lever_times(path, args.lever_size or max(args.sizes), args.lever_repeats)
        payload["levers"] = levers
        sections.append(markdown_table(levers, ["lever", "size", "s_per_iter", "median_s"]))
    if "memory" in parts:
        memory = []
        for size in [int(s) for s in args.memory_sizes.split(",") if s.strip()]:
            print(f"peak memory at {size} px ...", flush=True)
            try:
                tile = args.memory_tile if args.memory_tile and size > args.memory_tile else None
                memory.append(
                    memory_run(path, size, args.memory_iterations, tile, args.memory_coarse_iterations)
                )
            except RuntimeError as exc:
                memory.append({"size": size, "error": str(exc)[-300:]})
            print(f"  {memory[-1]}", flush=True)
        payload["memory"] = memory
        payload.setdefault("targets", {})["peak_1024_mib_max"] = 4096
        sections.append(
            markdown_table(
                memory, ["size", "tile", "iterations", "status", "seconds", "peak_rss_mib", "estimate_mib"]
            )
        )

    name = "stylize" if parts >= {"levers", "runs", "memory"} else "stylize-" + "-".join(sorted(parts))
    if args.tag:
        name += f"-{args.tag}"
    write_results(name, payload, "\n\n".join(sections))
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
