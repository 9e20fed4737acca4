"""Similarity alignment (Umeyama, and by orientations) and pose errors against reference cameras."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from easel.cameras import ColmapCamera, ColmapImage, ColmapModel, camera_center
from easel.errors import InputError
from easel.flythrough.alignment import (
    Similarity,
    align_poses,
    align_similarity,
    model_pose_errors,
    pose_errors,
)
from easel.flythrough.synthetic import arc_poses


def _random_similarity(seed: int) -> Similarity:
    rng = np.random.default_rng(seed)
    return Similarity(
        float(rng.uniform(0.2, 5.0)), Rotation.random(random_state=seed).as_matrix(), rng.normal(size=3)
    )


def test_umeyama_recovers_a_similarity() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(10, 3))
    truth = _random_similarity(1)
    found = align_similarity(pts, truth.apply(pts))
    assert found.scale == pytest.approx(truth.scale)
    np.testing.assert_allclose(found.rotation, truth.rotation, atol=1e-10)
    np.testing.assert_allclose(found.translation, truth.translation, atol=1e-10)
    # a mirrored target is fitted with a rotation, never a reflection
    mirrored = align_similarity(pts, pts * np.array([1.0, 1.0, -1.0]))
    assert np.linalg.det(mirrored.rotation) == pytest.approx(1.0)
    rigid = align_similarity(pts, truth.apply(pts), with_scale=False)
    assert rigid.scale == 1.0


def test_alignment_refuses_degenerate_points() -> None:
    line = np.outer(np.arange(5.0), [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="on one line"):
        align_similarity(line, line)
    with pytest.raises(InputError, match="at least 3"):
        align_similarity(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(InputError, match="equal shape"):
        align_similarity(np.zeros((4, 3)), np.zeros((5, 3)))


def test_pose_errors_of_similar_cameras_are_zero_and_perturbations_show() -> None:
    ref, _ = arc_poses(8)
    sim = _random_similarity(2)
    est = np.stack([sim.apply_pose(p) for p in ref])  # the same cameras in another world
    for align in ("poses", "centers"):
        errs = pose_errors(est, ref, align=align)
        assert errs.rotation_deg.max() < 1e-6 and errs.position.max() < 1e-9
    # the estimate's world maps onto the reference's by the inverse similarity
    found = align_poses(est, ref)
    np.testing.assert_allclose(
        found.apply(sim.apply(camera_center(ref[3]))), camera_center(ref[3]), atol=1e-9
    )
    # one camera turned by 2 degrees: that camera alone is 2 degrees off (centres fix the alignment)
    turned = est.copy()
    center = camera_center(turned[5])
    turned[5, :3, :3] = Rotation.from_euler("x", 2.0, degrees=True).as_matrix() @ turned[5, :3, :3]
    turned[5, :3, 3] = -turned[5, :3, :3] @ center  # turned on the spot
    errs = pose_errors(turned, ref, align="centers")
    assert errs.rotation_deg[5] == pytest.approx(2.0, abs=1e-6)
    assert np.delete(errs.rotation_deg, 5).max() < 1e-6
    # without alignment the other world is all error
    assert pose_errors(est, ref, align=False).rotation_deg.min() > 1.0
    with pytest.raises(InputError, match="align must be"):
        pose_errors(est, ref, align="nope")


def test_orientation_alignment_beats_centres_on_an_arc() -> None:
    # centres with millimetre noise pin the rotation about the arc's chord down poorly
    ref, _ = arc_poses(24)
    rng = np.random.default_rng(3)
    est = ref.copy()
    for pose in est:
        pose[:3, 3] += rng.normal(0.0, 0.003, 3)
    by_centres = pose_errors(est, ref, align="centers").rotation_deg.max()
    by_poses = pose_errors(est, ref, align="poses").rotation_deg.max()
    assert by_poses < 1e-6 < by_centres


def test_model_pose_errors_match_images_by_name() -> None:
    ref_poses, intr = arc_poses(6)
    cam = {1: ColmapCamera.from_intrinsics(1, intr)}
    sim = _random_similarity(4)
    reference = ColmapModel(
        cam, {i + 1: ColmapImage.from_pose(i + 1, p, 1, f"v{i}.png") for i, p in enumerate(ref_poses)}
    )
    # the estimate has other ids, lacks v2.png
    estimated = ColmapModel(
        cam,
        {
            10 + i: ColmapImage.from_pose(10 + i, sim.apply_pose(p), 1, f"v{i}.png")
            for i, p in enumerate(ref_poses)
            if i != 2
        },
    )
    errs = model_pose_errors(estimated, reference)
    assert errs.names == ["v0.png", "v1.png", "v3.png", "v4.png", "v5.png"] and errs.missing == ["v2.png"]
    assert errs.summary()["rotation_deg_max"] < 1e-6 and errs.summary()["num_missing"] == 1.0
    by_dict = model_pose_errors(
        estimated, {img.name: img.world_to_camera() for img in reference.images.values()}
    )
    assert by_dict.names == errs.names
    lonely = ColmapModel(cam, {1: ColmapImage.from_pose(1, ref_poses[0], 1, "v0.png")})
    with pytest.raises(InputError, match="only 1 images in common"):
        model_pose_errors(lonely, reference)
