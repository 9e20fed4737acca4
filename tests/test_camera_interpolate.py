"""Smooth camera paths through key poses (constant speed, smooth turns) and COLMAP-world nerfstudio JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from easel.cameras import (
    CameraPath,
    Intrinsics,
    camera_center,
    invert_pose,
    pose_from_center,
    read_camera_path,
)
from easel.cameras.interpolate import (
    colmap_camera_path_from_dict,
    colmap_camera_path_to_dict,
    read_colmap_camera_path,
    smooth_path,
    write_colmap_camera_path,
)
from easel.errors import InputError

INTR = Intrinsics.from_fov(64, 48, 50.0)


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    forward = (target - center) / np.linalg.norm(target - center)
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    return pose_from_center(center, np.stack([right, np.cross(forward, right), forward], axis=1))


def _arc_keys(count: int = 8, jitter: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    angles = np.radians(np.linspace(-40, 40, count)) + rng.normal(0, jitter, count)
    target = np.array([0.0, 0.0, 4.0])
    return np.stack(
        [_look_at(target + 3.0 * np.array([np.sin(a), -0.2, -np.cos(a)]), target) for a in angles]
    )


def _angles_between(poses: np.ndarray) -> np.ndarray:
    rots = Rotation.from_matrix(poses[:, :3, :3])
    return (rots[1:] * rots[:-1].inv()).magnitude()


def test_starts_and_ends_at_the_keys_and_passes_through_each() -> None:
    keys = _arc_keys(6, jitter=0.05)
    path = smooth_path(keys, 200, INTR, fps=24)
    assert isinstance(path, CameraPath) and len(path) == 200 and path.fps == 24
    np.testing.assert_allclose(path.poses[0], keys[0], atol=1e-9)
    np.testing.assert_allclose(path.poses[-1], keys[-1], atol=1e-9)
    centers = path.centers
    step = np.linalg.norm(np.diff(centers, axis=0), axis=1).max()
    for key in keys[1:-1]:
        nearest = int(np.argmin(np.linalg.norm(centers - camera_center(key), axis=1)))
        assert np.linalg.norm(centers[nearest] - camera_center(key)) <= step
        # and faces the key's way there
        assert Rotation.from_matrix(path.poses[nearest][:3, :3] @ key[:3, :3].T).magnitude() < np.radians(1.0)


def test_constant_speed_and_no_kinks() -> None:
    keys = _arc_keys(8, jitter=0.04)  # unevenly spaced keys
    path = smooth_path(keys, 120, INTR)
    steps = np.linalg.norm(np.diff(path.centers, axis=0), axis=1)
    assert steps.std() / steps.mean() < 0.01
    # smooth: the direction of travel and the view direction turn a little each frame, never abruptly
    accel = np.linalg.norm(np.diff(path.centers, 2, axis=0), axis=1)
    assert accel.max() < 0.1 * steps.mean()
    turn = _angles_between(path.poses)
    assert np.abs(np.diff(turn)).max() < 0.2 * turn.mean()
    # a piecewise-linear path through the same keys has kinks this check would catch
    linear = np.concatenate(
        [
            np.linspace(camera_center(a), camera_center(b), 15, endpoint=False)
            for a, b in zip(keys[:-1], keys[1:], strict=True)
        ]
    )
    assert np.linalg.norm(np.diff(linear, 2, axis=0), axis=1).max() > 0.1 * steps.mean()


def test_easing_and_boomerang() -> None:
    keys = _arc_keys(4)
    eased = smooth_path(keys, 31, INTR, easing="smooth")
    steps = np.linalg.norm(np.diff(eased.centers, axis=0), axis=1)
    assert steps[0] < 0.2 * steps[15] and steps[-1] < 0.2 * steps[15]
    loop = smooth_path(keys, 40, INTR, boomerang=True)
    np.testing.assert_allclose(loop.poses[0], keys[0], atol=1e-9)
    np.testing.assert_allclose(loop.poses[20], keys[-1], atol=1e-9)
    np.testing.assert_allclose(loop.poses[10], loop.poses[30], atol=1e-9)


def test_turning_on_the_spot_is_spaced_by_angle() -> None:
    center = np.array([0.5, 0.0, 0.0])
    keys = np.stack(
        [pose_from_center(center, Rotation.from_euler("y", a, degrees=True).as_matrix()) for a in (0, 10, 60)]
    )
    path = smooth_path(keys, 25, INTR)
    np.testing.assert_allclose(path.centers, np.tile(center, (25, 1)), atol=1e-9)
    turn = _angles_between(path.poses)
    assert turn.std() / turn.mean() < 0.05 and np.degrees(turn.sum()) == pytest.approx(60.0, rel=0.02)


def test_one_key_two_keys_and_bad_input() -> None:
    key = pose_from_center([1.0, 2.0, 3.0])
    still = smooth_path(key[None], 5, INTR)
    assert all(np.allclose(p, key) for p in still.poses)
    two = smooth_path(np.stack([key, pose_from_center([1.0, 2.0, 5.0])]), 5, INTR)
    np.testing.assert_allclose(two.centers[:, 2], [3.0, 3.5, 4.0, 4.5, 5.0], atol=1e-6)
    assert len(smooth_path(np.stack([key, key]), 1, INTR)) == 1
    with pytest.raises(InputError, match=r"shape \(K, 4, 4\)"):
        smooth_path(np.zeros((0, 4, 4)), 5, INTR)
    bad = key.copy()
    bad[0, 0] = 2.0
    with pytest.raises(InputError, match="key pose 1: rotation is not orthonormal"):
        smooth_path(np.stack([key, bad]), 5, INTR)
    with pytest.raises(InputError, match="at least one frame"):
        smooth_path(key[None], 0, INTR)


def test_nerfstudio_json_in_the_colmap_world(tmp_path: Path) -> None:
    keys = _arc_keys(5)
    path = smooth_path(keys, 9, INTR, fps=12)
    data = colmap_camera_path_to_dict(path)
    for pose, cam in zip(path.poses, data["camera_path"], strict=True):
        c2w_gl = np.reshape(cam["camera_to_world"], (4, 4))
        # the COLMAP world unchanged, only the camera axes flipped (y up, z backward)
        np.testing.assert_allclose(c2w_gl, invert_pose(pose) @ np.diag([1.0, -1.0, -1.0, 1.0]), atol=1e-12)
        # an OpenGL camera looks down its -z: the same world direction as the OpenCV camera's +z
        np.testing.assert_allclose(-c2w_gl[:3, 2], invert_pose(pose)[:3, 2], atol=1e-12)
    file = write_colmap_camera_path(tmp_path / "path.json", path)
    back = read_colmap_camera_path(file)
    np.testing.assert_allclose(back.poses, path.poses, atol=1e-12)
    assert back.fps == 12 and back.output_shape == (48, 64) and back.source == str(file)
    np.testing.assert_allclose(
        colmap_camera_path_from_dict(json.loads(file.read_text())).poses, path.poses, atol=1e-12
    )
    # the single-image reader (input camera's world, world axes flipped too) reads other poses
    assert not np.allclose(read_camera_path(file).poses, path.poses, atol=1e-3)
    bad = json.loads(file.read_text())
    del bad["camera_path"][2]["fov"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match=r"bad\.json: camera_path\[2\] has no 'fov' key"):
        read_colmap_camera_path(tmp_path / "bad.json")
