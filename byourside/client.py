"""`Client`: place calls, read them back and wait for them to end, as typed models.

The methods are 0.1.0's, with its names, positional order and defaults; they return models that
still answer 0.1.0's dict-style reads (``call["callId"]``). Each method builds one request and
sends it through `_send`, the one path that applies the retry policy and turns the reply into a
model or a `ByoursideError`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import quote

from pydantic import BaseModel
from typing_extensions import Self, Unpack

from byourside._extraction import typed_call
from byourside._models import Call, CallList, FieldSpec, PlacedCall
from byourside._polling import poll_until_ended
from byourside._replies import ModelT, check_retries, check_timeout, clamp_limit, parse_reply
from byourside._retry import DEFAULT_TIMING, DeadlineExceeded, call_with_retries
from byourside._transport import Method, Session, Timeout, Transport
from byourside._validation import (
    FieldsArg,
    check_api_key,
    check_base_url,
    check_call_id,
    place_call_body,
)

if TYPE_CHECKING:
    from byourside._batch import BatchItem, BatchOptions, BatchRun, ResultT

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MAX_RETRIES", "DEFAULT_TIMEOUT", "Client"]


DEFAULT_BASE_URL = "https://api.byourside.ai"
DEFAULT_TIMEOUT: Timeout = (10.0, 60.0)
"""Seconds to connect, and to wait for a reply once connected."""
DEFAULT_MAX_RETRIES = 2

_CALLS_PATH = "/v1/agent/calls"

ExtractedT = TypeVar("ExtractedT", bound=BaseModel)


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
            yours: `close()` closes only the session the client made. A placement is never
            resent by its adapter's urllib3 ``Retry``: it goes through a copy of that adapter
            without retries (the session and adapter are not changed; see README, "Threads and
            processes").

    One client may be shared by many threads (it keeps up to 32 pooled connections) and survives
    ``os.fork()``: a child process that uses it opens connections of its own. A `session` passed in
    is used as it is everywhere: give a forked child its own client. Use the client as a context
    manager, or call `close()`.

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
        self._max_retries = check_retries(max_retries)
        self._transport = Transport(
            api_key=key, base_url=url, timeout=check_timeout(timeout), session=session
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

    @overload
    def get_call(self, call_id: str, *, max_retries: int | None = None) -> Call: ...
    @overload
    def get_call(
        self, call_id: str, *, fields: type[ExtractedT], max_retries: int | None = None
    ) -> Call[ExtractedT]: ...
    def get_call(
        self,
        call_id: str,
        *,
        fields: type[BaseModel] | None = None,
        max_retries: int | None = None,
    ) -> Call[Any]:
        """One call by id: its status and, once it has ended, summary, transcript and values.

        With ``fields=Model`` (the Pydantic model the call was placed with) the result is a
        ``Call[Model]`` whose `extracted` is a checked ``Model | None``; a value that does not fit
        raises `ExtractionError` naming the field, with the raw values and the call on it.

        Raises `NotFoundError` (``not_found``) for an unknown id or another account's call.
        """
        call = self._send("GET", self._call_path(call_id), Call, max_retries=max_retries)
        return call if fields is None else typed_call(call, fields)

    def list_calls(self, limit: int = 20, *, max_retries: int | None = None) -> list[Call]:
        """The most recent calls, at most `limit` (clamped to 1..100; anything else means 20)."""
        params = {"limit": str(clamp_limit(limit))}
        return self._send("GET", _CALLS_PATH, CallList, params=params, max_retries=max_retries).calls

    @overload
    def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        on_status: Callable[[Call], object] | None = None,
    ) -> Call: ...
    @overload
    def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        fields: type[ExtractedT],
        on_status: Callable[[Call], object] | None = None,
    ) -> Call[ExtractedT]: ...
    def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        fields: type[BaseModel] | None = None,
        on_status: Callable[[Call], object] | None = None,
    ) -> Call[Any]:
        """Poll the call every `interval` seconds until its status is terminal, and return it.

        With ``fields=Model`` the ended call comes back as ``Call[Model]``, as `get_call` does.

        `timeout` bounds everything inside the wait: polls, their retries, Retry-After waits and
        read timeouts. When the next wait would pass it, `WaitTimeoutError` (code ``timeout``,
        status 0) is raised; no sleep ever ends past it. A status the SDK does not know counts as
        not ended. A ``rate_limited`` reply does not end the wait: it waits (as long as the
        Retry-After asks, when sent) and polls on. `on_status(call)` is called after each poll that
        finds a new status, the first poll included.
        """
        path = self._call_path(call_id)
        call = poll_until_ended(
            lambda deadline: self._send("GET", path, Call, deadline=deadline),
            call_id=call_id,
            timeout=timeout,
            interval=interval,
            on_status=on_status,
            clock=self._clock,
            sleep=self._sleep,
            timing=self._retry_timing,
        )
        return call if fields is None else typed_call(call, fields)

    @overload
    def call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        *,
        fields: Sequence[FieldSpec | Mapping[str, Any]] | None = None,
        webhook_url: str | None = None,
        caller_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        timeout: float = 180,
        interval: float = 3,
        on_status: Callable[[Call], object] | None = None,
    ) -> Call: ...
    @overload
    def call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        *,
        fields: type[ExtractedT],
        webhook_url: str | None = None,
        caller_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        timeout: float = 180,
        interval: float = 3,
        on_status: Callable[[Call], object] | None = None,
    ) -> Call[ExtractedT]: ...
    def call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        *,
        fields: FieldsArg | None = None,
        webhook_url: str | None = None,
        caller_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        timeout: float = 180,
        interval: float = 3,
        on_status: Callable[[Call], object] | None = None,
    ) -> Call[Any]:
        """Place a call and wait for it to end: the whole job in one typed step.

        The call is placed once (`place_call`) and then polled (`wait_for_call`) until its status
        is terminal. With ``fields=Model`` the result is a ``Call[Model]``.

        Example::

            class Appointment(BaseModel):
                confirmed: bool
                new_time: str | None = None

            done = client.call("+14155550123", "Confirm tomorrow's 2pm appointment", fields=Appointment)
            if done.extracted is not None and done.extracted.confirmed:
                ...
        """
        placed = self.place_call(
            to, objective, context, fields, webhook_url, caller_id, voice=voice, language=language
        )
        if isinstance(fields, type):
            return self.wait_for_call(placed.call_id, timeout, interval, fields=fields, on_status=on_status)
        return self.wait_for_call(placed.call_id, timeout, interval, on_status=on_status)

    def place_calls(
        self,
        items: Iterable[BatchItem | Mapping[str, Any] | BaseModel],
        *,
        fields: type[ResultT] | Sequence[FieldSpec | Mapping[str, Any]] | None = None,
        **options: Unpack[BatchOptions],
    ) -> BatchRun[ResultT]:
        """Place many calls, a few at a time, paced; yield one `BatchResult` per item as each ends.

        Items are `BatchItem` models or dicts of its keys; `fields` applies to every call
        (``fields=Model``: typed results). With ``journal="run.jsonl"`` a killed batch resumes where
        it stopped and never dials anyone twice. To stop early, call ``stop()`` on the result and
        keep iterating: nothing new is placed, and every call already placed is still reported.
        The `options` (``concurrency=4``, ``wait=True``, ``journal``, ``retry_unknown``,
        ``allow_duplicates``, ``ordered``, ``timeout``, ``interval``, ...) are documented on
        `BatchOptions`; items and options are checked before any request (`InvalidRequestError`:
        ``invalid_batch_item``, ``duplicate_batch_item``, ``invalid_concurrency``,
        ``invalid_timeout``, ``invalid_interval``, ...).
        """
        from byourside._batch_run import run_batch  # loaded on first use: `import byourside` stays light

        return run_batch(self, items, fields=fields, **options)

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
            timeout, total = self._timeout_before(deadline)
            reply = self._transport.request(
                method, path, params=params, body=payload, timeout=timeout, total=total
            )
            return parse_reply(reply, model, places_call=places_call)

        return call_with_retries(
            attempt,
            places_call=places_call,
            max_retries=self._max_retries if max_retries is None else check_retries(max_retries),
            deadline=deadline,
            timing=self._retry_timing,
            sleep=self._sleep,
            clock=self._clock,
            describe=f"{method} {path}",
        )

    def _timeout_before(self, deadline: float | None) -> tuple[Timeout | None, float | None]:
        """The client's timeouts cut to the time left before `deadline`, and that time as the
        budget of the whole exchange: each read waits no longer than what is left, and a reply
        trickled a byte at a time cannot stretch the exchange past it either."""
        if deadline is None:
            return None, None
        left = deadline - self._clock()
        if left <= 0:
            raise DeadlineExceeded(None)
        connect, read = self.timeout
        return (min(connect, left), min(read, left)), left
