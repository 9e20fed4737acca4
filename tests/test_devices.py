"""Device and precision selection."""

from __future__ import annotations

import pytest
import torch

from easel.devices import autocast, autocast_dtype, describe_devices, resolve_device
from easel.errors import InputError


def test_auto_and_cpu_resolve() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    auto = resolve_device("auto")
    if expected:
        assert auto.type == expected
    assert auto.type in ("cpu", "cuda", "mps")


def test_unavailable_device_is_an_input_error() -> None:
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("tpu")


def test_autocast_dtype_choices() -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "auto") == torch.bfloat16
    assert autocast_dtype(cpu, "fp32") is None
    with pytest.raises(InputError):
        autocast_dtype(cpu, "fp8")


def test_autocast_runs_matmul_in_bf16_on_cpu() -> None:
    a = torch.randn(8, 8)
    with autocast(torch.device("cpu"), torch.bfloat16):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), None):
        assert (a @ a).dtype == torch.float32


def test_describe_devices_has_auto() -> None:
    info = describe_devices()
    assert info["auto"] in ("cpu", "cuda", "mps")
