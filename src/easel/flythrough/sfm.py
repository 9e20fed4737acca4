"""Structure from motion with pycolmap: photos in, cameras and a sparse point cloud out.

:func:`run_sfm` runs COLMAP's pipeline: SIFT feature extraction, matching
(exhaustive for few photos, sequential for video frames or many photos),
incremental mapping, and undistortion to ``PINHOLE`` cameras (the point
renderer's camera). Photos of different sizes get a camera each; photos of one
size share one. The largest reconstruction is kept; photos it could not
register are reported by name, and the run fails clearly when too few remain.

COLMAP runs in a child process (``python -m easel.flythrough.sfm``) that
reports its progress on a pipe: a long C++ call cannot be interrupted from
Python, but a child can be stopped at once, so Ctrl-C and SIGTERM end the run
cleanly (the exception propagates; the child is terminated).

Output folder layout::

    OUT/sfm/colmap.log           COLMAP's warnings and errors
    OUT/sfm/database.db          features and matches
    OUT/sfm/sparse/N/            the mapper's models (distorted cameras)
    OUT/undistorted/images/      the photos, undistorted (what the cameras describe)
    OUT/undistorted/sparse/      the kept model, PINHOLE cameras (binary)

Needs the ``sfm`` extra (``pip install 'easel[sfm]'``, pycolmap).

Example:
    >>> result = run_sfm("photos/", "scene_sfm/")  # doctest: +SKIP
    >>> len(result.registered), result.unregistered  # doctest: +SKIP
    (24, [])
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from easel.cameras import ColmapModel, read_colmap_model
from easel.errors import InputError, MissingExtraError
from easel.options import OptionError, option, options_dict
from easel.progress import ProgressFn, report

__all__ = [
    "IMAGE_SUFFIXES",
    "MATCHERS",
    "SfmOptions",
    "SfmResult",
    "choose_matcher",
    "list_images",
    "run_sfm",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
"""File types structure from motion reads (case-insensitive)."""

MATCHERS = ("auto", "exhaustive", "sequential")
"""Ways to pick the image pairs to match."""

CAMERA_MODES = ("auto", "single", "per-image")
"""Which photos share a camera: ``auto`` shares one when all have the same size."""

_FRAME_NAME = re.compile(r"^(.*?)(\d+)$")
_EXTRACT_BATCH = 8


@dataclass
class SfmOptions:
    """How structure from motion runs.

    Attributes:
        matcher: ``exhaustive`` (every pair), ``sequential`` (each photo with its
            neighbours by file name: video frames), or ``auto`` (see :func:`choose_matcher`).
        max_image_size: photos are downscaled to this long side for feature extraction.
        max_features: SIFT features kept per photo.
        overlap: neighbours each photo is matched with by the sequential matcher.
        camera_mode: ``auto`` (one shared camera when all photos have one size, else one each),
            ``single`` or ``per-image``.
        min_registered: the fraction of photos that must be registered (at least 3 photos always).
        undistort: undistort the photos and cameras to ``PINHOLE`` (else keep COLMAP's
            ``SIMPLE_RADIAL`` cameras and the original photos).
        seed: COLMAP's random seed (RANSAC, initial pair).
        sfm_device: ``auto`` (CUDA when pycolmap was built with it), ``cpu`` or ``cuda``.

    Example:
        >>> SfmOptions(matcher="sequential").validate().matcher
        'sequential'
    """

    matcher: str = option("auto", help="image pairs to match", choices=MATCHERS, group="sfm")
    max_image_size: int = option(
        1600, help="long side photos are downscaled to for feature extraction", metavar="PX", group="sfm"
    )
    max_features: int = option(8192, help="SIFT features kept per photo", metavar="N", group="sfm")
    overlap: int = option(10, help="neighbours per photo for sequential matching", metavar="N", group="sfm")
    camera_mode: str = option(
        "auto",
        help="which photos share a camera (auto: one per image size)",
        choices=CAMERA_MODES,
        group="sfm",
    )
    min_registered: float = option(
        0.5, help="fraction of the photos SfM must register (else it fails)", metavar="FRACTION", group="sfm"
    )
    undistort: bool = option(
        True, help="undistort photos and cameras to PINHOLE", negative_flag="--no-undistort", group="sfm"
    )
    seed: int = option(0, help="random seed of RANSAC and the initial pair", group="sfm")
    sfm_device: str = option(
        "auto",
        help="where COLMAP runs: auto uses CUDA when pycolmap has it",
        choices=("auto", "cpu", "cuda"),
        group="sfm",
    )

    def validate(self) -> SfmOptions:
        """Check every field; returns ``self``.

        Raises:
            OptionError: a bad value, naming the option.

        Example:
            >>> SfmOptions(max_features=0).validate()  # doctest: +SKIP
            Traceback (most recent call last):
            easel.options.OptionError: max_features must be at least 64; got 0
        """
        if self.matcher not in MATCHERS:
            raise OptionError("matcher", f"must be one of {', '.join(MATCHERS)}; got {self.matcher!r}")
        if self.camera_mode not in CAMERA_MODES:
            raise OptionError(
                "camera_mode", f"must be one of {', '.join(CAMERA_MODES)}; got {self.camera_mode!r}"
            )
        if self.sfm_device not in ("auto", "cpu", "cuda"):
            raise OptionError("sfm_device", f"must be auto, cpu or cuda; got {self.sfm_device!r}")
        if self.max_image_size < 64:
            raise OptionError("max_image_size", f"must be at least 64 pixels; got {self.max_image_size}")
        if self.max_features < 64:
            raise OptionError("max_features", f"must be at least 64; got {self.max_features}")
        if self.overlap < 1:
            raise OptionError("overlap", f"must be at least 1; got {self.overlap}")
        if not (isinstance(self.min_registered, (int, float)) and 0.0 <= self.min_registered <= 1.0):
            raise OptionError(
                "min_registered", f"must be a fraction between 0 and 1; got {self.min_registered}"
            )
        return self


@dataclass
class SfmResult:
    """What structure from motion made.

    Attributes:
        model: the kept reconstruction (``PINHOLE`` cameras when undistorted).
        model_dir: the folder holding it (binary COLMAP files).
        images_dir: the photos the model's cameras describe (the undistorted copies, or the input).
        registered: names of the photos with a camera, sorted.
        unregistered: names of the photos SfM could not place, sorted.
        matcher: the matcher used (``exhaustive`` or ``sequential``).
        timings: seconds per stage (``features``, ``matching``, ``mapping``, ``undistortion``).

    Example:
        >>> result.model.num_points  # doctest: +SKIP
        2041
    """

    model: ColmapModel
    model_dir: Path
    images_dir: Path
    registered: list[str]
    unregistered: list[str]
    matcher: str
    timings: dict[str, float] = field(default_factory=dict)


def _pycolmap() -> Any:
    try:
        import pycolmap
    except ImportError:
        raise MissingExtraError("sfm", "pycolmap") from None
    return pycolmap


def list_images(folder: str | Path, names: Sequence[str] | None = None) -> list[str]:
    """The photo file names in ``folder`` (or the given ``names``, checked), sorted.

    Args:
        folder: the photos' folder (not searched recursively).
        names: file names relative to ``folder`` to use instead of all of them.

    Raises:
        InputError: no such folder, a named photo that does not exist, or no photos.

    Example:
        >>> list_images("photos/")  # doctest: +SKIP
        ['IMG_0001.jpg', 'IMG_0002.jpg']
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(
            f"{root}: no such folder" if not root.exists() else f"{root}: is not a folder of photos"
        )
    if names is not None:
        missing = [n for n in names if not (root / n).is_file()]
        if missing:
            raise InputError(
                f"{root}: no photo {missing[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        return sorted(names)
    found = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise InputError(f"{root}: no photos ({', '.join(IMAGE_SUFFIXES)})")
    return found


def choose_matcher(names: Sequence[str], matcher: str = "auto") -> str:
    """``exhaustive`` or ``sequential`` for these photos.

    ``auto`` matches every pair for up to 40 photos, and for up to 80 unless
    they are numbered frames of one video (``frame_0001.png`` ...: one prefix,
    consecutive numbers); beyond, or for longer numbered sequences, each photo
    is matched with its neighbours in file-name order.

    Example:
        >>> choose_matcher([f"frame_{i:04d}.png" for i in range(60)])
        'sequential'
        >>> choose_matcher([f"IMG_{i}.jpg" for i in (3, 9, 14)])
        'exhaustive'
    """
    if matcher != "auto":
        return matcher
    n = len(names)
    if n <= 40:
        return "exhaustive"
    stems = [_FRAME_NAME.match(Path(name).stem) for name in names]
    if all(stems):
        prefixes = {m.group(1) for m in stems if m}
        numbers = sorted(int(m.group(2)) for m in stems if m)
        gaps = [b - a for a, b in zip(numbers[:-1], numbers[1:], strict=True)]
        video = len(prefixes) == 1 and gaps and max(gaps) <= 3
        if video:
            return "sequential"
    return "exhaustive" if n <= 80 else "sequential"


def _image_sizes(root: Path, names: Sequence[str]) -> dict[str, tuple[int, int]]:
    from PIL import Image, UnidentifiedImageError

    sizes = {}
    for name in names:
        try:
            with Image.open(root / name) as img:
                sizes[name] = img.size
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise InputError(f"{root / name}: cannot read this photo ({exc})") from None
    return sizes


@contextlib.contextmanager
def _quiet_colmap(pycolmap: Any) -> Iterator[None]:
    """COLMAP logs every step to stderr; keep warnings and errors only, then restore."""
    log = pycolmap.logging
    before = log.minloglevel
    log.minloglevel = 1
    try:
        yield
    finally:
        log.minloglevel = before


def _device(pycolmap: Any, name: str) -> Any:
    if name == "cuda" and not pycolmap.has_cuda:
        raise OptionError("sfm_device", "cuda: this pycolmap was built without CUDA")
    return {"auto": pycolmap.Device.auto, "cpu": pycolmap.Device.cpu, "cuda": pycolmap.Device.cuda}[name]


def run_sfm(
    images: str | Path,
    output: str | Path,
    options: SfmOptions | None = None,
    *,
    image_names: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
) -> SfmResult:
    """Structure from motion on a folder of photos, with COLMAP (pycolmap).

    Args:
        images: the photos' folder.
        output: the working and output folder (created; an earlier run's database is replaced).
        options: :class:`SfmOptions` (defaults when ``None``).
        image_names: use only these photos (file names in ``images``).
        progress: called with :class:`~easel.progress.ProgressUpdate` per stage:
            ``features`` (photos done), ``matching``, ``mapping`` (photos registered), ``undistortion``.

    Returns:
        :class:`SfmResult`: the model (also written to ``result.model_dir``), the photos its
        cameras describe, and which photos were and were not registered.

    Raises:
        InputError: fewer than 3 photos, an unreadable photo (named), no reconstruction, or
            fewer photos registered than ``options.min_registered`` asks (naming some that were not).
        MissingExtraError: pycolmap is not installed.

    Example:
        >>> result = run_sfm("photos/", "scene_sfm/", SfmOptions(matcher="exhaustive"))  # doctest: +SKIP
        >>> result.model_dir  # doctest: +SKIP
        PosixPath('scene_sfm/undistorted/sparse')
    """
    opts = (options or SfmOptions()).validate()
    root = Path(images)
    names = list_images(root, image_names)
    if len(names) < 3:
        raise InputError(f"{root}: structure from motion needs at least 3 photos; got {len(names)}")
    sizes = _image_sizes(root, names)  # every photo readable, before the heavy work
    pycolmap = _pycolmap()
    _device(pycolmap, opts.sfm_device)  # a CUDA request pycolmap cannot serve fails here, before the work
    out = Path(output)
    work = out / "sfm"
    if work.exists():
        shutil.rmtree(work)
    (work / "sparse").mkdir(parents=True)
    matcher = choose_matcher(names, opts.matcher)
    one_size = len(set(sizes.values())) == 1
    needed = max(3, math.ceil(opts.min_registered * len(names)))
    job: dict[str, Any] = {
        "root": str(root),
        "out": str(out),
        "names": names,
        "matcher": matcher,
        "single": opts.camera_mode == "single" or (opts.camera_mode == "auto" and one_size),
        "needed": needed,
        "options": options_dict(opts),
    }
    done = _run_in_child(job, progress)
    registered, unregistered = done["registered"], sorted(set(names) - set(done["registered"]))
    if done["best"] is None:
        raise InputError(
            f"{root}: structure from motion found no reconstruction in {len(names)} photos "
            "(too few features or matches: photos need overlap and texture)"
        )
    if len(registered) < needed:
        shown = ", ".join(unregistered[:5]) + (
            f" and {len(unregistered) - 5} more" if len(unregistered) > 5 else ""
        )
        raise InputError(
            f"{root}: structure from motion registered only {len(registered)} of {len(names)} photos "
            f"(at least {needed} needed); not registered: {shown}"
        )
    if unregistered:
        logger.warning("SfM could not register %d photos: %s", len(unregistered), ", ".join(unregistered))
    if opts.undistort:
        model_dir, images_dir = out / "undistorted" / "sparse", out / "undistorted" / "images"
    else:
        model_dir, images_dir = work / "sparse" / str(done["best"]), root
    model = read_colmap_model(model_dir)
    return SfmResult(model, model_dir, images_dir, registered, unregistered, matcher, done["timings"])


def _run_in_child(job: dict[str, Any], progress: ProgressFn | None) -> dict[str, Any]:
    """Run COLMAP's stages in a child process, relaying its progress; stop it on any exception here.

    COLMAP's long C++ calls cannot be interrupted from Python, and a process
    that exits while (or after) one was cancelled crashes in COLMAP's
    clean-up; a child process can simply be terminated, so Ctrl-C and SIGTERM
    stop structure from motion at once and cleanly. The child writes one JSON
    message a line on its stdout; COLMAP's log goes to ``OUT/sfm/colmap.log``.
    """
    log_path = Path(job["out"]) / "sfm" / "colmap.log"
    # the child imports this very easel, wherever it was imported from
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "easel.flythrough.sfm"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        )
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(job).encode("utf-8"))
        child.stdin.close()
        for line in child.stdout:
            try:
                kind, payload = json.loads(line)
            except ValueError:
                continue  # not one of ours
            if kind == "progress":
                report(progress, *payload)
            elif kind == "error":
                raise RuntimeError(f"structure from motion failed: {payload} (log: {log_path})")
            elif kind == "done":
                child.wait()
                return dict(payload)
        code = child.wait()
        raise RuntimeError(f"structure from motion stopped unexpectedly (exit code {code}; log: {log_path})")
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(5.0)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if child.stdout is not None:
            child.stdout.close()


def _child_main() -> int:
    """The child process (``python -m easel.flythrough.sfm``, the job as JSON on stdin): report on stdout."""
    job = json.loads(sys.stdin.read())
    # the messages keep the real stdout; anything C++ prints there goes to the log instead
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def send(kind: str, payload: Any) -> None:
        channel.write(json.dumps([kind, payload]) + "\n")
        channel.flush()

    try:
        send("done", _stages(job, lambda *update: send("progress", list(update))))
    except Exception as exc:  # reported to the parent, which raises
        send("error", f"{type(exc).__name__}: {exc}")
        return 1
    return 0


def _stages(job: dict[str, Any], send: Any) -> dict[str, Any]:
    pycolmap = _pycolmap()
    opts = SfmOptions(**job["options"])
    root, out, names = Path(job["root"]), Path(job["out"]), list(job["names"])
    work = out / "sfm"
    database = work / "database.db"
    device = _device(pycolmap, opts.sfm_device)
    camera_mode = pycolmap.CameraMode.SINGLE if job["single"] else pycolmap.CameraMode.PER_IMAGE
    timings: dict[str, float] = {}
    pycolmap.set_random_seed(opts.seed)
    with _quiet_colmap(pycolmap):
        start = time.perf_counter()
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.max_image_size = opts.max_image_size
        extraction.sift.max_num_features = opts.max_features
        send("features", 0, len(names))
        # in batches, for progress; SINGLE mode shares the camera the first batch created
        for first in range(0, len(names), _EXTRACT_BATCH):
            batch = names[first : first + _EXTRACT_BATCH]
            reader = pycolmap.ImageReaderOptions()
            if job["single"] and first > 0:
                reader.existing_camera_id = 1
            pycolmap.extract_features(
                database,
                root,
                image_names=batch,
                camera_mode=camera_mode,
                reader_options=reader,
                extraction_options=extraction,
                device=device,
            )
            send("features", first + len(batch), len(names))
        timings["features"] = time.perf_counter() - start

        start = time.perf_counter()
        send("matching", 0, 1)
        if job["matcher"] == "sequential":
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = opts.overlap
            pycolmap.match_sequential(database, pairing_options=pairing, device=device)
        else:
            pycolmap.match_exhaustive(database, device=device)
        send("matching", 1, 1)
        timings["matching"] = time.perf_counter() - start

        start = time.perf_counter()
        pipeline = pycolmap.IncrementalPipelineOptions()
        pipeline.min_model_size = 3
        pipeline.random_seed = opts.seed
        count = [0]

        def next_image() -> None:
            count[0] += 1
            send("mapping", min(count[0] + 1, len(names)), len(names))

        send("mapping", 0, len(names))
        reconstructions = pycolmap.incremental_mapping(
            database, root, work / "sparse", options=pipeline, next_image_callback=next_image
        )
        timings["mapping"] = time.perf_counter() - start
        if not reconstructions:
            return {"best": None, "registered": [], "timings": timings}
        best = max(reconstructions, key=lambda k: reconstructions[k].num_reg_images())
        registered = sorted(img.name for img in reconstructions[best].images.values() if img.has_pose)
        send("mapping", len(registered), len(names))
        if opts.undistort and len(registered) >= job["needed"]:
            start = time.perf_counter()
            send("undistortion", 0, 1)
            undistorted = out / "undistorted"
            if undistorted.exists():
                shutil.rmtree(undistorted)
            pycolmap.undistort_images(undistorted, work / "sparse" / str(best), root, image_names=registered)
            send("undistortion", 1, 1)
            timings["undistortion"] = time.perf_counter() - start
    return {"best": int(best), "registered": registered, "timings": timings}


if __name__ == "__main__":
    sys.exit(_child_main())
