"""The batch's `Pacer` on a driven clock: one shared pause, backoff, what is retried and what is not."""

from __future__ import annotations

import threading

import pytest

from byourside._pacing import MAX_RATE_LIMITED_WAITS, Pacer
from byourside._retry import RetryTiming
from byourside.errors import (
    ByoursideError,
    NetworkError,
    RateLimitError,
    ServiceUnavailableError,
    UsageCapError,
)


class DrivenTime:
    """A clock that moves only when slept on (or never, with `moves=False`); sleeps are recorded."""

    def __init__(self, moves: bool = True) -> None:
        self.now = 1000.0
        self.moves = moves
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.moves:
            self.now += seconds


def make_pacer(time: DrivenTime, *, max_retries: int = 2, stop: threading.Event | None = None) -> Pacer:
    return Pacer(
        sleep=time.sleep,
        clock=time.clock,
        stop=stop or threading.Event(),
        timing=RetryTiming(),
        max_retries=max_retries,
    )


def rate_limited(retry_after: float | None) -> RateLimitError:
    error = RateLimitError("Rate limit reached, retry shortly", 429, "rate_limited")
    error.retry_after = retry_after
    return error


class Attempts:
    """A request that raises `errors` in turn, then returns `result`; `calls` counts attempts."""

    def __init__(self, errors: list[ByoursideError], result: str = "done") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def test_a_rate_limited_reply_pauses_every_worker_for_the_retry_after() -> None:
    time = DrivenTime()
    pacer = make_pacer(time)
    request = Attempts([rate_limited(2.0)])
    assert pacer.send(request, places_call=True) == "done"
    assert time.sleeps == [2.0]
    # The pause is over for everyone once slept; another worker's turn costs no wait.
    pacer.wait_turn()
    assert time.sleeps == [2.0]


def test_a_pause_set_by_one_worker_holds_the_others_back() -> None:
    time = DrivenTime()
    pacer = make_pacer(time)
    pacer.pause_for_rate_limit(3.0)
    assert pacer.send(lambda: "other worker", places_call=False) == "other worker"
    assert time.sleeps == [3.0]
    assert pacer.rate_limited_replies == 1


def test_a_clock_too_coarse_to_move_does_not_trap_the_wait() -> None:
    # FakeClock moves in whole microseconds: a sub-microsecond pause does not move it at all.
    time = DrivenTime(moves=False)
    pacer = make_pacer(time)
    pacer.pause_for_rate_limit(1e-7)
    pacer.wait_turn()
    assert time.sleeps == [pytest.approx(1e-7)]


def test_without_retry_after_the_pause_grows_and_resets_after_a_success() -> None:
    time = DrivenTime()
    pacer = make_pacer(time)
    assert pacer.send(Attempts([rate_limited(None)] * 3), places_call=True) == "done"
    assert pacer.send(Attempts([rate_limited(None)]), places_call=True) == "done"
    first, second, third, after_success = time.sleeps
    assert 0.375 <= first <= 0.5
    assert 0.75 <= second <= 1.0
    assert 1.5 <= third <= 2.0
    assert 0.375 <= after_success <= 0.5


def test_rate_limited_in_a_row_too_often_gives_up_with_the_error() -> None:
    time = DrivenTime()
    request = Attempts([rate_limited(1.0)] * (MAX_RATE_LIMITED_WAITS + 1))
    with pytest.raises(RateLimitError):
        make_pacer(time).send(request, places_call=True)
    assert request.calls == MAX_RATE_LIMITED_WAITS + 1


def test_a_placement_that_may_have_reached_the_service_is_never_sent_again() -> None:
    maybe = NetworkError("connection dropped", 0, "network_error", may_have_placed=True)
    request = Attempts([maybe])
    with pytest.raises(NetworkError):
        make_pacer(DrivenTime()).send(request, places_call=True)
    assert request.calls == 1


def test_the_minutes_cap_is_never_retried() -> None:
    request = Attempts([UsageCapError("Outbound usage limit reached", 429, "over_minute_cap")])
    with pytest.raises(UsageCapError):
        make_pacer(DrivenTime()).send(request, places_call=True)
    assert request.calls == 1


def test_failures_that_prove_nothing_was_placed_are_retried_up_to_max_retries() -> None:
    not_sent = NetworkError("connection refused", 0, "network_error")
    store_error = ServiceUnavailableError("Temporary service error", 503, "store_error")
    time = DrivenTime()
    assert make_pacer(time, max_retries=2).send(Attempts([not_sent, store_error]), places_call=True) == "done"
    assert len(time.sleeps) == 2
    request = Attempts([store_error] * 3)
    with pytest.raises(ServiceUnavailableError):
        make_pacer(DrivenTime(), max_retries=2).send(request, places_call=True)
    assert request.calls == 3


def test_a_stopped_batch_waits_no_more_and_retries_nothing() -> None:
    stop = threading.Event()
    pacer = Pacer(
        sleep=None, clock=DrivenTime(moves=False).clock, stop=stop, timing=RetryTiming(), max_retries=5
    )
    pacer.pause_for_rate_limit(3600.0)
    stop.set()
    pacer.wait_turn()  # returns at once: real-time waits end when the batch stops
    request = Attempts([rate_limited(1.0)])
    with pytest.raises(RateLimitError):
        pacer.send(request, places_call=True)
    assert request.calls == 1
