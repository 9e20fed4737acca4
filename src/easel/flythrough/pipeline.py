"""From photos to a fitted scene, and from a scene to a video: the fly-through in two calls.

:func:`fit_photos` is what ``easel flythrough fit`` does (and the studio's
fly-through tab): structure from motion on the photos (pycolmap, in a child
process, into ``SCENE/colmap``) or a given COLMAP model, the photos read at the
training size, the fit (:func:`easel.flythrough.fitting.fit`) with a resumable
checkpoint every ``checkpoint_every`` steps, and the scene folder written.
Ctrl-C (or a ``progress`` callback that raises ``KeyboardInterrupt``) during
the fit ends it early: the scene so far and a checkpoint are saved, and the
result says ``"interrupted"``; ``resume=True`` continues from that checkpoint.

:func:`render_video` is ``easel flythrough render``: a fitted scene along the
smooth path through its cameras (or a given camera path) to a video file.

Example:
    >>> fitted = fit_photos("photos/", "scene/", FitOptions(steps=2000))  # doctest: +SKIP
    >>> fitted.status, round(fitted.metrics["psnr"], 1)  # doctest: +SKIP
    ('finished', 27.3)
    >>> render_video("scene/", "flythrough.mp4", RenderOptions(seconds=6)).frames  # doctest: +SKIP
    144
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from easel.errors import InputError
from easel.flythrough.options import FitOptions, RenderOptions
from easel.progress import ProgressFn

if TYPE_CHECKING:
    from easel.cameras import CameraPath
    from easel.cameras.colmap import ColmapModel
    from easel.flythrough.fitting import FitResult
    from easel.flythrough.scene import Scene
    from easel.flythrough.sfm import SfmOptions
    from easel.optim import StepState

__all__ = ["PhotoFitResult", "VideoResult", "fit_photos", "render_video"]

NoticeFn = Callable[[str], None]
"""Receives one-line notices (photos skipped, a resumed fit) as the run goes."""


@dataclass
class PhotoFitResult:
    """What :func:`fit_photos` did.

    Attributes:
        fit: the fit's :class:`~easel.flythrough.fitting.FitResult` (scene, status, steps, checkpoint).
        scene_dir: the scene folder.
        written: the files written in it (``model.pt`` ... and ``checkpoint.pt`` when there is one).
        views: photos with a camera (training and held out).
        unregistered: photos in the folder without a camera (SfM could not place them, or the
            COLMAP model does not hold them); they are skipped.
        sfm: what structure from motion did (``registered``, ``unregistered``, ``matcher``,
            ``model_dir``, ``timings``; ``reused`` when a resumed fit read an earlier run's model);
            ``None`` with a given COLMAP model.
        resumed_from: the checkpoint's step when the fit was resumed, else ``None``.
        timings: seconds per stage (``read_colmap`` or ``sfm``, ``read``, ``fit``).

    Example:
        >>> fitted = fit_photos("photos/", "scene/", colmap="photos/sparse/0")  # doctest: +SKIP
        >>> fitted.status, fitted.steps, fitted.views  # doctest: +SKIP
        ('finished', 2500, 24)
    """

    fit: FitResult
    scene_dir: Path
    written: list[Path]
    views: int
    unregistered: list[str]
    sfm: dict[str, Any] | None = None
    resumed_from: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def scene(self) -> Scene:
        """The fitted scene (also saved in :attr:`scene_dir`)."""
        return self.fit.scene

    @property
    def status(self) -> str:
        """How the fit ended: ``finished``, ``stopped``, ``interrupted`` or ``non-finite``."""
        return self.fit.status

    @property
    def steps(self) -> int:
        """Complete steps (those of a resumed run included)."""
        return self.fit.steps

    @property
    def metrics(self) -> dict[str, Any]:
        """The scene's ``metrics.json``: held-out ``psnr``/``ssim``, ``baseline_psnr`` ... (see ``Scene``)."""
        return self.fit.scene.metrics


@dataclass
class VideoResult:
    """What :func:`render_video` wrote.

    Attributes:
        path: the video file (or folder of PNG frames).
        frames: frames written.
        frames_planned: frames of the path.
        frame_size: ``(width, height)`` of the frames.
        fps: frames per second.
        status: ``finished``, or ``interrupted`` (Ctrl-C after the first frame: the frames so far are kept).
        device: where the scene was rendered.
        seconds: time spent rendering and writing.

    Example:
        >>> render_video("scene/", "clip.mp4", RenderOptions(seconds=2, fps=12)).frames  # doctest: +SKIP
        24
    """

    path: Path
    frames: int
    frames_planned: int
    frame_size: tuple[int, int]
    fps: float
    status: str
    device: str
    seconds: float


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - start, 4)


def fit_photos(
    photos: str | os.PathLike[str],
    scene_dir: str | os.PathLike[str],
    options: FitOptions | None = None,
    *,
    colmap: str | os.PathLike[str] | None = None,
    sfm_options: SfmOptions | None = None,
    resume: bool = False,
    progress: ProgressFn | None = None,
    on_step: Callable[[StepState], bool | None] | None = None,
    notice: NoticeFn | None = None,
) -> PhotoFitResult:
    """Fit a fly-through scene to a folder of photos and save it in ``scene_dir``.

    Structure from motion runs first (into ``scene_dir/colmap``; pycolmap, the
    ``[sfm]`` extra) unless ``colmap`` names the photos' COLMAP model. Nothing
    is created before the inputs are checked (bad photos, a model whose names do
    not match the folder and too few views raise first). The scene folder holds
    ``model.pt``, ``config.json``, ``metrics.json``, ``heldout.npz`` and
    ``checkpoint.pt`` (see :mod:`easel.flythrough.scene`).

    Args:
        photos: the folder of photos (every ``options.holdout_every``-th by sorted name is held out).
        scene_dir: the scene folder to write (created; its files are replaced).
        options: :class:`~easel.flythrough.options.FitOptions` (defaults: those of the CLI).
        colmap: a COLMAP model of ``photos`` (folder with ``cameras``, ``images``, ``points3D``,
            ``.bin`` or ``.txt``); ``None``: structure from motion.
        sfm_options: :class:`~easel.flythrough.sfm.SfmOptions` of structure from motion; its
            seed is ``options.seed`` (one seed for the whole run).
        resume: continue the fit saved in ``scene_dir`` (its ``checkpoint.pt``), reusing the
            structure from motion an earlier run made there.
        progress: receives :class:`~easel.progress.ProgressUpdate`: SfM stages, ``read images``,
            then ``fit`` with ``loss`` and, once measured, the held-out ``psnr``.
        on_step: the fit's per-step hook; ``True`` stops it (status ``"stopped"``, the scene saved).
        notice: receives one-line notices (photos without a camera, the step a resumed fit starts at).

    Returns:
        A :class:`PhotoFitResult`; its ``status`` says how the fit ended. A ``"non-finite"``
        fit keeps the last good scene.

    Raises:
        InputError: no photo folder, no checkpoint to resume, too few photos with cameras,
            a photo that cannot be read or does not fit its camera, SfM that registers too few.
        MissingExtraError: structure from motion without pycolmap.

    Example:
        >>> from easel.flythrough.synthetic import write_synthetic_scene
        >>> data = write_synthetic_scene("synthetic/", 6, (24, 32), points=2000)  # doctest: +SKIP
        >>> fitted = fit_photos(data.images_dir, "scene/", FitOptions(steps=20, size=32),
        ...                     colmap=data.model_dir)  # doctest: +SKIP
        >>> fitted.status, fitted.steps, fitted.views  # doctest: +SKIP
        ('finished', 20, 6)
    """
    from easel.cameras.colmap import read_colmap_model
    from easel.flythrough.fitting import fit
    from easel.flythrough.scene import CHECKPOINT, load_views
    from easel.optim import Checkpoint, load_checkpoint

    opts = (options or FitOptions()).validate()
    images, out = Path(photos), Path(scene_dir)
    timings: dict[str, float] = {}
    checkpoint = None
    if resume:
        ckpt = out / CHECKPOINT
        if not ckpt.is_file():
            raise InputError(f"{ckpt}: no checkpoint to resume (fit without --resume first)")
        checkpoint = load_checkpoint(ckpt)
    if not images.is_dir():
        raise InputError(f"{images}: {'no such folder' if not images.exists() else 'not a folder of photos'}")

    sfm_record: dict[str, Any] | None = None
    if colmap is not None:
        with _timed(timings, "read_colmap"):
            model = read_colmap_model(colmap)
        image_root = images
    else:
        model, image_root, sfm_record = _structure_from_motion(
            images, out, opts.seed, sfm_options, resume, progress, timings
        )
    with _timed(timings, "read"):
        views, unregistered = load_views(image_root, model, opts.size, progress=progress)
    if sfm_record is not None:
        unregistered = sfm_record["unregistered"]
    if unregistered and notice is not None:
        notice(
            f"{len(unregistered)} photos have no camera in the COLMAP model (not registered) and are skipped: "
            + ", ".join(unregistered[:5])
            + (" ..." if len(unregistered) > 5 else "")
        )
    if checkpoint is not None and notice is not None:
        notice(f"resuming at step {checkpoint.step}")

    def save_checkpoint(ckpt: Checkpoint) -> None:
        ckpt.save(out / CHECKPOINT)

    out.mkdir(parents=True, exist_ok=True)
    with _timed(timings, "fit"):
        result = fit(
            views,
            model.points_xyz,
            model.points_rgb,
            opts,
            progress=progress,
            on_step=on_step,
            resume=checkpoint,
            on_checkpoint=save_checkpoint,
        )
    written = result.scene.save(out)
    if result.checkpoint is not None:
        save_checkpoint(result.checkpoint)
        written.append(out / CHECKPOINT)
    return PhotoFitResult(
        result,
        out,
        written,
        len(views),
        list(unregistered),
        sfm_record,
        checkpoint.step if checkpoint is not None else None,
        timings,
    )


def _structure_from_motion(
    images: Path,
    scene_dir: Path,
    seed: int,
    sfm_options: SfmOptions | None,
    resume: bool,
    progress: ProgressFn | None,
    timings: dict[str, float],
) -> tuple[ColmapModel, Path, dict[str, Any]]:
    """Run SfM into ``SCENE/colmap`` (or, resuming, read the model an earlier run made there)."""
    from easel.cameras.colmap import read_colmap_model
    from easel.flythrough.sfm import SfmOptions, run_sfm
    from easel.io.record import record_path

    work = scene_dir / "colmap"
    model_dir, images_dir = work / "undistorted" / "sparse", work / "undistorted" / "images"
    if resume and model_dir.is_dir():
        try:
            record = json.loads(record_path(scene_dir).read_text()).get("sfm") or {}
        except (OSError, ValueError, AttributeError):
            record = {}
        return (
            read_colmap_model(model_dir),
            images_dir,
            {"unregistered": record.get("unregistered", []), "reused": True},
        )
    sfm = dataclasses.replace(sfm_options or SfmOptions(), seed=seed).validate()
    # run_sfm checks the photos before it makes its work folder (and so SCENE): nothing is made before
    with _timed(timings, "sfm"):
        result = run_sfm(images, work, sfm, progress=progress)
    return (
        result.model,
        result.images_dir,
        {
            "registered": len(result.registered),
            "unregistered": result.unregistered,
            "matcher": result.matcher,
            "model_dir": str(result.model_dir),
            "timings": result.timings,
        },
    )


def render_video(
    scene: Scene | str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: RenderOptions | None = None,
    *,
    camera_path: CameraPath | str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    on_frame: Callable[[int, Any], None] | None = None,
) -> VideoResult:
    """Render a fitted scene to a video along the smooth path through its cameras, or ``camera_path``.

    The target and its encoder are checked before any frame is rendered. Ctrl-C
    (``KeyboardInterrupt``, also from ``progress``) after the first frame keeps
    the frames so far (status ``"interrupted"``); before it, it propagates and
    nothing is written.

    Args:
        scene: a :class:`~easel.flythrough.scene.Scene` or its folder (loaded on ``options.device``).
        output: ``.mp4``, ``.webm``, ``.gif``, or a folder for PNG frames (written atomically).
        options: :class:`~easel.flythrough.options.RenderOptions`: ``seconds * fps`` frames,
            ``size`` (long side; default the training size), ``exposure`` (stops).
        camera_path: a :class:`~easel.cameras.CameraPath` or a nerfstudio camera-path JSON file
            in the COLMAP model's world (its own frames and fps; ``options.size`` still applies).
        progress: receives ``ProgressUpdate("frames", i, total)``.
        on_frame: receives ``(index, frame)`` for each frame written, ``(H, W, 3)`` float32 in [0, 1].

    Returns:
        A :class:`VideoResult`.

    Raises:
        InputError: not a scene folder, a bad camera path, an output format the encoder lacks.

    Example:
        >>> render_video("scene/", "flythrough.mp4", RenderOptions(seconds=6, fps=24)).frames  # doctest: +SKIP
        144
    """
    from easel.cameras.interpolate import read_colmap_camera_path
    from easel.flythrough.scene import Scene, path_at_size, scene_camera_path
    from easel.image import to_uint8
    from easel.io.video import VideoWriter
    from easel.progress import report

    opts = (options or RenderOptions()).validate()
    loaded = scene if isinstance(scene, Scene) else Scene.load(scene, device=opts.device)
    if camera_path is None:
        path = scene_camera_path(loaded, opts)
        fps = opts.fps
    else:
        if isinstance(camera_path, (str, os.PathLike)):
            camera_path = read_colmap_camera_path(camera_path)
        path = path_at_size(camera_path, opts.size)
        fps = path.fps
    out = Path(output)
    VideoWriter(out, fps=fps)  # checks the target and the encoder before rendering
    total = len(path)
    status = "finished"
    report(progress, "frames", 0, total)
    start = time.perf_counter()
    with VideoWriter(out, fps=fps) as writer:
        try:
            for i, frame in enumerate(loaded.render_path(path, exposure=opts.exposure)):
                writer.write(to_uint8(frame))
                if on_frame is not None:
                    on_frame(i, frame)
                report(progress, "frames", i + 1, total)
        except KeyboardInterrupt:
            if writer.frames_written == 0:
                raise
            status = "interrupted"
        frames = writer.frames_written
    h, w = path.output_shape
    return VideoResult(
        out, frames, total, (w, h), fps, status, str(loaded.device), round(time.perf_counter() - start, 4)
    )
