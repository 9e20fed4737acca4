"""The shared camera layer (easel.cameras): intrinsics, poses, camera paths, nerfstudio camera-path JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from easel.cameras import (
    CameraPath,
    Intrinsics,
    camera_center,
    camera_path_from_dict,
    camera_path_to_dict,
    check_pose,
    intrinsics_from_exif,
    invert_pose,
    opencv_to_opengl_c2w,
    opengl_to_opencv_c2w,
    path_progress,
    pose_from_center,
    project,
    read_camera_path,
    resolve_intrinsics,
    unproject,
    write_camera_path,
)
from easel.errors import InputError


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def test_projection_unprojection_round_trip() -> None:
    rng = np.random.default_rng(0)
    intr = Intrinsics(70.0, 65.0, 31.0, 22.5, 64, 48)
    depth = rng.uniform(0.5, 20.0, (48, 64)).astype(np.float32)
    pose = pose_from_center([0.3, -0.2, 0.1], _rotation(np.array([0.2, 1.0, 0.1]), 0.3))
    pts = unproject(depth, intr, pose)
    uv, z = project(pts, intr, pose)
    cols, rows = np.meshgrid(np.arange(64) + 0.5, np.arange(48) + 0.5)
    np.testing.assert_allclose(uv[..., 0], cols, atol=2e-3)
    np.testing.assert_allclose(uv[..., 1], rows, atol=2e-3)
    np.testing.assert_allclose(z, depth, rtol=1e-5)


def test_pixel_centres_at_half() -> None:
    intr = Intrinsics.from_focal(4, 2, 2.0)
    uv, z = project([[0.0, 0.0, 1.0]], intr)
    assert uv.tolist() == [[2.0, 1.0]]  # the optical axis hits the image centre, a pixel corner here
    pts = unproject(np.ones((2, 4)), intr)
    assert pts[0, 0].tolist() == pytest.approx([-0.75, -0.25, 1.0])


def test_intrinsics_fov_and_resize() -> None:
    intr = Intrinsics.from_fov(640, 480, 60.0)
    assert intr.fov_y == pytest.approx(60.0)
    same = intr.resized(320, 240)
    assert same.fov_y == pytest.approx(60.0) and same.cx == 160.0
    wide = intr.resized(1280, 480)  # covers: scale 2 crops the height
    assert wide.fy == pytest.approx(2 * intr.fy)
    assert Intrinsics.default(1024, 768).fx == 512.0
    with pytest.raises(InputError, match="fov"):
        Intrinsics.from_fov(10, 10, 190.0)


def test_intrinsics_from_exif(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    img = Image.new("RGB", (40, 30))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 36
    path = tmp_path / "photo.jpg"
    img.save(path, exif=exif)
    intr = intrinsics_from_exif(path, 40, 30)
    assert intr is not None and intr.fx == pytest.approx(40.0)
    plain = tmp_path / "plain.png"
    img.save(plain)
    assert intrinsics_from_exif(plain, 40, 30) is None


def test_check_pose_rejects_bad_rotations() -> None:
    bad = np.eye(4)
    bad[0, 0] = 1.2
    with pytest.raises(InputError, match="not orthonormal"):
        check_pose(bad, "camera_path[3]")
    mirror = np.diag([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(InputError, match="determinant"):
        check_pose(mirror)
    with pytest.raises(InputError, match="4x4"):
        check_pose(np.eye(3))
    rot = np.eye(4)
    rot[:3, :3] = _rotation(np.array([1.0, 2.0, 3.0]), 1.0)
    np.testing.assert_allclose(invert_pose(rot) @ rot, np.eye(4), atol=1e-12)


def test_opengl_conversion() -> None:
    np.testing.assert_allclose(opengl_to_opencv_c2w(np.eye(4)), np.eye(4))
    gl = np.eye(4)
    gl[2, 3] = 1.0  # OpenGL +z is backwards: the camera steps back
    cv = opengl_to_opencv_c2w(gl)
    assert cv[2, 3] == -1.0
    np.testing.assert_allclose(opencv_to_opengl_c2w(cv), gl)


def _nerfstudio_dict() -> dict:  # type: ignore[type-arg]
    c2w = np.eye(4)
    c2w[:3, :3] = _rotation(np.array([0.0, 1.0, 0.0]), 0.1)
    c2w[:3, 3] = [0.1, 0.05, -0.2]  # OpenGL: -z is forward
    return {
        "camera_type": "perspective",
        "render_width": 64,
        "render_height": 48,
        "fps": 12,
        "camera_path": [
            {"camera_to_world": np.eye(4).reshape(-1).tolist(), "fov": 50.0, "aspect": 4 / 3},
            {"camera_to_world": c2w.reshape(-1).tolist(), "fov": 50.0, "aspect": 4 / 3},
        ],
    }


def test_camera_path_json_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _nerfstudio_dict()
    src = tmp_path / "path.json"
    src.write_text(json.dumps(data))
    path = read_camera_path(src)
    assert len(path) == 2 and path.fps == 12 and path.output_shape == (48, 64)
    np.testing.assert_allclose(path.poses[0], np.eye(4), atol=1e-12)
    assert camera_center(path.poses[1])[2] == pytest.approx(0.2)  # forward in OpenCV
    assert path.intrinsics_at(1).fov_y == pytest.approx(50.0)
    out = tmp_path / "again.json"
    write_camera_path(out, path)
    again = read_camera_path(out)
    np.testing.assert_allclose(again.poses, path.poses, atol=1e-12)
    assert again.intrinsics_at(0) == path.intrinsics_at(0)
    written = json.loads(out.read_text())["camera_path"][1]["camera_to_world"]
    np.testing.assert_allclose(written, data["camera_path"][1]["camera_to_world"], atol=1e-12)
    assert camera_path_to_dict(again)["render_width"] == 64


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["camera_path"][1].pop("camera_to_world"),
            r"camera_path\[1\] has no 'camera_to_world' key",
        ),
        (lambda d: d["camera_path"][0].pop("fov"), r"camera_path\[0\] has no 'fov' key"),
        (lambda d: d.pop("camera_path"), "has no 'camera_path' key"),
        (lambda d: d.pop("render_width"), "has no 'render_width' key"),
        (
            lambda d: d["camera_path"][1].__setitem__("camera_to_world", [1.0] * 16),
            "last row|not orthonormal",
        ),
        (lambda d: d["camera_path"][1].__setitem__("camera_to_world", [1.0] * 5), "16 numbers"),
        (
            lambda d: d["camera_path"][1].__setitem__(
                "camera_to_world", (np.eye(4) * [2, 1, 1, 1]).reshape(-1).tolist()
            ),
            "not orthonormal",
        ),
    ],
)
def test_camera_path_json_errors(edit, message) -> None:  # type: ignore[no-untyped-def]
    data = _nerfstudio_dict()
    edit(data)
    with pytest.raises(InputError, match=message):
        camera_path_from_dict(data)


def test_camera_path_json_bad_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_camera_path(bad)
    with pytest.raises(InputError, match="no such file"):
        read_camera_path(tmp_path / "missing.json")


def test_camera_path_fov_errors_name_the_file_and_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _nerfstudio_dict()
    data["camera_path"][1]["fov"] = 0
    src = tmp_path / "clip.json"
    src.write_text(json.dumps(data))
    with pytest.raises(
        InputError, match=r"clip.json: camera_path\[1\].fov must be between 0 and 180"
    ) as info:
        read_camera_path(src)
    assert "--fov" not in str(info.value)
    data["camera_path"][1]["fov"] = "wide"
    with pytest.raises(InputError, match=r"camera_path\[1\].fov must be a number"):
        camera_path_from_dict(data, source="clip.json")


def test_read_camera_path_keeps_its_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "path.json"
    src.write_text(json.dumps(_nerfstudio_dict()))
    path = read_camera_path(src)
    assert path.source == str(src)
    assert path.with_intrinsics(Intrinsics.default(32, 24)).source == str(src)
    with pytest.raises(InputError, match="is a folder"):
        read_camera_path(tmp_path)
    with pytest.raises(InputError, match=r"^x.json: camera_path\[0\]"):
        CameraPath(np.eye(4)[None] * 2, Intrinsics.default(8, 6), source="x.json")


def test_resolve_intrinsics_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 36  # 36 mm equivalent: focal = the long side
    Image.new("RGB", (40, 30)).save(photo, exif=exif)
    intr, source = resolve_intrinsics(40, 30, fov=60.0, exif_path=photo)
    assert source == "fov 60" and intr.fov_y == pytest.approx(60.0)
    intr, source = resolve_intrinsics(40, 30, focal=25.0, exif_path=photo)
    assert source == "focal 25 px" and intr.fx == 25.0
    intr, source = resolve_intrinsics(40, 30, exif_path=photo)
    assert source == "EXIF focal length" and intr.fx == pytest.approx(40.0)
    intr, source = resolve_intrinsics(40, 30)
    assert source.startswith("default") and intr.fx == 20.0
    with pytest.raises(InputError, match="^fov must be between 0 and 180"):
        resolve_intrinsics(40, 30, fov=0.0)
    with pytest.raises(InputError, match="^fov_deg must be between 0 and 180"):
        Intrinsics.from_fov(40, 30, 180.0)


def test_path_progress() -> None:
    assert path_progress(4, boomerang=True, easing="linear").tolist() == [0.0, 0.5, 1.0, 0.5]
    with pytest.raises(InputError, match="easing"):
        path_progress(3, easing="bouncy")  # type: ignore[arg-type]


def test_camera_layer_does_not_import_scene3d() -> None:
    import subprocess
    import sys

    code = "import sys, easel.cameras; print(any(m.startswith('easel.scene3d') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
