"""`Client`: place calls, read them back and wait for them to end, as typed models.

The methods are 0.1.0's, with its names, positional order and defaults; they return models that
still answer 0.1.0's dict-style reads (``call["callId"]``). Each method builds one request and
sends it through `_send`, the one path that applies the retry policy and turns the reply into a
model or a `ByoursideError`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError
from typing_extensions import Self

from byourside._base import WireModel
from byourside._models import Call, CallList, PlacedCall
from byourside._retry import DEFAULT_TIMING, DeadlineExceeded, call_with_retries, retry_delay
from byourside._transport import Method, Reply, Session, Timeout, Transport
from byourside._validation import (
    FieldsArg,
    check_api_key,
    check_base_url,
    check_call_id,
    place_call_body,
)
from byourside.errors import (
    CODE_MESSAGES,
    NetworkError,
    RateLimitError,
    WaitTimeoutError,
    error_from_reply,
    invalid_response_error,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MAX_RETRIES", "DEFAULT_TIMEOUT", "Client"]

logger = logging.getLogger("byourside")

DEFAULT_BASE_URL = "https://api.byourside.ai"
DEFAULT_TIMEOUT: Timeout = (10.0, 60.0)
"""Seconds to connect, and to wait for a reply once connected."""
DEFAULT_MAX_RETRIES = 2

_CALLS_PATH = "/v1/agent/calls"

ModelT = TypeVar("ModelT", bound=WireModel)


def _check_retries(max_retries: object) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be a whole number >= 0, got {max_retries!r}")
    return max_retries


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value > 0 and math.isfinite(value) else None


def _check_timeout(timeout: object) -> Timeout:
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    connect, read = (_seconds(pair[0]), _seconds(pair[1])) if len(pair) == 2 else (None, None)
    if connect is None or read is None:
        raise ValueError(f"timeout must be seconds > 0, or a (connect, read) pair of them; got {timeout!r}")
    return (connect, read)


def _clamp_limit(limit: object) -> int:
    # 0.1.0's rule: anything that is not a non-negative whole number means the default.
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        return 20
    return max(1, min(100, limit))


def _parse(reply: Reply, model: type[ModelT], *, places_call: bool) -> ModelT:
    """The model in a 2xx reply, or the error the reply stands for."""
    if not 200 <= reply.status < 300:
        raise error_from_reply(reply.status, reply.body, reply.headers, places_call=places_call)

    def unreadable(problem: str) -> Exception:
        # A 2xx to a placement means it was accepted: the call exists even if the body is garbled.
        return invalid_response_error(
            reply.status, reply.body, reply.headers, problem, may_have_placed=places_call
        )

    try:
        data = json.loads(reply.body)
    except (ValueError, RecursionError) as exc:
        raise unreadable(f"HTTP {reply.status} and the body is not JSON") from exc
    if not isinstance(data, dict):
        raise unreadable(f"HTTP {reply.status} and the body is a JSON {type(data).__name__}, not an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise unreadable(f"it is not a {model.__name__} ({where}: {first['msg']})") from exc


class Client:
    """A client of the By Your Side Agent API.

    Args:
        api_key: the agent key (``bys_ak_...``); defaults to ``BYOURSIDE_API_KEY``. Without one,
            `AuthenticationError` code ``no_api_key`` is raised here, before any I/O.
        base_url: defaults to ``BYOURSIDE_BASE_URL``, then ``https://api.byourside.ai``. It must be
            https:// (plain http:// only to loopback, for local testing): code ``insecure_base_url``.
        timeout: seconds, or a (connect, read) pair; default (10, 60).
        max_retries: retries after a failure the policy allows (see README, "Retries and
            placement safety"); default 2, and every method takes its own.
        session: a `requests.Session` to send through (proxies, adapters, mounts). It stays
            yours: `close()` closes only the session the client made.

    The client holds one connection pool; use it as a context manager, or call `close()`.

    Example:
        >>> from byourside import Client
        >>> client = Client(api_key="bys_ak_example", base_url="http://127.0.0.1:8080")
        >>> client
        Client(base_url='http://127.0.0.1:8080', timeout=(10.0, 60.0), max_retries=2)
        >>> client.close()
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: Session | None = None,
    ) -> None:
        key = check_api_key(api_key if api_key is not None else os.environ.get("BYOURSIDE_API_KEY"))
        url = check_base_url(base_url or os.environ.get("BYOURSIDE_BASE_URL") or DEFAULT_BASE_URL)
        self._max_retries = _check_retries(max_retries)
        self._transport = Transport(
            api_key=key, base_url=url, timeout=_check_timeout(timeout), session=session
        )
        # Time goes through these attributes so tests can drive it without patching modules.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic
        self._retry_timing = DEFAULT_TIMING

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

    def __repr__(self) -> str:
        return (
            f"Client(base_url={self.base_url!r}, timeout={self.timeout!r}, max_retries={self.max_retries!r})"
        )

    def close(self) -> None:
        """Release the connection pool (when the client made its own session)."""
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the API ---------------------------------------------------------------------------

    def place_call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        fields: FieldsArg | None = None,
        webhook_url: str | None = None,
        caller_id: str | None = None,
        *,
        voice: str | None = None,
        language: str | None = None,
        max_retries: int | None = None,
    ) -> PlacedCall:
        """Place an outbound call; returns its id and first status.

        Only the arguments given are sent. `fields` takes 0.1.0's dicts
        (``{"name": "confirmed", "type": "boolean"}``) or `FieldSpec` models. Arguments are checked
        before any I/O (`InvalidRequestError`, status 0, codes ``to_required``, ``invalid_number``,
        ``objective_required``, ``too_many_fields``, ``field_name_required``,
        ``duplicate_field_name``, ``invalid_field_type``, ``invalid_webhook_url``,
        ``invalid_caller_id``).

        Retried only when the reply proves nothing was placed (``rate_limited``,
        ``placement_failed``, ``store_error``) or the connection failed before sending. When the
        request may have reached the service and no answer was read, the error has
        ``may_have_placed=True``: look for the call with `list_calls()` before placing it again.
        """
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
        return self._send("POST", _CALLS_PATH, PlacedCall, body=body, max_retries=max_retries)

    def get_call(self, call_id: str, *, max_retries: int | None = None) -> Call:
        """One call by id: its status and, once it has ended, summary, transcript and values.

        Raises `NotFoundError` (``not_found``) for an unknown id or another account's call.
        """
        return self._send("GET", self._call_path(call_id), Call, max_retries=max_retries)

    def list_calls(self, limit: int = 20, *, max_retries: int | None = None) -> list[Call]:
        """The most recent calls, at most `limit` (clamped to 1..100; anything else means 20)."""
        params = {"limit": str(_clamp_limit(limit))}
        return self._send("GET", _CALLS_PATH, CallList, params=params, max_retries=max_retries).calls

    def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        on_status: Callable[[Call], object] | None = None,
    ) -> Call:
        """Poll the call every `interval` seconds until its status is terminal, and return it.

        `timeout` bounds everything inside the wait: polls, their retries, Retry-After waits and
        read timeouts. When the next wait would pass it, `WaitTimeoutError` (code ``timeout``,
        status 0) is raised; no sleep ever ends past it. A status the SDK does not know counts as
        not ended. A ``rate_limited`` reply does not end the wait: it waits (as long as the
        Retry-After asks, when sent) and polls on. `on_status(call)` is called after each poll that
        finds a new status, the first poll included.
        """
        path = self._call_path(call_id)
        deadline = self._clock() + timeout
        status: str | None = None

        def timed_out() -> WaitTimeoutError:
            return WaitTimeoutError(
                f"{CODE_MESSAGES['timeout']}: call {call_id!r} had not ended after {timeout} s "
                f"(last status seen: {status or 'none'})",
                0,
                "timeout",
            )

        while True:
            try:
                call = self._send("GET", path, Call, deadline=deadline)
            except DeadlineExceeded as stop:
                raise timed_out() from stop.last_error
            except RateLimitError as limited:
                pause = max(interval, retry_delay(1, limited.retry_after, timing=self._retry_timing))
                if self._clock() + pause > deadline:
                    raise timed_out() from limited
                logger.info("Rate limited while waiting for %s; polling again in %.2f s", call_id, pause)
                self._sleep(pause)
                continue
            except NetworkError as error:
                if self._clock() >= deadline:  # the read timeout was cut to the deadline
                    raise timed_out() from error
                raise
            if call.status != status:
                status = call.status
                if on_status is not None:
                    on_status(call)
            if call.is_terminal:
                return call
            if self._clock() + interval > deadline:
                raise timed_out()
            self._sleep(max(interval, 0.0))

    # -- one path for every request --------------------------------------------------------

    @staticmethod
    def _call_path(call_id: str) -> str:
        return f"{_CALLS_PATH}/{quote(check_call_id(call_id), safe='')}"

    def _send(
        self,
        method: Method,
        path: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> ModelT:
        """Send one request (retried as the policy allows) and parse its reply as `model`."""
        places_call = method == "POST"
        payload = None if body is None else json.dumps(body, allow_nan=False).encode()

        def attempt() -> ModelT:
            reply = self._transport.request(
                method, path, params=params, body=payload, timeout=self._timeout_before(deadline)
            )
            return _parse(reply, model, places_call=places_call)

        return call_with_retries(
            attempt,
            places_call=places_call,
            max_retries=self._max_retries if max_retries is None else _check_retries(max_retries),
            deadline=deadline,
            timing=self._retry_timing,
            sleep=self._sleep,
            clock=self._clock,
            describe=f"{method} {path}",
        )

    def _timeout_before(self, deadline: float | None) -> Timeout | None:
        """The client's timeouts, cut so that no request outlives `deadline`."""
        if deadline is None:
            return None
        left = deadline - self._clock()
        if left <= 0:
            raise DeadlineExceeded(None)
        connect, read = self.timeout
        return (min(connect, left), min(read, left))
