"""Run records: the resolved parameters of a run, saved next to its output."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from easel.io.atomic import write_text_atomic


def record_path(output: str | os.PathLike[str]) -> Path:
    """``<output>.json`` (``art.png`` -> ``art.png.json``, ``frames/`` -> ``frames.json``).

    Example:
        >>> record_path("art.png"), record_path("frames/")
        (PosixPath('art.png.json'), PosixPath('frames.json'))
    """
    out = Path(output)
    return out.with_name(out.name + ".json")


def versions() -> dict[str, str]:
    """Versions of easel, Python and the libraries already imported by this run.

    Example:
        >>> {"easel", "python"} <= set(versions())
        True
    """
    from easel import __version__

    found = {"easel": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for module in (
        "numpy",
        "torch",
        "numba",
        "cv2",
        "PIL",
        "skimage",
        "sklearn",
        "av",
        "transformers",
        "safetensors",
    ):
        mod = sys.modules.get(module)
        if mod is not None:
            found[module] = str(getattr(mod, "__version__", "unknown"))
    return found


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def write_record(
    output: str | os.PathLike[str],
    command: str,
    options: Mapping[str, Any],
    inputs: Iterable[str | os.PathLike[str]] = (),
    seed: int | None = None,
    timings: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
    argv: Iterable[str] | None = None,
) -> Path:
    """Write the run record for ``output`` atomically and return its path.

    ``argv`` is the command line that made it (without the program name), when known.

    Example:
        >>> write_record("art.png", "stylize", {"size": 512}, inputs=["photo.jpg"], seed=0)  # doctest: +SKIP
        PosixPath('art.png.json')
    """
    record = {
        "command": command,
        "argv": list(argv) if argv is not None else None,
        "options": _jsonable(options),
        "inputs": [os.fspath(p) for p in inputs],
        "output": os.fspath(output),
        "seed": seed,
        "timings_s": _jsonable(timings or {}),
        "versions": versions(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if extra:
        record.update(_jsonable(extra))
    path = record_path(output)
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path
