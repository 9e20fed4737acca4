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

import argparse
import dataclasses
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras import (
    EASINGS,
    Camera,
    CameraPath,
    Easing,
    Intrinsics,
    camera_center,
    invert_pose,
    pose_from_center,
    resolve_intrinsics,
)
from easel.devices import device_option, resolve_device
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.options import OptionError, option
from easel.progress import ProgressFn, report
from easel.scene3d.autozoom import (
    AUTOZOOM_MAX_SHIFT,
    MAX_ZOOM,
    autozoom_shift,
    check_shift,
    crop_limits,
    focus_depth,
    kenburns_offset,
    kenburns_path,
    zoom_target,
)
from easel.scene3d.inpaint import INPAINT_METHODS, Inpainter, fill_holes, get_inpainter
from easel.scene3d.render import (
    DEFAULT_EDGE_THRESHOLD,
    Backend,
    GridLayer,
    Renderer,
    RenderResult,
    check_depth,
)

log = logging.getLogger(__name__)

MAX_FRAME_SIDE = 8192
"""The largest frame side easel renders, in pixels (each frame's buffers are held in memory)."""
MAX_FPS = 1000.0
"""The highest frame rate (the video writers' limit)."""
MAX_FRAMES = 200_000
"""The most frames in one clip (over two hours at 25 fps); the path's poses are held in memory."""
BACKENDS: tuple[Backend, ...] = ("auto", "numba", "torch")


def parse_frame_shape(text: str) -> tuple[int, int]:
    """``"1280x720"`` (width x height, the CLI's ``--size``) -> ``(720, 1280)``, ``(height, width)``.

    Example:
        >>> parse_frame_shape("640x360")
        (360, 640)
    """
    parts = text.lower().replace("*", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    return height, width


def parse_pair(text: str) -> tuple[float, float]:
    """``"0.05,0"`` -> ``(0.05, 0.0)``; a single number is ``(x, 0)`` (the CLI's ``--shift``).

    Example:
        >>> parse_pair("0.05")
        (0.05, 0.0)
    """
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y such as 0.05,0, got {text!r}") from None
    if len(values) == 1:
        return values[0], 0.0
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected X,Y such as 0.05,0, got {text!r}")
    return values[0], values[1]


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass
class KenBurnsOptions:
    """Options of :func:`kenburns`; each field's help is also its CLI help (``easel kenburns``).

    Attributes:
        zoom: magnification at the path's end (1 to 10) of the nearest surface away
            from the border (:func:`~easel.scene3d.autozoom.focus_depth`).
        shift: ``(x, y)`` pan at the end, fraction of the long side; ``None``
            searches for it (autozoom). Refused when the end view would be
            centred off the picture (:func:`~easel.scene3d.autozoom.shift_limits`).
        shift_x: pan along x only (the other axis 0); not with ``shift``.
        shift_y: pan along y only; not with ``shift``.
        max_shift: autozoom searches shifts within ``[-max_shift, max_shift]``
            (the reference's 100 px at 1024 px), keeping only those whose end
            view stays inside the input (:func:`~easel.scene3d.autozoom.crop_limits`).
        autozoom_grid: autozoom lattice size (16 in the reference).
        duration_s: clip length in seconds.
        fps: frames per second.
        frames: number of frames; overrides ``duration_s`` when given.
        boomerang: out and back (a seamless loop) or one way.
        easing: ``"smooth"`` or ``"linear"``.
        fov: vertical field of view of the input in degrees; ``None`` uses
            ``focal``, the image file's EXIF focal length, or the reference's
            default (focal = half the long side).
        focal: focal length of the input in pixels.
        output_shape: ``(height, width)`` of the frames (the CLI's ``--size WxH``);
            ``None`` keeps the input's.
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
        depth_range: ``(near, far)``: the estimated (relative) depth is mapped
            to this range; ``None`` keeps the estimator's default.

    Example:
        >>> KenBurnsOptions(duration_s=2.0, fps=30).num_frames
        60
    """

    zoom: float = option(1.25, help="zoom on the nearest surface, 1 to 10", group="camera path")
    shift: tuple[float, float] | None = option(
        None,
        help="pan at the end, fraction of the long side (default: searched by autozoom)",
        metavar="X,Y",
        parse=parse_pair,
        group="camera path",
    )
    shift_x: float | None = option(
        None, help="pan along x only (fraction of the long side)", metavar="X", group="camera path"
    )
    shift_y: float | None = option(
        None, help="pan along y only (fraction of the long side)", metavar="Y", group="camera path"
    )
    max_shift: float = option(
        AUTOZOOM_MAX_SHIFT,
        help="autozoom searches shifts up to this fraction of the long side "
        f"(default {AUTOZOOM_MAX_SHIFT:.4f}, the reference's 100 px at 1024 px)",
        group="camera path",
    )
    autozoom_grid: int = option(16, help="autozoom lattice size", cli=False)
    duration_s: float = option(3.0, help="seconds", flag="--duration", metavar="S", group="camera path")
    fps: float = option(25.0, help="frames per second", group="camera path")
    frames: int | None = option(None, help="number of frames (overrides the duration)", cli=False)
    boomerang: bool = option(
        True, help="out and back (default), or --one-way", negative_flag="--one-way", cli=False
    )
    easing: Easing = option("smooth", help="speed profile", choices=EASINGS, group="camera path")
    fov: float | None = option(
        None,
        help="vertical field of view of IMAGE (default: EXIF, else 90 deg across the long side)",
        metavar="DEG",
        group="camera path",
    )
    focal: float | None = option(None, help="focal length of IMAGE in pixels", cli=False)
    output_shape: tuple[int, int] | None = option(
        None,
        help=f"frame size (default: the input's; at most {MAX_FRAME_SIDE} px on a side)",
        flag="--size",
        short="--output-size",
        metavar="WxH",
        parse=parse_frame_shape,
        group="rendering",
    )
    stereo: bool = option(False, help="side-by-side stereo frames (left, right)", group="rendering")
    stereo_disparity: float = option(
        0.02,
        help="stereo strength: disparity of the nearest surface, fraction of the width",
        group="rendering",
    )
    inpaint: str = option("telea", help="hole filling", choices=INPAINT_METHODS, group="rendering")
    inpaint_weights: str | None = option(
        None, help="local big-lama.pt for --inpaint lama", metavar="PATH", group="rendering"
    )
    edge_threshold: float = option(
        DEFAULT_EDGE_THRESHOLD, help="relative depth jump that breaks the mesh", cli=False
    )
    fill_views: int = option(2, help="views inpainted and merged into the scene", cli=False)
    fill_overshoot: float = option(1.1, help="how much further than the path those views move", cli=False)
    backend: Backend = option(
        "auto", help="renderer backend", flag="--renderer", choices=BACKENDS, group="rendering"
    )
    device: str = device_option()
    depth_model: str = option("depth-anything-v2-small", help="depth estimator", cli=False)
    depth_range: tuple[float, float] | None = option(
        None,
        help="map relative disparity to depths from NEAR to FAR",
        metavar="NEAR,FAR",
        group="depth",
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> KenBurnsOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the first bad one.

        Example:
            >>> KenBurnsOptions(zoom=100)  # doctest: +SKIP
            OptionError: zoom must be between 1 and 10 ...
        """
        if not (_finite(self.duration_s) and self.duration_s > 0):
            raise OptionError("duration_s", f"must be positive; got {self.duration_s:g}")
        if not (_finite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise OptionError("fps", f"must be > 0 and at most {MAX_FPS:g}; got {self.fps:g}")
        if self.frames is not None and not 1 <= self.frames <= MAX_FRAMES:
            raise OptionError("frames", f"must be between 1 and {MAX_FRAMES}; got {self.frames}")
        if self.frames is None and self.duration_s * self.fps > MAX_FRAMES:
            raise OptionError(
                "duration_s",
                f"{self.duration_s:g} at {self.fps:g} fps is {self.duration_s * self.fps:.0f} frames; "
                f"a clip has at most {MAX_FRAMES}",
            )
        if not (_finite(self.zoom) and 1.0 <= self.zoom <= MAX_ZOOM):
            raise OptionError(
                "zoom",
                f"must be between 1 and {MAX_ZOOM:g} (the camera only moves forward, and stops "
                f"short of the nearest surface); got {self.zoom:g}",
            )
        self._combined_shift()
        if not (_finite(self.max_shift) and self.max_shift >= 0):
            raise OptionError("max_shift", f"must be a number >= 0; got {self.max_shift:g}")
        if self.autozoom_grid < 1:
            raise OptionError("autozoom_grid", f"must be at least 1; got {self.autozoom_grid}")
        if self.easing not in EASINGS:
            raise OptionError("easing", f"must be one of {', '.join(EASINGS)}; got {self.easing!r}")
        if self.fov is not None and not (_finite(self.fov) and 0 < self.fov < 180):
            raise OptionError("fov", f"must be between 0 and 180 degrees (vertical); got {self.fov:g}")
        if self.focal is not None and not (_finite(self.focal) and self.focal > 0):
            raise OptionError("focal", f"must be a positive number of pixels; got {self.focal:g}")
        if self.output_shape is not None:
            height, width = self.output_shape
            if min(width, height) < 2:
                raise OptionError("output_shape", f"must be at least 2x2; got {width}x{height}")
            if max(width, height) > MAX_FRAME_SIDE:
                raise OptionError(
                    "output_shape", f"{width}x{height} is too large (at most {MAX_FRAME_SIDE} px on a side)"
                )
        if not (_finite(self.stereo_disparity) and self.stereo_disparity >= 0):
            raise OptionError("stereo_disparity", f"must be a number >= 0; got {self.stereo_disparity:g}")
        if self.inpaint not in INPAINT_METHODS:
            raise OptionError("inpaint", f"must be one of {', '.join(INPAINT_METHODS)}; got {self.inpaint!r}")
        if not (_finite(self.edge_threshold) and self.edge_threshold > 0):
            raise OptionError("edge_threshold", f"must be positive; got {self.edge_threshold:g}")
        if self.fill_views < 0:
            raise OptionError("fill_views", f"must be >= 0; got {self.fill_views}")
        if not (_finite(self.fill_overshoot) and self.fill_overshoot >= 1.0):
            raise OptionError("fill_overshoot", f"must be >= 1; got {self.fill_overshoot:g}")
        if self.backend not in BACKENDS:
            raise OptionError("backend", f"must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        if self.depth_range is not None:
            values = tuple(self.depth_range)
            if len(values) != 2:
                raise OptionError("depth_range", f"takes two numbers NEAR,FAR; got {len(values)}")
            near, far = values
            if not (_finite(near) and _finite(far) and 0 < near < far):
                raise OptionError("depth_range", f"must satisfy 0 < NEAR < FAR; got {near:g},{far:g}")
        return self

    @property
    def end_shift(self) -> tuple[float, float] | None:
        """The end shift from ``shift`` or ``shift_x``/``shift_y``; ``None`` means autozoom.

        Example:
            >>> KenBurnsOptions(shift_y=0.05).end_shift
            (0.0, 0.05)
        """
        return self._combined_shift()

    def _combined_shift(self) -> tuple[float, float] | None:
        if self.shift is not None and (self.shift_x is not None or self.shift_y is not None):
            raise OptionError("shift", "and shift_x/shift_y cannot be combined; give one or the other")
        shift = self.shift
        if self.shift_x is not None or self.shift_y is not None:
            shift = (self.shift_x or 0.0, self.shift_y or 0.0)
        if shift is None:
            return None
        if len(shift) != 2 or not all(_finite(v) for v in shift):
            raise OptionError("shift", f"must be two finite numbers X,Y; got {shift!r}")
        return float(shift[0]), float(shift[1])

    @property
    def num_frames(self) -> int:
        """``frames``, else ``duration_s * fps`` rounded (at least 1)."""
        if self.frames is not None:
            return self.frames
        return max(1, round(self.duration_s * self.fps))


def check_kenburns_options(
    options: KenBurnsOptions,
    *,
    image_shape: tuple[int, int] | None = None,
    path: CameraPath | None = None,
) -> KenBurnsOptions:
    """Preflight: everything about a Ken Burns run that can fail, checked before any heavy work.

    Validates the fields; for ``inpaint="lama"``, that the LaMa weights exist
    (``inpaint_weights`` or the registry cache), so a long depth estimate is not
    wasted on a run that would fail at its fill step; with ``image_shape``, that
    the shift keeps the end view on the picture
    (:func:`~easel.scene3d.autozoom.check_shift`); with ``path``, its frame size
    and rate (:func:`check_path_limits`).

    Args:
        options: the options.
        image_shape: ``(height, width)`` of the input image, when known.
        path: the camera path to render instead of the Ken Burns path, if any.

    Returns:
        ``options``.

    Raises:
        OptionError: a bad field (named); LaMa weights that are missing; a shift
            that moves the view off the picture.
        InputError: a camera path too large or too fast (naming its file).

    Example:
        >>> check_kenburns_options(KenBurnsOptions(shift=(0.1, 0.0)), image_shape=(768, 1024)).zoom
        1.25
    """
    if path is not None:
        check_path_limits(path, check_size=options.output_shape is None)
    shift = options.end_shift
    if path is None and shift is not None and image_shape is not None:
        check_shift(shift, image_shape[1], image_shape[0])
    options.validate()
    if options.inpaint == "lama":
        if options.inpaint_weights is not None:
            weights_file = os.path.expanduser(options.inpaint_weights)
            if not os.path.isfile(weights_file):
                what = "is a folder, not a file" if os.path.isdir(weights_file) else "no such file"
                raise OptionError("inpaint_weights", f"{weights_file}: {what}")
        else:
            from easel import weights

            if not weights.is_present("big-lama"):
                entry = weights.get_entry("big-lama")
                how = (
                    "get them with `easel weights download big-lama`, or pass a local big-lama.pt"
                    if entry.verified
                    else f"no verified checksum is recorded, so fetch {entry.files[0].url} yourself "
                    "and pass the file"
                )
                raise OptionError(
                    "inpaint_weights",
                    f"not given, and the LaMa weights 'big-lama' are not in the cache "
                    f"({weights.local_path('big-lama')}); {how}",
                )
    return options


def check_path_in_front(path: CameraPath, near_depth: float) -> None:
    """Refuse a path that leaves the space in front of the input camera (Ken Burns' world).

    Args:
        path: the camera path (its ``source``, a file name, is named in messages).
        near_depth: depth of the nearest scene point (world units).

    Raises:
        InputError: a camera centre behind the input camera (``z < 0``), or
            at or beyond the nearest surface (it would fly through the scene).

    Example:
        >>> cam = Intrinsics.default(32, 24)
        >>> check_path_in_front(CameraPath(np.eye(4)[None], cam), near_depth=2.0)
    """
    name = f"{path.source}: camera_path" if path.source else "camera path"
    eps = 1e-6 * max(near_depth, 1e-12)
    for i, center in enumerate(path.centers):
        if center[2] < -eps:
            raise InputError(
                f"{name}[{i}] moves behind the input camera (z = {center[2]:.4g} in the input "
                "camera's frame); the path must stay in front of it"
            )
        if center[2] >= near_depth * 0.98:
            raise InputError(
                f"{name}[{i}] moves through the nearest surface (camera z = {center[2]:.4g}, "
                f"nearest depth {near_depth:.4g})"
            )


def check_path_limits(path: CameraPath, check_size: bool = True) -> None:
    """Refuse a path with frames larger than :data:`MAX_FRAME_SIDE` on a side, above :data:`MAX_FPS`, or too long.

    Args:
        path: the camera path (its ``source``, a file name, is named in messages).
        check_size: check the frame size too (not when the output size is given apart).

    Example:
        >>> check_path_limits(CameraPath(np.eye(4)[None], Intrinsics.default(64, 48)))
    """
    where = f"{path.source}: " if path.source else "camera path "
    height, width = path.output_shape
    if check_size and max(width, height) > MAX_FRAME_SIDE:
        raise InputError(
            f"{where}render size {width}x{height} is too large (at most {MAX_FRAME_SIDE} px on a side)"
        )
    if path.fps > MAX_FPS:
        raise InputError(f"{where}fps must be at most {MAX_FPS:g}; got {path.fps:g}")
    if len(path) > MAX_FRAMES:
        raise InputError(f"{where}has {len(path)} cameras; a clip has at most {MAX_FRAMES} frames")


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
        stats: timings and counts (seconds spent preparing, fill views, holes,
            ``near_depth``, ``focus_depth``, ``subject_zoom``).
        intrinsics_source: where the input camera's focal length came from
            (``"fov 60"``, ``"EXIF focal length"``, ``"given"`` ...).
        device: where the depth network, LaMa and the torch renderer ran, resolved
            (``"cpu"``, ``"cuda"`` ...); ``"cpu"`` when only the numba kernel ran.

    Example:
        >>> clip = kenburns(image, depth, duration_s=3.0, fps=25)  # doctest: +SKIP
        >>> len(clip), clip.frame_shape, clip[0].dtype  # doctest: +SKIP
        (75, (768, 1024), dtype('float32'))
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
    intrinsics_source: str = "given"
    device: str = "cpu"
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
    def frame_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the frames (width doubled in stereo)."""
        h, w = self.path.output_shape
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
        image, _ = fill_holes(res.image, res.holes, res.depth, self._inpainter, in_place=True)
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


def input_intrinsics(
    width: int,
    height: int,
    options: KenBurnsOptions,
    exif_path: str | os.PathLike[str] | None = None,
) -> tuple[Intrinsics, str]:
    """The input camera: ``options.fov``, else ``options.focal``, else ``exif_path``'s EXIF, else the default.

    Args:
        width: image width in pixels (as used, after any downscale).
        height: image height in pixels.
        options: the Ken Burns options.
        exif_path: the image file, whose EXIF 35 mm-equivalent focal length is used
            when the options give none.

    Returns:
        ``(intrinsics, source)``, ``source`` saying where the focal length came from.

    Example:
        >>> input_intrinsics(64, 48, KenBurnsOptions(fov=60.0))[1]
        'fov 60'
    """
    return resolve_intrinsics(width, height, fov=options.fov, focal=options.focal, exif_path=exif_path)


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
    exif_path: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> KenBurnsClip:
    """The 3D Ken Burns effect: a parallax clip from one image.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (uint8 accepted).
        depth: ``(H, W)`` depth along the optical axis (> 0, larger = farther),
            in any unit; ``None`` estimates it with ``options.depth_model``,
            mapped to ``options.depth_range``.
        path: a camera path (e.g. :func:`~easel.cameras.read_camera_path`);
            ``None`` builds the Ken Burns path from the options.
        options: :class:`KenBurnsOptions`; keyword ``overrides`` replace its fields
            (``kenburns(img, depth, duration_s=2.0, fps=30)``).
        intrinsics: the input camera (default: :func:`input_intrinsics` from the
            options and ``exif_path``).
        exif_path: the image's file, whose EXIF focal length is used when neither
            ``intrinsics`` nor ``options.fov``/``focal`` is given.
        progress: called with progress updates.

    Returns:
        A :class:`KenBurnsClip`: a lazy sequence of ``(H, W, 3)`` float32 frames.

    Raises:
        InputError: depth of the wrong size, non-finite or <= 0; a path leaving
            the space in front of the input camera (or passing the nearest
            surface), or with frames larger than :data:`MAX_FRAME_SIDE`; a
            shift that moves the view off the picture; bad options
            (:class:`~easel.options.OptionError`, naming the field). A constant
            depth only logs a warning (the clip is a flat zoom), and so does a
            zoom the picture cannot give (the camera stops short of the nearest
            surface; ``clip.stats["subject_zoom"]`` says how much it gives).

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
        else options or KenBurnsOptions()
    )
    rgb = as_float_rgb(image)
    h, w = rgb.shape[:2]
    check_kenburns_options(opts, image_shape=(h, w), path=path)
    shift = opts.end_shift
    if depth is None:
        from easel.depth import estimate_depth

        z = check_depth(
            estimate_depth(
                rgb,
                model=opts.depth_model,
                device=opts.device,
                depth_range=opts.depth_range,
                progress=progress,
            ),
            (h, w),
        )
    else:
        z = check_depth(depth, (h, w))
    source = "given"
    if intrinsics is None:
        intrinsics, source = input_intrinsics(w, h, opts, exif_path)
    intr = intrinsics
    if intr.shape != (h, w):
        raise InputError(f"camera is {intr.width}x{intr.height} but the image is {w}x{h}")
    # the nearest surface, robust to a few stray pixels (the 1st percentile)
    near = float(np.percentile(z, 1.0))
    # the zoom's target: the nearest surface away from the border; the camera stops well
    # short of anything nearer (its forward move is (1 - 1/zoom) * focus)
    focus, subject_zoom = zoom_target(focus_depth(z), near, opts.zoom)
    if path is None and subject_zoom < opts.zoom * (1.0 - 1e-3):
        log.warning(
            "a zoom of %g would take the camera through the nearest surface; the subject is "
            "magnified %.2fx instead (the most this picture allows)",
            opts.zoom,
            subject_zoom,
        )
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
    out_h, out_w = opts.output_shape or (h, w)
    if path is None:
        out_intr = intr.resized(out_w, out_h)
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
    else:
        shift = None
        if opts.output_shape is not None:
            path = path.with_intrinsics(
                [path.intrinsics_at(i).resized(out_w, out_h) for i in range(len(path))]
            )
    check_path_in_front(path, near)
    report(progress, "prepare", 1, 3)

    clip = KenBurnsClip(
        path, path.fps, z, intr, renderer, opts, shift=shift, layers=[layer], intrinsics_source=source
    )
    if depth is None or renderer.backend == "torch" or opts.inpaint == "lama":
        clip.device = str(resolve_device(opts.device))
    clip.stats["near_depth"] = near
    clip.stats["focus_depth"] = focus
    clip.stats["subject_zoom"] = subject_zoom
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
