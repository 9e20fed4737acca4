"""Behaviour of ``easel.cameras.paths.CameraPath`` that the mutation run (docs/mutation.md)
found untested: indexing and iteration give posed cameras, ``with_intrinsics`` keeps the
frame rate, the checks of poses, intrinsics and frame rate and their one-line messages, the
default boomerang and the cosine easing of ``path_progress``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from easel.cameras import Intrinsics, pose_from_center
from easel.cameras.paths import CameraPath, path_progress
from easel.errors import InputError


def _path() -> CameraPath:
    poses = np.stack([pose_from_center([0.0, 0.0, z]) for z in (0.0, 0.5, 1.0)])
    per_frame = [Intrinsics.from_fov(64, 48, fov) for fov in (50.0, 60.0, 70.0)]
    return CameraPath(poses, per_frame, fps=12.0, source="path.json")


def test_indexing_and_iterating_give_each_frames_pose_and_intrinsics() -> None:
    path = _path()
    cameras = list(path)
    assert len(cameras) == 3
    for i, camera in enumerate(cameras):
        assert camera.intrinsics is path.intrinsics_at(i)
        np.testing.assert_array_equal(camera.world_to_camera, path.poses[i])
    np.testing.assert_allclose(path[2].center, [0.0, 0.0, 1.0], atol=1e-12)
    assert path[1].intrinsics.fx != path[0].intrinsics.fx


def test_with_intrinsics_keeps_poses_frame_rate_and_source() -> None:
    path = _path()
    other = path.with_intrinsics(Intrinsics.default(32, 24))
    assert other.fps == 12.0 and other.duration_s == path.duration_s
    assert other.source == "path.json" and other.output_shape == (24, 32)
    np.testing.assert_array_equal(other.poses, path.poses)


@pytest.mark.parametrize("fps", [0.0, -1.0, math.inf, math.nan])
def test_a_frame_rate_must_be_positive_and_finite(fps: float) -> None:
    with pytest.raises(InputError, match="fps must be positive"):
        CameraPath(np.stack([np.eye(4)]), Intrinsics.default(8, 6), fps=fps)


def test_a_fractional_frame_rate_is_fine() -> None:
    assert CameraPath(np.stack([np.eye(4)] * 3), Intrinsics.default(8, 6), fps=0.5).duration_s == 6.0


@pytest.mark.parametrize("shape", [(0, 4, 4), (2, 3, 4), (4, 4), (2, 4, 4, 1)])
def test_poses_must_be_a_non_empty_stack_of_4x4(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError, match=r"^camera path poses must have shape \(N, 4, 4\) with N >= 1; got"):
        CameraPath(np.zeros(shape), Intrinsics.default(8, 6))


def test_messages_name_the_source_when_there_is_one() -> None:
    two = [Intrinsics.default(8, 6)] * 2
    with pytest.raises(InputError, match=r"^path\.json: camera path has 3 poses but 2 intrinsics$"):
        CameraPath(np.stack([np.eye(4)] * 3), two, source="path.json")
    with pytest.raises(InputError, match=r"^camera path has 3 poses but 2 intrinsics$"):
        CameraPath(np.stack([np.eye(4)] * 3), two)
    with pytest.raises(InputError, match=r"^fps must be positive; got 0"):
        CameraPath(np.stack([np.eye(4)]), two[0], fps=0)


def test_path_progress_is_a_boomerang_by_default_and_eases_with_a_cosine() -> None:
    np.testing.assert_allclose(path_progress(4, easing="linear"), [0.0, 0.5, 1.0, 0.5])
    s = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(path_progress(5, boomerang=False), 0.5 - 0.5 * np.cos(np.pi * s), atol=1e-12)
