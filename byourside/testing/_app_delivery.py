"""Webhook delivery into an in-process WSGI or ASGI app (a Flask or FastAPI app object), no socket.

`FakeServer(webhook_apps={"https://myapp.test": app})` sends every event whose ``webhookUrl``
starts with that origin straight into ``app``: the same POST (path, query, headers, exact body) a
real server would hand it, and the status it answers decides redelivery as over HTTP. An
exception escaping the app counts as a 500, as a real server would answer.

WSGI or ASGI is told apart by the app's ``__call__``: a coroutine function is ASGI (3.0, HTTP
scope only; the app's lifespan events are not run). ASGI apps run on one event loop kept for the
server's life, so resources an app binds to its loop keep working from one delivery to the next.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["AppDelivery", "match_app_origin"]

_Reply = tuple[int | None, str | None]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def match_app_origin(apps: Mapping[str, object], url: str) -> str | None:
    """The origin of `apps` that `url` is on, or None when it goes over HTTP."""
    origin = _origin(url)
    return origin if origin in apps else None


def is_asgi(app: object) -> bool:
    """Whether `app` is an ASGI app (its call is a coroutine function) rather than WSGI."""
    call = app if inspect.isfunction(app) else getattr(app, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(call)


class AppDelivery:
    """Delivers POSTs into apps by origin; one event loop (created lazily) for ASGI apps."""

    def __init__(self, apps: Mapping[str, object]) -> None:
        normalised: dict[str, object] = {}
        for origin, app in apps.items():
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(
                    f"webhook_apps keys are origins such as 'https://myapp.test', got {origin!r}"
                )
            if not callable(app):
                raise TypeError(f"webhook_apps[{origin!r}] is not a WSGI or ASGI app: {app!r}")
            normalised[_origin(origin)] = app
        self.apps = normalised
        self._loop: asyncio.AbstractEventLoop | None = None

    def post(self, origin: str, url: str, body: bytes, headers: Mapping[str, str]) -> _Reply:
        """POST `body` to `url` inside the app of `origin`: ``(status, None)`` or ``(None, error)``."""
        app: Any = self.apps[origin]
        parts = urlsplit(url)
        try:
            if is_asgi(app):
                return self._post_asgi(app, parts.scheme, parts.hostname or "", parts.port, parts.path,
                                       parts.query, body, headers), None
            return _post_wsgi(app, parts.scheme, parts.hostname or "", parts.port, parts.path,
                              parts.query, body, headers), None
        except Exception as error:  # the app raised: a real server answers 500
            return 500, f"{type(error).__name__} raised by the app: {error}"

    def close(self) -> None:
        """Close the ASGI event loop, if one was made."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _post_asgi(self, app: Any, scheme: str, host: str, port: int | None, path: str, query: str,
                   body: bytes, headers: Mapping[str, str]) -> int:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        port = port or (443 if scheme == "https" else 80)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": scheme,
            "path": path or "/",
            "raw_path": (path or "/").encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", host.encode())]
            + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
            "server": (host, port),
            "client": ("127.0.0.1", 0),
            "state": {},
        }
        return self._loop.run_until_complete(_run_asgi(app, scope, body))


async def _run_asgi(app: Any, scope: dict[str, Any], body: bytes) -> int:
    status: list[int] = []
    finished = asyncio.Event()
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # the client stays connected until the reply is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await app(scope, receive, send)
    finished.set()
    if not status:
        raise RuntimeError("the ASGI app returned without starting a response")
    return status[0]


def _post_wsgi(app: Callable[..., Iterable[bytes]], scheme: str, host: str, port: int | None, path: str,
               query: str, body: bytes, headers: Mapping[str, str]) -> int:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path or "/",
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port or (443 if scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    status: list[int] = []

    def start_response(line: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status[:] = [int(line.split(" ", 1)[0])]
        return lambda data: None

    reply = app(environ, start_response)
    try:
        for _ in reply:  # the body is read as a server would, and dropped
            pass
    finally:
        close = getattr(reply, "close", None)
        if close is not None:
            close()
    if not status:
        raise RuntimeError("the WSGI app returned without calling start_response")
    return status[0]
