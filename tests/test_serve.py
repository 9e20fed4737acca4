"""A live studio server (no browser): Gradio's file routes refuse every way to reach /etc/passwd; logins."""

from __future__ import annotations

import gc
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from easel.web import Studio, StudioSettings, start
from easel.web.server import Server

pytestmark = [
    # the event loop and sockets Gradio's server leaves to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve")
    studio = Studio(StudioSettings(root / "outputs", temp=root / "temp"))
    (studio.outputs / "job").mkdir()
    (studio.outputs / "job" / "art.png").write_bytes(b"\x89PNG not really")
    (studio.outputs / "job" / "passwd").symlink_to("/etc/passwd")
    (studio.outputs / "job" / "root").symlink_to("/", target_is_directory=True)
    outside = root / "outside.txt"
    outside.write_text("SECRET-OUTSIDE")
    (studio.outputs / "job" / "outside.txt").symlink_to(outside)
    server = start(studio, port=_free_port())
    try:
        yield server
    finally:
        server.close()
        gc.collect()  # under this module's warning filters


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


ATTACKS = [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=%252Fetc%252Fpasswd",
    "/gradio_api/file/etc/passwd",
    "/file=/etc/passwd",
    "/gradio_api/file={out}/../../../../../../etc/passwd",
    "/gradio_api/file={out}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/gradio_api/file={out}/%252e%252e/%252e%252e/%252e%252e/%252e%252e/etc/passwd",
    "/gradio_api/file={out}/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/file={out}/..%5c..%5c..%5c..%5cetc%5cpasswd",
    "/gradio_api/file={out}/job/passwd",
    "/gradio_api/file={out}/job/root/etc/passwd",
    "/gradio_api/file={out}/job/outside.txt",
    "/gradio_api/file=etc/passwd",
    "/gradio_api/file=../../../../etc/passwd",
    "/gradio_api/proxy=http://127.0.0.1/",
    "/assets/../../../../etc/passwd",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_no_route_reads_outside_the_studio(server: Server, attack: str) -> None:
    url = server.url.rstrip("/") + attack.format(out=server.studio.outputs)
    # urllib would normalise `..` away; send the path exactly as written
    request = urllib.request.Request(url)
    request.selector = url[len(server.url.rstrip("/")) :]
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        status, body = int(exc.code), exc.read()
    assert status in (400, 403, 404), (attack, status)
    assert b"root:" not in body and b"SECRET-OUTSIDE" not in body


def test_files_in_the_outputs_are_served(server: Server) -> None:
    status, body = _get(f"{server.url}gradio_api/file={server.studio.outputs}/job/art.png")
    assert status == 200 and body == b"\x89PNG not really"
    status, _ = _get(server.url)
    assert status == 200


def test_logins_guard_the_page(tmp_path: Path) -> None:
    studio = Studio(StudioSettings(tmp_path / "outputs", temp=tmp_path / "temp"))
    server = start(studio, host="0.0.0.0", port=_free_port(), logins=[("ada", "s3cret")])
    try:
        local = server.url.replace("0.0.0.0", "127.0.0.1")
        status, _ = _get(f"{local}gradio_api/info")
        assert status == 401
        data = b"username=ada&password=wrong"
        request = urllib.request.Request(f"{local}login", data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        assert status in (400, 401)
    finally:
        server.close()
        gc.collect()
    assert os.environ.get("GRADIO_TEMP_DIR") == str(studio.uploads)
