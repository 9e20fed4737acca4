"""Issue #15 item 2: ``--precision auto`` decides by a cached measurement on the machine that runs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import CliResult
from easel.io.images import write_image
from easel.nets import precision
from easel.nets.precision import (
    PrecisionChoice,
    cache_path,
    choose_precision,
    device_key,
    measure_conv_speed,
    resolve_precision,
)
from easel.nets.vgg import save_random_vgg19
from easel.style import StyleOptions, Stylizer

CPU = torch.device("cpu")
TINY = (8, 8, 12, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16)


class FakeMeasure:
    """A stand-in for the micro-benchmark: fixed seconds per precision, and a call count."""

    def __init__(self, seconds: Mapping[str, float]) -> None:
        self.seconds = dict(seconds)
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, device: torch.device, precisions: Sequence[str]) -> dict[str, float]:
        self.calls.append(tuple(precisions))
        return {p: self.seconds[p] for p in precisions}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_easel_home: Path) -> Callable[[float, float], FakeMeasure]:
    """Replace the real measurement: ``fake(fp32_s, bf16_s)``."""

    def install(fp32: float, bf16: float) -> FakeMeasure:
        measure = FakeMeasure({"fp32": fp32, "bf16": bf16})
        monkeypatch.setattr(precision, "measure_conv_speed", measure)
        return measure

    return install


@pytest.mark.parametrize(
    ("fp32", "bf16", "expected"),
    [(0.05, 0.02, "bf16"), (0.03, 0.05, "fp32"), (0.05, 0.047, "fp32")],  # the last: a near tie keeps fp32
)
def test_the_choice_follows_the_faster_precision(
    fake: Callable[[float, float], FakeMeasure], fp32: float, bf16: float, expected: str
) -> None:
    measure = fake(fp32, bf16)
    choice = choose_precision(CPU)
    assert choice.precision == expected and choice.source == "measured"
    assert measure.calls == [("fp32", "bf16")]
    assert choice.seconds == {"fp32": fp32, "bf16": bf16}
    assert choice.gflops["fp32"] > 0 and choice.speedup == round(fp32 / bf16, 3)
    dtype, used = resolve_precision(CPU, "auto")
    assert dtype == {"bf16": torch.bfloat16, "fp32": None}[expected] and used is not None


def test_cache_miss_measures_and_a_hit_does_not(
    fake: Callable[[float, float], FakeMeasure], tmp_easel_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measure = fake(0.03, 0.06)
    first = choose_precision(CPU)
    path = cache_path()
    assert path == tmp_easel_home / "precision.json"
    stored = json.loads(path.read_text())["entries"]
    assert list(stored) == [device_key(CPU)] and stored[device_key(CPU)]["precision"] == "fp32"
    assert device_key(CPU).startswith("cpu: ") and f"torch {torch.__version__}" in device_key(CPU)
    # another process (a fresh memo) reads the file instead of measuring
    monkeypatch.setattr(precision, "_MEMO", {})
    second = choose_precision(CPU)
    assert len(measure.calls) == 1
    assert second.source == "cache" and second.precision == first.precision == "fp32"
    assert second.seconds == first.seconds and second.measured_at == first.measured_at
    # another EASEL_HOME is another cache: measured again
    other = tmp_easel_home / "other"
    monkeypatch.setenv("EASEL_HOME", str(other))
    assert choose_precision(CPU).source == "measured" and len(measure.calls) == 2


def test_a_damaged_or_unwritable_cache_only_costs_a_measurement(
    fake: Callable[[float, float], FakeMeasure], tmp_easel_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measure = fake(0.05, 0.02)
    (tmp_easel_home / "precision.json").write_text("{not json")
    assert choose_precision(CPU).precision == "bf16" and len(measure.calls) == 1
    assert json.loads((tmp_easel_home / "precision.json").read_text())["version"] == 1  # rewritten
    blocked = tmp_easel_home / "file"
    blocked.write_text("")
    monkeypatch.setenv("EASEL_HOME", str(blocked / "below-a-file"))
    assert choose_precision(CPU).precision == "bf16" and len(measure.calls) == 2


def test_explicit_precisions_never_measure(fake: Callable[[float, float], FakeMeasure]) -> None:
    measure = fake(0.05, 0.02)
    assert resolve_precision(CPU, "fp32") == (None, None)
    assert resolve_precision(CPU, "bf16") == (torch.bfloat16, None)
    assert measure.calls == []


def test_the_run_record_holds_the_choice_and_its_figures(
    fake: Callable[[float, float], FakeMeasure],
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
) -> None:
    fake(0.031, 0.052)  # bf16 slower: auto runs in fp32
    weights = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=TINY)
    rng = np.random.default_rng(0)
    content = write_image(tmp_path / "c.png", rng.random((40, 48, 3), dtype=np.float32))
    style = write_image(tmp_path / "s.png", rng.random((40, 40, 3), dtype=np.float32))
    # the API: the stylizer and its result
    stylizer = Stylizer(StyleOptions(size=40, iterations=2, coarse_iterations=2, weights=weights))
    assert stylizer.amp_dtype is None and stylizer.precision == "fp32"
    assert not cache_path().exists()  # measured, but written only when a run starts
    summary = stylizer.run(
        np.zeros((40, 48, 3), np.float32) + 0.5, [np.ones((40, 40, 3), np.float32)]
    ).summary()
    assert cache_path().is_file()
    assert summary["precision"]["requested"] == "auto" and summary["precision"]["used"] == "fp32"
    assert summary["precision"]["measurement"]["seconds"] == {"fp32": 0.031, "bf16": 0.052}
    # the CLI's record
    out = tmp_path / "art.png"
    args = ["stylize", content, "--style", style, "-o", out, "--size", "40", "--iterations", "2"]
    result = run_cli(*args, "--coarse-iterations", "2", "--weights", weights, "--quiet")
    assert result.code == 0, result.err
    record = json.loads(out.with_name("art.png.json").read_text())
    assert record["options"]["precision"] == "fp32"
    assert record["options"]["precision_measurement"]["seconds"] == {"fp32": 0.031, "bf16": 0.052}
    assert record["options"]["precision_measurement"]["precision"] == "fp32"
    assert record["result"]["precision"]["used"] == "fp32"
    # and `easel info` shows it
    info = run_cli("info", "--json")
    assert json.loads(info.out)["precision"]["precision"] == "fp32"
    text = run_cli("info").out
    assert "precision auto: fp32 on cpu: " in text and "bf16 52.0 ms" in text and "; cached (" in text


def test_info_measures_without_writing_the_cache(
    fake: Callable[[float, float], FakeMeasure], tmp_easel_home: Path, run_cli: Callable[..., CliResult]
) -> None:
    measure = fake(0.05, 0.02)
    text = run_cli("info").out
    assert "precision auto: bf16 on cpu: " in text and "measured now, not cached" in text
    assert len(measure.calls) == 1 and list(tmp_easel_home.iterdir()) == []


def test_the_real_micro_benchmark_measures_both_precisions(tmp_easel_home: Path) -> None:
    # its cost (about 0.4 s) is a benchmark figure (`easel info`), not a timed test
    choice = choose_precision(CPU, use_cache=False)
    assert set(choice.seconds) == {"fp32", "bf16"}
    assert all(math.isfinite(s) and s > 0 for s in choice.seconds.values())
    faster = min(choice.seconds, key=choice.seconds.__getitem__)
    assert choice.precision == faster or choice.seconds["bf16"] > precision.MARGIN * choice.seconds["fp32"]
    assert not (tmp_easel_home / "precision.json").exists()  # use_cache=False writes nothing
    small = measure_conv_speed(CPU, ("fp32",), size=16, repeats=1)
    assert list(small) == ["fp32"] and small["fp32"] > 0


def test_precision_choice_record_is_json() -> None:
    choice = PrecisionChoice("bf16", "cpu: x", {"fp32": 0.1, "bf16": 0.04}, {"fp32": 70.0}, "measured", "t")
    assert json.loads(json.dumps(choice.as_record()))["speedup"] == 2.5


@pytest.mark.parametrize(("fp32", "bf16", "measured"), [(0.03, 0.06, "fp32"), (0.06, 0.03, "bf16")])
def test_the_memory_check_counts_the_measured_precision(
    fake: Callable[[float, float], FakeMeasure],
    monkeypatch: pytest.MonkeyPatch,
    fp32: float,
    bf16: float,
    measured: str,
) -> None:
    import easel.style.transfer as transfer
    from easel.style.inputs import check_memory

    monkeypatch.setattr(transfer, "memory_budget", lambda device: 2**50)
    fake(fp32, bf16)
    need = check_memory(StyleOptions(size=1024, device="cpu"), (768, 1024))
    assert need == transfer.estimate_memory((768, 1024), StyleOptions(size=1024, precision=measured))


def test_a_refused_run_leaves_the_cache_folder_alone(
    fake: Callable[[float, float], FakeMeasure], tmp_easel_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import easel.style.transfer as transfer
    from easel.style.inputs import MemoryLimitError, check_memory

    measure = fake(0.05, 0.02)
    monkeypatch.setattr(transfer, "memory_budget", lambda device: 2**20)
    with pytest.raises(MemoryLimitError):
        check_memory(StyleOptions(size=2048, device="cpu"), (768, 1024))
    assert list(tmp_easel_home.iterdir()) == []
    # the run that follows uses the same measurement and writes it then
    assert choose_precision(CPU).precision == "bf16" and len(measure.calls) == 1
    assert (tmp_easel_home / "precision.json").is_file()
