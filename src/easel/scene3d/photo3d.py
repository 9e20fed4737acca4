"""3D photography: one RGB-D image to a layered depth image, a textured mesh and 3D videos.

:func:`photo3d` builds the layered depth image (:mod:`easel.scene3d.ldi`:
depth edges, background extended behind every occluding edge, colour
inpainted from its context, layers behind layers) and returns a
:class:`Photo3D`, whose :attr:`~Photo3D.mesh` is the LDI as one triangle mesh
(vertex colours, no triangle across a cut link) and whose
:meth:`~Photo3D.render` writes a clip along a trajectory (zoom-in, dolly-zoom,
swing, circle: :mod:`easel.cameras.trajectories`) or any camera path, with
the Ken Burns renderer and clip writer.

The options shared with :func:`~easel.scene3d.kenburns.kenburns` (field of
view, frame size and rate, stereo, inpainter, renderer, device, depth model)
are the same declarations as :class:`~easel.scene3d.kenburns.KenBurnsOptions`'
fields, so their flags, defaults, help and checks are declared once.

Example:
    >>> p3d = photo3d(image, depth)                      # doctest: +SKIP
    >>> p3d.save_mesh("photo.glb")                       # doctest: +SKIP
    >>> p3d.render("zoom.mp4", trajectory="zoom-in")     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from easel.cameras import Camera, CameraPath, Intrinsics, resolve_intrinsics
from easel.cameras.trajectories import TRAJECTORIES, Trajectory, trajectory_path
from easel.errors import InputError
from easel.image import FloatImage, as_float_rgb
from easel.options import OptionError, option
from easel.progress import ProgressFn, report
from easel.scene3d.autozoom import focus_depth
from easel.scene3d.inpaint import get_inpainter
from easel.scene3d.kenburns import KenBurnsClip, KenBurnsOptions, check_kenburns_options
from easel.scene3d.ldi import LDI, LDILayer, build_ldi
from easel.scene3d.render import GridLayer, Renderer, check_depth

if TYPE_CHECKING:
    import trimesh

    from easel.scene3d.clipwriter import ClipWriteResult, EncodeOptions

log = logging.getLogger(__name__)

TRAJECTORY_CHOICES: tuple[str, ...] = (*TRAJECTORIES, "all")
"""``--trajectory`` values: one trajectory, or ``all`` (one output each)."""
MAX_LAYERS = 8
"""The most layers synthesized behind the input."""

SHARED_FIELDS = (
    "fps",
    "easing",
    "fov",
    "focal",
    "output_shape",
    "stereo",
    "stereo_disparity",
    "inpaint",
    "inpaint_weights",
    "edge_threshold",
    "backend",
    "device",
    "depth_model",
    "depth_range",
)
"""The :class:`KenBurnsOptions` fields :class:`Photo3DOptions` shares (same declaration, same checks)."""

_KENBURNS_FIELDS = {f.name: f for f in dataclasses.fields(KenBurnsOptions)}


def _shared(name: str) -> Any:
    """The declaration of :class:`KenBurnsOptions`' field ``name`` (default, help, flag, group)."""
    source = _KENBURNS_FIELDS[name]
    return dataclasses.field(default=source.default, metadata=source.metadata)


@dataclass
class Photo3DOptions:
    """Options of :func:`photo3d`; each field's help is its CLI help (``easel photo3d``).

    The fields in :data:`SHARED_FIELDS` are :class:`KenBurnsOptions`' own
    declarations (see its docs).

    Attributes:
        trajectory: ``zoom-in``, ``dolly-zoom``, ``swing``, ``circle`` or ``all``.
        x_shift: sideways amplitude of the trajectory, a fraction of the subject's depth.
        y_shift: vertical amplitude (down is positive).
        z_shift: forward amplitude (the dolly zoom moves back by it).
        frames: frames per trajectory.
        synthesis_width: how far backgrounds extend behind foregrounds, a fraction of the long side.
        context_width: how far the context reaches, a fraction of the long side.
        min_edge_length: the fewest pixels an occlusion boundary keeps (shorter ones are removed).
        layers: how many layers are synthesized behind the input.
        smoothing: edge-preserving depth smoothing passes.

    Example:
        >>> Photo3DOptions(trajectory="circle").trajectories
        ('circle',)
    """

    trajectory: str = option(
        "zoom-in",
        help="camera trajectory (all: one output each)",
        choices=TRAJECTORY_CHOICES,
        group="camera path",
    )
    x_shift: float = option(
        0.04, help="sideways amplitude, fraction of the subject's depth", metavar="X", group="camera path"
    )
    y_shift: float = option(
        0.03,
        help="vertical amplitude (circle), fraction of the subject's depth",
        metavar="Y",
        group="camera path",
    )
    z_shift: float = option(
        0.12,
        help="forward amplitude (dolly-zoom: how far back), fraction of the subject's depth",
        metavar="Z",
        group="camera path",
    )
    frames: int = option(240, help="frames per trajectory", group="camera path")
    synthesis_width: float = option(
        0.05, help="how far backgrounds extend behind foregrounds, fraction of the long side", group="layers"
    )
    context_width: float = option(
        0.1, help="how far the inpainting context reaches, fraction of the long side", group="layers"
    )
    min_edge_length: int = option(8, help="shortest depth edge kept, in pixels", metavar="PX", group="layers")
    layers: int = option(2, help="layers synthesized behind the input", metavar="N", group="layers")
    smoothing: int = option(1, help="edge-preserving depth smoothing passes", metavar="N", group="layers")
    fps: float = _shared("fps")
    easing: Any = _shared("easing")
    fov: float | None = _shared("fov")
    focal: float | None = _shared("focal")
    output_shape: tuple[int, int] | None = _shared("output_shape")
    stereo: bool = _shared("stereo")
    stereo_disparity: float = _shared("stereo_disparity")
    inpaint: str = _shared("inpaint")
    inpaint_weights: str | None = _shared("inpaint_weights")
    edge_threshold: float = _shared("edge_threshold")
    backend: Any = _shared("backend")
    device: str = _shared("device")
    depth_model: str = _shared("depth_model")
    depth_range: tuple[float, float] | None = _shared("depth_range")

    def __post_init__(self) -> None:
        self.validate()

    def kenburns_options(self) -> KenBurnsOptions:
        """The shared fields as :class:`KenBurnsOptions` (validated by it).

        Example:
            >>> Photo3DOptions(fps=30.0).kenburns_options().fps
            30.0
        """
        return KenBurnsOptions(**{name: getattr(self, name) for name in SHARED_FIELDS})

    def validate(self) -> Photo3DOptions:
        """Check every field; raise :class:`~easel.options.OptionError` naming the first bad one.

        Example:
            >>> Photo3DOptions(frames=0)  # doctest: +SKIP
            OptionError: frames must be between 1 and 200000; got 0
        """
        from easel.scene3d.kenburns import MAX_FRAMES

        if self.trajectory not in TRAJECTORY_CHOICES:
            raise OptionError(
                "trajectory", f"must be one of {', '.join(TRAJECTORY_CHOICES)}; got {self.trajectory!r}"
            )
        for name in ("x_shift", "y_shift", "z_shift"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and abs(value) <= 0.9):
                raise OptionError(name, f"must be a number between -0.9 and 0.9; got {value}")
        if not (isinstance(self.frames, int) and 1 <= self.frames <= MAX_FRAMES):
            raise OptionError("frames", f"must be between 1 and {MAX_FRAMES}; got {self.frames}")
        for name in ("synthesis_width", "context_width"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
                raise OptionError(name, f"must be between 0 and 1 (a fraction of the long side); got {value}")
        if self.min_edge_length < 1:
            raise OptionError("min_edge_length", f"must be at least 1; got {self.min_edge_length}")
        if not 0 <= self.layers <= MAX_LAYERS:
            raise OptionError("layers", f"must be between 0 and {MAX_LAYERS}; got {self.layers}")
        if not 0 <= self.smoothing <= 10:
            raise OptionError("smoothing", f"must be between 0 and 10; got {self.smoothing}")
        self.kenburns_options()
        return self

    @property
    def trajectories(self) -> tuple[Trajectory, ...]:
        """The trajectories asked for (all four for ``"all"``)."""
        if self.trajectory == "all":
            return TRAJECTORIES
        return (self.trajectory,)  # type: ignore[return-value]


def trajectory_output(output: str | os.PathLike[str], kind: str, several: bool) -> Path:
    """Where trajectory ``kind``'s clip goes: ``output`` itself, or its stem + ``-kind`` when ``several``.

    Example:
        >>> trajectory_output("clip.mp4", "zoom-in", True).name, trajectory_output("frames", "circle", True).name
        ('clip-zoom-in.mp4', 'frames-circle')
    """
    out = Path(output)
    if not several:
        return out
    return out.with_name(f"{out.stem}-{kind}{out.suffix}")


@dataclass
class Photo3D:
    """A 3D photo: the layered depth image, its mesh, and clips rendered from it.

    Attributes:
        ldi: the layered depth image.
        options: the options it was made with.
        intrinsics_source: where the input camera came from (``fov 60``, ``exif``, ``default``...).
        stats: counts and timings; ``near_depth`` and ``focus_depth`` (the subject).
        device: the resolved device name.

    Example:
        >>> from easel.scene3d.synthetic import layered_scene
        >>> scene, cam = layered_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> p3d = photo3d(view.image, view.depth, frames=4)
        >>> len(p3d.layers) > 1, p3d.clip("swing")[0].shape
        (True, (48, 64, 3))
    """

    ldi: LDI
    options: Photo3DOptions
    intrinsics_source: str = "given"
    stats: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    _grid: list[GridLayer] | None = None
    _mesh: Any = None

    @property
    def layers(self) -> list[LDILayer]:
        """The LDI's layers, the input first."""
        return self.ldi.layers

    @property
    def intrinsics(self) -> Intrinsics:
        """The input camera."""
        return self.ldi.intrinsics

    @property
    def grid_layers(self) -> list[GridLayer]:
        """The layers as renderable meshes (built once)."""
        if self._grid is None:
            self._grid = self.ldi.grid_layers()
        return self._grid

    @property
    def mesh(self) -> trimesh.Trimesh:
        """The whole LDI as one :class:`trimesh.Trimesh` (OpenGL axes, vertex colours); built once."""
        if self._mesh is None:
            from easel.scene3d.mesh import ldi_mesh

            self._mesh = ldi_mesh(self.grid_layers)
        return self._mesh

    def save_mesh(self, path: str | os.PathLike[str], ascii: bool = False) -> Path:
        """Write the mesh: ``.ply`` (binary, or ``ascii``) or ``.glb``; atomically.

        Example:
            >>> p3d.save_mesh("photo.glb")  # doctest: +SKIP
            PosixPath('photo.glb')
        """
        from easel.scene3d.mesh import write_mesh

        return write_mesh(path, self.mesh, ascii=ascii)

    def trajectory(self, kind: str, output_shape: tuple[int, int] | None = None) -> CameraPath:
        """The camera path of trajectory ``kind`` for this photo (shifts scaled to the subject).

        Example:
            >>> len(p3d.trajectory("circle"))  # doctest: +SKIP
            240
        """
        if kind not in TRAJECTORIES:
            raise InputError(f"unknown trajectory {kind!r}; choose one of {', '.join(TRAJECTORIES)}")
        opts = self.options
        intr = self.intrinsics
        h, w = output_shape or opts.output_shape or intr.shape
        focus = float(self.stats["focus_depth"])
        near = float(self.stats["near_depth"])
        z_shift = opts.z_shift
        # never fly into the nearest surface: at most half way to it
        if kind != "dolly-zoom" and z_shift * focus > 0.5 * near:
            z_shift = 0.5 * near / focus * (1 if z_shift > 0 else -1)
            log.warning(
                "z shift %.3g would take the camera too close to the nearest surface; using %.3g",
                opts.z_shift,
                z_shift,
            )
        return trajectory_path(
            cast(Trajectory, kind),
            intr,
            focus,
            opts.frames,
            opts.fps,
            x_shift=opts.x_shift,
            y_shift=opts.y_shift,
            z_shift=z_shift,
            output=intr.resized(w, h),
            easing=opts.easing,
        )

    def clip(self, path: CameraPath | str) -> KenBurnsClip:
        """A lazy clip of ``path`` (a :class:`CameraPath` or a trajectory name), frames ``(H, W, 3)`` float32.

        Example:
            >>> p3d.clip("zoom-in")[0].shape  # doctest: +SKIP
            (768, 1024, 3)
        """
        if isinstance(path, str):
            path = self.trajectory(path)
        elif self.options.output_shape is not None:
            out_h, out_w = self.options.output_shape
            path = path.with_intrinsics(
                [path.intrinsics_at(i).resized(out_w, out_h) for i in range(len(path))]
            )
        check_path_clear(path, float(self.stats["near_depth"]))
        opts = self.options
        renderer = Renderer(
            self.grid_layers, backend=opts.backend, device=None if opts.backend == "numba" else opts.device
        )
        kb = dataclasses.replace(opts.kenburns_options(), frames=len(path), fps=path.fps)
        clip = KenBurnsClip(
            path,
            path.fps,
            self.layers[0].depth,
            self.intrinsics,
            renderer,
            kb,
            layers=list(self.grid_layers),
            intrinsics_source=self.intrinsics_source,
            device=self.device,
        )
        clip.stats.update(self.stats)
        return clip

    def render(
        self,
        output: str | os.PathLike[str],
        path: CameraPath | str = "zoom-in",
        *,
        encode: EncodeOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> ClipWriteResult:
        """Render ``path`` (a trajectory name or a camera path) into ``output`` (video file or frame folder).

        Example:
            >>> p3d.render("circle.mp4", "circle").frames_written  # doctest: +SKIP
            240
        """
        from easel.scene3d.clipwriter import write_clip

        return write_clip(self.clip(path), output, encode=encode, progress=progress)

    def render_view(self, camera: Camera) -> FloatImage:
        """Render one camera, leftover holes filled: ``(H, W, 3)`` float32 RGB in [0, 1].

        Example:
            >>> p3d.render_view(Camera(p3d.intrinsics)).shape  # doctest: +SKIP
            (768, 1024, 3)
        """
        path = CameraPath(np.asarray(camera.world_to_camera)[None], camera.intrinsics)
        return self.clip(path).render_view(camera)


def check_path_clear(path: CameraPath, near_depth: float) -> None:
    """Refuse a path whose camera reaches the nearest surface (moving back, behind the input camera, is fine).

    Raises:
        InputError: a camera centre with ``z >= 0.98 * near_depth`` (naming the path's file).

    Example:
        >>> check_path_clear(CameraPath(np.eye(4)[None], Intrinsics.default(32, 24)), near_depth=2.0)
    """
    name = f"{path.source}: camera_path" if path.source else "camera path"
    for i, center in enumerate(path.centers):
        if center[2] >= near_depth * 0.98:
            raise InputError(
                f"{name}[{i}] moves through the nearest surface (camera z = {center[2]:.4g}, "
                f"nearest depth {near_depth:.4g})"
            )


def check_photo3d_options(options: Photo3DOptions, *, path: CameraPath | None = None) -> Photo3DOptions:
    """Preflight before heavy work: the fields, LaMa weights when asked, a camera path's limits.

    Example:
        >>> check_photo3d_options(Photo3DOptions()).trajectory
        'zoom-in'
    """
    options.validate()
    check_kenburns_options(options.kenburns_options(), path=path)
    return options


def photo3d(
    image: ArrayLike,
    depth: ArrayLike | None = None,
    options: Photo3DOptions | None = None,
    *,
    intrinsics: Intrinsics | None = None,
    exif_path: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> Photo3D:
    """A 3D photo from one image and its depth: the layered depth image, ready to mesh and render.

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (uint8 accepted).
        depth: ``(H, W)`` depth along the optical axis (> 0, larger = farther);
            ``None`` estimates it with ``options.depth_model``.
        options: :class:`Photo3DOptions`; keyword ``overrides`` replace fields.
        intrinsics: the input camera (default: from ``fov``/``focal``, the EXIF
            of ``exif_path``, else the reference's default).
        exif_path: the image's file, for its EXIF focal length.
        progress: called with progress updates.

    Returns:
        A :class:`Photo3D`.

    Raises:
        InputError: depth of the wrong size, non-finite or <= 0; bad options
            (:class:`~easel.options.OptionError`, naming the field).

    Example:
        >>> from easel.scene3d.synthetic import layered_scene
        >>> scene, cam = layered_scene(64, 48)
        >>> view = scene.render(Camera(cam))
        >>> p3d = photo3d(view.image, view.depth, layers=1)
        >>> [layer.level for layer in p3d.layers]
        [0, 1]
    """
    start = time.perf_counter()
    opts = (
        dataclasses.replace(options or Photo3DOptions(), **overrides)
        if overrides
        else options or Photo3DOptions()
    )
    check_photo3d_options(opts)
    rgb = as_float_rgb(image)
    h, w = rgb.shape[:2]
    device = "cpu"
    if depth is None:
        from easel.depth import estimate_depth
        from easel.devices import resolve_device

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
        device = str(resolve_device(opts.device))
    else:
        z = check_depth(depth, (h, w))
    source = "given"
    if intrinsics is None:
        intrinsics, source = resolve_intrinsics(w, h, fov=opts.fov, focal=opts.focal, exif_path=exif_path)
    if intrinsics.shape != (h, w):
        raise InputError(f"camera is {intrinsics.width}x{intrinsics.height} but the image is {w}x{h}")
    if opts.inpaint == "lama":
        from easel.devices import resolve_device

        device = str(resolve_device(opts.device))
    inpainter = get_inpainter(opts.inpaint, weights=opts.inpaint_weights, device=opts.device)
    long_side = max(h, w)
    ldi = build_ldi(
        rgb,
        z,
        intrinsics,
        inpainter=inpainter,
        edge_threshold=opts.edge_threshold,
        min_edge_length=opts.min_edge_length,
        width=max(1, round(opts.synthesis_width * long_side)) if opts.synthesis_width > 0 else 0,
        context=max(1, round(opts.context_width * long_side)),
        num_layers=opts.layers if opts.synthesis_width > 0 else 0,
        smoothing=opts.smoothing,
        progress=progress,
    )
    near = float(np.percentile(z, 1.0))
    stats: dict[str, float] = dict(ldi.stats)
    stats["near_depth"] = near
    stats["focus_depth"] = max(float(focus_depth(z)), near)
    stats["prepare_s"] = time.perf_counter() - start
    report(progress, "prepare", 1, 1)
    return Photo3D(ldi, opts, intrinsics_source=source, stats=stats, device=device)
