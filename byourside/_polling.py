"""The wait for a call to end, as a state machine that does no I/O, and its synchronous driver.

`CallWait` makes every decision of `Client.wait_for_call` and `Client.call`'s wait; a driver only
carries them out. It asks `start` for the first step, performs each step, and reports back:

=================  ===========================================================  ==================
step               the driver                                                   then reports
=================  ===========================================================  ==================
`Fetch`            reads the call once, its retries and read timeouts bounded   ``fetched(outcome,
                   by ``step.deadline`` (a `ByoursideError` or                  now)``
                   `DeadlineExceeded` raised is the outcome)
`Report`           hands ``step.call`` to ``on_status``                          ``resume(now)``
`Sleep`            sleeps ``step.seconds``                                      ``resume(now)``
`Done`             returns ``step.call``                                        -
`Fail`             raises ``step.error``                                        -
=================  ===========================================================  ==================

`wait_flow` walks those steps as a flow (`byourside._flows`): `run_wait` drives it blocking for
`Client`, and `AsyncClient` drives the same flow with ``await`` and ``asyncio.sleep``. Times are
readings of the driver's monotonic clock.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from byourside._flows import Flow, drive_sync
from byourside._models import Call
from byourside._retry import DEFAULT_TIMING, DeadlineExceeded, RetryTiming, retry_delay
from byourside.errors import (
    CODE_MESSAGES,
    ByoursideError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    WaitTimeoutError,
    placed_call_hint,
    raised_after_placing,
)

__all__ = [
    "NOT_FOUND_REREADS",
    "CallWait",
    "Done",
    "Fail",
    "Fetch",
    "Report",
    "Sleep",
    "Step",
    "errors_name_call",
    "placed_call_kept",
    "run_wait",
    "wait_flow",
]

logger = logging.getLogger("byourside")

NOT_FOUND_REREADS = 3
"""How many times `Client.call` reads a call it has just placed again after ``not_found``, before
its first successful read: the read may have outrun the service's store. With the default timing
the rereads come after about 0.5, 1 and 2 s, and never past the wait's deadline."""


@dataclass(frozen=True)
class Fetch:
    """Read the call now; no retry or read may outlast `deadline` (a clock reading)."""

    deadline: float


@dataclass(frozen=True)
class Report:
    """The call has a status not seen before: hand it to ``on_status``."""

    call: Call


@dataclass(frozen=True)
class Sleep:
    """Wait `seconds` (never past the deadline), then resume."""

    seconds: float


@dataclass(frozen=True)
class Done:
    """The call has ended: the wait returns it."""

    call: Call


@dataclass(frozen=True)
class Fail:
    """The wait ends with `error` (its ``__cause__`` already set)."""

    error: ByoursideError


Step = Fetch | Report | Sleep | Done | Fail


class CallWait:
    """The decisions of one wait for `call_id` to end: what to do next, given what happened.

    Polls every `interval` seconds until the call's status is terminal. A ``rate_limited`` reply
    pauses (as long as its Retry-After asks, at least `interval`) and polls on. ``not_found``
    before the call was ever read is read again up to `not_found_rereads` times (`Client.call`:
    the read may have outrun the store). When the next pause would reach the deadline, or a read
    ran out of time, the wait fails with `WaitTimeoutError` at once: no sleep ends past it. Every
    other error ends the wait as it is. Every error the wait ends with names `call_id`.

    Example (the driver's part played by hand):
        >>> wait = CallWait("c1", timeout=10, interval=3, now=0.0)
        >>> wait.start(now=0.0)
        Fetch(deadline=10.0)
        >>> queued = Call(id="c1", status="queued")
        >>> wait.fetched(queued, now=0.1) == Report(queued)  # a status not seen before
        True
        >>> wait.resume(now=0.1)
        Sleep(seconds=3.0)
        >>> wait.resume(now=3.1), wait.fetched(queued, now=3.2)
        (Fetch(deadline=10.0), Sleep(seconds=3.0))
        >>> failed = wait.fetched(queued, now=9.2)  # a poll at 12.2 s would pass the deadline
        >>> type(failed).__name__, failed.error.code, failed.error.call_id
        ('Fail', 'timeout', 'c1')
    """

    def __init__(
        self,
        call_id: str,
        *,
        timeout: float,
        interval: float,
        now: float,
        timing: RetryTiming = DEFAULT_TIMING,
        not_found_rereads: int = 0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.call_id = call_id
        self.timeout = float(timeout)
        self.interval = float(interval)
        self.deadline = now + timeout
        self.status: str | None = None
        """The last status read, None before the first read."""
        self._timing = timing
        self._not_found_rereads = not_found_rereads
        self._rereads = 0
        self._rand = rand
        self._reported: Call | None = None

    def start(self, now: float) -> Step:
        """The first step: read the call, unless no time is left at all."""
        return self._fetch(now)

    def fetched(self, outcome: Call | BaseException, now: float) -> Step:
        """The step after a read that returned `outcome`: the call, or the error it raised."""
        if isinstance(outcome, Call):
            if outcome.status != self.status:
                self.status = outcome.status
                self._reported = outcome
                return Report(outcome)
            return self._after(outcome, now)
        if isinstance(outcome, DeadlineExceeded):
            return self._timed_out(outcome.last_error)
        if isinstance(outcome, RateLimitError):
            pause = max(
                self.interval, retry_delay(1, outcome.retry_after, timing=self._timing, rand=self._rand)
            )
            logger.info("Rate limited while waiting for %s; polling again in %.2f s", self.call_id, pause)
            return self._pause(pause, now, outcome)
        if (
            isinstance(outcome, NotFoundError)
            and self.status is None
            and self._rereads < self._not_found_rereads
        ):
            self._rereads += 1
            pause = retry_delay(self._rereads, None, timing=self._timing, rand=self._rand)
            logger.info(
                "Call %s not found yet (just placed); reading it again in %.2f s", self.call_id, pause
            )
            return self._pause(pause, now, outcome)
        if isinstance(outcome, NetworkError) and now >= self.deadline:
            return self._timed_out(outcome)  # its read timeout was cut to the deadline
        if isinstance(outcome, ByoursideError):
            return self._fail(outcome)
        raise TypeError(f"a read returns a Call or raises a ByoursideError, not {outcome!r}")

    def resume(self, now: float) -> Step:
        """The step after a `Report` was handed on or a `Sleep` slept."""
        if self._reported is not None:
            call, self._reported = self._reported, None
            return self._after(call, now)
        return self._fetch(now)

    def _after(self, call: Call, now: float) -> Step:
        return Done(call) if call.is_terminal else self._pause(self.interval, now, None)

    def _fetch(self, now: float) -> Step:
        return Fetch(self.deadline) if now < self.deadline else self._timed_out(None)

    def _pause(self, seconds: float, now: float, cause: ByoursideError | None) -> Step:
        # A pause that reaches the deadline could only end in a timeout: give it now.
        return Sleep(seconds) if now + seconds < self.deadline else self._timed_out(cause)

    def _timed_out(self, cause: ByoursideError | None) -> Fail:
        error = WaitTimeoutError(
            f"{CODE_MESSAGES['timeout']}: call {self.call_id!r} had not ended after {self.timeout:g} s "
            f"(last status seen: {self.status or 'none'})",
            0,
            "timeout",
        )
        error.__cause__ = cause
        return self._fail(error)

    def _fail(self, error: ByoursideError) -> Fail:
        if error.call_id is None:
            error.call_id = self.call_id
        return Fail(error)


def wait_flow(
    wait: CallWait, *, on_status: Callable[[Call], object] | None, clock: Callable[[], float]
) -> Flow[Fetch | Sleep, Call]:
    """`wait`'s steps as a flow (`byourside._flows`) for any driver: it yields `Fetch` (send the
    call read back in, or throw in the `ByoursideError` or `DeadlineExceeded` raised) and `Sleep`,
    hands each `Report` to `on_status` itself, and returns the ended call or raises the `Fail`."""
    step = wait.start(clock())
    while True:
        if isinstance(step, Fetch):
            try:
                outcome: Call | BaseException = yield step
            except (ByoursideError, DeadlineExceeded) as error:
                outcome = error
            step = wait.fetched(outcome, clock())
        elif isinstance(step, Report):
            if on_status is not None:
                on_status(step.call)
            step = wait.resume(clock())
        elif isinstance(step, Sleep):
            yield step
            step = wait.resume(clock())
        elif isinstance(step, Done):
            return step.call
        else:
            raise step.error


def run_wait(
    wait: CallWait,
    fetch: Callable[[float], Call],
    *,
    on_status: Callable[[Call], object] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Call:
    """Carry out `wait`'s steps, blocking: `fetch(deadline)` reads the call, `sleep` waits."""

    def perform(step: Fetch | Sleep) -> Call | None:
        if isinstance(step, Fetch):
            return fetch(step.deadline)
        sleep(step.seconds)
        return None

    return drive_sync(wait_flow(wait, on_status=on_status, clock=clock), perform)


@contextmanager
def errors_name_call(call_id: object) -> Iterator[None]:
    """Every `ByoursideError` raised inside names `call_id` (get_call, wait_for_call: the call
    asked for), unless it already names one; `may_have_placed` is left as it is."""
    try:
        yield
    except ByoursideError as error:
        if error.call_id is None and isinstance(call_id, str):
            error.call_id = call_id
        raise


@contextmanager
def placed_call_kept(call_id: str) -> Iterator[None]:
    """For everything done after `call_id` was placed: a `ByoursideError` raised inside says so
    (`raised_after_placing`); any other exception (the program's own, from ``on_status``, or
    Ctrl-C) keeps its type and gets a note naming the call in ``__notes__`` (which tracebacks
    show from Python 3.11; on 3.10 the list is set the same way, for programs to read)."""
    try:
        yield
    except ByoursideError as error:
        raised_after_placing(error, call_id)
        raise
    except BaseException as error:
        # BaseException.add_note is 3.11+; PEP 678 defines the attribute it appends to.
        notes = getattr(error, "__notes__", None)
        if not isinstance(notes, list):
            notes = []
            vars(error)["__notes__"] = notes  # typeshed knows the attribute from 3.11 only
        notes.append(placed_call_hint(call_id))
        raise
