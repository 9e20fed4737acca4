"""Which autocast precision is fastest on this machine: a short, cached measurement.

bf16 autocast is not faster everywhere: on one 2-core Intel Xeon with
AVX512-BF16 its convolutions run at about 60 % of fp32's rate, on one AMD
EPYC at several times it. So ``--precision auto`` does not decide by device
type: :func:`choose_precision` times a few VGG-19-like 3x3 convolutions
(forward and the backward to the input, as an image optimization runs them)
at 128 x 128 px in fp32 and in the device's low precision (bf16 on the CPU;
bf16, or fp16 without bf16 support, on CUDA; fp16 on MPS), well under a
second, and keeps the faster one. The result is cached per device in
``$EASEL_HOME/precision.json`` (beside the weights cache), keyed by the
device's name, the torch version and the thread count, and shown by ``easel
info``.

Example:
    >>> choice = choose_precision(torch.device("cpu"))  # doctest: +SKIP
    >>> choice.precision, choice.seconds  # doctest: +SKIP
    ('fp32', {'fp32': 0.031, 'bf16': 0.052})
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from easel.devices import autocast

log = logging.getLogger(__name__)

__all__ = [
    "CACHE_NAME",
    "PRECISION_DTYPES",
    "PrecisionChoice",
    "cache_path",
    "cached_choice",
    "choose_precision",
    "device_key",
    "measure_conv_speed",
    "precision_name",
    "resolve_precision",
    "save_choice",
]

CACHE_NAME = "precision.json"
"""File name of the cache, in the folder above the weights cache (``$EASEL_HOME``)."""
CACHE_VERSION = 1
PRECISION_DTYPES: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
"""Precision name -> autocast dtype (``None``: plain fp32)."""
MARGIN = 0.9
"""A low precision is chosen only when it takes at most this fraction of fp32's time
(a near tie keeps fp32, which is exact)."""
BENCH_SIZE = 128
"""Side of the micro-benchmark's image, in pixels."""
# (in channels, out channels, pool after): VGG-19's first five convolutions
_LAYERS = ((3, 64, False), (64, 64, True), (64, 128, False), (128, 128, True), (128, 256, False))

MeasureFn = Callable[[torch.device, Sequence[str]], Mapping[str, float]]
_MEMO: dict[str, tuple[PrecisionChoice, bool]] = {}  # cache file + device -> (choice, written to the file)


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision ``auto`` picked on one device, and the figures it picked it by.

    Attributes:
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        device: the cache key: device type and name, torch version, threads.
        seconds: precision -> seconds of one forward + backward pass of the micro-benchmark (best of a few).
        gflops: precision -> the rate that makes, in GFLOP/s.
        source: ``"measured"`` (now) or ``"cache"`` (an earlier measurement).
        measured_at: when it was measured (ISO 8601, UTC).

    Example:
        >>> choice = PrecisionChoice("fp32", "cpu: Xeon", {"fp32": 0.03, "bf16": 0.05}, {}, "measured", "")
        >>> choice.precision, choice.speedup
        ('fp32', 0.6)
    """

    precision: str
    device: str
    seconds: dict[str, float]
    gflops: dict[str, float]
    source: str
    measured_at: str

    @property
    def speedup(self) -> float:
        """fp32's time over the low precision's (> 1: the low precision is faster)."""
        low = [p for p in self.seconds if p != "fp32"]
        if not low or not self.seconds.get(low[0]):
            return 1.0
        return round(self.seconds["fp32"] / self.seconds[low[0]], 3)

    def as_record(self) -> dict[str, Any]:
        """JSON-friendly dict (for run records and ``easel info``).

        Example:
            >>> PrecisionChoice("bf16", "cpu: EPYC", {"fp32": 0.1, "bf16": 0.05}, {}, "cache", "").as_record()["speedup"]
            2.0
        """
        return {**asdict(self), "speedup": self.speedup}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def device_key(device: torch.device) -> str:
    """The name a measurement is cached under: device type and model, torch version, threads.

    Example:
        >>> device_key(torch.device("cpu"))  # doctest: +SKIP
        'cpu: Intel(R) Xeon(R) Processor | torch 2.13.0 | 2 threads'
    """
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "cpu":
        name = _cpu_name()
    else:
        name = device.type
    return f"{device.type}: {name} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def _low_precision(device: torch.device) -> str | None:
    if device.type == "cpu":
        return "bf16"
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "mps":
        return "fp16"
    return None


def precision_name(dtype: torch.dtype | None) -> str:
    """``"fp32"``, ``"bf16"`` or ``"fp16"`` for an autocast dtype (``None``: fp32).

    Example:
        >>> precision_name(torch.bfloat16), precision_name(None)
        ('bf16', 'fp32')
    """
    for name, candidate in PRECISION_DTYPES.items():
        if candidate == dtype:
            return name
    return str(dtype).removeprefix("torch.")


def _conv_stack(device: torch.device, size: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, size, size, generator=gen).to(device)
    weights = [
        (torch.randn(cout, cin, 3, 3, generator=gen) * (2.0 / (9 * cin)) ** 0.5).to(device)
        for cin, cout, _ in _LAYERS
    ]
    return image, weights


def _flops(size: int) -> float:
    """Multiply-adds x 2 of one forward pass, x 2 for the backward to the input."""
    total, side = 0.0, size
    for cin, cout, pool in _LAYERS:
        total += 2.0 * cin * cout * 9 * side * side
        if pool:
            side //= 2
    return 2.0 * total


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure_conv_speed(
    device: torch.device,
    precisions: Sequence[str] = ("fp32", "bf16"),
    size: int = BENCH_SIZE,
    repeats: int = 3,
) -> dict[str, float]:
    """Seconds of one forward + backward pass of VGG-19's first five convolutions, per precision.

    The image ``(1, 3, size, size)`` needs a gradient, the weights do not (as
    in style transfer); each precision is warmed up once, then timed
    ``repeats`` times, and the best time is kept (other processes only ever
    slow a pass down).

    Args:
        device: where to run.
        precisions: names from :data:`PRECISION_DTYPES`.
        size: side of the image, in pixels.
        repeats: timed passes per precision (>= 1).

    Returns:
        precision -> seconds (best of ``repeats``).

    Example:
        >>> times = measure_conv_speed(torch.device("cpu"), ("fp32",), size=16, repeats=1)
        >>> list(times), times["fp32"] > 0
        (['fp32'], True)
    """
    image, weights = _conv_stack(device, size)
    seconds: dict[str, float] = {}
    for name in precisions:
        dtype = PRECISION_DTYPES[name]
        best = float("inf")
        for run in range(repeats + 1):
            x = image.clone().requires_grad_(True)
            _sync(device)
            start = time.perf_counter()
            with autocast(device, dtype):
                h = x
                for weight, (_, _, pool) in zip(weights, _LAYERS, strict=True):
                    h = F.relu(F.conv2d(h, weight, padding=1))
                    if pool:
                        h = F.max_pool2d(h, 2)
                loss = h.float().square().mean()
            loss.backward()
            _sync(device)
            if run > 0:  # the first pass warms up (allocations, kernel selection)
                best = min(best, time.perf_counter() - start)
        seconds[name] = best
    return seconds


def cache_path() -> Path:
    """The cache file: ``$EASEL_HOME/precision.json`` (or beside the platform's weights cache).

    Example:
        >>> cache_path().name
        'precision.json'
    """
    from easel.weights import cache_dir

    return cache_dir().parent / CACHE_NAME


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _from_entry(key: str, entry: Any) -> PrecisionChoice | None:
    try:
        choice = PrecisionChoice(
            precision=str(entry["precision"]),
            device=key,
            seconds={str(k): float(v) for k, v in entry["seconds"].items()},
            gflops={str(k): float(v) for k, v in entry.get("gflops", {}).items()},
            source="cache",
            measured_at=str(entry.get("measured_at", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return choice if choice.precision in PRECISION_DTYPES else None


def _write_cache(path: Path, key: str, choice: PrecisionChoice) -> None:
    from easel.io.atomic import atomic_path

    entries = _read_cache(path)
    entries[key] = {
        "precision": choice.precision,
        "seconds": choice.seconds,
        "gflops": choice.gflops,
        "measured_at": choice.measured_at,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "entries": entries}, indent=2) + "\n")
    except OSError as exc:  # a read-only home only costs a new measurement next time
        log.debug("could not write the precision cache %s: %s", path, exc)


def cached_choice(device: torch.device) -> PrecisionChoice | None:
    """The measurement cached for ``device`` in :func:`cache_path`, or ``None`` (nothing is measured).

    Example:
        >>> cached_choice(torch.device("cpu"))  # doctest: +SKIP
        PrecisionChoice(precision='bf16', device='cpu: Intel(R) Xeon(R) Processor | ...', ...)
    """
    key = device_key(device)
    return _from_entry(key, _read_cache(cache_path()).get(key))


def choose_precision(
    device: torch.device,
    *,
    measure: MeasureFn | None = None,
    use_cache: bool = True,
    persist: bool = True,
) -> PrecisionChoice:
    """The faster of fp32 and the device's low precision, measured once per device and cached.

    Args:
        device: the device a run will use.
        measure: ``f(device, precisions) -> {precision: seconds}``; default
            :func:`measure_conv_speed` (tests pass a stand-in).
        use_cache: read and write :func:`cache_path` (and this process's memo);
            ``False`` always measures.
        persist: write a new measurement to the cache file now; ``False`` keeps it
            in this process only until a later call persists it (a check that
            may still refuse the run leaves the cache folder untouched).

    Returns:
        A :class:`PrecisionChoice`: the low precision when it takes at most
        :data:`MARGIN` of fp32's time, fp32 otherwise (and on devices without one).

    Example:
        >>> fake = lambda device, precisions: {"fp32": 0.05, "bf16": 0.02}
        >>> choose_precision(torch.device("cpu"), measure=fake, use_cache=False).precision
        'bf16'
    """
    key = device_key(device)
    path = cache_path()
    memo_key = f"{path}|{key}"
    if use_cache:
        if memo_key in _MEMO:
            choice, written = _MEMO[memo_key]
            if persist and not written:
                _write_cache(path, key, choice)
                _MEMO[memo_key] = (choice, True)
            return choice
        cached = _from_entry(key, _read_cache(path).get(key))
        if cached is not None:
            _MEMO[memo_key] = (cached, True)
            return cached
    low = _low_precision(device)
    candidates = ("fp32",) if low is None else ("fp32", low)
    seconds = {name: float(t) for name, t in (measure or measure_conv_speed)(device, candidates).items()}
    precision = "fp32"
    if low is not None and seconds.get(low, float("inf")) <= MARGIN * seconds["fp32"]:
        precision = low
    flops = _flops(BENCH_SIZE)
    choice = PrecisionChoice(
        precision=precision,
        device=key,
        seconds={k: round(v, 6) for k, v in seconds.items()},
        gflops={k: round(flops / v / 1e9, 1) for k, v in seconds.items() if v > 0},
        source="measured",
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    log.debug("precision auto on %s: %s (%s)", key, precision, seconds)
    if use_cache:
        if persist:
            _write_cache(path, key, choice)
        _MEMO[memo_key] = (choice, persist)
    return choice


def resolve_precision(
    device: torch.device, precision: str, *, persist: bool = True
) -> tuple[torch.dtype | None, PrecisionChoice | None]:
    """The autocast dtype for ``precision`` on ``device``; ``"auto"`` measures (see :func:`choose_precision`).

    ``persist=False`` defers writing a new measurement to the cache until
    :func:`save_choice` (or a later call) does, so a run refused after this
    call leaves the cache folder untouched.

    Returns:
        ``(dtype, choice)``: the dtype (``None`` = fp32) and, for ``"auto"``, the
        :class:`PrecisionChoice` behind it (``None`` otherwise).

    Raises:
        InputError: an unknown precision name.

    Example:
        >>> resolve_precision(torch.device("cpu"), "fp32")
        (None, None)
    """
    if precision != "auto":
        from easel.devices import autocast_dtype

        return autocast_dtype(device, precision), None
    choice = choose_precision(device, persist=persist)
    return PRECISION_DTYPES[choice.precision], choice


def save_choice(choice: PrecisionChoice) -> None:
    """Write a measured choice to the cache file, if this process has not written it yet.

    Example:
        >>> save_choice(choose_precision(torch.device("cpu"), persist=False))  # doctest: +SKIP
    """
    path = cache_path()
    memo_key = f"{path}|{choice.device}"
    remembered = _MEMO.get(memo_key)
    if choice.source != "measured" or (remembered is not None and remembered[1]):
        return
    _write_cache(path, choice.device, choice)
    _MEMO[memo_key] = (choice, True)
