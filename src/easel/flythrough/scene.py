"""A fitted fly-through scene: its views, the model, rendering, evaluation, and the scene folder.

A scene folder holds:

* ``model.pt`` -- the model's tensors (points, descriptors, renderer, tonemapper);
* ``config.json`` -- the fit options and every view (name, size, intrinsics,
  world-to-camera pose, held out or not);
* ``metrics.json`` -- held-out PSNR/SSIM of the model and of the plain-splatting baseline;
* ``heldout.npz`` -- the held-out photos at the training size (for :meth:`Scene.evaluate`);
* ``checkpoint.pt`` -- the optimizer's state, to resume the fit.

**Appearance of views that were not fitted.** Exposure and white balance are
fitted per training image. A held-out view takes them interpolated from its
neighbouring training views in sorted-name order (never fitted on itself);
any other camera takes a Gaussian-weighted mix of the training views nearest
to it.

Example:
    >>> scene = Scene.load("scene/")                      # doctest: +SKIP
    >>> image = scene.render(scene.views[3].camera)        # doctest: +SKIP
    >>> scene.evaluate()["psnr"]                           # doctest: +SKIP
    27.1
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from easel.cameras import Camera, CameraPath, Intrinsics
from easel.errors import InputError
from easel.flythrough.model import FlythroughModel
from easel.flythrough.options import FitOptions, RenderOptions
from easel.image import FloatImage, to_uint8
from easel.io.atomic import atomic_path, write_text_atomic
from easel.progress import ProgressFn, report

if TYPE_CHECKING:
    from easel.cameras.colmap import ColmapModel

log = logging.getLogger(__name__)

__all__ = [
    "SCENE_FILES",
    "Scene",
    "View",
    "held_out_mask",
    "load_views",
    "neighbour_weights",
    "path_at_size",
    "scene_camera_path",
    "write_point_cloud",
]

FORMAT = "easel-flythrough"
VERSION = 1
SCENE_FILES = ("model.pt", "config.json", "metrics.json", "heldout.npz")
"""The files of a scene folder (``checkpoint.pt`` besides, while a fit may be resumed)."""
CHECKPOINT = "checkpoint.pt"
MIN_VIEWS = 3
APPEARANCE_NOTE = (
    "held-out views use exposure and white balance interpolated from their neighbouring training "
    "views in sorted-name order (never fitted on the held-out photos)"
)


@dataclass
class View:
    """One photo and its camera.

    Attributes:
        name: the file name relative to the images folder (COLMAP's name).
        camera: intrinsics at the size of ``image``, and the world-to-camera pose (OpenCV).
        image: ``(H, W, 3)`` float32 RGB in [0, 1], or ``None`` once not needed.

    Example:
        >>> View("a.png", Camera(Intrinsics.default(4, 3)), None).name
        'a.png'
    """

    name: str
    camera: Camera
    image: FloatImage | None = None


def held_out_mask(count: int, every: int) -> list[bool]:
    """Which of ``count`` views (sorted by name) are held out: index % ``every`` == 0 (none when 0).

    Example:
        >>> held_out_mask(10, 8)
        [True, False, False, False, False, False, False, False, True, False]
    """
    return [every > 0 and i % every == 0 for i in range(count)]


def neighbour_weights(held_out: Sequence[bool]) -> list[list[tuple[int, float]]]:
    """Per view, its appearance as ``[(training index, weight), ...]``.

    A training view is itself; a held-out view interpolates linearly (by
    sorted-name index) between the nearest training views before and after it
    (the one nearest when it is at an end).

    Example:
        >>> neighbour_weights([True, False, False, True, False])
        [[(0, 1.0)], [(0, 1.0)], [(1, 1.0)], [(1, 0.5), (2, 0.5)], [(2, 1.0)]]
    """
    train_of: dict[int, int] = {}
    for i, h in enumerate(held_out):
        if not h:
            train_of[i] = len(train_of)
    if not train_of:
        raise InputError("no training views: every view is held out")
    out: list[list[tuple[int, float]]] = []
    for i, h in enumerate(held_out):
        if not h:
            out.append([(train_of[i], 1.0)])
            continue
        before = [j for j in train_of if j < i]
        after = [j for j in train_of if j > i]
        if before and after:
            p, n = before[-1], after[0]
            out.append([(train_of[p], (n - i) / (n - p)), (train_of[n], (i - p) / (n - p))])
        else:
            out.append([(train_of[(before or after)[-1 if before else 0]], 1.0)])
    return out


def load_views(
    images: str | os.PathLike[str],
    model: ColmapModel,
    size: int,
    progress: ProgressFn | None = None,
) -> tuple[list[View], list[str]]:
    """Match a COLMAP model's images to the files of ``images`` and read them at ``size`` (long side).

    Intrinsics are scaled to each image's size (mixed sizes are fine; lens
    distortion in the model is ignored: undistort first for strongly distorted lenses).

    Args:
        images: the photo folder (COLMAP's names are relative to it).
        model: the COLMAP model.
        size: long side of the images in pixels (larger ones are downscaled).
        progress: called with ``("read images", i, n)``.

    Returns:
        The views sorted by name, and the names of image files in the folder
        that the model does not hold (photos SfM did not register).

    Raises:
        InputError: no folder; none of the model's images in it (with close names);
            fewer than 3 usable views; an image whose shape does not fit its camera.

    Example:
        >>> views, unregistered = load_views("photos/", read_colmap_model("sparse/0"), 512)  # doctest: +SKIP
    """
    import difflib

    from easel.io.images import IMAGE_SUFFIXES, read_image

    root = Path(images)
    if not root.is_dir():
        raise InputError(f"{root}: {'no such folder' if not root.exists() else 'not a folder of photos'}")
    files = sorted(
        str(p.relative_to(root)).replace(os.sep, "/")
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    by_name = {img.name: img for img in model.images.values()}
    usable = sorted(name for name in by_name if (root / name).is_file())
    missing = sorted(set(by_name) - set(usable))
    if not usable:
        example = sorted(by_name)[:3]
        close = difflib.get_close_matches(example[0], files, n=1) if example and files else []
        hint = f"; did you mean {close[0]}?" if close else ""
        raise InputError(
            f"{root}: none of the COLMAP model's {len(by_name)} images is in this folder "
            f"(the model names {', '.join(example)}{' ...' if len(by_name) > 3 else ''}{hint})"
        )
    if len(usable) < MIN_VIEWS:
        raise InputError(
            f"{root}: only {len(usable)} photos have cameras; a fly-through needs at least {MIN_VIEWS}"
        )
    if missing:
        log.warning(
            "%d of the COLMAP model's images are not in %s and are skipped: %s",
            len(missing),
            root,
            ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""),
        )
    unregistered = [f for f in files if f not in by_name]
    views = []
    for i, name in enumerate(usable):
        report(progress, "read images", i, len(usable))
        img = by_name[name]
        cam = model.cameras[img.camera_id]
        if not cam.is_pinhole:
            log.debug("%s: camera model %s; its distortion is ignored", name, cam.model)
        intr = cam.intrinsics()
        loaded = read_image(root / name, max_size=size)
        oh, ow = loaded.original_shape
        if abs(ow / oh - intr.width / intr.height) > 0.01 * intr.width / intr.height:
            raise InputError(
                f"{root / name}: the photo is {ow}x{oh} but its COLMAP camera is {intr.width}x{intr.height}"
            )
        h, w = loaded.rgb.shape[:2]
        sx, sy = w / intr.width, h / intr.height
        scaled = Intrinsics(intr.fx * sx, intr.fy * sy, intr.cx * sx, intr.cy * sy, w, h)
        views.append(View(name, Camera(scaled, img.world_to_camera()), loaded.rgb))
    report(progress, "read images", len(usable), len(usable))
    return views, unregistered


def camera_tensors(
    camera: Camera, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """``K`` (3, 3), world-to-camera (4, 4) float32 tensors on ``device``, and ``(height, width)``.

    Example:
        >>> K, pose, shape = camera_tensors(Camera(Intrinsics.default(8, 6)), torch.device("cpu"))
        >>> shape, K[0, 2].item()
        ((6, 8), 4.0)
    """
    k = camera.intrinsics
    K = torch.tensor(k.K, dtype=torch.float32, device=device)  # noqa: N806
    pose = torch.tensor(np.asarray(camera.world_to_camera), dtype=torch.float32, device=device)
    return K, pose, (k.height, k.width)


def _to_image(t: torch.Tensor) -> FloatImage:
    return t[0].detach().clamp(0.0, 1.0).permute(1, 2, 0).float().cpu().numpy().astype(np.float32)


class Scene:
    """A fitted scene: the model, its views and the fit's options and metrics.

    Args:
        model: the fitted :class:`~easel.flythrough.model.FlythroughModel`.
        views: every view sorted by name (images may be ``None``).
        held_out: per view, whether it was held out.
        options: the fit options.
        metrics: the fit's metrics (``metrics.json``).
        held_out_images: name -> ``(H, W, 3)`` float32 photo of each held-out view.

    Example:
        >>> scene = Scene.load("scene/")                  # doctest: +SKIP
        >>> scene.render(scene.views[0].camera).shape     # doctest: +SKIP
        (384, 512, 3)
    """

    def __init__(
        self,
        model: FlythroughModel,
        views: Sequence[View],
        held_out: Sequence[bool],
        options: FitOptions,
        metrics: dict[str, Any] | None = None,
        held_out_images: dict[str, FloatImage] | None = None,
    ) -> None:
        self.model = model
        self.views = list(views)
        self.held_out = list(held_out)
        self.options = options
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.held_out_images = dict(held_out_images or {})
        self._weights = neighbour_weights(self.held_out)
        centres = np.array([v.camera.center for v, h in zip(self.views, self.held_out, strict=True) if not h])
        self._train_centres = centres
        gaps = np.linalg.norm(np.diff(centres, axis=0), axis=1) if len(centres) > 1 else np.ones(1)
        self._sigma = float(max(np.median(gaps), 1e-9))

    @property
    def device(self) -> torch.device:
        """The device the model is on."""
        return self.model.points.device

    def to(self, device: str | torch.device) -> Scene:
        """Move the model to ``device`` (resolved from ``"auto"``); return ``self``."""
        from easel.devices import resolve_device

        self.model.to(resolve_device(device))
        return self

    def appearance_weights(self, camera: Camera) -> list[tuple[int, float]]:
        """Training views mixed for ``camera``'s appearance: Gaussian weights of camera-centre distance.

        Example:
            >>> scene.appearance_weights(scene.views[1].camera)[0]  # doctest: +SKIP
            (1, 0.98)
        """
        d = np.linalg.norm(self._train_centres - camera.center[None], axis=1)
        w = np.exp(-0.5 * ((d - d.min()) / self._sigma) ** 2)
        keep = np.flatnonzero(w > 1e-3)
        w = w[keep] / w[keep].sum()
        return [(int(i), float(x)) for i, x in zip(keep, w, strict=True)]

    @torch.no_grad()
    def render(
        self,
        camera: Camera,
        *,
        exposure: float = 0.0,
        appearance: Sequence[tuple[int, float]] | None = None,
    ) -> FloatImage:
        """Render the scene from ``camera``: ``(H, W, 3)`` float32 RGB in [0, 1] at the camera's size.

        Args:
            camera: intrinsics (their size is the output's) and world-to-camera pose.
            exposure: stops added to the exposure.
            appearance: ``[(training index, weight)]``; default :meth:`appearance_weights`.
        """
        self.model.eval()
        K, pose, shape = camera_tensors(camera, self.device)  # noqa: N806
        app = self.model.tonemapper.appearance(list(appearance or self.appearance_weights(camera)))
        return _to_image(self.model(K, pose, shape, app, exposure))

    @torch.no_grad()
    def render_view(self, index: int, *, exposure: float = 0.0) -> FloatImage:
        """Render input view ``index`` with its appearance (interpolated when it was held out).

        Example:
            >>> scene.render_view(0).shape  # doctest: +SKIP
            (384, 512, 3)
        """
        return self.render(self.views[index].camera, exposure=exposure, appearance=self._weights[index])

    @torch.no_grad()
    def splat_view(self, index: int) -> FloatImage:
        """The plain-splatting baseline of input view ``index`` (see :meth:`FlythroughModel.splat`)."""
        K, pose, shape = camera_tensors(self.views[index].camera, self.device)  # noqa: N806
        return _to_image(self.model.splat(K, pose, shape))

    def render_path(self, path: CameraPath, *, exposure: float = 0.0) -> Iterator[FloatImage]:
        """Render each camera of ``path`` lazily (appearance: :meth:`appearance_weights`).

        Example:
            >>> frames = list(scene.render_path(scene.smooth_path(2.0, 10)))  # doctest: +SKIP
        """
        for cam in path:
            yield self.render(cam, exposure=exposure)

    def evaluate(self) -> dict[str, Any]:
        """PSNR and SSIM of the held-out views (model and plain-splatting baseline), means and per view.

        Raises:
            InputError: the scene has no held-out views.

        Example:
            >>> sorted(scene.evaluate())  # doctest: +SKIP
            ['appearance', 'baseline_psnr', 'baseline_ssim', 'psnr', 'ssim', 'views']
        """
        from easel.metrics import psnr, ssim

        names = [v.name for v, h in zip(self.views, self.held_out, strict=True) if h]
        if not names:
            raise InputError(
                "the scene has no held-out views to evaluate (it was fitted with --holdout-every 0)"
            )
        per_view = []
        for i, (view, h) in enumerate(zip(self.views, self.held_out, strict=True)):
            if not h:
                continue
            target = self.held_out_images.get(view.name)
            if target is None:
                raise InputError(f"the scene has no held-out photo {view.name!r} (heldout.npz is incomplete)")
            pred = self.render_view(i)
            base = self.splat_view(i)
            side = min(target.shape[:2])
            win = 7 if side >= 7 else max(3, (side - 1) // 2 * 2 + 1)
            per_view.append(
                {
                    "name": view.name,
                    "psnr": psnr(pred, target),
                    "ssim": ssim(pred, target, win_size=win),
                    "baseline_psnr": psnr(base, target),
                    "baseline_ssim": ssim(base, target, win_size=win),
                }
            )
        mean = {
            k: float(np.mean([v[k] for v in per_view]))
            for k in ("psnr", "ssim", "baseline_psnr", "baseline_ssim")
        }
        return {**mean, "views": per_view, "appearance": APPEARANCE_NOTE}

    def point_cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """The points ``(N, 3)`` float64 (OpenCV world) and their fitted colours ``(N, 3)`` float32 in [0, 1].

        The colour is the descriptor's colour channels through the response
        curve at neutral exposure and white balance.

        Example:
            >>> points, colors = scene.point_cloud()  # doctest: +SKIP
        """
        with torch.no_grad():
            desc = self.model.descriptors[:, :3]
            colors = self.model.tonemapper.curve(desc).clamp(0.0, 1.0)
        return self.model.fitted_points().double().cpu().numpy(), colors.float().cpu().numpy()

    # ---------------------------------------------------------------- the folder

    def config(self) -> dict[str, Any]:
        """The JSON of ``config.json``."""
        from easel.options import options_dict

        views = []
        for view, h in zip(self.views, self.held_out, strict=True):
            k = view.camera.intrinsics
            views.append(
                {
                    "name": view.name,
                    "held_out": h,
                    "width": k.width,
                    "height": k.height,
                    "fx": k.fx,
                    "fy": k.fy,
                    "cx": k.cx,
                    "cy": k.cy,
                    "world_to_camera": np.asarray(view.camera.world_to_camera).reshape(-1).tolist(),
                }
            )
        return {
            "format": FORMAT,
            "version": VERSION,
            "options": options_dict(self.options),
            "num_points": int(len(self.model.points)),
            "views": views,
        }

    def save(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write the scene folder's files (atomically each; the folder is created); return them.

        Example:
            >>> scene.save("scene/")  # doctest: +SKIP
        """
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        with atomic_path(root / "model.pt") as tmp:
            torch.save({"format": FORMAT, "version": VERSION, "state": state}, tmp)
        write_text_atomic(root / "config.json", json.dumps(self.config(), indent=1) + "\n")
        write_text_atomic(root / "metrics.json", json.dumps(self.metrics, indent=1) + "\n")
        with atomic_path(root / "heldout.npz") as tmp, open(tmp, "wb") as fh:
            arrays: dict[str, Any] = {
                f"view{i}": to_uint8(img) for i, img in enumerate(self.held_out_images.values())
            }
            arrays["names"] = np.array(list(self.held_out_images), dtype=str)
            np.savez_compressed(fh, **arrays)
        return [root / name for name in SCENE_FILES]

    @classmethod
    def load(cls, folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> Scene:
        """Read a scene folder written by :meth:`save` (or ``easel flythrough fit``).

        Raises:
            InputError: not a folder, a file missing, or files that are not a scene's.

        Example:
            >>> scene = Scene.load("scene/", device="auto")  # doctest: +SKIP
        """
        from easel.devices import resolve_device

        root = Path(folder)
        if not root.is_dir():
            raise InputError(f"{root}: {'no such folder' if not root.exists() else 'not a scene folder'}")
        for name in SCENE_FILES:
            if not (root / name).is_file():
                raise InputError(
                    f"{root}: not a fly-through scene (no {name}); make one with `easel flythrough fit`"
                )
        try:
            config = json.loads((root / "config.json").read_text())
            metrics = json.loads((root / "metrics.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{root}: cannot read the scene's JSON ({exc})") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise InputError(f"{root / 'config.json'}: not an easel fly-through scene")
        if not isinstance(config.get("version"), int) or config["version"] > VERSION:
            raise InputError(
                f"{root / 'config.json'}: scene version {config.get('version')!r} is newer than this easel"
            )
        try:
            payload = torch.load(root / "model.pt", map_location="cpu", weights_only=True)
            state = payload["state"]
            opts = config["options"]
            options = FitOptions(**opts)
            views, held = [], []
            for v in config["views"]:
                intr = Intrinsics(v["fx"], v["fy"], v["cx"], v["cy"], int(v["width"]), int(v["height"]))
                pose = np.asarray(v["world_to_camera"], dtype=np.float64).reshape(4, 4)
                views.append(View(str(v["name"]), Camera(intr, pose)))
                held.append(bool(v["held_out"]))
        except (KeyError, TypeError, ValueError, RuntimeError, OSError) as exc:
            raise InputError(f"{root}: the scene is damaged ({str(exc).splitlines()[0][:120]})") from None
        num_train = sum(not h for h in held)
        model = FlythroughModel(
            state["points"],
            state["colors"],
            num_train,
            descriptor_channels=options.descriptor_channels,
            width=options.width,
            levels=options.levels,
            depth_band=options.depth_band,
            refine_poses=options.refine_poses,
            refine_points=options.refine_points,
        )
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise InputError(
                f"{root / 'model.pt'}: does not match config.json ({str(exc).splitlines()[0][:120]})"
            ) from None
        images: dict[str, FloatImage] = {}
        with np.load(root / "heldout.npz") as data:
            names = [str(n) for n in data["names"]]
            for i, name in enumerate(names):
                images[name] = data[f"view{i}"].astype(np.float32) / 255.0
        scene = cls(model, views, held, options, metrics, images)
        return scene.to(resolve_device(device))


def path_at_size(path: CameraPath, size: int | None) -> CameraPath:
    """``path`` with frames whose long side is ``size`` pixels (the same field of view); unchanged when ``None``.

    Example:
        >>> p = CameraPath(np.eye(4)[None], Intrinsics.default(64, 48))
        >>> path_at_size(p, 32).output_shape
        (24, 32)
    """
    if size is None:
        return path
    h, w = path.output_shape
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    intr = path.intrinsics
    resized = intr.resized(nw, nh) if isinstance(intr, Intrinsics) else [k.resized(nw, nh) for k in intr]
    return CameraPath(path.poses, resized, fps=path.fps, source=path.source)


def scene_camera_path(scene: Scene, options: RenderOptions | None = None) -> CameraPath:
    """The smooth path through a scene's input cameras in sorted-name order (constant speed).

    Positions follow a spline through the camera centres and orientations a
    rotation spline (:func:`easel.cameras.interpolate.smooth_path`);
    ``options.seconds * options.fps`` frames of the first camera's field of
    view, ``options.size`` pixels on the long side (default: the training size).

    Example:
        >>> path = scene_camera_path(scene, RenderOptions(seconds=2, fps=12))  # doctest: +SKIP
        >>> len(path)  # doctest: +SKIP
        24
    """
    from easel.cameras.interpolate import smooth_path

    opts = options or RenderOptions()
    keys = np.stack([np.asarray(v.camera.world_to_camera) for v in scene.views])
    path = smooth_path(keys, opts.num_frames, scene.views[0].camera.intrinsics, fps=opts.fps)
    return path_at_size(path, opts.size)


def write_point_cloud(path: str | os.PathLike[str], points: np.ndarray, colors: np.ndarray) -> Path:
    """Write points and colours as binary little-endian PLY (``x y z`` float32, ``red green blue`` uint8), atomically.

    Args:
        path: the ``.ply`` file.
        points: ``(N, 3)`` points, written as given (the COLMAP world for a scene's cloud).
        colors: ``(N, 3)`` float RGB in [0, 1].

    Example:
        >>> write_point_cloud("cloud.ply", np.zeros((1, 3)), np.ones((1, 3)))  # doctest: +SKIP
    """
    from easel.io.ply import write_ply

    return write_ply(path, points, colors, opengl=False, comment="written by easel flythrough (COLMAP world)")
