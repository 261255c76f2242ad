"""Shared by the batch tests: distinct test numbers, items, and counts of what the server stored."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from byourside.testing import FakeServer
from tests.client_support import read_request
from tests.reliability.support import ScriptedServer


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
    # Connection: close: the server closes after each reply, so the client never sends its next
    # request on a connection that is being closed (which would look like a dropped placement).
    head = f"HTTP/1.1 {status} Reason\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


class RoutedServer(ScriptedServer):
    """A TCP server on 127.0.0.1 that reads each request whole and lets `route(request)` answer.

    `route` gets the request's bytes and returns the reply's bytes, or an `Answer` that writes
    on the connection itself (to trickle a reply, or to write nothing). One thread per
    connection; the connection is closed after each reply. `requests` lists what was read.
    """

    def __init__(self, route: Callable[[bytes], bytes | Answer]) -> None:
        self.route = route
        super().__init__()

    def _serve(self, conn: socket.socket, responder: Answer) -> None:
        # The route answers by the request read on this connection (the responder is unused).
        with conn:
            conn.settimeout(30)
            try:
                request = read_request(conn)
                if not request:
                    return
                self.requests.append(request)
                answer = self.route(request)
                conn.sendall(answer) if isinstance(answer, bytes) else answer(conn)
            except OSError:
                pass  # the client gave up first


@contextmanager
def routed_server(route: Callable[[bytes], bytes | Answer]) -> Iterator[RoutedServer]:
    server = RoutedServer(route)
    try:
        yield server
    finally:
        server.close()
