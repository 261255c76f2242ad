"""The HTTP transport: the only module that imports `requests`.

One `requests.Session` (connection reuse), the SDK's headers, (connect, read) timeouts, and the
boundary where `requests` exceptions become `NetworkError`. That boundary decides the one thing
the retry policy cannot see for itself: whether a failed POST may have reached the service.

* Not sent: a refused connection, a failed name lookup, a connect timeout, a certificate that did
  not verify. requests raises `ConnectTimeout`, or a `ConnectionError` wrapping urllib3's
  `NewConnectionError` / `ConnectTimeoutError`. Nothing left this machine.
* May have been sent: a read timeout, a connection dropped after the request was written, a reply
  cut short or not valid HTTP. A POST that failed so may have placed the call (`may_have_placed=True`).

Replies are streamed and counted: a body over `MAX_REPLY_BYTES` (after decompression) is refused
without being read whole, as is one whose Content-Length declares more.

A `Transport` may be shared by threads (requests' connection pool is thread-safe for sending)
and survives `os.fork`: a child process that uses it gets a session of its own, because the
parent's pooled sockets would interleave both processes' requests on one connection.
"""

from __future__ import annotations

import logging
import os
import platform
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, HTTPError
from urllib3.exceptions import InvalidHeader as ReplyHeaderInvalid

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
# urllib3's own errors (a reply with conflicting Content-Lengths) and a UnicodeDecodeError from
# requests reading a redirect's Location that is not UTF-8 (it looks even with redirects off).
_TRANSPORT_ERRORS = (requests.RequestException, HTTPError, ValueError)


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
    """`error` and everything it wraps: causes, contexts, and exceptions held in its args
    (requests keeps urllib3's MaxRetryError in args, which keeps its cause in `.reason`)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked: list[Any] = [current.__cause__, current.__context__, getattr(current, "reason", None)]
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


def _read_capped(response: requests.Response) -> tuple[bytes, str | None]:
    """The body, read in chunks and counted, and why it is not the whole reply (None when it is).

    Raises what requests raises for a connection lost while reading.
    """
    declared = _declared_length(response.headers.get("Content-Length"))
    if declared is not None and declared > MAX_REPLY_BYTES:
        return b"", _limit_problem(f"it declares a body of {declared} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                return b"".join(chunks), _limit_problem("the body goes on")
    except requests.exceptions.ContentDecodingError:
        encoding = response.headers.get("Content-Encoding")
        return b"".join(chunks), f"the body could not be decoded (Content-Encoding {encoding!r})"
    return b"".join(chunks), None


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class Transport:
    """Sends requests to the API over one session and returns replies as read.

    A session passed in stays the caller's: `close()` closes only a session this object made.
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

    def close(self) -> None:
        """Close the session, when this transport made it."""
        if self._owns_session:
            self._session_here().close()

    def _session_here(self) -> requests.Session:
        """The session for this process: a new one in a child forked after this one was made."""
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
    ) -> Reply:
        """Send one request and read the whole reply; never retries.

        A body over `MAX_REPLY_BYTES`, or one that cannot be decoded, is returned cut short with
        its `Reply.problem` said, for the caller to refuse.

        Raises:
            NetworkError: no reply was read (code ``network_error``, status 0). `may_have_placed`
                is True for a POST that may have reached the service.
        """
        url = self.base_url + path
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        logger.debug("%s %s", method, url)
        try:
            response = self._session_here().request(
                method,
                url,
                params=params,
                data=body,
                headers=headers,
                auth=self._auth,
                timeout=timeout or self.timeout,
                # A redirect would turn a POST into a GET elsewhere; the API documents none.
                allow_redirects=False,
                stream=True,
            )
            # Closing a reply not read to its end drops its connection instead of draining it.
            with response:
                content, problem = _read_capped(response)
        except _TRANSPORT_ERRORS as error:
            raise self._network_error(method, error) from error
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

    def _network_error(self, method: Method, error: BaseException) -> NetworkError:
        for wrapped in _chain(error):
            # requests keeps the request it sent on its exceptions, headers and all; the error
            # becomes our NetworkError's cause, which error reporters print and keep.
            sent = getattr(wrapped, "request", None)
            if isinstance(sent, requests.PreparedRequest) and "Authorization" in sent.headers:
                sent.headers["Authorization"] = "Bearer <redacted>"
        not_sent = failed_before_sending(error)
        may_have_placed = method == "POST" and not not_sent
        message = f"{CODE_MESSAGES['network_error']} at {self._host} ({_describe(error)})"
        if may_have_placed:
            message += f". The request was sent and no reply was read. {MAY_HAVE_PLACED_HINT}"
        logger.debug("%s %s failed: %s", method, self._host, message)
        return NetworkError(message, 0, "network_error", may_have_placed=may_have_placed)
