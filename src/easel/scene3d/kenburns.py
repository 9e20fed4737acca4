"""The 3D Ken Burns effect: one image (and its depth) to a parallax clip.

Pipeline (after Niklaus et al. 2019, "3D Ken Burns Effect from a Single Image"):

1. depth: given, or estimated with :func:`easel.depth.estimate_depth`;
2. the image becomes a mesh over its pixels that breaks at depth
   discontinuities (:class:`~easel.scene3d.render.GridLayer`);
3. a camera path: a zoom towards the nearest surface plus a shift (the
   autozoom searches a 16x16 grid of shifts for the one that keeps the most
   pixels covered), or any nerfstudio camera-path JSON;
4. the views with the most disocclusion are rendered with the camera moved
   ``fill_overshoot`` (1.1x) further, their holes filled from the background
   side, and the filled pixels added to the scene as extra layers;
5. every frame is rendered with the z-buffer renderer; the few holes left
   are filled (background-aware Telea) per frame.

Example:
    >>> clip = kenburns(image, depth, duration_s=2.0, fps=25)  # doctest: +SKIP
    >>> len(clip), clip[0].shape                              # doctest: +SKIP
    (50, (768, 1024, 3))
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.progress import ProgressFn, report
from easel.scene3d.cameras import (
    AUTOZOOM_MAX_SHIFT,
    Camera,
    CameraPath,
    Easing,
    Intrinsics,
    autozoom_shift,
    camera_center,
    crop_limits,
    focus_depth,
    invert_pose,
    kenburns_offset,
    kenburns_path,
    pose_from_center,
)
from easel.scene3d.inpaint import Inpainter, fill_holes, get_inpainter
from easel.scene3d.render import (
    DEFAULT_EDGE_THRESHOLD,
    Backend,
    GridLayer,
    Renderer,
    RenderResult,
    check_depth,
)

log = logging.getLogger(__name__)


@dataclass
class KenBurnsOptions:
    """Options of :func:`kenburns`.

    Attributes:
        zoom: magnification at the path's end (>= 1) of the nearest surface away
            from the border (:func:`~easel.scene3d.cameras.focus_depth`).
        shift: ``(x, y)`` pan at the end, fraction of the long side; ``None``
            searches for it (autozoom).
        max_shift: autozoom searches shifts within ``[-max_shift, max_shift]``
            (the reference's 100 px at 1024 px), keeping only those whose end
            view stays inside the input (:func:`~easel.scene3d.cameras.crop_limits`).
        autozoom_grid: autozoom lattice size (16 in the reference).
        duration_s: clip length in seconds.
        fps: frames per second.
        boomerang: out and back (a seamless loop) or one way.
        easing: ``"smooth"`` or ``"linear"``.
        fov: vertical field of view of the input in degrees; ``None`` uses
            ``focal`` or the reference's default (focal = half the long side).
        focal: focal length of the input in pixels (e.g. from EXIF).
        output_size: ``(width, height)`` of the frames; ``None`` keeps the input's.
        stereo: side-by-side stereo frames (left eye, right eye).
        stereo_disparity: stereo baseline as the nearest surface's disparity,
            a fraction of the frame width.
        inpaint: ``"telea"``, ``"ns"`` or ``"lama"`` for the filled views.
        inpaint_weights: local LaMa weights (default: the registry cache).
        edge_threshold: relative depth jump that breaks the mesh.
        fill_views: how many views are inpainted and merged into the scene.
        fill_overshoot: those views move this much further than the path (1.1).
        backend: renderer backend (``auto``, ``numba``, ``torch``).
        device: torch device for depth estimation / torch rendering.
        depth_model: depth estimator used when no depth is given.
    """

    zoom: float = 1.25
    shift: tuple[float, float] | None = None
    max_shift: float = AUTOZOOM_MAX_SHIFT
    autozoom_grid: int = 16
    duration_s: float = 3.0
    fps: float = 25.0
    boomerang: bool = True
    easing: Easing = "smooth"
    fov: float | None = None
    focal: float | None = None
    output_size: tuple[int, int] | None = None
    stereo: bool = False
    stereo_disparity: float = 0.02
    inpaint: str = "telea"
    inpaint_weights: str | None = None
    edge_threshold: float = DEFAULT_EDGE_THRESHOLD
    fill_views: int = 2
    fill_overshoot: float = 1.1
    backend: Backend = "auto"
    device: str = "auto"
    depth_model: str = "depth-anything-v2-small"

    def __post_init__(self) -> None:
        if not (self.duration_s > 0 and math.isfinite(self.duration_s)):
            raise InputError(f"--duration must be positive; got {self.duration_s}")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise InputError(f"--fps must be positive; got {self.fps}")
        if not (self.zoom >= 1.0 and math.isfinite(self.zoom)):
            raise InputError(f"--zoom must be at least 1; got {self.zoom}")
        if self.output_size is not None and min(self.output_size) < 2:
            raise InputError(f"--size must be at least 2x2; got {self.output_size}")
        if self.fill_overshoot < 1.0:
            raise InputError(f"fill_overshoot must be >= 1; got {self.fill_overshoot}")

    @property
    def num_frames(self) -> int:
        return max(1, round(self.duration_s * self.fps))


@dataclass
class KenBurnsClip(Sequence[FloatImage]):
    """The frames of a Ken Burns clip, rendered on demand (a long clip never sits in memory).

    Index or iterate it for ``(H, W, 3)`` float32 RGB frames in [0, 1]
    (``(H, 2W, 3)`` side by side with ``stereo``); :meth:`frame_uint8` gives
    ``uint8`` frames for video writers.

    Attributes:
        path: the camera path (one camera per frame; the left eye's centre in stereo).
        fps: frames per second.
        depth: the ``(H, W)`` float32 depth used.
        intrinsics: the input camera.
        shift: the end shift used (autozoom's choice), when the path was built here.
        stats: timings and counts (seconds spent preparing, fill views, holes).
    """

    path: CameraPath
    fps: float
    depth: NDArray[np.float32]
    intrinsics: Intrinsics
    renderer: Renderer
    options: KenBurnsOptions
    shift: tuple[float, float] | None = None
    stats: dict[str, float] = field(default_factory=dict)
    layers: list[GridLayer] = field(default_factory=list)
    _result: RenderResult | None = None
    _inpainter: Inpainter | None = None

    def __len__(self) -> int:
        return len(self.path)

    @overload
    def __getitem__(self, index: int) -> FloatImage: ...

    @overload
    def __getitem__(self, index: slice) -> list[FloatImage]: ...

    def __getitem__(self, index: int | slice) -> FloatImage | list[FloatImage]:
        if isinstance(index, slice):
            return [self.render(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} out of range (clip has {len(self)} frames)")
        return self.render(index)

    def __iter__(self) -> Iterator[FloatImage]:
        for i in range(len(self)):
            yield self.render(i)

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(height, width)`` of the frames (width doubled in stereo)."""
        h, w = self.path.output_size
        return h, (2 * w if self.options.stereo else w)

    def eye_cameras(self, index: int) -> list[Camera]:
        """The camera(s) of frame ``index``: one, or left and right eyes in stereo."""
        cam = self.path[index]
        if not self.options.stereo:
            return [cam]
        near = float(self.stats.get("near_depth", 1.0))
        baseline = self.options.stereo_disparity * cam.intrinsics.width * near / cam.intrinsics.fx
        c2w = invert_pose(cam.world_to_camera)
        cams = []
        for sign in (-0.5, 0.5):
            eye = c2w.copy()
            eye[:3, 3] += c2w[:3, 0] * sign * baseline
            cams.append(Camera(cam.intrinsics, invert_pose(eye)))
        return cams

    def _view(self, camera: Camera) -> FloatImage:
        """Render ``camera`` with holes filled; the result may be the renderer's reused buffer."""
        res = self.renderer.render(camera, self._result)
        self._result = res
        if not res.holes.any():
            return res.image
        if self._inpainter is None:
            self._inpainter = get_inpainter("telea")
        image, _ = fill_holes(res.image, res.holes, res.depth, self._inpainter)
        return image

    def render_view(self, camera: Camera) -> FloatImage:
        """Render any camera of the scene, holes filled: ``(H, W, 3)`` float32 RGB in [0, 1]."""
        return self._view(camera).copy()

    def render(self, index: int) -> FloatImage:
        """Frame ``index`` as ``(H, W, 3)`` float32 RGB in [0, 1]."""
        views = [self.render_view(cam) for cam in self.eye_cameras(index)]
        return views[0] if len(views) == 1 else np.concatenate(views, axis=1)

    def frame_uint8(self, index: int) -> NDArray[np.uint8]:
        """Frame ``index`` as ``(H, W, 3)`` uint8 RGB (what video writers take), without float copies."""
        import cv2

        views = [
            np.asarray(cv2.convertScaleAbs(self._view(cam), alpha=255.0), np.uint8)
            for cam in self.eye_cameras(index)
        ]
        return views[0] if len(views) == 1 else np.concatenate(views, axis=1)

    def point_cloud(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """All layers' points and colours, ``(N, 3)`` float32 each, in easel's world frame."""
        parts = [layer.point_cloud() for layer in self.layers]
        return np.concatenate([p for p, _ in parts]), np.concatenate([c for _, c in parts])


def input_intrinsics(width: int, height: int, options: KenBurnsOptions) -> Intrinsics:
    """The input camera from ``options.fov`` / ``options.focal``, else the reference's default."""
    if options.fov is not None:
        return Intrinsics.from_fov(width, height, options.fov)
    if options.focal is not None:
        return Intrinsics.from_focal(width, height, options.focal)
    return Intrinsics.default(width, height)


def _small_layer(
    image: FloatImage, depth: NDArray[np.float32], intr: Intrinsics, long_side: int, edge: float
) -> tuple[GridLayer, Intrinsics]:
    import cv2

    h, w = depth.shape
    scale = min(1.0, long_side / max(h, w))
    sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
    small = intr.resized(sw, sh)
    img = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    dep = cv2.resize(depth, (sw, sh), interpolation=cv2.INTER_NEAREST)
    return GridLayer.from_rgbd(np.clip(img, 0, 1), dep, small, edge_threshold=edge), small


def _coverage_search(
    renderer: Renderer, intr: Intrinsics, out_intr: Intrinsics, focus: float, opts: KenBurnsOptions
) -> tuple[float, float]:
    scale = min(1.0, 192 / max(out_intr.width, out_intr.height))
    eval_intr = out_intr.resized(
        max(2, round(out_intr.width * scale)), max(2, round(out_intr.height * scale))
    )

    def coverage(shift: tuple[float, float]) -> float:
        end = kenburns_offset(intr, focus, opts.zoom, shift)
        res = renderer.render(Camera(eval_intr, pose_from_center(end * opts.fill_overshoot)))
        return 1.0 - float(res.holes.mean())

    limits = crop_limits(intr.width, intr.height, opts.zoom)
    shift, _score = autozoom_shift(coverage, opts.max_shift, opts.autozoom_grid, limits)
    return shift


def _fill_view_poses(
    path: CameraPath,
    renderer: Renderer,
    count: int,
    overshoot: float,
    extra: Sequence[NDArray[np.float64]] = (),
) -> list[NDArray[np.float64]]:
    """The path poses with the most holes (greedy, at low resolution), moved ``overshoot`` further."""
    if count <= 0:
        return []
    step = max(1, len(path) // 32)
    candidates = [path.poses[i] for i in range(0, len(path), step)] + [path.poses[-1], *extra]
    out_intr = path.intrinsics_at(0)
    scale = min(1.0, 256 / max(out_intr.width, out_intr.height))
    small = out_intr.resized(max(2, round(out_intr.width * scale)), max(2, round(out_intr.height * scale)))
    holes = []
    for pose in candidates:
        holes.append(float(renderer.render(Camera(small, pose)).holes.mean()))
    order = np.argsort(holes)[::-1]
    chosen: list[NDArray[np.float64]] = []
    for idx in order:
        if holes[idx] <= 0.0 or len(chosen) >= count:
            break
        pose = candidates[idx]
        center = camera_center(pose) * overshoot
        c2w = invert_pose(pose)
        moved = pose_from_center(center, c2w[:3, :3])
        if any(np.allclose(moved, c, atol=1e-9) for c in chosen):
            continue
        chosen.append(moved)
    return chosen


def kenburns(
    image: ArrayLike,
    depth: ArrayLike | None = None,
    path: CameraPath | None = None,
    options: KenBurnsOptions | None = None,
    *,
    intrinsics: Intrinsics | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> KenBurnsClip:
    """The 3D Ken Burns effect: a parallax clip from one image.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (uint8 accepted).
        depth: ``(H, W)`` depth along the optical axis (> 0, larger = farther),
            in any unit; ``None`` estimates it with ``options.depth_model``.
        path: a camera path (e.g. :func:`~easel.scene3d.cameras.read_camera_path`);
            ``None`` builds the Ken Burns path from the options.
        options: :class:`KenBurnsOptions`; keyword ``overrides`` replace its fields
            (``kenburns(img, depth, duration_s=2.0, fps=30)``).
        intrinsics: the input camera (default from ``options.fov``/``focal``).
        progress: called with progress updates.

    Returns:
        A :class:`KenBurnsClip`: a lazy sequence of ``(H, W, 3)`` float32 frames.

    Raises:
        InputError: depth of the wrong size, non-finite or <= 0; a path leaving
            the space in front of the input camera (or passing the nearest
            surface); bad options. A constant depth only logs a warning (the
            clip is a flat zoom).

    Example:
        >>> from easel.scene3d.synthetic import layered_scene
        >>> scene, cam = layered_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> clip = kenburns(view.image, view.depth, duration_s=0.2, fps=10, shift=(0.05, 0.0))
        >>> len(clip), clip[1].shape
        (2, (48, 64, 3))
    """
    import time

    start = time.perf_counter()
    opts = (
        dataclasses.replace(options or KenBurnsOptions(), **overrides)
        if overrides
        else (options or KenBurnsOptions())
    )
    rgb = as_float_rgb(image)
    h, w = rgb.shape[:2]
    if depth is None:
        from easel.depth import estimate_depth

        z = check_depth(
            estimate_depth(rgb, model=opts.depth_model, device=opts.device, progress=progress), (h, w)
        )
    else:
        z = check_depth(depth, (h, w))
    intr = intrinsics or input_intrinsics(w, h, opts)
    if intr.size != (h, w):
        raise InputError(f"camera is {intr.width}x{intr.height} but the image is {w}x{h}")
    # the nearest surface, robust to a few stray pixels (the 1st percentile)
    near = float(np.percentile(z, 1.0))
    # the zoom's target: the nearest surface away from the border; the camera stops well
    # short of anything nearer (its forward move is (1 - 1/zoom) * focus)
    focus = focus_depth(z)
    if opts.zoom > 1.0:
        focus = min(focus, 0.9 * near * opts.zoom / (opts.zoom - 1.0))
    if float(z.max()) <= float(z.min()) * (1.0 + 1e-6):
        log.warning("depth is constant: the clip shows a flat picture moving (no parallax)")

    report(progress, "prepare", 0, 3)
    layer = GridLayer.from_rgbd(rgb, z, intr, edge_threshold=opts.edge_threshold)
    renderer = Renderer(
        [layer], backend=opts.backend, device=None if opts.backend == "numba" else opts.device
    )
    # a 256 px copy of the scene for the searches (autozoom, views to fill): on the CPU kernel,
    # whatever renders the frames, since hundreds of tiny renders suit it best
    small_layer, _ = _small_layer(rgb, z, intr, 256, opts.edge_threshold)
    small_renderer = Renderer([small_layer], backend="numba")
    out_w, out_h = opts.output_size or (w, h)
    shift = None
    if path is None:
        out_intr = intr.resized(out_w, out_h)
        shift = opts.shift
        if shift is None:
            shift = _coverage_search(small_renderer, intr, out_intr, focus, opts)
        path = kenburns_path(
            intr,
            focus,
            opts.zoom,
            shift,
            opts.num_frames,
            opts.fps,
            opts.boomerang,
            opts.easing,
            output=out_intr,
        )
    elif opts.output_size is not None:
        path = path.with_intrinsics([path.intrinsics_at(i).resized(out_w, out_h) for i in range(len(path))])
    path.validate(near)
    report(progress, "prepare", 1, 3)

    clip = KenBurnsClip(path, path.fps, z, intr, renderer, opts, shift=shift, layers=[layer])
    clip.stats["near_depth"] = near
    clip.stats["focus_depth"] = focus
    extra: list[NDArray[np.float64]] = []
    if opts.stereo:
        for i in (0, len(path) // 2, len(path) - 1):
            extra.extend(c.world_to_camera for c in clip.eye_cameras(i))
    fill_poses = _fill_view_poses(path, small_renderer, opts.fill_views, opts.fill_overshoot, extra)
    inpainter = (
        get_inpainter(opts.inpaint, weights=opts.inpaint_weights, device=opts.device) if fill_poses else None
    )
    import cv2

    for k, pose in enumerate(fill_poses):
        res = renderer.render(Camera(intr, pose))
        if not res.holes.any() or inpainter is None:
            continue
        filled, filled_depth = fill_holes(res.image, res.holes, res.depth, inpainter)
        # the holes plus the background pixels of their rim (so the fill joins the
        # background seamlessly); foreground rim pixels stay out of the fill layer
        kernel = np.ones((3, 3), np.uint8)
        hole_depth = cv2.dilate(np.where(res.holes, filled_depth, 0.0).astype(np.float32), kernel)
        rim = cv2.dilate(res.holes.astype(np.uint8), kernel).astype(bool) & ~res.holes
        background_rim = rim & (filled_depth * np.float32(1.05) >= hole_depth)
        valid = (res.holes | background_rim) & np.isfinite(filled_depth) & (filled_depth > 0)
        fill_layer = GridLayer.from_rgbd(
            np.clip(filled, 0, 1),
            np.where(valid, filled_depth, 1.0),
            intr,
            world_to_camera=pose,
            valid=valid,
            edge_threshold=opts.edge_threshold,
            depth_scale=1.0 + 2e-3 * (k + 1),
        )
        renderer.add_layer(fill_layer)
        clip.layers.append(fill_layer)
        clip.stats[f"fill_view_{k}_holes"] = float(res.holes.mean())
    report(progress, "prepare", 3, 3)
    clip.stats["prepare_s"] = time.perf_counter() - start
    return clip
