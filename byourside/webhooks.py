"""Webhook signatures: verify, parse and sign the events the service POSTs to ``webhookUrl``.

The service sends ``X-BYS-Signature: t=<unix seconds>,v1=<hex>``, where ``hex`` is the lowercase
HMAC-SHA256, keyed with the endpoint's webhook secret (``whsec_...``), of the exact bytes
``b"<t>." + raw body``. A delivery is refused when ``t`` is more than ``tolerance`` seconds
(default 300) away from now, either way.

* `verify_webhook` answers True or False and never raises: 0.1.0's function and promise.
* `construct_event` verifies, then parses into a typed `WebhookEvent`, and says why it failed.
* `sign_webhook` makes the header, for your tests.
* `WebhookDeduplicator` runs a handler once per ``eventId`` (a retried delivery reuses it), under a
  lease kept in an `EventStore`: `InMemoryEventStore` (one process), `SqliteEventStore` (the
  workers of one host) or `RedisEventStore` (several hosts; ``byourside[redis]``).

Always verify the raw request body as received: JSON parsed and serialised again is different
bytes, and no signature matches it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

from pydantic import ValidationError

from byourside._dedup import ClaimState, EventStore, InMemoryEventStore, WebhookDeduplicator
from byourside._dedup_sqlite import SqliteEventStore
from byourside._extraction import ModelT, retyped
from byourside._models import WebhookEvent
from byourside._signature import body_bytes, check_signature, hex_signature, secret_keys, valid_tolerance
from byourside.errors import ExtractionError, WebhookVerificationError

if TYPE_CHECKING:
    from byourside._dedup_redis import RedisEventStore

__all__ = [
    "ClaimState",
    "EventStore",
    "InMemoryEventStore",
    "RedisEventStore",
    "SqliteEventStore",
    "WebhookDeduplicator",
    "construct_event",
    "sign_webhook",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    # RedisEventStore needs the optional redis package: loaded only when asked for.
    if name == "RedisEventStore":
        from byourside._dedup_redis import RedisEventStore

        return RedisEventStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_MAX_LISTED_ERRORS = 3


def verify_webhook(
    signature_header: str | None,
    raw_body: str | bytes,
    secret: str | Sequence[str],
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """Whether a delivery's ``X-BYS-Signature`` header is a valid, fresh signature of `raw_body`.

    Never raises: anything invalid (a missing, garbled or huge header, an expired or future
    timestamp, a wrong type, an empty secret) gives False. Use `construct_event` to learn why.

    Args:
        signature_header: the ``X-BYS-Signature`` header value, or None when it was absent.
        raw_body: the request body exactly as received. Bytes are verified as they are;
            a str is encoded as UTF-8.
        secret: the endpoint's ``whsec_...`` secret, or several while rotating: any may match.
        tolerance: how many seconds ``t`` may be from now, in the past or the future.
        now: the current unix time; defaults to the clock. For tests.

    A header may carry several ``v1=`` entries (how a sender signs with an old and a new secret
    during a rotation); the delivery verifies if any of them matches any secret.

    Example:
        >>> body = b'{"event":"call.completed","eventId":"evt_1"}'
        >>> header = sign_webhook(body, "whsec_test", timestamp=1700000000)
        >>> verify_webhook(header, body, "whsec_test", now=1700000010)
        True
        >>> verify_webhook(header, body + b" ", "whsec_test", now=1700000010)
        False
        >>> verify_webhook(header, body, ["whsec_new", "whsec_test"], now=1700000010)
        True
        >>> verify_webhook(None, body, "whsec_test")
        False
    """
    # The promise is "never raises" for any input, and a user's secret sequence or str subclass
    # can raise from its own methods; the catch-all keeps the promise.
    try:
        # Inline fast paths for the usual bytes body and single secret: this runs per request.
        body = raw_body if type(raw_body) is bytes else body_bytes(raw_body)
        keys = (secret.encode("utf-8"),) if type(secret) is str and secret else secret_keys(secret)
        if body is None or keys is None or not valid_tolerance(tolerance):
            return False
        current = time.time() if now is None else float(now)
        return check_signature(signature_header, body, keys, tolerance, current) is None
    except Exception:
        return False


@overload
def construct_event(
    raw_body: str | bytes,
    signature_header: str | None,
    secret: str | Sequence[str],
    tolerance: float = 300,
    *,
    now: float | None = None,
    fields: None = None,
) -> WebhookEvent: ...


@overload
def construct_event(
    raw_body: str | bytes,
    signature_header: str | None,
    secret: str | Sequence[str],
    tolerance: float = 300,
    *,
    now: float | None = None,
    fields: type[ModelT],
) -> WebhookEvent[ModelT]: ...


def construct_event(
    raw_body: str | bytes,
    signature_header: str | None,
    secret: str | Sequence[str],
    tolerance: float = 300,
    *,
    now: float | None = None,
    fields: type[ModelT] | None = None,
) -> WebhookEvent[Any]:
    """Verify a delivery as `verify_webhook` does, then parse it into a typed `WebhookEvent`.

    Args are `verify_webhook`'s (note the order: body first, as in stripe's ``construct_event``),
    and `fields`: the Pydantic model of the call's extracted values (the one given to
    ``place_call(fields=...)``). With it the result is a ``WebhookEvent[Model]`` whose
    `extracted` is checked and typed exactly as ``client.get_call(call_id, fields=Model)`` does
    (``None`` on events that carry no values); `raw_extracted` keeps the values as sent.

    Raises:
        WebhookVerificationError: the delivery failed a check; ``reason`` says which
            (``missing_header``, ``malformed_header``, ``no_v1_signature``, ``timestamp_too_old``,
            ``timestamp_in_future``, ``signature_mismatch``, ``body_not_json``,
            ``body_not_event``) and the message says what to look at. Answer it with a 400.
        ExtractionError: with `fields`, the delivery verified but its values do not fit the model:
            code ``field_not_obtained`` (a required field is null or missing) or
            ``extraction_mismatch`` (a value of the wrong type), with `field`, `raw` (the values as
            sent), `call_id` and `event` (the untyped `WebhookEvent`). The service would send the
            same values again, so acknowledge it (2xx) once you have kept or logged `raw`.
        TypeError: `raw_body` is not the raw body (parsed JSON, say) or `secret` is not a str or
            sequence of str; ValueError: a secret is empty or `tolerance` is negative. These are
            bugs in the receiving code, not bad deliveries, so they are not answered with a 400.

    Example:
        >>> body = b'{"event":"call.in_progress","eventId":"evt_1","timestamp":"2026-11-25T14:00:05Z",'
        >>> body += b'"callId":"call_1","status":"in_progress"}'
        >>> header = sign_webhook(body, "whsec_test", timestamp=1700000000)
        >>> event = construct_event(body, header, "whsec_test", now=1700000000)
        >>> event.event, event.event_id, event.call_id, event.timestamp.year
        ('call.in_progress', 'evt_1', 'call_1', 2026)
        >>> construct_event(body, header, "whsec_test", now=1700000900)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        byourside.errors.WebhookVerificationError: invalid_signature: The signature timestamp is 900 s old...
    """
    body = _require_body(raw_body)
    keys = _require_keys(secret)
    if not valid_tolerance(tolerance):
        raise ValueError(f"tolerance must be a non-negative number of seconds, got {tolerance!r}")
    current = time.time() if now is None else float(now)
    failure = check_signature(signature_header, body, keys, tolerance, current)
    if failure is not None:
        raise WebhookVerificationError(failure.message, failure.reason)
    event = _parse_event(body)
    return event if fields is None else typed_event(event, fields)


def typed_event(event: WebhookEvent, model: type[ModelT]) -> WebhookEvent[ModelT]:
    """`event` with its `extracted` values checked and typed as `model`; `raw_extracted` is kept."""
    try:
        return retyped(event, WebhookEvent[model], model)  # type: ignore[valid-type]
    except ExtractionError as error:
        error.call_id = event.call_id
        error.event = event
        raise


def sign_webhook(raw_body: str | bytes, secret: str, timestamp: int | None = None) -> str:
    """Return the ``X-BYS-Signature`` header value the service would send for `raw_body`.

    Meant for your tests: sign a body, POST it to your handler with this header and check it is
    accepted. `timestamp` defaults to now, in unix seconds. A str body is signed as UTF-8.

    Example:
        >>> sign_webhook(b'{"event":"call.completed"}', "whsec_test", timestamp=1700000000)
        't=1700000000,v1=7e4134dea7986562f0449b95eb8a21b07db7b5bdfd33377b761823ea776989af'
    """
    body = _require_body(raw_body)
    if not isinstance(secret, str):
        raise TypeError(f"secret must be a str, got {type(secret).__name__}")
    if not secret:
        raise ValueError("secret is empty: pass the whsec_... webhook secret")
    signed_at = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={signed_at},v1={hex_signature(secret.encode('utf-8'), signed_at, body)}"


def _require_body(raw_body: object) -> bytes:
    body = body_bytes(raw_body)
    if body is not None:
        return body
    if isinstance(raw_body, str):
        raise TypeError("raw_body is a str that cannot be encoded as UTF-8: pass the bytes as received")
    raise TypeError(
        f"raw_body must be the request body as received (bytes or str), got {type(raw_body).__name__}. "
        "Parsed JSON cannot be verified: serialising it again changes the bytes. Pass "
        "request.get_data() (Flask) or await request.body() (FastAPI/Starlette)."
    )


def _require_keys(secret: object) -> tuple[bytes, ...]:
    keys = secret_keys(secret)
    if keys is not None:
        return keys
    if isinstance(secret, str) or (isinstance(secret, Sequence) and all(isinstance(s, str) for s in secret)):
        raise ValueError(
            "secret is empty, or a sequence that is empty or holds an empty secret (or one that is "
            "not encodable as UTF-8): pass the whsec_... webhook secret of this endpoint "
            "(is its environment variable set?)"
        )
    raise TypeError(f"secret must be a str or a sequence of str, got {type(secret).__name__}")


def _parse_event(body: bytes) -> WebhookEvent:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise WebhookVerificationError(
            f"The signature verified but the body is not JSON ({error}).", "body_not_json"
        ) from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError(
            f"The signature verified but the body is a JSON {type(payload).__name__}, not an event object.",
            "body_not_event",
        )
    try:
        return WebhookEvent.model_validate(payload)
    except ValidationError as error:
        # Locations and messages only: the input values would echo the payload into logs.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'event'}: {problem['msg']}"
            for problem in error.errors(include_url=False)[:_MAX_LISTED_ERRORS]
        )
        raise WebhookVerificationError(
            f"The signature verified but the body is not a webhook event: {problems}.", "body_not_event"
        ) from None
