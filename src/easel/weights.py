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
    "easel.style.registry",
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
    """Add ``entry`` to the registry (capability modules and tests call this)."""
    if entry.name in _REGISTRY and not replace and _REGISTRY[entry.name] != entry:
        raise ValueError(f"weights entry {entry.name!r} is already registered")
    _REGISTRY[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove an entry (for tests)."""
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
    """Every registered entry, sorted by name."""
    _load_entry_modules()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_entry(name: str) -> WeightsEntry:
    """The entry called ``name``; :class:`InputError` listing the known names otherwise."""
    _load_entry_modules()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise InputError(f"unknown weights {name!r}; known weights: {known}") from None


def cache_dir() -> Path:
    """The folder holding downloaded weights (``$EASEL_HOME/weights`` or the platform cache)."""
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
    """The cache folder of entry ``name`` (it may not exist yet)."""
    return cache_dir() / get_entry(name).name


def local_path(name: str) -> Path:
    """Where the cached weights of ``name`` live: the file, or the folder of a multi-file entry."""
    entry = get_entry(name)
    folder = entry_dir(name)
    return folder if entry.is_folder else folder / entry.files[0].filename


def is_present(name: str) -> bool:
    """Whether every file of ``name`` is in the cache (complete downloads only)."""
    folder = entry_dir(name)
    return all((folder / f.filename).is_file() for f in get_entry(name).files)


def missing_message(name: str) -> str:
    """The offline error text: which file is missing and the two ways to supply it."""
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


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
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
    folder.mkdir(parents=True, exist_ok=True)
    for index, wf in enumerate(entry.files, start=1):
        dest = folder / wf.filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_file() and not force:
            continue
        stage = f"{name}: {wf.filename}" if entry.is_folder else name
        if entry.is_folder:
            stage += f" ({index}/{len(entry.files)})"
        url = _download_from_any(wf, dest, progress, stage, timeout, name)
        log.info("downloaded %s to %s", url, dest)
    return local_path(name)


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
    """Check every cached file of ``name`` against its sha256; return the bad file names."""
    entry = get_entry(name)
    folder = entry_dir(name)
    bad = []
    for wf in entry.files:
        path = folder / wf.filename
        if not path.is_file() or wf.sha256 is None or not sha256_of(path).startswith(wf.sha256.lower()):
            bad.append(wf.filename)
    return bad


def present_names(names: Iterable[str] | None = None) -> list[str]:
    """Names of the entries whose files are all cached."""
    return [e.name for e in entries() if (names is None or e.name in names) and is_present(e.name)]
