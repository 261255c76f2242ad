"""Errors raised by the SDK: one root, `ByoursideError`, with 0.1.0's constructor and attributes.

Every failure the SDK reports is a `ByoursideError` carrying a precise `code` (the service's error
token, or one of the SDK's own codes) and the HTTP `status` (0 when no reply was read). Catch the
root for everything, or a subclass for what you handle differently::

    ByoursideError                      .code .status .message .body .request_id .may_have_placed
                                        .call_id
    ├── AuthenticationError             unauthorized, no_api_key, invalid_api_key
    ├── InvalidRequestError             to_required, objective_required, invalid_number,
    │                                   destination_blocked, caller_id_not_owned, too_many_fields,
    │                                   invalid_field_type, and the SDK's checks before any I/O
    │                                   (invalid_base_url, invalid_fields, unknown_field_key,
    │                                   invalid_timeout, invalid_interval, ...: `CODE_MESSAGES`)
    ├── NotFoundError                   not_found
    ├── RateLimitError                  rate_limited (.retry_after)
    ├── UsageCapError                   over_minute_cap (never retried)
    ├── ServiceUnavailableError         placement_failed, store_error, other 5xx
    ├── NetworkError                    network_error (status 0)
    ├── InvalidResponseError            invalid_response: a reply that is not the documented JSON
    ├── WaitTimeoutError                timeout: wait_for_call passed its deadline (status 0)
    ├── WebhookVerificationError        invalid_signature (.reason says which check failed)
    ├── ExtractionError                 extraction_mismatch, field_not_obtained, unsupported_field
    └── EventInProgressError            event_in_progress (409): another worker holds the event

The API key never appears in an error: messages are built from tokens and the SDK's own text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Literal, get_args

from byourside._generated import KnownErrorCode

__all__ = [
    "CODE_MESSAGES",
    "MAY_HAVE_PLACED_HINT",
    "REFUSAL_TOKENS",
    "SERVER_TOKENS",
    "AuthenticationError",
    "ByoursideError",
    "EventInProgressError",
    "ExtractionError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NetworkError",
    "NotFoundError",
    "RateLimitError",
    "ServiceUnavailableError",
    "UsageCapError",
    "WaitTimeoutError",
    "WebhookFailureReason",
    "WebhookVerificationError",
    "error_from_reply",
    "invalid_response_error",
    "placed_call_hint",
    "raised_after_placing",
]

CODE_MESSAGES: dict[str, str] = {
    # Tokens the service sends.
    "to_required": "Missing destination number",
    "objective_required": "Missing call objective",
    "invalid_number": "Number must be E.164, e.g. +14155550123",
    "destination_blocked": "Destination not allowed (premium, IRSF, or unsupported country)",
    "caller_id_not_owned": "Caller ID not on your account",
    "unauthorized": "Invalid or missing API key",
    "not_found": "Call ID not found",
    "rate_limited": "Rate limit reached, retry shortly",
    "over_minute_cap": "Outbound usage limit reached",
    "placement_failed": "Carrier or trunk issue, retry shortly",
    "store_error": "Temporary service error, retry shortly",
    "too_many_fields": "At most 20 fields can be extracted",
    "invalid_field_type": "A field's type must be string, boolean or number",
    "invalid_body": "The request body is not a JSON object of the documented shape",
    "invalid_limit": "limit must be a whole number from 1 to 100",
    "method_not_allowed": "This route does not serve that HTTP method",
    # Codes the SDK raises itself.
    "no_api_key": "No API key: pass api_key= or set BYOURSIDE_API_KEY",
    "network_error": "Could not reach the API",
    "timeout": "wait_for_call deadline exceeded",
    "insecure_base_url": "The base URL must be https:// (plain http:// only to loopback)",
    "invalid_caller_id": "caller_id must be E.164, e.g. +14155550123",
    "invalid_webhook_url": "webhook_url must be an https:// URL (plain http:// only to loopback)",
    "field_name_required": "Every field needs a non-empty name",
    "duplicate_field_name": "Field names must be unique",
    "invalid_response": "The API sent a reply that is not the documented JSON",
    "invalid_signature": "The webhook signature did not verify",
    "unsupported_field": "This annotation cannot be carried as a string, boolean or number field",
    "extraction_mismatch": "An extracted value does not fit the declared field",
    "field_not_obtained": "A required field was not obtained on the call",
    "invalid_batch_item": "A batch item is not a placement (to, objective and the other place_call keys)",
    "journal_mismatch": "The batch journal was written for other items",
    "journal_in_use": "The batch journal is in use by another running batch",
    "placement_unknown": "The call may have been placed: its outcome was not recorded",
    # Webhook deduplication (leases).
    "event_in_progress": "Another worker is handling this webhook event; answer 409 so it is redelivered",
    # issue 22, deadlines and intervals: the numbers a Client method takes, checked before any I/O.
    "invalid_timeout": "timeout must be a finite number of seconds, at most a week",
    "invalid_interval": "interval must be a finite number of seconds above zero, at most a week",
    "invalid_max_retries": "max_retries must be a whole number >= 0",
    "invalid_on_status": "on_status must be a callable taking the Call",
    "error": "The API reported an error without a token",
    # batch
    "invalid_concurrency": "concurrency must be a whole number of calls >= 1",
    "duplicate_batch_item": "Two batch items call the same number with the same objective and context",
    "batch_stopped": "The batch was stopped before this item was placed",
    # input checks: malformed settings and arguments, and the command line's own refusals
    "invalid_api_key": "The API key is malformed: it contains spaces, control or non-ASCII characters",
    "invalid_base_url": "The base URL is the API's address alone, e.g. https://api.byourside.ai (no /v1)",
    "unknown_field_key": "A field has a key other than name, type and description",
    "invalid_fields": "fields must be a list of fields (dicts or FieldSpec) or a Pydantic model class",
    "not_an_event": "The signature is valid, but the body is not a webhook event",
    "invalid_row": "A batch row cannot be placed as written",
    "duplicate_row": "A batch row repeats an earlier row (same number, objective and context)",
    # issue 24, AsyncClient: its thread pool's size, checked at construction.
    "invalid_max_workers": "max_workers must be a whole number of threads >= 1",
    # issue 26, per-request options: extra_headers, checked before any I/O.
    "invalid_extra_headers": "extra_headers must map HTTP header names to printable values, "
    "and may not set Authorization or a header the transport owns",
}
"""A readable message for every known code, as 0.1.0 gave one."""


class ByoursideError(Exception):
    """The root of every error the SDK raises.

    The constructor is 0.1.0's: ``ByoursideError(message, status=0, code=None)``. The rest are
    keyword-only additions.

    Attributes:
        message: human-readable text.
        status: the HTTP status, or 0 when no reply was read (network errors, timeouts, the SDK's
            own checks before any I/O).
        code: the service's error token or the SDK's own code; see `CODE_MESSAGES`.
        body: the raw reply body when there was one (bytes as received, possibly truncated).
        request_id: the `X-Request-Id` reply header, when the service sent one.
        may_have_placed: True when a placement may have reached the service (its outcome is
            unknown), and on every error raised after a placement succeeded: never place the call
            again without looking for it (`call_id`, or `list_calls()`).
        call_id: the id of the call this error concerns when one is known: the call placed before
            a later step failed (`client.call()`'s wait, a batch item), or the call read. None
            where no call is known.

    Example:
        >>> from byourside import ByoursideError
        >>> err = ByoursideError("Destination not allowed", 400, "destination_blocked")
        >>> err.code, err.status, str(err)
        ('destination_blocked', 400, 'destination_blocked: Destination not allowed (HTTP 400)')
    """

    def __init__(
        self,
        message: str,
        status: int = 0,
        code: str | None = None,
        *,
        body: bytes | None = None,
        request_id: str | None = None,
        may_have_placed: bool = False,
        call_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.body = body
        self.request_id = request_id
        self.may_have_placed = may_have_placed
        self.call_id = call_id

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.code else self.message
        if self.status:
            text += f" (HTTP {self.status})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        # The body is left out: it can be large, and it is the server's text, not ours.
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, "
            f"code={self.code!r}, request_id={self.request_id!r}, "
            f"may_have_placed={self.may_have_placed!r}, call_id={self.call_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (multiprocessing, batch workers) with every attribute, subclasses included.
        return (_rebuild, (type(self), self.message, self.status, self.code), self.__dict__)


def _rebuild(cls: type[ByoursideError], message: str, status: int, code: str | None) -> ByoursideError:
    error = cls.__new__(cls)
    ByoursideError.__init__(error, message, status, code)
    return error


class AuthenticationError(ByoursideError):
    """The key is missing (`no_api_key`, raised before any I/O) or refused (`unauthorized`, 401)."""


class InvalidRequestError(ByoursideError):
    """The request was refused by the service's guardrails or by the SDK's checks before any I/O.

    Nothing was placed. Fix the input; retrying the same request gives the same answer.
    """


class NotFoundError(ByoursideError):
    """No such call for this key (`not_found`)."""


class RateLimitError(ByoursideError):
    """The request rate limit was reached (`rate_limited`); nothing was placed.

    The SDK retries these itself; this is raised once the retries are spent. `retry_after` holds
    the seconds the service asked to wait, when it said.
    """

    retry_after: float | None = None


class UsageCapError(ByoursideError):
    """The account's outbound minutes cap is reached (`over_minute_cap`). Never retried."""


class ServiceUnavailableError(ByoursideError):
    """A temporary service or carrier failure (`store_error`, `placement_failed`, other 5xx).

    `retry_after` holds the seconds the service asked to wait, when it said.
    """

    retry_after: float | None = None


class NetworkError(ByoursideError):
    """The API could not be reached, or the connection failed mid-request (`network_error`).

    When `may_have_placed` is True the request may have placed the call: look for it with
    `list_calls()` before placing it again.
    """


class InvalidResponseError(ByoursideError):
    """The service replied with something that is not the documented JSON (`invalid_response`):
    an HTML error page, a truncated body, a JSON value of the wrong shape."""


class WaitTimeoutError(ByoursideError):
    """`wait_for_call` reached its deadline before the call ended (`timeout`, status 0)."""


WebhookFailureReason = Literal[
    "missing_header",
    "malformed_header",
    "no_v1_signature",
    "timestamp_too_old",
    "timestamp_in_future",
    "signature_mismatch",
    "body_not_json",
    "body_not_event",
]
"""Which check a webhook delivery failed; `WebhookVerificationError.reason`."""


class WebhookVerificationError(ByoursideError):
    """A webhook delivery failed verification (`invalid_signature`); `reason` says which check.

    Example:
        >>> err = WebhookVerificationError("Signature timestamp is 900 s old", "timestamp_too_old")
        >>> err.code, err.reason
        ('invalid_signature', 'timestamp_too_old')
    """

    def __init__(self, message: str, reason: WebhookFailureReason) -> None:
        super().__init__(message, 0, "invalid_signature")
        self.reason: WebhookFailureReason = reason


class ExtractionError(ByoursideError):
    """Typed extraction failed: a field the service cannot carry, or a value that does not fit.

    Nothing is lost: `raw` keeps the values as the service sent them, `field` names the field at
    fault, and `call` (when the call was read) is the whole untyped call, or `event` (from
    ``construct_event(..., fields=...)``) the whole untyped webhook event.
    """

    raw: dict[str, Any] | None = None
    field: str | None = None
    call: Any = None
    event: Any = None


class EventInProgressError(ByoursideError):
    """A webhook delivery arrived while another worker holds the event's lease (`event_in_progress`).

    Raised by handlers decorated with `WebhookDeduplicator.idempotent`. Answer it with a non-2xx
    (409, its `status`), never a 2xx: the service then delivers the event again, and if the
    worker handling it dies, the redelivery after its lease handles it. `call_id` is the event's.
    """


# ----------------------------------------------------------------------------------------------
# From a reply to an error.

SERVER_TOKENS: frozenset[str] = frozenset(get_args(KnownErrorCode.__value__))
"""The error tokens the service is known to send (from the spec's `KnownErrorCode`). Each proves
that no call was placed."""

REFUSAL_TOKENS: frozenset[str] = SERVER_TOKENS - {"rate_limited", "placement_failed", "store_error"}
"""Tokens that refuse a request for good: sending it again gets the same answer."""

MAY_HAVE_PLACED_HINT = "The call may have been placed: look for it with list_calls() before placing it again."
"""Appended to the message of every error whose `may_have_placed` is True."""


def placed_call_hint(call_id: str) -> str:
    """What an error raised after `call_id` was placed tells the program to do.

    Example:
        >>> placed_call_hint("c1")
        "Call 'c1' was placed: wait for it with wait_for_call(error.call_id); do not place it again."
    """
    return (
        f"Call {call_id!r} was placed: wait for it with wait_for_call(error.call_id); do not place it again."
    )


def raised_after_placing(error: ByoursideError, call_id: str) -> ByoursideError:
    """`error`, which ended a step after the call `call_id` was placed, made to say so: its
    `call_id`, ``may_have_placed=True`` and a message that says how to recover. Returns `error`."""
    error.call_id = call_id
    error.may_have_placed = True
    hint = placed_call_hint(call_id)
    if hint not in error.message:
        error.message = f"{error.message.rstrip('.')}. {hint}"
    return error


_TOKEN_CLASSES: dict[str, type[ByoursideError]] = {
    # Every other known token refuses a malformed or disallowed request.
    **dict.fromkeys(SERVER_TOKENS, InvalidRequestError),
    "unauthorized": AuthenticationError,
    "no_api_key": AuthenticationError,
    "not_found": NotFoundError,
    "rate_limited": RateLimitError,
    "over_minute_cap": UsageCapError,
    "placement_failed": ServiceUnavailableError,
    "store_error": ServiceUnavailableError,
}

_MAX_BODY_KEPT = 64 * 1024


def _class_for_status(status: int) -> type[ByoursideError]:
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if 400 <= status < 500:
        return InvalidRequestError
    if status >= 500:
        return ServiceUnavailableError
    return InvalidResponseError


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # A plain dict is case-sensitive; HTTP header names are not.
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def _token_of(body: bytes) -> tuple[str | None, str | None]:
    """The error token in an error body, or why the body is not the documented ``{"error": ...}``."""
    if not body.strip():
        return None, "the body is empty"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, "the body is not JSON (an HTML error page, or cut short)"
    if not isinstance(data, dict):
        return None, f"the body is a JSON {type(data).__name__}, not an object"
    if "error" not in data:
        return "error", None  # 0.1.0's fallback token for an error body without one
    token = data["error"]
    if not isinstance(token, str) or not token:
        return None, "its `error` is not a token string"
    return token, None


def _may_have_placed(status: int, token: str | None, places_call: bool) -> bool:
    # A 4xx is the service refusing before doing anything; a known token proves nothing was
    # placed. Anything else on a placement (a 5xx page, a redirect) leaves the outcome unknown.
    return places_call and not 400 <= status < 500 and token not in SERVER_TOKENS


def invalid_response_error(
    status: int, body: bytes, headers: Mapping[str, str], problem: str, *, may_have_placed: bool = False
) -> InvalidResponseError:
    """The error for a reply that is not the documented JSON (code ``invalid_response``).

    Example:
        >>> err = invalid_response_error(200, b"<html>", {}, "the body is not JSON")
        >>> err.code, err.status, err.message.endswith("JSON: the body is not JSON")
        ('invalid_response', 200, True)
    """
    message = f"{CODE_MESSAGES['invalid_response']}: {problem}"
    if may_have_placed:
        message += f". {MAY_HAVE_PLACED_HINT}"
    return InvalidResponseError(
        message,
        status,
        "invalid_response",
        body=body[:_MAX_BODY_KEPT],
        request_id=_header(headers, "X-Request-Id"),
        may_have_placed=may_have_placed,
    )


def error_from_reply(
    status: int, body: bytes, headers: Mapping[str, str], *, places_call: bool = False
) -> ByoursideError:
    """The error for a non-2xx reply: its class by the token first, then by the HTTP status.

    A body that is not ``{"error": "<token>"}`` gives `InvalidResponseError` (code
    ``invalid_response``); a JSON object without ``error`` gives code ``error`` as 0.1.0 did; an
    unknown token is kept as the code. `places_call` marks the reply to a placement: its
    `may_have_placed` is True when the reply does not prove that nothing was placed.

    Example:
        >>> err = error_from_reply(429, b'{"error": "over_minute_cap"}', {"X-Request-Id": "req_1"})
        >>> type(err).__name__, err.code, err.status, err.request_id
        ('UsageCapError', 'over_minute_cap', 429, 'req_1')
        >>> type(error_from_reply(502, b"<html>Bad Gateway</html>", {})).__name__
        'InvalidResponseError'
    """
    token, problem = _token_of(body)
    may_have_placed = _may_have_placed(status, token, places_call)
    if problem is not None:
        return invalid_response_error(
            status, body, headers, f"HTTP {status} and {problem}", may_have_placed=may_have_placed
        )
    assert token is not None
    cls = _TOKEN_CLASSES.get(token) or _class_for_status(status)
    message = CODE_MESSAGES.get(token) or f"The API answered with the error token {token!r}"
    if may_have_placed:
        message += f". {MAY_HAVE_PLACED_HINT}"
    error = cls(
        message,
        status,
        token,
        body=body[:_MAX_BODY_KEPT],
        request_id=_header(headers, "X-Request-Id"),
        may_have_placed=may_have_placed,
    )
    if isinstance(error, (RateLimitError, ServiceUnavailableError)):
        # Imported here: the retry module imports this one.
        from byourside._retry import parse_retry_after

        error.retry_after = parse_retry_after(_header(headers, "Retry-After"), time.time())
    return error
