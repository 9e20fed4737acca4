"""`easel photo3d` and its API: the mesh (no triangle across a cut, PLY and GLB round trips), trajectories
(the dolly zoom keeps the focus plane's size), options shared with Ken Burns, and the command line
(one output per trajectory, all declared; bad depth sizes; the mesh options)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from easel.cameras import Camera, CameraPath, Intrinsics, pose_from_center, project, write_camera_path
from easel.cameras.trajectories import TRAJECTORIES, trajectory_centers, trajectory_path
from easel.cli import main
from easel.errors import InputError
from easel.options import OptionError
from easel.scene3d.kenburns import KenBurnsOptions
from easel.scene3d.mesh import count_cut_crossings, layer_faces, read_mesh, write_mesh
from easel.scene3d.photo3d import SHARED_FIELDS, Photo3DOptions, photo3d, trajectory_output
from easel.scene3d.synthetic import layered_scene, occluder_scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def view() -> Any:
    scene, cam = layered_scene(64, 48)
    return scene.render(Camera(cam))


@pytest.fixture(scope="module")
def p3d(view: Any) -> Any:
    return photo3d(view.image, view.depth, frames=6)


@pytest.fixture()
def rgbd(tmp_path: Path, view: Any) -> tuple[Path, Path]:
    from easel.io.images import write_image

    image = tmp_path / "scene.png"
    write_image(image, view.image)
    depth = tmp_path / "scene_depth.npy"
    np.save(depth, view.depth)
    return image, depth


# ---------------------------------------------------------------- mesh


def _valid_box(valid: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def test_the_mesh_has_no_triangle_across_a_cut(p3d: Any) -> None:
    assert p3d.layers[0].num_cuts > 0
    for layer, grid in zip(p3d.layers, p3d.grid_layers, strict=True):
        rs, cs = _valid_box(layer.valid)
        cut_h = layer.cut_h[rs, cs.start : cs.stop - 1]
        cut_v = layer.cut_v[rs.start : rs.stop - 1, cs]
        assert count_cut_crossings(grid.mask, cut_h, cut_v) == 0
    # and the faces really are there: every kept triangle of every layer
    assert len(p3d.mesh.faces) == sum(len(layer_faces(g)) for g in p3d.grid_layers)


def test_faces_look_at_the_input_camera(p3d: Any) -> None:
    mesh = p3d.mesh
    tri = mesh.vertices[mesh.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centres = tri.mean(axis=1)  # OpenGL: the camera at the origin looks down -z
    facing = (normals * -centres).sum(axis=1) > 0
    assert facing.mean() > 0.99


@pytest.mark.parametrize(("name", "ascii"), [("m.ply", False), ("m.ply", True), ("m.glb", False)])
def test_mesh_round_trip(p3d: Any, tmp_path: Path, name: str, ascii: bool) -> None:
    mesh = p3d.mesh
    out = write_mesh(tmp_path / name, mesh, ascii=ascii)
    back = read_mesh(out)
    assert back.faces.shape == mesh.faces.shape
    assert np.array_equal(back.faces, mesh.faces)
    assert np.allclose(back.vertices, mesh.vertices, atol=1e-5)
    colors_back = back.visual.vertex_colors  # type: ignore[union-attr]
    assert np.array_equal(colors_back[:, :3], mesh.visual.vertex_colors[:, :3])
    head = out.read_bytes()[:64]
    if name.endswith(".ply"):
        assert (b"format ascii" in head) == ascii
    else:
        assert head[:4] == b"glTF"
    assert not list(tmp_path.glob("*.part*"))  # written atomically


def test_mesh_refuses_other_formats(p3d: Any, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.ply or \.glb"):
        write_mesh(tmp_path / "m.obj", p3d.mesh)
    with pytest.raises(InputError, match="GLB is always binary"):
        write_mesh(tmp_path / "m.glb", p3d.mesh, ascii=True)


def test_mesh_is_in_opengl_axes(view: Any, p3d: Any) -> None:
    v = p3d.mesh.vertices
    assert (v[:, 2] < 0).all()  # in front of the camera is -z
    assert -v[:, 2].min() <= float(view.depth.max()) * 1.01


# ---------------------------------------------------------------- trajectories


def test_dolly_zoom_keeps_the_focus_plane_size() -> None:
    intr = Intrinsics.default(64, 48)
    path = trajectory_path("dolly-zoom", intr, focus_depth=3.0, num_frames=8, z_shift=0.3)
    plane = np.array([[-0.5, -0.4, 3.0], [0.6, 0.3, 3.0]])
    far = np.array([[-0.5, -0.4, 9.0], [0.6, 0.3, 9.0]])
    sizes, far_sizes = [], []
    for cam in path:
        uv, _ = project(plane, cam.intrinsics, cam.world_to_camera)
        sizes.append(np.linalg.norm(uv[1] - uv[0]))
        uv, _ = project(far, cam.intrinsics, cam.world_to_camera)
        far_sizes.append(np.linalg.norm(uv[1] - uv[0]))
    assert np.allclose(sizes, sizes[0], rtol=1e-9)
    assert max(far_sizes) > far_sizes[0] * 1.05  # while the background grows: the dolly zoom
    assert path.centers[:, 2].min() < 0  # it moves back


@pytest.mark.parametrize("kind", TRAJECTORIES)
def test_trajectories_shapes(kind: str) -> None:
    centers = trajectory_centers(kind, 16, 0.1, 0.05, 0.2)  # type: ignore[arg-type]
    assert centers.shape == (16, 3)
    assert np.isfinite(centers).all()
    if kind == "zoom-in":
        assert np.allclose(centers[0], 0) and centers[:, 2].max() == pytest.approx(0.2)
    if kind in ("swing", "circle"):
        assert centers[:, 2].min() >= 0 and centers[:, 0].max() == pytest.approx(0.1)
        assert (centers[:, 1] != 0).any() == (kind == "circle")


def test_straight_moves_follow_the_easing() -> None:
    linear = trajectory_centers("zoom-in", 8, z_shift=1.0, easing="linear")[:, 2]
    smooth = trajectory_centers("zoom-in", 8, z_shift=1.0, easing="smooth")[:, 2]
    assert linear[1] == pytest.approx(0.25) and smooth[1] < 0.2
    assert linear[4] == smooth[4] == pytest.approx(1.0)


def test_trajectory_refuses_unknown_names() -> None:
    with pytest.raises(InputError, match="unknown trajectory"):
        trajectory_centers("spiral", 4)  # type: ignore[arg-type]


def test_zoom_never_reaches_the_nearest_surface(p3d: Any) -> None:
    opts = Photo3DOptions(z_shift=0.9)
    big = type(p3d)(p3d.ldi, opts, stats=p3d.stats)
    path = big.trajectory("zoom-in")
    assert path.centers[:, 2].max() <= 0.5 * p3d.stats["near_depth"] + 1e-9


def test_a_path_through_the_nearest_surface_is_refused(p3d: Any) -> None:
    near = p3d.stats["near_depth"]
    path = CameraPath(pose_from_center([0, 0, near])[None], p3d.intrinsics)
    with pytest.raises(InputError, match="nearest surface"):
        p3d.clip(path)


# ---------------------------------------------------------------- API


def test_photo3d_renders_frames_and_views(p3d: Any) -> None:
    clip = p3d.clip("circle")
    assert len(clip) == 6
    frame = clip[2]
    assert frame.shape == (48, 64, 3) and frame.dtype == np.float32
    assert 0.0 <= frame.min() and frame.max() <= 1.0
    # the input view renders the input
    same = p3d.render_view(Camera(p3d.intrinsics))
    assert np.abs(same - p3d.layers[0].image).mean() < 0.01


def test_photo3d_beats_the_input_alone_behind_the_occluder() -> None:
    from easel.scene3d.render import Renderer
    from easel.scene3d.synthetic import disocclusion_mask

    scene, cam = occluder_scene(96, 72)
    view = scene.render(Camera(cam))
    p = photo3d(view.image, view.depth, frames=4)
    moved = Camera(cam, pose_from_center([0.25, 0.0, 0.0]))
    dis = disocclusion_mask(scene, Camera(cam), moved, view.depth)
    dis[:, 80:] = False
    single = Renderer(p.grid_layers[:1]).render(moved)
    assert (single.holes & dis).sum() > 20
    layered = Renderer(p.grid_layers).render(moved)
    assert (layered.holes & dis).sum() < (single.holes & dis).sum() / 4


def test_options_share_kenburns_declarations() -> None:
    from dataclasses import fields

    kb = {f.name: f for f in fields(KenBurnsOptions)}
    mine = {f.name: f for f in fields(Photo3DOptions)}
    for name in SHARED_FIELDS:
        assert mine[name].metadata == kb[name].metadata
        assert mine[name].default == kb[name].default
    with pytest.raises(OptionError, match="^fps"):
        Photo3DOptions(fps=0)
    with pytest.raises(OptionError, match="^trajectory"):
        Photo3DOptions(trajectory="spiral")
    with pytest.raises(OptionError, match="^x_shift"):
        Photo3DOptions(x_shift=5.0)
    with pytest.raises(OptionError, match="^layers"):
        Photo3DOptions(layers=-1)


def test_trajectory_output_names() -> None:
    assert trajectory_output("out/clip.mp4", "swing", True) == Path("out/clip-swing.mp4")
    assert trajectory_output("out/clip.mp4", "swing", False) == Path("out/clip.mp4")


def test_depth_of_the_wrong_size_is_refused_by_the_api(view: Any) -> None:
    with pytest.raises(InputError, match="depth"):
        photo3d(view.image, view.depth[:, :30])


# ---------------------------------------------------------------- CLI


def test_cli_all_trajectories_one_output_each(rgbd: tuple[Path, Path], tmp_path: Path) -> None:
    image, depth = rgbd
    out = tmp_path / "clip.gif"
    mesh = tmp_path / "mesh.glb"
    argv = ["photo3d", str(image), "--depth", str(depth), "-o", str(out), "--trajectory", "all"]
    assert main([*argv, "--frames", "3", "--mesh", str(mesh), "-q"]) == 0
    for kind in TRAJECTORIES:
        clip = tmp_path / f"clip-{kind}.gif"
        assert clip.is_file()
        record = json.loads((tmp_path / f"clip-{kind}.gif.json").read_text())
        assert record["trajectory"] == kind and record["frames"] == 3 and record["status"] == "finished"
    assert mesh.is_file() and not out.exists()
    # a second run is refused before any work, naming one of the outputs
    assert main([*argv, "--frames", "3", "-q"]) == 2


def test_cli_camera_path_and_stereo(rgbd: tuple[Path, Path], tmp_path: Path) -> None:
    image, depth = rgbd
    cam = Intrinsics.default(64, 48)
    poses = np.stack([pose_from_center([x, 0.0, 0.0]) for x in (0.0, 0.05, 0.1)])
    path_file = write_camera_path(tmp_path / "path.json", CameraPath(poses, cam, fps=10))
    out = tmp_path / "frames"
    code = main(
        [
            "photo3d",
            str(image),
            "--depth",
            str(depth),
            "--camera-path",
            str(path_file),
            "-o",
            str(out),
            "--stereo",
            "-q",
        ]
    )
    assert code == 0
    frames = sorted(out.glob("*.png"))
    assert len(frames) == 3
    from PIL import Image

    with Image.open(frames[0]) as first:
        assert first.size == (128, 48)  # side by side


def test_cli_resizes_depth_with_a_notice_and_refuses_another_aspect(
    rgbd: tuple[Path, Path], tmp_path: Path, view: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import cv2

    image, _ = rgbd
    small = tmp_path / "small.npy"
    np.save(small, cv2.resize(view.depth, (32, 24), interpolation=cv2.INTER_NEAREST))
    assert (
        main(["photo3d", str(image), "--depth", str(small), "-o", str(tmp_path / "a.gif"), "--frames", "2"])
        == 0
    )
    assert "resized to the image's 64x48" in capsys.readouterr().err
    other = tmp_path / "other.npy"
    np.save(other, view.depth[:, :40])
    assert (
        main(["photo3d", str(image), "--depth", str(other), "-o", str(tmp_path / "b.gif"), "--frames", "2"])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "aspect" in err[0]
    assert not (tmp_path / "b.gif").exists()


def test_cli_ascii_needs_a_ply_mesh(
    rgbd: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, depth = rgbd
    argv = ["photo3d", str(image), "--depth", str(depth), "-o", str(tmp_path / "a.gif"), "--frames", "2"]
    assert main([*argv, "--mesh", str(tmp_path / "m.glb"), "--ascii"]) == 2
    assert "--ascii" in capsys.readouterr().err
    assert main([*argv, "--mesh", str(tmp_path / "m.obj")]) == 2
    assert not list(tmp_path.glob("a.gif*"))
    assert main([*argv, "--mesh", str(tmp_path / "m.ply"), "--ascii", "-q"]) == 0
    assert b"format ascii" in (tmp_path / "m.ply").read_bytes()[:64]


def test_cli_large_images_are_downscaled_with_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from easel.io.images import write_image

    scene, cam = layered_scene(160, 120)
    big = scene.render(Camera(cam))
    image = tmp_path / "big.png"
    write_image(image, big.image)
    depth = tmp_path / "big.npy"
    np.save(depth, big.depth)
    out = tmp_path / "c.gif"
    assert (
        main(
            [
                "photo3d",
                str(image),
                "--depth",
                str(depth),
                "-o",
                str(out),
                "--frames",
                "2",
                "--max-size",
                "80",
            ]
        )
        == 0
    )
    assert "downscaled from 160x120 to 80x60" in capsys.readouterr().err
    assert json.loads(Path(str(out) + ".json").read_text())["frame_size"] == [80, 60]


def test_a_flat_wall_is_one_layer_and_renders() -> None:
    flat = photo3d(np.full((24, 32, 3), 0.4, np.float32), np.full((24, 32), 3.0), frames=3)
    assert len(flat.layers) == 1 and flat.stats["cuts"] == 0
    frame = flat.clip("swing")[1]
    assert np.isfinite(frame).all() and abs(float(frame.mean()) - 0.4) < 0.05


def test_torch_renderer_matches_the_numba_kernel(view: Any) -> None:
    fast = photo3d(view.image, view.depth, frames=4)
    ref = photo3d(view.image, view.depth, frames=4, backend="torch", device="cpu")
    a, b = fast.clip("circle"), ref.clip("circle")
    assert b.renderer.backend == "torch"
    for i in range(4):
        assert np.abs(a[i] - b[i]).mean() < 0.01


def test_lama_fills_the_layers_behind(rgbd: tuple[Path, Path], tmp_path: Path, view: Any) -> None:
    """``--inpaint lama`` goes through the Inpainter interface (a tiny TorchScript stand-in for big-lama)."""
    import warnings

    import torch

    class Tiny(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return image * (1 - mask) + 0.25 * mask

    weights = tmp_path / "big-lama.pt"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        torch.jit.script(Tiny()).save(str(weights))
    p = photo3d(view.image, view.depth, frames=2, inpaint="lama", inpaint_weights=str(weights), device="cpu")
    behind = p.layers[1]
    assert np.allclose(behind.image[behind.synthesized], 0.25, atol=1e-6)
    image, depth = rgbd
    out = tmp_path / "c.gif"
    argv = ["photo3d", str(image), "--depth", str(depth), "-o", str(out), "--frames", "2", "-q"]
    assert main([*argv, "--inpaint", "lama", "--inpaint-weights", str(weights)]) == 0
    assert json.loads(Path(str(out) + ".json").read_text())["options"]["inpaint"] == "lama"
