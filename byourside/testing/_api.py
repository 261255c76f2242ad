"""The Agent API as the fake server serves it: routing, the bearer check, limits, faults, replies.

Every request goes through the same steps, in this order (the service documents none of it):

1. route: ``POST``/``GET /v1/agent/calls`` and ``GET /v1/agent/calls/{id}``; any other path is
   404 ``not_found``, any other method on these paths 405 ``method_not_allowed`` with ``Allow``;
2. ``Authorization: Bearer <key>``: the configured key, or any key starting ``bys_ak_`` when none
   is configured; else 401 ``unauthorized``;
3. the next injected fault of the route, if any (`byourside.testing._faults`);
4. the rate limit, then the route itself: guardrails and the minutes cap for a placement, the
   ``limit`` check for a list (1 to 100, default 20; anything else is 400 ``invalid_limit``).

Replies are built with the spec's generated models (`byourside._generated`) and ``to_wire()``,
so their shape is the spec's. Calls belong to the key that placed them: another key's call is
``not_found``, and each key has its own rate window and minutes.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, unquote

from byourside import _generated as wire
from byourside.testing._clock import Clock
from byourside.testing._faults import FaultQueue, InjectedFault, Route
from byourside.testing._guardrails import GuardrailError, check_place_request
from byourside.testing._http import RecordedRequest, Reply
from byourside.testing._limits import MinuteLedger, RateLimiter, billable_minutes
from byourside.testing._outcomes import outcome_for
from byourside.testing._store import CallStore

__all__ = ["AgentApi", "ApiSettings"]

CALLS_PATH = "/v1/agent/calls"
KEY_PREFIX = "bys_ak_"
DEFAULT_LIMIT = 20
_LIMIT = re.compile(r"[0-9]{1,3}")

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class ApiSettings:
    """What a `FakeServer`'s owner can change while it runs (placements read it when they happen)."""

    api_key: str | None
    owned_numbers: frozenset[str]
    ring_seconds: float
    talk_seconds: float
    list_id_key: Literal["callId", "id"]


def json_reply(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    """A JSON reply; compact, as a service sends it."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, headers=dict(headers or {}))


def error_reply(status: int, token: str, retry_after: int | None = None) -> Reply:
    """``{"error": token}`` with ``status``, and ``Retry-After`` when given."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return json_reply(status, wire.ErrorBody(error=token).to_wire(), headers)


class AgentApi:
    """Answers recorded requests; `FakeServer` wires it to HTTP, the clock and webhooks."""

    def __init__(
        self,
        settings: ApiSettings,
        clock: Clock,
        store: CallStore,
        faults: FaultQueue,
        rate_limiter: RateLimiter,
        ledger: MinuteLedger,
        record: Callable[[RecordedRequest], None],
        catch_up: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store
        self.faults = faults
        self.rate_limiter = rate_limiter
        self.ledger = ledger
        self._record = record
        self._catch_up = catch_up

    def handle(self, request: RecordedRequest) -> Reply:
        """The reply to one request (the HTTP layer applies a fault's drop, cut or delay)."""
        self._record(request)
        routed = self._route(request)
        if isinstance(routed, Reply):
            return routed
        route, call_id = routed
        key = self._authenticated_key(request)
        if key is None:
            return error_reply(401, "unauthorized")
        self._catch_up()
        fault = self.faults.take(route)
        if fault is not None and fault.fault not in {"truncated_body", "slow", "drop_after_store"}:
            return _fault_reply(fault)
        retry_after = self.rate_limiter.admit(key, self.clock.now())
        if retry_after is not None:
            reply = error_reply(429, "rate_limited", retry_after)
        elif route == "post":
            reply = self._place(key, request.body)
        elif route == "get":
            reply = self._get(key, call_id)
        else:
            reply = self._list(key, request.query)
        if fault is not None:
            reply.truncate = fault.fault == "truncated_body"
            reply.drop = fault.fault == "drop_after_store"
            reply.delay = fault.delay if fault.fault == "slow" else 0.0
        return reply

    def _route(self, request: RecordedRequest) -> tuple[Route, str] | Reply:
        if request.path == CALLS_PATH:
            if request.method == "POST":
                return "post", ""
            if request.method == "GET":
                return "list", ""
            return _method_not_allowed("GET, POST")
        prefix = CALLS_PATH + "/"
        raw_id = request.path[len(prefix) :] if request.path.startswith(prefix) else ""
        if not raw_id or "/" in raw_id:
            return error_reply(404, "not_found")
        if request.method != "GET":
            return _method_not_allowed("GET")
        return "get", unquote(raw_id)

    def _authenticated_key(self, request: RecordedRequest) -> str | None:
        scheme, _, key = (request.header("Authorization") or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        expected = self.settings.api_key
        if expected is not None:
            return key if hmac.compare_digest(key.encode(), expected.encode()) else None
        return key if key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX) else None

    def _place(self, key: str, body: bytes) -> Reply:
        settings = self.settings
        try:
            request = check_place_request(body, settings.owned_numbers)
        except GuardrailError as refused:
            return error_reply(refused.status, refused.token)
        minutes = billable_minutes(settings.talk_seconds, outcome_for(request.to).answered)
        if not self.ledger.try_bill(key, minutes):
            return error_reply(429, "over_minute_cap")
        call = self.store.place(
            key, request, self.clock.now(), settings.ring_seconds, settings.talk_seconds, minutes
        )
        placed = wire.PlacedCall(
            call_id=call.call_id,
            status="queued",
            language=call.language,
            language_source=call.language_source,
            voice=call.voice,
        )
        # The reply says "queued", as documented, even when an instant call has already ended.
        self._catch_up()
        return json_reply(201, placed.to_wire())

    def _get(self, key: str, call_id: str) -> Reply:
        call = self.store.get(key, call_id)
        if call is None:
            return error_reply(404, "not_found")
        return json_reply(200, call)

    def _list(self, key: str, query: str) -> Reply:
        values = parse_qs(query, keep_blank_values=True).get("limit")
        if values is None:
            limit = DEFAULT_LIMIT
        elif len(values) == 1 and _LIMIT.fullmatch(values[0]) and 1 <= int(values[0]) <= 100:
            limit = int(values[0])
        else:
            return error_reply(400, "invalid_limit")
        calls = self.store.recent(key, limit, self.settings.list_id_key)
        listing = wire.CallList.model_validate({"calls": calls})
        return json_reply(200, listing.to_wire())


def _fault_reply(fault: InjectedFault) -> Reply:
    if fault.fault == "rate_limited":
        return error_reply(429, "rate_limited", fault.retry_after)
    if fault.fault == "over_minute_cap":
        return error_reply(429, "over_minute_cap")
    if fault.fault == "placement_failed":
        return error_reply(502, "placement_failed")
    if fault.fault == "store_error":
        return error_reply(503, "store_error", fault.retry_after)
    if fault.fault == "html_502":
        return Reply(502, HTML_502, content_type="text/html")
    return Reply(0, drop=True)  # "drop": close before anything is handled or stored


def _method_not_allowed(allow: str) -> Reply:
    reply = error_reply(405, "method_not_allowed")
    reply.headers["Allow"] = allow
    return reply
