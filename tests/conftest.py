"""Shared fixtures and helpers: an isolated easel home, small synthetic images, crafted bad
input files (for "one-line error, exit 2" tests), an in-process CLI runner.

Helpers that parametrized tests need at collection time are plain functions,
imported with ``from conftest import BAD_INPUT_KINDS, write_bad_input``.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True, scope="session")
def _session_easel_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test writes the user's real cache folder: ``EASEL_HOME`` is a temporary folder for
    the whole session (caches such as the measured precision land there); tests that need
    an empty home of their own use :func:`tmp_easel_home`."""
    import os

    home = tmp_path_factory.mktemp("easel-home")
    previous = os.environ.get("EASEL_HOME")
    os.environ["EASEL_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("EASEL_HOME", None)
    else:
        os.environ["EASEL_HOME"] = previous


@pytest.fixture(autouse=True)
def _restore_easel_logger() -> Iterator[None]:
    """``easel.cli.main()`` configures the "easel" logger (handler, level, no propagation);
    undo that after each test so ``caplog`` keeps working in the tests that follow."""
    logger = logging.getLogger("easel")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread for the test (restored after).

    Tiny models are fastest on one thread, and steady: on a busy 2-core machine two
    threads wait on each other at every small op (a 0.1 s stylize run then takes 8 s).
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tmp_easel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``EASEL_HOME`` pointed at a fresh temporary folder (weights cache under ``weights/``)."""
    home = tmp_path / "easel-home"
    home.mkdir()
    monkeypatch.setenv("EASEL_HOME", str(home))
    return home


def make_rgb(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """A deterministic ``(H, W, 3)`` float32 RGB image in [0, 1]: gradients plus a little noise.

    Values are multiples of 1/255, so 8-bit round trips are exact.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = xx / max(width - 1, 1)
    g = yy / max(height - 1, 1)
    b = rng.random((height, width), dtype=np.float32)
    img = np.stack([r, g, b], axis=2)
    return (np.rint(img * 255.0) / 255.0).astype(np.float32)


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A small ``(24, 32, 3)`` float32 RGB image in [0, 1] (see :func:`make_rgb`)."""
    return make_rgb()


@pytest.fixture
def quadrants() -> np.ndarray:
    """A ``(32, 32, 3)`` float32 image of four flat colours: red, green, blue, white."""
    img = np.zeros((32, 32, 3), np.float32)
    img[:16, :16] = (1, 0, 0)
    img[:16, 16:] = (0, 1, 0)
    img[16:, :16] = (0, 0, 1)
    img[16:, 16:] = (1, 1, 1)
    return img


@pytest.fixture
def image_file(tmp_path: Path, rgb_image: np.ndarray) -> Path:
    """:func:`rgb_image` written as ``input.png`` in a temporary folder."""
    from PIL import Image

    path = tmp_path / "input.png"
    Image.fromarray(np.rint(rgb_image * 255).astype(np.uint8), mode="RGB").save(path)
    return path


@dataclass
class CliResult:
    """Exit code and captured output of one in-process ``easel`` run."""

    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``easel ARGS`` in-process: ``run_cli("info", "--json")`` -> :class:`CliResult`."""
    from easel.cli import main

    def run(*argv: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


# ---------------------------------------------------------------- crafted bad inputs


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bytes_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` RGB pixels (a decompression bomb shape).

    The IDAT holds only one compressed row, so nothing large is ever allocated
    unless a reader trusts the header and decodes.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + 3 * min(width, 64)))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def photo(width: int = 64, height: int = 48) -> Image.Image:
    """A smooth RGB picture (compresses to many bytes, so truncation bites)."""
    yy, xx = np.mgrid[0:height, 0:width]
    arr = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) % 256], axis=2).astype(np.uint8)
    return Image.fromarray(arr, mode="RGB")


def write_bad_input(kind: str, folder: Path) -> Path:
    """Create one kind of bad input file in ``folder`` and return its path."""
    if kind == "missing":
        return folder / "missing.png"
    if kind == "directory":
        path = folder / "adir.png"
        path.mkdir()
        return path
    if kind == "empty":
        path = folder / "empty.png"
        path.touch()
        return path
    if kind == "upload-0-bytes":
        path = folder / "upload.jpg"
        path.write_bytes(b"")
        return path
    if kind == "truncated-jpeg":
        data = encoded(photo(), "JPEG", quality=95)
        path = folder / "truncated.jpg"
        path.write_bytes(data[: len(data) // 2])
        return path
    if kind == "truncated-png":
        data = encoded(photo(), "PNG")
        path = folder / "truncated.png"
        path.write_bytes(data[: len(data) // 2])
        return path
    if kind == "text-as-jpg":
        path = folder / "notes.jpg"
        path.write_text("this is a text file, not a JPEG\n" * 20)
        return path
    if kind == "1x1":
        path = folder / "dot.png"
        Image.new("RGB", (1, 1), (255, 0, 0)).save(path)
        return path
    if kind == "bomb":
        path = folder / "bomb.png"
        path.write_bytes(png_bytes_claiming(50_000, 50_000))
        return path
    raise AssertionError(kind)


BAD_INPUT_KINDS = [
    "missing",
    "directory",
    "empty",
    "upload-0-bytes",
    "truncated-jpeg",
    "truncated-png",
    "text-as-jpg",
    "1x1",
    "bomb",
]
