"""The VGG-19 encoder: its preprocessing, its convolutional layers, and weight loading.

Shared by every capability that needs perceptual features (style transfer,
DeepDream, perceptual losses); :func:`load_encoder` resolves a registry name
or a local file (``--weights``) and the matching preprocessing.

The encoder is plain ``torch.nn`` (no torchvision). Its first layer is the
preprocessing its weights were trained with, so callers always pass RGB in
[0, 1]:

* ``"caffe"`` -- the Caffe-converted VGG-19 (``vgg19-d01eb7cb.pth``): RGB is
  flipped to BGR, scaled to 0-255 and the ImageNet BGR mean is subtracted;
* ``"torchvision"`` -- torchvision's ``vgg19-dcbb9e9d.pth``: ImageNet mean/std
  normalization of RGB.

Only the convolutional part is built, and only up to the deepest layer a loss
needs. Both file formats store the convolutions as ``features.N.weight`` /
``features.N.bias``; ``classifier.*`` keys are ignored. Channel widths are read
from the file (and checked for consistency), so tests can use narrow random
VGG-19s saved in the same format.
"""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn

from easel.errors import InputError, WeightsError
from easel.nets.vgg_layers import (
    CONV_INDICES,
    DEFAULT_WIDTHS,
    LAYER_TABLE,
    LAYERS,
    POOLINGS,
    PREPROCESSINGS,
    VGGLayer,
)

log = logging.getLogger(__name__)

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGPreprocess(nn.Module):
    """RGB in [0, 1] -> the input VGG-19 weights expect, as an affine per-channel map.

    Args:
        kind: ``"caffe"`` (BGR, 0-255, mean subtracted) or ``"torchvision"``
            (ImageNet mean/std).

    Example:
        >>> VGGPreprocess("caffe")(torch.zeros(1, 3, 2, 2))[0, :, 0, 0].tolist()  # doctest: +ELLIPSIS
        [-103.9..., -116.7..., -123.6...]
    """

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, kind: str = "caffe") -> None:
        super().__init__()
        if kind not in PREPROCESSINGS:
            raise InputError(f"unknown preprocessing {kind!r}; choose one of {', '.join(PREPROCESSINGS)}")
        self.kind = kind
        if kind == "caffe":
            scale = torch.full((3,), 255.0)
            shift = -torch.tensor(_CAFFE_MEAN_BGR)
            self.flip = True
        else:
            scale = 1.0 / torch.tensor(_IMAGENET_STD)
            shift = -torch.tensor(_IMAGENET_MEAN) / torch.tensor(_IMAGENET_STD)
            self.flip = False
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.flip:
            image = image.flip(1)
        return image * self.scale + self.shift


class VGGEncoder(nn.Module):
    """VGG-19's convolutional layers, truncated after the deepest requested layer.

    Calling the encoder on ``(N, 3, H, W)`` RGB in [0, 1] returns a dict of the
    requested activations (``{"relu4_2": tensor, ...}``).

    Args:
        widths: output channels of the 16 convolutions (VGG-19's by default).
        preprocessing: ``"caffe"`` or ``"torchvision"`` (see :class:`VGGPreprocess`).
        pooling: ``"max"`` or ``"avg"``; Gatys et al. prefer average pooling.
        layers: the activations to return; the network stops at the deepest.

    Example:
        >>> enc = VGGEncoder(widths=(4,) * 16, layers=["relu1_1", "relu2_1"])
        >>> {k: tuple(v.shape) for k, v in enc(torch.rand(1, 3, 8, 8)).items()}
        {'relu1_1': (1, 4, 8, 8), 'relu2_1': (1, 4, 4, 4)}
    """

    def __init__(
        self,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        preprocessing: str = "caffe",
        pooling: str = "max",
        layers: Iterable[str] = ("relu4_2",),
    ) -> None:
        super().__init__()
        if len(widths) != 16:
            raise ValueError(f"VGG-19 has 16 convolutions, got {len(widths)} widths")
        if pooling not in POOLINGS:
            raise InputError(f"unknown pooling {pooling!r}; choose max or avg")
        wanted = list(dict.fromkeys(layers))
        for name in wanted:
            if name not in LAYERS:
                raise InputError(f"unknown VGG-19 layer {name!r}; layers are named like relu4_2 or conv1_1")
        if not wanted:
            raise InputError("the encoder needs at least one layer")
        self.layers = tuple(wanted)
        self.pooling = pooling
        self.preprocess = VGGPreprocess(preprocessing)
        deepest = max(LAYERS.index(name) for name in wanted)
        self.names: list[str] = []
        modules: list[nn.Module] = []
        in_ch, conv_i = 3, 0
        for layer in LAYER_TABLE[: deepest + 1]:
            name, kind = layer.name, layer.kind
            if kind == "conv":
                modules.append(nn.Conv2d(in_ch, widths[conv_i], 3, padding=1))
                in_ch = widths[conv_i]
                conv_i += 1
            elif kind == "relu":
                # In place is safe: a convolution's backward needs its input, not its output.
                modules.append(nn.ReLU(inplace=True))
            elif pooling == "max":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules.append(nn.AvgPool2d(2, 2))
            self.names.append(name)
        self.body = nn.ModuleList(modules)
        self.num_convs = conv_i
        self.channels_last = False
        self.requires_grad_(False)
        self.eval()

    @property
    def preprocessing(self) -> str:
        return self.preprocess.kind

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.preprocess(image)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        wanted = set(self.layers)
        for name, module in zip(self.names, self.body, strict=True):
            x = module(x)
            if name in wanted:
                out[name] = x
        return out

    def use_channels_last(self, enabled: bool = True) -> VGGEncoder:
        """Run the convolutions in channels-last memory format (often faster on CPU)."""
        self.channels_last = enabled
        fmt = torch.channels_last if enabled else torch.contiguous_format
        for module in self.body:
            if isinstance(module, nn.Conv2d):
                module.weight.data = module.weight.data.contiguous(memory_format=fmt)
        return self

    def load_convs(self, convs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Copy ``(weight, bias)`` pairs into the convolutions this encoder keeps."""
        convs_here = [m for m in self.body if isinstance(m, nn.Conv2d)]
        with torch.no_grad():
            for module, (weight, bias) in zip(convs_here, convs, strict=False):
                module.weight.copy_(weight)
                assert module.bias is not None
                module.bias.copy_(bias)


# ---------------------------------------------------------------- files


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    from easel.weights import check_weights_file

    check_weights_file(path, "torch-state-dict")  # names what the file is instead of torch's errors
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError, ValueError):
        raise WeightsError(
            f"{path}: cannot read the weights file; it may be truncated or not a PyTorch state dict "
            "-- download it again"
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: not a VGG-19 state dict (expected a mapping of tensors)")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def read_vgg19_convs(
    path: str | os.PathLike[str], count: int = 16
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Read and check the first ``count`` convolutions of a VGG-19 state dict file.

    Accepts torchvision's and the Caffe-converted files (``features.N.weight``
    keys; ``classifier.*`` is ignored).

    Raises:
        WeightsError: unreadable/truncated file, missing keys, wrong shapes.

    Example:
        >>> convs = read_vgg19_convs("vgg19-d01eb7cb.pth", count=2)  # doctest: +SKIP
        >>> tuple(convs[0][0].shape)  # doctest: +SKIP
        (64, 3, 3, 3)
    """
    p = Path(path)
    state = _read_state_dict(p)
    convs: list[tuple[torch.Tensor, torch.Tensor]] = []
    in_ch = 3
    for conv_i, index in enumerate(CONV_INDICES[:count]):
        wkey, bkey = f"features.{index}.weight", f"features.{index}.bias"
        if wkey not in state or bkey not in state:
            found = sorted(k for k in state if k.startswith("features."))[:4]
            raise WeightsError(
                f"{p}: missing {wkey!r}: not a VGG-19 file (found keys like {found or list(state)[:4]})"
            )
        weight, bias = state[wkey], state[bkey]
        if weight.ndim != 4 or weight.shape[1:] != (in_ch, 3, 3):
            raise WeightsError(
                f"{p}: {wkey} has shape {tuple(weight.shape)}, expected (C, {in_ch}, 3, 3): "
                "not a VGG-19 file (wrong shape)"
            )
        if bias.shape != (weight.shape[0],):
            raise WeightsError(f"{p}: {bkey} has shape {tuple(bias.shape)}, expected ({weight.shape[0]},)")
        if not torch.isfinite(weight).all() or not torch.isfinite(bias).all():
            raise WeightsError(f"{p}: {wkey} contains NaN or infinite values; the file is corrupt")
        convs.append((weight.float(), bias.float()))
        in_ch = weight.shape[0]
        del conv_i
    return convs


def guess_preprocessing(path: str | os.PathLike[str], default: str = "caffe") -> str:
    """The preprocessing of a weights file, from the registry names in its file name.

    Example:
        >>> guess_preprocessing("models/vgg19-dcbb9e9d.pth")
        'torchvision'
    """
    name = Path(path).name.lower()
    if "dcbb9e9d" in name or "torchvision" in name:
        return "torchvision"
    if "d01eb7cb" in name or "caffe" in name:
        return "caffe"
    return default


def load_vgg19(
    path: str | os.PathLike[str],
    layers: Iterable[str],
    preprocessing: str = "caffe",
    pooling: str = "max",
    device: torch.device | str = "cpu",
) -> VGGEncoder:
    """Build a :class:`VGGEncoder` from a weights file, truncated after the deepest layer.

    Args:
        path: a VGG-19 state dict (torchvision's or the Caffe-converted one).
        layers: activations the encoder returns (``relu1_1`` ... ``relu5_4``).
        preprocessing: ``"caffe"`` or ``"torchvision"``: must match the file.
        pooling: ``"max"`` or ``"avg"``.
        device: where the encoder lives.

    Raises:
        WeightsError: the file is unreadable, truncated or of the wrong shape.

    Example:
        >>> enc = load_vgg19("vgg19-d01eb7cb.pth", ["relu4_2"])  # doctest: +SKIP
    """
    layer_list = list(layers)
    for name in layer_list:
        if name not in LAYERS:
            raise InputError(f"unknown VGG-19 layer {name!r}; layers are named like relu4_2 or conv1_1")
    deepest = max(LAYERS.index(name) for name in layer_list)
    needed = sum(1 for name in LAYERS[: deepest + 1] if name.startswith("conv"))
    convs = read_vgg19_convs(path, count=needed)
    widths = [w.shape[0] for w, _ in convs] + list(DEFAULT_WIDTHS[len(convs) :])
    encoder = VGGEncoder(widths=widths, preprocessing=preprocessing, pooling=pooling, layers=layer_list)
    encoder.load_convs(convs)
    log.debug("loaded %d VGG-19 convolutions from %s", len(convs), path)
    return encoder.to(device)


def random_vgg19_state_dict(
    widths: Sequence[int] = DEFAULT_WIDTHS,
    seed: int = 0,
    classifier: bool = False,
    fan: str = "out",
) -> dict[str, torch.Tensor]:
    """A random-initialized VGG-19 state dict in the real file format.

    Convolutions use He initialization with zero biases: ``fan="out"`` as
    torchvision does, or ``fan="in"``, which keeps the activations at the input's
    scale through the network as a trained VGG-19 roughly does (with Caffe-scaled
    pixels its losses are then of the real network's order, about 1000x the
    fan-out ones at the style layers). With ``classifier`` a small dummy
    ``classifier.0`` is added, like the Caffe-converted files carry (the loader
    must ignore it).

    Example:
        >>> tuple(random_vgg19_state_dict((4,) * 16)["features.0.weight"].shape)
        (4, 3, 3, 3)
    """
    if fan not in ("in", "out"):
        raise ValueError(f"fan must be 'in' or 'out', not {fan!r}")
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    in_ch = 3
    for index, width in zip(CONV_INDICES, widths, strict=True):
        std = (2.0 / ((in_ch if fan == "in" else width) * 9)) ** 0.5
        state[f"features.{index}.weight"] = torch.randn(width, in_ch, 3, 3, generator=gen) * std
        state[f"features.{index}.bias"] = torch.zeros(width)
        in_ch = width
    if classifier:
        state["classifier.0.weight"] = torch.randn(8, in_ch * 7 * 7 // 64 or 1, generator=gen)
        state["classifier.0.bias"] = torch.zeros(8)
    return state


def save_random_vgg19(
    path: str | os.PathLike[str],
    widths: Sequence[int] = DEFAULT_WIDTHS,
    seed: int = 0,
    classifier: bool = False,
    fan: str = "out",
) -> Path:
    """Write :func:`random_vgg19_state_dict` to ``path`` atomically (for tests, demos, benchmarks).

    Example:
        >>> save_random_vgg19(tmp / "vgg19-tiny.pth", widths=(4,) * 16)  # doctest: +SKIP
    """
    from easel.io.atomic import atomic_path

    out = Path(path)
    with atomic_path(out) as tmp:
        torch.save(random_vgg19_state_dict(widths, seed=seed, classifier=classifier, fan=fan), tmp)
    return out


def load_encoder(
    model: str = "vgg19-caffe",
    weights: str | os.PathLike[str] | None = None,
    layers: Iterable[str] = ("relu4_2",),
    pooling: str = "max",
    preprocessing: str = "auto",
    device: torch.device | str = "cpu",
) -> VGGEncoder:
    """Load a VGG-19 encoder by registry name, or from a local weights file.

    Nothing is downloaded: the registry's cached copy is used (see
    :func:`easel.weights.resolve`), or ``weights`` when given.

    Args:
        model: registry name, ``"vgg19-caffe"`` or ``"vgg19-torchvision"``; it also
            picks the preprocessing when ``preprocessing`` is ``"auto"``.
        weights: a local VGG-19 state dict overriding the cached copy (``--weights``).
        layers: activations the encoder returns; it stops after the deepest.
        pooling: ``"max"`` or ``"avg"``.
        preprocessing: ``"auto"`` (from ``model``, or from the name of the
            ``weights`` file), ``"caffe"`` or ``"torchvision"``.
        device: where the encoder lives.

    Returns:
        A :class:`VGGEncoder` in eval mode without gradients for its weights. The
        weights are read once per process: a second call with the same file (same
        path, size and modification time) and settings returns the same encoder
        (the last four used are kept), so a batch worker loads them once for many jobs.

    Raises:
        InputError: unknown model, layer, pooling or preprocessing.
        WeightsError: the weights are not cached, or the file is not a VGG-19.

    Example:
        >>> enc = load_encoder("vgg19-caffe", layers=["relu1_1", "relu4_2"])  # doctest: +SKIP
        >>> sorted(enc(torch.rand(1, 3, 64, 64)))  # doctest: +SKIP
        ['relu1_1', 'relu4_2']
    """
    from easel.nets.registry import PREPROCESSING
    from easel.weights import resolve

    if model not in PREPROCESSING:
        raise InputError(f"unknown encoder {model!r}; choose one of {', '.join(PREPROCESSING)}")
    if preprocessing not in ("auto", *PREPROCESSINGS):
        raise InputError(f"unknown preprocessing {preprocessing!r}; choose auto, {', '.join(PREPROCESSINGS)}")
    path = resolve(model, override=weights)
    if preprocessing == "auto":
        default = PREPROCESSING[model]
        preprocessing = guess_preprocessing(path, default=default) if weights is not None else default
    # one load per process for the same file and settings: a batch worker runs many jobs
    # (a rewritten file has another size or mtime, so it is read again)
    layer_list = list(layers)
    try:
        stat = Path(path).stat()
    except OSError:  # the loader names the problem
        return load_vgg19(path, layer_list, preprocessing=preprocessing, pooling=pooling, device=device)
    key = (
        model,
        str(Path(path).resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        tuple(layer_list),
        pooling,
        preprocessing,
        str(torch.device(device)),
        torch.get_default_dtype(),
    )
    encoder = _ENCODERS.pop(key, None)
    if encoder is None:
        encoder = load_vgg19(path, layer_list, preprocessing=preprocessing, pooling=pooling, device=device)
    while len(_ENCODERS) >= _MAX_ENCODERS:  # least recently used first
        _ENCODERS.pop(next(iter(_ENCODERS)))
    _ENCODERS[key] = encoder
    return encoder.use_channels_last(False)  # as loaded: a caller may have switched the shared one


_ENCODERS: dict[tuple[object, ...], VGGEncoder] = {}
"""Encoders loaded in this process, most recently used last (see :func:`load_encoder`)."""
_MAX_ENCODERS = 4


__all__ = [
    "CONV_INDICES",
    "DEFAULT_WIDTHS",
    "LAYERS",
    "LAYER_TABLE",
    "POOLINGS",
    "PREPROCESSINGS",
    "VGGEncoder",
    "VGGLayer",
    "VGGPreprocess",
    "guess_preprocessing",
    "load_encoder",
    "load_vgg19",
    "random_vgg19_state_dict",
    "read_vgg19_convs",
    "save_random_vgg19",
]
