"""The studio's tabs: one :class:`Tab` entry per capability.

A tab names its uploads, its options dataclasses, the files it writes (each with
the CLI flag that names it) and one ``run`` function that calls the capability's
Python API and writes those files. The page (widgets from the options'
declarations, the "Advanced" fold, progress, the command line, the queue) is
built from the entry by :mod:`easel.web.app`; a new capability is one more entry
in :data:`TABS` (or passed to :func:`easel.web.app.build_studio`).

Example:
    >>> [tab.name for tab in TABS]
    ['quantize', 'superpixels', 'stylize', 'stylize-video', 'dream', 'depth', 'kenburns', 'photo3d', 'flythrough']
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from easel.web.limits import Limits
from easel.web.queue import Job

__all__ = ["TABS", "Result", "Run", "Step", "Tab", "Upload", "write_point_cloud_glb"]

UploadKind = Literal["image", "images", "depth", "video", "photos", "colmap"]
ResultKind = Literal["image", "video", "model3d", "file", "folder"]
FOLDER_UPLOADS = ("photos", "colmap")
"""Upload kinds that become a folder in the job (several files, or a zip): :mod:`easel.web.uploads`."""

DEPTH_FILE_TYPES = (".npy", ".png", ".exr", ".tif", ".tiff", ".pfm")


@dataclass(frozen=True)
class Upload:
    """One input the user uploads.

    Attributes:
        key: its name in :attr:`Run.inputs` and its file name in the job folder (``image.png``).
        kind: ``image``, ``images`` (several), ``depth`` (a depth/disparity file), ``video``,
            ``photos`` (several photos or a zip of them: a folder ``key/`` in the job) or
            ``colmap`` (a COLMAP model's files or a zip of them: a folder ``key/``).
        label: the widget's label.
        required: whether the tab needs it.
        flag: the CLI flag that takes it (repeated for ``images``); ``None``: positional.

    Example:
        >>> Upload("styles", "images", "Style images", flag="--style").flag
        '--style'
    """

    key: str
    kind: UploadKind
    label: str
    required: bool = True
    flag: str | None = None


@dataclass(frozen=True)
class Result:
    """One file a tab writes, and how the page shows it.

    Attributes:
        key: its name in :attr:`Run.outputs`.
        kind: ``image``, ``video``, ``model3d`` (an interactive 3D view), ``file`` (download
            only) or ``folder`` (kept in the job folder, neither shown nor downloaded).
        label: the widget's label.
        filename: its name in the job folder.
        flag: the CLI flag that writes it (``-o``, ``--preview``); ``None``: a studio-only view.

    Example:
        >>> Result("image", "image", "Poster", "quantize.png", "-o").flag
        '-o'
    """

    key: str
    kind: ResultKind
    label: str
    filename: str
    flag: str | None = "-o"


@dataclass(frozen=True)
class Step:
    """One command line of a tab that runs several (fit, then render).

    A tab without steps is one command line, ``easel NAME``, with every upload,
    option and result. With steps, each line takes the uploads, options and
    results it names, after ``command`` and the positional ``args``.

    Attributes:
        command: the words after ``easel`` (``("flythrough", "fit")``).
        options: the options dataclasses whose changed values go on this line.
        uploads: the keys of the uploads on this line.
        results: the keys of the results this line writes.
        args: positional arguments after the uploads (an earlier line's output: ``scene``).

    Example:
        >>> Step(("flythrough", "render"), results=("clip",), args=("scene",)).command
        ('flythrough', 'render')
    """

    command: tuple[str, ...]
    options: tuple[type, ...] = ()
    uploads: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    args: tuple[str, ...] = ()


@dataclass
class Run:
    """What a tab's ``run`` function gets: inputs, options, where to write, the job.

    Attributes:
        inputs: upload key -> its copy in the job folder (a list for ``images``;
            ``None`` when an optional upload was not given).
        options: options dataclass -> its validated value.
        outputs: result key -> where to write it.
        job: the job (``job.report`` is the progress callback; ``job.stop_requested``).
        limits: the studio's limits.
        preview_folder: where intermediate images go.
        status: how the run ended, for the record (``finished``, ``stopped``, ``interrupted`` ...).
        extra: more fields for the run record.
        summary: a few words on the result for the page's final status line (held-out PSNR).

    Example:
        >>> run = Run({}, {}, {}, Job("t", "s", work=print), Limits(), Path("/tmp"))
        >>> run.status
        'finished'
    """

    inputs: dict[str, Any]
    options: dict[type, Any]
    outputs: dict[str, Path]
    job: Job
    limits: Limits
    preview_folder: Path
    status: str = "finished"
    extra: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    _previews: int = 0

    def preview(self, image: np.ndarray) -> Path | None:
        """Save an intermediate ``(H, W, 3)`` float32 image and show it on the page.

        Best effort: the page may have gone (and its session folder with it); the
        job goes on without previews then (``None``).
        """
        from easel.io.images import write_image

        self._previews += 1
        path = self.preview_folder / f"job{self.job.id}-preview{self._previews:04d}.png"
        try:
            self.preview_folder.mkdir(parents=True, exist_ok=True)
            write_image(path, image)
        except OSError:
            return None
        previous, self.job.preview = self.job.preview, path
        if previous is not None and previous != path:
            previous.unlink(missing_ok=True)
        return path


@dataclass(frozen=True)
class Tab:
    """One capability in the studio.

    Attributes:
        name: the CLI command (``quantize``); the tab's id in the page.
        title: the tab's title.
        description: a sentence or two above the form (Markdown).
        uploads: the inputs.
        options: the options dataclasses whose declared fields make the form.
        results: the files written.
        run: ``run(Run)`` calls the API and writes every result.
        main: the fields shown unfolded (default: those without a ``group``).
        exclude: fields left out of the form (the defaults apply); ``Class.field`` names
            one options class's field only.
        fixed: ``fixed(options_class, chosen_values, server_weights)`` -> field values the
            server sets (local weights files for the chosen model), shown in the command line.
        check: ``check(Run)`` before queueing: limits beyond the uploads' (video length).
        previews: whether the tab shows intermediate images.
        steps: the command lines, when the tab runs more than one (:class:`Step`).

    Example:
        >>> TABS[0].name, [r.flag for r in TABS[0].results]
        ('quantize', ['-o', '--palette'])
    """

    name: str
    title: str
    description: str
    uploads: tuple[Upload, ...]
    options: tuple[type, ...]
    results: tuple[Result, ...]
    run: Callable[[Run], None]
    main: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    fixed: Callable[[type, Mapping[str, Any], Mapping[str, Path]], dict[str, Any]] | None = None
    check: Callable[[Run], None] | None = None
    previews: bool = False
    steps: tuple[Step, ...] = ()

    def excluded(self, cls: type) -> tuple[str, ...]:
        """The fields of ``cls`` left out of the form (:attr:`exclude`, qualified names resolved).

        Example:
            >>> from easel.flythrough.sfm import SfmOptions
            >>> Tab("t", "T", "", (), (), (), print, exclude=("SfmOptions.seed", "device")).excluded(SfmOptions)
            ('seed', 'device')
        """
        found = []
        for name in self.exclude:
            owner, _, field_name = name.rpartition(".")
            if not owner or owner == cls.__name__:
                found.append(field_name)
        return tuple(found)


# ---------------------------------------------------------------- the capabilities


def _read(path: Path, max_size: int | None = None, min_side: int = 1) -> Any:
    from easel.io.images import DEFAULT_MAX_SIZE, read_image

    return read_image(path, max_size=DEFAULT_MAX_SIZE if max_size is None else max_size, min_side=min_side)


def _quantize(run: Run) -> None:
    from easel.art.quantize import QuantizeOptions, palette_swatch, quantize_colors
    from easel.io.images import write_image

    loaded = _read(run.inputs["image"])
    mask = None if loaded.alpha is None or not (loaded.alpha > 0).any() else loaded.alpha > 0
    result = quantize_colors(
        loaded.rgb, options=run.options[QuantizeOptions], mask=mask, progress=run.job.report
    )
    write_image(run.outputs["image"], result.image, alpha=loaded.alpha)
    write_image(run.outputs["palette"], palette_swatch(result.palette, result.counts))
    run.extra.update(palette=result.hex_codes, counts=result.counts.tolist(), mse=result.mse)


def _superpixels(run: Run) -> None:
    from easel.art.superpixels import SuperpixelOptions, superpixel_mosaic
    from easel.io.images import write_image

    loaded = _read(run.inputs["image"])
    result = superpixel_mosaic(loaded.rgb, run.options[SuperpixelOptions], progress=run.job.report)
    write_image(run.outputs["image"], result.image, alpha=loaded.alpha)
    run.extra.update(segments_found=result.n_segments)


def _weights_for(
    field_name: str, model_field: str
) -> Callable[[type, Mapping[str, Any], Mapping[str, Path]], dict[str, Any]]:
    """Set ``field_name`` to the server's local weights for the model chosen in ``model_field``."""

    def fixed(cls: type, chosen: Mapping[str, Any], weights: Mapping[str, Path]) -> dict[str, Any]:
        names = {f.name: f for f in dataclasses.fields(cls)}
        if field_name not in names or model_field not in names:
            return {}
        model = str(chosen.get(model_field, names[model_field].default))
        return {field_name: weights[model]} if model in weights else {}

    return fixed


def _stylize(run: Run) -> None:
    from easel.io.images import write_image
    from easel.style import StyleOptions, StyleStep, stylize
    from easel.style.inputs import load_style_inputs

    options: StyleOptions = run.options[StyleOptions]
    inputs = load_style_inputs(run.inputs["image"], list(run.inputs["styles"]))
    every = max(1, options.total_steps(inputs.content.shape[:2]) // 25)

    def on_step(state: StyleStep) -> bool:
        if state.step % every == 0:
            run.preview(state.image())
        return run.job.stop_requested

    result = stylize(inputs.content, inputs.styles, options, progress=run.job.report, on_step=on_step)
    write_image(run.outputs["image"], result.image)
    run.status = result.status
    run.extra.update(result.summary())
    run.extra["status"] = result.status


def _dream(run: Run) -> None:
    from easel.dream.deepdream import dream
    from easel.dream.options import DreamOptions
    from easel.io.images import write_image
    from easel.optim import StepState

    options: DreamOptions = run.options[DreamOptions]
    image = _read(run.inputs["image"], min_side=32).rgb
    guide = None if run.inputs["guide"] is None else _read(run.inputs["guide"], min_side=32).rgb
    every = max(1, options.octaves * options.iterations // 20)

    def on_step(state: StepState) -> bool:
        if state.step % every == 0 and state.step > 0:
            run.preview(state.image())
        return run.job.stop_requested

    result = dream(image, options, guide=guide, progress=run.job.report, on_step=on_step)
    write_image(run.outputs["image"], result.image)
    run.status = result.status
    run.extra.update(result.summary())


def _depth(run: Run) -> None:
    from easel.depth import DepthOptions, colorize_depth, depth_for_image, write_depth
    from easel.io.images import write_image

    rgb = None if run.inputs["image"] is None else _read(run.inputs["image"]).rgb
    result = depth_for_image(
        rgb, run.options[DepthOptions], depth_file=run.inputs["depth"], progress=run.job.report
    )
    write_depth(run.outputs["depth"], result.depth)
    write_image(run.outputs["preview"], colorize_depth(result.depth))
    colors = rgb if rgb is not None else colorize_depth(result.depth)
    write_point_cloud_glb(run.outputs["glb"], result.depth, colors)
    run.extra.update(refined=result.refined, model=result.model, device=result.device)


def _depth_check(run: Run) -> None:
    if run.inputs["image"] is None and run.inputs["depth"] is None:
        from easel.errors import InputError

        raise InputError("give a photo to estimate depth from, or a depth file to convert (or both)")


def write_point_cloud_glb(
    path: Path, depth: np.ndarray, colors: np.ndarray, max_points: int = 120_000
) -> Path:
    """Write depth ``(H, W)`` with colours ``(H, W, 3)`` in [0, 1] as a coloured point cloud (binary glTF).

    The camera is the input's (focal length half the long side); the axes are
    glTF's (y up, the camera looking down -z). At most ``max_points`` points (a
    regular subsample). Written atomically.

    Example:
        >>> write_point_cloud_glb(Path("depth.glb"), np.full((4, 6), 2.0), np.zeros((4, 6, 3)))  # doctest: +SKIP
        PosixPath('depth.glb')
    """
    import trimesh

    from easel.cameras import Intrinsics
    from easel.cameras.poses import unproject
    from easel.io.atomic import write_bytes_atomic

    h, w = depth.shape
    if colors.shape[:2] != (h, w):
        from easel.image import resize

        colors = resize(colors, (h, w))
    step = max(1, int(np.ceil(np.sqrt(h * w / max_points))))
    points = unproject(depth, Intrinsics.default(w, h))[::step, ::step].reshape(-1, 3)
    points = points * np.array([1.0, -1.0, -1.0], np.float32)  # OpenCV -> glTF axes
    rgb = (np.clip(colors[::step, ::step].reshape(-1, 3), 0, 1) * 255).round().astype(np.uint8)
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    cloud = trimesh.PointCloud(points, colors=rgba)
    data = trimesh.Scene(cloud).export(file_type="glb")
    write_bytes_atomic(path, data)
    return path


def _kenburns_check(run: Run) -> None:
    from easel.scene3d.kenburns import KenBurnsOptions

    options: KenBurnsOptions = run.options[KenBurnsOptions]
    run.limits.check_video_length(options.num_frames / options.fps, "the clip")


def _kenburns(run: Run) -> None:
    from easel.scene3d.clipwriter import EncodeOptions, write_clip
    from easel.scene3d.kenburns import KenBurnsOptions, kenburns

    options: KenBurnsOptions = run.options[KenBurnsOptions]
    loaded = _read(run.inputs["image"], max_size=1024)
    depth = None
    if run.inputs["depth"] is not None:
        from easel.depth import read_depth

        depth = read_depth(run.inputs["depth"], shape=loaded.shape, depth_range=options.depth_range)
    clip = kenburns(loaded.rgb, depth, None, options, exif_path=run.inputs["image"], progress=run.job.report)
    result = write_clip(clip, run.outputs["clip"], encode=run.options[EncodeOptions], progress=run.job.report)
    run.status = result.status
    run.extra.update(frames=result.frames_written, frames_planned=result.total_frames, fps=result.fps)


def _photo3d_check(run: Run) -> None:
    from easel.errors import InputError
    from easel.scene3d.photo3d import Photo3DOptions

    options: Photo3DOptions = run.options[Photo3DOptions]
    if options.trajectory == "all":
        raise InputError(
            "--trajectory all makes one clip per trajectory: pick one here (the CLI makes them all)"
        )
    run.limits.check_video_length(options.frames / options.fps, "the clip")


def _photo3d(run: Run) -> None:
    from easel.scene3d.clipwriter import EncodeOptions
    from easel.scene3d.photo3d import Photo3DOptions, photo3d

    options: Photo3DOptions = run.options[Photo3DOptions]
    loaded = _read(run.inputs["image"], max_size=1024)
    depth = None
    if run.inputs["depth"] is not None:
        from easel.depth import read_depth, resize_depth

        depth = read_depth(run.inputs["depth"], depth_range=options.depth_range)
        if depth.shape != loaded.shape:
            depth = resize_depth(depth, loaded.shape, name="the depth file")
    p3d = photo3d(loaded.rgb, depth, options, exif_path=run.inputs["image"], progress=run.job.report)
    p3d.save_mesh(run.outputs["mesh"])
    result = p3d.render(
        run.outputs["clip"], options.trajectory, encode=run.options[EncodeOptions], progress=run.job.report
    )
    run.status = result.status
    run.extra.update(frames=result.frames_written, frames_planned=result.total_frames, layers=len(p3d.layers))


def _stylize_video_check(run: Run) -> None:
    from easel.io.video import probe_video

    info = probe_video(run.inputs["video"])
    seconds = info.duration_s
    if seconds is None and info.num_frames is not None:
        seconds = info.num_frames / (info.fps or 12.0)
    if seconds is not None:
        run.limits.check_video_length(seconds, "Video")


def _stylize_video(run: Run) -> None:
    from easel.io.images import DEFAULT_MAX_SIZE
    from easel.io.video import read_frames, write_video
    from easel.style.inputs import load_style_image
    from easel.style.video import stylize_video
    from easel.style.video_options import VideoStyleOptions

    options: VideoStyleOptions = run.options[VideoStyleOptions]
    frames = read_frames(run.inputs["video"], max_size=options.size)
    styles = [load_style_image(p, "style", DEFAULT_MAX_SIZE, []) for p in run.inputs["styles"]]
    done = 0

    def styled() -> Any:
        nonlocal done
        for frame in stylize_video(frames, styles, options, progress=run.job.report):
            if frame.status == "interrupted":  # cancelled: keep the frames finished so far
                run.status = "interrupted"
                return
            done += 1
            run.preview(frame.image)
            yield frame.image

    stream = styled()
    first = next(stream, None)
    if first is None:
        from easel.web.queue import JobCancelled

        raise JobCancelled()
    write_video(run.outputs["clip"], itertools.chain([first], stream), fps=frames.info.fps or 12.0)
    run.extra.update(frames=done, frames_planned=frames.info.num_frames)


def _flythrough_check(run: Run) -> None:
    from easel.errors import InputError
    from easel.flythrough.options import RenderOptions
    from easel.flythrough.scene import MIN_VIEWS

    photos = sorted(p for p in run.inputs["photos"].iterdir() if p.is_file())
    if len(photos) < MIN_VIEWS:
        raise InputError(
            f"Photos: a fly-through needs at least {MIN_VIEWS} photos of the scene; got {len(photos)}"
        )
    run.limits.check_video_length(run.options[RenderOptions].seconds, "the video")


def _flythrough(run: Run) -> None:
    from easel.flythrough.options import FitOptions, RenderOptions
    from easel.flythrough.pipeline import fit_photos, render_video
    from easel.flythrough.sfm import SfmOptions
    from easel.progress import ProgressUpdate

    def report(update: ProgressUpdate) -> None:  # say which PSNR it is
        metrics = {("held-out PSNR" if k == "psnr" else k): v for k, v in update.metrics.items()}
        run.job.report(ProgressUpdate(update.stage, update.step, update.total, metrics))

    fit_options: FitOptions = run.options[FitOptions]
    # one seed for the whole run, as on the command line (and so in the record)
    run.options[SfmOptions] = dataclasses.replace(run.options[SfmOptions], seed=fit_options.seed)
    notices: list[str] = []
    fitted = fit_photos(
        run.inputs["photos"],
        run.outputs["scene"],
        fit_options,
        colmap=run.inputs["colmap"],
        sfm_options=run.options[SfmOptions],
        progress=report,
        notice=notices.append,
    )
    metrics = fitted.metrics
    run.extra.update(
        steps=fitted.steps,
        views=fitted.views,
        unregistered=fitted.unregistered,
        heldout_psnr=metrics.get("psnr"),
        baseline_psnr=metrics.get("baseline_psnr"),
        notices=notices,
    )
    _zip_folder(run.outputs["scene"], run.outputs["archive"])
    if fitted.status != "finished":  # cancelled or diverged: the scene so far is kept, no video
        run.status = fitted.status
        return
    options: RenderOptions = run.options[RenderOptions]
    every = max(1, options.num_frames // 12)

    def on_frame(index: int, frame: np.ndarray) -> None:
        if index % every == 0:
            run.preview(frame)

    video = render_video(fitted.scene, run.outputs["clip"], options, progress=report, on_frame=on_frame)
    run.status = video.status
    run.extra.update(frames=video.frames, frames_planned=video.frames_planned, fps=video.fps)
    if metrics.get("psnr") is not None:
        run.summary = (
            f"held-out PSNR {metrics['psnr']:.2f} dB (plain splatting {metrics['baseline_psnr']:.2f} dB), "
            f"{fitted.steps} steps, {video.frames} frames"
        )


def _zip_folder(folder: Path, archive: Path) -> Path:
    """Write ``folder``'s files (not its sub-folders: SfM's work) as a zip, atomically."""
    import zipfile

    from easel.io.atomic import atomic_path

    with atomic_path(archive) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.name}")
    return archive


def _tabs() -> tuple[Tab, ...]:
    from easel.art.quantize import QuantizeOptions
    from easel.art.superpixels import SuperpixelOptions
    from easel.depth.options import DepthOptions
    from easel.dream.options import DreamOptions
    from easel.flythrough.options import FitOptions, RenderOptions
    from easel.flythrough.sfm import SfmOptions
    from easel.scene3d.clipwriter import EncodeOptions
    from easel.scene3d.kenburns import KenBurnsOptions
    from easel.scene3d.photo3d import Photo3DOptions
    from easel.style.options import StyleOptions
    from easel.style.video_options import VideoStyleOptions

    photo = Upload("image", "image", "Photo")
    return (
        Tab(
            "quantize",
            "Quantize",
            "Reduce a picture to K colours (K-means); the swatch lists the palette, most used first.",
            (photo,),
            (QuantizeOptions,),
            (
                Result("image", "image", "Poster", "quantize.png"),
                Result("palette", "image", "Palette", "palette.png", "--palette"),
            ),
            _quantize,
        ),
        Tab(
            "superpixels",
            "Superpixels",
            "SLIC superpixels: a mosaic of compact regions, each filled with its mean colour.",
            (photo,),
            (SuperpixelOptions,),
            (Result("image", "image", "Mosaic", "superpixels.png"),),
            _superpixels,
        ),
        Tab(
            "stylize",
            "Stylize",
            "Neural style transfer (Gatys et al., VGG-19): the photo painted in the style of the "
            "style images. The preview shows the image as the optimization goes.",
            (photo, Upload("styles", "images", "Style images", flag="--style")),
            (StyleOptions,),
            (Result("image", "image", "Stylized", "stylize.png"),),
            _stylize,
            main=("size", "iterations", "style_weight", "content_weight", "preserve_color", "seed"),
            fixed=_weights_for("weights", "model"),
            previews=True,
        ),
        Tab(
            "stylize-video",
            "Stylize video",
            "Style transfer for a video, frame by frame, without flicker: each frame starts from the "
            "previous one warped along the optical flow. The preview shows the last frame done.",
            (Upload("video", "video", "Video"), Upload("styles", "images", "Style images", flag="--style")),
            (VideoStyleOptions,),
            (Result("clip", "video", "Stylized video", "stylize-video.mp4"),),
            _stylize_video,
            main=("size", "iterations", "iterations_first", "style_weight", "temporal_weight", "seed"),
            exclude=("tile_size", "tile_overlap"),
            fixed=_weights_for("weights", "model"),
            check=_stylize_video_check,
            previews=True,
        ),
        Tab(
            "dream",
            "DeepDream",
            "Amplify what a network sees in a photo, octave by octave (a guide image steers it); "
            "zoom videos are made by `easel dream --zoom-frames`.",
            (photo, Upload("guide", "image", "Guide image (optional)", required=False, flag="--guide")),
            (DreamOptions,),
            (Result("image", "image", "Dream", "dream.png"),),
            _dream,
            main=("layers", "octaves", "iterations", "step", "seed"),
            fixed=_weights_for("weights", "model"),
            previews=True,
        ),
        Tab(
            "depth",
            "Depth",
            "Depth from one photo (Depth Anything V2), or your own depth/disparity file fitted to it; "
            "shown as a colour map (near = bright) and as a 3D point cloud.",
            (
                Upload("image", "image", "Photo", required=False),
                Upload("depth", "depth", "Depth file (optional)", required=False, flag="--depth"),
            ),
            (DepthOptions,),
            (
                Result("depth", "file", "Depth (.npy)", "depth_map.npy"),
                Result("preview", "image", "Depth preview", "depth_map_preview.png", "--preview"),
                Result("glb", "model3d", "3D view", "depth_map.glb", None),
            ),
            _depth,
            main=("depth_kind", "depth_range"),
            exclude=("refine",),
            fixed=_weights_for("weights", "model"),
            check=_depth_check,
        ),
        Tab(
            "kenburns",
            "Ken Burns",
            "One photo to a parallax video: the camera zooms and pans through the picture's depth. "
            "Give a depth file, or the depth network estimates it.",
            (photo, Upload("depth", "depth", "Depth file (optional)", required=False, flag="--depth")),
            (KenBurnsOptions, EncodeOptions),
            (Result("clip", "video", "Clip", "kenburns.mp4"),),
            _kenburns,
            main=("zoom", "shift", "duration_s", "fps"),
            check=_kenburns_check,
        ),
        Tab(
            "photo3d",
            "3D Photo",
            "One photo to a 3D photo: layered depth inpainting fills what the camera sees behind "
            "foregrounds; a textured mesh (shown in 3D) and a clip along a camera trajectory.",
            (photo, Upload("depth", "depth", "Depth file (optional)", required=False, flag="--depth")),
            (Photo3DOptions, EncodeOptions),
            (
                Result("clip", "video", "Clip", "photo3d.mp4"),
                Result("mesh", "model3d", "3D mesh", "photo3d.glb", "--mesh"),
            ),
            _photo3d,
            main=("trajectory", "frames", "fps", "x_shift", "z_shift"),
            check=_photo3d_check,
        ),
        Tab(
            "flythrough",
            "Fly-through",
            "A smooth video through a scene from a handful of photos of it (ADOP-style point "
            "rendering): structure from motion finds the cameras (or upload the photos' COLMAP "
            "model), a per-scene model is fitted (the held-out photos' PSNR shows as it goes), "
            "then rendered along a path through the cameras. Every 8th photo by name is held out.",
            (
                Upload("photos", "photos", "Photos (several, or a zip)"),
                Upload("colmap", "colmap", "COLMAP model (optional: its files or a zip)", False, "--colmap"),
            ),
            (FitOptions, SfmOptions, RenderOptions),
            (
                Result("scene", "folder", "Scene", "scene"),
                Result("clip", "video", "Fly-through", "flythrough.mp4"),
                Result("archive", "file", "Scene folder (zip)", "scene.zip", None),
            ),
            _flythrough,
            main=("steps", "seconds", "fps"),
            exclude=("SfmOptions.seed",),  # --seed seeds both, as on the command line
            check=_flythrough_check,
            previews=True,
            steps=(
                Step(("flythrough", "fit"), (FitOptions, SfmOptions), ("photos", "colmap"), ("scene",)),
                Step(("flythrough", "render"), (RenderOptions,), (), ("clip",), ("scene",)),
            ),
        ),
    )


TABS: tuple[Tab, ...] = _tabs()
"""The studio's tabs, in page order."""
