"""Fitting a fly-through scene to its photos (ADOP-style, CPU-capable).

:func:`fit` optimizes the point descriptors, the U-Net renderer and the
tonemapper (per-image exposure and white balance, response curve,
vignetting) with Adam through :func:`easel.optim.optimize`: one training view
per step, in a shuffled order that depends only on the seed and the step
(so a resumed fit sees the same views as an uninterrupted one), an
``(1 - w) L1 + w (1 - SSIM)`` loss (plus a VGG-19 perceptual term when its
weights are there, :func:`perceptual_loss_for`), a constant learning rate or
one that decays along a half cosine over the second half of the fit
(:func:`lr_factor`), optionally refined camera poses and point positions,
held-out PSNR every ``eval_every`` steps,
resumable checkpoints every ``checkpoint_every`` steps. Ctrl-C ends the fit
with ``status="interrupted"`` and the model as far as it got (and a
checkpoint to resume from).

Held-out views (every ``holdout_every``-th by sorted name, index % n == 0)
are never trained on; their exposure and white balance are interpolated from
the neighbouring training views.

Example:
    >>> views, _ = load_views("photos/", read_colmap_model("sparse/0"), size=256)  # doctest: +SKIP
    >>> result = fit(views, points, colors, FitOptions(steps=2000))                 # doctest: +SKIP
    >>> result.scene.metrics["psnr"], result.status                                 # doctest: +SKIP
    (27.3, 'finished')
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from easel.errors import InputError
from easel.flythrough.model import PERCEPTUAL_LAYERS, FlythroughModel, PerceptualLoss, photometric_loss
from easel.flythrough.options import PERCEPTUAL_DEFAULT, SHAPE_FIELDS, FitOptions
from easel.flythrough.rasterize import RasterPlan
from easel.flythrough.scene import APPEARANCE_NOTE, MIN_VIEWS, Scene, View, camera_tensors, held_out_mask
from easel.optim import Checkpoint, StepState, optimize
from easel.progress import ProgressFn, ProgressUpdate

log = logging.getLogger(__name__)

__all__ = [
    "LR_SCALES",
    "FitResult",
    "fit",
    "fit_flythrough",
    "lr_factor",
    "perceptual_loss_for",
    "view_order",
]

LR_SCALES = {
    "descriptors": 1.0,
    "renderer": 1.0,
    "tonemapper": 5.0,
    "appearance": 10.0,
    "pose_deltas": 1.0,
    "point_offsets": 0.3,
}
"""Adam step sizes of the parameter groups, as multiples of ``FitOptions.learning_rate``
(``appearance``: the per-image exposure and white balance; ``tonemapper``: response and vignetting;
``pose_deltas``: radians and scene-scale units per step; ``point_offsets``: scene-scale units)."""
DECAY_START = 0.5
"""Fraction of the fit at the full learning rate before the cosine decay (``lr_schedule="cosine"``)."""
FINAL_LR = 0.05
"""The cosine schedule's last learning rate, as a multiple of the base rate."""
APPEARANCE_PARAMS = ("tonemapper.exposure", "tonemapper.white_balance")


@dataclass
class FitResult:
    """How a fit ended.

    Attributes:
        scene: the fitted :class:`~easel.flythrough.scene.Scene` (its ``metrics`` filled in).
        status: ``"finished"``, ``"stopped"`` (the hook asked), ``"interrupted"`` or ``"non-finite"``.
        message: one line on how it ended ("" when finished).
        steps: complete steps so far (those of a resumed run included).
        checkpoint: the state to resume from (``None`` when none is consistent).
        history: per evaluated step: ``step``, the loss terms and, where measured, ``heldout_psnr``.

    Example:
        >>> result = fit(views, points, colors, FitOptions(steps=10))  # doctest: +SKIP
        >>> result.status, result.steps                                 # doctest: +SKIP
        ('finished', 10)
    """

    scene: Scene
    status: str
    message: str
    steps: int
    checkpoint: Checkpoint | None
    history: list[dict[str, float]] = field(default_factory=list)


def view_order(step: int, num_views: int, seed: int) -> int:
    """The training view of 0-based ``step``: a fresh shuffle of the views every epoch.

    Depends only on ``(step, num_views, seed)``, so a resumed fit continues the same sequence.

    Example:
        >>> sorted(view_order(s, 4, seed=0) for s in range(4))
        [0, 1, 2, 3]
    """
    epoch, offset = divmod(step, num_views)
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return int(torch.randperm(num_views, generator=gen)[offset])


@torch.no_grad()
def _initial_appearance(
    model: FlythroughModel,
    cams: Sequence[tuple[torch.Tensor, torch.Tensor, tuple[int, int]]],
    targets: Sequence[torch.Tensor],
) -> None:
    """Start each training photo's exposure and white balance at its brightness relative to the splatted points.

    ``log2(mean(photo) / mean(splat))`` over the pixels the points cover, per
    channel for the white balance (its mean removed): the fit starts with the
    photos' exposures about right instead of learning them from zero.
    """
    for index, ((K, pose, shape), target) in enumerate(zip(cams, targets, strict=True)):  # noqa: N806
        splat = model.splat(K, pose, shape)
        covered = (splat.sum(dim=1, keepdim=True) > 0).to(splat.dtype)
        ratio = ((target * covered).sum(dim=(0, 2, 3)) + 1e-6) / ((splat * covered).sum(dim=(0, 2, 3)) + 1e-6)
        logs = torch.log2(ratio.clamp(1e-3, 1e3))
        model.tonemapper.exposure[index] = logs.mean()
        model.tonemapper.white_balance[index] = (logs - logs.mean()) * math.log(2.0)


def lr_factor(step: int, total: int, schedule: str = "cosine") -> float:
    """The learning rate of 0-based ``step`` of ``total``, as a multiple of the base rate.

    ``"cosine"``: constant for the first :data:`DECAY_START` of the fit, then a
    half cosine down to :data:`FINAL_LR` of the base (the last steps settle
    instead of jittering); ``"constant"``: 1 throughout. A function of the
    step alone, so a resumed fit follows the same schedule.

    Example:
        >>> [round(lr_factor(s, 100), 3) for s in (0, 50, 75, 99)]
        [1.0, 1.0, 0.502, 0.05]
    """
    if schedule == "constant" or total <= 1:
        return 1.0
    t = (step / (total - 1) - DECAY_START) / (1.0 - DECAY_START)
    if t <= 0:
        return 1.0
    return FINAL_LR + (1.0 - FINAL_LR) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))


def perceptual_loss_for(options: FitOptions, device: torch.device | str = "cpu") -> PerceptualLoss | None:
    """The VGG-19 perceptual loss ``options`` ask for, or ``None`` (off).

    ``perceptual_weight=None`` turns it on (at :data:`~easel.flythrough.options.PERCEPTUAL_DEFAULT`)
    only when its weights are there: ``vgg_weights`` given, or ``vgg19-caffe`` cached.

    Raises:
        WeightsError: a positive ``perceptual_weight`` but no VGG-19 weights (the message says how to get them).

    Example:
        >>> perceptual_loss_for(FitOptions(perceptual_weight=0)) is None
        True
    """
    weight = _perceptual_weight(options)
    if weight == 0:
        return None
    from easel.nets.vgg import load_encoder

    encoder = load_encoder(
        "vgg19-caffe", weights=options.vgg_weights, layers=PERCEPTUAL_LAYERS, device=device
    )
    return PerceptualLoss(encoder)


def _perceptual_weight(options: FitOptions) -> float:
    if options.perceptual_weight is not None:
        return float(options.perceptual_weight)
    from easel.weights import is_present

    return PERCEPTUAL_DEFAULT if options.vgg_weights is not None or is_present("vgg19-caffe") else 0.0


def _total_steps(options: FitOptions, num_train: int) -> int:
    return options.epochs * num_train if options.epochs is not None else options.steps


def fit(
    views: Sequence[View],
    points: np.ndarray | torch.Tensor,
    colors: np.ndarray | torch.Tensor,
    options: FitOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    on_step: Callable[[StepState], bool | None] | None = None,
    resume: Checkpoint | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> FitResult:
    """Fit a scene to posed photos and a point cloud.

    Args:
        views: the photos and cameras (:func:`~easel.flythrough.scene.load_views`), any order
            (sorted by name here); each ``image`` ``(H, W, 3)`` float32 in [0, 1] at its camera's size.
        points: ``(N, 3)`` world points (the COLMAP model's, OpenCV world).
        colors: ``(N, 3)`` colours, float in [0, 1] or uint8.
        options: :class:`~easel.flythrough.options.FitOptions` (defaults when ``None``).
        progress: receives ``ProgressUpdate("fit", step, total, {"loss", "psnr"})``.
        on_step: the per-step hook of :func:`easel.optim.optimize`; ``True`` stops the fit.
        resume: a checkpoint of an earlier fit of the same views and options to continue.
        on_checkpoint: receives a checkpoint every ``options.checkpoint_every`` steps
            (its ``extra`` says which views and options it belongs to).

    Returns:
        A :class:`FitResult`.

    Raises:
        InputError: fewer than 3 views, no points, a view without its photo, a checkpoint of another fit.

    Example:
        >>> result = fit(views, model.points_xyz, model.points_rgb, FitOptions(steps=500))  # doctest: +SKIP
    """
    from easel.devices import resolve_device
    from easel.image import as_float_rgb, to_uint8

    options = (options or FitOptions()).validate()
    ordered = sorted(views, key=lambda v: v.name)
    if len(ordered) < MIN_VIEWS:
        raise InputError(f"a fly-through needs at least {MIN_VIEWS} photos with cameras; got {len(ordered)}")
    for v in ordered:
        if v.image is None:
            raise InputError(f"view {v.name!r} has no photo")
        if v.image.shape[:2] != v.camera.intrinsics.shape:
            raise InputError(
                f"view {v.name!r}: photo {v.image.shape[1]}x{v.image.shape[0]} but camera "
                f"{v.camera.intrinsics.width}x{v.camera.intrinsics.height}"
            )
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32)).reshape(-1, 3)
    cols_np = np.asarray(colors)
    cols = torch.as_tensor(
        cols_np.astype(np.float32) / 255.0 if cols_np.dtype == np.uint8 else cols_np.astype(np.float32)
    ).reshape(-1, 3)
    if len(pts) == 0:
        raise InputError("the point cloud is empty: the model has no 3D points")
    if len(cols) != len(pts):
        raise InputError(f"{len(pts)} points but {len(cols)} colours")
    held = held_out_mask(len(ordered), options.holdout_every)
    if sum(not h for h in held) < 2:
        raise InputError(f"only {sum(not h for h in held)} training views remain after holding out; need 2")
    train = [v for v, h in zip(ordered, held, strict=True) if not h]
    test_idx = [i for i, h in enumerate(held) if h]
    total = _total_steps(options, len(train))
    identity = {
        "views": [v.name for v in ordered],
        "num_points": len(pts),
        **{name: getattr(options, name) for name in SHAPE_FIELDS},
        "holdout_every": options.holdout_every,
        "seed": options.seed,
    }
    if resume is not None:
        # checkpoints from before pose and point refinement existed had neither
        theirs = {k: resume.extra.get(k, False if k.startswith("refine_") else None) for k in identity}
        if theirs != identity:
            diff = sorted(k for k in identity if theirs[k] != identity[k])
            raise InputError(f"the checkpoint belongs to another fit (it differs in: {', '.join(diff)})")

    device = resolve_device(options.device)
    perceptual = perceptual_loss_for(options, device)  # before the work: missing weights fail here
    perceptual_weight = _perceptual_weight(options) if perceptual is not None else 0.0
    torch.manual_seed(options.seed)
    model = FlythroughModel(
        pts,
        cols,
        len(train),
        descriptor_channels=options.descriptor_channels,
        width=options.width,
        levels=options.levels,
        depth_band=options.depth_band,
        refine_poses=options.refine_poses,
        refine_points=options.refine_points,
    ).to(device)
    scene = Scene(
        model,
        [View(v.name, v.camera) for v in ordered],
        held,
        options,
        # as 8-bit, like the scene folder keeps them: the figures after loading are the same
        held_out_images={
            ordered[i].name: to_uint8(as_float_rgb(ordered[i].image)).astype(np.float32) / 255.0  # type: ignore[arg-type]
            for i in test_idx
        },
    )
    cams = [camera_tensors(v.camera, device) for v in train]
    targets = [
        torch.from_numpy(np.ascontiguousarray(v.image)).permute(2, 0, 1)[None].to(device) for v in train
    ]

    if resume is None:
        _initial_appearance(model, cams, targets)
    named = dict(model.named_parameters())
    lr = options.learning_rate
    rates = {group: scale * lr for group, scale in LR_SCALES.items()}

    built: list[torch.optim.Optimizer] = []

    def make_optimizer(tensors: list[torch.Tensor]) -> torch.optim.Optimizer:
        groups: dict[str, list[torch.Tensor]] = {k: [] for k in rates}
        ids = {id(t): name for name, t in named.items()}
        for t in tensors:
            name = ids[id(t)]
            group = "appearance" if name in APPEARANCE_PARAMS else name.split(".")[0]
            groups[group].append(t)
        opt = torch.optim.Adam([{"params": p, "lr": rates[k], "name": k} for k, p in groups.items() if p])
        built.append(opt)
        return opt

    step_counter = [resume.step if resume is not None else 0]
    plans: dict[int, RasterPlan] = {}
    last_psnr: dict[str, float] = {}
    history_psnr: dict[int, float] = {}

    def loss_fn() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.train()
        index = view_order(step_counter[0], len(train), options.seed)
        factor = lr_factor(step_counter[0], total, options.lr_schedule)
        for group in built[-1].param_groups:
            group["lr"] = rates[group["name"]] * factor
        step_counter[0] += 1
        K, pose, shape = cams[index]  # noqa: N806
        plan = None
        if model.can_plan():
            # fixed points and cameras: where the points land is computed once per view
            if index not in plans:
                plans[index] = model.plan(K, pose, shape)
            plan = plans[index]
        pred = model(K, pose, shape, model.tonemapper.appearance([(index, 1.0)]), image=index, plan=plan)
        loss, terms = photometric_loss(pred, targets[index], options.ssim_weight)
        if perceptual is not None:
            vgg = perceptual(pred, targets[index])
            loss = loss + perceptual_weight * vgg
            terms["perceptual"] = vgg.detach()
        return loss, terms

    def held_out_psnr() -> float:
        from easel.metrics import psnr

        values = [psnr(scene.render_view(i), scene.held_out_images[ordered[i].name]) for i in test_idx]
        model.train()
        return float(np.mean(values))

    def hook(state: StepState) -> bool | None:
        if test_idx and options.eval_every and state.step % options.eval_every == 0 and state.step < total:
            last_psnr["psnr"] = held_out_psnr()
            history_psnr[state.step] = last_psnr["psnr"]
        return on_step(state) if on_step is not None else None

    def relay(update: ProgressUpdate) -> None:
        if progress is not None:
            metrics = {"loss": update.metrics.get("loss", math.nan), **last_psnr}
            progress(ProgressUpdate("fit", update.step, update.total, metrics))

    def checkpoint_with_identity(ckpt: Checkpoint) -> None:
        ckpt.extra.update(identity)
        if on_checkpoint is not None:
            on_checkpoint(ckpt)

    start = time.perf_counter()
    result = optimize(
        named,
        loss_fn,
        num_steps=total,
        optimizer=make_optimizer,
        stage="fit",
        progress=relay,
        on_step=hook,
        resume=resume,
        checkpoint_every=options.checkpoint_every,
        on_checkpoint=checkpoint_with_identity,
    )
    seconds = time.perf_counter() - start
    if result.checkpoint is not None:
        result.checkpoint.extra.update(identity)
    done = (
        result.checkpoint.step
        if result.checkpoint is not None
        else (resume.step if resume else 0) + result.steps
    )
    history = [dict(h) for h in result.history]
    for h in history:
        if int(h["step"]) in history_psnr:
            h["heldout_psnr"] = history_psnr[int(h["step"])]
    metrics: dict[str, Any] = {
        "status": result.status,
        "steps": done,
        "steps_planned": total,
        "fit_seconds": round(seconds, 2),
        "train_views": len(train),
        "held_out_views": [ordered[i].name for i in test_idx],
        "num_points": len(pts),
        "device": str(device),
        "perceptual_weight": perceptual_weight,
        "final_loss": result.history[-1]["total"] if result.history else None,
        "heldout_psnr_history": {str(k): round(v, 3) for k, v in sorted(history_psnr.items())},
    }
    if test_idx:
        metrics.update(scene.evaluate())
    else:
        metrics["appearance"] = APPEARANCE_NOTE
    scene.metrics = metrics
    return FitResult(scene, result.status, result.message, done, result.checkpoint, history)


def fit_flythrough(
    views: Sequence[View],
    points: np.ndarray | torch.Tensor,
    colors: np.ndarray | torch.Tensor,
    options: FitOptions | None = None,
    **kwargs: Any,
) -> FitResult:
    """``easel.fit_flythrough``: :func:`fit` (the same arguments) under a name that says what it fits.

    Example:
        >>> result = easel.fit_flythrough(views, model.points_xyz, model.points_rgb)  # doctest: +SKIP
    """
    return fit(views, points, colors, options, **kwargs)
