"""Shared by the client tests: a client on pytest-httpserver, scripted replies, and raw socket
servers for what an HTTP server library will not do (drop a connection, never answer)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from byourside import Client

API_KEY = "bys_ak_test_9f8e7d6c5b4a_SECRET"
"""A key distinctive enough that finding it anywhere (logs, errors, reprs) is never a fluke."""

PLACE_PATH = "/v1/agent/calls"
TO = "+14155550123"


class Sleeps:
    """Records the waits a client asks for, without waiting: the retry schedule as data."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def base_url(server: HTTPServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def make_client(server: HTTPServer, *, record_sleeps: Sleeps | None = None, **options: Any) -> Client:
    """A client on `server`; with `record_sleeps`, retry and poll waits are recorded, not slept."""
    from tests.async_support import make_current_client  # an AsyncClient when parametrized

    options.setdefault("timeout", (2.0, 5.0))
    client = make_current_client(API_KEY, base_url(server), **options)
    if record_sleeps is not None:
        client._sleep = record_sleeps
    return client


def reply(
    status: int, body: Any = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A reply: `body` as JSON, or `raw` bytes as they are."""
    data = raw if raw is not None else json.dumps(body).encode()
    content_type = "application/json" if raw is None else "text/html"
    return Response(data, status=status, headers=headers or {}, content_type=content_type)


def script(server: HTTPServer, path: str, replies: list[Response], *, method: str = "GET") -> None:
    """Answer requests to `path` with `replies` in turn; the last one repeats."""
    remaining = list(replies)

    def handler(_: Request) -> Response:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    server.expect_request(path, method=method).respond_with_handler(handler)


def requests_to(server: HTTPServer, path: str | None = None) -> list[Request]:
    return [request for request, _ in server.log if path is None or request.path == path]


def raw_uri(request: Request) -> str:
    """The request target exactly as sent (werkzeug decodes `path`)."""
    return str(request.environ.get("RAW_URI") or request.environ["REQUEST_URI"])


# -- raw sockets ----------------------------------------------------------------------------


def content_length(head: bytes) -> int:
    """The Content-Length an HTTP message's head declares (its last one), or 0."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return length


def read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request (head and Content-Length body) from `conn`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = content_length(head)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class RawServer:
    """A TCP server on 127.0.0.1 that reads each request whole, then misbehaves.

    `mode="drop"` closes the connection without a reply (the request was sent and read);
    `mode="silent"` holds it open and never answers. `requests` lists what was read.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def methods(self) -> list[str]:
        return [r.split(b" ", 1)[0].decode() for r in self.requests]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(5)
            try:
                request = read_request(conn)
            except OSError:
                conn.close()
                continue
            if request:
                self.requests.append(request)
            if self.mode == "drop":
                conn.close()
            else:
                self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


@contextmanager
def raw_server(mode: str) -> Iterator[RawServer]:
    server = RawServer(mode)
    try:
        yield server
    finally:
        server.close()


def refused_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def unanswered_connect_url() -> Iterator[str]:
    """A loopback URL whose connections time out: a listener that never accepts, its backlog full.

    Linux drops the SYNs of further connections once the accept queue is full, so a client's
    connect times out there without anything being sent.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(4):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        filler.connect_ex(address)
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{address[1]}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
