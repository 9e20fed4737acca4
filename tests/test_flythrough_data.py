"""The synthetic multi-view dataset: exact renders, true cameras in a COLMAP model, a dense visible cloud."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from easel.cameras import Intrinsics, camera_center, read_colmap_model, unproject
from easel.errors import InputError
from easel.flythrough.synthetic import (
    arc_poses,
    cast_rays,
    render_view,
    sample_surface_points,
    scene_surfaces,
    write_synthetic_scene,
)
from easel.io.images import read_image


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return write_synthetic_scene(tmp_path_factory.mktemp("syn"), num_views=8, shape=(48, 64), points=6000)


def test_dataset_files_and_truth(scene) -> None:  # type: ignore[no-untyped-def]
    assert sorted(p.name for p in scene.images_dir.iterdir()) == [f"view_{i:03d}.png" for i in range(8)]
    model = read_colmap_model(scene.folder)  # finds sparse/0
    assert model.image_names() == scene.names and model.num_points == 6000
    assert model.cameras[1].intrinsics() == scene.intrinsics
    truth = json.loads(scene.truth_path.read_text())
    for image in model.images.values():
        i = scene.names.index(image.name)
        np.testing.assert_allclose(image.world_to_camera(), scene.poses[i], atol=1e-12)
        np.testing.assert_allclose(np.reshape(truth["views"][i]["world_to_camera"], (4, 4)), scene.poses[i])
        assert truth["views"][i]["exposure"] == pytest.approx(scene.exposures[i])
    # exposures differ from view to view (by up to half a stop either way)
    assert np.ptp(np.log2(scene.exposures)) > 0.2 and np.all(np.abs(np.log2(scene.exposures)) <= 0.5)


def test_written_images_are_the_exact_renders(scene) -> None:  # type: ignore[no-untyped-def]
    for i in (0, 5):
        written = read_image(scene.images_dir / scene.names[i]).rgb
        exact = scene.render(i)
        assert np.abs(written - exact).max() <= 0.5 / 255 + 1e-6
        neutral = scene.render(i, neutral=True)
        expected = np.clip(neutral * scene.exposures[i] * scene.white_balance[i], 0, 1)
        np.testing.assert_allclose(exact, expected, atol=1e-5)


def test_render_follows_easels_camera_convention() -> None:
    poses, intr = arc_poses(5, shape=(24, 32))
    pose = poses[3]
    # rays through the pixel centres, built with easel.cameras.unproject (centres at +0.5)
    points = unproject(np.ones(intr.shape), intr, pose).reshape(-1, 3).astype(np.float64)
    center = camera_center(pose)
    radiance, t = cast_rays(center, points - center, scene_surfaces(0))
    image = render_view(pose, intr, supersample=1)
    np.testing.assert_allclose(image.reshape(-1, 3), np.clip(radiance, 0, 1), atol=5e-5)  # float32 rays
    assert np.isfinite(t).all()  # the closed room: every ray of every arc camera hits a surface


def test_every_arc_view_sees_only_surfaces() -> None:
    poses, intr = arc_poses(24, shape=(12, 16))
    for pose in poses[::4]:
        points = unproject(np.ones(intr.shape), intr, pose).reshape(-1, 3).astype(np.float64)
        center = camera_center(pose)
        _, t = cast_rays(center, points - center, scene_surfaces(0))
        assert np.isfinite(t).all()


def test_point_colours_are_what_the_cameras_see() -> None:
    poses, _ = arc_poses(8)
    xyz, rgb = sample_surface_points(0, 3000, visible_from=poses)
    assert xyz.shape == (3000, 3) and rgb.dtype == np.uint8
    # each point is seen unoccluded from some camera, with its colour
    center = camera_center(poses[4])
    radiance, t = cast_rays(center, xyz - center, scene_surfaces(0))
    visible = np.abs(t - 1.0) < 1e-7
    assert visible.mean() > 0.3
    assert np.abs(radiance[visible] * 255 - rgb[visible]).max() <= 0.5 + 1e-6
    # no point under a box or behind a poster: all of them are visible from one of the cameras
    seen = np.zeros(len(xyz), dtype=bool)
    for pose in poses:
        c = camera_center(pose)
        seen |= cast_rays(c, xyz - c, scene_surfaces(0))[1] >= 1.0 - 1e-7
    assert seen.all()
    # without the visibility filter, points under the boxes exist
    all_xyz, _ = sample_surface_points(0, 20000)
    under_box_a = (
        (np.abs(all_xyz[:, 0] + 1.1) < 0.3) & (np.abs(all_xyz[:, 2] - 4.3) < 0.3) & (all_xyz[:, 1] == 1.0)
    )
    assert under_box_a.any()
    under_box_a_visible = (
        (np.abs(xyz[:, 0] + 1.1) < 0.3) & (np.abs(xyz[:, 2] - 4.3) < 0.3) & (xyz[:, 1] == 1.0)
    )
    assert not under_box_a_visible.any()


def test_seed_and_supersampling() -> None:
    poses, intr = arc_poses(3, shape=(24, 32))
    a = render_view(poses[1], intr, seed=0)
    assert np.array_equal(a, render_view(poses[1], intr, seed=0))
    assert np.abs(a - render_view(poses[1], intr, seed=1)).mean() > 0.02  # other procedural textures
    # supersampling averages: close to, not equal to, the pixel-centre render
    centre = render_view(poses[1], intr, supersample=1)
    assert 0 < np.abs(a - centre).mean() < 0.15


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="at least 2 views"):
        arc_poses(1)
    with pytest.raises(InputError, match="supersample"):
        render_view(np.eye(4), Intrinsics.default(8, 8), supersample=0)
    with pytest.raises(InputError, match="at least 8x8"):
        write_synthetic_scene(Path("unused"), shape=(4, 4))
