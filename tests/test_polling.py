"""The wait's state machine (`CallWait`) on its own: no server, no clock but the numbers fed to it.

The examples pin each decision; the property test feeds random outcomes at random times and checks
what every driver relies on: no sleep reaches the deadline, no read starts after it, the wait always
ends, `on_status` sees each new status once, and every error it ends with names the call.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byourside import (
    Call,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    WaitTimeoutError,
)
from byourside._polling import NOT_FOUND_REREADS, CallWait, Done, Fail, Fetch, Report, Sleep, Step
from byourside._retry import DeadlineExceeded


def machine(timeout: float = 10, interval: float = 3, **options: Any) -> CallWait:
    return CallWait("c1", timeout=timeout, interval=interval, now=0.0, rand=lambda: 0.0, **options)


def call(status: str) -> Call:
    return Call(id="c1", status=status)


def limited(retry_after: float | None) -> RateLimitError:
    error = RateLimitError("Rate limit reached", 429, "rate_limited")
    error.retry_after = retry_after
    return error


def not_found() -> NotFoundError:
    return NotFoundError("Call ID not found", 404, "not_found")


def test_a_wait_with_no_time_left_fails_without_a_read() -> None:
    step = CallWait("c1", timeout=0, interval=3, now=5.0).start(now=5.0)
    assert isinstance(step, Fail)
    assert (step.error.code, step.error.call_id) == ("timeout", "c1")


def test_a_terminal_call_is_reported_then_done() -> None:
    wait = machine()
    assert wait.start(0.0) == Fetch(10.0)
    ended = call("completed")
    assert wait.fetched(ended, 0.1) == Report(ended)
    assert wait.resume(0.1) == Done(ended)


def test_a_status_seen_before_is_not_reported_again() -> None:
    wait = machine(timeout=100)
    wait.start(0.0)
    assert isinstance(wait.fetched(call("queued"), 0.0), Report)
    assert wait.resume(0.0) == Sleep(3.0)
    assert wait.resume(3.0) == Fetch(100.0)
    assert wait.fetched(call("queued"), 3.0) == Sleep(3.0)
    assert isinstance(wait.fetched(call("in_progress"), 6.0), Report)


def test_a_rate_limit_waits_as_asked_but_never_less_than_the_interval() -> None:
    wait = machine(timeout=100)
    wait.start(0.0)
    assert wait.fetched(limited(7.0), 0.0) == Sleep(7.0)
    assert wait.resume(7.0) == Fetch(100.0)
    assert wait.fetched(limited(0.0), 7.0) == Sleep(3.0)


def test_a_pause_that_would_reach_the_deadline_fails_now_from_its_cause() -> None:
    wait = machine(timeout=10)
    wait.start(0.0)
    cause = limited(30.0)
    step = wait.fetched(cause, 1.0)
    assert isinstance(step, Fail)
    assert isinstance(step.error, WaitTimeoutError)
    assert step.error.__cause__ is cause
    assert step.error.call_id == "c1"


def test_a_read_that_ran_out_of_time_is_a_timeout() -> None:
    wait = machine(timeout=10)
    wait.start(0.0)
    last = ServiceUnavailableError("Temporary service error", 503, "store_error")
    step = wait.fetched(DeadlineExceeded(last), 9.0)
    assert isinstance(step, Fail)
    assert isinstance(step.error, WaitTimeoutError)
    assert step.error.__cause__ is last
    dropped = NetworkError("Could not reach the API", 0, "network_error")
    step = machine(timeout=10).fetched(dropped, 10.0)
    assert isinstance(step, Fail)
    assert isinstance(step.error, WaitTimeoutError)


def test_other_errors_end_the_wait_as_they_are_and_name_the_call() -> None:
    garbled = InvalidResponseError("not JSON", 502, "invalid_response")
    step = machine().fetched(garbled, 1.0)
    assert step == Fail(garbled)
    assert garbled.call_id == "c1"
    assert garbled.may_have_placed is False


def test_not_found_ends_the_wait_unless_rereads_were_asked_for() -> None:
    assert isinstance(machine().fetched(not_found(), 0.0), Fail)
    wait = machine(timeout=60, not_found_rereads=NOT_FOUND_REREADS)
    wait.start(0.0)
    pauses = []
    for _ in range(NOT_FOUND_REREADS):
        step = wait.fetched(not_found(), 0.0)
        assert isinstance(step, Sleep)
        pauses.append(step.seconds)
    assert pauses == [0.5, 1.0, 2.0]  # the retry backoff, far shorter than the interval
    assert isinstance(wait.fetched(not_found(), 0.0), Fail)


def test_not_found_after_the_call_was_read_is_not_a_lagging_store() -> None:
    wait = machine(timeout=60, not_found_rereads=NOT_FOUND_REREADS)
    wait.start(0.0)
    wait.fetched(call("queued"), 0.0)
    wait.resume(0.0)
    step = wait.fetched(not_found(), 3.0)
    assert isinstance(step, Fail)
    assert step.error.code == "not_found"


def test_an_outcome_that_is_no_read_result_is_a_bug_not_a_decision() -> None:
    with pytest.raises(TypeError):
        machine().fetched(ValueError("boom"), 0.0)


# -- random outcomes at random times ------------------------------------------------------------

STATUSES = ["queued", "in_progress", "ringing", "completed", "no_answer", "failed"]
outcomes = st.one_of(
    st.sampled_from(STATUSES).map(call),
    st.one_of(st.none(), st.floats(0, 120)).map(limited),
    st.just(None).map(lambda _: not_found()),
    st.just(None).map(lambda _: NetworkError("dropped", 0, "network_error")),
    st.just(None).map(lambda _: InvalidResponseError("html", 502, "invalid_response")),
    st.just(None).map(lambda _: DeadlineExceeded(None)),
)


@settings(max_examples=300, deadline=None)
@given(
    timeout=st.floats(-5, 500),
    interval=st.floats(0.01, 60),
    rereads=st.integers(0, 5),
    reads=st.lists(st.tuples(outcomes, st.floats(0, 20)), min_size=1, max_size=60),
    spent_on_report=st.floats(0, 2),
)
def test_the_wait_keeps_its_promises_whatever_the_reads_return(
    timeout: float, interval: float, rereads: int, reads: list[tuple[Any, float]], spent_on_report: float
) -> None:
    wait = CallWait("c1", timeout=timeout, interval=interval, now=100.0, not_found_rereads=rereads)
    deadline = 100.0 + timeout
    now = 100.0
    reported: list[str] = []
    changes: list[str] = []  # each status that differs from the one read before it
    step: Step = wait.start(now)
    for _ in range(10 * len(reads) + 10):
        if isinstance(step, Fetch):
            assert now < deadline
            assert step.deadline == deadline
            if not reads:
                break  # the script ran out before the wait ended: fine, nothing to check
            outcome, took = reads.pop(0)
            now += took
            if isinstance(outcome, Call) and outcome.status != (changes[-1] if changes else None):
                changes.append(outcome.status)
            step = wait.fetched(outcome, now)
        elif isinstance(step, Report):
            reported.append(step.call.status)
            now += spent_on_report
            step = wait.resume(now)
        elif isinstance(step, Sleep):
            assert step.seconds > 0
            assert now + step.seconds < deadline  # no sleep ever reaches the deadline
            now += step.seconds
            step = wait.resume(now)
        elif isinstance(step, Done):
            assert step.call.is_terminal
            assert reported[-1] == step.call.status
            break
        else:
            assert step.error.call_id == "c1"
            assert step.error.may_have_placed is False  # only call() says a call was placed
            break
    else:
        pytest.fail("the wait neither ended nor asked for another read")
    assert reported == changes  # on_status sees each new status, once, in order
