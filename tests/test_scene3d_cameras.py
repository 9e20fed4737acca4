"""Ken Burns camera geometry (easel.scene3d.autozoom) and the path checks that assume an input camera."""

from __future__ import annotations

import numpy as np
import pytest

from easel.cameras import CameraPath, Intrinsics, path_progress, pose_from_center
from easel.errors import InputError
from easel.scene3d.autozoom import (
    MAX_ZOOM,
    autozoom_shift,
    check_shift,
    crop_limits,
    focus_depth,
    kenburns_path,
    shift_limits,
    zoom_target,
)
from easel.scene3d.kenburns import check_path_in_front, check_path_limits


def test_path_progress_and_kenburns_path() -> None:
    assert path_progress(4, boomerang=True, easing="linear").tolist() == [0.0, 0.5, 1.0, 0.5]
    one_way = path_progress(5, boomerang=False)
    assert one_way[0] == 0.0 and one_way[-1] == 1.0
    intr = Intrinsics.default(100, 50)
    path = kenburns_path(
        intr, focus_depth=2.0, zoom=2.0, shift=(0.1, 0.0), num_frames=3, boomerang=False, fps=10
    )
    end = path.centers[-1]
    assert end[2] == pytest.approx(1.0)  # zoom 2 on depth 2: move halfway
    assert end[0] == pytest.approx(0.1 * 100 * 2.0 / 50.0)
    np.testing.assert_allclose(path.poses[0], np.eye(4))
    assert path.duration_s == pytest.approx(0.3)
    with pytest.raises(InputError, match="zoom"):
        kenburns_path(intr, 2.0, zoom=0.5)


def test_path_validation() -> None:
    intr = Intrinsics.default(32, 24)
    behind = CameraPath(np.stack([np.eye(4), pose_from_center([0.0, 0.0, -0.5])]), intr)
    with pytest.raises(InputError, match=r"camera path\[1\] moves behind the input camera"):
        check_path_in_front(behind, near_depth=2.0)
    through = CameraPath(np.stack([pose_from_center([0.0, 0.0, 2.5])]), intr)
    with pytest.raises(InputError, match="through the nearest surface"):
        check_path_in_front(through, near_depth=2.0)
    check_path_in_front(CameraPath(np.stack([pose_from_center([0.3, 0.0, 0.5])]), intr), 2.0)


def test_autozoom_shift_picks_best_coverage() -> None:
    (sx, sy), score = autozoom_shift(
        lambda s: 1.0 - abs(s[0] - 0.05) - abs(s[1] + 0.1), max_shift=0.1, grid=5
    )
    assert (sx, sy) == (0.05, -0.1) and score == pytest.approx(1.0)


def test_autozoom_keeps_the_end_window_inside_the_image() -> None:
    limits = crop_limits(1024, 768, 1.25)
    assert limits == pytest.approx((0.1, 0.075))
    # the best coverage lies outside the vertical limit: the reference's rule skips it
    (sx, sy), _ = autozoom_shift(lambda s: -abs(s[1] - 0.1), max_shift=100 / 1024, grid=16, limits=limits)
    assert abs(sy) <= 0.075 and sy == pytest.approx(
        max(v for v in np.linspace(-100 / 1024, 100 / 1024, 16) if v <= 0.075)
    )
    # no zoom: nothing but the centre fits
    assert autozoom_shift(lambda s: 1.0, grid=4, limits=crop_limits(64, 48, 1.0))[0] == (0.0, 0.0)


def test_focus_depth_ignores_the_border() -> None:
    depth = np.full((80, 120), 5.0)
    depth[:, :10] = 1.0  # a foreground object cut by the left edge
    depth[30:50, 50:70] = 3.0  # the subject
    assert focus_depth(depth) == pytest.approx(3.0)
    assert float(np.percentile(depth, 1.0)) == pytest.approx(1.0)


def test_path_checks_name_the_camera_path_file() -> None:
    intr = Intrinsics.default(32, 24)
    behind = CameraPath(np.stack([np.eye(4), pose_from_center([0.0, 0.0, -0.5])]), intr, source="fly.json")
    with pytest.raises(InputError, match=r"^fly.json: camera_path\[1\] moves behind the input camera"):
        check_path_in_front(behind, near_depth=2.0)
    huge = CameraPath(np.eye(4)[None], Intrinsics.default(100_000, 100_000), source="fly.json")
    with pytest.raises(InputError, match=r"^fly.json: render size 100000x100000 is too large \(at most 8192"):
        check_path_limits(huge)
    check_path_limits(huge, check_size=False)  # an output size given apart replaces the file's
    fast = CameraPath(np.eye(4)[None], intr, fps=5000.0, source="fly.json")
    with pytest.raises(InputError, match="fly.json: fps must be at most 1000"):
        check_path_limits(fast)


def test_shift_limits_refuse_views_off_the_picture() -> None:
    assert shift_limits(1024, 768) == pytest.approx((0.5, 0.375))
    assert shift_limits(600, 800) == pytest.approx((0.375, 0.5))
    assert check_shift((0.5, -0.375), 1024, 768) == (0.5, -0.375)
    with pytest.raises(InputError, match=r"^shift 5,5 moves the view off the picture .*at most 0.5,0.375"):
        check_shift((5.0, 5.0), 1024, 768)
    with pytest.raises(InputError, match="shift 0,-0.4 moves the view off"):
        check_shift((0.0, -0.4), 1024, 768)
    with pytest.raises(InputError, match="finite"):
        check_shift((float("nan"), 0.0), 1024, 768)
    # the limit is where the end window's centre leaves the picture: at the focus plane the
    # window moves by shift * long side input pixels, so the centre sits on the border
    path = kenburns_path(Intrinsics.default(1024, 768), 2.0, 1.25, (0.5, 0.0), num_frames=2, boomerang=False)
    from easel.cameras import project

    uv, _ = project([[0.0, 0.0, 2.0]], Intrinsics.default(1024, 768), path.poses[0])
    end_uv, _ = project([[0.5 * 1024 * 2.0 / 512, 0.0, 2.0]], path.intrinsics_at(1), path.poses[1])
    assert end_uv[0].tolist() == pytest.approx(uv[0].tolist())  # the border point is centred


def test_zoom_target_stops_short_of_the_nearest_surface() -> None:
    assert MAX_ZOOM == pytest.approx(10.0)
    assert zoom_target(3.0, 1.0, 1.25) == (3.0, 1.25)  # the move 0.6 stays below 0.9 x nearest
    plane, achieved = zoom_target(2.0, 1.0, 4.0)
    assert plane * (1 - 1 / 4.0) == pytest.approx(0.9)  # the camera stops at 90 % of the nearest depth
    assert achieved == pytest.approx(2.0 / (2.0 - 0.9))
    assert zoom_target(1.0, 1.0, 10.0)[1] == pytest.approx(10.0)  # subject = nearest: 10x is the limit
    assert zoom_target(1.0, 1.0, 1.0) == (1.0, 1.0)
    assert path_progress(1).tolist() == [0.0]
