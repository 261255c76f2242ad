"""Pacing for a batch: one pause that every worker respects, set by whichever meets the rate limit.

The service documents no rate-limit numbers or headers; it answers ``rate_limited`` (with
``Retry-After`` sometimes). A batch of concurrent workers that each retried on its own would keep
hitting the limit while one of them waits. So the workers share a `Pacer`:

* before each request a worker waits for the shared pause to end (`Pacer.send`, or the flow
  `Pacer.paced` that an async batch drives with ``await``);
* a ``rate_limited`` reply pauses everyone: until the Retry-After when the service sent one, else
  for a backoff that grows with each refusal in a row (0.5 s, 1 s, 2 s, ... up to 8 s) and resets
  at the first success;
* other failures are retried as the client's policy allows (`should_retry`): a placement only
  when the reply proves nothing was placed, or the connection failed before sending.

Requests go out with the client's own retries off (``max_retries=0``), so every retry passes
through here, and a refused placement is recorded before it is sent again.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from byourside._batch_steps import Pause, at_once
from byourside._flows import Flow, drive_sync
from byourside._retry import DeadlineExceeded, RetryTiming, retry_delay, should_retry
from byourside.errors import ByoursideError, RateLimitError

__all__ = ["MAX_RATE_LIMITED_WAITS", "Pacer"]

T = TypeVar("T")

MAX_RATE_LIMITED_WAITS = 50
"""How many ``rate_limited`` replies in a row one request meets before it gives up with that error."""


class Pacer:
    """The shared pause and the retry loop of a batch's workers.

    Args:
        sleep: how to wait (the client's); None for real time, interruptible by `stop`.
        clock: seconds, monotonic (the client's).
        stop: once set, waits end at once and no request is retried.
        timing: backoff settings (the client's).
        max_retries: retries of a failure other than ``rate_limited`` (the client's by default).

    Example:
        >>> import time
        >>> pacer = Pacer(sleep=None, clock=time.monotonic, stop=threading.Event(),
        ...               timing=RetryTiming(), max_retries=2)
        >>> pacer.send(lambda: "sent", places_call=False)
        'sent'
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] | None,
        clock: Callable[[], float],
        stop: threading.Event,
        timing: RetryTiming,
        max_retries: int,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self._stop = stop
        self._timing = timing
        self._max_retries = max_retries
        self._lock = threading.Lock()
        self._resume_at = -math.inf
        self._refusals_in_a_row = 0
        self.rate_limited_replies = 0
        """How many ``rate_limited`` replies the batch has met (for reports and tests)."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if the batch is stopped meanwhile."""
        if seconds <= 0 or self._stop.is_set():
            return
        if self._sleep is None:
            self._stop.wait(seconds)
        else:
            self._sleep(seconds)

    def turn(self, deadline: float | None = None) -> Flow[Pause, None]:
        """Return once no pause is in force (or the batch is stopped): a flow yielding `Pause`.

        Raises `DeadlineExceeded` when the pause lasts past `deadline` (a `clock` value).
        """
        while not self._stop.is_set():
            with self._lock:
                resume_at = self._resume_at
                left = resume_at - self._clock()
            if left <= 0:
                return
            if deadline is not None and resume_at > deadline:
                raise DeadlineExceeded(None)
            yield Pause(left)
            # Slept the whole pause: done, unless another refusal made it longer meanwhile. The
            # clock is not read again: a clock of coarser grain than `left` may not have moved.
            with self._lock:
                if self._resume_at <= resume_at:
                    return

    def wait_turn(self, deadline: float | None = None) -> None:
        """`turn`, blocking."""
        drive_sync(self.turn(deadline), self.perform)

    def pause_for_rate_limit(self, retry_after: float | None) -> float:
        """Pause every worker after a ``rate_limited`` reply; returns the pause in seconds."""
        with self._lock:
            self._refusals_in_a_row += 1
            self.rate_limited_replies += 1
            pause = retry_delay(self._refusals_in_a_row, retry_after, timing=self._timing)
            self._resume_at = max(self._resume_at, self._clock() + pause)
        return pause

    def _admitted(self) -> None:
        with self._lock:
            self._refusals_in_a_row = 0

    def paced(
        self,
        attempt: Callable[[], Flow[Any, T]],
        *,
        places_call: bool,
        deadline: float | None = None,
    ) -> Flow[Any, T]:
        """Run the flow `attempt()` (one attempt, the client's retries off) in turn, paced and
        retried: the flow of `send`, yielding `Pause` besides what `attempt` yields."""
        rate_limited = 0
        retries = 0
        while True:
            yield from self.turn(deadline)
            try:
                result = yield from attempt()
            except RateLimitError as error:
                if error.code != "rate_limited":
                    raise
                rate_limited += 1
                if rate_limited > MAX_RATE_LIMITED_WAITS or self._stop.is_set():
                    raise
                self.pause_for_rate_limit(error.retry_after)
                continue
            except ByoursideError as error:
                retryable = should_retry(
                    code=error.code,
                    status=error.status,
                    may_have_placed=error.may_have_placed,
                    places_call=places_call,
                )
                if not retryable or retries >= self._max_retries or self._stop.is_set():
                    raise
                retries += 1
                delay = retry_delay(retries, getattr(error, "retry_after", None), timing=self._timing)
                if deadline is not None and self._clock() + delay > deadline:
                    raise DeadlineExceeded(error) from error
                yield Pause(delay)
                continue
            self._admitted()
            return result

    def send(self, request: Callable[[], T], *, places_call: bool, deadline: float | None = None) -> T:
        """Run `request` (one attempt, the client's retries off) in turn, paced and retried.

        A ``rate_limited`` reply pauses the whole batch and the request is sent again after it,
        up to `MAX_RATE_LIMITED_WAITS` times in a row; any other failure is retried only as
        `should_retry` allows, at most `max_retries` times. The last error is raised. With a
        `deadline` (a `clock` value), a wait that would end past it raises `DeadlineExceeded`.
        """
        flow = self.paced(lambda: at_once(request), places_call=places_call, deadline=deadline)
        return drive_sync(flow, self.perform)

    def perform(self, effect: object) -> None:
        """Carry out a `Pause` (the pacer's own effect) with `sleep`, blocking."""
        if not isinstance(effect, Pause):
            raise TypeError(f"the pacer's flows yield only Pause, not {effect!r}")
        self.sleep(effect.seconds)
