"""The studio reads and writes only inside its own folders.

Two checks: :func:`inside` (is this path, symlinks and ``..`` resolved, under one
of the studio's folders?) and :class:`PathGuard`, an ASGI middleware in front of
every route of the studio's web app. The guard refuses (403) any request whose
path, decoded as many times as it takes (``%2e%2e%2f``, ``%252e``), has a ``..``
segment, a backslash or a NUL, and any request to a file route (Gradio's
``/file=...`` and ``/file/...``) for a file outside the studio's folders. Gradio's
own ``allowed_paths`` check stays behind it; the guard does not rely on it.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from easel.errors import InputError

__all__ = [
    "PathGuard",
    "check_uploads",
    "decoded",
    "file_route_target",
    "inside",
    "refused_reason",
    "resolve_inside",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_FILE_ROUTES = ("/file=", "/file/")
_BLOCKED_ROUTES = ("/proxy=",)  # fetches URLs on the studio's behalf: never needed locally


def inside(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> bool:
    """Whether ``path`` (symlinks and ``..`` resolved; relative to the working folder) is under a root.

    Example:
        >>> inside("/srv/studio/out/a.png", ["/srv/studio"]), inside("/srv/studio/../etc/passwd", ["/srv/studio"])
        (True, False)
    """
    try:
        real = Path(os.path.realpath(os.fspath(path)))
    except (OSError, ValueError):
        return False
    for root in roots:
        base = Path(os.path.realpath(os.fspath(root)))
        if real == base or base in real.parents:
            return True
    return False


def resolve_inside(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> Path:
    """``path`` resolved, or :class:`~easel.errors.InputError` when it is outside every root.

    Example:
        >>> resolve_inside("/etc/passwd", ["/srv/studio"])
        Traceback (most recent call last):
        ...
        easel.errors.InputError: /etc/passwd: outside the studio's folders
    """
    roots = list(roots)
    if not inside(path, roots):
        raise InputError(f"{os.fspath(path)}: outside the studio's folders")
    return Path(os.path.realpath(os.fspath(path)))


def check_uploads(values: Iterable[Any], roots: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse upload values (paths, lists of paths, ``None``) naming a file outside the studio's folders.

    A page sends the paths of its uploads back with each run; Gradio checks them
    too, but a crafted request must not make a job read another file of the server.

    Example:
        >>> check_uploads([None, "/srv/studio/uploads/a.png"], ["/srv/studio"])
        >>> check_uploads([["/etc/passwd"]], ["/srv/studio"])
        Traceback (most recent call last):
        ...
        easel.errors.InputError: an upload is outside the studio's folders
    """
    roots = list(roots)
    for value in values:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            path = getattr(item, "path", item)  # a Gradio FileData or a plain path
            if path and not inside(path, roots):
                raise InputError("an upload is outside the studio's folders")


def decoded(text: str, rounds: int = 4) -> str:
    """``text`` percent-decoded until it stops changing (at most ``rounds`` times).

    Example:
        >>> decoded("%252e%252e%252fetc")
        '../etc'
    """
    for _ in range(rounds):
        plain = unquote(text)
        if plain == text:
            break
        text = plain
    return text


def file_route_target(path: str) -> str | None:
    """The file a request path asks a file route for (decoded), or ``None`` for other routes.

    Example:
        >>> file_route_target("/gradio_api/file=/tmp/x.png"), file_route_target("/gradio_api/info")
        ('/tmp/x.png', None)
    """
    plain = decoded(path)
    for marker in _FILE_ROUTES:
        at = plain.find(marker)
        if at >= 0:
            return plain[at + len(marker) :]
    return None


def refused_reason(path: str, roots: Iterable[str | os.PathLike[str]]) -> str | None:
    """Why the request path ``path`` (raw, as sent) is refused, or ``None`` when it may pass.

    Example:
        >>> refused_reason("/gradio_api/file=%2Fetc%2Fpasswd", ["/srv/studio"])
        'outside the studio'
        >>> refused_reason("/", ["/srv/studio"]) is None
        True
    """
    plain = decoded(path)
    if "\x00" in plain or "\\" in plain:
        return "bad characters"
    if any(part == ".." for part in plain.split("/")):
        return "parent folder"
    if any(marker in plain for marker in _BLOCKED_ROUTES):
        return "route disabled"
    target = file_route_target(path)
    if target is not None:
        if target.startswith(("http://", "https://", "//")) or not inside(target, roots):
            return "outside the studio"
    return None


class PathGuard:
    """ASGI middleware: 403 for any request :func:`refused_reason` refuses.

    Args:
        app: the wrapped ASGI app.
        roots: the studio's folders (outputs, temporary uploads); file routes may
            serve only files under them.

    Example:
        >>> from starlette.middleware import Middleware
        >>> Middleware(PathGuard, roots=["/srv/studio"])  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, roots: Iterable[str | os.PathLike[str]]) -> None:
        self.app = app
        self.roots = [os.fspath(r) for r in roots]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") in ("http", "websocket"):
            raw = scope.get("raw_path") or scope.get("path", "").encode()
            text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
            reason = refused_reason(text.split("?", 1)[0], self.roots)
            if reason is None:
                reason = refused_reason(str(scope.get("path", "")), self.roots)
            if reason is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = f"refused: {reason}\n".encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
