"""``--device auto``: CUDA, then MPS, then CPU -- checked on a machine with each of them faked.

The device tests beside this file accept whatever this machine has; these pin the
order, so ``auto`` can never pick a device that is not there.
"""

from __future__ import annotations

import pytest
import torch

from easel.devices import describe_devices, resolve_device


def _fake_devices(monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(False, False, "cpu"), (False, True, "mps"), (True, False, "cuda"), (True, True, "cuda")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool, expected: str
) -> None:
    _fake_devices(monkeypatch, cuda=cuda, mps=mps)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device(None) == torch.device(expected)


def test_auto_on_a_cpu_only_machine_is_cpu_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_devices(monkeypatch, cuda=False, mps=False)
    assert resolve_device("AUTO").type == "cpu"
    assert describe_devices()["auto"] == "cpu"


def test_auto_on_this_machine_is_what_it_has() -> None:
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected
