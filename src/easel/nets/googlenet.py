"""GoogLeNet / Inception-v1 (the network of the original DeepDream) in torchvision's weight format.

Plain ``torch.nn`` (no torchvision), with the module names of torchvision's
``torchvision/models/googlenet.py`` (pytorch/vision, read at commit
``0413037ab4328016a046123834001341eb3cb715``) so that its state dict keys are
exactly those of ``googlenet-1378be20.pth``: ``conv1.conv.weight``,
``conv1.bn.{weight,bias,running_mean,running_var,num_batches_tracked}``, ...,
``inception3a.branch1.conv.weight``, ``inception3a.branch2.0.conv.weight``,
``inception3a.branch4.1.conv.weight`` (``branch4.0`` is a max pool), ...,
``aux1.conv.conv.weight``, ``aux1.fc1.weight``, ``aux2.fc2.bias``,
``fc.weight``. Every convolution has no bias and is followed by a batch norm
(``eps=0.001``) and a ReLU; the "5x5" branch uses 3x3 kernels, as torchvision's
weights do (pytorch/vision#906). The pretrained file was ported from
TensorFlow: torchvision runs it with ``transform_input=True``, i.e. on RGB
mapped from [0, 1] to [-1, 1], which :class:`GoogLeNetEncoder` does first.

:class:`GoogLeNet` is the whole network (to write and check files in the
real format); :class:`GoogLeNetEncoder` keeps the blocks up to the deepest
requested layer and returns their activations by name (:data:`LAYERS`).

Example:
    >>> enc = GoogLeNetEncoder(layers=["inception3b"])
    >>> tuple(enc(torch.rand(1, 3, 64, 64))["inception3b"].shape)
    (1, 480, 8, 8)
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from easel.errors import InputError, WeightsError

__all__ = [
    "INCEPTIONS",
    "LAYERS",
    "GoogLeNet",
    "GoogLeNetEncoder",
    "load_googlenet",
    "save_random_googlenet",
]

INCEPTIONS: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}
"""Inception block -> (in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection) channels."""

LAYERS: tuple[str, ...] = (
    "conv1",
    "maxpool1",
    "conv2",
    "conv3",
    "maxpool2",
    "inception3a",
    "inception3b",
    "maxpool3",
    "inception4a",
    "inception4b",
    "inception4c",
    "inception4d",
    "inception4e",
    "maxpool4",
    "inception5a",
    "inception5b",
)
"""The activations an encoder can return, in network order (torchvision's module names)."""


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU: torchvision's ``BasicConv2d``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0
    ):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: torchvision's ``Inception``."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3r, 1), BasicConv2d(c3r, c3, 3, padding=1))
        # 3x3, not 5x5: the kernels torchvision's weights have (pytorch/vision#906)
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5r, 1), BasicConv2d(c5r, c5, 3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), BasicConv2d(cin, pool, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """The auxiliary classifier (only present so that whole files load and save in the real format)."""

    def __init__(self, in_channels: int, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)


def _block(name: str) -> nn.Module:
    if name in INCEPTIONS:
        return Inception(*INCEPTIONS[name])
    return {
        "conv1": lambda: BasicConv2d(3, 64, 7, stride=2, padding=3),
        "maxpool1": lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True),
        "conv2": lambda: BasicConv2d(64, 64, 1),
        "conv3": lambda: BasicConv2d(64, 192, 3, padding=1),
        "maxpool2": lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True),
        "maxpool3": lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True),
        "maxpool4": lambda: nn.MaxPool2d(2, stride=2, ceil_mode=True),
    }[name]()


class GoogLeNet(nn.Module):
    """The whole network with torchvision's module names (its ``state_dict`` has the file's keys).

    Example:
        >>> keys = list(GoogLeNet().state_dict())
        >>> keys[:2], keys[-1], len(keys)
        (['conv1.conv.weight', 'conv1.bn.weight'], 'fc.bias', 364)
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        for name in LAYERS:
            setattr(self, name, _block(name))
        self.aux1 = InceptionAux(512, num_classes)
        self.aux2 = InceptionAux(528, num_classes)
        self.fc = nn.Linear(1024, num_classes)


class GoogLeNetEncoder(nn.Module):
    """GoogLeNet's blocks up to the deepest requested layer; returns the requested activations.

    Calling the encoder on ``(N, 3, H, W)`` RGB in [0, 1] returns a dict
    ``{"inception4c": tensor, ...}``; any size works (pooling rounds up).

    Args:
        layers: names from :data:`LAYERS`.

    Raises:
        InputError: an unknown layer name.

    Example:
        >>> enc = GoogLeNetEncoder(layers=["conv1", "inception3a"])
        >>> {k: tuple(v.shape) for k, v in enc(torch.rand(1, 3, 32, 32)).items()}
        {'conv1': (1, 64, 16, 16), 'inception3a': (1, 256, 4, 4)}
    """

    def __init__(self, layers: Iterable[str] = ("inception4c",)) -> None:
        super().__init__()
        wanted = list(dict.fromkeys(layers))
        unknown = [name for name in wanted if name not in LAYERS]
        if unknown or not wanted:
            raise InputError(
                f"unknown GoogLeNet layer {unknown[0] if unknown else ''!r}; layers: {', '.join(LAYERS)}"
            )
        self.layers = wanted
        self.names = list(LAYERS[: max(LAYERS.index(name) for name in wanted) + 1])
        for name in self.names:
            setattr(self, name, _block(name))
        self.channels_last = False
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = image * 2.0 - 1.0  # torchvision's transform_input: the TensorFlow port's [-1, 1] input
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        for name in self.names:
            x = getattr(self, name)(x)
            if name in self.layers:
                out[name] = x
        return out

    def use_channels_last(self, enabled: bool = True) -> GoogLeNetEncoder:
        """Run the convolutions in channels-last memory format (often faster on CPU).

        Example:
            >>> GoogLeNetEncoder(layers=["conv1"]).use_channels_last().channels_last
            True
        """
        self.channels_last = enabled
        fmt = torch.channels_last if enabled else torch.contiguous_format
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.data = module.weight.data.contiguous(memory_format=fmt)
        return self


def _read(path: Path) -> dict[str, torch.Tensor]:
    from easel.weights import check_weights_file

    check_weights_file(path, "torch-state-dict")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError, ValueError):
        raise WeightsError(
            f"{path}: cannot read the weights file; it may be truncated or not a PyTorch state dict "
            "-- download it again"
        ) from None
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: not a GoogLeNet state dict (expected a mapping of tensors)")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}


def load_googlenet(
    path: str | os.PathLike[str],
    layers: Iterable[str] = ("inception4c",),
    device: torch.device | str = "cpu",
) -> GoogLeNetEncoder:
    """A :class:`GoogLeNetEncoder` with the weights of a torchvision-format file (``googlenet-1378be20.pth``).

    Only the blocks up to the deepest layer are kept; the file must have each
    of their keys with the same shape (the auxiliary classifiers and ``fc`` are ignored).

    Raises:
        InputError: an unknown layer.
        WeightsError: unreadable file, or not a GoogLeNet (a key missing, a shape differing).

    Example:
        >>> enc = load_googlenet("googlenet-1378be20.pth", layers=["inception4c"])  # doctest: +SKIP
    """
    encoder = GoogLeNetEncoder(layers)
    path = Path(path)
    state = _read(path)
    wanted = encoder.state_dict()
    for key, tensor in wanted.items():
        if key.endswith("num_batches_tracked"):  # a training counter, absent from older files
            continue
        if key not in state:
            raise WeightsError(f"{path}: not a torchvision GoogLeNet state dict (no {key!r})")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsError(
                f"{path}: not a torchvision GoogLeNet state dict ({key} has shape "
                f"{tuple(state[key].shape)}, expected {tuple(tensor.shape)})"
            )
    encoder.load_state_dict({key: state[key] for key in wanted if key in state}, strict=False)
    return encoder.to(device)


def save_random_googlenet(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write a random-initialized whole GoogLeNet in torchvision's file format (for tests and benchmarks).

    Example:
        >>> save_random_googlenet(tmp / "googlenet-random.pth")  # doctest: +SKIP
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        net = GoogLeNet()
        for module in net.modules():  # batch norms with non-trivial statistics, so loading them is checked
            if isinstance(module, nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    path = Path(path)
    torch.save(net.state_dict(), path)
    return path
