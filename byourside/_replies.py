"""The client's argument checks and reply parsing, kept out of `client` so its methods stay thin.

Every number a `Client` method takes is checked here before any request, each with its own code
(`InvalidRequestError`, status 0): a duration is a finite number of seconds, at most
`MAX_SECONDS`; ``max_retries`` a whole number >= 0; a poll ``interval`` more than zero (and
raised to `MIN_POLL_INTERVAL` unless the API is on this machine). `list_calls(limit)` keeps
0.1.0's rule instead: whatever is not a whole number >= 0 means 20.
"""

from __future__ import annotations

import json
import logging
import math
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from byourside._base import WireModel
from byourside._extraction import fields_from_model
from byourside._transport import Reply, Timeout
from byourside.errors import CODE_MESSAGES, InvalidRequestError, error_from_reply, invalid_response_error

__all__ = [
    "MAX_SECONDS",
    "MIN_POLL_INTERVAL",
    "check_result_model",
    "check_retries",
    "check_timeout",
    "check_wait",
    "clamp_limit",
    "parse_reply",
]

ModelT = TypeVar("ModelT", bound=WireModel)

logger = logging.getLogger("byourside")

MAX_SECONDS = 7 * 24 * 3600.0
"""The longest duration any argument may give, a week: a longer one is a mistake, and timers
overflow not far beyond (``socket.settimeout(1e10)`` raises `OverflowError`)."""

MIN_POLL_INTERVAL = 0.5
"""The shortest poll interval against the service (2 reads a second per wait): a shorter one is
raised to it, not refused, so that a 0.1.0 program that places a call and then waits with a short
interval keeps its call. A server on this machine (a `FakeServer`, a test double) may be polled as
fast as a test likes."""


def _invalid(code: str, detail: str) -> InvalidRequestError:
    return InvalidRequestError(f"{CODE_MESSAGES[code]}: {detail}", 0, code)


def _seconds(value: object) -> float | None:
    """`value` as finite seconds no longer than `MAX_SECONDS`, or None when it is not that."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return seconds if math.isfinite(seconds) and seconds <= MAX_SECONDS else None


def check_retries(max_retries: object) -> int:
    """`max_retries`, a whole number >= 0 (code ``invalid_max_retries``)."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise _invalid("invalid_max_retries", f"got {max_retries!r:.80}")
    return max_retries


def check_timeout(timeout: object) -> Timeout:
    """The client's request timeout: seconds above zero, or a (connect, read) pair of them."""
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    seconds = [_seconds(part) for part in pair] if len(pair) == 2 else [None]
    if any(part is None or part <= 0 for part in seconds):
        raise _invalid(
            "invalid_timeout",
            f"above zero, or a (connect, read) pair of such; got {timeout!r:.80}",
        )
    connect, read = seconds
    assert connect is not None
    assert read is not None
    return (connect, read)


def check_wait(
    timeout: object,
    interval: object,
    on_status: object,
    *,
    min_interval: float,
    placing: bool = False,
) -> tuple[float, float]:
    """A wait's `timeout` and `interval` as floats, once each is checked; `on_status` is checked too.

    A `timeout` of zero or less is a deadline already passed (the wait times out without a
    request), except when `placing`: `call()` would place a call only to give up on it at once,
    so it refuses (``invalid_timeout``) before placing anything. `interval` must be above zero
    (``invalid_interval``); one under `min_interval` is raised to it, and logged. `on_status`
    must be None or callable (``invalid_on_status``).

    Example:
        >>> check_wait(180, 3, None, min_interval=MIN_POLL_INTERVAL)
        (180.0, 3.0)
        >>> check_wait(60, 0.1, print, min_interval=MIN_POLL_INTERVAL)
        (60.0, 0.5)
        >>> check_wait(60, 0, print, min_interval=MIN_POLL_INTERVAL)
        Traceback (most recent call last):
        ...
        byourside.errors.InvalidRequestError: invalid_interval: ...
    """
    seconds = _seconds(timeout)
    if seconds is None or (placing and seconds <= 0):
        why = "above zero for call(), whose wait would end as soon as the call is placed; " if placing else ""
        raise _invalid("invalid_timeout", f"{why}got {timeout!r:.80}")
    every = _seconds(interval)
    if every is None or every <= 0:
        raise _invalid("invalid_interval", f"got {interval!r:.80}")
    if every < min_interval:
        logger.info(
            "Poll interval %g s raised to %g s: polling the service faster only spends its rate limit",
            every,
            min_interval,
        )
        every = min_interval
    if on_status is not None and not callable(on_status):
        raise _invalid("invalid_on_status", f"got {type(on_status).__name__} {on_status!r:.80}")
    return seconds, every


def check_result_model(fields: object) -> None:
    """Refuse, before any request, a ``fields=`` that cannot type a call: not a Pydantic model
    class (``field_name_required``), or one the service cannot fill (`fields_from_model`'s codes)."""
    if fields is None:
        return
    if not (isinstance(fields, type) and issubclass(fields, BaseModel)):
        raise InvalidRequestError(
            f"fields must be the Pydantic model class the call was placed with, got {fields!r:.80}",
            0,
            "field_name_required",
        )
    fields_from_model(fields)


def clamp_limit(limit: object) -> int:
    """`limit` clamped to 1..100, by 0.1.0's rule: whatever is not a whole number >= 0 means 20.

    Not an error, because 0.1.0 programs rely on it: NaN, infinity, floats (even ``5.0``),
    booleans, strings and None all mean 20.

    Example:
        >>> clamp_limit(0), clamp_limit(500), clamp_limit(float("nan")), clamp_limit(True)
        (1, 100, 20, 20)
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        return 20
    return max(1, min(100, limit))


def parse_reply(reply: Reply, model: type[ModelT], *, places_call: bool) -> ModelT:
    """The model in a 2xx reply, or the error the reply stands for."""
    if reply.problem is not None:
        # The status was read, the body not whole: a 4xx still proves nothing was placed.
        may_have_placed = places_call and not 400 <= reply.status < 500
        raise invalid_response_error(
            reply.status,
            reply.body,
            reply.headers,
            f"HTTP {reply.status} and {reply.problem}",
            may_have_placed=may_have_placed,
        )
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
