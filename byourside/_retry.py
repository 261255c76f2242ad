"""The retry policy: which failures are retried, how long to wait, and the loop that applies them.

The policy is three plain functions that tests call without a server:

* `should_retry` decides from an error's code, HTTP status and `may_have_placed`, and whether the
  request places a call. A placement is retried only when the reply proves nothing was placed
  (`rate_limited`, `placement_failed`, `store_error`) or the connection failed before the request
  was sent: the service documents no idempotency key, so a second POST can dial a person twice.
* `parse_retry_after` reads a ``Retry-After`` header (delay-seconds or an HTTP date).
* `retry_delay` is exponential backoff with jitter, or the Retry-After the service asked for.

`RetryPolicy` turns them into tenacity's hooks for one request; `call_with_retries` drives them
with `time.sleep`, and an async driver passes the same hooks to `AsyncRetrying` with
``asyncio.sleep``. This is the only module that imports `tenacity`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception

from byourside.errors import REFUSAL_TOKENS, ByoursideError

__all__ = [
    "DEFAULT_TIMING",
    "PLACEMENT_RETRY_TOKENS",
    "READ_RETRY_TOKENS",
    "DeadlineExceeded",
    "RetryPolicy",
    "RetryTiming",
    "acall_with_retries",
    "call_with_retries",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
]

logger = logging.getLogger("byourside")

T = TypeVar("T")

PLACEMENT_RETRY_TOKENS = frozenset({"rate_limited", "placement_failed", "store_error"})
"""Tokens that prove a placement did not happen, so sending it again cannot dial anyone twice."""

READ_RETRY_TOKENS = frozenset({"rate_limited", "store_error", "placement_failed"})
"""Tokens after which a read (GET) is retried, whatever the HTTP status."""


@dataclass(frozen=True)
class RetryTiming:
    """How long retries wait: `base_delay` doubling per retry up to `max_delay`, jitter shaving up
    to a quarter off; a Retry-After is honoured up to `retry_after_cap` seconds."""

    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 60.0


DEFAULT_TIMING = RetryTiming()


def should_retry(*, code: str | None, status: int, may_have_placed: bool, places_call: bool) -> bool:
    """Whether a request that failed this way is sent again.

    `code` is the error's code (`network_error` for a failed connection), `status` the HTTP status
    (0 when no reply was read), `may_have_placed` whether a placement may have reached the service.

    Example:
        >>> should_retry(code="rate_limited", status=429, may_have_placed=False, places_call=True)
        True
        >>> should_retry(code="over_minute_cap", status=429, may_have_placed=False, places_call=True)
        False
        >>> should_retry(code="network_error", status=0, may_have_placed=True, places_call=True)
        False
        >>> should_retry(code="invalid_response", status=502, may_have_placed=False, places_call=False)
        True
        >>> should_retry(code="invalid_response", status=200, may_have_placed=False, places_call=False)
        True
        >>> should_retry(code="invalid_response", status=200, may_have_placed=True, places_call=True)
        False
    """
    if places_call:
        if may_have_placed:
            return False
        # A network error that is not `may_have_placed` failed before the request was sent.
        return code == "network_error" or code in PLACEMENT_RETRY_TOKENS
    if code == "network_error" or code in READ_RETRY_TOKENS:
        return True
    if code == "invalid_response" and 200 <= status < 300:
        # A garbled 2xx to a read (a truncated body): reading again is safe and likely to succeed.
        return True
    if code in REFUSAL_TOKENS:
        # `over_minute_cap` may come with a 429, a guardrail token with any status: the token wins.
        return False
    return status >= 500


def parse_retry_after(header: str | None, now: float) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait, or None when absent or unreadable.

    `header` is delay-seconds (``"2"``, ``"1.5"``) or an HTTP date; `now` is the current Unix time,
    against which a date is measured. A date in the past means 0.

    Example:
        >>> parse_retry_after("2", now=0)
        2.0
        >>> parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=10)
        20.0
        >>> parse_retry_after("soon", now=0) is None
        True
    """
    if header is None:
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None  # an HTTP date is always GMT; a date without a zone is not one
    try:
        return max(0.0, when.timestamp() - now)
    except (OverflowError, OSError, ValueError):
        return None


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    timing: RetryTiming = DEFAULT_TIMING,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    The Retry-After the service sent wins, capped at `timing.retry_after_cap`; otherwise
    ``base_delay * 2 ** (attempt - 1)``, at most `max_delay`, less up to 25 % jitter so that many
    clients do not retry in step.

    Example:
        >>> retry_delay(1, None, rand=lambda: 0.0), retry_delay(3, None, rand=lambda: 0.0)
        (0.5, 2.0)
        >>> retry_delay(1, 7.0), retry_delay(1, 3600.0)
        (7.0, 60.0)
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), timing.retry_after_cap)
    backoff = min(timing.base_delay * 2.0 ** max(attempt - 1, 0), timing.max_delay)
    return backoff * (1.0 - 0.25 * rand())


class DeadlineExceeded(Exception):
    """Waiting for another attempt would pass the caller's deadline (an internal signal, never
    raised to users); `last_error` was the last failure."""

    def __init__(self, last_error: ByoursideError | None) -> None:
        super().__init__("deadline exceeded")
        self.last_error = last_error


def _retry_after_of(error: BaseException | None) -> float | None:
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, (int, float)) else None


@dataclass
class RetryPolicy:
    """One request's retry decisions, as tenacity's hooks: `hooks()` configures `Retrying` here
    and, unchanged, an `AsyncRetrying` that sleeps with ``asyncio.sleep``. The decisions are the
    plain functions above; this object only keeps one request's state (its jittered delays)."""

    places_call: bool
    max_retries: int
    deadline: float | None = None
    timing: RetryTiming = DEFAULT_TIMING
    clock: Callable[[], float] = time.monotonic
    describe: str = "request"
    _delays: dict[int, float] = field(default_factory=dict, repr=False)

    def delay(self, state: RetryCallState) -> float:
        """Seconds to wait before the next attempt. Memoised: tenacity asks the wait and the stop
        in an order that changed across versions, and the jittered value must be the same for both."""
        if state.attempt_number not in self._delays:
            error = state.outcome.exception() if state.outcome else None
            self._delays[state.attempt_number] = retry_delay(
                state.attempt_number, _retry_after_of(error), timing=self.timing
            )
        return self._delays[state.attempt_number]

    def stop(self, state: RetryCallState) -> bool:
        """Whether the retries are spent; raises `DeadlineExceeded` when the next wait would end
        past the deadline."""
        if state.attempt_number > self.max_retries:
            return True
        if self.deadline is not None and self.clock() + self.delay(state) > self.deadline:
            error = state.outcome.exception() if state.outcome else None
            raise DeadlineExceeded(error if isinstance(error, ByoursideError) else None)
        return False

    def retryable(self, error: BaseException) -> bool:
        """`should_retry` for this request."""
        return isinstance(error, ByoursideError) and should_retry(
            code=error.code,
            status=error.status,
            may_have_placed=error.may_have_placed,
            places_call=self.places_call,
        )

    def log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.info(
            "Retrying %s in %.2f s (retry %d of %d) after %s",
            self.describe,
            self.delay(state),
            state.attempt_number,
            self.max_retries,
            getattr(error, "code", None) or type(error).__name__,
        )

    def hooks(self) -> dict[str, Any]:
        """The keyword arguments of `tenacity.Retrying` / `AsyncRetrying` but ``sleep``."""
        return {
            "stop": self.stop,
            "wait": self.delay,
            "retry": retry_if_exception(self.retryable),
            "before_sleep": self.log_retry,
            "reraise": True,
        }


def call_with_retries(
    attempt: Callable[[], T],
    *,
    places_call: bool,
    max_retries: int,
    deadline: float | None = None,
    timing: RetryTiming = DEFAULT_TIMING,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    describe: str = "request",
) -> T:
    """Run `attempt`, and again after each failure `should_retry` allows, at most `max_retries` times.

    With a `deadline` (a `clock()` value) no wait ever ends past it: when the next wait would, this
    raises `DeadlineExceeded` instead of sleeping. Any error that is not retried is raised as is.
    """
    policy = RetryPolicy(places_call, max_retries, deadline, timing, clock, describe)
    return Retrying(sleep=sleep, **policy.hooks())(attempt)


async def acall_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    places_call: bool,
    max_retries: int,
    deadline: float | None = None,
    timing: RetryTiming = DEFAULT_TIMING,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float] = time.monotonic,
    describe: str = "request",
) -> T:
    """`call_with_retries` for a coroutine `attempt`: the same `RetryPolicy`, driven by tenacity's
    AsyncRetrying, each wait awaited with `sleep` (``asyncio.sleep``: a client waiting to retry
    holds no thread; a parameter, so that `import byourside` never loads asyncio)."""
    policy = RetryPolicy(places_call, max_retries, deadline, timing, clock, describe)
    return await AsyncRetrying(sleep=sleep, **policy.hooks())(attempt)
