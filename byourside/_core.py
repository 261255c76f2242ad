"""What `Client` and `AsyncClient` share: each method's request, built and checked once.

A client method is three steps: build the request (checking every argument before any I/O), send
it (with the retry policy), and read the reply into a model. The first and the last live here as
plain data and functions; only the sending differs between the two clients, one blocking on a
`Transport`, the other awaiting an `AsyncTransport`. Neither client repeats the other's checks.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypedDict
from urllib.parse import quote, urlsplit

from pydantic import BaseModel
from typing_extensions import Self

from byourside._extraction import typed_call
from byourside._logging import configure_from_env
from byourside._models import Call, CallList, PlacedCall
from byourside._options import NO_OPTIONS, RequestOptions, TimeoutArg, check_request_options
from byourside._replies import (
    MIN_POLL_INTERVAL,
    ModelT,
    check_retries,
    check_timeout,
    clamp_limit,
    parse_reply,
)
from byourside._retry import DEFAULT_TIMING, DeadlineExceeded, RetryTiming
from byourside._transport import Method, Reply, Session, Timeout, Transport
from byourside._validation import (
    FieldsArg,
    check_api_key,
    check_base_url,
    check_call_id,
    is_loopback_host,
    place_call_body,
)
from byourside.errors import ByoursideError, NetworkError

if TYPE_CHECKING:
    from byourside._async_transport import AsyncTransport

__all__ = [
    "CALLS_PATH",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "ApiRequest",
    "ClientBase",
    "ExchangeArgs",
    "RetryArgs",
    "get_call_request",
    "list_calls_request",
    "place_call_request",
    "report_cancelled_placement",
    "timeout_before",
    "with_fields",
]

# BYOURSIDE_LOG=debug|info turns on the logger's stderr output: read once, when either client's
# module is imported (both build on this one).
configure_from_env()

logger = logging.getLogger("byourside")

DEFAULT_BASE_URL = "https://api.byourside.ai"
DEFAULT_TIMEOUT: Timeout = (10.0, 60.0)
"""Seconds to connect, and to wait for a reply once connected."""
DEFAULT_MAX_RETRIES = 2

CALLS_PATH = "/v1/agent/calls"


@dataclass(frozen=True)
class ApiRequest(Generic[ModelT]):
    """One request of the API, checked and ready to send, and the model its reply is read as."""

    method: Method
    path: str
    model: type[ModelT]
    params: dict[str, str] | None = None
    payload: bytes | None = None
    options: RequestOptions = NO_OPTIONS

    def sent_with(self, options: RequestOptions) -> ApiRequest[ModelT]:
        """This request with a method's own `options` (``timeout=``, ``extra_headers=``)."""
        return self if options is NO_OPTIONS else replace(self, options=options)

    @property
    def places_call(self) -> bool:
        """Whether sending this may dial someone (the retry policy and cancellation care)."""
        return self.method == "POST"

    @property
    def describe(self) -> str:
        """How logs name it: ``GET /v1/agent/calls/c1``."""
        return f"{self.method} {self.path}"

    def parse(self, reply: Reply) -> ModelT:
        """The model in a 2xx reply, or the `ByoursideError` the reply stands for."""
        return parse_reply(reply, self.model, places_call=self.places_call)


class ExchangeArgs(TypedDict):
    """What a client's driver passes `Transport.request` besides the request's own parts."""

    timeout: Timeout
    total: float | None
    headers: Mapping[str, str] | None


class RetryArgs(TypedDict):
    """What a client's driver passes its retry loop (`byourside._retry.call_with_retries`)
    besides the attempt and the sleep."""

    places_call: bool
    max_retries: int
    deadline: float | None
    timing: RetryTiming
    clock: Callable[[], float]
    describe: str


class ClientBase:
    """What `Client` and `AsyncClient` share besides their methods' flows: the constructor's
    checks (in 0.1.0's order: key, URL, retries, timeout), the settings they leave, the
    properties that read them, `with_options`, and each request's timeout and headers."""

    _transport: Transport | AsyncTransport
    _clock: Callable[[], float]

    def _configure(
        self,
        api_key: str | None,
        base_url: str | None,
        timeout: object,
        max_retries: object,
        session: Session | None,
    ) -> Transport:
        key = check_api_key(api_key if api_key is not None else os.environ.get("BYOURSIDE_API_KEY"))
        url = check_base_url(base_url or os.environ.get("BYOURSIDE_BASE_URL") or DEFAULT_BASE_URL)
        self._max_retries = check_retries(max_retries)
        transport = Transport(api_key=key, base_url=url, timeout=check_timeout(timeout), session=session)
        self._min_interval = _min_interval(url)
        self._retry_timing = DEFAULT_TIMING
        self._defaults = NO_OPTIONS  # a batch's request options (`_for_batch`)
        return transport

    def with_options(
        self, *, timeout: TimeoutArg = None, max_retries: int | None = None, base_url: str | None = None
    ) -> Self:
        """A new client like this one but for the options given; this one is left unchanged.

        Options not given (None) are this client's. Each is checked as the constructor checks it
        (codes ``invalid_timeout``, ``invalid_max_retries``, ``insecure_base_url``,
        ``invalid_base_url``). The new client shares this one's connection pool (and, for an
        `AsyncClient`, its threads): closing it leaves the pool to this client, whose own
        `close()` (``aclose()``) closes it.

        Example:
            >>> from byourside import Client
            >>> client = Client(api_key="bys_ak_example", base_url="http://127.0.0.1:8080")
            >>> client.with_options(timeout=5, max_retries=0)
            Client(base_url='http://127.0.0.1:8080', timeout=(5.0, 5.0), max_retries=0)
            >>> client.timeout
            (10.0, 60.0)
        """
        url = self.base_url if base_url is None else check_base_url(base_url)
        retries = self._max_retries if max_retries is None else check_retries(max_retries)
        seconds = self.timeout if timeout is None else check_timeout(timeout)
        derived = copy.copy(self)
        derived._transport = self._transport.derive(base_url=url, timeout=seconds)
        derived._max_retries = retries
        derived._min_interval = _min_interval(url)
        return derived

    def _for_batch(self, options: Mapping[str, Any]) -> tuple[Self, dict[str, Any]]:
        """The client a batch runs on and its other options: this client, or, when `options`
        hold ``request_timeout`` or ``extra_headers`` (checked here, before any I/O), one sharing
        its pool that sends each of the batch's requests with them."""
        rest = dict(options)
        checked = check_request_options(rest.pop("request_timeout", None), rest.pop("extra_headers", None))
        if checked == NO_OPTIONS:
            return self, rest
        derived = copy.copy(self)
        derived._transport = self._transport.derive(base_url=self.base_url, timeout=self.timeout)
        derived._defaults = checked
        return derived, rest

    def _exchange(self, request: ApiRequest[Any], deadline: float | None) -> ExchangeArgs:
        """The timeout, time budget and extra headers `request` is sent with: its own options,
        else the client's; the timeout cut to what is left before `deadline`."""
        own = request.options.timeout or self._defaults.timeout or self.timeout
        timeout, total = timeout_before(own, deadline, self._clock)
        headers = request.options.headers or self._defaults.headers
        return {"timeout": timeout or own, "total": total, "headers": headers}

    def _retrying(
        self, request: ApiRequest[Any], max_retries: int | None, deadline: float | None
    ) -> RetryArgs:
        """How `request` is retried: a method's own `max_retries` (checked) or the client's."""
        return {
            "places_call": request.places_call,
            "max_retries": retries_or(max_retries, self._max_retries),
            "deadline": deadline,
            "timing": self._retry_timing,
            "clock": self._clock,
            "describe": request.describe,
        }

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self._transport.base_url

    @property
    def timeout(self) -> Timeout:
        """The (connect, read) timeout of each request, in seconds."""
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        """Retries allowed after a retryable failure, unless a call says otherwise."""
        return self._max_retries

    def _settings_repr(self) -> str:
        return f"base_url={self.base_url!r}, timeout={self.timeout!r}, max_retries={self.max_retries!r}"


def _min_interval(base_url: str) -> float:
    """The shortest poll interval: a server on this machine (a FakeServer) may be polled as fast
    as a test likes."""
    return 0.0 if is_loopback_host(urlsplit(base_url).hostname) else MIN_POLL_INTERVAL


def place_call_request(
    to: str,
    objective: str,
    context: str | None = None,
    fields: FieldsArg | None = None,
    webhook_url: str | None = None,
    caller_id: str | None = None,
    *,
    voice: str | None = None,
    language: str | None = None,
) -> ApiRequest[PlacedCall]:
    """`place_call`'s POST; every argument checked (`InvalidRequestError`) before any I/O."""
    body = place_call_body(
        to=to,
        objective=objective,
        context=context,
        fields=fields,
        webhook_url=webhook_url,
        caller_id=caller_id,
        voice=voice,
        language=language,
    )
    return ApiRequest("POST", CALLS_PATH, PlacedCall, payload=json.dumps(body, allow_nan=False).encode())


def call_path(call_id: str) -> str:
    """The path of one call, its id checked and quoted."""
    return f"{CALLS_PATH}/{quote(check_call_id(call_id), safe='')}"


def get_call_request(call_id: str) -> ApiRequest[Call]:
    """`get_call`'s GET (and each poll of `wait_for_call`)."""
    return ApiRequest("GET", call_path(call_id), Call)


def list_calls_request(limit: int) -> ApiRequest[CallList]:
    """`list_calls`' GET, `limit` clamped as 0.1.0 did."""
    return ApiRequest("GET", CALLS_PATH, CallList, params={"limit": str(clamp_limit(limit))})


def retries_or(max_retries: int | None, default: int) -> int:
    """A method's own `max_retries`, checked, or the client's."""
    return default if max_retries is None else check_retries(max_retries)


def with_fields(call: Call, fields: type[BaseModel] | None) -> Call[Any]:
    """The call as ``Call[fields]`` when a model is given (typed extraction), else as it is."""
    return call if fields is None else typed_call(call, fields)


def timeout_before(
    timeout: Timeout, deadline: float | None, clock: Callable[[], float]
) -> tuple[Timeout | None, float | None]:
    """`timeout` cut to the time left before `deadline`, and that time as the budget of the whole
    exchange (`Transport.request`'s ``total``): each read waits no longer than what is left, and
    a reply trickled a byte at a time cannot stretch the exchange past it either. (None, None)
    without a deadline: the transport's own timeouts."""
    if deadline is None:
        return None, None
    left = deadline - clock()
    if left <= 0:
        raise DeadlineExceeded(None)
    connect, read = timeout
    return (min(connect, left), min(read, left)), left


def report_cancelled_placement(request: ApiRequest[Any], outcome: Reply | NetworkError) -> PlacedCall | None:
    """Log, at WARNING, what a placement whose caller was cancelled came to; its call when placed.

    Called once the POST in flight has completed (see `byourside._async_transport`), before
    `CancelledError` reaches the caller: a call placed by a cancelled task is never silent.
    """
    try:
        if isinstance(outcome, NetworkError):
            raise outcome
        placed = request.parse(outcome)
    except ByoursideError as error:
        if error.may_have_placed:
            logger.warning(
                "Cancelled while placing a call; the call MAY have been placed (no id was read): %s",
                error,
            )
        else:
            logger.warning("Cancelled while placing a call; it was not placed: %s", error)
        return None
    if not isinstance(placed, PlacedCall):
        return None  # not a placement: nothing to report
    logger.warning(
        "Cancelled while placing a call; the call was placed: call id %s (status %s)",
        placed.call_id,
        placed.status,
    )
    return placed
