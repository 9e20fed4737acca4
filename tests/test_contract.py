"""The command-line contract (issue #8), checked for every command over a corpus of bad input.

Every command is run in-process (``easel.cli.main``) with bad files and bad
options, and every run must:

* exit with status 2;
* print exactly one line on stderr (C-level output included: the stream is
  captured at the file-descriptor level), with no traceback and no usage block;
* name what was wrong (the file, or the user's flag);
* leave every watched folder (the outputs' folder, the inputs' folder and the
  weights cache) exactly as it was: no new, removed or changed file.

The tables below are the contract; a command that breaks a row is a bug in
that command. Fixtures are tiny (a 48x64 photo, a random VGG-19 with 8-16
channels), so the whole file runs in seconds.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from easel.cli import main

# ---------------------------------------------------------------- the corpus


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_claiming(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (its data holds one short row)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 65)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def npy_claiming(shape: tuple[int, ...], descr: str = "<f4", data: bytes = b"\0" * 64) -> bytes:
    """A ``.npy`` file whose header claims ``shape`` but which holds only ``data``."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin-1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def exr_claiming(width: int, height: int) -> bytes:
    """An OpenEXR header (one FLOAT channel ``Z``, no compression) claiming ``width`` x ``height``."""

    def attr(name: str, type_name: str, payload: bytes) -> bytes:
        return name.encode() + b"\0" + type_name.encode() + b"\0" + struct.pack("<i", len(payload)) + payload

    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    header = (
        attr("channels", "chlist", b"Z\0" + struct.pack("<iB3xii", 2, 0, 1, 1) + b"\0")
        + attr("compression", "compression", b"\0")
        + attr("dataWindow", "box2i", window)
        + attr("displayWindow", "box2i", window)
        + attr("lineOrder", "lineOrder", b"\0")
        + b"\0"
    )
    return struct.pack("<ii", 20000630, 2) + header + b"\0" * 64


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // width, yy * 255 // height, (xx * 7 + yy * 3) % 256], axis=2)
    return np.clip(base + rng.integers(0, 24, (height, width, 3)), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Corpus:
    """Good and bad inputs, written once per module."""

    root: Path
    photo: Path  # 48x64 RGB PNG
    depth: Path  # its (48, 64) depth, .npy
    flat: Path  # 16x16, one colour
    vgg: Path  # a tiny random VGG-19 state dict
    bad_images: dict[str, Path]
    bad_depths: dict[str, Path]


BAD_IMAGE_KINDS = ("missing", "empty", "truncated", "text", "folder", "bomb", "bomb-100mp", "foreign", "tiny")
BAD_DEPTH_KINDS = (
    "missing",
    "empty",
    "text",
    "folder",
    "bomb-npy",
    "bomb-png",
    "bomb-exr",
    "bomb-pfm",
    "colour",
    "grey-rgb-array",
    "nan",
    "object",
    "npz",
    "constant",
    "truncated",
    "aspect",
    "one-dimensional",
)


def _write_bad_images(folder: Path) -> dict[str, Path]:
    good = folder / "good-for-cutting.png"
    Image.fromarray(_photo(48, 64, seed=3)).save(good)
    data = good.read_bytes()
    good.unlink()
    paths = {
        "missing": folder / "missing.png",
        "empty": folder / "empty.png",
        "truncated": folder / "truncated.png",
        "text": folder / "notes.png",
        "folder": folder / "a-folder.png",
        "bomb": folder / "bomb.png",
        "bomb-100mp": folder / "bomb100.png",
        "foreign": folder / "archive.png",
        "tiny": folder / "dot.png",
    }
    Image.new("RGB", (1, 1), (200, 30, 30)).save(paths["tiny"])
    paths["empty"].write_bytes(b"")
    paths["truncated"].write_bytes(data[: len(data) // 2])
    paths["text"].write_text("this is a text file, not a PNG\n" * 10)
    paths["folder"].mkdir()
    paths["bomb"].write_bytes(png_claiming(50_000, 50_000))
    paths["bomb-100mp"].write_bytes(png_claiming(10_000, 10_000))
    paths["foreign"].write_bytes(b"PK\x03\x04" + bytes(range(256)) * 2)
    return paths


def _write_bad_depths(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    paths = {
        "missing": folder / "missing.npy",
        "empty": folder / "empty.npy",
        "text": folder / "text.npy",
        "folder": folder / "a-folder.npy",
        "bomb-npy": folder / "bomb.npy",
        "bomb-png": folder / "bomb-depth.png",
        "bomb-exr": folder / "bomb.exr",
        "bomb-pfm": folder / "bomb.pfm",
        "colour": folder / "colour.npy",
        "grey-rgb-array": folder / "grey3.npy",
        "nan": folder / "nan.npy",
        "object": folder / "object.npy",
        "npz": folder / "archive.npy",
        "constant": folder / "constant.npy",
        "truncated": folder / "truncated.npy",
        "aspect": folder / "aspect.npy",
        "one-dimensional": folder / "line.npy",
    }
    paths["empty"].write_bytes(b"")
    paths["text"].write_text("1 2 3\n4 5 6\n")
    paths["folder"].mkdir()
    paths["bomb-npy"].write_bytes(npy_claiming((50_000, 50_000)))
    paths["bomb-png"].write_bytes(png_claiming(50_000, 50_000, bit_depth=16, colour_type=0))
    paths["bomb-exr"].write_bytes(exr_claiming(50_000, 50_000))
    paths["bomb-pfm"].write_bytes(b"Pf\n50000 50000\n-1.0\n" + b"\0" * 64)
    np.save(paths["colour"], (1.0 + rng.random((48, 64, 3))).astype(np.float32))
    np.save(paths["grey-rgb-array"], np.repeat((1.0 + rng.random((48, 64, 1))).astype(np.float32), 3, axis=2))
    np.save(paths["nan"], np.full((48, 64), np.nan, np.float32))
    np.save(paths["object"], np.array([{"depth": 1}], dtype=object), allow_pickle=True)
    with open(paths["npz"], "wb") as fh:
        np.savez(fh, depth=np.ones((48, 64), np.float32))
    np.save(paths["constant"], np.full((48, 64), 2.0, np.float32))
    paths["truncated"].write_bytes(npy_claiming((48, 64), data=b"\0" * 100))
    np.save(paths["aspect"], (1.0 + rng.random((10, 80))).astype(np.float32))
    np.save(paths["one-dimensional"], np.linspace(1.0, 2.0, 64, dtype=np.float32))
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    from easel.nets.vgg import save_random_vgg19

    root = tmp_path_factory.mktemp("corpus")
    photo = root / "photo.png"
    Image.fromarray(_photo(48, 64)).save(photo)
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    depth = root / "depth.npy"
    np.save(depth, (2.0 + 3.0 * yy / 47 + xx / 63).astype(np.float32))
    flat = root / "flat.png"
    Image.new("RGB", (16, 16), (200, 40, 90)).save(flat)
    (root / "page.safetensors").write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>\n")
    vgg = save_random_vgg19(root / "vgg19-tiny.pth", widths=(8, 8, 12, 12) + (16,) * 12, seed=0)
    bad_images = root / "bad-images"
    bad_images.mkdir()
    bad_depths = root / "bad-depths"
    bad_depths.mkdir()
    return Corpus(root, photo, depth, flat, vgg, _write_bad_images(bad_images), _write_bad_depths(bad_depths))


# ---------------------------------------------------------------- running and checking


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` (hidden ones too): ``relative path -> (size, mtime_ns)``."""
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        found[str(path.relative_to(folder))] = (0 if path.is_dir() else stat.st_size, stat.st_mtime_ns)
    return found


@dataclass
class Workspace:
    """Where a case writes (``out``), and the folders that must not change."""

    out: Path
    home: Path
    corpus: Corpus

    @property
    def watched(self) -> list[Path]:
        return [self.out, self.home, self.corpus.root]


@pytest.fixture
def ws(corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("an unrelated file that must stay as it is\n")
    home = tmp_path / "easel-home"
    home.mkdir()
    monkeypatch.setenv("EASEL_HOME", str(home))
    monkeypatch.delenv("EASEL_PROGRESS", raising=False)
    return Workspace(out, home, corpus)


def run_refused(argv: Sequence[str | Path], ws: Workspace, capfd: pytest.CaptureFixture[str]) -> str:
    """Run ``easel ARGV``; assert the contract for a refused run and return the stderr line."""
    before = {folder: snapshot(folder) for folder in ws.watched}
    capfd.readouterr()
    code = main([str(a) for a in argv])
    _, err = capfd.readouterr()
    shown = " ".join(str(a) for a in argv)
    assert code == 2, f"easel {shown}: exit {code}, stderr: {err!r}"
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0], f"easel {shown}: not exactly one line on stderr: {err!r}"
    assert "Traceback" not in err, f"easel {shown}: {err!r}"
    assert "usage:" not in err.lower(), f"easel {shown}: a usage block: {err!r}"
    for folder, files in before.items():
        assert snapshot(folder) == files, f"easel {shown}: files changed in {folder}"
    return lines[0]


def _names(line: str, needles: Sequence[str]) -> bool:
    return any(needle in line for needle in needles)


# ---------------------------------------------------------------- bad image inputs

# command -> argv with IMAGE standing for the bad file (every other input is good)
ImageArgv = Callable[[Path, Workspace], list[str | Path]]
IMAGE_COMMANDS: dict[str, ImageArgv] = {
    "quantize": lambda img, ws: ["quantize", img, "-k", "4", "-o", ws.out / "q.png"],
    "superpixels": lambda img, ws: ["superpixels", img, "-n", "20", "-o", ws.out / "s.png"],
    "depth": lambda img, ws: ["depth", img, "--depth", ws.corpus.depth, "-o", ws.out / "d.npy"],
    "dream": lambda img, ws: [
        "dream",
        img,
        "-o",
        ws.out / "dream.png",
        "--weights",
        ws.corpus.vgg,
        "--iterations",
        "1",
    ],
    "kenburns": lambda img, ws: [
        "kenburns",
        img,
        "--depth",
        ws.corpus.depth,
        "-o",
        ws.out / "clip.gif",
        "--duration",
        "0.4",
        "--fps",
        "5",
    ],
    "photo3d": lambda img, ws: [
        "photo3d",
        img,
        "--depth",
        ws.corpus.depth,
        "-o",
        ws.out / "clip.gif",
        "--frames",
        "2",
    ],
    "stylize-video-input": lambda img, ws: [
        "stylize-video",
        img,
        "--style",
        ws.corpus.photo,
        "-o",
        ws.out / "clip.gif",
        "--weights",
        ws.corpus.vgg,
        "--size",
        "32",
        "--iterations-first",
        "1",
    ],
    "stylize-video-style": lambda img, ws: [
        "stylize-video",
        ws.corpus.photo,
        "--style",
        img,
        "-o",
        ws.out / "clip.gif",
        "--weights",
        ws.corpus.vgg,
        "--size",
        "32",
        "--iterations-first",
        "1",
    ],
    "stylize-content": lambda img, ws: [
        "stylize",
        img,
        "--style",
        ws.corpus.photo,
        "-o",
        ws.out / "art.png",
        "--weights",
        ws.corpus.vgg,
        "--size",
        "32",
        "--iterations",
        "1",
        "--coarse-iterations",
        "1",
    ],
    "stylize-style": lambda img, ws: [
        "stylize",
        ws.corpus.photo,
        "--style",
        img,
        "-o",
        ws.out / "art.png",
        "--weights",
        ws.corpus.vgg,
        "--size",
        "32",
        "--iterations",
        "1",
        "--coarse-iterations",
        "1",
    ],
    "stylize-mask": lambda img, ws: [
        "stylize",
        ws.corpus.photo,
        "--style",
        ws.corpus.photo,
        "--mask",
        img,
        "-o",
        ws.out / "art.png",
        "--weights",
        ws.corpus.vgg,
        "--size",
        "32",
        "--iterations",
        "1",
        "--coarse-iterations",
        "1",
    ],
    "stylize-init": lambda img, ws: [
        "stylize",
        ws.corpus.photo,
        "--style",
        ws.corpus.photo,
        "--init",
        img,
        "-o",
        ws.out / "art.png",
        "--weights",
        ws.corpus.vgg,
        "--size",
        "32",
        "--iterations",
        "1",
        "--coarse-iterations",
        "1",
    ],
}


# a folder of contents or styles is a stylize grid, not a bad input; a 1x1 image is a valid
# input for the commands that can serve it (issue #18), and too small for those that need a minimum
GRID_INPUTS = {"stylize-content", "stylize-style"}
ANY_SIZE = {"quantize", "superpixels"}
IMAGE_CASES = [
    (command, kind)
    for command in sorted(IMAGE_COMMANDS)
    for kind in BAD_IMAGE_KINDS
    if not (command in GRID_INPUTS and kind == "folder") and not (command in ANY_SIZE and kind == "tiny")
]


@pytest.mark.parametrize(("command", "kind"), IMAGE_CASES)
def test_bad_image_is_one_line_exit_2(
    command: str, kind: str, ws: Workspace, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = ws.corpus.bad_images[kind]
    line = run_refused(IMAGE_COMMANDS[command](bad, ws), ws, capfd)
    assert bad.name in line, line


# ---------------------------------------------------------------- bad depth inputs

DepthArgv = Callable[[Path, Workspace], list[str | Path]]
DEPTH_COMMANDS: dict[str, DepthArgv] = {
    "depth": lambda d, ws: ["depth", ws.corpus.photo, "--depth", d, "-o", ws.out / "d.npy"],
    "depth-preview": lambda d, ws: [
        "depth",
        ws.corpus.photo,
        "--depth",
        d,
        "-o",
        ws.out / "d.png",
        "--preview",
        ws.out / "p.png",
    ],
    "depth-alone": lambda d, ws: ["depth", "--depth", d, "-o", ws.out / "d.exr"],
    "kenburns": lambda d, ws: [
        "kenburns",
        ws.corpus.photo,
        "--depth",
        d,
        "-o",
        ws.out / "clip.gif",
        "--duration",
        "0.4",
        "--fps",
        "5",
    ],
    "photo3d": lambda d, ws: [
        "photo3d",
        ws.corpus.photo,
        "--depth",
        d,
        "-o",
        ws.out / "clip.gif",
        "--frames",
        "2",
    ],
}

# what each message must say besides the file's name
DEPTH_NEEDLES: dict[str, tuple[str, ...]] = {
    "missing": ("no such file",),
    "empty": ("empty",),
    "text": ("not a NumPy",),
    "folder": ("directory",),
    "bomb-npy": ("50000x50000", "larger than easel accepts"),
    "bomb-png": ("larger than easel accepts",),
    "bomb-exr": ("50000x50000", "larger than easel accepts"),
    "bomb-pfm": ("50000x50000", "larger than easel accepts"),
    "colour": ("expected a (H, W) float depth map, got shape (48, 64, 3) float32",),
    "grey-rgb-array": ("expected a (H, W) float depth map, got shape (48, 64, 3) float32",),
    "nan": ("invalid",),
    "object": ("not a plain numeric",),
    "npz": (".npz archive",),
    "constant": ("constant",),
    "truncated": ("truncated",),
    "aspect": ("aspect",),
    "one-dimensional": ("expected a (H, W)", "shape (64,)"),
}
_LEAKS = ("allow_pickle", "pickle=", "Failed to read all data", "numpy.", "DecompressionBomb", "cv2.")


# without a photo any aspect ratio is fine: "aspect" runs only where there is one
DEPTH_CASES = [
    (command, kind)
    for command in sorted(DEPTH_COMMANDS)
    for kind in BAD_DEPTH_KINDS
    if not (command == "depth-alone" and kind == "aspect")
]


@pytest.mark.parametrize(("command", "kind"), DEPTH_CASES)
def test_bad_depth_is_one_line_exit_2(
    command: str, kind: str, ws: Workspace, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = ws.corpus.bad_depths[kind]
    line = run_refused(DEPTH_COMMANDS[command](bad, ws), ws, capfd)
    assert bad.name in line, line
    for needle in DEPTH_NEEDLES[kind]:
        assert needle in line, line
    assert not any(leak in line for leak in _LEAKS), line


# ---------------------------------------------------------------- bad options


@dataclass(frozen=True)
class OptionCase:
    """A command line with one bad option, and what its message must name (any one of ``needles``)."""

    argv: Callable[[Workspace], list[str | Path]]
    needles: tuple[str, ...]


def _quantize(*extra: str | Path) -> Callable[[Workspace], list[str | Path]]:
    return lambda ws: ["quantize", ws.corpus.photo, "-o", ws.out / "q.png", *extra]


def _superpixels(*extra: str | Path) -> Callable[[Workspace], list[str | Path]]:
    return lambda ws: ["superpixels", ws.corpus.photo, "-o", ws.out / "s.png", *extra]


def _depth(*extra: str | Path) -> Callable[[Workspace], list[str | Path]]:
    return lambda ws: ["depth", ws.corpus.photo, "--depth", ws.corpus.depth, "-o", ws.out / "d.npy", *extra]


def _kenburns(*extra: str | Path) -> Callable[[Workspace], list[str | Path]]:
    return lambda ws: [
        "kenburns",
        ws.corpus.photo,
        "--depth",
        ws.corpus.depth,
        "-o",
        ws.out / "clip.gif",
        "--duration",
        "0.4",
        "--fps",
        "5",
        *extra,
    ]


def _stylize(*extra: str | Path) -> Callable[[Workspace], list[str | Path]]:
    return lambda ws: [
        "stylize",
        ws.corpus.photo,
        "--style",
        ws.corpus.photo,
        "-o",
        ws.out / "art.png",
        "--weights",
        ws.corpus.vgg,
        "--size",
        "32",
        "--iterations",
        "1",
        "--coarse-iterations",
        "1",
        *extra,
    ]


OPTION_CASES: dict[str, OptionCase] = {
    # quantize
    "quantize-k-zero": OptionCase(_quantize("-k", "0"), ("-k", "--colors")),
    "quantize-k-negative": OptionCase(_quantize("-k", "-3"), ("-k", "--colors")),
    "quantize-k-text": OptionCase(_quantize("-k", "many"), ("-k", "--colors")),
    "quantize-k-huge": OptionCase(_quantize("-k", "99999999999999"), ("-k", "--colors")),
    "quantize-space-unknown": OptionCase(_quantize("--space", "hsv"), ("--space",)),
    "quantize-max-size-zero": OptionCase(_quantize("--max-size", "0"), ("--max-size",)),
    "quantize-seed-text": OptionCase(_quantize("--seed", "abc"), ("--seed",)),
    "quantize-output-suffix": OptionCase(
        lambda ws: ["quantize", ws.corpus.photo, "-o", ws.out / "x.txt"], ("x.txt",)
    ),
    "quantize-palette-suffix": OptionCase(
        lambda ws: ["quantize", ws.corpus.photo, "-o", ws.out / "q.png", "--palette", ws.out / "p.txt"],
        ("--palette",),
    ),
    "quantize-palette-is-output": OptionCase(
        lambda ws: ["quantize", ws.corpus.photo, "-o", ws.out / "q.png", "--palette", ws.out / "q.png"],
        ("--palette",),
    ),
    "quantize-palette-is-record": OptionCase(
        lambda ws: ["quantize", ws.corpus.photo, "-o", ws.out / "q.png", "--palette", ws.out / "q.png.json"],
        ("--palette",),
    ),
    "quantize-output-exists": OptionCase(
        lambda ws: ["quantize", ws.corpus.photo, "-o", ws.out / "keep.txt"], ("keep.txt",)
    ),
    "quantize-output-is-input": OptionCase(
        lambda ws: ["quantize", ws.corpus.photo, "-o", ws.corpus.photo, "-y"], ("photo.png",)
    ),
    "quantize-output-folder-missing": OptionCase(
        lambda ws: ["quantize", ws.corpus.photo, "-o", ws.out / "no-such-folder" / "q.png"],
        ("no-such-folder",),
    ),
    "quantize-no-output": OptionCase(lambda ws: ["quantize", ws.corpus.photo], ("-o", "--output")),
    # superpixels
    "superpixels-n-zero": OptionCase(_superpixels("-n", "0"), ("-n", "--segments")),
    "superpixels-n-text": OptionCase(_superpixels("-n", "lots"), ("-n", "--segments")),
    "superpixels-compactness-zero": OptionCase(_superpixels("--compactness", "0"), ("--compactness",)),
    "superpixels-compactness-negative": OptionCase(_superpixels("--compactness", "-2"), ("--compactness",)),
    "superpixels-compactness-nan": OptionCase(_superpixels("--compactness", "nan"), ("--compactness",)),
    "superpixels-compactness-inf": OptionCase(_superpixels("--compactness", "inf"), ("--compactness",)),
    "superpixels-color": OptionCase(_superpixels("--boundary-color", "nope"), ("--boundary-color",)),
    "superpixels-both-modes": OptionCase(
        _superpixels("--boundaries", "--boundaries-only"), ("--boundaries",)
    ),
    "superpixels-output-suffix": OptionCase(
        lambda ws: ["superpixels", ws.corpus.photo, "-o", ws.out / "s.bmpx"], ("s.bmpx",)
    ),
    "superpixels-record-exists": OptionCase(
        lambda ws: ["superpixels", ws.corpus.photo, "-o", ws.out / "keep"], ("keep",)
    ),
    # depth
    "depth-range-reversed": OptionCase(_depth("--depth-range", "10,1"), ("--depth-range",)),
    "depth-range-zero": OptionCase(_depth("--depth-range", "0,5"), ("--depth-range",)),
    "depth-range-text": OptionCase(_depth("--depth-range", "near,far"), ("--depth-range",)),
    "depth-range-nan": OptionCase(_depth("--depth-range", "nan,5"), ("--depth-range",)),
    "depth-range-inf": OptionCase(_depth("--depth-range", "1,inf"), ("--depth-range",)),
    "depth-kind-unknown": OptionCase(_depth("--depth-kind", "height"), ("--depth-kind",)),
    "depth-refine-radius-zero": OptionCase(_depth("--refine-radius", "0"), ("--refine-radius",)),
    "depth-refine-radius-text": OptionCase(_depth("--refine-radius", "wide"), ("--refine-radius",)),
    "depth-precision-unknown": OptionCase(_depth("--precision", "fp8"), ("--precision",)),
    "depth-device-unknown": OptionCase(_depth("--device", "tpu"), ("--device",)),
    "depth-max-size-zero": OptionCase(_depth("--max-size", "0"), ("--max-size",)),
    "depth-output-suffix": OptionCase(
        lambda ws: ["depth", ws.corpus.photo, "--depth", ws.corpus.depth, "-o", ws.out / "d.jpg"], ("d.jpg",)
    ),
    "depth-preview-suffix": OptionCase(
        lambda ws: [
            "depth",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "d.npy",
            "--preview",
            ws.out / "p.txt",
        ],
        ("--preview",),
    ),
    "depth-preview-is-output": OptionCase(
        lambda ws: [
            "depth",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "d.npy",
            "--preview",
            ws.out / "d.npy",
        ],
        ("--preview",),
    ),
    "depth-preview-is-record": OptionCase(
        lambda ws: [
            "depth",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "d.png",
            "--preview",
            ws.out / "d.png.json",
        ],
        ("--preview",),
    ),
    "depth-model-unknown": OptionCase(
        lambda ws: ["depth", ws.corpus.photo, "-o", ws.out / "d.npy", "--model", "nope"], ("nope",)
    ),
    "depth-weights-missing": OptionCase(
        lambda ws: [
            "depth",
            ws.corpus.photo,
            "-o",
            ws.out / "d.npy",
            "--weights",
            ws.out / "none.safetensors",
        ],
        ("none.safetensors",),
    ),
    "depth-weights-foreign": OptionCase(
        lambda ws: [
            "depth",
            ws.corpus.photo,
            "-o",
            ws.out / "d.npy",
            "--model",
            "dpt-large",
            "--weights",
            ws.corpus.photo,
        ],
        ("photo.png: expected a Hugging Face folder or a .safetensors file (it is a PNG image)",),
    ),
    "depth-weights-not-safetensors": OptionCase(
        lambda ws: [
            "depth",
            ws.corpus.photo,
            "-o",
            ws.out / "d.npy",
            "--model",
            "dpt-large",
            "--weights",
            ws.corpus.root / "page.safetensors",
        ],
        ("page.safetensors: not a safetensors weights file (it is an HTML page",),
    ),
    "depth-nothing-to-do": OptionCase(lambda ws: ["depth", "-o", ws.out / "d.npy"], ("IMAGE", "--depth")),
    # kenburns
    "kenburns-fps-zero": OptionCase(_kenburns("--fps", "0"), ("--fps",)),
    "kenburns-duration-negative": OptionCase(_kenburns("--duration", "-1"), ("--duration",)),
    "kenburns-duration-text": OptionCase(_kenburns("--duration", "long"), ("--duration",)),
    "kenburns-zoom-zero": OptionCase(_kenburns("--zoom", "0"), ("--zoom",)),
    "kenburns-size-text": OptionCase(_kenburns("--size", "big"), ("--size",)),
    "kenburns-size-huge": OptionCase(_kenburns("--size", "100000x100000"), ("--size",)),
    "kenburns-easing-unknown": OptionCase(_kenburns("--easing", "bouncy"), ("--easing",)),
    "kenburns-preset-typo": OptionCase(_kenburns("--preset", "veryfsat"), ("--preset",)),
    "kenburns-output-suffix": OptionCase(
        lambda ws: ["kenburns", ws.corpus.photo, "--depth", ws.corpus.depth, "-o", ws.out / "clip.txt"],
        ("clip.txt",),
    ),
    "kenburns-export-path-is-record": OptionCase(_kenburns("--export-path", "RECORD"), ("--export-path",)),
    # photo3d (its shared options are kenburns' declarations, checked above)
    # stylize-video
    "stylize-video-long-term-zero": OptionCase(
        lambda ws: [
            "stylize-video",
            ws.corpus.photo,
            "--style",
            ws.corpus.photo,
            "-o",
            ws.out / "v.gif",
            "--long-term",
            "0",
        ],
        ("--long-term",),
    ),
    "stylize-video-output-suffix": OptionCase(
        lambda ws: ["stylize-video", ws.corpus.photo, "--style", ws.corpus.photo, "-o", ws.out / "v.txt"],
        ("v.txt", "-o"),
    ),
    # batch
    "batch-manifest-missing": OptionCase(lambda ws: ["batch", ws.out / "nope.yaml"], ("nope.yaml",)),
    "batch-engine-unknown": OptionCase(
        lambda ws: ["batch", ws.out / "nope.yaml", "--engine", "slurm"], ("--engine",)
    ),
    # flythrough
    "flythrough-scene-missing": OptionCase(
        lambda ws: ["flythrough", "render", ws.out / "no-scene", "-o", ws.out / "fly.mp4"], ("no-scene",)
    ),
    "flythrough-steps-negative": OptionCase(
        lambda ws: ["flythrough", "fit", ws.out, "-o", ws.out / "scene", "--steps", "-1"], ("--steps",)
    ),
    "flythrough-no-photos": OptionCase(
        lambda ws: ["flythrough", "fit", ws.out, "-o", ws.out / "scene"], ("out",)
    ),
    # serve
    "serve-public-without-auth": OptionCase(lambda ws: ["serve", "--host", "0.0.0.0"], ("--auth",)),
    "serve-port-out-of-range": OptionCase(lambda ws: ["serve", "--port", "70000"], ("--port",)),
    "photo3d-frames-zero": OptionCase(
        lambda ws: [
            "photo3d",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "c.gif",
            "--frames",
            "0",
        ],
        ("--frames",),
    ),
    "photo3d-trajectory-unknown": OptionCase(
        lambda ws: [
            "photo3d",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "c.gif",
            "--trajectory",
            "spiral",
        ],
        ("--trajectory",),
    ),
    "photo3d-x-shift-huge": OptionCase(
        lambda ws: [
            "photo3d",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "c.gif",
            "--x-shift",
            "5",
        ],
        ("--x-shift",),
    ),
    "photo3d-mesh-suffix": OptionCase(
        lambda ws: [
            "photo3d",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "c.gif",
            "--mesh",
            ws.out / "m.obj",
        ],
        ("--mesh",),
    ),
    "photo3d-ascii-glb": OptionCase(
        lambda ws: [
            "photo3d",
            ws.corpus.photo,
            "--depth",
            ws.corpus.depth,
            "-o",
            ws.out / "c.gif",
            "--mesh",
            ws.out / "m.glb",
            "--ascii",
        ],
        ("--ascii",),
    ),
    # stylize
    "stylize-size-zero": OptionCase(_stylize("--size", "0"), ("--size",)),
    "stylize-size-huge": OptionCase(_stylize("--size", "10000000"), ("--size",)),
    "stylize-style-weight-text": OptionCase(
        lambda ws: [
            "stylize",
            ws.corpus.photo,
            "--style",
            f"{ws.corpus.photo}:abc",
            "-o",
            ws.out / "a.png",
            "--weights",
            ws.corpus.vgg,
            "--size",
            "32",
        ],
        ("--style", "abc"),
    ),
    "stylize-optimizer-unknown": OptionCase(_stylize("--optimizer", "sgd"), ("--optimizer",)),
    "stylize-iterations-text": OptionCase(_stylize("--iterations", "few"), ("--iterations",)),
    "stylize-weights-foreign": OptionCase(
        lambda ws: [
            "stylize",
            ws.corpus.photo,
            "--style",
            ws.corpus.photo,
            "-o",
            ws.out / "a.png",
            "--weights",
            ws.corpus.photo,
            "--size",
            "32",
        ],
        ("photo.png: not a PyTorch weights file (it is a PNG image)",),
    ),
    "stylize-output-suffix": OptionCase(
        lambda ws: [
            "stylize",
            ws.corpus.photo,
            "--style",
            ws.corpus.photo,
            "-o",
            ws.out / "a.txt",
            "--weights",
            ws.corpus.vgg,
        ],
        ("a.txt",),
    ),
    # weights
    "weights-timeout-zero": OptionCase(
        lambda ws: ["weights", "download", "vgg19-caffe", "--timeout", "0"], ("--timeout",)
    ),
    "weights-timeout-negative": OptionCase(
        lambda ws: ["weights", "download", "vgg19-caffe", "--timeout", "-5"], ("--timeout",)
    ),
    "weights-timeout-nan": OptionCase(
        lambda ws: ["weights", "download", "vgg19-caffe", "--timeout", "nan"], ("--timeout",)
    ),
    "weights-timeout-inf": OptionCase(
        lambda ws: ["weights", "download", "vgg19-caffe", "--timeout", "inf"], ("--timeout",)
    ),
    "weights-download-unknown": OptionCase(
        lambda ws: ["weights", "download", "no-such-model"], ("no-such-model",)
    ),
    "weights-download-nothing": OptionCase(lambda ws: ["weights", "download"], ("--all", "name")),
    "weights-names-and-all": OptionCase(
        lambda ws: ["weights", "download", "vgg19-caffe", "--all"], ("--all",)
    ),
    "weights-path-unknown": OptionCase(lambda ws: ["weights", "path", "no-such-model"], ("no-such-model",)),
    "weights-path-missing": OptionCase(lambda ws: ["weights", "path", "vgg19-caffe"], ("vgg19-caffe",)),
    "weights-verify-unknown": OptionCase(
        lambda ws: ["weights", "verify", "no-such-model"], ("no-such-model",)
    ),
    "weights-action-unknown": OptionCase(lambda ws: ["weights", "frobnicate"], ("frobnicate",)),
    # info
    "info-option-unknown": OptionCase(lambda ws: ["info", "--colour"], ("--colour",)),
    "info-extra-argument": OptionCase(lambda ws: ["info", "extra"], ("extra",)),
    # demo
    "demo-output-is-a-file": OptionCase(lambda ws: ["demo", "-o", ws.out / "keep.txt"], ("keep.txt",)),
    "demo-only-unknown": OptionCase(
        lambda ws: ["demo", "-o", ws.out / "gallery", "--only", "nothing"], ("--only",)
    ),
    # no command at all, or an unknown one
    "unknown-command": OptionCase(lambda ws: ["paint"], ("paint",)),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_bad_option_is_one_line_exit_2(case: str, ws: Workspace, capfd: pytest.CaptureFixture[str]) -> None:
    spec = OPTION_CASES[case]
    argv = spec.argv(ws)
    if case == "kenburns-export-path-is-record":  # the record of clip.gif is clip.gif.json
        argv = [ws.out / "clip.gif.json" if a == "RECORD" else a for a in argv]
    line = run_refused(argv, ws, capfd)
    assert _names(line, spec.needles), f"{line!r} names none of {spec.needles}"


def command_of(key: str, names: Iterable[str]) -> str:
    """The command a table key belongs to: the longest command name that is ``key`` or a ``name-`` prefix of it."""
    matches = [n for n in names if key == n or key.startswith(n + "-")]
    return max(matches, key=len) if matches else key.split("-")[0]


def test_the_tables_cover_every_command() -> None:
    from easel.cli import command_modules

    commands = {m.NAME for m in command_modules()}
    covered = {command_of(key, commands) for key in (*OPTION_CASES, *IMAGE_COMMANDS)}
    assert commands <= covered, f"commands without contract cases: {sorted(commands - covered)}"


# ---------------------------------------------------------------- property-based: garbage in


SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@SETTINGS
@given(
    data=st.one_of(st.binary(min_size=1, max_size=300), st.binary(max_size=300).map(PNG_SIGNATURE.__add__))
)
def test_garbage_bytes_as_an_image(data: bytes, ws: Workspace, capfd: pytest.CaptureFixture[str]) -> None:
    bad = ws.out.parent / "garbage.png"
    bad.write_bytes(data)
    line = run_refused(["quantize", bad, "-k", "4", "-o", ws.out / "q.png"], ws, capfd)
    assert "garbage.png" in line


@SETTINGS
@given(
    data=st.one_of(
        st.binary(min_size=1, max_size=300),
        st.binary(max_size=300).map(b"\x93NUMPY\x01\x00".__add__),
        st.builds(
            npy_claiming,
            st.lists(st.integers(0, 100_000), min_size=0, max_size=4).map(tuple),
            st.sampled_from(["<f4", "<f8", "|u1", "<i2", "|b1", "|O", "<c8", "<U3"]),
            st.binary(max_size=64),
        ),
    )
)
def test_garbage_bytes_as_a_depth_file(data: bytes, ws: Workspace, capfd: pytest.CaptureFixture[str]) -> None:
    bad = ws.out.parent / "garbage.npy"
    bad.write_bytes(data)
    line = run_refused(["depth", ws.corpus.photo, "--depth", bad, "-o", ws.out / "d.npy"], ws, capfd)
    assert "garbage.npy" in line
    assert not any(leak in line for leak in _LEAKS), line


@SETTINGS
@given(k=st.text(max_size=12).filter(lambda t: not 1 <= (_as_int(t) or 0) <= 4096))
def test_any_colour_count_outside_1_to_4096_is_refused(
    k: str, ws: Workspace, capfd: pytest.CaptureFixture[str]
) -> None:
    line = run_refused(["quantize", ws.corpus.flat, f"--colors={k}", "-o", ws.out / "q.png"], ws, capfd)
    assert "-k/--colors" in line, line


def _as_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
