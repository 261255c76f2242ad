"""Shared by the batch tests: distinct test numbers, items, and counts of what the server stored."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from byourside.testing import FakeServer
from tests.client_support import read_request


def number(index: int) -> str:
    """A distinct number per index whose outcome is ``completed`` (none ends in 0001..0007)."""
    return f"+1415555{2000 + index:04d}"


def items(count: int, objective: str = "Confirm the appointment") -> list[dict[str, Any]]:
    """`count` items with distinct numbers, the objective naming each one's index."""
    return [{"to": number(i), "objective": f"{objective} #{i}"} for i in range(count)]


def stored_per_number(server: FakeServer) -> Counter[str]:
    """How many calls the server stored for each number."""
    return Counter(call.to for call in server.calls if call.to is not None)


def posts(server: FakeServer) -> int:
    """How many placements the server received (stored or refused)."""
    return sum(1 for request in server.requests if request.method == "POST")


# -- a raw socket server that answers by route --------------------------------------------------

Answer = Callable[[socket.socket], None]
"""Writes a reply (or not) on a connection whose request was read."""


def reply_bytes(status: int, body: bytes) -> bytes:
    """A well-formed HTTP reply with `body` and a matching Content-Length."""
    return f"HTTP/1.1 {status} Reason\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


class RoutedServer:
    """A TCP server on 127.0.0.1 that reads each request whole and lets `route(request)` answer.

    `route` gets the request's bytes and returns the reply's bytes, or an `Answer` that writes
    on the connection itself (to trickle a reply, or to write nothing). One thread per
    connection; the connection is closed after each reply. `requests` lists what was read.
    """

    def __init__(self, route: Callable[[bytes], bytes | Answer]) -> None:
        self.route = route
        self.requests: list[bytes] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def posts(self) -> int:
        """How many placements were read."""
        return sum(1 for request in self.requests if request.startswith(b"POST "))

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                request = read_request(conn)
                if not request:
                    return
                self.requests.append(request)
                answer = self.route(request)
                if isinstance(answer, bytes):
                    conn.sendall(answer)
                else:
                    answer(conn)
            except OSError:
                pass  # the client gave up first

    def close(self) -> None:
        self._stop.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=35)


@contextmanager
def routed_server(route: Callable[[bytes], bytes | Answer]) -> Iterator[RoutedServer]:
    server = RoutedServer(route)
    try:
        yield server
    finally:
        server.close()
