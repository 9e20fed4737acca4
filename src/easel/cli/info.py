"""``easel info``: versions, devices, video encoders and cached weights, for bug reports."""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata
from typing import Any

from easel.cli._common import CommandContext

NAME = "info"
HELP = "show versions, devices, the precision auto picks, video encoders and which weights are cached"
ORDER = 95
DESCRIPTION = """\
Show what easel runs on: the versions of easel, Python and the libraries it
uses, the torch devices it can pick (--device auto), the precision
--precision auto picks there (fp32 or bf16, by a sub-second measurement of
VGG-19 convolutions, cached in the folder above the weights cache), the
video encoders of the PyAV build, the weights cache folder and which
pretrained models are in it. Paste the output (or --json) into bug reports.
"""
EPILOG = """\
examples:
  easel info
  easel info --json > info.json
"""

# label -> distribution names to try (the first installed one wins)
_LIBRARIES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "numpy": ("numpy",),
    "numba": ("numba",),
    "opencv": (
        "opencv-contrib-python-headless",
        "opencv-contrib-python",
        "opencv-python-headless",
        "opencv-python",
    ),
    "pillow": ("pillow", "Pillow"),
    "av": ("av",),
    "scikit-image": ("scikit-image",),
    "scikit-learn": ("scikit-learn",),
    "scipy": ("scipy",),
    "transformers": ("transformers",),
    "safetensors": ("safetensors",),
}
_ENCODERS = {"h264 (.mp4)": "libx264", "vp9 (.webm)": "libvpx-vp9", "gif (.gif)": "gif"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``easel info``'s options to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="easel info")
        >>> add_arguments(parser)
        >>> parser.parse_args(["--json"]).json
        True
    """
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries easel uses (``None``: not installed), without importing them.

    Example:
        >>> library_versions()["numpy"] is not None
        True
    """
    found: dict[str, str | None] = {}
    for label, dists in _LIBRARIES.items():
        version = None
        for dist in dists:
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        found[label] = version
    return found


def _encoders() -> dict[str, bool]:
    from easel.io.video import has_encoder

    return {label: has_encoder(codec) for label, codec in _ENCODERS.items()}


def _ffmpeg_version() -> str | None:
    """The libavcodec version PyAV was built with (``None`` without PyAV)."""
    try:
        import av
    except ImportError:
        return None
    version = av.library_versions.get("libavcodec")
    return ".".join(map(str, version)) if version else None


def _weights() -> dict[str, Any]:
    from easel import weights

    names = [entry.name for entry in weights.entries()]
    present = weights.present_names()
    return {
        "cache_dir": str(weights.cache_dir()),
        "present": present,
        "missing": [name for name in names if name not in present],
    }


def _precision() -> dict[str, Any]:
    """The precision ``--precision auto`` picks on the auto device: the cached measurement,
    or one made now (not written: ``easel info`` changes no file; the first run caches its own)."""
    from easel.devices import resolve_device
    from easel.nets.precision import cached_choice, choose_precision

    device = resolve_device("auto")
    choice = cached_choice(device) or choose_precision(device, persist=False, use_cache=False)
    return choice.as_record()


def gather() -> dict[str, Any]:
    """Everything ``easel info`` shows, as a JSON-friendly dict.

    Example:
        >>> sorted(gather())  # doctest: +SKIP
        ['devices', 'easel', 'libavcodec', 'libraries', 'platform', 'precision', 'python', 'video_encoders', 'weights']
    """
    from easel import __version__
    from easel.devices import describe_devices

    return {
        "easel": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
        "devices": describe_devices(),
        "precision": _precision(),
        "libavcodec": _ffmpeg_version(),
        "video_encoders": _encoders(),
        "weights": _weights(),
    }


def _format(info: dict[str, Any]) -> str:
    lines = [f"easel {info['easel']}", f"python {info['python']} on {info['platform']}", "", "libraries:"]
    width = max(len(k) for k in info["libraries"])
    for name, version in info["libraries"].items():
        lines.append(f"  {name.ljust(width)}  {version or 'not installed'}")
    lines += ["", "devices:"]
    width = max(len(k) for k in info["devices"])
    for name, value in info["devices"].items():
        lines.append(f"  {name.ljust(width)}  {value}")
    p = info["precision"]
    figures = ", ".join(
        f"{name} {seconds * 1000:.1f} ms ({p['gflops'].get(name, 0):.0f} GFLOP/s)"
        for name, seconds in p["seconds"].items()
    )
    when = "cached" if p["source"] == "cache" else "measured now, not cached"
    lines += [
        "",
        f"precision auto: {p['precision']} on {p['device']}",
        f"  conv pass: {figures}; {when} ({p['measured_at']})",
    ]
    lines += ["", f"video encoders (PyAV, libavcodec {info['libavcodec'] or 'not found'}):"]
    width = max(len(k) for k in info["video_encoders"])
    for name, ok in info["video_encoders"].items():
        lines.append(f"  {name.ljust(width)}  {'yes' if ok else 'no'}")
    w = info["weights"]
    lines += ["", f"weights cache: {w['cache_dir']}"]
    lines.append(f"  present: {', '.join(w['present']) or 'none'}")
    lines.append(f"  missing: {', '.join(w['missing']) or 'none'}")
    if w["missing"]:
        lines.append("  (get them with `easel weights download NAME`; see `easel weights list`)")
    return "\n".join(lines)


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Run ``easel info``: print :func:`gather` as text or JSON; return the exit code.

    Example:
        >>> from easel.cli import main
        >>> main(["info", "--json"])  # runs this function  # doctest: +SKIP
        0
    """
    info = gather()
    print(json.dumps(info, indent=2) if args.json else _format(info))
    return 0
