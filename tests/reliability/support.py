"""Shared by the reliability tests: the suite's API key and the check that it never leaks, a
client on driven time with instant retries, and a raw TCP server that answers whatever bytes a
test scripts (what no HTTP server library will send: bad status lines, lying lengths, endless
bodies)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from byourside import Client
from byourside._retry import RetryTiming
from tests.async_support import make_current_client
from tests.client_support import read_request

API_KEY = "bys_ak_reliability_7Hq2_SECRET_c0ffee"
"""The one key of the reliability suite; distinctive, so finding it anywhere is never a fluke."""

SECRETS = (API_KEY, API_KEY.removeprefix("bys_ak_"))
"""The key and its secret part: neither may appear in an exception, a log record or a repr."""

SILENCE = 30.0
"""How long a silent server holds a connection: far past every timeout in the suite."""

INSTANT_RETRIES = RetryTiming(base_delay=0.0, max_delay=0.0, retry_after_cap=60.0)
"""No backoff between retries (a Retry-After is still honoured, on the driven clock)."""


def leaks(text: str) -> bool:
    """Whether `text` contains the key or its secret part."""
    return any(secret in text for secret in SECRETS)


def assert_secret_free(*things: object) -> None:
    """The key is in no str or repr of `things`; for exceptions, in no message, argument, note or
    body of the error or of anything it was raised from: everything a printed traceback shows
    but the source lines."""
    for thing in things:
        texts = [str(thing), repr(thing)]
        if isinstance(thing, BaseException):
            seen: list[BaseException] = []
            current: BaseException | None = thing
            while current is not None and not any(current is s for s in seen):
                seen.append(current)
                texts.extend([str(current), repr(current), *map(repr, current.args)])
                texts.extend(getattr(current, "__notes__", []))
                body = getattr(current, "body", None)
                if isinstance(body, bytes):
                    texts.append(body.decode("latin-1"))
                sent = getattr(current, "request", None)  # requests' exceptions keep the request
                texts.append(repr(dict(getattr(sent, "headers", None) or {})))
                current = current.__cause__ or current.__context__
        for text in texts:
            assert not leaks(text), f"the API key leaked into {type(thing).__name__}: {text[:300]!r}"


class DrivenTime:
    """A client's clock and sleep: sleeping moves the clock at once, and every wait is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)


def driven_client(base_url: str, *, time: DrivenTime | None = None, **options: Any) -> Client:
    """A client on `base_url` with the suite's key, driven time and instant retries.

    Only the waits are driven: socket timeouts stay real, so a slow reply still times out. In a
    test using the ``each_client_kind`` fixture it is an AsyncClient in the second run.
    """
    client = make_current_client(API_KEY, base_url, **options)  # an AsyncClient when parametrized
    driven = time or DrivenTime()
    # The client's documented test seams (see its constructor); the retry timing has no public knob.
    client._sleep = driven.sleep
    client._clock = driven.clock
    client._retry_timing = INSTANT_RETRIES
    return client


# -- a server that sends what a test scripts ------------------------------------------------

Responder = Callable[[socket.socket], None]
"""Writes a reply (or does not) on a connection whose request has been read."""


class ScriptedServer:
    """A TCP server on 127.0.0.1: reads each request, then lets the current responder answer.

    One thread per connection, so a responder may stall or stream without holding up the next
    connection. The connection is closed when the responder returns; with `keep_alive`, the next
    request is read from it instead, until the client closes it.
    """

    def __init__(self, *, keep_alive: bool = False) -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        """How many connections were accepted."""
        self._keep_alive = keep_alive
        self._responder: Responder = send(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def posts(self) -> int:
        """How many POSTs (placements) were read."""
        return sum(1 for request in self.requests if request.startswith(b"POST "))

    def respond(self, responder: Responder) -> None:
        """Answer every request from now on with `responder`."""
        self._responder = responder

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn, self._responder), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, responder: Responder) -> None:
        with conn:
            conn.settimeout(10)
            try:
                while request := read_request(conn):
                    self.requests.append(request)
                    responder(conn)
                    if not self._keep_alive:
                        break
            except OSError:
                pass  # the client gave up first: that is what some tests are about

    def close(self) -> None:
        self._stop.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def scripted_server(*, keep_alive: bool = False) -> Iterator[ScriptedServer]:
    server = ScriptedServer(keep_alive=keep_alive)
    try:
        yield server
    finally:
        server.close()


def send(data: bytes) -> Responder:
    """A responder that writes `data` and closes."""

    def respond(conn: socket.socket) -> None:
        conn.sendall(data)

    return respond


def http_reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """A well-formed reply: the status line, `headers`, a matching Content-Length, `body`."""
    lines = [f"HTTP/1.1 {status} Reason", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@contextlib.contextmanager
def raw_reply_server(reply: bytes) -> Iterator[str]:
    """The URL of a server that answers every request with `reply`, byte for byte."""
    with scripted_server() as server:
        server.respond(send(reply))
        yield server.url
