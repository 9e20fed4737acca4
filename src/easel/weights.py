"""Registry, cache and download of pretrained model files.

Every pretrained file easel can use is described once, by a :class:`WeightsEntry`
(name, URLs, sha256, size, licence, what uses it). Entries live next to the
code that uses them, in ``easel/<capability>/registry.py`` modules, and are
collected here. Files are cached under ``$EASEL_HOME/weights`` or, without
``EASEL_HOME``, the platform cache folder (``~/.cache/easel/weights`` on Linux).

Nothing is ever downloaded implicitly: model-backed code calls :func:`resolve`,
which returns a local path (a ``--weights PATH`` override, or the cached copy)
or raises :class:`~easel.errors.WeightsError` saying how to get the file.

Example:
    >>> path = resolve("vgg19-caffe", override=None)  # doctest: +SKIP
    >>> download("vgg19-caffe")                        # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

from easel.errors import InputError, WeightsError
from easel.progress import ProgressFn, report

log = logging.getLogger(__name__)

# Capability modules that contribute registry entries (each defines ENTRIES).
_ENTRY_MODULES: tuple[str, ...] = (
    "easel.nets.registry",
    "easel.dream.registry",
    "easel.depth.registry",
    "easel.scene3d.registry",
    "easel.flythrough.registry",
)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsFile:
    """One downloadable file of a weights entry.

    Attributes:
        filename: name inside the entry's cache folder.
        url: where it is published.
        sha256: hex sha256 of the file, or a published prefix of it (at least
            8 hex digits, as in torchvision's ``vgg19-dcbb9e9d.pth`` names); the
            download is checked against it. ``None`` when no checksum has been
            verified: the entry is listed (with its licence) but ``download``
            refuses it, and the user supplies the file with ``--weights``.
        size: size in bytes, when known (used for listing and resuming).
        mirrors: other URLs serving the same bytes, tried in order when ``url``
            fails (HTTP error, unreachable, or a checksum mismatch).

    Example:
        >>> file = get_entry("vgg19-caffe").files[0]
        >>> file.filename, file.size
        ('vgg19-d01eb7cb.pth', 574679411)
    """

    filename: str
    url: str
    sha256: str | None
    size: int | None = None
    mirrors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.sha256 is None:
            return
        digest = self.sha256.lower()
        if len(digest) < 8 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{self.filename}: sha256 must be at least 8 hex digits")

    @property
    def verified(self) -> bool:
        """Whether downloads of this file can be checked against a known sha256."""
        return self.sha256 is not None

    @property
    def urls(self) -> tuple[str, ...]:
        """``url`` then the mirrors."""
        return (self.url, *self.mirrors)


@dataclass(frozen=True)
class WeightsEntry:
    """A named pretrained model: one file, or several that form a folder.

    Attributes:
        name: registry key (``vgg19-caffe``), as typed on the command line.
        files: the files; with one file :func:`resolve` returns the file, with
            several the folder holding them (e.g. a Hugging Face snapshot).
        licence: SPDX-like licence of the weights (shown by ``easel weights list``).
        used_by: the commands that use it.
        description: one line for humans.
        homepage: where the model is documented.
        fmt: file format (``torch-state-dict``, ``hf-transformers``, ``safetensors``).

    Example:
        >>> entry = get_entry("vgg19-caffe")
        >>> entry.licence, entry.fmt, entry.used_by
        ('CC-BY-4.0', 'torch-state-dict', 'stylize')
    """

    name: str
    files: tuple[WeightsFile, ...]
    licence: str
    used_by: str
    description: str
    homepage: str = ""
    fmt: str = "torch-state-dict"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)

    @property
    def is_folder(self) -> bool:
        return len(self.files) > 1

    @property
    def verified(self) -> bool:
        """Whether every file has a known sha256 (only verified entries are downloadable)."""
        return all(f.verified for f in self.files)


_REGISTRY: dict[str, WeightsEntry] = {}
_LOADED_MODULES: set[str] = set()


def register(entry: WeightsEntry, replace: bool = False) -> WeightsEntry:
    """Add ``entry`` to the registry (capability modules and tests call this).

    Example:
        >>> files = (WeightsFile("net.pth", "https://example.org/net.pth", None),)
        >>> entry = register(WeightsEntry("my-net", files, "MIT", "my tool", "a network of mine"))
        >>> get_entry("my-net") is entry
        True
        >>> unregister("my-net")
    """
    if entry.name in _REGISTRY and not replace and _REGISTRY[entry.name] != entry:
        raise ValueError(f"weights entry {entry.name!r} is already registered")
    _REGISTRY[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove an entry (for tests).

    Example:
        >>> files = (WeightsFile("net.pth", "https://example.org/net.pth", None),)
        >>> _ = register(WeightsEntry("my-net", files, "MIT", "my tool", "a network of mine"))
        >>> unregister("my-net")
        >>> "my-net" in [e.name for e in entries()]
        False
    """
    _REGISTRY.pop(name, None)


def _load_entry_modules() -> None:
    for module_name in _ENTRY_MODULES:
        if module_name in _LOADED_MODULES:
            continue
        _LOADED_MODULES.add(module_name)
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:  # the capability's package is not there yet
            spec = None
        if spec is None:
            continue
        module = importlib.import_module(module_name)
        for entry in getattr(module, "ENTRIES", ()):
            register(entry)


def entries() -> list[WeightsEntry]:
    """Every registered entry, sorted by name.

    Example:
        >>> "vgg19-caffe" in [e.name for e in entries()]
        True
    """
    _load_entry_modules()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_entry(name: str) -> WeightsEntry:
    """The entry called ``name``; :class:`InputError` listing the known names otherwise.

    Example:
        >>> get_entry("big-lama").used_by
        'kenburns --inpaint lama'
    """
    _load_entry_modules()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise InputError(f"unknown weights {name!r}; known weights: {known}") from None


def cache_dir() -> Path:
    """The folder holding downloaded weights (``$EASEL_HOME/weights`` or the platform cache).

    Example:
        >>> cache_dir()  # with EASEL_HOME=/data/easel  # doctest: +SKIP
        PosixPath('/data/easel/weights')
    """
    home = os.environ.get("EASEL_HOME")
    if home:
        return Path(home).expanduser() / "weights"
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "easel" / "weights"


def entry_dir(name: str) -> Path:
    """The cache folder of entry ``name`` (it may not exist yet).

    Example:
        >>> entry_dir("vgg19-caffe")  # doctest: +SKIP
        PosixPath('/data/easel/weights/vgg19-caffe')
    """
    return cache_dir() / get_entry(name).name


def local_path(name: str) -> Path:
    """Where the cached weights of ``name`` live: the file, or the folder of a multi-file entry.

    Example:
        >>> local_path("vgg19-caffe")  # doctest: +SKIP
        PosixPath('/data/easel/weights/vgg19-caffe/vgg19-d01eb7cb.pth')
    """
    entry = get_entry(name)
    folder = entry_dir(name)
    return folder if entry.is_folder else folder / entry.files[0].filename


def is_present(name: str) -> bool:
    """Whether every file of ``name`` is in the cache (complete downloads only).

    Example:
        >>> is_present("vgg19-caffe")  # doctest: +SKIP
        True
    """
    folder = entry_dir(name)
    return all((folder / f.filename).is_file() for f in get_entry(name).files)


def missing_message(name: str) -> str:
    """The offline error text: which file is missing and the two ways to supply it.

    Example:
        >>> print(missing_message("vgg19-caffe"))  # doctest: +SKIP
    """
    entry = get_entry(name)
    urls = " ".join(f.url for f in entry.files)
    if not entry.verified:
        return (
            f"weights {name!r} are not in the cache ({local_path(name)}); no verified checksum is "
            f"recorded for them, so fetch {urls} yourself (licence {entry.licence}) "
            f"and pass the file with --weights PATH"
        )
    return (
        f"weights {name!r} are not in the cache ({local_path(name)}); "
        f"get them with `easel weights download {name}` (downloads {urls}) "
        f"or pass a local copy with --weights PATH"
    )


def resolve(name: str, override: str | os.PathLike[str] | None = None) -> Path:
    """Return a local path to the weights of ``name`` without downloading anything.

    Args:
        name: registry name, used when ``override`` is ``None``.
        override: a user-supplied file or folder (``--weights PATH``).

    Raises:
        WeightsError: the override does not exist, or the cache lacks the files.

    Example:
        >>> resolve("vgg19-caffe", override="~/models/vgg19.pth")  # doctest: +SKIP
        PosixPath('/home/me/models/vgg19.pth')
    """
    if override is not None:
        path = Path(override).expanduser()
        if not path.exists():
            raise WeightsError(f"{path}: weights file not found")
        if path.is_file() and path.stat().st_size == 0:
            raise WeightsError(f"{path}: weights file is empty")
        return path
    if is_present(name):
        return local_path(name)
    raise WeightsError(missing_message(name))


# ---------------------------------------------------------------- file formats

_SAFETENSORS_MAX_HEADER = 100 << 20  # the safetensors library's own limit on the JSON header


def describe_file_kind(path: str | os.PathLike[str]) -> str:
    """What a file looks like from its first bytes, for "not a weights file" messages.

    Returns:
        A short phrase: ``"a PyTorch checkpoint"``, ``"a safetensors file"``,
        ``"a PNG image"``, ``"an HTML page"``, ``"a text file"``, ``"empty"`` ...

    Example:
        >>> describe_file_kind("vgg19.pth")  # doctest: +SKIP
        'a PyTorch checkpoint'
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc.__class__.__name__})"
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(p)
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "a pickle file (legacy PyTorch format)"
    if _safetensors_problem(p) is None:
        return "a safetensors file"
    signatures = {
        b"\x89PNG": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
        b"GIF8": "a GIF image",
        b"\x1f\x8b": "a gzip archive",
        b"\x93NUMPY": "a NumPy array",
        b"%PDF": "a PDF document",
    }
    for magic, kind in signatures.items():
        if head.startswith(magic):
            return kind
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "an HTML page, perhaps from a failed download"
    if text.startswith((b"{", b"[")):
        return "a JSON file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    return "a text file"


_DAMAGED_ZIP = "a truncated or damaged ZIP file"


def _zip_kind(path: Path) -> str:
    """A PyTorch checkpoint (a ZIP holding ``<name>/data.pkl``), another ZIP, or a damaged one."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return _DAMAGED_ZIP
    return "a PyTorch checkpoint" if any(n.endswith("data.pkl") for n in names) else "a ZIP archive"


def _safetensors_problem(path: Path) -> str | None:
    """``None`` for a complete safetensors file, else what is wrong with it."""
    import json
    import struct

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                return "too short"
            (length,) = struct.unpack("<Q", prefix)
            if length < 2 or length > min(_SAFETENSORS_MAX_HEADER, size - 8):
                return "no safetensors header"
            header = json.loads(fh.read(length).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return "no safetensors header"
    if not isinstance(header, dict):
        return "no safetensors header"
    end = 0
    for key, value in header.items():
        if key == "__metadata__":
            continue
        offsets = value.get("data_offsets") if isinstance(value, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            return "no safetensors header"
        end = max(end, offsets[1])
    if 8 + length + end > size:
        return f"truncated: its header describes {8 + length + end} bytes but the file has {size}"
    return None


def check_weights_file(path: str | os.PathLike[str], fmt: str) -> Path:
    """Check that ``path`` holds weights of format ``fmt`` before a loader opens it.

    A loader's own errors (torch's unpickling messages, safetensors' header
    errors) are not for users; this names the file and what it is instead.

    Args:
        path: the file (``--weights PATH`` or a cached file).
        fmt: ``"torch-state-dict"`` (a ``torch.save`` file) or ``"safetensors"``.

    Returns:
        ``Path(path)``.

    Raises:
        WeightsError: missing, empty, truncated, or another kind of file.

    Example:
        >>> check_weights_file("vgg19-dcbb9e9d.pth", "torch-state-dict")  # doctest: +SKIP
        PosixPath('vgg19-dcbb9e9d.pth')
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(
            f"{p}: weights file not found" if not p.exists() else f"{p}: is a folder, not a weights file"
        )
    if p.stat().st_size == 0:
        raise WeightsError(f"{p}: weights file is empty")
    fix = "download it again or pass the right file with --weights PATH"
    if fmt == "safetensors":
        problem = _safetensors_problem(p)
        if problem is None:
            return p
        if problem.startswith("truncated"):
            raise WeightsError(f"{p}: safetensors file is {problem}; {fix}")
        raise WeightsError(f"{p}: not a safetensors weights file (it is {describe_file_kind(p)}); {fix}")
    if fmt == "torch-state-dict":
        kind = describe_file_kind(p)
        if kind in ("a PyTorch checkpoint", "a pickle file (legacy PyTorch format)"):
            return p
        if kind == _DAMAGED_ZIP:
            raise WeightsError(f"{p}: PyTorch weights file is truncated or damaged; {fix}")
        raise WeightsError(f"{p}: not a PyTorch weights file (it is {kind}); {fix}")
    raise ValueError(f"unknown weights format {fmt!r}")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks.

    Example:
        >>> sha256_of(Path("vgg19-d01eb7cb.pth"))[:8]  # doctest: +SKIP
        'd01eb7cb'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _SourceFailed(WeightsError):
    """One URL could not deliver the file (another mirror may)."""


def _check_digest(path: Path, wf: WeightsFile, url: str) -> None:
    actual = sha256_of(path)
    if wf.sha256 is None or not actual.startswith(wf.sha256.lower()):
        raise _SourceFailed(
            f"{wf.filename}: checksum mismatch for {url} "
            f"(expected sha256 {wf.sha256}, got {actual}); the corrupt download was deleted"
        )


def _download_file(
    wf: WeightsFile,
    url: str,
    dest: Path,
    progress: ProgressFn | None,
    stage: str,
    timeout: float,
    name: str = "",
) -> None:
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if wf.size is not None and have > wf.size:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"User-Agent": "easel"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (URLs come from the registry)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the open connection
        if exc.code == 416 and have and (wf.size is None or have == wf.size):
            response = None  # the part file is already complete (the checksum below decides)
        else:
            raise _SourceFailed(
                f"{wf.filename}: download failed: HTTP {exc.code} from {url}; "
                f"download it by hand and pass it with --weights PATH"
            ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _SourceFailed(
            f"{wf.filename}: cannot reach {url} ({reason}); you seem to be offline: "
            f"run `easel weights download {name or dest.parent.name}` again when online, "
            f"or fetch the file elsewhere and copy it to {dest} or pass it with --weights PATH"
        ) from None
    if response is not None:
        with response:
            resumed = have > 0 and response.status == 206
            total = wf.size or 0
            if not total:
                length = response.headers.get("Content-Length")
                total = (int(length) + (have if resumed else 0)) if length else 0
            done = have if resumed else 0
            mode = "ab" if resumed else "wb"
            last = 0.0
            try:
                with open(part, mode) as fh:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        fh.write(chunk)
                        done += len(chunk)
                        now = time.monotonic()
                        if now - last > 0.1:
                            report(progress, stage, done, total)
                            last = now
            except (HTTPException, OSError) as exc:
                raise WeightsError(
                    f"{wf.filename}: download from {url} was interrupted ({exc.__class__.__name__}); "
                    f"run the same command again to resume"
                ) from None
            report(progress, stage, done, total)
            if total and done < total:
                # The server promised more than it sent (a dropped connection): keep the
                # part file for resuming instead of failing the checksum and deleting it.
                raise WeightsError(
                    f"{wf.filename}: download from {url} stopped at {done} of {total} bytes; "
                    f"run the same command again to resume"
                )
    size = part.stat().st_size
    if wf.size is not None and size < wf.size:
        raise WeightsError(
            f"{wf.filename}: download from {url} stopped at {size} of {wf.size} bytes; "
            f"run the same command again to resume"
        )
    try:
        _check_digest(part, wf, url)
    except WeightsError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)


def download(
    name: str,
    progress: ProgressFn | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the files of ``name`` into the cache; return :func:`local_path`.

    Downloads resume from a ``.part`` file left by an interrupted run, are
    checked against the registry's sha256, and appear under their final name
    only when complete and correct.

    Raises:
        WeightsError: HTTP error, no network, interrupted transfer or bad checksum.

    Example:
        >>> download("vgg19-caffe")  # doctest: +SKIP
        PosixPath('/data/easel/weights/vgg19-caffe/vgg19-d01eb7cb.pth')
    """
    entry = get_entry(name)
    unverified = [wf for wf in entry.files if not wf.verified]
    if unverified:
        wf = unverified[0]
        raise WeightsError(
            f"{name}: no verified sha256 is recorded for {wf.filename}, so easel will not download it; "
            f"fetch {wf.url} yourself (licence {entry.licence}) and pass it with --weights PATH"
        )
    folder = entry_dir(name)
    created = _make_folders(folder)
    try:
        for index, wf in enumerate(entry.files, start=1):
            dest = folder / wf.filename
            created += _make_folders(dest.parent)
            if dest.is_file() and not force:
                continue
            stage = f"{name}: {wf.filename}" if entry.is_folder else name
            if entry.is_folder:
                stage += f" ({index}/{len(entry.files)})"
            url = _download_from_any(wf, dest, progress, stage, timeout, name)
            log.info("downloaded %s to %s", url, dest)
    except BaseException:
        # a failed first download (offline, 404, Ctrl-C) leaves no empty folders behind;
        # folders holding a .part file to resume from are kept
        _remove_empty(created)
        raise
    return local_path(name)


def _make_folders(folder: Path) -> list[Path]:
    """``mkdir -p folder``; return the folders it created, outermost first."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(
            f"cannot create the weights folder {folder} ({exc.strerror or exc.__class__.__name__}); "
            "set EASEL_HOME to a writable folder"
        ) from None
    return missing[::-1]


def _remove_empty(folders: list[Path]) -> None:
    """Remove the given folders that are empty, innermost first."""
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:  # not empty (a .part file to resume from) or already gone
            pass


def _download_from_any(
    wf: WeightsFile, dest: Path, progress: ProgressFn | None, stage: str, timeout: float, name: str
) -> str:
    """Download ``wf`` from its URL or, when that fails, from each mirror in turn; return the URL used."""
    failures: list[str] = []
    for url in wf.urls:
        try:
            _download_file(wf, url, dest, progress, stage, timeout, name=name)
            return url
        except _SourceFailed as exc:
            failures.append(str(exc))
            if url != wf.urls[-1]:
                log.warning("%s; trying the next mirror", exc)
    if len(failures) == 1:
        raise WeightsError(failures[0])
    raise WeightsError(f"{wf.filename}: all {len(failures)} sources failed; last: {failures[-1]}")


def verify(name: str) -> list[str]:
    """Check every cached file of ``name`` against its sha256; return the bad file names.

    Example:
        >>> verify("vgg19-caffe")  # [] when every cached file matches  # doctest: +SKIP
        []
    """
    entry = get_entry(name)
    folder = entry_dir(name)
    bad = []
    for wf in entry.files:
        path = folder / wf.filename
        if not path.is_file() or wf.sha256 is None or not sha256_of(path).startswith(wf.sha256.lower()):
            bad.append(wf.filename)
    return bad


def present_names(names: Iterable[str] | None = None) -> list[str]:
    """Names of the entries whose files are all cached.

    Example:
        >>> present_names(["vgg19-caffe", "big-lama"])  # doctest: +SKIP
        ['vgg19-caffe']
    """
    return [e.name for e in entries() if (names is None or e.name in names) and is_present(e.name)]
