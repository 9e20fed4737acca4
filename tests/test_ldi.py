"""The layered depth image: depth edges on a synthetic step, link cutting, the synthesis region behind
the foreground, inpainted depth behind the occluder, bounded work on noise, a flat wall as one layer."""

from __future__ import annotations

import time

import numpy as np
import pytest

from easel.cameras import Camera, Intrinsics
from easel.scene3d.depth_edges import (
    cut_sides,
    detect_cuts,
    find_depth_edges,
    link_edges,
    smooth_log_depth,
)
from easel.scene3d.inpaint import get_inpainter
from easel.scene3d.ldi import LDILayer, build_ldi, fit_background_planes, grow_layer
from easel.scene3d.mesh import count_cut_crossings
from easel.scene3d.render import GridLayer, link_mask
from easel.scene3d.synthetic import occluder_scene, slanted_scene


def _step(h: int = 20, w: int = 30, col: int = 12, near: float = 1.0, far: float = 4.0) -> np.ndarray:
    z = np.full((h, w), far, np.float32)
    z[:, :col] = near
    return z


def test_edges_on_a_step_cut_exactly_the_links_across_it() -> None:
    z = _step()
    edges = find_depth_edges(z, threshold=0.04, min_length=4)
    assert edges.cut_h[:, 11].all()
    assert edges.num_cuts == z.shape[0]  # one cut link per row, nothing else
    assert not edges.cut_v.any()
    near, far = cut_sides(z, edges.cut_h, edges.cut_v)
    assert near[:, 11].all() and near.sum() == z.shape[0]
    assert far[:, 12].all() and far.sum() == z.shape[0]
    assert edges.num_edges == 1


def test_a_steep_slope_is_one_surface_but_a_step_on_it_is_cut() -> None:
    ramp = np.tile(1.06 ** np.arange(20, dtype=np.float32), (6, 1))  # 6 % per pixel
    assert not detect_cuts(ramp, 0.04)[0].any()
    ramp[:, 10:] *= 3.0
    cut_h, _ = detect_cuts(ramp, 0.04)
    assert cut_h[:, 9].all() and cut_h.sum() == 6


def test_short_isolated_edges_are_removed_and_their_links_joined() -> None:
    z = np.full((30, 30), 5.0, np.float32)
    z[10, 10] = 1.0  # a speck
    z[:, 20:] = 1.0  # a long edge
    edges = link_edges(z, *detect_cuts(z, 0.04), min_length=5)
    assert edges.num_edges == 1 and edges.removed == 1
    assert not edges.cut_h[10, 9:11].any() and not edges.cut_v[9:11, 10].any()
    assert edges.cut_h[:, 19].all()


def test_smoothing_keeps_steps_and_removes_small_noise() -> None:
    rng = np.random.default_rng(0)
    z = _step() * (1 + 0.005 * rng.standard_normal((20, 30))).astype(np.float32)
    smooth = smooth_log_depth(z, 0.04)
    assert np.abs(np.log(smooth[:, 14:]) - np.log(4.0)).std() < np.abs(np.log(z[:, 14:]) - np.log(4.0)).std()
    assert smooth[:, :11].max() < 1.1 and smooth[:, 13:].min() > 3.6  # the step stays sharp


def test_link_mask_drops_exactly_the_triangles_across_cut_links() -> None:
    rng = np.random.default_rng(1)
    cut_h = rng.random((9, 11)) < 0.2
    cut_v = rng.random((8, 12)) < 0.2
    mask = link_mask(cut_h, cut_v, np.ones((9, 12), bool))
    assert count_cut_crossings(mask, cut_h, cut_v) == 0
    full = np.full((8, 11), 3, np.uint8)
    assert count_cut_crossings(full, cut_h, cut_v) > 0
    # a triangle with no cut among its links is kept
    assert ((mask & 1) > 0).sum() == (~(cut_h[:-1] | cut_v[:, :-1])).sum()


def test_grid_layer_breaks_at_given_cuts_not_at_the_threshold() -> None:
    z = _step(6, 8, 4)
    cut_h, cut_v = detect_cuts(z, 0.04)
    cam = Intrinsics.from_focal(8, 6, 4.0)
    layer = GridLayer.from_rgbd(np.zeros((6, 8, 3)), z, cam, cuts=(cut_h, cut_v))
    assert (layer.mask[:, 3] == 0).all() and (layer.mask[:, :3] == 3).all()
    uncut = GridLayer.from_rgbd(
        np.zeros((6, 8, 3)), z, cam, cuts=(np.zeros_like(cut_h), np.zeros_like(cut_v))
    )
    assert (uncut.mask == 3).all()  # no cuts given: a rubber sheet, whatever the threshold says


def test_plane_fit_is_exact_on_a_slanted_plane() -> None:
    yy, xx = np.mgrid[0:15, 0:15].astype(np.float64)
    q = 0.2 + 0.003 * xx - 0.002 * yy
    seeds = np.zeros((15, 15), bool)
    seeds[7, 7] = seeds[3, 11] = True
    a, b, c = fit_background_planes(q, np.ones((15, 15), bool), seeds, 4, 0.02)
    assert a[7, 7] == pytest.approx(0.003) and b[7, 7] == pytest.approx(-0.002)
    assert c[3, 11] == pytest.approx(q[3, 11])


def test_synthesis_region_lies_behind_the_foreground_and_its_depth_behind_the_occluder() -> None:
    z = np.full((40, 40), 6.0, np.float32)
    z[10:30, 10:30] = 2.0  # a near square
    image = np.zeros((40, 40, 3), np.float32)
    image[z > 3] = (0.1, 0.8, 0.1)  # green wall
    image[z < 3] = (0.9, 0.1, 0.1)  # red square
    ldi = build_ldi(image, z, width=5, min_edge_length=4, num_layers=1)
    behind = ldi.layers[1]
    synth = behind.synthesized
    assert synth.any()
    assert (z[synth] == 2.0).all()  # only where the foreground is
    # within the width of the edge: the ring inside the square, not its middle
    assert synth[10:30, 10:15].all() and not synth[17:23, 17:23].any()
    assert (behind.depth[synth] > 2.0 * 1.04).all()  # behind the occluder
    assert np.allclose(behind.depth[synth], 6.0)  # the wall, extended
    assert np.allclose(behind.image[synth], (0.1, 0.8, 0.1), atol=0.02)  # its colour, not the square's
    # the layer joins the wall: the wall's edge pixels are in it, with the wall's depth
    rim = behind.valid & ~synth
    assert rim.any() and np.allclose(behind.depth[rim], 6.0)


def test_a_slanted_background_is_extended_as_a_plane() -> None:
    scene, cam = slanted_scene(160, 120)
    view = scene.render(Camera(cam))
    ldi = build_ldi(view.image, view.depth, cam, num_layers=1)
    behind = ldi.layers[1]
    synth = behind.synthesized & (view.object_id == 2)  # behind the tilted panel
    assert synth.sum() > 50
    # ground truth: the slanted wall's depth behind the panel
    hidden = scene.rects[1]
    from easel.cameras import pixel_grid

    uu, vv = pixel_grid(120, 160)
    rays = np.stack([(uu - cam.cx) / cam.fx, (vv - cam.cy) / cam.fy, np.ones_like(uu)], -1)
    normal = np.cross(hidden.edge_u, hidden.edge_v)
    t = float(normal @ hidden.origin) / (rays @ normal)
    on_wall = synth & (np.abs(behind.depth - t) < 0.02 * t)
    assert on_wall.sum() / synth.sum() > 0.8


def test_layers_behind_layers() -> None:
    # a near square before a middle strip before a wall: the middle strip's extension
    # behind the square is itself cut against the wall's, and a second layer grows
    z = np.full((48, 48), 9.0, np.float32)
    z[:, 20:] = 5.0
    z[14:34, 14:34] = 2.0
    ldi = build_ldi(np.full((48, 48, 3), 0.5), z, width=8, min_edge_length=4, num_layers=3)
    assert len(ldi.layers) >= 3
    assert ldi.layers[1].num_cuts > 0
    assert all(layer.level == i for i, layer in enumerate(ldi.layers))


def test_a_flat_wall_is_one_layer_and_still_renders() -> None:
    ldi = build_ldi(np.full((16, 20, 3), 0.3), np.full((16, 20), 3.0))
    assert len(ldi.layers) == 1 and ldi.stats["cuts"] == 0
    assert grow_layer(ldi.layers[0], get_inpainter("telea")) is None


def test_noisy_depth_keeps_edges_and_time_bounded() -> None:
    rng = np.random.default_rng(0)
    z = rng.uniform(1.0, 10.0, (96, 128)).astype(np.float32)
    start = time.perf_counter()
    ldi = build_ldi(rng.random((96, 128, 3)).astype(np.float32), z, num_layers=2)
    assert time.perf_counter() - start < 20.0
    assert len(ldi.layers) <= 3
    assert ldi.stats["cuts"] <= 2 * 96 * 128
    for layer in ldi.layers:
        assert np.isfinite(layer.depth).all() and (layer.depth > 0).all()


def test_ldi_layer_from_rgbd_has_no_cuts() -> None:
    layer = LDILayer.from_rgbd(np.zeros((4, 5, 3)), np.ones((4, 5)))
    assert layer.num_cuts == 0 and layer.valid.all()


def test_occluder_scene_disocclusion_is_covered_by_the_layer_behind() -> None:
    from easel.cameras import pose_from_center
    from easel.scene3d.render import Renderer
    from easel.scene3d.synthetic import disocclusion_mask

    scene, cam = occluder_scene(128, 96)
    view = scene.render(Camera(cam))
    ldi = build_ldi(view.image, view.depth, cam)
    moved = Camera(cam, pose_from_center([0.3, 0.0, 0.0]))
    dis = disocclusion_mask(scene, Camera(cam), moved, view.depth)
    dis[:, 100:] = False  # beyond the picture's right border: no layer can hold that
    single = Renderer(ldi.grid_layers()[:1]).render(moved)
    layered = Renderer(ldi.grid_layers()).render(moved)
    assert (single.holes & dis).sum() > 50  # the input alone leaves the disocclusion open
    assert (layered.holes & dis).sum() < 0.1 * (single.holes & dis).sum()
