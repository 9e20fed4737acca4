"""Benchmark: flicker and speed of ``easel stylize-video`` against independent per-frame stylization.

Issue #10. The script makes its own clip with **known motion**: a textured
scene (a sample photo with fine detail added) seen by a camera that pans and
zooms in, ``--frames`` frames (64) of ``--size`` px (256). Every frame is
rendered from the scene with an exact affine map, so the true backward flow
between consecutive frames and the pixels that come from outside the previous
view are known exactly.

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

    python benchmarks/video.py                  # 64 frames, 256 px (about 2 h on 2 busy CPU cores; minutes on a GPU)
    python benchmarks/video.py --frames 12 --size 192
    python benchmarks/video.py --quick          # 6 frames, 96 px (about 4 CPU minutes)
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from easel import weights
    from easel.nets.vgg import save_random_vgg19
    from easel.style.flow import warping_error
    from easel.style.transfer import Style, Stylizer
    from easel.style.video import VideoStyleOptions, stylize_video

    torch.manual_seed(0)
    frames, flows, masks = make_clip(args.frames, args.size)
    style = Style(_style(), key="benchmark style")
    tmp = Path(tempfile.mkdtemp(prefix="easel-video-bench-"))
    real = weights.is_present("vgg19-caffe")
    weights_file = None if real else save_random_vgg19(tmp / "vgg19-random.pth", seed=0)
    common: dict[str, Any] = dict(
        size=args.size, weights=weights_file, precision=args.precision, device=args.device
    )
    if args.iterations is not None:
        common["iterations"] = args.iterations
    if args.temporal_weight is not None:
        common["temporal_weight"] = args.temporal_weight
    video_opts = VideoStyleOptions(**common)
    independent_opts = VideoStyleOptions(**common, flow=False)
    stylizer = Stylizer(video_opts.first_frame_options())
    # the two runs advance frame by frame in turns, so a busy machine slows both alike
    methods = {"video": video_opts, "independent": independent_opts}
    streams = {
        name: stylize_video(frames, [style], opts, stylizer=stylizer) for name, opts in methods.items()
    }
    done: dict[str, list[Any]] = {name: [] for name in methods}
    wall: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(len(frames)):
        for name, stream in streams.items():
            w0, c0 = time.perf_counter(), time.process_time()
            done[name].append(next(stream))
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
        print(f"frame {len(done['video'])}/{len(frames)}", file=sys.stderr)
    runs: dict[str, dict[str, Any]] = {}
    for name, out in done.items():
        images = [f.image for f in out]
        errors = [warping_error(images[t - 1], images[t], flows[t], masks[t]) for t in range(1, len(images))]
        losses = [
            float(stylizer.evaluate(img, frame, [style], precision="fp32").total)
            for img, frame in zip(images, frames, strict=True)
        ]
        runs[name] = {
            "wall_s": float(sum(wall[name])),
            "seconds_first": wall[name][0],
            "seconds_after_first": float(np.mean(wall[name][1:])) if len(out) > 1 else float("nan"),
            "seconds_per_frame": float(np.mean(wall[name])),
            "cpu_seconds_first": cpu[name][0],
            "cpu_seconds_after_first": float(np.mean(cpu[name][1:])) if len(out) > 1 else float("nan"),
            "cpu_seconds_per_frame": float(np.mean(cpu[name])),
            "warping_error": float(np.mean(errors)),
            "loss": float(np.mean(losses)),
            "steps_after_first": float(np.mean([f.steps for f in out[1:]])) if len(out) > 1 else float("nan"),
            "starts": [f.start for f in out],
        }
    if args.figure is not None:
        _figure(args.figure, frames, [f.image for f in done["independent"]], [f.image for f in done["video"]])
    video, independent = runs["video"], runs["independent"]
    ratios = {
        "warping_error": video["warping_error"] / independent["warping_error"],
        "time_after_first": video["seconds_after_first"] / independent["seconds_per_frame"],
        "cpu_time_after_first": video["cpu_seconds_after_first"] / independent["cpu_seconds_per_frame"],
        "loss": video["loss"] / independent["loss"],
    }
    # on paper: the seed's 30 s, 900-frame 720p time-lapse, from the CPU seconds measured here,
    # scaled by pixel count (optimization cost is about linear in pixels; small frames carry
    # relatively more overhead, so this errs high)
    scale = (1280 * 720) / (args.size * args.size)
    paper = {
        "frames": 900,
        "frame_size": [1280, 720],
        "pixel_scale": scale,
        "independent_hours": 900 * independent["cpu_seconds_per_frame"] * scale / 3600,
        "video_hours": (video["cpu_seconds_first"] + 899 * video["cpu_seconds_after_first"]) * scale / 3600,
        "basis": "CPU seconds of this process (one thread per process when OMP_NUM_THREADS=1), x pixel ratio",
    }
    return {
        "paper_720p": paper,
        "config": {
            "frames": args.frames,
            "size": args.size,
            "quick": args.quick,
            "encoder": "vgg19-caffe" if real else "random-initialized VGG-19 (real layout)",
            "precision_used": stylizer.precision,
            "device": str(stylizer.device),
            "video_options": {
                "iterations": video_opts.resolved_iterations(),
                "temporal_weight": video_opts.temporal_weight,
            },
        },
        "runs": runs,
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
    parser.add_argument("--quick", action="store_true", help="6 frames at 96 px (easel's default schedules)")
    parser.add_argument("--tag", default="", help="suffix of the results file")
    parser.add_argument("--figure", type=Path, default=None, help="also write the docs' picture (.jpg)")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.size = min(args.frames, 6), min(args.size, 96)
    result = run(args)
    rows = [
        {
            "method": name,
            "s/frame (first)": r["seconds_first"],
            "s/frame (after first)": r["seconds_after_first"],
            "CPU s/frame (after first)": r["cpu_seconds_after_first"],
            "steps/frame (after first)": r["steps_after_first"],
            "warping error": r["warping_error"],
            "loss (fp32 eval)": r["loss"],
        }
        for name, r in result["runs"].items()
    ]
    ratios = result["ratios"]
    rows.append(
        {
            "method": "video / independent",
            "s/frame (after first)": ratios["time_after_first"],
            "CPU s/frame (after first)": ratios["cpu_time_after_first"],
            "warping error": ratios["warping_error"],
            "loss (fp32 eval)": ratios["loss"],
        }
    )
    cfg = result["config"]
    table = (
        f"{cfg['frames']} frames, {cfg['size']} px, {cfg['encoder']}, {cfg['precision_used']} on {cfg['device']}\n\n"
        + markdown_table(
            rows,
            [
                "method",
                "s/frame (first)",
                "s/frame (after first)",
                "CPU s/frame (after first)",
                "steps/frame (after first)",
                "warping error",
                "loss (fp32 eval)",
            ],
        )
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
