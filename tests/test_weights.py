"""Weights registry, cache and the real download path against a local HTTP server; `easel weights`."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import CliResult
from easel import weights
from easel.errors import InputError, WeightsError
from easel.progress import ProgressUpdate
from easel.weights import WeightsEntry, WeightsFile

Run = Callable[..., CliResult]

# ---------------------------------------------------------------- a small HTTP server


@dataclass
class FileServer:
    """Serves ``files`` (URL path -> bytes) on 127.0.0.1 with Range support.

    ``truncate`` maps a URL path to how many bytes to send before dropping the
    connection (the headers still promise the whole file); each truncation
    happens once. ``requests`` records (path, Range header) per request.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    truncate: dict[str, int] = field(default_factory=dict)
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
            pass

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            range_header = self.headers.get("Range")
            state.requests.append((self.path, range_header))
            data = state.files.get(self.path)
            if data is None:
                body = b"not found"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            start = 0
            if range_header and not state.ignore_range:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            cut = state.truncate.pop(self.path, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def dead_url() -> str:
    """A URL on a local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/model.pth"


@pytest.fixture
def registry() -> Iterator[Callable[..., WeightsEntry]]:
    """Register test entries; they are removed afterwards."""
    names: list[str] = []

    def add(
        name: str, *files: WeightsFile, licence: str = "MIT", used_by: str = "easel test"
    ) -> WeightsEntry:
        entry = WeightsEntry(
            name=name, files=files, licence=licence, used_by=used_by, description="test model"
        )
        weights.register(entry)
        names.append(name)
        return entry

    yield add
    for name in names:
        weights.unregister(name)


def payload(size: int = 300_000, seed: int = 0) -> bytes:
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def served(
    server: FileServer, path: str, data: bytes, sized: bool = True, digest: str | None = None
) -> WeightsFile:
    server.files[path] = data
    return WeightsFile(
        filename=path.rsplit("/", 1)[-1],
        url=server.url(path),
        sha256=digest or sha(data),
        size=len(data) if sized else None,
    )


# ---------------------------------------------------------------- cache location


def test_cache_dir_uses_easel_home(tmp_easel_home: Path) -> None:
    assert weights.cache_dir() == tmp_easel_home / "weights"


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/easel/weights"),
        ("linux", {}, "{home}/.cache/easel/weights"),
        ("darwin", {}, "{home}/Library/Caches/easel/weights"),
        ("win32", {"LOCALAPPDATA": "{tmp}/local"}, "{tmp}/local/easel/weights"),
        ("win32", {}, "{home}/AppData/Local/easel/weights"),
    ],
)
def test_cache_dir_platforms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, env: dict[str, str], expected: str
) -> None:
    home = tmp_path / "home"
    monkeypatch.delenv("EASEL_HOME", raising=False)
    for var in ("XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value.format(tmp=tmp_path))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(weights.sys, "platform", platform)
    assert weights.cache_dir() == Path(expected.format(tmp=tmp_path, home=home))


# ---------------------------------------------------------------- registry


def test_register_and_lookup(registry: Callable[..., WeightsEntry], tmp_easel_home: Path) -> None:
    entry = registry("test-lookup", WeightsFile("a.pth", "http://x/a.pth", "0" * 64, 10))
    assert weights.get_entry("test-lookup") is entry
    assert entry in weights.entries()
    assert weights.local_path("test-lookup") == tmp_easel_home / "weights" / "test-lookup" / "a.pth"
    assert not weights.is_present("test-lookup")
    weights.register(entry)  # the same entry again is fine
    with pytest.raises(ValueError, match="already registered"):
        weights.register(WeightsEntry("test-lookup", entry.files, "MIT", "other", "different"))
    with pytest.raises(InputError, match=r"unknown weights 'test-nope'; known weights: .*test-lookup"):
        weights.get_entry("test-nope")


def test_bad_sha256_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8 hex digits"):
        WeightsFile("a.pth", "http://x/a.pth", "abc")
    with pytest.raises(ValueError, match="hex"):
        WeightsFile("a.pth", "http://x/a.pth", "z" * 64)


def test_entry_size_and_folder() -> None:
    one = WeightsEntry("x", (WeightsFile("a", "u", "0" * 8, 5),), "MIT", "t", "d")
    two = WeightsEntry(
        "y", (WeightsFile("a", "u", "0" * 8, 5), WeightsFile("b", "u", "0" * 8, 7)), "MIT", "t", "d"
    )
    unknown = WeightsEntry(
        "z", (WeightsFile("a", "u", "0" * 8, 5), WeightsFile("b", "u", "0" * 8)), "MIT", "t", "d"
    )
    assert (one.size, one.is_folder) == (5, False)
    assert (two.size, two.is_folder) == (12, True)
    assert unknown.size is None


# ---------------------------------------------------------------- resolve()


def test_resolve_override(
    tmp_path: Path, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    registry("test-resolve", WeightsFile("a.pth", "http://127.0.0.1:9/a.pth", "0" * 64))
    own = tmp_path / "mine.pth"
    own.write_bytes(b"weights")
    assert weights.resolve("test-resolve", override=own) == own
    assert weights.resolve("test-resolve", override=str(tmp_path)) == tmp_path  # a folder is fine
    with pytest.raises(WeightsError, match="weights file not found"):
        weights.resolve("test-resolve", override=tmp_path / "missing.pth")
    empty = tmp_path / "empty.pth"
    empty.touch()
    with pytest.raises(WeightsError, match="weights file is empty"):
        weights.resolve("test-resolve", override=empty)


def test_resolve_missing_names_file_url_and_both_ways(
    registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    registry("test-missing", WeightsFile("model.pth", "https://example.org/model.pth", "0" * 64))
    with pytest.raises(WeightsError) as info:
        weights.resolve("test-missing")
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_easel_home / "weights" / "test-missing" / "model.pth") in message
    assert "https://example.org/model.pth" in message
    assert "`easel weights download test-missing`" in message
    assert "--weights PATH" in message


def test_resolve_cached(registry: Callable[..., WeightsEntry], tmp_easel_home: Path) -> None:
    data = b"cached weights"
    registry("test-cached", WeightsFile("w.bin", "http://127.0.0.1:9/w.bin", sha(data)))
    path = weights.local_path("test-cached")
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    assert weights.resolve("test-cached") == path
    assert weights.verify("test-cached") == []
    path.write_bytes(b"tampered")
    assert weights.verify("test-cached") == ["w.bin"]


# ---------------------------------------------------------------- download()


def test_download_good_file(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    data = payload()
    registry("test-good", served(server, "/good.pth", data))
    updates: list[ProgressUpdate] = []
    path = weights.download("test-good", progress=updates.append)
    assert path == weights.local_path("test-good")
    assert path.read_bytes() == data
    assert weights.is_present("test-good")
    assert weights.resolve("test-good") == path
    assert updates and updates[-1].step == updates[-1].total == len(data)
    assert updates[-1].stage == "test-good"
    assert sorted(p.name for p in path.parent.iterdir()) == ["good.pth"]
    # cached: no second request; force: one more
    weights.download("test-good")
    assert len(server.requests) == 1
    weights.download("test-good", force=True)
    assert len(server.requests) == 2


def test_download_prefix_digest_and_unknown_size(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    data = payload(50_000, seed=1)
    registry("test-prefix", served(server, "/p.pth", data, sized=False, digest=sha(data)[:8]))
    assert weights.download("test-prefix").read_bytes() == data


def test_download_wrong_checksum_removes_file(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    data = payload()
    registry("test-corrupt", served(server, "/bad.pth", data, digest="ab" * 32))
    with pytest.raises(WeightsError) as info:
        weights.download("test-corrupt")
    message = str(info.value)
    assert "checksum mismatch" in message and server.url("/bad.pth") in message
    assert "deleted" in message
    folder = weights.entry_dir("test-corrupt")
    assert not folder.exists()  # nothing left behind, not even an empty folder (issue #8)
    assert not weights.is_present("test-corrupt")


@pytest.mark.parametrize("sized", [True, False])
def test_truncated_transfer_then_resume(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path, sized: bool
) -> None:
    data = payload(400_000, seed=2)
    registry("test-trunc", served(server, "/trunc.pth", data, sized=sized))
    server.truncate["/trunc.pth"] = 150_000
    with pytest.raises(WeightsError) as info:
        weights.download("test-trunc")
    assert "run the same command again to resume" in str(info.value)
    assert not weights.is_present("test-trunc")
    part = weights.entry_dir("test-trunc") / "trunc.pth.part"
    assert part.is_file() and part.stat().st_size == 150_000
    path = weights.download("test-trunc")
    assert path.read_bytes() == data
    assert server.requests[-1] == ("/trunc.pth", "bytes=150000-")
    assert sorted(p.name for p in path.parent.iterdir()) == ["trunc.pth"]


def test_resume_when_server_ignores_range(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    data = payload(200_000, seed=3)
    registry("test-norange", served(server, "/n.pth", data))
    part = weights.entry_dir("test-norange") / "n.pth.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    server.ignore_range = True
    assert weights.download("test-norange").read_bytes() == data


@pytest.mark.parametrize("sized", [True, False])
def test_stale_complete_part_file(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path, sized: bool
) -> None:
    data = payload(10_000, seed=4)
    registry("test-complete-part", served(server, "/c.pth", data, sized=sized))
    part = weights.entry_dir("test-complete-part") / "c.pth.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data)  # the transfer finished but the rename did not happen
    assert weights.download("test-complete-part").read_bytes() == data


def test_download_404(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    registry("test-404", WeightsFile("gone.pth", server.url("/gone.pth"), "0" * 64))
    with pytest.raises(WeightsError) as info:
        weights.download("test-404")
    message = str(info.value)
    assert "HTTP 404" in message and server.url("/gone.pth") in message and "--weights PATH" in message
    assert not weights.entry_dir("test-404").exists()  # no empty folder left behind


def test_download_falls_back_to_mirrors(
    server: FileServer, dead_url: str, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    data = payload(50_000, seed=3)
    server.files["/mirror/m.pth"] = data
    server.files["/corrupt/m.pth"] = data[:-1] + b"x"
    wf = WeightsFile(
        "m.pth",
        server.url("/gone/m.pth"),  # 404
        sha(data),
        len(data),
        mirrors=(dead_url, server.url("/corrupt/m.pth"), server.url("/mirror/m.pth")),
    )
    registry("test-mirrors", wf)
    assert weights.download("test-mirrors", timeout=5).read_bytes() == data
    assert [p for p, _ in server.requests] == ["/gone/m.pth", "/corrupt/m.pth", "/mirror/m.pth"]
    assert weights.verify("test-mirrors") == []
    # every source failing: one message naming the count and the last failure
    bad = WeightsFile("n.pth", server.url("/gone/n.pth"), sha(data), mirrors=(server.url("/corrupt/m.pth"),))
    registry("test-mirrors-bad", bad)
    with pytest.raises(WeightsError, match=r"all 2 sources failed; last: .*checksum mismatch") as info:
        weights.download("test-mirrors-bad")
    assert "\n" not in str(info.value)
    assert not weights.entry_dir("test-mirrors-bad").exists()


def test_download_unreachable_is_an_offline_message(
    dead_url: str, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    registry("test-offline", WeightsFile("model.pth", dead_url, "0" * 64))
    with pytest.raises(WeightsError) as info:
        weights.download("test-offline", timeout=5)
    message = str(info.value)
    assert "\n" not in message
    assert "model.pth" in message and dead_url in message and "offline" in message
    assert "`easel weights download test-offline`" in message
    assert "--weights PATH" in message


def test_download_multi_file_entry_is_a_folder(
    server: FileServer, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    config, model = b'{"hidden": 4}', payload(20_000, seed=5)
    registry(
        "test-folder",
        served(server, "/repo/config.json", config),
        served(server, "/repo/model.safetensors", model),
    )
    stages: list[str] = []
    path = weights.download("test-folder", progress=lambda u: stages.append(u.stage))
    assert path == weights.entry_dir("test-folder") and path.is_dir()
    assert (path / "config.json").read_bytes() == config
    assert weights.resolve("test-folder") == path
    assert "test-folder: config.json (1/2)" in stages and "test-folder: model.safetensors (2/2)" in stages


# ---------------------------------------------------------------- easel weights (CLI)


def test_cli_list_table_and_json(
    run_cli: Run,
    server: FileServer,
    registry: Callable[..., WeightsEntry],
    tmp_easel_home: Path,
) -> None:
    registry(
        "test-list-a", served(server, "/a.pth", payload(1500)), licence="BSD-3-Clause", used_by="stylize"
    )
    registry("test-list-b", served(server, "/b.pth", payload(2_500_000, seed=1)), used_by="dream")
    weights.download("test-list-a")
    result = run_cli("weights", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "SIZE", "LICENCE", "USED", "BY"]
    row_a = next(line for line in lines if line.startswith("test-list-a"))
    row_b = next(line for line in lines if line.startswith("test-list-b"))
    assert row_a.split() == ["test-list-a", "present", "1.5", "kB", "BSD-3-Clause", "stylize"]
    assert row_b.split() == ["test-list-b", "missing", "2.5", "MB", "MIT", "dream"]
    part = weights.entry_dir("test-list-b") / "b.pth.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half")
    row_b = next(
        line for line in run_cli("weights", "list").out.splitlines() if line.startswith("test-list-b")
    )
    assert row_b.split()[1] == "partial"
    assert str(tmp_easel_home / "weights") in result.out

    result = run_cli("weights", "list", "--json")
    assert result.code == 0
    data = json.loads(result.out)
    assert data["cache_dir"] == str(tmp_easel_home / "weights")
    by_name = {item["name"]: item for item in data["weights"]}
    assert by_name["test-list-a"]["present"] is True and by_name["test-list-b"]["present"] is False
    assert by_name["test-list-b"]["partial"] is True
    assert by_name["test-list-b"]["size_bytes"] == 2_500_000
    assert by_name["test-list-a"]["files"][0]["url"] == server.url("/a.pth")


def test_cli_download_and_path(
    run_cli: Run,
    server: FileServer,
    registry: Callable[..., WeightsEntry],
    tmp_easel_home: Path,
) -> None:
    data = payload(5000)
    registry("test-cli-dl", served(server, "/d.pth", data))
    result = run_cli("weights", "path", "test-cli-dl")
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert "`easel weights download test-cli-dl`" in result.err and "--weights PATH" in result.err

    result = run_cli("weights", "download", "test-cli-dl")
    assert result.code == 0, result.err
    path = weights.local_path("test-cli-dl")
    assert str(path) in result.out and path.read_bytes() == data

    result = run_cli("weights", "path", "test-cli-dl")
    assert (result.code, result.out) == (0, f"{path}\n")

    result = run_cli("weights", "download", "test-cli-dl", "--quiet")
    assert (result.code, result.out) == (0, "")

    result = run_cli("weights", "verify", "test-cli-dl")
    assert result.code == 0 and "test-cli-dl: ok" in result.out
    path.write_bytes(b"tampered")
    result = run_cli("weights", "verify", "test-cli-dl")
    assert result.code == 2 and "bad checksum" in result.err
    assert "easel weights download --force test-cli-dl" in result.err


def test_cli_download_all_reports_failures_and_continues(
    run_cli: Run,
    server: FileServer,
    registry: Callable[..., WeightsEntry],
    tmp_easel_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry("test-all-ok", served(server, "/ok.pth", payload(3000)))
    registry("test-all-404", WeightsFile("x.pth", server.url("/x.pth"), "0" * 64))
    # only our entries, whatever else the installation registers
    monkeypatch.setattr(
        weights, "entries", lambda: [weights.get_entry("test-all-404"), weights.get_entry("test-all-ok")]
    )
    result = run_cli("weights", "download", "--all")
    assert result.code == 2
    assert "HTTP 404" in result.err and "1 of 2 downloads failed (test-all-404)" in result.err
    assert weights.is_present("test-all-ok")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["weights", "download"], "name the models to download"),
        (["weights", "download", "test-unknown-x"], "unknown weights 'test-unknown-x'"),
        (["weights", "path", "test-unknown-x"], "unknown weights 'test-unknown-x'"),
        (["weights", "verify", "test-unknown-x"], "unknown weights 'test-unknown-x'"),
    ],
)
def test_cli_bad_requests_exit_2(run_cli: Run, tmp_easel_home: Path, argv: list[str], message: str) -> None:
    result = run_cli(*argv)
    assert result.code == 2
    assert message in result.err and "Traceback" not in result.err
    assert result.err.count("\n") == 1


def test_cli_usage_errors(run_cli: Run, tmp_easel_home: Path) -> None:
    assert run_cli("weights").code == 2
    assert run_cli("weights", "frobnicate").code == 2
    assert run_cli("weights", "download", "a", "--all").code == 2
    assert run_cli("weights", "--help").code == 0


def test_cli_offline_download(
    run_cli: Run, dead_url: str, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    registry("test-cli-offline", WeightsFile("m.pth", dead_url, "0" * 64))
    result = run_cli("weights", "download", "test-cli-offline", "--timeout", "5")
    assert result.code == 2
    assert result.err.startswith("easel weights: error: m.pth: cannot reach")
    assert result.err.count("\n") == 1
    # a failed first download leaves no empty folder behind (issue #8)
    assert not weights.entry_dir("test-cli-offline").exists()
    assert not weights.cache_dir().exists()


def test_human_size() -> None:
    from easel.cli.weights import human_size

    assert [human_size(s) for s in (None, 0, 999, 1500, 548_102_387, 5 * 10**9)] == [
        "?",
        "0 B",
        "999 B",
        "1.5 kB",
        "548.1 MB",
        "5.0 GB",
    ]


def test_cli_download_draws_a_progress_bar_when_asked(
    run_cli: Run,
    server: FileServer,
    registry: Callable[..., WeightsEntry],
    tmp_easel_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry("test-cli-bar", served(server, "/bar.pth", payload(20_000)))
    monkeypatch.setenv("EASEL_PROGRESS", "1")
    result = run_cli("weights", "download", "test-cli-bar")
    assert result.code == 0
    assert "test-cli-bar" in result.err  # the bar's label, on stderr
    assert result.out.strip().endswith("bar.pth")


def test_unverified_entry_is_listed_but_never_downloaded(tmp_easel_home: Path) -> None:
    from easel import weights
    from easel.weights import WeightsEntry, WeightsFile

    entry = WeightsEntry(
        name="test-unverified",
        files=(WeightsFile("model.bin", "http://127.0.0.1:9/model.bin", None, None),),
        licence="CC-BY-NC-4.0",
        used_by="tests",
        description="an entry whose checksum nobody has verified",
    )
    weights.register(entry)
    try:
        assert not entry.verified
        with pytest.raises(WeightsError, match="no verified sha256.*--weights PATH"):
            weights.download("test-unverified")
        with pytest.raises(WeightsError, match="CC-BY-NC-4.0"):
            weights.resolve("test-unverified")
        assert not (weights.entry_dir("test-unverified") / "model.bin.part").exists()
    finally:
        weights.unregister("test-unverified")


# ---------------------------------------------------------------- failed downloads and foreign files (issue #8)


def test_failed_download_keeps_folders_that_were_there(
    dead_url: str, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    registry("test-kept", WeightsFile("m.pth", dead_url, "0" * 64))
    folder = weights.entry_dir("test-kept")
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine\n")
    with pytest.raises(WeightsError, match="cannot reach"):
        weights.download("test-kept", timeout=5)
    assert (folder / "notes.txt").read_text() == "mine\n"
    other = weights.cache_dir() / "other-model"
    other.mkdir()
    registry("test-gone", WeightsFile("m.pth", dead_url, "0" * 64))
    with pytest.raises(WeightsError):
        weights.download("test-gone", timeout=5)
    assert not weights.entry_dir("test-gone").exists() and other.is_dir()  # only what it made is removed


def test_interrupted_first_download_leaves_no_empty_folder(
    server: FileServer,
    registry: Callable[..., WeightsEntry],
    tmp_easel_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry("test-ctrl-c", served(server, "/c.pth", payload()))

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(weights, "_download_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        weights.download("test-ctrl-c")
    assert not weights.cache_dir().exists()


def _torch_files(folder: Path) -> dict[str, Path]:
    import torch

    files = {
        "zip": folder / "model.pth",
        "legacy": folder / "legacy.pth",
        "cut": folder / "cut.pth",
        "png": folder / "image.pth",
        "html": folder / "page.pth",
        "text": folder / "notes.pth",
        "other-zip": folder / "archive.pth",
        "safetensors": folder / "model.safetensors",
    }
    state = {"features.0.weight": torch.zeros(2, 3, 3, 3)}
    torch.save(state, files["zip"])
    torch.save(state, files["legacy"], _use_new_zipfile_serialization=False)
    files["cut"].write_bytes(files["zip"].read_bytes()[:300])
    files["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    files["html"].write_text("<!doctype html>\n<html><body>rate limited</body></html>\n")
    files["text"].write_text("weights go here\n")
    import zipfile

    with zipfile.ZipFile(files["other-zip"], "w") as archive:
        archive.writestr("readme.txt", "hello")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(4)}, str(files["safetensors"]))
    return files


def test_describe_file_kind(tmp_path: Path) -> None:
    files = _torch_files(tmp_path)
    kinds = {name: weights.describe_file_kind(path) for name, path in files.items()}
    assert kinds == {
        "zip": "a PyTorch checkpoint",
        "legacy": "a pickle file (legacy PyTorch format)",
        "cut": "a truncated or damaged ZIP file",
        "png": "a PNG image",
        "html": "an HTML page, perhaps from a failed download",
        "text": "a text file",
        "other-zip": "a ZIP archive",
        "safetensors": "a safetensors file",
    }
    (tmp_path / "empty").write_bytes(b"")
    assert weights.describe_file_kind(tmp_path / "empty") == "empty"


def test_check_weights_file(tmp_path: Path) -> None:
    files = _torch_files(tmp_path)
    assert weights.check_weights_file(files["zip"], "torch-state-dict") == files["zip"]
    assert weights.check_weights_file(files["legacy"], "torch-state-dict") == files["legacy"]
    assert weights.check_weights_file(files["safetensors"], "safetensors") == files["safetensors"]
    expected = {
        "cut": "cut.pth: PyTorch weights file is truncated or damaged",
        "png": "image.pth: not a PyTorch weights file (it is a PNG image)",
        "html": "page.pth: not a PyTorch weights file (it is an HTML page",
        "other-zip": "archive.pth: not a PyTorch weights file (it is a ZIP archive)",
        "safetensors": "model.safetensors: not a PyTorch weights file (it is a safetensors file)",
    }
    for name, start in expected.items():
        with pytest.raises(WeightsError) as info:
            weights.check_weights_file(files[name], "torch-state-dict")
        assert str(info.value).startswith(f"{tmp_path}/{start}"), str(info.value)
        assert "--weights PATH" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(
        WeightsError, match=r"model.pth: not a safetensors weights file \(it is a PyTorch checkpoint\)"
    ):
        weights.check_weights_file(files["zip"], "safetensors")
    data = files["safetensors"].read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-4])
    with pytest.raises(WeightsError, match=r"cut.safetensors: safetensors file is truncated"):
        weights.check_weights_file(tmp_path / "cut.safetensors", "safetensors")
    with pytest.raises(WeightsError, match="not found"):
        weights.check_weights_file(tmp_path / "nowhere.pth", "torch-state-dict")
    with pytest.raises(WeightsError, match="is a folder"):
        weights.check_weights_file(tmp_path, "torch-state-dict")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        weights.check_weights_file(tmp_path / "empty.pth", "torch-state-dict")


def test_timeout_option() -> None:
    import argparse

    from easel.cli.weights import timeout_seconds

    assert timeout_seconds("2.5") == 2.5
    for text in ("0", "-1", "nan", "inf", "1e9", "soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            timeout_seconds(text)


def test_sizes_in_the_docs_match_weights_list() -> None:
    """Every 'weights download NAME ... (N MB)' line in the docs quotes the size `easel weights list` shows."""
    import re

    from easel.cli.weights import human_size

    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    known = {entry.name: entry for entry in weights.entries()}
    quoted = re.compile(r"(\d+(?:\.\d+)?)\s*(kB|MB|GB)\b")
    checked = 0
    problems = []
    for page in pages:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            names = [n for n in re.findall(r"weights download ([a-z0-9-]+)", line) if n in known]
            sizes = quoted.findall(line)
            if len(names) != 1 or not sizes:
                continue
            entry = known[names[0]]
            shown = human_size(entry.size)
            for value, unit in sizes:
                checked += 1
                digits = len(value.split(".")[1]) if "." in value else 0
                if entry.size is None:  # the list shows ?: the page must say so, not quote a size as exact
                    if "`?`" not in line:
                        problems.append(
                            f"{page.name}:{number}: {entry.name} quoted as {value} {unit}, listed as ?"
                        )
                    continue
                scale = {"kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
                if round(entry.size / scale, digits) != float(value):
                    problems.append(
                        f"{page.name}:{number}: {entry.name} quoted as {value} {unit}, listed as {shown}"
                    )
    assert checked >= 2
    assert not problems, problems


def test_every_capability_registry_is_collected() -> None:
    """Registries move with their capability (style -> nets): the listing must not lose them."""
    names = {entry.name for entry in weights.entries()}
    assert {"vgg19-caffe", "vgg19-torchvision", "depth-anything-v2-small", "dpt-large", "big-lama"} <= names


def test_cli_list_shows_the_size_of_a_cached_entry_whose_size_is_not_pinned(
    run_cli: Run, registry: Callable[..., WeightsEntry], tmp_easel_home: Path
) -> None:
    registry("test-unsized", WeightsFile("u.bin", "http://127.0.0.1:9/u.bin", "0" * 64))
    listing = {item["name"]: item for item in json.loads(run_cli("weights", "list", "--json").out)["weights"]}
    assert listing["test-unsized"]["size_bytes"] is None
    folder = weights.entry_dir("test-unsized")
    folder.mkdir(parents=True)
    (folder / "u.bin").write_bytes(b"x" * 1234)
    listing = {item["name"]: item for item in json.loads(run_cli("weights", "list", "--json").out)["weights"]}
    assert listing["test-unsized"]["size_bytes"] == 1234
    assert "1.2 kB" in run_cli("weights", "list").out
