"""The z-buffer renderer (numba kernel and torch reference), synthetic scenes, hole filling."""

from __future__ import annotations

import numpy as np
import pytest

from easel.cameras import Camera, Intrinsics, pose_from_center
from easel.errors import InputError
from easel.scene3d.inpaint import fill_holes, foreground_guard, get_inpainter, hole_clusters
from easel.scene3d.render import GridLayer, Renderer, break_mask, check_depth
from easel.scene3d.synthetic import SyntheticScene, disocclusion_mask, layered_scene, texture

F = 64.0  # focal length of the small test camera
W, H = 128, 96


def _camera() -> Intrinsics:
    return Intrinsics.from_focal(W, H, F)


def _texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (H, W, 3)).astype(np.float32)


def test_identity_reproduces_input_exactly() -> None:
    scene, cam = layered_scene(W, H)
    view = scene.render(Camera(cam))
    image8 = np.rint(view.image * 255).astype(np.uint8)  # an 8-bit photo, as read from disk
    layer = GridLayer.from_rgbd(image8, view.depth, cam)
    for backend in ("numba", "torch"):
        out = Renderer([layer], backend=backend).render(Camera(cam))  # type: ignore[arg-type]
        assert not out.holes.any()
        np.testing.assert_allclose(out.image, image8 / np.float32(255), atol=2e-5)
        np.testing.assert_allclose(out.depth, view.depth, rtol=1e-5)
        assert np.array_equal(np.rint(out.image * 255).astype(np.uint8), image8)


def test_known_translation_moves_plane_by_expected_pixels() -> None:
    image = _texture()
    depth = np.full((H, W), 4.0, np.float32)
    layer = GridLayer.from_rgbd(image, depth, _camera())
    # camera 0.25 to the right at depth 4 with f = 64: the picture slides 4 px left
    out = Renderer([layer]).render(Camera(_camera(), pose_from_center([0.25, 0.0, 0.0])))
    np.testing.assert_allclose(out.image[:, : W - 4], image[:, 4:], atol=1e-4)
    expected_holes = np.zeros((H, W), bool)
    expected_holes[:, W - 4 :] = True
    assert np.array_equal(out.holes, expected_holes)
    # and 0.5 down moves it 8 px up
    out = Renderer([layer]).render(Camera(_camera(), pose_from_center([0.0, 0.5, 0.0])))
    np.testing.assert_allclose(out.image[: H - 8], image[8:], atol=1e-4)
    assert out.holes[H - 8 :].all() and not out.holes[: H - 8].any()


def _two_planes() -> tuple[SyntheticScene, np.ndarray, np.ndarray]:
    scene = SyntheticScene()
    scene.add_plane([-20.0, -20.0, 4.0], [40.0, 0, 0], [0, 40.0, 0], texture("coffee"))
    # a square at depth 2 covering source pixels x in [40, 80), y in [30, 60)
    x0, x1 = (40 - W / 2) * 2 / F, (80 - W / 2) * 2 / F
    y0, y1 = (30 - H / 2) * 2 / F, (60 - H / 2) * 2 / F
    scene.add_plane([x0, y0, 2.0], [x1 - x0, 0, 0], [0, y1 - y0, 0], texture("astronaut"))
    view = scene.render(Camera(_camera()))
    return scene, view.image, view.depth


def test_holes_appear_exactly_where_ground_truth_says() -> None:
    scene, image, depth = _two_planes()
    assert depth[45, 79] == 2.0 and depth[45, 80] == 4.0
    layer = GridLayer.from_rgbd(image, depth, _camera())
    target = Camera(_camera(), pose_from_center([0.5, 0.0, 0.0]))  # fg moves 16 px, bg 8 px
    out = Renderer([layer]).render(target)
    expected = np.zeros((H, W), bool)
    expected[30:60, 64:72] = True  # uncovered behind the square's right edge
    expected[:, W - 8 :] = True  # beyond the source image
    assert np.array_equal(out.holes, expected)
    truth = disocclusion_mask(scene, Camera(_camera()), target, depth)
    assert np.array_equal(truth, expected)
    gt = scene.render(target)
    visible = ~expected
    assert np.abs(out.image[visible] - gt.image[visible]).mean() < 0.02
    np.testing.assert_allclose(out.depth[visible], gt.depth[visible], rtol=1e-4)


def test_rubber_sheet_baseline_has_no_holes() -> None:
    _, image, depth = _two_planes()
    sheet = GridLayer.from_rgbd(image, depth, _camera(), edge_threshold=np.inf)
    out = Renderer([sheet]).render(Camera(_camera(), pose_from_center([0.5, 0.0, 0.0])))
    assert not out.holes[30:60, 64:72].any()


def test_numba_kernel_matches_torch_reference() -> None:
    scene, cam = layered_scene(96, 72)
    view = scene.render(Camera(cam))
    layer = GridLayer.from_rgbd(view.image, view.depth, cam)
    rot = np.array([[0.995, 0.0, 0.0998], [0.0, 1.0, 0.0], [-0.0998, 0.0, 0.995]])
    rot[:, 0] /= np.linalg.norm(rot[:, 0])
    rot[:, 2] = np.cross(rot[:, 0], rot[:, 1])
    for center, out_size in (([0.2, -0.1, 0.5], (96, 72)), ([-0.3, 0.1, 0.2], (120, 64))):
        target = Camera(cam.resized(*out_size), pose_from_center(center, rot))
        a = Renderer([layer], backend="numba").render(target)
        b = Renderer([layer], backend="torch").render(target)
        agree = a.holes == b.holes
        assert agree.mean() > 0.998
        both = ~a.holes & ~b.holes
        close = np.abs(a.image - b.image).max(-1) < 1e-3
        assert close[both].mean() > 0.998
        np.testing.assert_allclose(a.depth[both & close], b.depth[both & close], rtol=1e-4)


def test_points_behind_camera_are_dropped() -> None:
    image = _texture(1)
    depth = np.full((H, W), 1.0, np.float32)
    layer = GridLayer.from_rgbd(image, depth, _camera())
    out = Renderer([layer]).render(Camera(_camera(), pose_from_center([0.0, 0.0, 2.0])))
    assert out.holes.all()


def test_multiple_layers_and_depth_scale() -> None:
    cam = _camera()
    red = np.zeros((H, W, 3), np.float32)
    red[..., 0] = 1
    blue = np.zeros((H, W, 3), np.float32)
    blue[..., 2] = 1
    depth = np.full((H, W), 3.0, np.float32)
    base = GridLayer.from_rgbd(red, depth, cam)
    fill = GridLayer.from_rgbd(blue, depth, cam, depth_scale=1.002)
    out = Renderer([fill, base]).render(Camera(cam))
    assert np.allclose(out.image[..., 0], 1.0)  # the unbiased layer wins at equal depth


def test_break_mask_and_check_depth() -> None:
    depth = np.array([[1.0, 1.0, 3.0], [1.0, 1.0, 3.0]], np.float32)
    mask = break_mask(depth, np.ones_like(depth, bool), 0.04)
    assert mask.tolist() == [[3, 0]]
    with pytest.raises(InputError, match="is 3x2 but the image is 4x2"):
        check_depth(depth, (2, 4))
    with pytest.raises(InputError, match="NaN"):
        check_depth(np.full((2, 2), np.nan))
    with pytest.raises(InputError, match="> 0"):
        check_depth(np.zeros((2, 2)))


def test_background_aware_fill_uses_background_only() -> None:
    image = np.zeros((40, 40, 3), np.float32)
    image[:, :20] = [1.0, 0.0, 0.0]  # foreground, near
    image[:, 20:] = [0.0, 0.0, 1.0]  # background, far
    depth = np.where(np.arange(40)[None, :] < 20, 1.0, 5.0).astype(np.float32).repeat(40, 0)
    holes = np.zeros((40, 40), bool)
    holes[:, 20:26] = True  # disocclusion next to the foreground edge
    depth_h = np.where(holes, np.inf, depth).astype(np.float32)
    guard = foreground_guard(holes, depth_h)
    assert guard[:, 14:20].all() and not guard[:, 26:].any()
    filled, filled_depth = fill_holes(image, holes, depth_h, get_inpainter("telea"))
    assert filled[holes][:, 2].min() > 0.9 and filled[holes][:, 0].max() < 0.1
    assert filled_depth[holes].min() > 4.0
    naive, _ = fill_holes(image, holes, depth_h, get_inpainter("ns"), background_aware=False)
    assert naive[holes][:, 0].max() > 0.3  # without the guard the foreground bleeds in


def test_fill_holes_group_by_group_equals_filling_each_group_alone() -> None:
    """Holes far apart are filled in crops of their own, with the same result as a frame of
    their own; in_place fills the given arrays."""
    rng = np.random.default_rng(3)
    image = rng.uniform(0.0, 1.0, (60, 200, 3)).astype(np.float32)
    depth = np.where(np.arange(200)[None, :] % 50 < 25, 2.0, 6.0).astype(np.float32).repeat(60, 0)
    left = np.zeros((60, 200), bool)
    left[:, 0:3] = True  # a sliver at the left border (a sideways move)
    right = np.zeros((60, 200), bool)
    right[20:30, 150:153] = True  # and a gap beside an edge, far away: as thick
    both = left | right
    groups = hole_clusters(both)
    assert [int(mask.sum()) for _, mask in groups] == [180, 30]
    assert [box for box, _ in groups] == [(0, 60, 0, 3), (20, 30, 150, 153)]
    fill = get_inpainter("telea")
    together, z_together = fill_holes(image, both, np.where(both, np.inf, depth), fill)
    for alone in (left, right):
        one, z_one = fill_holes(image, alone, np.where(alone, np.inf, depth), fill)
        np.testing.assert_array_equal(together[alone], one[alone])
        np.testing.assert_array_equal(z_together[alone], z_one[alone])
    np.testing.assert_array_equal(together[~both], image[~both])
    work, z_work = image.copy(), np.where(both, np.inf, depth).astype(np.float32)
    out, z_out = fill_holes(work, both, z_work, fill, in_place=True)
    assert out is work and z_out is z_work
    np.testing.assert_array_equal(work, together)


def test_hidden_back_layer_numba_matches_torch() -> None:
    """A layer mostly hidden behind the input (the pixels the quad-depth test skips) renders as
    the torch reference does, shows through where the input has holes, and never hides what
    of the input is nearest."""
    scene, cam = layered_scene(96, 72)
    view = scene.render(Camera(cam))
    front = GridLayer.from_rgbd(view.image, view.depth, cam)
    back = GridLayer.from_rgbd(view.image[::-1], view.depth * 1.5, cam, depth_scale=1.05)
    target = Camera(cam, pose_from_center([0.3, -0.1, 0.4]))
    a = Renderer([front, back], backend="numba").render(target)
    b = Renderer([front, back], backend="torch").render(target)
    alone = Renderer([front], backend="numba").render(target)
    assert alone.holes.sum() > 50 and a.holes.sum() < alone.holes.sum()  # the back layer fills holes
    assert (a.holes == b.holes).mean() > 0.998
    both = ~a.holes & ~b.holes
    close = np.abs(a.image - b.image).max(-1) < 1e-3
    assert close[both].mean() > 0.998
    np.testing.assert_allclose(a.depth[both & close], b.depth[both & close], rtol=1e-4)
    nearer = ~alone.holes & (alone.depth < a.depth * 0.999)
    assert not nearer.any()  # nothing of the input that is nearest was skipped


def test_get_inpainter_errors() -> None:
    with pytest.raises(InputError, match="unknown inpainting"):
        get_inpainter("magic")
    with pytest.raises(InputError, match="big-lama"):
        get_inpainter("lama", weights="/nonexistent/big-lama.pt")


def test_point_cloud_and_ply(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from easel.io.ply import read_ply, write_ply

    _, image, depth = _two_planes()
    layer = GridLayer.from_rgbd(image, depth, _camera())
    pts, cols = layer.point_cloud()
    assert len(pts) == H * W
    path = write_ply(tmp_path / "cloud.ply", pts, cols)
    back, c8 = read_ply(path)
    np.testing.assert_allclose(back[:, 2], -pts[:, 2])  # OpenGL axes
    assert c8.dtype == np.uint8 and len(c8) == len(pts)


@pytest.mark.parametrize("output_scale", [255.0, 1.0])  # exports return 0..255 (lama-cleaner) or 0..1
def test_lama_loading_path_with_a_tiny_torchscript_model(tmp_path, output_scale: float) -> None:  # type: ignore[no-untyped-def]
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self, scale: float) -> None:
            super().__init__()
            self.scale = scale

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return (image * (1 - mask) + 0.25 * mask) * self.scale

    import warnings

    path = tmp_path / "big-lama.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated, but it is the format big-lama ships in
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        torch.jit.script(Tiny(output_scale)).save(str(path))
    inpainter = get_inpainter("lama", weights=path, device="cpu")
    assert inpainter.name == "lama"
    image = np.full((13, 21, 3), 0.8, np.float32)  # odd sizes: padded to multiples of 8 and cropped back
    mask = np.zeros((13, 21), bool)
    mask[4:8, 5:9] = True
    out = inpainter(image, mask)
    assert out.shape == image.shape
    np.testing.assert_allclose(out[mask], 0.25, atol=1e-6)
    np.testing.assert_allclose(out[~mask], 0.8)


@pytest.mark.gpu
def test_cuda_renderer_matches_numba() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    scene, cam = layered_scene(96, 72)
    view = scene.render(Camera(cam))
    layer = GridLayer.from_rgbd(view.image, view.depth, cam)
    target = Camera(cam, pose_from_center([0.2, -0.1, 0.5]))
    a = Renderer([layer], backend="numba").render(target)
    b = Renderer([layer], backend="torch", device="cuda").render(target)
    assert (a.holes == b.holes).mean() > 0.998
    both = ~a.holes & ~b.holes
    assert (np.abs(a.image - b.image).max(-1)[both] < 1e-3).mean() > 0.998


# ---------------------------------------------------------------- several threads = one thread, bit for bit

_THREADS_SCRIPT = """
import sys
import numba
import numpy as np
from easel.cameras import Camera, pose_from_center
from easel.scene3d.render import SMALL_WORK, GridLayer, Renderer
from easel.scene3d.synthetic import layered_scene

assert numba.config.NUMBA_NUM_THREADS == 4, numba.config.NUMBA_NUM_THREADS
scene, cam = layered_scene(384, 288)
view = scene.render(Camera(cam))
front = GridLayer.from_rgbd(view.image, view.depth, cam)
back = GridLayer.from_rgbd(view.image[::-1], view.depth * 1.5, cam, depth_scale=1.05)  # a fill layer behind
layers = [front, back]
assert len(front.footprints) > 0
work = sum(layer.shape[0] * layer.shape[1] for layer in layers) + 288 * 384
assert work > SMALL_WORK, work  # above the threading threshold: "auto" times several threads
centers = [[0.0, 0.0, 0.0], [0.4, -0.2, 0.8], [-0.5, 0.3, 1.5], [0.9, 0.0, 0.3]] * 2
results = {}
renderers = {"1": Renderer(layers, threads=1), "3": Renderer(layers, threads=3),
             "4": Renderer(layers, threads=4), "auto": Renderer(layers)}
for name, renderer in renderers.items():
    for i, center in enumerate(centers):
        out = renderer.render(Camera(cam, pose_from_center(center)))
        results[f"{name}-{i}-image"] = out.image.copy()
        results[f"{name}-{i}-depth"] = out.depth.copy()
        results[f"{name}-{i}-holes"] = out.holes.copy()
results["buffers-3"] = np.array(renderers["3"]._bufs["zbuf"].shape)
results["buffers-4"] = np.array(renderers["4"]._bufs["zbuf"].shape)
trials = renderers["auto"]._trials[(288, 384)]
results["auto-trials"] = np.array(sorted((n, len(t)) for n, t in trials.items()))
np.savez(sys.argv[1], **results)
"""


def test_several_threads_render_exactly_what_one_thread_renders(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The numba kernel split over 3 and 4 threads (bands of output rows, one shared z-buffer), and the
    "auto" choice on a scene above the threading threshold, equal one thread bit for bit.

    Run in a child with ``NUMBA_NUM_THREADS=4``, so several threads run on any machine
    (numba never uses more threads than that setting, which defaults to the core count).
    """
    import os
    import subprocess
    import sys

    result = tmp_path / "renders.npz"
    env = {**os.environ, "NUMBA_NUM_THREADS": "4"}
    child = subprocess.run(
        [sys.executable, "-c", _THREADS_SCRIPT, str(result)], env=env, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr
    with np.load(result) as renders:
        # one z-buffer of the frame's size whatever the thread count: nothing per thread to merge
        assert renders["buffers-3"].tolist() == renders["buffers-4"].tolist() == [288, 384]
        assert renders["auto-trials"].tolist() == [[1, 3], [4, 3]]  # both timed 3 frames
        names = sorted({key.split("-", 1)[1] for key in renders.files if key.startswith("1-")})
        assert len(names) == 24
        for name in names:
            one = renders[f"1-{name}"]
            for threads in ("3", "4", "auto"):
                assert np.array_equal(renders[f"{threads}-{name}"], one), f"{threads} threads differ: {name}"
        # the frames are not trivial: each has pixels and most have holes to fill
        assert all((~renders[f"1-{i}-holes"]).any() for i in range(8))
        assert sum(renders[f"1-{i}-holes"].any() for i in range(8)) >= 4
