"""Device and precision selection for torch code (cpu, cuda, mps)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from easel.errors import InputError

if TYPE_CHECKING:
    import torch

DeviceName = Literal["auto", "cpu", "cuda", "mps"]
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


def device_option(group: str | None = None) -> Any:
    """The ``device`` field of an options dataclass, declared once for every capability.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Opts:
        ...     device: str = device_option()
        >>> Opts().device
        'auto'
    """
    from easel.options import option

    return option(
        "auto",
        help="where models run: auto picks cuda, then mps, then cpu",
        choices=DEVICE_CHOICES,
        group=group,
    )


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"``/``"cpu"``/``"cuda"``/``"cuda:1"``/``"mps"`` into a usable device.

    ``"auto"`` (and ``None``) prefer CUDA, then MPS, then CPU.

    Raises:
        InputError: an unknown name, or a device that is not available.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    import torch

    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = (device or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available (use --device auto or cpu)")
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise InputError("--device mps: Apple MPS is not available (use --device auto or cpu)")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise InputError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or ``None`` for plain fp32.

    ``"auto"`` here is a guess by device type, without measuring: bf16 on CPU
    and on CUDA devices that support it, fp16 on MPS; ``"fp32"`` disables
    autocast. bf16 is not faster on every CPU, so code that can afford a
    sub-second measurement (style transfer) resolves ``"auto"`` with
    :func:`easel.nets.precision.resolve_precision` instead.

    Raises:
        InputError: a precision other than ``auto``, ``fp32``, ``bf16``, ``fp16``.

    Example:
        >>> import torch
        >>> autocast_dtype(torch.device("cpu")), autocast_dtype(torch.device("cpu"), "fp32")
        (torch.bfloat16, None)
    """
    import torch

    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if precision != "auto":
        raise InputError(f"unknown precision {precision!r}; choose auto, fp32, bf16 or fp16")
    if device.type == "cpu":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return None


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` on ``device`` with ``dtype``; a no-op when ``dtype`` is ``None``.

    Example:
        >>> import torch
        >>> a = torch.ones(2, 2)
        >>> with autocast(torch.device("cpu"), torch.bfloat16):
        ...     (a @ a).dtype
        torch.bfloat16
    """
    import torch

    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def describe_devices() -> dict[str, str]:
    """A short description of the available torch devices (for ``easel info``).

    Example:
        >>> describe_devices()["auto"]  # doctest: +SKIP
        'cpu'
    """
    import torch

    info = {"torch": torch.__version__, "cpu_threads": str(torch.get_num_threads())}
    info["cuda"] = (
        ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        if torch.cuda.is_available()
        else "not available"
    )
    info["mps"] = "available" if _mps_available() else "not available"
    info["auto"] = str(resolve_device("auto"))
    return info
