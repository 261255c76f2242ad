"""The HTTP transport: the only module that imports `requests`.

One `requests.Session` (connection reuse), the SDK's headers, (connect, read) timeouts, and the
boundary where `requests` exceptions become `NetworkError`. That boundary decides the one thing
the retry policy cannot see for itself: whether a failed POST may have reached the service.

* Not sent: a refused connection, a failed name lookup, a connect timeout, a certificate that did
  not verify. requests raises `ConnectTimeout`, or a `ConnectionError` wrapping urllib3's
  `NewConnectionError` / `ConnectTimeoutError`. Nothing left this machine.
* May have been sent: a read timeout, a connection dropped after the request was written, a reply
  cut short. A POST that failed so may have placed the call (`may_have_placed=True`).
"""

from __future__ import annotations

import logging
import platform
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError

from byourside._version import __version__
from byourside.errors import CODE_MESSAGES, MAY_HAVE_PLACED_HINT, NetworkError

__all__ = ["USER_AGENT", "Method", "Reply", "Session", "Timeout", "Transport", "failed_before_sending"]

logger = logging.getLogger("byourside")

USER_AGENT = f"byourside/{__version__} python/{platform.python_version()}"
"""Sent with every request: the SDK, its version and the Python running it."""

Session = requests.Session
"""The session type `Client(session=...)` takes, named here so that only this module imports requests."""

Method = Literal["GET", "POST"]
Timeout = tuple[float, float]
"""(connect, read) seconds."""


@dataclass(frozen=True)
class Reply:
    """An HTTP reply as read: the status, the raw body and the headers (case-insensitive)."""

    status: int
    body: bytes
    headers: Mapping[str, str]


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


def failed_before_sending(error: requests.RequestException) -> bool:
    """Whether the request certainly never left this machine."""
    if isinstance(error, (requests.ConnectTimeout, *_REFUSED_BEFORE_SENDING)):
        return True
    # urllib3's NewConnectionError (refused, name lookup failed) subclasses ConnectTimeoutError.
    return any(isinstance(e, (ConnectTimeoutError, ssl.SSLCertVerificationError)) for e in _chain(error))


def _describe(error: requests.RequestException) -> str:
    if isinstance(error, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(error, requests.ReadTimeout):
        return "read timeout: no reply in time"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(error, requests.ConnectionError):
        return "connection failed" if failed_before_sending(error) else "connection dropped"
    return type(error).__name__


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
        self._session = session if session is not None else requests.Session()
        self._host = urlsplit(base_url).netloc

    def close(self) -> None:
        """Close the session, when this transport made it."""
        if self._owns_session:
            self._session.close()

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
            response = self._session.request(
                method,
                url,
                params=params,
                data=body,
                headers=headers,
                auth=self._auth,
                timeout=timeout or self.timeout,
                # A redirect would turn a POST into a GET elsewhere; the API documents none.
                allow_redirects=False,
            )
            content = response.content
        except requests.RequestException as error:
            raise self._network_error(method, error) from error
        reply = Reply(response.status_code, content, response.headers)
        logger.debug(
            "%s %s -> HTTP %d (%d bytes, request id %s)",
            method,
            url,
            reply.status,
            len(content),
            reply.headers.get("X-Request-Id"),
        )
        return reply

    def _network_error(self, method: Method, error: requests.RequestException) -> NetworkError:
        not_sent = failed_before_sending(error)
        may_have_placed = method == "POST" and not not_sent
        message = f"{CODE_MESSAGES['network_error']} at {self._host} ({_describe(error)})"
        if may_have_placed:
            message += f". The request was sent and no reply was read. {MAY_HAVE_PLACED_HINT}"
        logger.debug("%s %s failed: %s", method, self._host, message)
        return NetworkError(message, 0, "network_error", may_have_placed=may_have_placed)
