"""The body of each API method, written once for `Client` and `AsyncClient`.

Each method is a generator (a "flow") that does no I/O: it checks its arguments, then yields what
it needs done and receives the outcome, in the manner of h11's protocol object or tenacity's
``iter()``:

* `Send`: send one request through the client's retry policy; receive its model (or the error
  is thrown in at the ``yield``).
* `WaitFor`: wait for a call to end (the polling state machine, driven by the client); receive
  the ended `Call`.

Its return value is the method's result. A client runs a flow with its driver (`byourside._flows`:
`drive_sync`, or `AsyncClient._drive` with ``await``): the only code that blocks, awaits or
sleeps. So a check, an error rule or a typed-extraction rule is written here once and holds for
both clients.

Example (the driver's part played by hand):
    >>> flow = list_calls_flow(5, max_retries=None, timeout=None, extra_headers=None)
    >>> step = next(flow)
    >>> step.request.describe, step.request.params
    ('GET /v1/agent/calls', {'limit': '5'})
    >>> try:
    ...     flow.send(CallList(calls=[]))
    ... except StopIteration as done:
    ...     done.value
    []
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from byourside._core import (
    ApiRequest,
    get_call_request,
    list_calls_request,
    place_call_request,
    with_fields,
)
from byourside._flows import Flow
from byourside._models import Call, CallList, PlacedCall
from byourside._options import NO_OPTIONS, HeadersArg, RequestOptions, TimeoutArg, check_request_options
from byourside._polling import NOT_FOUND_REREADS, CallWait, errors_name_call, placed_call_kept
from byourside._replies import ModelT, check_result_model, check_wait
from byourside._retry import RetryTiming
from byourside._validation import FieldsArg

__all__ = [
    "Effect",
    "MethodFlow",
    "Send",
    "WaitFor",
    "call_flow",
    "get_call_flow",
    "list_calls_flow",
    "place_call_flow",
    "wait_for_call_flow",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Send(Generic[ModelT]):
    """Send `request` (retried as the policy allows, `max_retries` None: the client's own)."""

    request: ApiRequest[ModelT]
    max_retries: int | None = None
    deadline: float | None = None


@dataclass(frozen=True)
class WaitFor:
    """Poll `call_id` every `interval` s until it ends, at most `timeout` s (both checked): the
    driver walks `wait_flow` over `call_wait`'s decisions, fetching with `request`.

    `just_placed`: the flow placed the call itself (`call`), so the caller does not know its id
    yet: a not_found on the first reads is read again, and a driver cancelled meanwhile says which
    call was left behind.
    """

    call_id: str
    timeout: float
    interval: float
    on_status: Callable[[Call], object] | None
    just_placed: bool = False
    options: RequestOptions = NO_OPTIONS

    @property
    def request(self) -> ApiRequest[Call]:
        """Each poll's GET, with the method's own timeout and extra headers."""
        return get_call_request(self.call_id).sent_with(self.options)

    def call_wait(self, now: float, timing: RetryTiming) -> CallWait:
        """The wait's state machine, started at `now` (a reading of the driver's clock)."""
        return CallWait(
            self.call_id,
            timeout=self.timeout,
            interval=self.interval,
            now=now,
            timing=timing,
            not_found_rereads=NOT_FOUND_REREADS if self.just_placed else 0,
        )


Effect = Send[Any] | WaitFor
MethodFlow = Flow[Effect, T]
"""A method's body: yields effects, receives their outcomes, returns the method's result."""


def place_call_flow(
    to: str,
    objective: str,
    context: str | None,
    fields: FieldsArg | None,
    webhook_url: str | None,
    caller_id: str | None,
    *,
    voice: str | None,
    language: str | None,
    max_retries: int | None,
    timeout: TimeoutArg,
    extra_headers: HeadersArg,
) -> MethodFlow[PlacedCall]:
    """`place_call`: every argument checked before the request, its options last."""
    request = place_call_request(
        to, objective, context, fields, webhook_url, caller_id, voice=voice, language=language
    )
    options = check_request_options(timeout, extra_headers)
    placed: PlacedCall = yield Send(request.sent_with(options), max_retries)
    return placed


def get_call_flow(
    call_id: str,
    *,
    fields: type[BaseModel] | None,
    max_retries: int | None,
    timeout: TimeoutArg,
    extra_headers: HeadersArg,
) -> MethodFlow[Call[Any]]:
    """`get_call`: the call, as ``Call[fields]`` when a model is given; every error names it."""
    with errors_name_call(call_id):
        request = get_call_request(call_id).sent_with(check_request_options(timeout, extra_headers))
        call: Call = yield Send(request, max_retries)
        return with_fields(call, fields)


def list_calls_flow(
    limit: int, *, max_retries: int | None, timeout: TimeoutArg, extra_headers: HeadersArg
) -> MethodFlow[list[Call]]:
    """`list_calls`: `limit` clamped as 0.1.0 did."""
    request = list_calls_request(limit).sent_with(check_request_options(timeout, extra_headers))
    calls: CallList = yield Send(request, max_retries)
    return calls.calls


def wait_for_call_flow(
    call_id: str,
    timeout: float,
    interval: float,
    *,
    fields: type[BaseModel] | None,
    on_status: Callable[[Call], object] | None,
    min_interval: float,
    request_timeout: TimeoutArg,
    extra_headers: HeadersArg,
) -> MethodFlow[Call[Any]]:
    """`wait_for_call`: its numbers, model and request options checked before the first poll,
    every error naming the call; the ended call read as ``Call[fields]``."""
    with errors_name_call(call_id):
        seconds, every = check_wait(timeout, interval, on_status, min_interval=min_interval)
        check_result_model(fields)
        get_call_request(call_id)  # the id, checked before the first poll
        options = check_request_options(request_timeout, extra_headers)
        call: Call = yield WaitFor(call_id, seconds, every, on_status, options=options)
        return with_fields(call, fields)


def call_flow(
    to: str,
    objective: str,
    context: str | None,
    *,
    fields: FieldsArg | None,
    webhook_url: str | None,
    caller_id: str | None,
    voice: str | None,
    language: str | None,
    timeout: float,
    interval: float,
    on_status: Callable[[Call], object] | None,
    min_interval: float,
    request_timeout: TimeoutArg,
    extra_headers: HeadersArg,
) -> MethodFlow[Call[Any]]:
    """`call`: every argument checked, the wait's and the request options included; placed once,
    then waited for, and every error after the placement names the call (`placed_call_kept`)."""
    seconds, every = check_wait(timeout, interval, on_status, min_interval=min_interval, placing=True)
    request = place_call_request(
        to, objective, context, fields, webhook_url, caller_id, voice=voice, language=language
    )
    options = check_request_options(request_timeout, extra_headers)
    placed: PlacedCall = yield Send(request.sent_with(options))
    model = fields if isinstance(fields, type) else None
    with placed_call_kept(placed.call_id):
        wait = WaitFor(placed.call_id, seconds, every, on_status, just_placed=True, options=options)
        call: Call = yield wait
        return with_fields(call, model)
