"""The retry policy as plain functions, without a server: table-driven cases and properties."""

from __future__ import annotations

import math
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byourside._retry import (
    DEFAULT_TIMING,
    DeadlineExceeded,
    RetryTiming,
    call_with_retries,
    parse_retry_after,
    retry_delay,
    should_retry,
)
from byourside.errors import (
    REFUSAL_TOKENS,
    SERVER_TOKENS,
    ByoursideError,
    NetworkError,
    RateLimitError,
    ServiceUnavailableError,
)

# (code, status, may_have_placed, places_call) -> retried?
RETRY_TABLE: list[tuple[str | None, int, bool, bool, bool]] = [
    # Placements: only what proves nothing was placed.
    ("rate_limited", 429, False, True, True),
    ("placement_failed", 502, False, True, True),
    ("store_error", 503, False, True, True),
    ("network_error", 0, False, True, True),  # refused / connect timeout: never sent
    ("network_error", 0, True, True, False),  # read timeout / dropped after sending
    ("over_minute_cap", 429, False, True, False),
    ("destination_blocked", 400, False, True, False),
    ("invalid_response", 502, True, True, False),  # an HTML 502 page: outcome unknown
    ("invalid_response", 201, True, True, False),  # an unreadable 2xx: it was placed
    ("error", 500, True, True, False),  # a 5xx without a token
    ("some_new_token", 500, True, True, False),
    ("unauthorized", 401, False, True, False),
    # Reads: connection failures, timeouts, rate_limited, store_error and 5xx.
    ("network_error", 0, False, False, True),
    ("rate_limited", 429, False, False, True),
    ("store_error", 503, False, False, True),
    ("error", 500, False, False, True),
    ("invalid_response", 502, False, False, True),
    ("some_new_token", 503, False, False, True),
    ("over_minute_cap", 429, False, False, False),
    ("over_minute_cap", 503, False, False, False),  # the token wins over the status
    ("not_found", 404, False, False, False),
    ("not_found", 500, False, False, False),
    ("unauthorized", 401, False, False, False),
    ("invalid_response", 200, False, False, True),  # a garbled 2xx to a read: read again
    ("invalid_response", 200, True, True, False),  # ... but never to a placement
    ("invalid_response", 404, False, False, False),  # an unreadable 4xx page will not change
    ("error", 429, False, False, False),  # 429 without the rate_limited token
    ("some_new_token", 429, False, False, False),
    ("error", 400, False, False, False),
]


@pytest.mark.parametrize(("code", "status", "may_have_placed", "places_call", "expected"), RETRY_TABLE)
def test_should_retry_table(
    code: str | None, status: int, may_have_placed: bool, places_call: bool, expected: bool
) -> None:
    assert (
        should_retry(code=code, status=status, may_have_placed=may_have_placed, places_call=places_call)
        is expected
    )


@pytest.mark.parametrize("token", sorted(REFUSAL_TOKENS))
@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 502, 503])
@pytest.mark.parametrize("places_call", [True, False])
def test_refusal_tokens_never_retried_whatever_the_status(token: str, status: int, places_call: bool) -> None:
    assert not should_retry(code=token, status=status, may_have_placed=False, places_call=places_call)


@given(
    code=st.one_of(st.none(), st.sampled_from(sorted(SERVER_TOKENS)), st.text(max_size=20)),
    status=st.integers(min_value=0, max_value=599),
)
def test_a_placement_that_may_have_placed_is_never_retried(code: str | None, status: int) -> None:
    assert not should_retry(code=code, status=status, may_have_placed=True, places_call=True)
    # A placement is retried only on the three tokens or a connection that never sent anything.
    if should_retry(code=code, status=status, may_have_placed=False, places_call=True):
        assert code in {"rate_limited", "placement_failed", "store_error", "network_error"}


NOW = 1_790_000_000.0  # a fixed Unix time for HTTP dates


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("2", 2.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("120", 120.0),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("2 seconds", None),
        (formatdate(NOW + 30, usegmt=True), 30.0),
        (formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past: retry now
        (formatdate(NOW + 5, usegmt=True).replace("GMT", "+0000"), 5.0),  # numeric zone
        ("Mon, 32 Foo 2026 99:99:99 GMT", None),
        ("Thu, 01 Jan 1970 00:00:00", None),  # no zone: not an HTTP date
    ],
)
def test_parse_retry_after_table(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(header: str) -> None:
    value = parse_retry_after(header, NOW)
    assert value is None or (math.isfinite(value) and value >= 0)


@given(st.integers(min_value=0, max_value=10**9))
def test_parse_retry_after_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == seconds


@given(st.integers(min_value=0, max_value=10**6))
def test_parse_retry_after_http_date(seconds: int) -> None:
    assert parse_retry_after(formatdate(NOW + seconds, usegmt=True), NOW) == seconds


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (1, 0.0, 0.5),
        (2, 0.0, 1.0),
        (3, 0.0, 2.0),
        (4, 0.0, 4.0),
        (5, 0.0, 8.0),
        (9, 0.0, 8.0),  # capped at max_delay
        (1, 1.0, 0.375),  # jitter takes off at most a quarter
        (5, 1.0, 6.0),
    ],
)
def test_backoff_table(attempt: int, rand: float, expected: float) -> None:
    assert retry_delay(attempt, None, rand=lambda: rand) == expected


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(0.0, 0.0), (2.0, 2.0), (59.5, 59.5), (60.0, 60.0), (3600.0, 60.0)]
)
def test_retry_after_wins_up_to_the_cap(retry_after: float, expected: float) -> None:
    assert retry_delay(1, retry_after, rand=lambda: 0.5) == expected
    assert retry_delay(7, retry_after) == expected  # no jitter on what the service asked for


@given(
    attempt=st.integers(min_value=1, max_value=1000),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=1e9)),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
    base=st.floats(min_value=0.001, max_value=5),
    max_delay=st.floats(min_value=0.01, max_value=100),
    cap=st.floats(min_value=0, max_value=600),
)
def test_retry_delay_bounds(
    attempt: int, retry_after: float | None, rand: float, base: float, max_delay: float, cap: float
) -> None:
    timing = RetryTiming(base_delay=base, max_delay=max_delay, retry_after_cap=cap)
    delay = retry_delay(attempt, retry_after, timing=timing, rand=lambda: rand)
    assert math.isfinite(delay)
    if retry_after is None:
        backoff = min(base * 2.0 ** (attempt - 1), max_delay)
        assert 0.75 * backoff - 1e-9 <= delay <= backoff
    else:
        assert delay == min(retry_after, cap)


@given(st.integers(min_value=1, max_value=30))
def test_backoff_never_shrinks_before_jitter(attempt: int) -> None:
    assert retry_delay(attempt + 1, None, rand=lambda: 0.0) >= retry_delay(attempt, None, rand=lambda: 0.0)


# -- the driver, with a scripted attempt and a fake clock -----------------------------------


class Script:
    """An attempt that raises the scripted errors in turn, then returns "ok"."""

    def __init__(self, *errors: ByoursideError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limited(retry_after: float | None) -> RateLimitError:
    error = RateLimitError("limited", 429, "rate_limited")
    error.retry_after = retry_after
    return error


def run(script: Script, time: FakeTime, **options: Any) -> str:
    options.setdefault("places_call", False)
    options.setdefault("max_retries", 2)
    return call_with_retries(script, sleep=time.sleep, clock=time.clock, **options)


def test_driver_retries_then_succeeds_with_retry_after() -> None:
    time, script = FakeTime(), Script(limited(3.0), limited(1.5))
    assert run(script, time) == "ok"
    assert script.calls == 3
    assert time.sleeps == [3.0, 1.5]


def test_driver_stops_after_max_retries_and_raises_the_last_error() -> None:
    time = FakeTime()
    script = Script(*(ServiceUnavailableError("down", 503, "store_error") for _ in range(5)))
    with pytest.raises(ServiceUnavailableError):
        run(script, time, max_retries=3)
    assert script.calls == 4
    assert len(time.sleeps) == 3
    for attempt, slept in enumerate(time.sleeps, start=1):
        full = DEFAULT_TIMING.base_delay * 2 ** (attempt - 1)
        assert 0.75 * full <= slept <= full


def test_driver_never_retries_a_placement_that_may_have_been_placed() -> None:
    time = FakeTime()
    script = Script(NetworkError("dropped", 0, "network_error", may_have_placed=True))
    with pytest.raises(NetworkError):
        run(script, time, places_call=True)
    assert script.calls == 1
    assert time.sleeps == []


def test_driver_with_zero_retries_sends_once() -> None:
    time, script = FakeTime(), Script(limited(0.0))
    with pytest.raises(RateLimitError):
        run(script, time, max_retries=0)
    assert script.calls == 1


def test_driver_never_sleeps_past_the_deadline() -> None:
    time = FakeTime()
    script = Script(limited(2.0), limited(5.0))
    with pytest.raises(DeadlineExceeded) as caught:
        run(script, time, deadline=time.now + 4.0)
    assert time.sleeps == [2.0]  # the 5 s wait would have ended past the deadline
    assert time.now <= 104.0
    assert caught.value.last_error is not None
    assert caught.value.last_error.code == "rate_limited"


def test_driver_lets_other_exceptions_through_untouched() -> None:
    def boom() -> str:
        raise KeyError("not ours")

    with pytest.raises(KeyError):
        call_with_retries(boom, places_call=False, max_retries=5, sleep=FakeTime().sleep)
