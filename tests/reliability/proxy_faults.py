"""The faults of the fault proxy (`tests.reliability.fault_proxy`), and the bytes each sends.

A `Fault` names a class (``kind``) and one of its `VARIANTS`; `draw_fault` draws one. `deliver`
writes a reply to the client as a fault says, and says whether the connection stays open.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import time
from dataclasses import dataclass, replace
from typing import Literal

from tests.client_support import content_length

__all__ = [
    "FAULT_KINDS",
    "GATEWAY_PAGES",
    "PASS",
    "REFUSALS",
    "VARIANTS",
    "Fault",
    "FaultKind",
    "MessageStream",
    "RawReply",
    "deliver",
    "draw_fault",
    "hang_up",
    "interim_replies",
]

FaultKind = Literal[
    "pass", "interim", "trickle", "reset", "garble", "stray", "refuse", "gateway", "idle_close", "stall"
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "interim",
    "trickle",
    "reset",
    "garble",
    "stray",
    "refuse",
    "gateway",
    "idle_close",
    "stall",
)
VARIANTS: dict[FaultKind, tuple[str, ...]] = {
    "pass": ("",),
    # Which 1xx statuses, bare or with headers, and when: before the server is asked (the final
    # reply follows once it answers), in one write with the final reply, or a moment before it.
    "interim": tuple(
        f"{codes} {headers} {when}"
        for codes in ("100", "102", "103", "100+103", "102+103")
        for headers in ("bare", "headers")
        for when in ("early", "joined", "late")
    ),
    "trickle": ("pieces", "head bytewise"),
    # Where the connection ends; "before_forward" ends it before the server hears of the request.
    "reset": ("before_forward", "before_reply", "mid_status", "mid_headers", "mid_body"),
    "garble": ("not_json", "html", "wrong_shape", "short_length", "empty", "bad_gzip"),
    # Another request's reply (or this one's again) right after this one, in the same write.
    "stray": ("other", "again"),
    # A reply that proves nothing was done; the server never hears of the request.
    "refuse": ("rate_limited", "store_error", "placement_failed", "over_minute_cap"),
    # A gateway's error page in place of the server's reply (which it did receive).
    "gateway": ("html_502", "json_504"),
    "idle_close": ("fin", "rst"),
    "stall": ("late", "silent"),
}


@dataclass(frozen=True)
class Fault:
    """What one exchange meets. `rst` ends a connection with a reset instead of a FIN; `gap` is
    seconds (between an interim and the final reply, between trickled pieces, of a stall);
    `cut` is where in its part of the reply a cut falls (0..1)."""

    kind: FaultKind
    variant: str = ""
    rst: bool = False
    gap: float = 0.0
    cut: float = 0.5
    pieces: int = 1

    @property
    def forwards(self) -> bool:
        """Whether the server receives the request."""
        return not (self.kind == "refuse" or (self.kind == "reset" and self.variant == "before_forward"))

    @property
    def label(self) -> str:
        ending = " rst" if self.rst and self.kind == "reset" else ""
        return f"{self.kind} {self.variant}{ending}".strip()


PASS = Fault("pass")


def draw_fault(rng: random.Random, kind: FaultKind, *, stall: float = 0.2) -> Fault:
    """A fault of `kind` with a variant and parameters drawn from `rng`; a stall lasts `stall` s."""
    variant = rng.choice(VARIANTS[kind])
    if kind == "interim":
        return Fault(kind, variant, gap=0.015 if variant.endswith("late") else 0.0)
    if kind == "trickle":
        return Fault(kind, variant, gap=rng.choice([0.0, 0.0005, 0.002]), pieces=rng.randint(2, 12))
    if kind == "reset":
        return Fault(kind, variant, rst=rng.random() < 0.5, cut=rng.random())
    if kind == "idle_close":
        return Fault(kind, variant, rst=variant == "rst")
    if kind == "garble":
        return Fault(kind, variant, cut=rng.random())
    if kind == "stall":
        return Fault(kind, variant, gap=stall)
    return Fault(kind, variant)


# -- replies as bytes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RawReply:
    """An HTTP/1.1 reply: status, reason, headers in order, body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def with_body(
        self, body: bytes, *, length: int | None = None, extra: dict[str, str] | None = None
    ) -> RawReply:
        """This reply with `body`, its Content-Length set to `length` (default: the body's) and
        the `extra` headers replacing any of the same name."""
        extra = extra or {}
        names = {"content-length", *(name.lower() for name in extra)}
        headers = [(k, v) for k, v in self.headers if k.lower() not in names]
        headers += list(extra.items())
        headers.append(("Content-Length", str(len(body) if length is None else length)))
        return replace(self, headers=tuple(headers), body=body)

    def head(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {self.reason}", *(f"{k}: {v}" for k, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def encode(self) -> bytes:
        return self.head() + self.body


class MessageStream:
    """HTTP/1.1 messages (head and Content-Length body) read one at a time from a socket.

    What follows a message stays buffered for the next: a client whose pool desynchronised may
    send its next request before it has read the reply to the last, and each is its own exchange.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffered = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffered += chunk
        return bool(chunk)

    def message(self) -> tuple[bytes, bytes] | None:
        """The next message's head (with its blank line) and body; None if the peer closed first.

        Raises ConnectionError when the peer closes mid-message.
        """
        while b"\r\n\r\n" not in self.buffered:
            if not self._fill():
                if not self.buffered:
                    return None
                raise ConnectionError("the connection closed mid-head")
        head, _, rest = self.buffered.partition(b"\r\n\r\n")
        length = content_length(head)
        while len(rest) < length:
            if not self._fill():
                raise ConnectionError("the connection closed mid-body")
            rest = self.buffered.partition(b"\r\n\r\n")[2]
        self.buffered = rest[length:]
        return head + b"\r\n\r\n", rest[:length]

    def reply(self) -> RawReply:
        """The next message, as a reply."""
        message = self.message()
        if message is None:
            raise ConnectionError("the server closed the connection before replying")
        head, body = message
        status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        _, status, reason = [*status_line.split(" ", 2), ""][:3]
        headers = tuple((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines))
        return RawReply(int(status), reason, headers, body)


def _json_reply(status: int, reason: str, payload: object, extra: dict[str, str] | None = None) -> RawReply:
    base = RawReply(status, reason, (("Content-Type", "application/json"),), b"")
    return base.with_body(json.dumps(payload).encode(), extra=extra)


REFUSALS: dict[str, RawReply] = {
    "rate_limited": _json_reply(429, "Too Many Requests", {"error": "rate_limited"}, {"Retry-After": "0"}),
    "store_error": _json_reply(503, "Service Unavailable", {"error": "store_error"}),
    "placement_failed": _json_reply(502, "Bad Gateway", {"error": "placement_failed"}),
    "over_minute_cap": _json_reply(429, "Too Many Requests", {"error": "over_minute_cap"}),
}
GATEWAY_PAGES: dict[str, RawReply] = {
    "html_502": RawReply(502, "Bad Gateway", (("Content-Type", "text/html"),), b"").with_body(
        b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    ),
    "json_504": _json_reply(504, "Gateway Timeout", {"message": "upstream request timeout"}),
}
_INTERIM_HEADERS = "Link: </calls.css>; rel=preload\r\nX-Progress: working\r\n"


def interim_replies(variant: str) -> bytes:
    codes = variant.split()[0].split("+")
    headers = _INTERIM_HEADERS if " headers " in variant else ""
    reasons = {"100": "Continue", "102": "Processing", "103": "Early Hints"}
    return b"".join(f"HTTP/1.1 {c} {reasons[c]}\r\n{headers}\r\n".encode() for c in codes)


def _garbled(reply: RawReply, fault: Fault) -> tuple[bytes, bool]:
    """The garbled form of a 2xx `reply`, and whether the connection ends after it."""
    body = reply.body
    if fault.variant == "not_json":
        return reply.with_body(body[: int(len(body) * fault.cut)] + b"\x00}").encode(), False
    if fault.variant == "html":
        return reply.with_body(b"<html>OK</html>", extra={"Content-Type": "text/html"}).encode(), False
    if fault.variant == "wrong_shape":
        shapes = [b'{"status": "queued"}', b"[]", b'{"callId": 42, "id": null}']
        return reply.with_body(shapes[int(fault.cut * len(shapes)) % len(shapes)]).encode(), False
    if fault.variant == "short_length":
        return reply.with_body(body, length=len(body) + 16).encode(), True
    if fault.variant == "empty":
        return reply.with_body(b"").encode(), False
    return reply.with_body(body, extra={"Content-Encoding": "gzip"}).encode(), False  # bad_gzip


def _cut_point(data: bytes, start: int, end: int, cut: float) -> int:
    """A point strictly inside data[start:end] (at least one byte in, at least one short)."""
    end = max(min(end, len(data)), start + 2)
    return start + 1 + int(cut * (end - start - 2))


# -- delivery ---------------------------------------------------------------------------------------


def deliver(conn: socket.socket, fault: Fault, reply: RawReply, data: bytes, stray: bytes | None) -> bool:
    """Write `reply` (`data`, its bytes) to `conn` as `fault` says; False when the connection
    ended. `stray` is the reply to the request before, if any."""
    kind, variant = fault.kind, fault.variant
    if kind == "interim":
        if variant.endswith("late"):
            conn.sendall(interim_replies(variant))
            time.sleep(fault.gap)
        conn.sendall(interim_replies(variant) + data if variant.endswith("joined") else data)
        return True
    if kind == "trickle":
        head = len(reply.head())
        if variant == "head bytewise":
            cuts = list(range(1, head))
        else:
            cuts = sorted(
                {_cut_point(data, 0, len(data), (i + 0.5) / fault.pieces) for i in range(fault.pieces - 1)}
            )
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            conn.sendall(data[start:end])
            if fault.gap:
                time.sleep(fault.gap)
        return True
    if kind == "reset":
        status_end = data.index(b"\r\n")
        head = len(reply.head())
        spans = {"mid_status": (0, status_end), "mid_headers": (status_end + 2, head - 4)}
        start, end = spans.get(variant, (head, len(data)))
        if variant != "before_reply":
            conn.sendall(data[: _cut_point(data, start, end, fault.cut)])
        return hang_up(conn, fault.rst)
    if kind == "garble":
        garbled, ends = _garbled(reply, fault)
        conn.sendall(garbled)
        return not ends or hang_up(conn, rst=False)
    if kind == "stray":
        conn.sendall(data + (stray if variant == "other" and stray not in (None, data) else data))
        return True
    if kind == "gateway":
        conn.sendall(GATEWAY_PAGES[variant].encode())
        return True
    if kind == "idle_close":
        conn.sendall(data)
        return hang_up(conn, fault.rst)
    if kind == "stall":
        time.sleep(fault.gap)
        if variant == "silent":
            return hang_up(conn, rst=False)
    conn.sendall(data)
    return True


def hang_up(conn: socket.socket, rst: bool) -> bool:
    """End the connection (with a reset: SO_LINGER 0); always False (the connection is over)."""
    with contextlib.suppress(OSError):
        if rst:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            conn.shutdown(socket.SHUT_WR)
        conn.close()
    return False
