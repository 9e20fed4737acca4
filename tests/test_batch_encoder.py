"""Model weights load once per batch worker: the process-level memo of ``easel.nets.vgg.load_encoder``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from easel.jobs import Task, run_tasks
from easel.nets import vgg
from easel.nets.vgg import load_encoder, save_random_vgg19

WIDTHS = (4, 4, 6, 6) + (8,) * 12


@pytest.fixture(autouse=True)
def _empty_memo() -> Iterator[None]:
    vgg._ENCODERS.clear()
    yield
    vgg._ENCODERS.clear()


def _load(path: Path, layers: tuple[str, ...] = ("relu1_1", "relu2_1")) -> vgg.VGGEncoder:
    return load_encoder("vgg19-caffe", weights=path, layers=layers, device="cpu")


def test_the_same_file_and_settings_give_the_same_encoder_and_other_settings_another(tmp_path: Path) -> None:
    path = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=WIDTHS, seed=0)
    first = _load(path)
    assert _load(path) is first
    assert _load(tmp_path / ".." / tmp_path.name / path.name) is first  # the resolved path is the key
    assert _load(path, layers=("relu1_1",)) is not first
    pooled = load_encoder("vgg19-caffe", weights=path, layers=("relu1_1", "relu2_1"), pooling="avg")
    assert pooled is not first and pooled.pooling == "avg"
    other = load_encoder(
        "vgg19-caffe", weights=path, layers=("relu1_1", "relu2_1"), preprocessing="torchvision"
    )
    assert other is not first and other.preprocessing == "torchvision"


def test_a_rewritten_weights_file_is_read_again(tmp_path: Path) -> None:
    path = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=WIDTHS, seed=0)
    first = _load(path)
    save_random_vgg19(path, widths=WIDTHS, seed=1)  # same size, new weights
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a coarse-clock filesystem
    second = _load(path)
    assert second is not first
    w1, w2 = (next(p for p in e.parameters()) for e in (first, second))
    assert not torch.equal(w1, w2)


def test_a_shared_encoder_comes_back_as_loaded_and_few_are_kept(tmp_path: Path) -> None:
    path = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=WIDTHS, seed=0)
    first = _load(path).use_channels_last(True)  # one caller switches the shared encoder
    again = _load(path)
    assert again is first and again.channels_last is False
    for layer in ("relu1_2", "relu2_2", "relu3_1", "relu3_2", "relu3_3"):
        _load(path, layers=(layer,))
    assert len(vgg._ENCODERS) == vgg._MAX_ENCODERS
    assert _load(path) is not first  # the least recently used was dropped


def encoder_identity(payload: str, attempt: int) -> tuple[int, int]:
    """A batch task: load the encoder of ``payload`` and say which object it got, in which process."""
    encoder = _load(Path(payload))
    return os.getpid(), id(encoder)


def test_a_worker_loads_the_weights_once_for_all_its_jobs(tmp_path: Path) -> None:
    path = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=WIDTHS, seed=0)
    outcomes = run_tasks(encoder_identity, [Task(f"job{i}", str(path)) for i in range(3)], workers=1)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert len({o.value for o in outcomes}) == 1  # one worker, one encoder object for the three jobs
