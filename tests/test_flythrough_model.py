"""The fly-through model: rasterizer (against a brute-force reference), U-Net, tonemapper, fit, scene."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from easel.cameras import Camera, CameraPath, Intrinsics, pose_from_center
from easel.flythrough.fitting import fit, view_order
from easel.flythrough.model import FlythroughModel, photometric_loss, ssim_torch
from easel.flythrough.options import FitOptions, RenderOptions
from easel.flythrough.rasterize import level_shape, pull_push, rasterize, rasterize_reference
from easel.flythrough.scene import (
    Scene,
    View,
    held_out_mask,
    neighbour_weights,
    path_at_size,
    scene_camera_path,
    write_point_cloud,
)
from easel.flythrough.tonemap import Tonemapper, leaky_clamp
from easel.flythrough.unet import PointUNet, count_parameters
from easel.metrics import ssim as ssim_np
from easel.optim import StepState

pytestmark = pytest.mark.usefixtures("one_torch_thread")

K8 = torch.tensor([[8.0, 0.0, 8.0], [0.0, 8.0, 6.0], [0.0, 0.0, 1.0]])


# ---------------------------------------------------------------- rasterizer


def _cloud(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    pts = torch.rand(n, 3, generator=gen) * torch.tensor([2.0, 1.5, 1.0]) - torch.tensor([1.0, 0.75, 0.0])
    pts[:, 2] += 1.5
    # a few exact duplicates at other depths: the same pixel, in and out of the depth band
    pts = torch.cat([pts, pts[:5] * torch.tensor([1.003, 1.003, 1.003]), pts[5:10] * 1.5])
    return pts, torch.rand(len(pts), 3, generator=gen)


@pytest.mark.parametrize("seed", [0, 1])
def test_rasterizer_matches_the_brute_force_reference(seed: int) -> None:
    pts, desc = _cloud(60, seed)
    pose = pose_from_center([0.1, -0.05, -0.2])
    w2c = torch.tensor(pose, dtype=torch.float32)
    fast = rasterize(pts, desc, K8, w2c, (12, 16), num_levels=3, depth_band=0.01)
    ref = rasterize_reference(pts, desc, K8, w2c, (12, 16), num_levels=3, depth_band=0.01)
    assert len(fast) == len(ref) == 3
    for lf, lr in zip(fast, ref, strict=True):
        assert lf.features.shape == lr.features.shape
        assert torch.equal(lf.weight.double(), lr.weight)
        torch.testing.assert_close(lf.features.double(), lr.features, atol=1e-6, rtol=0)
        finite = torch.isfinite(lr.depth)
        assert torch.equal(torch.isfinite(lf.depth), finite)
        torch.testing.assert_close(lf.depth.double()[finite], lr.depth[finite], atol=1e-5, rtol=0)
    assert float(fast[0].weight.sum()) > 20  # the cloud is really in view
    assert float(fast[0].weight.max()) >= 2  # and some pixels blend several points


def test_depth_test_keeps_the_nearest_and_blends_within_the_band() -> None:
    k = torch.tensor([[4.0, 0, 2.0], [0, 4.0, 2.0], [0, 0, 1]])
    # three points on one pixel's ray: at depth 2, 2.01 (inside a 1 % band) and 3 (behind)
    pts = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 2.01], [0.0, 0.0, 3.0]])
    desc = torch.tensor([[1.0], [3.0], [100.0]])
    level = rasterize(pts, desc, k, torch.eye(4), (4, 4), num_levels=1, depth_band=0.01)[0]
    assert level.features[0, 0, 2, 2].item() == pytest.approx(2.0)  # (1 + 3) / 2; the far point hidden
    assert level.weight[0, 0, 2, 2].item() == 2
    assert level.depth[0, 0, 2, 2].item() == pytest.approx(2.0)
    sharp = rasterize(pts, desc, k, torch.eye(4), (4, 4), num_levels=1, depth_band=0.0)[0]
    assert sharp.features[0, 0, 2, 2].item() == pytest.approx(1.0)
    assert float(level.weight.sum()) == 2  # nothing else drawn


def test_pyramid_levels_put_a_point_in_the_covering_pixel() -> None:
    # pixel (row 5, col 3) at full resolution: centre (3.5, 5.5)
    k = torch.tensor([[10.0, 0, 3.5], [0, 10.0, 5.5], [0, 0, 1]])
    levels = rasterize(
        torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 2), k, torch.eye(4), (11, 7), num_levels=4
    )
    assert [tuple(lv.weight.shape[2:]) for lv in levels] == [(11, 7), (6, 4), (3, 2), (2, 1)]
    assert [tuple(lv.weight.shape[2:]) for lv in levels] == [level_shape((11, 7), i) for i in range(4)]
    hits = [tuple(torch.nonzero(lv.weight[0, 0]).tolist()[0]) for lv in levels]
    assert hits == [(5, 3), (2, 1), (1, 0), (0, 0)]


def test_points_behind_the_camera_or_outside_are_not_drawn() -> None:
    pts = torch.tensor([[0.0, 0.0, -1.0], [50.0, 0.0, 1.0], [0.0, 0.0, 1e-5]])
    levels = rasterize(pts, torch.ones(3, 1), K8, torch.eye(4), (12, 16), num_levels=2)
    assert all(float(lv.weight.sum()) == 0 for lv in levels)


def test_pull_push_fills_holes_from_coarser_levels_without_darkening() -> None:
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(40, 3, generator=gen) * torch.tensor([1.6, 1.2, 0.0]) - torch.tensor([0.8, 0.6, -2.0])
    levels = rasterize(pts, torch.full((40, 3), 0.7), K8, torch.eye(4), (12, 16), num_levels=4)
    assert float(levels[0].mask.mean()) < 0.5  # a sparse cloud: most fine pixels are holes
    filled = pull_push(levels)
    covered = filled[:, :, 2:10, 3:13]
    torch.testing.assert_close(covered, torch.full_like(covered, 0.7))


# ---------------------------------------------------------------- renderer, tonemapper, loss


def test_the_untrained_renderer_shows_the_splatted_points() -> None:
    pts, cols = _cloud(80, 0)
    model = FlythroughModel(pts, cols, num_images=1, width=4, levels=3)
    app = model.tonemapper.appearance([(0, 1.0)])
    rendered = model(K8, torch.eye(4), (12, 16), app)
    torch.testing.assert_close(rendered, model.splat(K8, torch.eye(4), (12, 16)))
    assert count_parameters(PointUNet(4, num_levels=4, width=8)) == pytest.approx(100_000, rel=0.1)


def test_gradients_reach_descriptors_renderer_and_tonemapper() -> None:
    pts, cols = _cloud(80, 1)
    model = FlythroughModel(pts, cols, num_images=2, width=4, levels=3)
    with torch.no_grad():  # step off the zero-initialized head and the identity tonemapper
        model.renderer.head.weight.normal_(0, 0.1)
        model.tonemapper.vignette.fill_(-0.1)
    target = torch.rand(1, 3, 12, 16)
    pred = model(K8, torch.eye(4), (12, 16), model.tonemapper.appearance([(1, 1.0)]))
    loss, _ = photometric_loss(pred, target)
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert float(grads["descriptors"].abs().sum()) > 0
    seen = grads["descriptors"].abs().sum(dim=1) > 0
    assert 0 < int(seen.sum()) < len(pts)  # only the points in view
    for name in (
        "tonemapper.exposure",
        "tonemapper.white_balance",
        "tonemapper.response",
        "tonemapper.vignette",
    ):
        assert grads[name] is not None and float(grads[name].abs().sum()) > 0, name
    assert float(grads["tonemapper.exposure"][0]) == 0  # image 0 was not rendered
    assert float(grads["renderer.encoders.0.0.weight"].abs().sum()) > 0


def test_tonemapper_starts_as_identity_and_exposure_doubles() -> None:
    tm = Tonemapper(num_images=2)
    hdr = torch.rand(1, 3, 6, 8) * 0.4
    app = tm.appearance([(0, 1.0)])
    torch.testing.assert_close(tm(hdr, app), hdr)
    torch.testing.assert_close(tm(hdr, app, exposure_offset=1.0), 2 * hdr)
    with torch.no_grad():
        tm.exposure[1] = 1.0
    torch.testing.assert_close(tm(hdr, tm.appearance([(0, 0.5), (1, 0.5)])), hdr * 2**0.5)


def test_leaky_clamp_passes_a_gradient_outside_the_range() -> None:
    x = torch.tensor([-0.5, 0.5, 1.5], requires_grad=True)
    leaky_clamp(x).sum().backward()
    assert x.grad is not None
    assert x.grad.tolist() == pytest.approx([0.01, 1.0, 0.01])


def test_response_curve_stays_monotonic_for_any_parameters() -> None:
    tm = Tonemapper(1, knots=9)
    with torch.no_grad():
        tm.response.copy_(torch.randn(8) * 3)
    x = torch.linspace(-0.2, 1.2, 200)
    with torch.no_grad():
        y = tm.curve(x)
        ends = tm.curve(torch.tensor([0.0, 1.0]))
    assert bool((y[1:] >= y[:-1] - 1e-6).all())
    assert ends.tolist() == pytest.approx([0.0, 1.0], abs=1e-6)


def test_torch_ssim_matches_the_metrics_module() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(1, 3, 20, 24, generator=gen)
    b = (a + 0.1 * torch.rand(1, 3, 20, 24, generator=gen)).clamp(0, 1)
    ours = float(ssim_torch(a, b))
    theirs = ssim_np(a[0].permute(1, 2, 0).numpy(), b[0].permute(1, 2, 0).numpy())
    # the metrics module averages every pixel's window (reflect-padded at the border), this one the valid windows
    assert ours == pytest.approx(theirs, abs=0.03)
    assert float(ssim_torch(a, a)) == pytest.approx(1.0)


# ---------------------------------------------------------------- held-out views and appearance


def test_held_out_views_are_every_eighth_by_sorted_name() -> None:
    assert [i for i, h in enumerate(held_out_mask(24, 8)) if h] == [0, 8, 16]
    assert not any(held_out_mask(5, 0))


def test_held_out_appearance_interpolates_the_neighbouring_training_views() -> None:
    held = held_out_mask(17, 8)  # views 0, 8, 16 held out; training views 1-7 -> 0-6, 9-15 -> 7-13
    weights = neighbour_weights(held)
    assert weights[0] == [(0, 1.0)]  # first view: its one neighbour
    assert weights[8] == [(6, 0.5), (7, 0.5)]  # between views 7 and 9
    assert weights[16] == [(13, 1.0)]
    assert weights[3] == [(2, 1.0)]


def test_view_order_shuffles_each_epoch_and_depends_only_on_the_step() -> None:
    first = [view_order(s, 5, seed=3) for s in range(10)]
    assert sorted(first[:5]) == sorted(first[5:]) == [0, 1, 2, 3, 4]
    assert first[:5] != first[5:]
    assert [view_order(s, 5, seed=3) for s in range(7, 10)] == first[7:]


# ---------------------------------------------------------------- a tiny scene (exact cameras)


def tiny_views(
    num_views: int = 12, shape: tuple[int, int] = (36, 48), seed: int = 0
) -> tuple[list[View], np.ndarray, np.ndarray]:
    """Part A's synthetic room, tiny and in memory: views, points and colours (exposure varies a little)."""
    from easel.flythrough.synthetic import arc_poses, render_view, sample_surface_points

    poses, intr = arc_poses(num_views, shape)
    exposures = 2.0 ** (0.4 * np.sin(0.5 * np.arange(num_views)))  # a smooth drift, like auto-exposure
    views = [
        View(
            f"view_{i:03d}.png",
            Camera(intr, poses[i]),
            render_view(poses[i], intr, seed=seed, exposure=float(exposures[i]), supersample=1),
        )
        for i in range(num_views)
    ]
    xyz, rgb = sample_surface_points(seed, 30_000)
    return views, xyz, rgb


@pytest.fixture(scope="module")
def tiny() -> tuple[list[View], np.ndarray, np.ndarray]:
    return tiny_views()


TINY = FitOptions(
    steps=60, width=4, levels=3, eval_every=0, checkpoint_every=0, holdout_every=4, device="cpu"
)


def test_a_tiny_fit_beats_plain_splatting_on_held_out_views(tiny) -> None:  # type: ignore[no-untyped-def]
    views, xyz, rgb = tiny
    result = fit(views, xyz, rgb, TINY)
    m = result.scene.metrics
    assert result.status == "finished" and result.steps == 60
    assert m["held_out_views"] == ["view_000.png", "view_004.png", "view_008.png"]
    assert m["psnr"] > m["baseline_psnr"] + 1.0, (m["psnr"], m["baseline_psnr"])
    assert "interpolated" in m["appearance"]
    losses = [h["total"] for h in result.history]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


def test_an_interrupted_fit_resumes_to_the_same_model(tiny) -> None:  # type: ignore[no-untyped-def]
    views, xyz, rgb = tiny
    options = FitOptions(
        steps=12, width=4, levels=2, eval_every=0, checkpoint_every=0, holdout_every=4, device="cpu"
    )
    whole = fit(views, xyz, rgb, options)

    def interrupt(state: StepState) -> None:
        if state.step == 5:
            raise KeyboardInterrupt

    first = fit(views, xyz, rgb, options, on_step=interrupt)
    assert first.status == "interrupted"
    assert first.checkpoint is not None and 0 < first.checkpoint.step < 12
    second = fit(views, xyz, rgb, options, resume=first.checkpoint)
    assert second.status == "finished" and second.steps == 12
    for (name, a), (_, b) in zip(
        whole.scene.model.named_parameters(), second.scene.model.named_parameters(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=name)
    other = FitOptions(steps=12, width=5, levels=2, holdout_every=4, device="cpu")
    with pytest.raises(Exception, match="another fit.*width"):
        fit(views, xyz, rgb, other, resume=first.checkpoint)


def test_a_scene_saves_and_loads_and_renders_the_same(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    views, xyz, rgb = tiny
    scene = fit(views, xyz, rgb, FitOptions(steps=3, width=4, levels=2, holdout_every=4, device="cpu")).scene
    scene.save(tmp_path / "scene")
    loaded = Scene.load(tmp_path / "scene")
    for index in (0, 1):
        np.testing.assert_array_equal(loaded.render_view(index), scene.render_view(index))
    assert loaded.evaluate()["psnr"] == pytest.approx(scene.metrics["psnr"])
    assert [v.name for v in loaded.views] == [v.name for v in views]
    points, colors = loaded.point_cloud()
    assert points.shape == (len(xyz), 3) and colors.shape == (len(xyz), 3)
    assert 0.0 <= colors.min() and colors.max() <= 1.0


def test_scene_load_refuses_a_folder_that_is_not_a_scene(tmp_path: Path) -> None:
    from easel.errors import InputError

    (tmp_path / "notascene").mkdir()
    with pytest.raises(InputError, match="not a fly-through scene"):
        Scene.load(tmp_path / "notascene")


def test_the_render_path_runs_smoothly_through_the_input_cameras(tiny) -> None:  # type: ignore[no-untyped-def]
    views, xyz, rgb = tiny
    scene = fit(views, xyz, rgb, FitOptions(steps=1, width=4, levels=2, holdout_every=4, device="cpu")).scene
    path = scene_camera_path(scene, RenderOptions(seconds=2.5, fps=12, size=32))
    assert len(path) == 30 and path.output_shape == (24, 32)
    centres = path.centers
    np.testing.assert_allclose(centres[0], views[0].camera.center, atol=1e-9)
    np.testing.assert_allclose(centres[-1], views[-1].camera.center, atol=1e-9)
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() / steps.min() < 1.1  # constant speed (along the spline)
    # smooth: no frame turns much more than its neighbours
    fwd = np.stack([p[2, :3] for p in path.poses])
    turns = np.degrees(np.arccos(np.clip((fwd[1:] * fwd[:-1]).sum(axis=1), -1, 1)))
    assert turns.max() < 3 * np.median(turns) + 0.5
    frames = list(scene.render_path(path))
    assert len(frames) == 30 and frames[0].shape == (24, 32, 3) and frames[0].dtype == np.float32


def test_path_at_size_keeps_the_field_of_view() -> None:
    path = CameraPath(np.stack([np.eye(4)] * 2), Intrinsics.from_fov(64, 48, 50.0), fps=10)
    small = path_at_size(path, 32)
    assert small.output_shape == (24, 32)
    assert small.intrinsics_at(0).fov_y == pytest.approx(50.0)
    assert path_at_size(path, None) is path


def test_point_cloud_ply_is_binary_with_colours(tmp_path: Path) -> None:
    pts = np.array([[0.0, 1.0, 2.0], [3.0, -4.0, 5.5]])
    out = write_point_cloud(tmp_path / "c.ply", pts, np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]))
    data = out.read_bytes()
    header, body = data.split(b"end_header\n", 1)
    assert b"element vertex 2" in header and b"binary_little_endian" in header
    rec = np.frombuffer(
        body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")]
    )
    assert (
        rec["y"].tolist() == [1.0, -4.0] and rec["r"].tolist() == [255, 0] and rec["b"].tolist() == [128, 0]
    )
    assert math.isclose(float(rec["z"][1]), 5.5)
