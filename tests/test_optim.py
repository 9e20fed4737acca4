"""The shared optimization loop: statuses, the per-step hook, L-BFGS semantics, checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from easel.errors import InputError
from easel.optim import (
    Checkpoint,
    GuardedLBFGS,
    StepState,
    lbfgs_history_size,
    load_checkpoint,
    optimize,
    save_checkpoint,
)
from easel.progress import ProgressUpdate

_GEN = torch.Generator().manual_seed(0)
A = torch.randn(6, 4, generator=_GEN)
B = torch.randn(6, generator=_GEN)


def _quadratic(x: torch.Tensor) -> Callable[[], tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """``|A x - b|² + 0.1 |x|²`` with its two terms named."""

    def loss() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fit = (A @ x - B).square().sum()
        reg = 0.1 * x.square().sum()
        return fit + reg, {"fit": fit, "reg": reg}

    return loss


def _minimum() -> torch.Tensor:
    return torch.linalg.solve(A.T @ A + 0.1 * torch.eye(4), A.T @ B)


def _x() -> torch.Tensor:
    return torch.zeros(4, requires_grad=True)


@pytest.mark.parametrize(("optimizer", "steps"), [("lbfgs", 20), ("adam", 400)])
def test_converges_on_a_quadratic(optimizer: str, steps: int) -> None:
    x = _x()
    result = optimize(x, _quadratic(x), steps, optimizer=optimizer, learning_rate=0.05)
    assert result.status == "finished" and result.message == ""
    assert result.steps == steps and len(result.history) == steps
    torch.testing.assert_close(x.detach(), _minimum(), atol=2e-3, rtol=0)
    assert result.param is not None and torch.equal(result.param, x.detach())
    assert result.history[-1]["total"] < result.history[0]["total"]
    assert set(result.history[0]) == {"step", "total", "fit", "reg"}


def test_hook_sees_every_step_and_progress_is_reported() -> None:
    x = _x()
    seen: list[StepState] = []
    values: list[torch.Tensor] = []
    updates: list[ProgressUpdate] = []

    def hook(state: StepState) -> None:
        seen.append(state)
        values.append(state.params["0"].clone())

    optimize(
        x,
        _quadratic(x),
        5,
        optimizer="adam",
        stage="fit",
        progress=updates.append,
        on_step=hook,
        step_offset=10,
    )
    assert [s.step for s in seen] == [11, 12, 13, 14, 15]
    assert [s.stage_step for s in seen] == [1, 2, 3, 4, 5]
    assert {s.total for s in seen} == {5} and {s.stage for s in seen} == {"fit"}
    assert set(seen[0].losses) == {"total", "fit", "reg"}
    assert seen[0].loss == pytest.approx(float(B.square().sum()))  # x = 0 at the first evaluation
    assert torch.equal(values[0], torch.zeros(4)) and not torch.equal(values[1], values[0])
    assert [(u.stage, u.step, u.total) for u in updates] == [("fit", i, 5) for i in range(1, 6)]
    assert set(updates[0].metrics) == {"loss", "fit", "reg"}


def test_step_state_image_of_an_image_parameter() -> None:
    image = torch.full((1, 3, 4, 5), 0.25, requires_grad=True)
    shapes = []
    optimize(
        image,
        lambda: (image - 0.5).square().sum(),
        1,
        optimizer="adam",
        on_step=lambda s: shapes.append(s.image().shape),
    )
    assert shapes == [(4, 5, 3)]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_hook_can_stop_the_run(optimizer: str) -> None:
    x = _x()
    seen: dict[int, torch.Tensor] = {}

    def hook(state: StepState) -> bool:
        seen[state.step] = state.params["0"].clone()
        return state.step == 3

    result = optimize(x, _quadratic(x), 10, optimizer=optimizer, on_step=hook)
    assert result.status == "stopped" and "step 3" in result.message
    assert result.steps == 3 and len(result.history) == 3
    assert torch.equal(x.detach(), seen[3])  # the parameters the hook saw when it stopped


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_keyboard_interrupt_ends_with_the_last_good_params(optimizer: str) -> None:
    x = _x()
    inner = _quadratic(x)
    evaluated: list[torch.Tensor] = []

    def loss() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if len(evaluated) == 4:
            raise KeyboardInterrupt
        evaluated.append(x.detach().clone())
        return inner()

    result = optimize(x, loss, 10, optimizer=optimizer)  # does not raise
    assert result.status == "interrupted" and "step 5" in result.message
    assert result.steps == 4 and len(result.history) == 4
    assert torch.equal(x.detach(), evaluated[-1])
    assert torch.equal(result.param, evaluated[-1])


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_non_finite_keeps_the_last_good_params(optimizer: str, where: str) -> None:
    x = _x()
    inner = _quadratic(x)
    evaluated: list[torch.Tensor] = []

    def loss() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total, terms = inner()
        if len(evaluated) == 3:
            if where == "loss":
                return total * float("nan"), terms
            return total + torch.sqrt(x - x.detach()).sum(), terms  # the same value, infinite gradient
        evaluated.append(x.detach().clone())
        return total, terms

    result = optimize(x, loss, 10, optimizer=optimizer)
    assert result.status == "non-finite"
    assert "NaN" in result.message and "step 4" in result.message
    assert (where == "gradient") == ("gradient" in result.message)
    assert result.steps == 3
    assert torch.equal(x.detach(), evaluated[-1]) and torch.isfinite(x).all()
    assert result.checkpoint is None


@pytest.mark.parametrize("steps", [1, 2, 7, 25])
def test_lbfgs_does_exactly_num_steps_evaluations(steps: int) -> None:
    x = _x()
    inner = _quadratic(x)
    calls = {"n": 0}

    def loss() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        calls["n"] += 1
        return inner()

    result = optimize(x, loss, steps, optimizer="lbfgs")
    assert calls["n"] == steps == result.steps


def test_zero_steps_leave_the_params_alone() -> None:
    x = torch.ones(3, requires_grad=True)
    result = optimize(x, lambda: x.sum(), 0)
    assert result.status == "finished" and result.steps == 0 and torch.equal(x.detach(), torch.ones(3))


def test_lbfgs_history_is_budgeted() -> None:
    assert lbfgs_history_size(10) == 100
    assert lbfgs_history_size(3 * 4096 * 4096) == 5
    assert 5 < lbfgs_history_size(3 * 1024 * 1024) < 100


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="requires_grad"):
        optimize(torch.zeros(2), lambda: torch.zeros(()), 1)
    x = _x()
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimize(x, _quadratic(x), 1, optimizer="sgdd")
    with pytest.raises(ValueError, match="num_steps"):
        optimize(x, _quadratic(x), -1)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    x = _x()
    optimize(x, _quadratic(x), 3, optimizer="adam")
    opt_state = {
        "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.arange(4.0)}},
        "param_groups": [{"lr": 0.1, "params": [0]}],
    }
    path = save_checkpoint(
        tmp_path / "fit.pt", {"x": x}, opt_state, step=3, extra={"stage": "coarse", "sizes": [1, 2]}
    )
    assert path == tmp_path / "fit.pt" and not list(tmp_path.glob(".*part*"))  # atomic: no temp file left
    ckpt = load_checkpoint(path)
    assert set(ckpt.params) == {"x"} and torch.equal(ckpt.params["x"], x.detach())
    assert not ckpt.params["x"].requires_grad
    assert ckpt.step == 3 and ckpt.extra == {"stage": "coarse", "sizes": [1, 2]}
    assert ckpt.optimizer_state is not None
    assert torch.equal(ckpt.optimizer_state["state"][0]["exp_avg"], torch.arange(4.0))
    assert ckpt.optimizer_state["param_groups"][0]["lr"] == 0.1


def test_bad_checkpoint_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(InputError, match="not a checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"features.0.weight": torch.zeros(2)}, tmp_path / "weights.pth")
    with pytest.raises(InputError, match="not an easel checkpoint"):
        load_checkpoint(tmp_path / "weights.pth")
    good = save_checkpoint(tmp_path / "good.pt", {"x": torch.zeros(1000)}, None, step=1)
    data = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"format": "easel-checkpoint", "version": 1, "params": {}, "step": "x"}, tmp_path / "bad.pt")
    with pytest.raises(InputError, match="damaged"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save({"format": "easel-checkpoint", "version": 99}, tmp_path / "future.pt")
    with pytest.raises(InputError, match="newer"):
        load_checkpoint(tmp_path / "future.pt")


def _adam_run(steps: int, **kwargs: object) -> tuple[torch.Tensor, object]:
    x = _x()
    result = optimize(x, _quadratic(x), steps, optimizer="adam", learning_rate=0.05, **kwargs)  # type: ignore[arg-type]
    return x.detach().clone(), result


def test_resume_continues_to_the_same_result_as_an_uninterrupted_adam_run(tmp_path: Path) -> None:
    full, _ = _adam_run(12)
    # stopped by the hook at step 5: the checkpoint holds 4 complete steps, on disk and back
    _, stopped = _adam_run(12, on_step=lambda s: s.step == 5)
    assert stopped.status == "stopped" and stopped.checkpoint is not None  # type: ignore[attr-defined]
    assert stopped.checkpoint.step == 4  # type: ignore[attr-defined]
    ckpt = load_checkpoint(stopped.checkpoint.save(tmp_path / "a.pt"))  # type: ignore[attr-defined]
    seen: list[int] = []
    resumed, result = _adam_run(12, resume=ckpt, on_step=lambda s: seen.append(s.step))
    assert result.status == "finished" and result.steps == 8  # type: ignore[attr-defined]
    assert seen == list(range(5, 13))
    assert torch.equal(resumed, full)


def test_resume_after_an_interrupt() -> None:
    full, _ = _adam_run(12)
    x = _x()
    inner = _quadratic(x)
    calls = {"n": 0}

    def loss() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return inner()

    interrupted = optimize(x, loss, 12, optimizer="adam", learning_rate=0.05)
    assert interrupted.status == "interrupted" and interrupted.checkpoint is not None
    assert interrupted.checkpoint.step == 6
    resumed, _ = _adam_run(12, resume=interrupted.checkpoint)
    assert torch.equal(resumed, full)


def test_lbfgs_periodic_checkpoints_change_nothing_and_resume_exactly() -> None:
    x_full = _x()
    optimize(x_full, _quadratic(x_full), 12, optimizer="lbfgs")
    saved: list[Checkpoint] = []
    x = _x()
    chunked = optimize(
        x, _quadratic(x), 12, optimizer="lbfgs", checkpoint_every=5, on_checkpoint=saved.append
    )
    assert chunked.steps == 12
    assert torch.equal(x.detach(), x_full.detach())  # the same evaluations in the same order
    assert [c.step for c in saved] == [5, 10]
    x2 = _x()
    resumed = optimize(x2, _quadratic(x2), 12, optimizer="lbfgs", resume=saved[0])
    assert resumed.steps == 7 and torch.equal(x2.detach(), x_full.detach())


def test_resume_must_match_the_params() -> None:
    x = _x()
    with pytest.raises(InputError, match="parameters"):
        optimize(x, _quadratic(x), 3, resume=Checkpoint({"y": torch.zeros(4)}))
    with pytest.raises(InputError, match="shape"):
        optimize(x, _quadratic(x), 3, resume=Checkpoint({"0": torch.zeros(5)}))
    with pytest.raises(InputError, match="beyond"):
        optimize(x, _quadratic(x), 3, resume=Checkpoint({"0": torch.zeros(4)}, step=4))


# ---------------------------------------------------------------- the guarded L-BFGS (issue #15)


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _lbfgs_path(scale: float, param_scale: float, steps: int = 25) -> list[torch.Tensor]:
    """The points L-BFGS evaluates on ``scale * rosenbrock(param_scale * z)``, in x = param_scale * z."""
    z = (torch.tensor([-1.2, 1.0], dtype=torch.float64) / param_scale).requires_grad_(True)
    seen: list[torch.Tensor] = []

    def loss() -> torch.Tensor:
        seen.append(z.detach() * param_scale)
        return scale * _rosenbrock(z * param_scale)

    optimize(z, loss, steps, optimizer="lbfgs")
    return seen


def test_lbfgs_path_does_not_depend_on_the_scale_of_the_loss_or_the_parameters() -> None:
    """Powers of two scale every number exactly: the same evaluations, bit for bit. torch's
    L-BFGS (first step g/|g|₁, pairs kept when y·s > 1e-10) never moves at 2⁻⁶⁰."""
    reference = _lbfgs_path(1.0, 1.0)
    for scale, param_scale in [(2.0**-60, 1.0), (2.0**40, 1.0), (1.0, 2.0**-30), (2.0**-20, 2.0**12)]:
        path = _lbfgs_path(scale, param_scale)
        assert all(torch.equal(a, b) for a, b in zip(path, reference, strict=True)), (scale, param_scale)
    assert not torch.equal(reference[-1], reference[0])


def test_lbfgs_keeps_its_best_point_and_solves_rosenbrock() -> None:
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    result = optimize(x, lambda: _rosenbrock(x), 60, optimizer="lbfgs")
    totals = [h["total"] for h in result.history]
    assert any(b > a for a, b in zip(totals, totals[1:], strict=False))  # some trial steps went uphill
    assert result.loss == min(totals) < 1e-8  # and were not kept: the best point is returned
    assert float(_rosenbrock(x.detach())) == result.loss
    torch.testing.assert_close(x.detach(), torch.ones(2, dtype=torch.float64), atol=1e-4, rtol=0)


def test_guarded_lbfgs_steps_back_from_an_infinite_loss() -> None:
    """Used directly, a trial point with an infinite loss is rejected and the step shrinks."""
    x = torch.zeros(1, requires_grad=True)
    opt = GuardedLBFGS([x])

    def closure() -> torch.Tensor:
        x.grad = None
        inside = (x - 1.0).square() + 3.0  # its minimum is 3, so the first step (aimed at 0) overshoots
        loss = torch.where(x < 1.2, inside, torch.full_like(x, float("inf"))).sum()
        loss.backward()
        return loss

    values = [float(opt.step(closure).detach()) for _ in range(12)]
    assert values[1] == float("inf") and opt.rejected >= 1
    opt.restore_accepted()
    assert opt.accepted_loss == pytest.approx(3.0) and float(x.detach()) == pytest.approx(1.0, abs=1e-4)


def test_lbfgs_resumes_exactly_after_an_interrupt() -> None:
    x_full = _x()
    optimize(x_full, _quadratic(x_full), 12, optimizer="lbfgs")
    x = _x()
    inner = _quadratic(x)
    calls = {"n": 0}

    def loss() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return inner()

    interrupted = optimize(x, loss, 12, optimizer="lbfgs")
    assert interrupted.status == "interrupted" and interrupted.checkpoint is not None
    assert interrupted.checkpoint.step == 6
    assert interrupted.loss == min(h["total"] for h in interrupted.history)
    x2 = _x()
    resumed = optimize(x2, _quadratic(x2), 12, optimizer="lbfgs", resume=interrupted.checkpoint)
    assert resumed.steps == 6 and torch.equal(x2.detach(), x_full.detach())


def test_adam_result_has_no_evaluated_final_loss() -> None:
    x = _x()
    result = optimize(x, _quadratic(x), 5, optimizer="adam")
    assert result.loss is None  # its last update comes after the last evaluation
    stopped = optimize(x, _quadratic(x), 5, optimizer="adam", on_step=lambda s: s.stage_step == 2)
    assert stopped.loss == stopped.history[-1]["total"]
