"""The HTTP transport: the only module that imports `requests`.

One `requests.Session` (connection reuse), the SDK's headers, (connect, read) timeouts, and the
boundary where `requests` exceptions become `NetworkError`. That boundary decides the one thing
the retry policy cannot see for itself: whether a failed POST may have reached the service.

* Not sent: a refused connection, a failed name lookup, a connect timeout, a certificate that did
  not verify. requests raises `ConnectTimeout`, or a `ConnectionError` wrapping urllib3's
  `NewConnectionError` / `ConnectTimeoutError`. Nothing left this machine.
* May have been sent: a read timeout, a connection dropped after the request was written, a reply
  cut short or not valid HTTP. A POST that failed so may have placed the call (`may_have_placed=True`).

That is decided from this request's own failure only: what requests and urllib3 raised for it and
wrapped (`__cause__`, arguments, `.reason`), never the `__context__` of an exception the caller was
handling when it sent the request, which may well be a refused connection of its own.

Replies are streamed and counted: a body over `MAX_REPLY_BYTES` (after decompression) is refused
without being read whole, as is one whose Content-Length declares more, whatever the status. A
connection whose reply was not read completely and cleanly is closed, never pooled: no reply is
ever read as another request's.

Requests go through the session's adapter directly, not `Session.send`: that method reads a
redirect's whole body into memory even with redirects off (to offer `Response.next`). A POST never
goes through a urllib3 `Retry` that could send it again (a caller's adapter is copied for it
without its retries). The SDK's own session reads past interim (1xx) replies and can bound a whole
exchange by wall-clock time (see `_connection`).

A `Transport` may be shared by threads (requests' connection pool is thread-safe for sending)
and survives `os.fork`: a child process that uses it gets a session of its own, because the
parent's pooled sockets would interleave both processes' requests on one connection.
"""

from __future__ import annotations

import copy
import logging
import os
import platform
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar
from requests.hooks import dispatch_hook
from requests.structures import CaseInsensitiveDict
from urllib3 import PoolManager
from urllib3.exceptions import ConnectTimeoutError, HTTPError
from urllib3.exceptions import InvalidHeader as ReplyHeaderInvalid

from byourside._connection import NO_RETRIES, POOL_CLASSES, BudgetExceeded, exchange_deadline, may_resend
from byourside._version import __version__
from byourside.errors import CODE_MESSAGES, MAY_HAVE_PLACED_HINT, NetworkError

__all__ = [
    "MAX_REPLY_BYTES",
    "POOL_SIZE",
    "USER_AGENT",
    "Method",
    "Reply",
    "Session",
    "Timeout",
    "Transport",
    "failed_before_sending",
]

logger = logging.getLogger("byourside")

USER_AGENT = f"byourside/{__version__} python/{platform.python_version()}"
"""Sent with every request: the SDK, its version and the Python running it."""

Session = requests.Session
"""The session type `Client(session=...)` takes, named here so that only this module imports requests."""

Method = Literal["GET", "POST"]
Timeout = tuple[float, float]
"""(connect, read) seconds."""

MAX_REPLY_BYTES = 10 * 1024 * 1024
"""The largest reply body read (10 MiB, counted after decompression). The API's replies are a few
KiB (a list of 100 calls with transcripts stays well under 1 MiB); anything larger is refused as
``invalid_response`` rather than held in memory."""

_CHUNK_BYTES = 64 * 1024

POOL_SIZE = 32
"""Connections kept open per host: one for each of up to 32 threads sharing a client (requests
keeps 10; an 11th thread's connection would be opened for one request and thrown away)."""

# What requests and urllib3 raise for a request that failed. Some replies escape their wrapping:
# urllib3's own errors (a reply with conflicting Content-Lengths) and ValueErrors of odd replies;
# BudgetExceeded is raised between the chunks of a body read through a caller's adapter (whose
# connections do not bound each read by the budget: a large body sent slowly stops there).
_TRANSPORT_ERRORS = (requests.RequestException, HTTPError, ValueError, BudgetExceeded)


@dataclass(frozen=True)
class Reply:
    """An HTTP reply as read: the status, the raw body and the headers (case-insensitive)."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    problem: str | None = None
    """Why the body is not the whole reply (over the size limit, undecodable); None when it is."""


class _BearerAuth(AuthBase):
    """Sets the Authorization header. Passed as `auth=` so that a ~/.netrc entry (which requests
    applies when no auth is given) can never replace the key; its repr never shows the key."""

    def __init__(self, api_key: str) -> None:
        self._header = f"Bearer {api_key}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<redacted>)"


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and everything it wraps: its explicit causes and the exceptions held in its args
    (requests keeps urllib3's MaxRetryError in args, which keeps its cause in `.reason`).

    Never `__context__`: an exception raised inside an ``except`` block has the one being handled
    as its context, and in a caller's ``except ConnectionError:`` that is some other request's
    failure, which would make a placement that was sent look like one that never left.
    """
    seen: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked: list[Any] = [current.__cause__, getattr(current, "reason", None)]
        linked.extend(current.args)
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return seen


# requests refuses these while preparing the request, before any connection is opened.
_REFUSED_BEFORE_SENDING: tuple[type[requests.RequestException], ...] = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


def failed_before_sending(error: BaseException) -> bool:
    """Whether the request certainly never left this machine."""
    chain = _chain(error)
    if any(isinstance(e, ReplyHeaderInvalid) for e in chain):
        # requests raises its InvalidHeader both for a header it refuses to send and, wrapping
        # urllib3's, for a reply's bad headers: that one came back, so the request went out.
        return False
    if isinstance(error, (requests.ConnectTimeout, *_REFUSED_BEFORE_SENDING)):
        return True
    # urllib3's NewConnectionError (refused, name lookup failed) subclasses ConnectTimeoutError.
    return any(isinstance(e, (ConnectTimeoutError, ssl.SSLCertVerificationError)) for e in chain)


def _describe(error: BaseException) -> str:
    if isinstance(error, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(error, requests.ReadTimeout) or any(isinstance(e, TimeoutError) for e in _chain(error)):
        return "read timeout: no reply in time"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "reply cut short"
    if isinstance(error, requests.ConnectionError):
        return "connection failed" if failed_before_sending(error) else "connection dropped"
    if isinstance(error, (HTTPError, ValueError, requests.exceptions.InvalidHeader)):
        return "the reply is not valid HTTP"
    return type(error).__name__


def _declared_length(value: str | None) -> int | None:
    """The largest length a Content-Length header declares (it may repeat), or None."""
    lengths = [part.strip() for part in (value or "").split(",")]
    return max(int(part) for part in lengths) if all(p.isdigit() for p in lengths) else None


def _limit_problem(what: str) -> str:
    return f"{what}, over the {MAX_REPLY_BYTES // (1024 * 1024)} MiB limit ({MAX_REPLY_BYTES} bytes)"


def _read_capped(response: requests.Response, deadline: float | None) -> tuple[bytes, str | None]:
    """The body, read in chunks and counted, and why it is not the whole reply (None when it is).

    Raises what requests raises for a connection lost while reading, and `BudgetExceeded` when
    `deadline` passes between two chunks.
    """
    if response.status_code < 200:
        # The final reply is still on the connection, unread: closing the reply drops it.
        return b"", (
            "it is an interim reply where the final reply was expected "
            "(its connection was dropped, the final reply unread)"
        )
    declared = _declared_length(response.headers.get("Content-Length"))
    if declared is not None and declared > MAX_REPLY_BYTES:
        return b"", _limit_problem(f"it declares a body of {declared} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK_BYTES):
            if deadline is not None and time.monotonic() >= deadline:
                raise BudgetExceeded("the exchange's time budget ran out while its reply was read")
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                return b"".join(chunks), _limit_problem("the body goes on")
    except requests.exceptions.ContentDecodingError:
        encoding = response.headers.get("Content-Encoding")
        return b"".join(chunks), f"the body could not be decoded (Content-Encoding {encoding!r})"
    return b"".join(chunks), None


class _SdkAdapter(HTTPAdapter):
    """requests' adapter on the SDK's own connections (see `_connection`): interim replies read
    past, and every read of a reply bounded by the exchange's budget."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have connection classes of their own
            manager.pool_classes_by_scheme = dict(POOL_CLASSES)
        return manager


def _never_resending(adapter: BaseAdapter) -> BaseAdapter:
    """`adapter`, or, when it is an HTTPAdapter whose urllib3 `Retry` could send a request again,
    a copy of it without retries: the same class, pools, proxies and TLS settings, the caller's
    adapter left untouched. (`copy.copy` would not do: HTTPAdapter's pickling makes new pools.)"""
    if not isinstance(adapter, HTTPAdapter) or not may_resend(adapter.max_retries):
        return adapter
    copied = object.__new__(type(adapter))
    copied.__dict__.update(vars(adapter))
    copied.max_retries = NO_RETRIES
    return copied


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = _SdkAdapter(pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _send(session: requests.Session, sent: requests.PreparedRequest, timeout: Timeout) -> requests.Response:
    """What `Session.send` does for a request with redirects off (a redirect would turn a POST
    into a GET elsewhere; the API documents none), but read nothing of the body (requests reads a
    redirect's whole body there, to offer `Response.next`), and send a POST through an adapter
    that cannot send it again."""
    assert sent.url is not None  # prepared
    settings = session.merge_environment_settings(sent.url, {}, True, None, None)
    verify = True if settings["verify"] is None else settings["verify"]
    proxies, cert = settings["proxies"], settings["cert"]
    adapter = session.get_adapter(sent.url)
    if sent.method == "POST":
        adapter = _never_resending(adapter)
    options: dict[str, Any] = {"timeout": timeout, "verify": verify, "cert": cert, "proxies": proxies}
    response = adapter.send(sent, stream=True, **options)
    # requests' own hook dispatch, called as Session.send calls it
    hooked = dispatch_hook("response", sent.hooks, response, stream=True, **options)  # type: ignore[no-untyped-call]
    extract_cookies_to_jar(session.cookies, sent, hooked.raw)  # type: ignore[no-untyped-call]
    if not isinstance(hooked, requests.Response):
        raise TypeError(f"a response hook returned {type(hooked).__name__}, not a requests.Response")
    return hooked


class Transport:
    """Sends requests to the API over one session and returns replies as read.

    A session passed in stays the caller's: `close()` closes only a session this object made.
    A transport made by `derive` sends over this one's session and never closes it.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: Timeout,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._auth = _BearerAuth(api_key)
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        self._host = urlsplit(base_url).netloc
        self._pid = os.getpid()
        self._fork_lock = threading.Lock()
        self._pool_owner: Transport | None = None  # set on a derived transport: whose session it uses

    def derive(self, *, base_url: str, timeout: Timeout) -> Transport:
        """A transport to `base_url` with `timeout`, the same key, sending over this one's session
        (its connection pool, in a forked child too); its `close()` leaves that session open."""
        derived = copy.copy(self)
        derived.base_url, derived.timeout, derived._host = base_url, timeout, urlsplit(base_url).netloc
        derived._owns_session = False
        derived._pool_owner = self._pool_owner or self
        return derived

    def close(self) -> None:
        """Close the session, when this transport made it."""
        if self._owns_session:
            self._session_here().close()

    def _session_here(self) -> requests.Session:
        """The session for this process: a new one in a child forked after this one was made."""
        if self._pool_owner is not None:
            return self._pool_owner._session_here()
        pid = os.getpid()
        if pid != self._pid and self._owns_session:
            with self._fork_lock:  # only ever taken in a child, so never inherited locked
                if pid != self._pid:
                    # The inherited session is left unclosed: its sockets are the parent's too,
                    # and its pool's locks may have been held by a parent thread at the fork.
                    self._session = _new_session()
                    self._pid = pid
        return self._session

    def request(
        self,
        method: Method,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: Timeout | None = None,
        total: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one request and read the whole reply; never retries.

        `timeout` is (connect, read) seconds, each read of the reply waiting at most `read`;
        `total`, when given, is seconds for the whole exchange (connect, send, status line, headers,
        body), held even against a reply trickled a byte at a time when the session is the
        transport's own (a caller's session reads replies on its own connections: there only the
        connect and each read are cut to it).

        A body over `MAX_REPLY_BYTES`, one that cannot be decoded, or an interim (1xx) reply where
        the final one was expected is returned with its `Reply.problem` said, for the caller to
        refuse; its connection is dropped. `headers` are extra headers, checked by the caller
        (`byourside._options`): they never replace Authorization, which is set last.

        Raises:
            NetworkError: no reply was read (code ``network_error``, status 0), the budget ran out
                included. `may_have_placed` is True for a POST that may have reached the service.
        """
        connect, read = timeout or self.timeout
        deadline = None
        if total is not None:
            if not total > 0:
                message = f"{CODE_MESSAGES['network_error']} at {self._host} (no time left, budget {total!r})"
                raise NetworkError(message, 0, "network_error", may_have_placed=False)
            deadline = time.monotonic() + total
            connect, read = min(connect, total), min(read, total)
        url = self.base_url + path
        sent_headers = CaseInsensitiveDict({"User-Agent": USER_AGENT, **(headers or {})})
        sent_headers["Accept"] = "application/json"
        if body is not None:
            sent_headers["Content-Type"] = "application/json"
        logger.debug("%s %s", method, url)
        session = self._session_here()
        sent: requests.PreparedRequest | None = None
        try:
            sent = session.prepare_request(
                requests.Request(method, url, params=params, data=body, headers=sent_headers, auth=self._auth)
            )
            with exchange_deadline(deadline):
                response = _send(session, sent, (connect, read))
                # Closing a reply not read to its end drops its connection instead of pooling it.
                with response:
                    content, problem = _read_capped(response, deadline)
        except _TRANSPORT_ERRORS as error:
            raise self._network_error(method, error, sent, total, deadline) from error
        reply = Reply(response.status_code, content, response.headers, problem)
        logger.debug(
            "%s %s -> HTTP %d (%d bytes%s, request id %s)",
            method,
            url,
            reply.status,
            len(content),
            f"; refused: {problem}" if problem else "",
            reply.headers.get("X-Request-Id"),
        )
        return reply

    def _network_error(
        self,
        method: Method,
        error: BaseException,
        sent: requests.PreparedRequest | None,
        total: float | None,
        deadline: float | None,
    ) -> NetworkError:
        # requests keeps the request it sent on its exceptions, headers and all; the error
        # becomes our NetworkError's cause, which error reporters print and keep.
        kept = [getattr(wrapped, "request", None) for wrapped in _chain(error)]
        for request in [sent, *kept]:
            if isinstance(request, requests.PreparedRequest) and "Authorization" in request.headers:
                request.headers["Authorization"] = "Bearer <redacted>"
        not_sent = failed_before_sending(error)
        may_have_placed = method == "POST" and not not_sent
        if deadline is not None and time.monotonic() >= deadline:
            cause = f"the exchange ran past its time budget of {total:g} s; {_describe(error)}"
        else:
            cause = _describe(error)
        message = f"{CODE_MESSAGES['network_error']} at {self._host} ({cause})"
        if may_have_placed:
            message += f". The request was sent and no reply was read. {MAY_HAVE_PLACED_HINT}"
        logger.debug("%s %s failed: %s", method, self._host, message)
        return NetworkError(message, 0, "network_error", may_have_placed=may_have_placed)
