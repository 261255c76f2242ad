"""A fault-injecting TCP proxy on 127.0.0.1, between a client and a server (a FakeServer).

The proxy reads each request whole from the client and asks its plan which `Fault` the exchange
meets. It then forwards the request to the server (or not: a fault may answer, or hang up, before
the server hears of it), reads the server's reply whole, and delivers it as the fault says:
interim 1xx replies before it, trickled in pieces, cut off by a reset or a close anywhere in it,
garbled, followed by a reply that belongs to another request, replaced by a gateway's page, held
past the client's read timeout. Connections are kept alive on both sides, as the service's are,
so a client that reads a reply uncleanly and reuses its connection meets the consequences.

Whatever the client was told, the server's store says what really happened: the proxy forwards a
request at most once and never on its own.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.reliability.proxy_faults import (
    PASS,
    REFUSALS,
    Fault,
    MessageStream,
    RawReply,
    deliver,
    hang_up,
    interim_replies,
)

__all__ = ["Exchange", "FaultProxy", "Plan"]


# -- the proxy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """A request as the plan sees it: its method and route, its subject (the number a placement
    dials, the number of the call a read asks for, or ``list``), and how many requests with the
    same method and subject came before it through this proxy."""

    method: str
    path: str
    subject: str
    occurrence: int


Plan = Callable[[Exchange], Fault]


@dataclass
class _Upstream:
    """One kept-alive connection to the server, opened on first use."""

    address: tuple[str, int]
    stream: MessageStream | None = None

    def ask(self, request: bytes) -> RawReply:
        if self.stream is None:
            self.stream = MessageStream(socket.create_connection(self.address, timeout=10))
        self.stream.sock.sendall(request)
        return self.stream.reply()

    def close(self) -> None:
        if self.stream is not None:
            self.stream.sock.close()


class FaultProxy:
    """Listens on 127.0.0.1; `url` is where a client goes instead of `upstream_url`.

    `close()` drains: once the client is closed, every request it wrote is still read, forwarded
    and answered (into a closed socket, if need be) before `close()` returns, so the server's
    store is the whole truth by then.
    """

    def __init__(self, upstream_url: str, plan: Plan) -> None:
        target = urlsplit(upstream_url)
        self._address = (target.hostname or "127.0.0.1", target.port or 80)
        self._plan = plan
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.02)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._met: list[tuple[Exchange, Fault]] = []  # every exchange and the fault it met
        self._numbers: dict[str, str] = {}  # call id -> the number it dials, from placement replies
        self._seen: dict[tuple[str, str], int] = {}
        self._last_reply: bytes | None = None
        self._lock = threading.Lock()
        self._open = 0
        self._idle = threading.Condition(self._lock)
        self._draining = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy-accept", daemon=True)
        self._acceptor.start()

    def faults(self) -> list[Fault]:
        with self._lock:
            return [fault for _, fault in self._met]

    def close(self, timeout: float = 20.0) -> bool:
        """Serve what the client already wrote, then stop; False if a connection would not end."""
        self._draining.set()
        self._acceptor.join(timeout)
        with self._idle:
            quiet = self._idle.wait_for(lambda: self._open == 0, timeout)
        self._listener.close()
        return quiet and not self._acceptor.is_alive()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                if self._draining.is_set():
                    return  # nothing waits in the backlog
                continue
            except OSError:
                return
            with self._lock:
                self._open += 1
            threading.Thread(target=self._serve, args=(conn,), name="fault-proxy-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        upstream = _Upstream(self._address)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(10)
        client = MessageStream(conn)
        try:
            while self._request_waits(client):
                request = client.message()
                if request is None or not self._exchange(conn, b"".join(request), upstream):
                    break
        except OSError:
            pass  # the client hung up (it timed out, or gave up): the test is about what it did next
        finally:
            upstream.close()
            with contextlib.suppress(OSError):
                conn.close()
            with self._idle:
                self._open -= 1
                self._idle.notify_all()

    def _request_waits(self, client: MessageStream) -> bool:
        """Block until the client sends something (or hangs up); False once draining and idle."""
        while True:
            readable, _, _ = select.select([client.sock], [], [], 0.02)
            if readable or client.buffered:
                return True
            if self._draining.is_set():
                return False

    def _describe(self, request: bytes) -> Exchange:
        head, _, body = request.partition(b"\r\n\r\n")
        method, path = head.split(b" ", 2)[:2]
        route = urlsplit(path.decode("latin-1")).path
        subject = "list"
        if method == b"POST":
            with contextlib.suppress(ValueError, AttributeError):
                subject = str(json.loads(body).get("to"))
        elif route.rstrip("/") != "/v1/agent/calls":
            call_id = route.rsplit("/", 1)[-1]
            with self._lock:
                subject = self._numbers.get(call_id, call_id)
        with self._lock:
            key = (method.decode(), subject)
            occurrence = self._seen.get(key, 0)
            self._seen[key] = occurrence + 1
        return Exchange(method.decode(), route, subject, occurrence)

    def _exchange(self, conn: socket.socket, request: bytes, upstream: _Upstream) -> bool:
        """Forward and deliver one request as its fault says; False when the connection ends."""
        exchange = self._describe(request)
        fault = self._plan(exchange)
        if fault.kind == "refuse":
            self._record(exchange, fault)
            conn.sendall(REFUSALS[fault.variant].encode())
            return True
        if not fault.forwards:
            self._record(exchange, fault)
            return hang_up(conn, fault.rst)
        if fault.kind == "interim" and fault.variant.endswith("early"):
            conn.sendall(interim_replies(fault.variant))  # "the service is working on it", before it is asked
        reply = upstream.ask(request)
        self._learn(exchange, reply)
        if fault.kind == "garble" and not 200 <= reply.status < 300:
            fault = PASS  # only a 2xx can be garbled; another reply goes through as it is
        self._record(exchange, fault)
        data = reply.encode()
        with self._lock:
            stray, self._last_reply = self._last_reply, data
        return deliver(conn, fault, reply, data, stray)

    def _record(self, exchange: Exchange, fault: Fault) -> None:
        with self._lock:
            self._met.append((exchange, fault))

    def _learn(self, exchange: Exchange, reply: RawReply) -> None:
        if exchange.method == "POST" and 200 <= reply.status < 300:
            with contextlib.suppress(ValueError, AttributeError):
                call_id = json.loads(reply.body).get("callId")
                with self._lock:
                    self._numbers[str(call_id)] = exchange.subject
