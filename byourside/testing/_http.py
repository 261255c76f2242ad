"""The fake server's HTTP layer: a threaded stdlib server on loopback that records and answers.

It knows sockets, not the API: every request is read whole, recorded as a `RecordedRequest`,
handed to the service (`byourside.testing._api`), and its `Reply` written back, or cut short the
way an injected fault asks (a dropped connection, a truncated body, a delay).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HttpServer", "RecordedRequest", "Reply"]

_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake server received, as it arrived (before any check).

    ``path`` is the raw path without the query (``/v1/agent/calls/c%201``); ``headers`` keep the
    names as sent (`header` looks one up in any case). The ``Authorization`` header is hidden
    from ``repr`` so a printed request never shows a key.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str] = field(repr=False)
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``default``."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not)."""
        return json.loads(self.body)


@dataclass
class Reply:
    """What to answer: status, headers and body, or one of the faults' ways of not answering."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    truncate: bool = False
    delay: float = 0.0


Handler = Callable[[RecordedRequest], Reply]


class HttpServer(ThreadingHTTPServer):
    """A `ThreadingHTTPServer` on 127.0.0.1 that passes every request to ``handle``."""

    daemon_threads = True
    # Each test gets a fresh port; reusing one that lingers in TIME_WAIT is fine on loopback.
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: 16 clients connecting at once overflow it and
    # some get a connection reset before their request is read.
    request_queue_size = 128

    def __init__(self, handle: Handler, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _RequestHandler)
        self.handle_request_record = handle
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when the client hung up first (it timed out on a ``slow`` reply, say):
        that is a test doing its job, not a server error worth a traceback on stderr."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Close every open connection, as a stopping server does (idle keep-alives included)."""
        self.stopping.set()
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as the service and a requests.Session use; every reply sets Content-Length.
    protocol_version = "HTTP/1.1"
    server: HttpServer  # pyright: ignore[reportIncompatibleVariableOverride]
    server_version = "byourside-fake-server"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the client's
        # delayed ACK add ~40 ms to every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: a test's output is no place for an access log."""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self._write(Reply(413, b'{"error":"body_too_large"}'))
            self.close_connection = True
            return
        target = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=target.path,
            query=target.query,
            headers=dict(self.headers.items()),
            body=body,
        )
        reply = self.server.handle_request_record(request)
        if reply.delay and self.server.stopping.wait(reply.delay):
            reply.drop = True
        if reply.drop:
            # No status line at all: the client sees the connection close mid-request.
            self.close_connection = True
            return
        self._write(reply)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, reply: Reply) -> None:
        body = reply.body[: len(reply.body) // 2] if reply.truncate else reply.body
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
