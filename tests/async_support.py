"""Shared by the AsyncClient tests: a raw-socket server that holds each reply until the test lets
it go, so a test can cancel a task while its request is in the server's hands, and count exactly
what arrived before and after."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.client_support import read_request

Answer = Callable[[bytes], bytes]


def json_reply(status: int, body: object) -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + data


def default_answer(request: bytes) -> bytes:
    """A placement is queued as ``c1``; every read finds ``c1`` in progress."""
    if request.startswith(b"POST"):
        return json_reply(201, {"callId": "c1", "status": "queued"})
    if b" /v1/agent/calls?" in request.split(b"\r\n", 1)[0]:
        return json_reply(200, {"calls": []})
    return json_reply(200, {"id": "c1", "status": "in_progress"})


class GatedServer:
    """Reads each request whole, records it, then answers it only once `release()` was called
    (or at once after `open_gate()`). One connection a request (``Connection: close``)."""

    def __init__(self, answer: Answer = default_answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self._lock = threading.Condition()
        self._released = 0
        self._open = False
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def methods(self) -> list[str]:
        with self._lock:
            return [r.split(b" ", 1)[0].decode() for r in self.requests]

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def wait_for_requests(self, n: int, timeout: float = 30.0) -> None:
        """Block until `n` requests have been read (generous: the machine may be busy)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"expected {n} requests, got {len(self.requests)}")

    def release(self, n: int = 1) -> None:
        """Let `n` more held requests be answered."""
        with self._lock:
            self._released += n
            self._lock.notify_all()

    def open_gate(self) -> None:
        """Answer every request, held or future, at once."""
        with self._lock:
            self._open = True
            self._lock.notify_all()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
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
            except OSError:
                return
            if not request:
                return
            with self._lock:
                self.requests.append(request)
                self._lock.notify_all()
                self._lock.wait_for(lambda: self._open or self._released > 0 or self._stop.is_set())
                if not self._open and self._released > 0:
                    self._released -= 1
            try:
                conn.sendall(self.answer(request))
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.open_gate()
        self._acceptor.join(timeout=10)
        for thread in self._threads:
            thread.join(timeout=10)
        self._sock.close()


@contextmanager
def gated_server(answer: Answer = default_answer) -> Iterator[GatedServer]:
    server = GatedServer(answer)
    try:
        yield server
    finally:
        server.close()
