"""Benchmark: flicker and speed of ``easel stylize-video`` against independent per-frame stylization.

Issue #10. The script makes its own clips with **known motion**, ``--frames`` frames
(64) of ``--size`` px (256) each:

* ``pan``: a textured scene (a sample photo with fine detail added) seen by a
  camera that pans and zooms in; every frame is rendered from the scene with an
  exact affine map, so the true backward flow between consecutive frames and
  the pixels that come from outside the previous view are known exactly;
* ``object``: a textured square (another photo) crossing a slowly panning
  scene, in whole pixels: occlusions and disocclusions, the uncovered
  background excluded from the measure as Ruder et al.'s masks exclude it.

Each measure is given per clip; the verdict (``ratios``) takes the worse clip.

Two methods, in the same run, with the same encoder, styles and settings:

1. **independent**: every frame stylized from scratch (``flow=False``: easel
   stylize's full coarse-to-fine schedule per frame), the baseline;
2. **video**: :func:`easel.stylize_video` defaults (the first frame from
   scratch, then warped starts, the temporal loss, ``--iterations`` per frame).

Measured:

* **temporal warping error**: mean absolute colour difference (0-1 units)
  between each stylized frame and the previous stylized frame warped by the
  *true* motion, outside the pixels that entered the view; video / independent
  (target <= 50 %);
* **time per frame after the first**: mean wall seconds of frames 2..N of the
  video run (flow included) / mean wall seconds of an independent frame
  (target <= 1/4); also in CPU seconds of this process (steadier on a busy
  machine). The two runs advance a frame each in turns, so load hits both alike;
* **final loss**: each output scored by one fp32 evaluator
  (:meth:`Stylizer.evaluate`: content + style, no temporal term), mean over
  frames, video / independent (target: no worse, <= 1.0 within noise).

The encoder is the real ``vgg19-caffe`` when cached, else a random-initialized
VGG-19 of the real layout (:func:`easel.nets.vgg.save_random_vgg19`); results say which.

Usage::

    python benchmarks/video.py                  # 64 frames, 256 px, both clips (hours on a CPU; minutes on a GPU)
    python benchmarks/video.py --frames 12 --size 192
    python benchmarks/video.py --quick          # 6 frames, 96 px, both clips (about 10 CPU minutes)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, write_results  # noqa: E402


def _scene(side: int) -> np.ndarray:
    """A large textured picture: a sample photo plus fine detail (so flow and style have texture)."""
    import cv2

    from easel.image import resize
    from easel.samples import sample_image

    photo = resize(sample_image("chelsea"), (side, side * 4 // 3))
    rng = np.random.default_rng(0)
    detail = cv2.GaussianBlur(rng.random(photo.shape[:2]).astype(np.float32), (0, 0), 1.2)
    return np.clip(photo * 0.85 + 0.3 * (detail[:, :, None] - 0.5), 0, 1).astype(np.float32)


def _camera(t: int, size: int) -> np.ndarray:
    """2x3 affine map from frame pixels to scene pixels at frame ``t``: a pan right and down, a zoom in."""
    zoom = 1.0 + 0.004 * t  # magnification grows: the view covers 1/zoom of the scene
    cx, cy = 0.6 * size + 1.5 * t, 0.55 * size + 0.5 * t  # the view's centre in the scene
    s = 1.0 / zoom
    half = size / 2
    return np.array([[s, 0, cx - s * half], [0, s, cy - s * half]], np.float64)


def make_clip(num_frames: int, size: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, true backward flows (frame t -> t-1) and masks (1 where the source lies in frame t-1)."""
    import cv2

    scene = _scene(int(size * 1.5 + 3 * num_frames))
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    frames, flows, masks = [], [], []
    for t in range(num_frames):
        a = _camera(t, size)
        map_x = (a[0, 0] * xs + a[0, 1] * ys + a[0, 2]).astype(np.float32)
        map_y = (a[1, 0] * xs + a[1, 1] * ys + a[1, 2]).astype(np.float32)
        frames.append(cv2.remap(scene, map_x, map_y, cv2.INTER_LINEAR))
        if t == 0:
            flows.append(np.zeros((size, size, 2), np.float32))
            masks.append(np.zeros((size, size), np.float32))
            continue
        prev = _camera(t - 1, size)  # scene -> previous frame: invert the previous map
        px = (map_x - prev[0, 2]) / prev[0, 0]
        py = (map_y - prev[1, 2]) / prev[1, 1]
        flows.append(np.stack([px - xs, py - ys], axis=2).astype(np.float32))
        inside = (px >= 0) & (px <= size - 1) & (py >= 0) & (py <= size - 1)
        masks.append(inside.astype(np.float32))
    return frames, flows, masks


def make_object_clip(
    num_frames: int, size: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A second clip, with occlusions: a textured object crossing a slowly panning scene.

    The camera pans 1 px per frame to the right; a square object (another photo, a sixth of
    the frame's area) moves 3 px right and 2 px down per frame over it. Motions are whole
    pixels, so the true flow is exact; the mask excludes the background the object uncovers
    (disocclusions) and what entered the view.
    """
    from easel.image import resize
    from easel.samples import sample_image

    scene = _scene(size + num_frames + 8)
    side = max(8, int(size * 0.4))
    obj = resize(sample_image("astronaut"), (side, side))
    frames, flows, masks = [], [], []
    ys, xs = np.mgrid[0:size, 0:size]

    def placed(t: int) -> tuple[int, int]:  # the object's top-left corner in frame t (may wrap round)
        return (size // 8 + 2 * t) % max(1, size - side), (size // 10 + 3 * t) % max(1, size - side)

    for t in range(num_frames):
        frame = scene[4 : 4 + size, t : t + size].copy()
        oy, ox = placed(t)
        frame[oy : oy + side, ox : ox + side] = obj
        frames.append(frame.astype(np.float32))
        in_obj = (ys >= oy) & (ys < oy + side) & (xs >= ox) & (xs < ox + side)
        if t == 0:
            flows.append(np.zeros((size, size, 2), np.float32))
            masks.append(np.zeros((size, size), np.float32))
            continue
        py, px = placed(t - 1)
        moved = (oy - py, ox - px)
        if abs(moved[0]) > 2 or abs(moved[1]) > 3:  # the object wrapped round: a new object, no flow
            flow = np.stack([np.ones_like(xs), np.zeros_like(ys)], axis=2).astype(np.float32)
            mask = ((xs + 1 <= size - 1) & ~in_obj).astype(np.float32)
        else:
            flow = np.zeros((size, size, 2), np.float32)
            flow[..., 0] = np.where(in_obj, -moved[1], 1)  # background: the camera's pan
            flow[..., 1] = np.where(in_obj, -moved[0], 0)
            sx, sy = xs + flow[..., 0], ys + flow[..., 1]
            was_obj = (sy >= py) & (sy < py + side) & (sx >= px) & (sx < px + side)
            inside = (sx >= 0) & (sx <= size - 1) & (sy >= 0) & (sy <= size - 1)
            mask = (inside & (in_obj | ~was_obj)).astype(np.float32)  # uncovered background: excluded
        flows.append(flow)
        masks.append(mask)
    return frames, flows, masks


CLIPS = {"pan": make_clip, "object": make_object_clip}
"""The benchmark's clips: a pan and zoom over a textured scene; an object crossing a panning scene."""


def _style() -> np.ndarray:
    from easel.image import resize
    from easel.samples import sample_image

    return resize(sample_image("immunohistochemistry"), (256, 256))


def _figure(
    path: Path, frames: list[np.ndarray], independent: list[np.ndarray], video: list[np.ndarray]
) -> None:
    """Three consecutive frames: the input, each frame stylized on its own, stylize-video."""
    from easel.io.images import write_image
    from easel.style.grid import contact_sheet

    pick = range(max(0, len(frames) - 3), len(frames))
    rows = [[frames[i] for i in pick], [independent[i] for i in pick], [video[i] for i in pick]]
    labels = ["input", "independent", "stylize-video"]
    sheet = contact_sheet(rows, labels, [f"frame {i + 1}" for i in pick], cell_size=160)
    write_image(path, sheet)


def _measure(
    name: str,
    clip: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]],
    style: Any,
    methods: dict[str, Any],
    stylizer: Any,
    figure: Path | None,
) -> dict[str, Any]:
    """Both methods on one clip, frame by frame in turns; their measures and ratios."""
    from easel.style.flow import warping_error
    from easel.style.video import stylize_video

    frames, flows, masks = clip
    # the two runs advance frame by frame in turns, so a busy machine slows both alike
    streams = {
        method: stylize_video(frames, [style], opts, stylizer=stylizer) for method, opts in methods.items()
    }
    done: dict[str, list[Any]] = {method: [] for method in methods}
    wall: dict[str, list[float]] = {method: [] for method in methods}
    cpu: dict[str, list[float]] = {method: [] for method in methods}
    for _ in range(len(frames)):
        for method, stream in streams.items():
            w0, c0 = time.perf_counter(), time.process_time()
            done[method].append(next(stream))
            wall[method].append(time.perf_counter() - w0)
            cpu[method].append(time.process_time() - c0)
        print(f"{name}: frame {len(done['video'])}/{len(frames)}", file=sys.stderr, flush=True)
    runs: dict[str, dict[str, Any]] = {}
    for method, out in done.items():
        images = [f.image for f in out]
        errors = [warping_error(images[t - 1], images[t], flows[t], masks[t]) for t in range(1, len(images))]
        losses = [
            float(stylizer.evaluate(img, frame, [style], precision="fp32").total)
            for img, frame in zip(images, frames, strict=True)
        ]
        runs[method] = {
            "wall_s": float(sum(wall[method])),
            "seconds_first": wall[method][0],
            "seconds_after_first": float(np.mean(wall[method][1:])) if len(out) > 1 else float("nan"),
            "seconds_per_frame": float(np.mean(wall[method])),
            "cpu_seconds_first": cpu[method][0],
            "cpu_seconds_after_first": float(np.mean(cpu[method][1:])) if len(out) > 1 else float("nan"),
            "cpu_seconds_per_frame": float(np.mean(cpu[method])),
            "warping_error": float(np.mean(errors)),
            "loss": float(np.mean(losses)),
            "loss_after_first": float(np.mean(losses[1:])) if len(out) > 1 else float("nan"),
            "losses": losses,
            "steps_after_first": float(np.mean([f.steps for f in out[1:]])) if len(out) > 1 else float("nan"),
            "starts": [f.start for f in out],
        }
    if figure is not None:
        _figure(figure, frames, [f.image for f in done["independent"]], [f.image for f in done["video"]])
    video, independent = runs["video"], runs["independent"]
    ratios = {
        "warping_error": video["warping_error"] / independent["warping_error"],
        "time_after_first": video["seconds_after_first"] / independent["seconds_per_frame"],
        "cpu_time_after_first": video["cpu_seconds_after_first"] / independent["cpu_seconds_per_frame"],
        "loss": video["loss"] / independent["loss"],
        "loss_after_first": video["loss_after_first"] / independent["loss_after_first"],
    }
    return {"runs": runs, "ratios": ratios}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import os

    import torch

    from easel import weights
    from easel.nets.vgg import save_random_vgg19
    from easel.style.transfer import Style, Stylizer
    from easel.style.video import VideoStyleOptions

    torch.manual_seed(0)
    load_before = os.getloadavg()
    style = Style(_style(), key="benchmark style")
    tmp = Path(tempfile.mkdtemp(prefix="easel-video-bench-"))
    real = weights.is_present("vgg19-caffe")
    weights_file = None if real else save_random_vgg19(tmp / "vgg19-random.pth", seed=0)
    common: dict[str, Any] = dict(
        size=args.size, weights=weights_file, precision=args.precision, device=args.device
    )
    tuned: dict[str, Any] = {}
    if args.iterations is not None:
        tuned["iterations"] = args.iterations
    if args.temporal_weight is not None:
        tuned["temporal_weight"] = args.temporal_weight
    video_opts = VideoStyleOptions(**common, **tuned)
    independent_opts = VideoStyleOptions(**common, flow=False)
    stylizer = Stylizer(video_opts.first_frame_options())
    methods = {"video": video_opts, "independent": independent_opts}
    clips: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(args.clips):
        figure = args.figure if index == 0 else None
        clips[name] = _measure(name, CLIPS[name](args.frames, args.size), style, methods, stylizer, figure)
    # the verdict: the worse clip for each measure
    ratios = {
        key: max(c["ratios"][key] for c in clips.values()) for key in next(iter(clips.values()))["ratios"]
    }
    # on paper: the seed's 30 s, 900-frame 720p time-lapse, from the CPU seconds measured here
    # (mean over the clips), scaled by pixel count (optimization cost is about linear in pixels;
    # small frames carry relatively more overhead, so this errs high)
    mean = {
        key: float(np.mean([c["runs"][m][k] for c in clips.values()]))
        for key, (m, k) in {
            "independent": ("independent", "cpu_seconds_per_frame"),
            "first": ("video", "cpu_seconds_first"),
            "after": ("video", "cpu_seconds_after_first"),
        }.items()
    }
    scale = (1280 * 720) / (args.size * args.size)
    paper = {
        "frames": 900,
        "frame_size": [1280, 720],
        "pixel_scale": scale,
        "independent_hours": 900 * mean["independent"] * scale / 3600,
        "video_hours": (mean["first"] + 899 * mean["after"]) * scale / 3600,
        "basis": "CPU seconds of this process (one thread per process when OMP_NUM_THREADS=1), x pixel ratio",
    }
    resolved = video_opts.resolved()
    return {
        "paper_720p": paper,
        "config": {
            "frames": args.frames,
            "size": args.size,
            "clips": list(args.clips),
            "quick": args.quick,
            "encoder": "vgg19-caffe" if real else "random-initialized VGG-19 (real layout)",
            "precision_used": stylizer.precision,
            "device": str(stylizer.device),
            "video_options": {
                "iterations": resolved.iterations,
                "iterations_first": resolved.iterations_first,
                "temporal_weight": video_opts.temporal_weight,
                "temporal_detail": video_opts.temporal_detail,
                "long_term": video_opts.long_term,
            },
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "clips": clips,
        "ratios": ratios,
        "targets": {"warping_error": 0.5, "time_after_first": 0.25, "loss": 1.0},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument(
        "--iterations", type=int, default=None, help="iterations per warped frame (default: easel's)"
    )
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--temporal-weight", type=float, default=None, help="default: easel's")
    parser.add_argument(
        "--clips",
        type=lambda text: [c.strip() for c in text.split(",") if c.strip()],
        default=list(CLIPS),
        help=f"comma-separated clips among {', '.join(CLIPS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="6 frames at 96 px (easel's default schedules)")
    parser.add_argument("--tag", default="", help="suffix of the results file")
    parser.add_argument("--figure", type=Path, default=None, help="also write the docs' picture (.jpg)")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.size = min(args.frames, 6), min(args.size, 96)
    unknown = [c for c in args.clips if c not in CLIPS]
    if unknown or not args.clips:
        parser.error(f"--clips: choose among {', '.join(CLIPS)}")
    result = run(args)
    columns = [
        "clip",
        "method",
        "s/frame (first)",
        "s/frame (after first)",
        "CPU s/frame (after first)",
        "steps/frame (after first)",
        "warping error",
        "loss (fp32 eval)",
    ]
    rows: list[dict[str, Any]] = []
    for clip, measured in result["clips"].items():
        for method, r in measured["runs"].items():
            rows.append(
                {
                    "clip": clip,
                    "method": method,
                    "s/frame (first)": r["seconds_first"],
                    "s/frame (after first)": r["seconds_after_first"],
                    "CPU s/frame (after first)": r["cpu_seconds_after_first"],
                    "steps/frame (after first)": r["steps_after_first"],
                    "warping error": r["warping_error"],
                    "loss (fp32 eval)": r["loss"],
                }
            )
        ratios = measured["ratios"]
        rows.append(
            {
                "clip": clip,
                "method": "video / independent",
                "s/frame (after first)": ratios["time_after_first"],
                "CPU s/frame (after first)": ratios["cpu_time_after_first"],
                "warping error": ratios["warping_error"],
                "loss (fp32 eval)": ratios["loss"],
            }
        )
    cfg = result["config"]
    table = (
        f"{cfg['frames']} frames, {cfg['size']} px, {cfg['encoder']}, {cfg['precision_used']} on {cfg['device']}, "
        f"video options {cfg['video_options']}, load average {cfg['load_average_before'][0]:.1f} -> "
        f"{cfg['load_average_after'][0]:.1f}\n\n" + markdown_table(rows, columns)
    )
    paper = result["paper_720p"]
    table += (
        f"\n\nOn paper, 900 frames of 1280x720 at this CPU speed: independent "
        f"{paper['independent_hours']:.1f} h, stylize-video {paper['video_hours']:.1f} h "
        f"({paper['basis']})"
    )
    name = "video" + ("-quick" if args.quick else "") + (f"-{args.tag}" if args.tag else "")
    write_results(name, result, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
