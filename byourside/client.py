"""`Client`: place calls, read them back and wait for them to end, as typed models.

The methods are 0.1.0's, with its names, positional order and defaults; they return models that
still answer 0.1.0's dict-style reads (``call["callId"]``). Each method's body is a flow shared
with `AsyncClient` (`byourside._methods`: the checks, the requests, the error rules, typed
extraction); `Client` only carries out what a flow asks, blocking: `_send`, the one path that
applies the retry policy and turns a reply into a model or a `ByoursideError`, and the wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel
from typing_extensions import Self, Unpack

from byourside._core import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ApiRequest, ClientBase
from byourside._flows import drive_sync
from byourside._methods import (
    Effect,
    Send,
    call_flow,
    get_call_flow,
    list_calls_flow,
    place_call_flow,
    wait_for_call_flow,
)
from byourside._models import Call, FieldSpec, PlacedCall
from byourside._options import HeadersArg, TimeoutArg
from byourside._polling import run_wait
from byourside._replies import ModelT
from byourside._retry import call_with_retries
from byourside._transport import Session, Transport
from byourside._validation import FieldsArg

if TYPE_CHECKING:
    from byourside._batch import BatchItem, BatchOptions, BatchRun, ResultT

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MAX_RETRIES", "DEFAULT_TIMEOUT", "Client"]

ExtractedT = TypeVar("ExtractedT", bound=BaseModel)


class Client(ClientBase):
    """A client of the By Your Side Agent API.

    Args:
        api_key: the agent key (``bys_ak_...``); defaults to ``BYOURSIDE_API_KEY``. Without one,
            `AuthenticationError` code ``no_api_key`` is raised here, before any I/O.
        base_url: defaults to ``BYOURSIDE_BASE_URL``, then ``https://api.byourside.ai``. It must be
            https:// (plain http:// only to loopback, for local testing): code ``insecure_base_url``.
        timeout: seconds, or a (connect, read) pair; default (10, 60). Each finite, above zero
            and at most a week, else `InvalidRequestError` code ``invalid_timeout``.
        max_retries: retries after a failure the policy allows (see README, "Retries and
            placement safety"); default 2, and every method takes its own. A whole number >= 0,
            else code ``invalid_max_retries``.
        session: a `requests.Session` to send through (proxies, adapters, mounts). It stays
            yours: `close()` closes only the session the client made. A placement is never
            resent by its adapter's urllib3 ``Retry``: it goes through a copy of that adapter
            without retries (the session and adapter are not changed; see README, "Threads and
            processes").

    One client may be shared by many threads (it keeps up to 32 pooled connections) and survives
    ``os.fork()``: a child process that uses it opens connections of its own. A `session` passed in
    is used as it is everywhere: give a forked child its own client. Use the client as a context
    manager, or call `close()`. `with_options(...)` gives a client with other settings sharing its
    pool; each method also takes ``extra_headers=`` and its own request timeout (README,
    "Per-request options").

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
        # Narrowed from ClientBase's `Transport | AsyncTransport`: this client only ever has this one.
        self._transport: Transport = self._configure(  # pyright: ignore[reportIncompatibleVariableOverride]
            api_key, base_url, timeout, max_retries, session
        )
        # Time goes through these attributes so tests can drive it without patching modules.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"Client({self._settings_repr()})"

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
        timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
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

        Per-request options, checked before any I/O: `timeout`, this request's (connect, read)
        seconds instead of the client's (``invalid_timeout``), and `extra_headers`, sent with it
        (``invalid_extra_headers``: never ``Authorization`` nor a header the transport owns).
        """
        return drive_sync(
            place_call_flow(
                to, objective, context, fields, webhook_url, caller_id, voice=voice, language=language,
                max_retries=max_retries, timeout=timeout, extra_headers=extra_headers,
            ),
            self._perform,
        )

    @overload
    def get_call(
        self, call_id: str, *, max_retries: int | None = None,
        timeout: TimeoutArg = None, extra_headers: HeadersArg = None,
    ) -> Call: ...
    @overload
    def get_call(
        self,
        call_id: str,
        *,
        fields: type[ExtractedT],
        max_retries: int | None = None,
        timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[ExtractedT]: ...
    def get_call(
        self,
        call_id: str,
        *,
        fields: type[BaseModel] | None = None,
        max_retries: int | None = None,
        timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[Any]:
        """One call by id: its status and, once it has ended, summary, transcript and values.

        With ``fields=Model`` (the Pydantic model the call was placed with) the result is a
        ``Call[Model]`` whose `extracted` is a checked ``Model | None``; a value that does not fit
        raises `ExtractionError` naming the field, with the raw values and the call on it.
        `timeout` and `extra_headers` are this request's own, as on `place_call`.

        Raises `NotFoundError` (``not_found``) for an unknown id or another account's call. Every
        error it raises has the id asked for as its `call_id`.
        """
        return drive_sync(get_call_flow(
            call_id, fields=fields, max_retries=max_retries, timeout=timeout, extra_headers=extra_headers
        ), self._perform)

    def list_calls(
        self, limit: int = 20, *, max_retries: int | None = None,
        timeout: TimeoutArg = None, extra_headers: HeadersArg = None,
    ) -> list[Call]:
        """The most recent calls, at most `limit`.

        `limit` is clamped to 1..100, and whatever is not a whole number >= 0 (NaN, infinity,
        ``5.0``, ``True``, None) means 20, as in 0.1.0: never an error. `timeout` and
        `extra_headers` are this request's own, as on `place_call`.
        """
        return drive_sync(list_calls_flow(
            limit, max_retries=max_retries, timeout=timeout, extra_headers=extra_headers
        ), self._perform)

    @overload
    def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
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
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[ExtractedT]: ...
    def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        fields: type[BaseModel] | None = None,
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[Any]:
        """Poll the call every `interval` seconds until its status is terminal, and return it.

        With ``fields=Model`` the ended call comes back as ``Call[Model]``, as `get_call` does.

        `timeout` bounds everything inside the wait: polls, their retries, Retry-After waits and
        read timeouts. When the next wait would pass it, `WaitTimeoutError` (code ``timeout``,
        status 0) is raised; no sleep ever ends past it. A status the SDK does not know counts as
        not ended. A ``rate_limited`` reply does not end the wait: it waits (as long as the
        Retry-After asks, when sent) and polls on. `on_status(call)` is called after each poll that
        finds a new status, the first poll included.

        Checked before any poll: `timeout` finite (``invalid_timeout``; zero or less times out at
        once), `interval` above zero (``invalid_interval``; under 0.5 s it is raised to 0.5 s
        unless the API is on this machine), `on_status` callable (``invalid_on_status``). Every
        error it raises has the id asked for as its `call_id`.

        `timeout` is the wait's deadline (0.1.0's), so each request's own timeout is
        `request_timeout` here (seconds or a (connect, read) pair, still cut to the time left);
        `extra_headers` go with every poll. Both as on `place_call`.
        """
        flow = wait_for_call_flow(
            call_id, timeout, interval, fields=fields, on_status=on_status, min_interval=self._min_interval,
            request_timeout=request_timeout, extra_headers=extra_headers,
        )
        return drive_sync(flow, self._perform)

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
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
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
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
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
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[Any]:
        """Place a call and wait for it to end: the whole job in one typed step.

        The call is placed once (`place_call`) and then polled (`wait_for_call`) until its status
        is terminal; `timeout` bounds the wait after the placement. With ``fields=Model`` the
        result is a ``Call[Model]``.

        Every argument, the wait's included, is checked before placing (`timeout` above zero
        here). Every error raised once the call is placed has its id as `call_id` and
        ``may_have_placed=True``: then wait for it, ``client.wait_for_call(error.call_id)``,
        instead of placing it again. A ``not_found`` on the first reads is read again, up to 3
        times within the deadline: the read may have outrun the service's store. As on
        `wait_for_call`, each request's own timeout is `request_timeout` (`timeout` is the wait's);
        it and `extra_headers` apply to the placement and every poll.

        Example::

            class Appointment(BaseModel):
                confirmed: bool
                new_time: str | None = None

            done = client.call("+14155550123", "Confirm tomorrow's 2pm appointment", fields=Appointment)
            if done.extracted is not None and done.extracted.confirmed:
                ...
        """
        flow = call_flow(
            to, objective, context, fields=fields, webhook_url=webhook_url, caller_id=caller_id,
            voice=voice, language=language, timeout=timeout, interval=interval, on_status=on_status,
            min_interval=self._min_interval, request_timeout=request_timeout, extra_headers=extra_headers,
        )
        return drive_sync(flow, self._perform)

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
        ``invalid_timeout``, ``invalid_interval``, ...). As on `call`, ``timeout`` is each call's
        wait; ``request_timeout`` and ``extra_headers`` go with every request of the batch.
        """
        from byourside._batch_run import run_batch  # loaded on first use: `import byourside` stays light

        client, rest = self._for_batch(options)
        return run_batch(client, items, fields=fields, **rest)

    # -- the driver: the only code here that blocks ------------------------------------------

    def _perform(self, effect: Effect) -> Any:
        """Carry out what a method's flow asks for (`byourside._methods`), blocking."""
        if isinstance(effect, Send):
            return self._send(effect.request, max_retries=effect.max_retries, deadline=effect.deadline)
        request = effect.request
        return run_wait(
            effect.call_wait(self._clock(), self._retry_timing),
            lambda deadline: self._send(request, deadline=deadline),
            on_status=effect.on_status,
            sleep=self._sleep,
            clock=self._clock,
        )

    def _send(
        self,
        request: ApiRequest[ModelT],
        *,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> ModelT:
        """Send `request` (retried as the policy allows) and read its reply as its model."""

        def attempt() -> ModelT:
            reply = self._transport.request(
                request.method,
                request.path,
                params=request.params,
                body=request.payload,
                **self._exchange(request, deadline),
            )
            return request.parse(reply)

        return call_with_retries(attempt, sleep=self._sleep, **self._retrying(request, max_retries, deadline))
