"""Fitting the fly-through model: learning-rate schedule, pose and point refinement (ADOP's approximate gradient)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from easel.flythrough.fitting import fit, lr_factor
from easel.flythrough.model import FlythroughModel, photometric_loss, se3_exp
from easel.flythrough.options import FitOptions
from easel.flythrough.rasterize import rasterize
from easel.options import OptionError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHAPE = (36, 48)


def test_cosine_schedule_holds_then_decays_to_the_floor_and_constant_stays() -> None:
    values = [lr_factor(s, 200) for s in range(200)]
    assert values[0] == values[99] == 1.0
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))  # never rises
    assert values[-1] == pytest.approx(0.05)
    assert 0.4 < values[150] < 0.6
    assert {lr_factor(s, 200, "constant") for s in range(200)} == {1.0}
    with pytest.raises(OptionError, match="lr_schedule"):
        FitOptions(lr_schedule="linear")


def test_se3_exp_is_a_rotation_and_matches_small_angle_and_quarter_turn() -> None:
    d = torch.tensor([0.3, -0.2, 0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    t = se3_exp(d)
    rot = t[:3, :3]
    torch.testing.assert_close(rot @ rot.T, torch.eye(3, dtype=torch.float64))
    assert float(torch.det(rot)) == pytest.approx(1.0)
    assert t[:3, 3].tolist() == [1.0, 2.0, 3.0]
    # the rotation angle is the norm of the axis-angle vector
    angle = math.acos((float(torch.trace(rot)) - 1) / 2)
    assert angle == pytest.approx(float(d[:3].norm()))
    tiny = torch.tensor([1e-5, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    se3_exp(tiny)[2, 1].backward()
    assert tiny.grad is not None and float(tiny.grad[0]) == pytest.approx(1.0)


def test_a_zero_valued_displacement_changes_no_value_but_carries_a_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(400, 3, generator=gen) * torch.tensor([2.0, 1.5, 0.2]) + torch.tensor([-1.0, -0.75, 2.0])
    desc = torch.rand(400, 3, generator=gen)
    K = torch.tensor([[10.0, 0.0, 8.0], [0.0, 10.0, 6.0], [0.0, 0.0, 1.0]])  # noqa: N806
    shift = torch.zeros(2, requires_grad=True)
    displacement = (shift - shift.detach()).expand(400, 2)
    plain = rasterize(pts, desc, K, torch.eye(4), (12, 16), num_levels=2)
    moved = rasterize(pts, desc, K, torch.eye(4), (12, 16), num_levels=2, displacement=displacement)
    for a, b in zip(plain, moved, strict=True):
        assert torch.equal(a.features, b.features.detach())
    # moving everything right by d changes a pixel by -d * dF/dx: the gradient of the sum over a
    # left-to-right ramp is negative along x
    ramp = rasterize(pts, pts[:, :1], K, torch.eye(4), (12, 16), num_levels=1, displacement=displacement)
    ramp[0].features.sum().backward()
    assert (
        shift.grad is not None
        and float(shift.grad[0]) < 0
        and abs(float(shift.grad[1])) < abs(float(shift.grad[0]))
    )


@functools.lru_cache(maxsize=2)
def test_a_raster_plan_gives_the_same_levels_and_gradients_as_rasterizing() -> None:
    from easel.flythrough.rasterize import raster_plan, rasterize_planned

    gen = torch.Generator().manual_seed(1)
    pts = torch.rand(3000, 3, generator=gen) * torch.tensor([2.0, 1.5, 1.0]) + torch.tensor(
        [-1.0, -0.75, 1.5]
    )
    pts = torch.cat([pts, pts[:50] * 1.004, pts[50:100] * 1.5])  # shared pixels, in and out of the band
    K = torch.tensor([[20.0, 0.0, 16.0], [0.0, 20.0, 12.0], [0.0, 0.0, 1.0]])  # noqa: N806
    desc_a = torch.rand(len(pts), 4, generator=gen).requires_grad_()
    desc_b = desc_a.detach().clone().requires_grad_()
    full = rasterize(pts, desc_a, K, torch.eye(4), (24, 32), num_levels=3)
    planned = rasterize_planned(raster_plan(pts, K, torch.eye(4), (24, 32), num_levels=3), desc_b)
    weights = torch.rand(4, 24, 32, generator=gen)
    for a, b in zip(full, planned, strict=True):
        torch.testing.assert_close(a.features, b.features, atol=1e-6, rtol=0)
        assert torch.equal(a.weight, b.weight) and torch.equal(a.depth, b.depth)
    sum(
        (lv.features * weights[:, : lv.features.shape[2], : lv.features.shape[3]]).sum() for lv in full
    ).backward()
    sum(
        (lv.features * weights[:, : lv.features.shape[2], : lv.features.shape[3]]).sum() for lv in planned
    ).backward()
    assert desc_a.grad is not None and desc_b.grad is not None
    torch.testing.assert_close(desc_a.grad, desc_b.grad, atol=1e-6, rtol=0)
    assert float(desc_a.grad.abs().sum()) > 0


def _room(views: int = 6) -> tuple[np.ndarray, object, np.ndarray, np.ndarray]:
    from easel.flythrough.synthetic import arc_poses, sample_surface_points

    poses, intr = arc_poses(views, SHAPE)
    xyz, rgb = sample_surface_points(0, 20_000, visible_from=poses)
    return (
        poses,
        intr,
        xyz,
        np.asarray(rgb, dtype=np.float32) / (255.0 if np.asarray(rgb).dtype == np.uint8 else 1.0),
    )


def _pose_error(pose: torch.Tensor, true: np.ndarray) -> tuple[float, float]:
    ref = torch.as_tensor(true, dtype=pose.dtype)
    rel = pose[:3, :3] @ ref[:3, :3].T
    angle = math.degrees(math.acos(max(-1.0, min(1.0, (float(torch.trace(rel)) - 1) / 2))))
    centre = -pose[:3, :3].T @ pose[:3, 3]
    return angle, float((centre - (-ref[:3, :3].T @ ref[:3, 3])).norm())


def test_pose_refinement_pulls_a_perturbed_camera_back() -> None:
    from easel.flythrough.synthetic import render_view

    poses, intr, xyz, rgb = _room()
    target = torch.from_numpy(render_view(poses[2], intr, supersample=1)).permute(2, 0, 1)[None]
    model = FlythroughModel(torch.as_tensor(xyz), torch.as_tensor(rgb), 1, levels=3, refine_poses=True)
    true = torch.as_tensor(poses[2], dtype=torch.float32)
    perturbed = se3_exp(torch.tensor([0.0, 0.02, 0.01, 0.05, 0.0, 0.0])) @ true
    K = torch.as_tensor(intr.K, dtype=torch.float32)  # noqa: N806
    assert model.pose_deltas is not None
    opt = torch.optim.Adam([model.pose_deltas], lr=2e-3)
    for _ in range(40):
        opt.zero_grad()
        pred = model(K, perturbed, SHAPE, model.tonemapper.appearance([(0, 1.0)]), image=0)
        photometric_loss(pred, target, 0.0)[0].backward()
        opt.step()
    delta = model.pose_deltas[0].detach() * torch.tensor([1.0, 1, 1, model.scale, model.scale, model.scale])
    before, after = _pose_error(perturbed, poses[2]), _pose_error(se3_exp(delta) @ perturbed, poses[2])
    assert before[0] > 1.0
    assert after[0] < 0.5 * before[0], (before, after)
    # without a pose the correction is not applied: a new camera renders as given
    with torch.no_grad():
        app = model.tonemapper.appearance([(0, 1.0)])
        assert torch.equal(model(K, true, SHAPE, app), model(K, true, SHAPE, app, image=None))


def test_point_refinement_moves_shifted_points_back() -> None:
    from easel.flythrough.synthetic import render_view

    poses, intr, xyz, rgb = _room()
    K = torch.as_tensor(intr.K, dtype=torch.float32)  # noqa: N806
    # the cloud shifted sideways by about one pixel at its depth; two views pull it back
    shift = np.array([0.08, 0.0, 0.0], dtype=np.float32)
    model = FlythroughModel(
        torch.as_tensor(xyz + shift), torch.as_tensor(rgb), 1, levels=3, refine_points=True
    )
    targets = [
        (torch.as_tensor(poses[i], dtype=torch.float32), render_view(poses[i], intr, supersample=1))
        for i in (1, 3)
    ]
    assert model.point_offsets is not None
    opt = torch.optim.Adam([model.point_offsets], lr=3e-3)
    for step in range(30):
        pose, img = targets[step % 2]
        opt.zero_grad()
        pred = model(K, pose, SHAPE, model.tonemapper.appearance([(0, 1.0)]))
        photometric_loss(pred, torch.from_numpy(img).permute(2, 0, 1)[None], 0.0)[0].backward()
        opt.step()
    offsets = model.fitted_points() - model.points
    seen = offsets.abs().sum(dim=1) > 0  # the points the two views see
    assert int(seen.sum()) > 1000
    moved = offsets[seen].mean(dim=0)
    assert float(moved[0]) < -0.25 * shift[0], moved  # they moved back along -x
    assert abs(float(moved[0])) > 3 * abs(float(moved[1]))


def test_a_fit_with_refinement_saves_loads_and_keeps_held_out_poses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from easel.cameras import Camera
    from easel.flythrough.scene import Scene, View
    from easel.flythrough.synthetic import render_view

    poses, intr, xyz, rgb = _room(5)
    views = [
        View(f"v{i}.png", Camera(intr, poses[i]), render_view(poses[i], intr, supersample=1))
        for i in range(5)
    ]
    options = FitOptions(
        steps=8,
        width=4,
        levels=2,
        eval_every=0,
        checkpoint_every=0,
        holdout_every=4,
        refine_poses=True,
        refine_points=True,
        device="cpu",
    )
    result = fit(views, xyz, rgb, options)
    model = result.scene.model
    assert model.pose_deltas is not None and model.point_offsets is not None
    assert model.pose_deltas.shape == (3, 6)  # training views only (v0 and v4 held out)
    assert float(model.pose_deltas.detach().abs().sum()) > 0
    assert float(model.point_offsets.detach().abs().sum()) > 0
    result.scene.save(tmp_path / "scene")
    loaded = Scene.load(tmp_path / "scene")
    assert loaded.options.refine_poses and loaded.options.refine_points
    np.testing.assert_allclose(loaded.render_view(0), result.scene.render_view(0), atol=1e-6)
    pts, _ = loaded.point_cloud()
    assert not np.allclose(pts, xyz)  # the export holds the refined positions


# ---------------------------------------------------------------- perceptual loss (a tiny random VGG-19 in the real format)

VGG_WIDTHS = (4, 4, 6, 6) + (8,) * 12


def _tiny_fit_views() -> tuple[list, np.ndarray, np.ndarray]:
    from easel.cameras import Camera
    from easel.flythrough.scene import View
    from easel.flythrough.synthetic import render_view

    poses, intr, xyz, rgb = _room(4)
    views = [
        View(f"v{i}.png", Camera(intr, poses[i]), render_view(poses[i], intr, supersample=1))
        for i in range(4)
    ]
    return views, xyz, rgb


FEW = {
    "steps": 3,
    "width": 4,
    "levels": 2,
    "eval_every": 0,
    "checkpoint_every": 0,
    "holdout_every": 4,
    "device": "cpu",
}


def test_perceptual_loss_is_zero_on_equal_images_and_has_a_gradient(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from easel.flythrough.model import PERCEPTUAL_LAYERS, PerceptualLoss
    from easel.nets.vgg import load_encoder, save_random_vgg19

    path = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=VGG_WIDTHS, seed=0)
    loss = PerceptualLoss(load_encoder("vgg19-caffe", weights=path, layers=PERCEPTUAL_LAYERS))
    x = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    assert float(loss(x, x)) == 0.0
    pred = (x * 0.5).requires_grad_()
    value = loss(pred, x)
    value.backward()
    assert float(value.detach()) > 0 and pred.grad is not None and float(pred.grad.abs().sum()) > 0


def test_a_fit_uses_the_perceptual_loss_with_weights_and_not_without(tmp_path, tmp_easel_home) -> None:  # type: ignore[no-untyped-def]
    from easel.errors import WeightsError
    from easel.nets.vgg import save_random_vgg19
    from easel.weights import local_path

    views, xyz, rgb = _tiny_fit_views()
    # no weights cached: off by default, an error when asked for
    off = fit(views, xyz, rgb, FitOptions(**FEW))
    assert off.scene.metrics["perceptual_weight"] == 0.0
    assert all("perceptual" not in h for h in off.history)
    with pytest.raises(WeightsError):
        fit(views, xyz, rgb, FitOptions(perceptual_weight=0.5, **FEW))
    # a weights file given: on
    path = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=VGG_WIDTHS, seed=0)
    on = fit(views, xyz, rgb, FitOptions(perceptual_weight=0.5, vgg_weights=str(path), **FEW))
    assert on.scene.metrics["perceptual_weight"] == 0.5
    assert all(h["perceptual"] > 0 for h in on.history)
    # the weights in the cache: on by default
    cached = local_path("vgg19-caffe")
    cached.parent.mkdir(parents=True, exist_ok=True)
    save_random_vgg19(cached, widths=VGG_WIDTHS, seed=0)
    default = fit(views, xyz, rgb, FitOptions(**FEW))
    assert default.scene.metrics["perceptual_weight"] == pytest.approx(0.1)
    assert all("perceptual" in h for h in default.history)
