"""``easel demo`` end to end: every command's demo (Ken Burns included) at the quick size.

``--quick`` shrinks the sample photos and lowers sizes, iterations and clip
lengths (``easel.cli._gallery.QUICK_CAPS``), so the whole gallery runs in
seconds in the default suite; without weights in the cache the demos use a
random-initialized VGG-19 and the synthetic RGB-D scene, as on a fresh machine.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from easel.cli import command_modules, main
from easel.cli._gallery import QUICK_CAPS, QUICK_SIDE, quick_args
from easel.io.images import read_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest


def _cards(page: str) -> list[str]:
    """The command line of each card of a gallery page."""
    return [html.unescape(m) for m in re.findall(r"<pre>(.*?)</pre>", page, flags=re.S)]


def test_quick_demo_runs_every_command_end_to_end(
    tmp_path: Path, tmp_easel_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gallery"
    assert main(["demo", "-o", str(out), "--quick"]) == 0
    captured = capsys.readouterr()
    assert "demo failed" not in captured.err
    assert captured.out.strip().startswith(f"wrote {out / 'index.html'}")
    page = (out / "index.html").read_text()
    assert "Failed" not in page
    cards = _cards(page)
    demos = [m.NAME for m in command_modules() if hasattr(m, "demo")]
    assert {"quantize", "superpixels", "stylize", "depth", "kenburns"} <= set(demos)
    for name in demos:
        assert any(card.startswith(f"easel {name} ") for card in cards), f"no card for {name}: {cards}"
    # every file a card shows exists and is not empty
    shown = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert shown
    for rel in shown:
        assert (out / html.unescape(rel)).stat().st_size > 0, rel
    # the quick size: sample photos QUICK_SIDE px, the stylized image at --size's cap
    assert max(read_image(out / "inputs" / "astronaut.png").shape) == QUICK_SIDE
    assert max(read_image(out / "stylize.png").shape) <= QUICK_CAPS["--size"]
    # the Ken Burns clip is a real video of several frames
    clip = out / "kenburns_scene.mp4"
    frames = _decoded_frames(clip)
    assert len(frames) >= 3 and frames[0].ndim == 3
    assert not np.array_equal(frames[0], frames[len(frames) // 2])  # the camera moves
    # each card's command shows the quick values that were run
    stylize_cards = [card for card in cards if card.startswith("easel stylize ")]
    assert stylize_cards and all("--size 64" in card for card in stylize_cards)


def _decoded_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_an_interrupted_demo_stops_and_keeps_the_page(
    tmp_path: Path, tmp_easel_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C inside the first command stops the demo (exit 130): the next demo does not run,
    the page shows what was made so far."""
    import easel.art.superpixels as superpixels

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(superpixels, "superpixel_mosaic", interrupted)
    out = tmp_path / "gallery"
    code = main(["demo", "-o", str(out), "--quick", "--only", "quantize", "--only", "superpixels"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    cards = _cards((out / "index.html").read_text())
    assert [c.split()[1] for c in cards] == ["quantize", "quantize"]  # superpixels never finished


def test_quick_args_lower_only_plain_numbers_above_the_caps() -> None:
    args = ["stylize", "a.png", "--size", "512", "--iterations", "1", "--min-scale", "256", "-o", "x.png"]
    assert quick_args(args) == [
        "stylize",
        "a.png",
        "--size",
        "64",
        "--iterations",
        "1",
        "--min-scale",
        "32",
        "-o",
        "x.png",
    ]
    kenburns = ["kenburns", "a.png", "--size", "1280x720", "--duration", "4", "--fps", "30"]
    assert quick_args(kenburns) == [
        "kenburns",
        "a.png",
        "--size",
        "1280x720",
        "--duration",
        "0.5",
        "--fps",
        "6",
    ]
    assert quick_args(["quantize", "a.png", "-k", "8"]) == ["quantize", "a.png", "-k", "8"]
