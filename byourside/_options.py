"""Per-request options (``timeout=``, ``extra_headers=``), checked once for both clients.

Every method of `Client` and `AsyncClient` takes them; the checks are here so neither client
repeats them, and the checked options ride on the `ApiRequest` to the one transport path.

Extra headers are checked before any I/O (`InvalidRequestError` code ``invalid_extra_headers``):
a name must be an HTTP token and a value printable ASCII (no CR, LF or other control character,
no leading or trailing space). Refused whatever their case: ``Authorization`` (the key is the
client's, and no header may replace it or add a second one) and the headers the transport owns
because they frame or route the exchange or say what the SDK reads: ``Host``, ``Content-Type``,
``Content-Length``, ``Transfer-Encoding``, ``Connection``, ``Expect``, ``Accept``. Any other may be
sent, ``User-Agent`` included (it then replaces the SDK's).

Example:
    >>> check_request_options(5, {"X-Trace-Id": "abc"})
    RequestOptions(timeout=(5.0, 5.0), headers={'X-Trace-Id': 'abc'})
    >>> check_request_options(None, {"authorization": "Bearer other"})
    Traceback (most recent call last):
    ...
    byourside.errors.InvalidRequestError: invalid_extra_headers: ... cannot be replaced or added
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from byourside._replies import check_timeout
from byourside._transport import Timeout
from byourside.errors import CODE_MESSAGES, InvalidRequestError

__all__ = [
    "NO_OPTIONS",
    "OWNED_HEADERS",
    "HeadersArg",
    "RequestOptions",
    "TimeoutArg",
    "check_extra_headers",
    "check_request_options",
]

TimeoutArg = float | tuple[float, float] | None
"""A per-request timeout as a method takes it: seconds, a (connect, read) pair, or None (the
client's)."""

HeadersArg = Mapping[str, str] | None
"""Extra headers as a method takes them."""

OWNED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "transfer-encoding", "connection", "expect", "accept"}
)
"""Headers the transport sets or relies on (lower case); `extra_headers` may not name them."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"([\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?)?")


@dataclass(frozen=True)
class RequestOptions:
    """One request's own settings, checked: its (connect, read) timeout and extra headers (None:
    the client's)."""

    timeout: Timeout | None = None
    headers: Mapping[str, str] | None = None


NO_OPTIONS = RequestOptions()
"""A request sent with the client's settings."""


def _refuse(detail: str) -> InvalidRequestError:
    code = "invalid_extra_headers"
    return InvalidRequestError(f"{CODE_MESSAGES[code]}: {detail}", 0, code)


def check_extra_headers(headers: object) -> dict[str, str] | None:
    """`headers` copied as a dict (a later change to the caller's mapping changes nothing sent),
    or `InvalidRequestError` code ``invalid_extra_headers`` (see the module)."""
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        raise _refuse(f"a mapping of header names to values is needed; got {type(headers).__name__}")
    checked: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in headers.items():  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise _refuse(f"{name!r:.80} is not a header name (an HTTP token)")
        lowered = name.lower()
        if lowered == "authorization":
            raise _refuse("Authorization is the client's API key and cannot be replaced or added")
        if lowered in OWNED_HEADERS:
            raise _refuse(f"{name} is set by the SDK's transport and cannot be replaced")
        if lowered in seen:
            raise _refuse(f"{name} is given twice (header names are case-insensitive)")
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            # The value is not shown: it may be a secret of the caller's.
            raise _refuse(
                f"the value of {name} must be printable ASCII text without CR, LF or other control "
                "characters and without leading or trailing spaces"
            )
        seen.add(lowered)
        checked[name] = value
    return checked


def check_request_options(timeout: object, extra_headers: object) -> RequestOptions:
    """A method's ``timeout`` (``invalid_timeout``, as the constructor's) and ``extra_headers``
    (``invalid_extra_headers``), checked before any I/O."""
    if timeout is None and extra_headers is None:
        return NO_OPTIONS  # the common case: the request is sent as built, not copied
    return RequestOptions(
        timeout=None if timeout is None else check_timeout(timeout),
        headers=check_extra_headers(extra_headers),
    )
