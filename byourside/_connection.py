"""The connections of the SDK's own session: interim replies read past, and a wall-clock budget on
every read of a reply.

* ``http.client`` skips only ``100 Continue``. A ``102 Processing`` or ``103 Early Hints`` (sent by
  some proxies and CDNs) is taken for the final reply, and the real reply stays unread on a pooled
  connection, where the next request would read it as its own. `FinalReplyResponse` reads past
  every interim reply to the final one, as HTTP/1.1 requires.
* A read timeout bounds each read of the socket, so a server trickling a byte at a time can hold a
  request for as long as it likes. While an exchange runs under a budget (`exchange_deadline`),
  each read of its reply (status line, headers and body) waits at most the time left, and fails
  with `BudgetExceeded` once none is left.

These classes go into the urllib3 pools of the SDK's own session only (see `POOL_CLASSES`); a
session passed in by the caller keeps the connections of its adapters.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

__all__ = [
    "MAX_INTERIM_REPLIES",
    "NO_RETRIES",
    "POOL_CLASSES",
    "BudgetExceeded",
    "FinalReplyResponse",
    "exchange_deadline",
    "may_resend",
]

NO_RETRIES = Retry(0, read=False)
"""requests' own default: every failure is raised at once, for the SDK's retry policy to judge."""


def may_resend(retries: Retry) -> bool:
    """Whether urllib3 could send a request again under `retries`: under any total but exactly 0
    (even ``Retry(total=3)``'s defaults resend a POST after some errors, a TLS one mid-reply)."""
    total = retries.total
    return not (isinstance(total, int) and not isinstance(total, bool) and total == 0)


MAX_INTERIM_REPLIES = 16
"""Interim replies read past; the reply after them is taken as it is (and refused if it is a 1xx)."""

# The monotonic time by which the exchange running in this thread must be over; None: no budget.
_deadline: ContextVar[float | None] = ContextVar("byourside_exchange_deadline", default=None)


@contextlib.contextmanager
def exchange_deadline(deadline: float | None) -> Iterator[None]:
    """Bound the reads of every reply started in this thread (or task) until exit by `deadline`,
    a `time.monotonic()` value; None leaves them to the read timeout alone."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


class BudgetExceeded(TimeoutError):
    """The time budget of an exchange ran out while its reply was being read.

    A `TimeoutError`, so urllib3 reports it as the read timeout it is, and drops the connection.
    """


class _DeadlineReader(io.RawIOBase):
    """The socket's reads, each cut to the time left before `deadline`."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        # A socket file, as http.client's own: it keeps the socket open while the reply is read,
        # even when the connection lets go of it first (a reply with ``Connection: close``).
        self._raw = sock.makefile("rb", buffering=0)
        self._sock = sock
        self._deadline = deadline
        self._read_timeout = sock.gettimeout()  # urllib3 set it for this reply

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise BudgetExceeded("the exchange's time budget ran out while its reply was read")
        self._sock.settimeout(left if self._read_timeout is None else min(self._read_timeout, left))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class FinalReplyResponse(http.client.HTTPResponse):
    """http.client's reply, read past interim (1xx) replies, its reads bounded by the budget of the
    exchange when there is one."""

    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        deadline = _deadline.get()
        if deadline is not None:
            self.fp.close()
            self.fp = io.BufferedReader(_DeadlineReader(sock, deadline))

    def _read_status(self) -> tuple[str, int, str]:
        # begin() calls this until the status is not 100; every other interim reply is read past
        # here, headers and all. 101 (Switching Protocols) is a final reply: refused for its status.
        version, status, reason = super()._read_status()  # type: ignore[misc]
        for _ in range(MAX_INTERIM_REPLIES):
            if not 102 <= status < 200:
                break
            http.client.parse_headers(self.fp)
            version, status, reason = super()._read_status()  # type: ignore[misc]
        return version, status, reason


class _HTTPConnection(HTTPConnection):
    response_class = FinalReplyResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = FinalReplyResponse


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": _HTTPConnectionPool,
    "https": _HTTPSConnectionPool,
}
"""urllib3 pool classes by scheme, for a PoolManager's ``pool_classes_by_scheme``."""
