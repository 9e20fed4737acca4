"""One optimization loop for every fit: stylize, tiles, DeepDream, video, fly-through.

:func:`optimize` minimizes a loss over a set of tensors with L-BFGS or Adam
(or any optimizer a factory builds), reports progress, and calls one per-step
hook that sees the step, the loss terms and the current parameters and may
stop the run (in the manner of diffusers' ``callback_on_step_end``). It never
raises for the ordinary ways a long run ends early; the returned
:class:`OptimResult` says how it ended:

* ``"finished"`` -- all ``num_steps`` steps ran;
* ``"stopped"`` -- the hook returned ``True``;
* ``"interrupted"`` -- Ctrl-C (or SIGTERM, which the CLI turns into a
  :class:`KeyboardInterrupt`) during the run;
* ``"non-finite"`` -- the loss or a gradient became NaN/infinite.

In every case the parameters hold the result afterwards: for ``"lbfgs"`` the
best point it accepted; otherwise the last parameters (for the last two
statuses, the last ones whose loss and gradients were finite).

``"lbfgs"`` is :class:`GuardedLBFGS`: L-BFGS with exactly one evaluation per
step, a first step and curvature test that do not depend on the scale of the
loss or of the parameters, and a guard that rejects a step whose loss is
higher (the run keeps the best point it accepted).

Long fits resume: :func:`save_checkpoint` / :func:`load_checkpoint` store
named parameters, the optimizer's state and the step, and
``optimize(..., resume=checkpoint)`` continues exactly where a run left off.

Example:
    >>> x = torch.zeros(3, requires_grad=True)
    >>> result = optimize(x, lambda: ((x - 2.0).square().sum(), {}), num_steps=10, optimizer="lbfgs")
    >>> result.status, round(float(result.param[0]), 3)
    ('finished', 2.0)
"""

from __future__ import annotations

import copy
import logging
import math
import os
import pickle
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from easel.errors import InputError
from easel.image import FloatImage, from_tensor
from easel.progress import ProgressFn, report

log = logging.getLogger(__name__)

__all__ = [
    "LBFGS_HISTORY_BUDGET",
    "OPTIMIZERS",
    "Checkpoint",
    "GuardedLBFGS",
    "LossFn",
    "OptimResult",
    "Status",
    "StepHook",
    "StepState",
    "lbfgs_history_size",
    "load_checkpoint",
    "optimize",
    "save_checkpoint",
]

OPTIMIZERS = ("lbfgs", "adam")
"""Optimizers :func:`optimize` builds by name."""
LBFGS_HISTORY_BUDGET = 512 * 2**20
"""Bytes allowed for L-BFGS's history; caps its length at high resolution."""
CHECKPOINT_FORMAT = "easel-checkpoint"
CHECKPOINT_VERSION = 1

Status = Literal["finished", "stopped", "interrupted", "non-finite"]
LossTerms = Mapping[str, float | torch.Tensor]
LossFn = Callable[[], "torch.Tensor | tuple[torch.Tensor, LossTerms]"]
OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]
Params = torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor]


def lbfgs_history_size(numel: int) -> int:
    """L-BFGS history length for ``numel`` optimized values within :data:`LBFGS_HISTORY_BUDGET`.

    Each history entry holds two float32 vectors of ``numel`` values; the
    length is kept between 5 and 100.

    Example:
        >>> lbfgs_history_size(3 * 512 * 512), lbfgs_history_size(3 * 4096 * 4096)
        (85, 5)
    """
    return int(max(5, min(100, LBFGS_HISTORY_BUDGET // (8 * numel))))


class GuardedLBFGS(torch.optim.Optimizer):
    """L-BFGS with one loss evaluation per step, free of the loss's and the parameters' scale.

    ``torch.optim.LBFGS`` without a line search (neural-style's optimizer) is
    not invariant to the scale of the problem: its first step is
    ``-g / |g|₁`` (``-g`` when ``|g|₁ < 1``), and it keeps a curvature pair
    only when ``y·s > 1e-10``. A loss of 1e-5 then never moves (every pair is
    below the threshold, every step is ``-g``); with a large loss the first
    step moves each value by about ``1 / numel``, the curvature measured over
    it is mostly rounding, and the steps that follow overshoot by orders of
    magnitude. This optimizer instead:

    * takes a first step of ``-ρ |f| g / |g|²`` -- the step that would remove
      the fraction ρ (``first_step``) of the loss if it were linear;
    * keeps a pair ``(s, y)`` when ``y·s > eps·|s|·|y|`` (a relative test), the
      newest pair setting the initial inverse Hessian ``y·s / y·y``;
    * accepts a step only when its loss is finite and not higher than the
      accepted one's; otherwise it returns to the accepted point, keeps the
      pair (it still measures curvature) and shrinks the step (× ``shrink``;
      it grows back × 2 per accepted step, up to the full quasi-Newton step).

    Multiplying the loss by a constant, or the parameters by a scalar, leaves
    its path unchanged (up to rounding; exactly for powers of two). Each
    :meth:`step` evaluates ``closure`` once at the current parameters and
    moves them to the next trial point; :meth:`restore_accepted` puts back
    the best accepted point (what :func:`optimize` returns).

    Args:
        params: the tensors to optimize.
        history_size: pairs kept (memory: 2 vectors of all parameters each).
        first_step: ρ of the first step, > 0.
        shrink: step factor after a rejected step, in (0, 1).
        curvature_eps: relative curvature threshold, >= 0.

    Example:
        >>> x = torch.tensor([3.0, -1.0], requires_grad=True)
        >>> opt = GuardedLBFGS([x])
        >>> def closure():
        ...     x.grad = None
        ...     loss = (1e-6 * (x - 1.0).square()).sum()  # tiny: torch's LBFGS would not move
        ...     loss.backward()
        ...     return loss
        >>> for _ in range(8):
        ...     _ = opt.step(closure)
        >>> opt.restore_accepted()
        >>> [round(v, 3) for v in x.tolist()]
        [1.0, 1.0]
    """

    def __init__(
        self,
        params: Any,
        history_size: int = 100,
        first_step: float = 1.0,
        shrink: float = 0.25,
        curvature_eps: float = 1e-8,
    ) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be >= 1, got {history_size}")
        if not first_step > 0:
            raise ValueError(f"first_step must be > 0, got {first_step}")
        if not 0 < shrink < 1:
            raise ValueError(f"shrink must be in (0, 1), got {shrink}")
        if not curvature_eps >= 0:
            raise ValueError(f"curvature_eps must be >= 0, got {curvature_eps}")
        defaults = {
            "history_size": history_size,
            "first_step": first_step,
            "shrink": shrink,
            "curvature_eps": curvature_eps,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("GuardedLBFGS takes one parameter group")

    @property
    def _params(self) -> list[torch.Tensor]:
        return list(self.param_groups[0]["params"])

    @property
    def _state(self) -> dict[str, Any]:
        return self.state[self._params[0]]  # type: ignore[no-any-return]

    def _flat(self, grads: bool) -> torch.Tensor:
        parts = []
        for p in self._params:
            t = p.grad if grads else p
            parts.append(torch.zeros_like(p).reshape(-1) if t is None else t.detach().reshape(-1))
        return torch.cat(parts)

    def _set(self, flat: torch.Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.copy_(flat[offset : offset + n].view_as(p))
            offset += n

    @property
    def accepted_loss(self) -> float:
        """The loss of the accepted point (``nan`` before the first step)."""
        return float(self._state.get("loss", float("nan")))

    @property
    def has_accepted(self) -> bool:
        """Whether a point has been accepted (after the first step with a finite loss)."""
        return "x" in self._state

    @property
    def rejected(self) -> int:
        """How many steps were rejected so far."""
        return int(self._state.get("rejected", 0))

    @torch.no_grad()
    def restore_accepted(self) -> None:
        """Put the accepted point (the lowest loss seen among accepted steps) back into the parameters."""
        if self.has_accepted:
            self._set(self._state["x"])

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Evaluate ``closure`` (it zeroes the gradients, computes the loss, calls ``backward``
        and returns the loss) once at the current parameters, then move them to the next trial point."""
        if closure is None:
            raise ValueError("GuardedLBFGS.step needs a closure that evaluates the loss")
        with torch.enable_grad():
            loss = closure()
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        group = self.param_groups[0]
        state = self._state
        x = self._flat(grads=False)
        g = self._flat(grads=True)
        finite = math.isfinite(value) and bool(torch.isfinite(g).all())
        state["evaluations"] = state.get("evaluations", 0) + 1
        if "x" not in state:
            if not finite:
                return loss  # nothing to return to: the caller sees the non-finite loss
            state.update(x=x, g=g, loss=value, s=[], y=[], h_diag=1.0, scale=1.0, rejected=0)
        else:
            if finite:
                s = x - state["x"]
                y = g - state["g"]
                ys = float(y.dot(s))
                yy = float(y.dot(y))
                if yy > 0 and ys > group["curvature_eps"] * math.sqrt(float(s.dot(s)) * yy):
                    state["s"].append(s)
                    state["y"].append(y)
                    if len(state["s"]) > group["history_size"]:
                        del state["s"][0], state["y"][0]
                    state["h_diag"] = ys / yy
            if finite and value <= state["loss"]:
                state.update(x=x, g=g, loss=value, scale=min(1.0, 2.0 * state["scale"]))
            else:
                state["scale"] *= group["shrink"]
                state["rejected"] += 1
        self._set(state["x"] + state["scale"] * self._direction(state, group["first_step"]))
        return loss

    @staticmethod
    def _direction(state: dict[str, Any], first_step: float) -> torch.Tensor:
        """The L-BFGS direction at the accepted point (two-loop recursion), or the first step."""
        grad = state["g"]
        if not state["s"]:
            gg = float(grad.dot(grad))
            if gg == 0.0:
                return torch.zeros_like(grad)
            return grad * (-first_step * abs(state["loss"]) / gg)
        q = grad.clone()
        alphas = []
        for s, y in zip(reversed(state["s"]), reversed(state["y"]), strict=True):
            rho = 1.0 / float(y.dot(s))
            alpha = rho * float(s.dot(q))
            q.add_(y, alpha=-alpha)
            alphas.append((alpha, rho))
        q.mul_(state["h_diag"])
        for (s, y), (alpha, rho) in zip(
            zip(state["s"], state["y"], strict=True), reversed(alphas), strict=True
        ):
            beta = rho * float(y.dot(q))
            q.add_(s, alpha=alpha - beta)
        return q.neg_()


@dataclass(frozen=True, kw_only=True)
class StepState:
    """What the per-step hook sees after each evaluation.

    Attributes:
        step: the global step, 1-based (``step_offset`` + the step within this stage).
        stage_step: the step within this stage, ``1 <= stage_step <= total``.
        total: the steps of this stage (``num_steps``).
        stage: the stage's label (``"scale 2/3 512x384"``).
        losses: ``"total"`` and the named terms of this evaluation, as floats.
        params: the parameters whose loss this is, by name (live tensors: read, don't modify).

    Example:
        >>> x = torch.tensor([3.0], requires_grad=True)
        >>> seen = []
        >>> _ = optimize(x, lambda: x.square().sum(), num_steps=3, optimizer="adam", on_step=lambda s: seen.append(s.step))
        >>> seen
        [1, 2, 3]
    """

    step: int
    stage_step: int
    total: int
    stage: str
    losses: Mapping[str, float]
    params: Mapping[str, torch.Tensor]
    render: Callable[[], FloatImage] | None = field(default=None, repr=False, compare=False)

    @property
    def loss(self) -> float:
        """The total loss of this evaluation."""
        return float(self.losses["total"])

    def image(self) -> FloatImage:
        """The current image, ``(H, W, 3)`` float32 RGB in [0, 1] (a copy).

        By default the first parameter seen as an image (``(1, 3, H, W)`` or
        ``(3, H, W)``); callers optimizing something else pass ``render``.
        """
        if self.render is not None:
            return self.render()
        return from_tensor(next(iter(self.params.values())))


StepHook = Callable[[StepState], "bool | None"]


@dataclass
class Checkpoint:
    """A resumable state of a fit.

    Attributes:
        params: parameter name -> tensor (the values after ``step`` complete steps).
        optimizer_state: the optimizer's ``state_dict()`` (``None``: start it afresh).
        step: complete steps (evaluation + update) done so far.
        extra: JSON-like data of the caller's (options, stage, seed ...).

    Example:
        >>> x = torch.tensor([3.0], requires_grad=True)
        >>> first = optimize(x, lambda: x.square().sum(), num_steps=2, optimizer="adam")
        >>> first.checkpoint.step
        2
        >>> optimize(x, lambda: x.square().sum(), num_steps=4, optimizer="adam", resume=first.checkpoint).steps
        2
    """

    params: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None = None
    step: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this checkpoint to ``path`` (see :func:`save_checkpoint`)."""
        return save_checkpoint(path, self.params, self.optimizer_state, self.step, self.extra)


@dataclass
class OptimResult:
    """How an :func:`optimize` run ended.

    Attributes:
        status: ``"finished"``, ``"stopped"`` (the hook asked), ``"interrupted"``
            (Ctrl-C/SIGTERM) or ``"non-finite"`` (NaN/infinite loss or gradient).
        message: one line saying how it ended ("" when finished).
        params: name -> the final parameters (see :func:`optimize`'s Returns);
            the same tensors that were optimized, detached.
        steps: the evaluations done in this call (history entries).
        history: one dict per evaluation: ``step`` (global), ``total`` and the terms.
        checkpoint: the latest state to resume from, when one is known
            (``None`` e.g. after a non-finite loss, or after an interrupt inside
            the single step of a factory's ``torch.optim.LBFGS`` without
            ``checkpoint_every``). Resuming it with the same ``num_steps``
            reproduces the uninterrupted run exactly; resumed with more steps,
            the run continues from there.
        loss: the total loss at the returned ``params`` when it was evaluated
            there (the accepted point of ``"lbfgs"``, the last good evaluation
            of an interrupted run); ``None`` when the parameters moved after
            their last evaluation (Adam's final update).

    Example:
        >>> x = torch.tensor([3.0], requires_grad=True)
        >>> res = optimize(x, lambda: x.square().sum(), num_steps=3, optimizer="adam")
        >>> res.status, res.steps, len(res.history)
        ('finished', 3, 3)
    """

    status: Status
    message: str
    params: dict[str, torch.Tensor]
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    loss: float | None = None

    @property
    def param(self) -> torch.Tensor:
        """The only parameter (for single-tensor runs such as an image)."""
        if len(self.params) != 1:
            raise ValueError(f"this run optimized {len(self.params)} tensors; use .params[name]")
        return next(iter(self.params.values()))

    @property
    def final_loss(self) -> float:
        """The last recorded total loss (``nan`` when none was recorded)."""
        return self.history[-1]["total"] if self.history else float("nan")


class _NonFinite(Exception):
    """Internal: the loss or a gradient became NaN/infinite."""


class _Stop(Exception):
    """Internal: the hook asked to stop inside an L-BFGS step."""


def _named(params: Params) -> dict[str, torch.Tensor]:
    if isinstance(params, torch.Tensor):
        named = {"0": params}
    elif isinstance(params, Mapping):
        named = {str(k): v for k, v in params.items()}
    else:
        named = {str(i): p for i, p in enumerate(params)}
    if not named:
        raise ValueError("optimize() needs at least one parameter tensor")
    for name, p in named.items():
        if not isinstance(p, torch.Tensor) or not p.is_leaf or not p.requires_grad:
            raise ValueError(f"parameter {name!r} must be a leaf tensor with requires_grad=True")
    return named


def _as_float(value: float | torch.Tensor) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _split(out: torch.Tensor | tuple[torch.Tensor, LossTerms]) -> tuple[torch.Tensor, LossTerms]:
    if isinstance(out, tuple):
        return out[0], out[1]
    return out, {}


def _build_optimizer(
    tensors: list[torch.Tensor],
    optimizer: str | OptimizerFactory,
    learning_rate: float,
    lbfgs_history: int | None,
) -> torch.optim.Optimizer:
    if callable(optimizer):
        return optimizer(tensors)
    if optimizer == "lbfgs":
        numel = sum(t.numel() for t in tensors)
        return GuardedLBFGS(tensors, history_size=lbfgs_history or lbfgs_history_size(numel))
    if optimizer == "adam":
        return torch.optim.Adam(tensors, lr=learning_rate)
    raise ValueError(f"unknown optimizer {optimizer!r}; choose {', '.join(OPTIMIZERS)} or pass a factory")


def optimize(
    params: Params,
    loss_fn: LossFn,
    num_steps: int,
    *,
    optimizer: str | OptimizerFactory = "lbfgs",
    learning_rate: float = 0.02,
    lbfgs_history: int | None = None,
    stage: str = "optimize",
    progress: ProgressFn | None = None,
    on_step: StepHook | None = None,
    step_offset: int = 0,
    resume: Checkpoint | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> OptimResult:
    """Minimize ``loss_fn()`` over ``params`` for ``num_steps`` evaluations.

    A step is one evaluation of ``loss_fn`` (forward and backward) followed
    by the optimizer's update: ``zero_grad``, evaluate, ``step()``, for
    ``"lbfgs"`` (:class:`GuardedLBFGS`), ``"adam"`` and a factory's optimizer.
    A ``torch.optim.LBFGS`` from a factory runs the stage as one ``step()``
    with ``max_iter = max_eval = num_steps`` (set here), exactly ``num_steps``
    evaluations when it has no line search and no tolerances.

    Args:
        params: leaf tensors with ``requires_grad``: one tensor, a sequence
            (named ``"0"``, ``"1"``, ...) or a name -> tensor mapping. They are
            updated in place.
        loss_fn: evaluates the loss at the current ``params``: returns the total
            (a scalar tensor) and a dict of named terms (floats or scalar
            tensors) for the history, the progress bar and the hook, or just the total.
        num_steps: evaluations in this stage (>= 0), counting those of a resumed run.
        optimizer: ``"lbfgs"`` (:class:`GuardedLBFGS`), ``"adam"``, or a factory
            ``f(list_of_tensors) -> Optimizer`` (stepped like Adam: one evaluation per step).
        learning_rate: Adam's step size (L-BFGS needs none).
        lbfgs_history: L-BFGS history length; ``None`` = :func:`lbfgs_history_size`.
        stage: label for progress reports, messages and the hook.
        progress: receives ``ProgressUpdate(stage, stage_step, num_steps, {"loss": ..., **terms})``.
        on_step: called after every evaluation with a :class:`StepState`;
            returning ``True`` stops the run (status ``"stopped"``, the
            parameters being those the hook saw).
        step_offset: added to the stage's step to make ``StepState.step`` global
            (steps of earlier stages).
        resume: continue from a :class:`Checkpoint`: its parameters are copied
            into ``params`` (matched by name), its optimizer state is loaded and
            the run does the remaining ``num_steps - resume.step`` steps.
        checkpoint_every: build a :class:`Checkpoint` every this many complete
            steps (0 = never) and pass it to ``on_checkpoint``; for L-BFGS the
            stage then runs as several ``step()`` calls of this many iterations
            (the same evaluations, in the same order).
        on_checkpoint: receives each periodic checkpoint (e.g. ``ckpt.save(path)``).

    Returns:
        An :class:`OptimResult`; ``params`` hold its ``params`` afterwards: with
        ``"lbfgs"`` the best point it accepted (also when interrupted or
        non-finite), otherwise the parameters after the last update (the last
        good ones when interrupted or non-finite); when stopped by the hook,
        the parameters it saw. KeyboardInterrupt and non-finite values end the
        run with a status, they are not raised.

    Raises:
        InputError: ``resume`` does not match ``params`` (names or shapes).
        ValueError: bad arguments (no parameters, unknown optimizer, negative steps).

    Example:
        >>> x = torch.tensor([3.0, -1.0], requires_grad=True)
        >>> res = optimize(x, lambda: (x.square().sum(), {"x0": x[0]}), num_steps=5, optimizer="lbfgs")
        >>> res.status, res.steps, float(res.final_loss) < 1e-6
        ('finished', 5, True)
    """
    named = _named(params)
    tensors = list(named.values())
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    start = 0
    if resume is not None:
        _restore(named, resume)
        start = resume.step
        if start > num_steps:
            raise InputError(f"the checkpoint is at step {start}, beyond the {num_steps} steps of this run")
    remaining = num_steps - start
    live = {name: t.detach() for name, t in named.items()}
    if remaining == 0:
        checkpoint = Checkpoint(dict(live), copy.deepcopy(resume.optimizer_state) if resume else None, start)
        return OptimResult("finished", "", live, 0, [], checkpoint)

    opt = _build_optimizer(tensors, optimizer, learning_rate, lbfgs_history)
    if resume is not None and resume.optimizer_state is not None:
        _load_optimizer_state(opt, resume.optimizer_state)
        if optimizer == "adam":
            for group in opt.param_groups:
                group["lr"] = learning_rate
    is_lbfgs = isinstance(opt, torch.optim.LBFGS)
    guarded = opt if isinstance(opt, GuardedLBFGS) else None

    history: list[dict[str, float]] = []
    last_good = [t.detach().clone() for t in tensors]
    done = 0  # evaluations in this call
    stop_requested = False

    def closure() -> torch.Tensor:
        nonlocal done, last_good, stop_requested
        for t in tensors:
            if t.grad is not None:
                t.grad = None
        loss, terms = _split(loss_fn())
        value = float(loss.detach())
        if not math.isfinite(value):
            raise _NonFinite(
                f"the loss became non-finite (NaN or infinity) at {stage}, step {start + done + 1}"
            )
        loss.backward()
        for name, t in named.items():
            if t.grad is not None and not bool(torch.isfinite(t.grad).all()):
                raise _NonFinite(
                    f"the gradient of {name!r} became non-finite (NaN or infinity) at {stage}, "
                    f"step {start + done + 1}"
                )
        last_good = [t.detach().clone() for t in tensors]
        done += 1
        stage_step = start + done
        losses = {"total": value, **{k: _as_float(v) for k, v in terms.items()}}
        history.append({"step": float(step_offset + stage_step), **losses})
        report(
            progress,
            stage,
            stage_step,
            num_steps,
            loss=value,
            **{k: v for k, v in losses.items() if k != "total"},
        )
        if on_step is not None:
            state = StepState(
                step=step_offset + stage_step,
                stage_step=stage_step,
                total=num_steps,
                stage=stage,
                losses=losses,
                params=live,
            )
            if on_step(state):
                stop_requested = True
                if is_lbfgs:
                    raise _Stop
        return loss.detach()

    periodic: Checkpoint | None = None
    completed = start  # complete steps (evaluation + update) when the loop is between steps
    consistent = True  # whether (params, optimizer state, completed) can be resumed from
    status: Status = "finished"
    message = ""
    try:
        if is_lbfgs:
            chunk = checkpoint_every if checkpoint_every > 0 else remaining
            while completed < num_steps:
                size = min(chunk, num_steps - completed)
                last = completed + size >= num_steps
                for group in opt.param_groups:
                    # The last chunk is the classic single step: `size` evaluations, the last one
                    # without an update after it. An earlier chunk ends with the update after its
                    # last evaluation (max_eval one higher), so the next step() evaluates exactly
                    # the point the single step would have: the same evaluations, in the same order.
                    group["max_iter"] = size
                    group["max_eval"] = size if last else size + 1
                consistent = False
                before = done
                opt.step(closure)  # type: ignore[arg-type]
                consistent = True
                completed += done - before
                if done - before < size:  # L-BFGS stopped early (no descent direction): nothing left to do
                    break
                if checkpoint_every and completed < num_steps:
                    periodic = _snapshot(named, opt, completed)
                    if on_checkpoint is not None:
                        on_checkpoint(periodic)
        else:
            while completed < num_steps:
                opt.zero_grad(set_to_none=True)
                loss = closure()
                if stop_requested:
                    break
                consistent = False
                opt.step(lambda loss=loss: loss)  # type: ignore[misc]  # the evaluation just done
                consistent = True
                completed += 1
                if checkpoint_every and completed % checkpoint_every == 0 and completed < num_steps:
                    periodic = _snapshot(named, opt, completed)
                    if on_checkpoint is not None:
                        on_checkpoint(periodic)
    except _Stop:
        status, consistent = "stopped", False
    except _NonFinite as exc:
        status, message = "non-finite", str(exc)
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted at {stage}, step {start + done + 1}"

    if status == "stopped" or stop_requested:
        status = "stopped"
        message = f"stopped by the step hook at {stage}, step {start + done}"
    resume_point: Checkpoint | None = periodic
    if status in ("finished", "interrupted", "stopped") and consistent:
        resume_point = _snapshot(named, opt, completed)
    final_loss: float | None = None  # the loss at the returned parameters, when evaluated there
    if guarded is not None and guarded.has_accepted and status != "stopped":
        with torch.no_grad():
            guarded.restore_accepted()
        final_loss = guarded.accepted_loss
    elif status in ("interrupted", "non-finite", "stopped"):
        _assign(tensors, last_good)
        final_loss = history[-1]["total"] if history else None
    elif not all(bool(torch.isfinite(t).all()) for t in tensors):
        # the last update (after the last evaluation) overflowed
        _assign(tensors, last_good)
        status = "non-finite"
        message = f"the parameters became non-finite (NaN or infinity) after the last step of {stage}"
        resume_point = periodic
    if status == "non-finite":
        log.debug("%s", message)
    return OptimResult(
        status,
        message,
        {name: t.detach() for name, t in named.items()},
        done,
        history,
        resume_point,
        final_loss,
    )


def _assign(tensors: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> None:
    with torch.no_grad():
        for t, v in zip(tensors, values, strict=True):
            t.copy_(v)


def _snapshot(named: Mapping[str, torch.Tensor], opt: torch.optim.Optimizer, step: int) -> Checkpoint:
    """A copy of the current state (so later steps do not change it)."""
    return Checkpoint(
        {name: t.detach().clone() for name, t in named.items()},
        copy.deepcopy(opt.state_dict()),
        step,
    )


def _restore(named: Mapping[str, torch.Tensor], checkpoint: Checkpoint) -> None:
    if set(checkpoint.params) != set(named):
        raise InputError(
            f"the checkpoint holds parameters {sorted(checkpoint.params)}, this run optimizes {sorted(named)}"
        )
    for name, t in named.items():
        saved = checkpoint.params[name]
        if tuple(saved.shape) != tuple(t.shape):
            raise InputError(
                f"checkpoint parameter {name!r} has shape {tuple(saved.shape)}, this run's has {tuple(t.shape)}"
            )
    if checkpoint.step < 0:
        raise InputError(f"the checkpoint's step must be >= 0, got {checkpoint.step}")
    with torch.no_grad():
        for name, t in named.items():
            t.copy_(checkpoint.params[name])


def _load_optimizer_state(opt: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    try:
        opt.load_state_dict(copy.deepcopy(dict(state)))
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(
            f"the checkpoint's optimizer state does not fit this run ({first[:160]}); "
            "resume with the same optimizer and parameters"
        ) from None


# ---------------------------------------------------------------- checkpoint files


def save_checkpoint(
    path: str | os.PathLike[str],
    params: Mapping[str, torch.Tensor],
    optimizer_state: Mapping[str, Any] | None = None,
    step: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a resumable checkpoint to ``path`` atomically (a crash never leaves half a file).

    Args:
        path: the file to write (``.pt`` by convention); replaced if it exists.
        params: name -> tensor (saved detached, on the CPU).
        optimizer_state: an optimizer's ``state_dict()``, or ``None``.
        step: complete steps done.
        extra: JSON-like data (numbers, strings, lists, dicts) to keep with it.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Example:
        >>> save_checkpoint("fit.pt", {"means": means}, opt.state_dict(), step=500)  # doctest: +SKIP
    """
    from easel.io.atomic import atomic_path

    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "params": {str(k): v.detach().cpu() for k, v in params.items()},
        "optimizer_state": None if optimizer_state is None else dict(optimizer_state),
        "step": int(step),
        "extra": dict(extra or {}),
    }
    out = Path(path)
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return out


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors on the CPU).

    Only tensors and plain data are unpickled (``weights_only``), so a
    checkpoint file cannot run code.

    Raises:
        InputError: the file is missing, unreadable, truncated, or not an easel checkpoint.

    Example:
        >>> ckpt = load_checkpoint("fit.pt")  # doctest: +SKIP
        >>> result = optimize(params, loss_fn, 2000, optimizer="adam", resume=ckpt)  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: checkpoint not found" if not p.exists() else f"{p}: not a checkpoint file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(f"{p}: cannot read the checkpoint ({first[:120]}); it may be truncated") from None
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{p}: not an easel checkpoint (no {CHECKPOINT_FORMAT!r} marker)")
    version = obj.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise InputError(
            f"{p}: checkpoint version {version!r} is newer than this easel reads ({CHECKPOINT_VERSION})"
        )
    params = obj.get("params")
    step = obj.get("step")
    state = obj.get("optimizer_state")
    extra = obj.get("extra")
    if (
        not isinstance(params, dict)
        or not all(isinstance(v, torch.Tensor) for v in params.values())
        or not isinstance(step, int)
        or step < 0
        or not (state is None or isinstance(state, dict))
        or not isinstance(extra, dict)
    ):
        raise InputError(f"{p}: the checkpoint is damaged (missing or malformed fields)")
    return Checkpoint(params=dict(params), optimizer_state=state, step=step, extra=extra)
