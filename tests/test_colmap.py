"""COLMAP sparse models: text and binary read/write round trips, COLMAP's own files, bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pycolmap
import pytest

from easel.cameras import (
    ColmapCamera,
    ColmapImage,
    ColmapModel,
    Intrinsics,
    qvec_to_rotmat,
    read_colmap_model,
    rotmat_to_qvec,
    write_colmap_model,
)
from easel.errors import InputError


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _model(seed: int = 0, with_tracks: bool = True) -> ColmapModel:
    rng = np.random.default_rng(seed)
    cameras = {
        1: ColmapCamera(1, "PINHOLE", 64, 48, np.array([50.1, 49.9, 32.2, 23.7])),
        3: ColmapCamera(3, "SIMPLE_RADIAL", 80, 60, np.array([61.0, 40.0, 30.0, -0.0123456789012345])),
        4: ColmapCamera(4, "OPENCV", 80, 60, rng.normal(size=8)),
    }
    n_points = 7
    images = {}
    for iid, cid in ((2, 1), (5, 3), (9, 4)):
        m = 6
        ids = rng.integers(-1, n_points, size=m).astype(np.int64)
        ids[ids >= 0] += 100
        images[iid] = ColmapImage(
            iid,
            rotmat_to_qvec(_random_rotation(rng)),
            rng.normal(size=3) * 1e3,
            cid,
            f"frame_{iid:03d}.png",
            rng.uniform(0, 60, size=(m, 2)),
            ids,
        )
    images[11] = ColmapImage(
        11, np.array([1.0, -0.0, 0.0, 0.0]), np.array([1e-300, 0.1, 3.0]), 1, "empty.png"
    )
    tracks = (
        [rng.integers(0, 12, size=(k, 2)).astype(np.int64) for k in range(n_points)] if with_tracks else None
    )
    return ColmapModel(
        cameras,
        images,
        rng.normal(size=(n_points, 3)),
        rng.integers(0, 256, size=(n_points, 3)).astype(np.uint8),
        rng.uniform(0, 2, size=n_points),
        np.arange(100, 100 + n_points, dtype=np.int64),
        tracks,
    )


def _assert_same(a: ColmapModel, b: ColmapModel) -> None:
    assert a.cameras.keys() == b.cameras.keys() and a.images.keys() == b.images.keys()
    for cid, cam in a.cameras.items():
        other = b.cameras[cid]
        assert (cam.model, cam.width, cam.height) == (other.model, other.width, other.height)
        assert cam.params.tobytes() == other.params.tobytes()  # bit-exact, -0.0 included
    for iid, img in a.images.items():
        other = b.images[iid]
        assert (img.name, img.camera_id) == (other.name, other.camera_id)
        for field in ("qvec", "tvec", "xys", "point3d_ids"):
            assert getattr(img, field).tobytes() == getattr(other, field).tobytes(), field
    for field in ("points_xyz", "points_rgb", "points_error", "point_ids"):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes(), field
    assert [t.tolist() for t in a.tracks()] == [t.tolist() for t in b.tracks()]


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_is_exact(tmp_path: Path, binary: bool) -> None:
    model = _model()
    folder = write_colmap_model(model, tmp_path / "sparse" / "0", binary=binary)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{n}.{'bin' if binary else 'txt'}" for n in ("cameras", "images", "points3D")
    )
    back = read_colmap_model(folder)
    _assert_same(model, back)
    # the project folder is accepted too (the model in sparse/0)
    _assert_same(model, read_colmap_model(tmp_path))


def test_text_and_binary_hold_the_same_model(tmp_path: Path) -> None:
    model = _model(seed=3)
    via_text = read_colmap_model(write_colmap_model(model, tmp_path / "t"))
    write_colmap_model(via_text, tmp_path / "b", binary=True)
    write_colmap_model(model, tmp_path / "b2", binary=True)
    for name in ("cameras.bin", "images.bin", "points3D.bin"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "b2" / name).read_bytes()


def test_tracks_are_derived_from_the_images_when_not_given(tmp_path: Path) -> None:
    model = _model(with_tracks=False)
    back = read_colmap_model(write_colmap_model(model, tmp_path / "m", binary=True))
    for pid, track in zip(back.point_ids, back.tracks(), strict=True):
        for image_id, idx in track:
            assert back.images[int(image_id)].point3d_ids[idx] == pid
    observed = sum(int((img.point3d_ids >= 0).sum()) for img in model.images.values())
    assert sum(len(t) for t in back.tracks()) == observed


def test_colmap_reads_what_easel_writes_and_easel_reads_colmap(tmp_path: Path) -> None:
    options = pycolmap.SyntheticDatasetOptions()
    options.num_points3D = 15
    options.num_frames_per_rig = 3
    rec = pycolmap.synthesize_dataset(options)
    for folder in ("colmap_bin", "colmap_txt"):
        (tmp_path / folder).mkdir()
    rec.write_binary(str(tmp_path / "colmap_bin"))
    rec.write_text(str(tmp_path / "colmap_txt"))
    for folder in ("colmap_bin", "colmap_txt"):
        model = read_colmap_model(tmp_path / folder)
        assert len(model.images) == rec.num_images() and model.num_points == rec.num_points3D()
        for iid, image in rec.images.items():
            ours = model.images[iid]
            assert ours.name == image.name
            np.testing.assert_allclose(
                ours.world_to_camera()[:3], image.cam_from_world().matrix(), atol=1e-12
            )
            np.testing.assert_allclose(ours.xys, [p.xy for p in image.points2D])
        for pid, point in rec.points3D.items():
            i = int(np.flatnonzero(model.point_ids == pid)[0])
            np.testing.assert_allclose(model.points_xyz[i], point.xyz)
            assert len(model.tracks()[i]) == point.track.length()
    # COLMAP's own binary files, read and written by easel, come back byte for byte
    model = read_colmap_model(tmp_path / "colmap_bin")
    write_colmap_model(model, tmp_path / "ours_bin", binary=True)
    for name in ("cameras.bin", "images.bin", "points3D.bin"):
        assert (tmp_path / "ours_bin" / name).read_bytes() == (tmp_path / "colmap_bin" / name).read_bytes()
    # and COLMAP reads easel's text model (no rigs/frames files)
    write_colmap_model(model, tmp_path / "ours_txt")
    again = pycolmap.Reconstruction(str(tmp_path / "ours_txt"))
    assert again.num_reg_images() == rec.num_reg_images() and again.num_points3D() == rec.num_points3D()


def test_quaternions_and_poses() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        rot = _random_rotation(rng)
        q = rotmat_to_qvec(rot)
        assert q[0] >= 0 and abs(np.linalg.norm(q) - 1) < 1e-12
        np.testing.assert_allclose(qvec_to_rotmat(q), rot, atol=1e-12)
    # 180-degree turns (w = 0) survive too
    flip = np.diag([1.0, -1.0, -1.0])
    np.testing.assert_allclose(qvec_to_rotmat(rotmat_to_qvec(flip)), flip, atol=1e-12)
    pose = np.eye(4)
    pose[:3, :3] = _random_rotation(rng)
    pose[:3, 3] = [1.0, 2.0, 3.0]
    image = ColmapImage.from_pose(1, pose, 1, "a.png")
    np.testing.assert_allclose(image.world_to_camera(), pose, atol=1e-12)
    np.testing.assert_allclose(image.center, -pose[:3, :3].T @ pose[:3, 3], atol=1e-12)


def test_intrinsics_of_each_kind_of_model() -> None:
    assert ColmapCamera(1, "SIMPLE_PINHOLE", 64, 48, np.array([40.0, 31.0, 23.0])).intrinsics() == Intrinsics(
        40.0, 40.0, 31.0, 23.0, 64, 48
    )
    opencv = ColmapCamera(2, "OPENCV", 64, 48, np.array([40.0, 41.0, 31.0, 23.0, 0.1, 0.0, 0.0, 0.0]))
    assert opencv.intrinsics() == Intrinsics(40.0, 41.0, 31.0, 23.0, 64, 48)
    assert not opencv.is_pinhole
    intr = Intrinsics.from_fov(64, 48, 50.0)
    assert ColmapCamera.from_intrinsics(7, intr).intrinsics() == intr
    with pytest.raises(InputError, match="EQUIRECTANGULAR"):
        ColmapCamera(3, "EQUIRECTANGULAR", 64, 32, np.array([64.0, 32.0])).intrinsics()
    with pytest.raises(InputError, match="did you mean PINHOLE"):
        ColmapCamera(3, "PINHOLES", 64, 32, np.array([1.0, 1.0, 1.0, 1.0]))


def _write_text_model(folder: Path, cameras: str, images: str, points: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cameras.txt").write_text(cameras)
    (folder / "images.txt").write_text(images)
    (folder / "points3D.txt").write_text(points)
    return folder


GOOD_CAMERA = "# comment\n1 PINHOLE 64 48 50 50 32 24\n"
GOOD_IMAGE = "1 1 0 0 0 0 0 0 1 a.png\n10 20 -1\n"


@pytest.mark.parametrize(
    ("cameras", "images", "points", "message"),
    [
        ("1 PINHOLE 64 48 50 50 32\n", GOOD_IMAGE, "", r"cameras\.txt line 1: camera model PINHOLE needs 4"),
        ("# x\n1 PINHOL 64 48 50 50 32 24\n", GOOD_IMAGE, "", r"cameras\.txt line 2: .*did you mean PINHOLE"),
        ("1 PINHOLE 64 wide 50 50 32 24\n", GOOD_IMAGE, "", r"cameras\.txt line 1: HEIGHT must be int"),
        (GOOD_CAMERA, "1 1 0 0 0 0 0 0 a.png\n\n", "", r"images\.txt line 1: expected IMAGE_ID"),
        (GOOD_CAMERA, "1 1 0 0 0 0 0 0 1 a.png\n10 20\n", "", r"images\.txt line 2: .*triples"),
        (GOOD_CAMERA, "1 0 0 0 0 0 0 0 1 a.png\n\n", "", r"images\.txt line 1: image 1 has a bad pose"),
        (GOOD_CAMERA, "1 1 0 0 0 0 0 0 2 a.png\n\n", "", r"images\.txt: image 1 \(a\.png\) uses camera 2"),
        (GOOD_CAMERA, GOOD_IMAGE, "1 0 0 0 300 0 0 0.5\n", r"points3D\.txt line 1: colour must be 0\.\.255"),
        (GOOD_CAMERA, GOOD_IMAGE, "1 0 0 0 1 2 3 0.5 1\n", r"points3D\.txt line 1: expected POINT3D_ID"),
        (GOOD_CAMERA, GOOD_IMAGE, "1 0 0 zero 1 2 3 0.5\n", r"points3D\.txt line 1: a field is not a number"),
    ],
)
def test_bad_text_files_name_the_file_and_line(
    tmp_path: Path, cameras: str, images: str, points: str, message: str
) -> None:
    folder = _write_text_model(tmp_path / "m", cameras, images, points)
    with pytest.raises(InputError, match=message) as info:
        read_colmap_model(folder)
    assert "\n" not in str(info.value)


def test_good_text_file_with_comments_and_blank_point_lines(tmp_path: Path) -> None:
    folder = _write_text_model(
        tmp_path / "m",
        GOOD_CAMERA,
        GOOD_IMAGE + "2 1 0 0 0 0 0 1 1 b.png\n\n",
        "1 0.5 0 1 255 0 7 0.25 1 0\n",
    )
    model = read_colmap_model(folder)
    assert model.image_names() == ["a.png", "b.png"]
    assert model.images[2].xys.shape == (0, 2)
    assert model.points_rgb.tolist() == [[255, 0, 7]] and model.tracks()[0].tolist() == [[1, 0]]
    assert model.image_by_name("b.png").image_id == 2
    with pytest.raises(InputError, match=r"no image 'c\.png'; did you mean"):
        model.image_by_name("c.png")


def test_bad_binary_files_name_the_file_and_record(tmp_path: Path) -> None:
    folder = write_colmap_model(_model(), tmp_path / "m", binary=True)
    data = (folder / "images.bin").read_bytes()
    (folder / "images.bin").write_bytes(data[:-5])
    with pytest.raises(InputError, match=r"images\.bin: truncated in image record 3 \(empty\.png\)"):
        read_colmap_model(folder)
    (folder / "images.bin").write_bytes(data + b"\x00")
    with pytest.raises(InputError, match=r"images\.bin: 1 unexpected bytes"):
        read_colmap_model(folder)
    (folder / "images.bin").write_bytes(data)
    cams = bytearray((folder / "cameras.bin").read_bytes())
    struct.pack_into("<i", cams, 8 + 4, 99)  # the first camera's model id
    (folder / "cameras.bin").write_bytes(bytes(cams))
    with pytest.raises(InputError, match=r"cameras\.bin: camera record 0 has an unknown camera model id 99"):
        read_colmap_model(folder)
    (folder / "points3D.bin").write_bytes(struct.pack("<Q", 10**9))
    write_colmap_model(_model(), folder, binary=True)
    points = folder / "points3D.bin"
    points.write_bytes(struct.pack("<Q", 10**9) + points.read_bytes()[8:])
    with pytest.raises(InputError, match=r"points3D\.bin: says it holds 1000000000 points"):
        read_colmap_model(folder)


def test_missing_or_incomplete_model_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        read_colmap_model(tmp_path / "nope")
    folder = write_colmap_model(_model(), tmp_path / "m")
    (folder / "points3D.txt").unlink()
    with pytest.raises(InputError, match=r"no COLMAP model: .* \(it has cameras\.txt, images\.txt\)"):
        read_colmap_model(folder)


def test_model_checks_its_arrays() -> None:
    with pytest.raises(InputError, match="2 points but 1 colours"):
        ColmapModel({}, {}, np.zeros((2, 3)), np.zeros((1, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="integers 0..255"):
        ColmapModel({}, {}, np.zeros((1, 3)), np.full((1, 3), 0.5))
    model = ColmapModel({}, {}, np.zeros((2, 3)), np.full((2, 3), 7))
    assert model.point_ids.tolist() == [1, 2] and model.points_error.tolist() == [0.0, 0.0]
