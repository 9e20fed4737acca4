"""Serving the studio: the bind rule, logins, and the Gradio server behind the path guard.

The studio listens on the loopback address unless told otherwise; any other
address needs logins (:func:`check_bind`). Public share links are never made.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from easel.errors import InputError
from easel.web.app import CSS, Studio
from easel.web.page import build_page
from easel.web.paths import PathGuard

__all__ = ["Server", "check_bind", "is_loopback", "parse_login", "read_logins", "start"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``).

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, logins: Sequence[tuple[str, str]]) -> None:
    """Refuse to listen beyond this machine without logins.

    Raises:
        InputError: ``host`` is not a loopback address and there are no logins.

    Example:
        >>> check_bind("0.0.0.0", [])
        Traceback (most recent call last):
        ...
        easel.errors.InputError: --host 0.0.0.0 would let other machines use the studio: give --auth USER:PASS or --auth-file FILE (or keep the default --host 127.0.0.1)
    """
    if not is_loopback(host) and not logins:
        raise InputError(
            f"--host {host} would let other machines use the studio: give --auth USER:PASS or "
            "--auth-file FILE (or keep the default --host 127.0.0.1)"
        )


def parse_login(text: str, where: str = "--auth") -> tuple[str, str]:
    """``"user:pass"`` -> ``("user", "pass")``.

    Example:
        >>> parse_login("ada:s3cret:x")
        ('ada', 's3cret:x')
    """
    user, sep, password = text.partition(":")
    if not sep or not user.strip() or not password:
        raise InputError(f"{where}: expected USER:PASS with both parts non-empty")
    return user.strip(), password


def read_logins(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """The ``user:pass`` lines of a file (blank lines and ``#`` comments skipped).

    Example:
        >>> read_logins("logins.txt")  # doctest: +SKIP
        [('ada', 's3cret')]
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--auth-file {p}: cannot read it ({exc.__class__.__name__})") from None
    logins = [
        parse_login(line.strip(), f"--auth-file {p} line {n}")
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not logins:
        raise InputError(f"--auth-file {p}: no USER:PASS line in it")
    return logins


@dataclass
class Server:
    """A running studio server.

    Attributes:
        url: where it listens (``http://127.0.0.1:7860/``).
        blocks: the Gradio ``Blocks``.
        studio: the studio.

    Example:
        >>> server = start(Studio(StudioSettings(Path("outputs/studio"))), port=7860)  # doctest: +SKIP
        >>> server.close()  # doctest: +SKIP
    """

    url: str
    blocks: Any
    studio: Studio
    loops: list[asyncio.AbstractEventLoop] = field(default_factory=list)
    """Event loops Gradio made while starting (it sets one on the calling thread), closed with the server."""

    def close(self) -> None:
        """Stop listening and remove the studio's own temporary folder (the outputs stay)."""
        self.blocks.close()
        self.studio.close()
        for loop in self.loops:
            if not loop.is_running() and not loop.is_closed():
                loop.close()


def _open_loops() -> set[asyncio.AbstractEventLoop]:
    loops = [o for o in gc.get_objects() if issubclass(type(o), asyncio.AbstractEventLoop)]
    return {loop for loop in loops if not loop.is_closed()}


def start(
    studio: Studio,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    logins: Sequence[tuple[str, str]] = (),
    quiet: bool = True,
) -> Server:
    """Start serving ``studio`` in the background and return the :class:`Server`.

    The bind rule is checked first (:func:`check_bind`). Every request goes
    through :class:`~easel.web.paths.PathGuard`; Gradio may serve files only from
    the studio's folders; uploads over the limit are refused by the server.

    Example:
        >>> server = start(Studio(StudioSettings(Path("outputs/studio"))), port=7860)  # doctest: +SKIP
        >>> server.url  # doctest: +SKIP
        'http://127.0.0.1:7860/'
    """
    check_bind(host, logins)
    os.environ["GRADIO_TEMP_DIR"] = str(studio.uploads)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from starlette.middleware import Middleware

    before = _open_loops()
    blocks = build_page(studio)
    blocks.queue(default_concurrency_limit=None, max_size=None)
    roots = [str(r) for r in studio.roots]
    _, url, _ = blocks.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=list(logins) or None,
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=False,
        inbrowser=False,
        allowed_paths=roots,
        max_file_size=studio.settings.limits.max_upload_bytes,
        app_kwargs={"middleware": [Middleware(PathGuard, roots=roots)]},
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        footer_links=[],
        css=CSS,
    )
    return Server(url, blocks, studio, loops=list(_open_loops() - before))
