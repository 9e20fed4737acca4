"""Monocular depth estimation through Hugging Face ``transformers``.

:class:`DepthEstimator` loads a depth model (``AutoModelForDepthEstimation``)
from local files only -- a cached registry entry or a ``--weights`` path --
and predicts at the model's input size (518 px, a multiple of 14, for Depth
Anything V2), then upsamples to the image. Preprocessing follows the model's
``preprocessor_config.json`` exactly (PIL resize, rescale, normalize), so
callers pass RGB in [0, 1] and never think about it.

:func:`estimate_depth` is the one-call API: network, edge refinement and
disparity-to-depth conversion.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.depth.convert import (
    DEFAULT_DEPTH_RANGE,
    DepthMap,
    disparity_to_depth,
    rescale_depth,
    validate_depth,
)
from easel.depth.options import PRECISIONS, DepthOptions
from easel.depth.registry import DA_V2_PREPROCESS, DEFAULT_MODEL, MODELS, DepthModelSpec
from easel.errors import InputError, MissingExtraError, WeightsError
from easel.image import FloatImage, as_float_rgb, to_uint8
from easel.progress import ProgressFn, report

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

__all__ = [
    "PRECISIONS",
    "DepthEstimator",
    "Preprocess",
    "clear_cache",
    "estimate_depth",
    "get_estimator",
    "quiet_transformers",
    "resolve_options",
    "resolve_weights",
]


@dataclass(frozen=True)
class Preprocess:
    """A DPT-family ``preprocessor_config.json``, applied to RGB in [0, 1].

    Matches ``transformers``' ``DPTImageProcessor``: resize with PIL (keeping
    the aspect ratio by the scale closest to 1 and rounding each side to a
    multiple of ``ensure_multiple_of``), rescale to [0, 1], normalize.

    Example:
        >>> pre = Preprocess()  # Depth Anything V2: 518 px, multiples of 14
        >>> pre.output_shape(480, 640), pre(np.zeros((48, 64, 3), np.float32)).shape
        ((518, 686), (1, 3, 392, 518))
    """

    do_resize: bool = True
    height: int = 518
    width: int = 518
    keep_aspect_ratio: bool = True
    ensure_multiple_of: int = 14
    resample: int = 3
    do_rescale: bool = True
    rescale_factor: float = 1 / 255
    do_normalize: bool = True
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> Preprocess:
        """Build from a ``preprocessor_config.json`` dictionary (missing keys take DPT defaults)."""
        size = cfg.get("size", {"height": 384, "width": 384})
        if isinstance(size, int):
            height = width = size
        elif isinstance(size, dict) and "height" in size and "width" in size:
            height, width = int(size["height"]), int(size["width"])
        elif isinstance(size, dict) and "shortest_edge" in size:
            height = width = int(size["shortest_edge"])
        else:
            raise WeightsError(f"unsupported preprocessor size {size!r}")

        def triple(value: Any, default: tuple[float, float, float]) -> tuple[float, float, float]:
            if value is None:
                return default
            if isinstance(value, (int, float)):
                return (float(value),) * 3  # type: ignore[return-value]
            a, b, c = (float(v) for v in value)
            return (a, b, c)

        return cls(
            do_resize=bool(cfg.get("do_resize", True)),
            height=height,
            width=width,
            keep_aspect_ratio=bool(cfg.get("keep_aspect_ratio", False)),
            ensure_multiple_of=int(cfg.get("ensure_multiple_of", 1) or 1),
            resample=int(cfg.get("resample", 3)),
            do_rescale=bool(cfg.get("do_rescale", True)),
            rescale_factor=float(cfg.get("rescale_factor", 1 / 255)),
            do_normalize=bool(cfg.get("do_normalize", True)),
            mean=triple(cfg.get("image_mean"), (0.5, 0.5, 0.5)),
            std=triple(cfg.get("image_std"), (0.5, 0.5, 0.5)),
        )

    def output_shape(self, height: int, width: int) -> tuple[int, int]:
        """The network input ``(height, width)`` for an image of ``(height, width)``."""
        if not self.do_resize:
            return height, width
        scale_h = self.height / height
        scale_w = self.width / width
        if self.keep_aspect_ratio:
            if abs(1 - scale_w) < abs(1 - scale_h):
                scale_h = scale_w
            else:
                scale_w = scale_h
        m = self.ensure_multiple_of

        def constrain(value: float) -> int:
            x = round(value / m) * m
            if x < 0:
                x = math.ceil(value / m) * m
            return max(int(x), m)

        return constrain(scale_h * height), constrain(scale_w * width)

    def __call__(self, image: FloatImage) -> NDArray[np.float32]:
        """``(H, W, 3)`` RGB in [0, 1] -> ``(1, 3, h, w)`` float32 network input."""
        from PIL import Image

        data8 = to_uint8(image)
        h, w = self.output_shape(data8.shape[0], data8.shape[1])
        if (h, w) != data8.shape[:2]:
            pil = Image.fromarray(data8).resize((w, h), resample=Image.Resampling(self.resample))
            data8 = np.asarray(pil)
        arr = data8.astype(np.float32)
        if self.do_rescale:
            arr = (arr * np.float32(self.rescale_factor)).astype(np.float32)
        if self.do_normalize:
            arr = ((arr - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)).astype(
                np.float32
            )
        return np.ascontiguousarray(arr.transpose(2, 0, 1)[None], dtype=np.float32)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence ``transformers``' own progress bars and info/warning chatter while in the block.

    easel's library code never prints; every call into ``transformers`` that
    may (loading, saving, building a model) runs inside this. The previous
    verbosity and progress-bar setting are restored on exit.

    Example:
        >>> with quiet_transformers():  # doctest: +SKIP
        ...     model = transformers.AutoModelForDepthEstimation.from_pretrained(folder)
    """
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise MissingExtraError("depth", "transformers") from None
    return transformers


def model_spec(name: str) -> DepthModelSpec | None:
    """The built-in spec of ``name``, or ``None`` for other registry entries."""
    return MODELS.get(name)


def resolve_weights(model: str, weights: str | os.PathLike[str] | None) -> Path:
    """The local path of ``model``'s weights: ``weights`` when given, else the cache.

    Raises:
        WeightsError: missing files, with the offline instructions.
        InputError: an unknown model name.

    Example:
        >>> resolve_weights("depth-anything-v2-small", None)  # doctest: +SKIP
        PosixPath('/home/me/.cache/easel/weights/depth-anything-v2-small')
    """
    from easel import weights as registry

    if weights is not None:
        return registry.resolve(model, override=weights)
    spec = MODELS.get(model)
    try:
        registry.get_entry(model)
    except InputError:
        if spec is None:
            known = sorted(
                set(MODELS)
                | {e.name for e in registry.entries() if e.fmt in ("safetensors", "hf-transformers")}
            )
            raise InputError(f"unknown depth model {model!r}; known models: {', '.join(known)}") from None
        rev = f" (revision {spec.revision})" if spec.revision else ""
        raise WeightsError(
            f"weights for {model!r} ({spec.licence}) have no verified download in easel's registry; "
            f"download the Hugging Face folder {spec.repo}{rev} yourself and pass it with --weights PATH"
        ) from None
    return registry.resolve(model)


class DepthEstimator:
    """A loaded depth network, ready to predict.

    Use :meth:`load`; call :meth:`predict` for raw network output at the
    image's size.

    Attributes:
        name: the model name.
        output: ``"disparity"`` (relative, larger = nearer) or ``"depth"`` (metric).
        device: the torch device it runs on.
        autocast_dtype: the autocast dtype (``None`` for fp32).
        preprocess: the input preprocessing.

    Example:
        >>> est = DepthEstimator.load("depth-anything-v2-small", device="cpu")  # doctest: +SKIP
        >>> est.output, est.predict(photo).shape  # doctest: +SKIP
        ('disparity', (768, 1024))
    """

    def __init__(
        self,
        name: str,
        model: Any,
        preprocess: Preprocess,
        output: str,
        device: torch.device,
        autocast_dtype: torch.dtype | None,
    ) -> None:
        self.name = name
        self.model = model
        self.preprocess = preprocess
        self.output = output
        self.device = device
        self.autocast_dtype = autocast_dtype
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model: str = DEFAULT_MODEL,
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
        precision: str = "fp32",
    ) -> DepthEstimator:
        """Load ``model`` from local files only (never the network).

        Args:
            model: a name from :data:`~easel.depth.registry.MODELS` or another
                registered ``transformers`` depth entry.
            weights: a local Hugging Face folder (``config.json`` +
                ``model.safetensors`` [+ ``preprocessor_config.json``]) or a
                ``.safetensors`` file of a built-in model; ``None`` uses the cache.
            device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
            precision: ``fp32``; ``bf16``/``fp16`` run under autocast; ``auto``
                picks per device (see :func:`easel.devices.autocast_dtype`).

        Raises:
            WeightsError: missing, corrupt or mismatched weights.
            InputError: unknown model, device or precision.
            MissingExtraError: ``transformers`` is not installed.
        """
        from easel.devices import autocast_dtype, resolve_device

        if precision not in PRECISIONS:
            raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        dev = resolve_device(device)
        dtype = autocast_dtype(dev, precision)
        path = resolve_weights(model, weights)
        net, preprocess, output = _load_network(model, path)
        net = net.to(dev).eval()
        return cls(model, net, preprocess, output, dev, dtype)

    def predict(self, image: ArrayLike, progress: ProgressFn | None = None) -> NDArray[np.float32]:
        """Raw network output, upsampled (bilinear) to the image's size.

        Args:
            image: ``(H, W, 3)`` RGB in [0, 1] (or uint8).
            progress: optional callback (stage ``"depth network"``).

        Returns:
            ``(H, W)`` float32: relative disparity when :attr:`output` is
            ``"disparity"``, metric depth when ``"depth"``.
        """
        import torch
        import torch.nn.functional as F

        from easel.devices import autocast

        rgb = as_float_rgb(image)
        height, width = rgb.shape[:2]
        report(progress, "depth network", 0, 1)
        pixels = torch.from_numpy(self.preprocess(rgb)).to(self.device)
        with self._lock, torch.inference_mode(), autocast(self.device, self.autocast_dtype):
            pred = self.model(pixel_values=pixels).predicted_depth
        pred = pred.float()
        if pred.ndim == 3:
            pred = pred[:, None]
        up = F.interpolate(pred, size=(height, width), mode="bilinear", align_corners=False)
        report(progress, "depth network", 1, 1)
        return np.ascontiguousarray(up[0, 0].cpu().numpy(), dtype=np.float32)

    @property
    def precision(self) -> str:
        """The resolved precision: ``fp32``, ``bf16`` or ``fp16`` (never ``auto``)."""
        if self.autocast_dtype is None:
            return "fp32"
        return {"bfloat16": "bf16", "float16": "fp16"}.get(
            str(self.autocast_dtype).removeprefix("torch."), "fp32"
        )

    def to_depth(
        self,
        prediction: ArrayLike,
        image: ArrayLike,
        options: DepthOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> DepthMap:
        """Turn this network's raw :meth:`predict` output into depth, as ``options`` ask.

        Relative disparity is refined (unless ``options.refine`` is False) and
        mapped to ``options.depth_range`` (default ``(1, 10)``); metric depth is
        refined the same way and rescaled only when a range is given.

        Args:
            prediction: ``(H, W)`` float32 from :meth:`predict`.
            image: ``(H, W, 3)`` RGB in [0, 1] (or uint8), the image it was predicted from.
            options: :class:`~easel.depth.options.DepthOptions` (``refine``,
                ``refine_radius``, ``depth_range``); defaults when ``None``.
            progress: optional callback (stage ``"depth refine"``).

        Returns:
            ``(H, W)`` float32 depth, > 0, larger = farther.

        Example:
            >>> depth = estimator.to_depth(estimator.predict(image), image)  # doctest: +SKIP
        """
        from easel.depth.refine import refine_depth, refine_disparity

        opts = (options or DepthOptions()).validate()
        rgb = as_float_rgb(image)
        opts = opts.for_image(rgb.shape[:2])
        refine = opts.refine is not False
        name = f"the depth predicted by {self.name}"
        report(progress, "depth refine", 0, 1)
        if self.output == "disparity":
            raw = np.asarray(prediction, dtype=np.float32)
            if refine:
                raw = refine_disparity(raw, rgb, radius=opts.refine_radius)
            depth = disparity_to_depth(raw, opts.depth_range or DEFAULT_DEPTH_RANGE, name=name)
        else:
            depth = validate_depth(prediction, name=name)
            if refine:
                depth = refine_depth(depth, rgb, radius=opts.refine_radius)
            if opts.depth_range is not None:
                depth = rescale_depth(depth, opts.depth_range)
        report(progress, "depth refine", 1, 1)
        return depth


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a JSON object")
    return data


def _output_kind(config: Any, spec: DepthModelSpec | None) -> str:
    if (
        getattr(config, "depth_estimation_type", None) == "metric"
        or getattr(config, "model_type", "") == "zoedepth"
    ):
        return "depth"
    return spec.output if spec is not None else "disparity"


def _load_network(model: str, path: Path) -> tuple[Any, Preprocess, str]:
    from easel import weights as registry

    transformers = _import_transformers()
    spec = MODELS.get(model)
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise WeightsError(f"{path}: not a Hugging Face model folder (no config.json)")
        if not any((path / f).is_file() for f in ("model.safetensors", "model.safetensors.index.json")):
            raise WeightsError(
                f"{path}: no model.safetensors in the folder (only safetensors weights are loaded)"
            )
        if "model_type" not in _read_json(config_file):
            raise WeightsError(
                f"{config_file}: not a transformers model configuration (it has no model_type)"
            )
        if (path / "model.safetensors").is_file():
            registry.check_weights_file(path / "model.safetensors", "safetensors")
        pre_file = path / "preprocessor_config.json"
        if pre_file.is_file():
            preprocess = Preprocess.from_dict(_read_json(pre_file))
        else:
            preprocess = Preprocess.from_dict(spec.preprocess if spec else DA_V2_PREPROCESS)
        net = _from_pretrained(transformers, path)
        return net.float(), preprocess, _output_kind(net.config, spec)
    if path.suffix.lower() != ".safetensors":
        raise WeightsError(
            f"{path}: expected a Hugging Face folder or a .safetensors file "
            f"(it is {registry.describe_file_kind(path)})"
        )
    registry.check_weights_file(path, "safetensors")
    if spec is None or spec.config is None:
        raise WeightsError(
            f"{path}: a bare .safetensors file needs a built-in architecture, which {model!r} lacks; "
            "pass the Hugging Face folder (config.json + model.safetensors) instead"
        )
    return _load_safetensors(transformers, spec, path)


def _from_pretrained(transformers: Any, folder: Path, label: Path | None = None) -> Any:
    """``AutoModelForDepthEstimation.from_pretrained`` on a local folder, errors as :class:`WeightsError`."""
    from safetensors import SafetensorError

    try:
        with quiet_transformers():
            net, info = transformers.AutoModelForDepthEstimation.from_pretrained(
                folder, local_files_only=True, use_safetensors=True, output_loading_info=True
            )
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, SafetensorError) as exc:
        text = describe(exc)
        if "mismatched_sizes" in text or "size mismatch" in text:
            raise WeightsError(
                f"{label or folder}: weights do not fit the model's architecture (tensor shapes differ); "
                "is it another model's checkpoint?"
            ) from None
        raise WeightsError(f"{label or folder}: cannot load the depth model ({text})") from None
    # transformers only logs tensors it could not place and initializes them randomly: refuse instead.
    missing = sorted(info.get("missing_keys") or ())
    mismatched = list(info.get("mismatched_keys") or ())
    if missing or mismatched:
        names = ", ".join(str(k) for k in (missing + mismatched)[:3])
        raise WeightsError(
            f"{label or folder}: weights do not fit the model's architecture "
            f"({len(missing)} missing and {len(mismatched)} mismatched tensors: {names}); "
            "is it another model's checkpoint?"
        )
    return net


def _load_safetensors(transformers: Any, spec: DepthModelSpec, path: Path) -> tuple[Any, Preprocess, str]:
    """Load a bare ``model.safetensors`` with the built-in configuration of ``spec``.

    The file is placed (linked) beside the configuration in a temporary folder
    and loaded by ``from_pretrained``, so the checkpoint's key names go through
    the same conversions as a downloaded Hugging Face snapshot.
    """
    import tempfile

    cfg = dict(spec.config or {})
    model_type = cfg.pop("model_type")
    with tempfile.TemporaryDirectory(prefix="easel-depth-") as tmp:
        folder = Path(tmp)
        with quiet_transformers():
            transformers.AutoConfig.for_model(model_type, **cfg).save_pretrained(folder)
        link = folder / "model.safetensors"
        try:
            link.symlink_to(path.resolve())
        except OSError:  # no symlinks (Windows without privileges): copy instead
            import shutil

            shutil.copyfile(path, link)
        net = _from_pretrained(transformers, folder, label=path)
    return net.float(), Preprocess.from_dict(spec.preprocess), _output_kind(net.config, spec)


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


_CACHE: dict[tuple[str, str, float, str, str], DepthEstimator] = {}
_CACHE_LOCK = threading.Lock()


def get_estimator(
    model: str = DEFAULT_MODEL,
    weights: str | os.PathLike[str] | None = None,
    device: str = "auto",
    precision: str = "fp32",
) -> DepthEstimator:
    """:meth:`DepthEstimator.load`, remembering the last model loaded (a second call is free).

    Example:
        >>> est = get_estimator("depth-anything-v2-small", device="cpu")  # doctest: +SKIP
        >>> get_estimator("depth-anything-v2-small", device="cpu") is est  # doctest: +SKIP
        True
    """
    path = resolve_weights(model, weights)
    key = (model, str(path.resolve()), path.stat().st_mtime, str(device), precision)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
    estimator = DepthEstimator.load(model, weights=weights, device=device, precision=precision)
    with _CACHE_LOCK:
        _CACHE.clear()
        _CACHE[key] = estimator
    return estimator


def clear_cache() -> None:
    """Forget the cached model (frees its memory).

    Example:
        >>> clear_cache()
    """
    with _CACHE_LOCK:
        _CACHE.clear()


def estimate_depth(
    image: FloatImage,
    options: DepthOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> DepthMap:
    """Estimate depth from one RGB image.

    The network predicts relative disparity; it is refined so its edges
    follow the image's colour edges (``refine``), then converted to depth
    spanning ``depth_range`` (see :mod:`easel.depth.convert`).

    Args:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] (uint8 accepted).
        options: :class:`~easel.depth.options.DepthOptions` (defaults when ``None``):
            ``model`` (default ``depth-anything-v2-small``, Apache-2.0), ``weights``
            (a local Hugging Face folder or ``.safetensors`` file instead of the
            cached download), ``device`` (``auto``: cuda, then mps, then cpu),
            ``precision`` (``fp32``, ``bf16``/``fp16`` autocast, or ``auto``),
            ``depth_range`` (``(near, far)`` in scene units for relative models,
            default ``(1, 10)``; metric depth is kept unless a range is given),
            ``refine`` (align depth edges with colour edges; on unless False) and
            ``refine_radius``.
        progress: optional progress callback.
        **overrides: fields of :class:`~easel.depth.options.DepthOptions` to change
            (``model="dpt-large", device="cpu"``).

    Returns:
        ``(H, W)`` float32 depth, same height and width as ``image``, > 0,
        larger = farther.

    Raises:
        WeightsError: weights are not cached (the message names
            ``easel weights download NAME`` and ``--weights PATH``) or are corrupt.
        OptionError: a bad option (naming the field). InputError: a bad image
            or model name, an unavailable device; a featureless image whose
            predicted disparity is constant.

    Example:
        >>> depth = estimate_depth(image, depth_range=(2.0, 50.0))  # doctest: +SKIP
        >>> depth.shape == image.shape[:2], float(depth.min()) >= 2.0  # doctest: +SKIP
        (True, True)
    """
    opts = resolve_options(options, overrides)
    rgb = as_float_rgb(image)
    estimator = get_estimator(opts.model, weights=opts.weights, device=opts.device, precision=opts.precision)
    raw = estimator.predict(rgb, progress=progress)
    return estimator.to_depth(raw, rgb, opts, progress=progress)


def resolve_options(options: DepthOptions | None, overrides: dict[str, Any]) -> DepthOptions:
    """``options`` (or the defaults) with ``overrides`` applied, validated.

    Example:
        >>> resolve_options(None, {"device": "cpu"}).device
        'cpu'
    """
    if options is not None and not isinstance(options, DepthOptions):
        raise TypeError(
            f"options must be a DepthOptions, got {type(options).__name__} (pass model=... by name)"
        )
    return replace(options or DepthOptions(), **overrides).validate()
