"""Every number a Client method takes is checked before any request (issue 22, case 7).

Durations are finite seconds, more than zero where zero makes no sense, at most a week; an
interval under `MIN_POLL_INTERVAL` is raised to it against anything but this machine; retries are
whole numbers >= 0. Each bad value gets `InvalidRequestError` (status 0) with its own code, and the
server sees nothing. `list_calls(limit)` keeps 0.1.0's rule (anything that is not a whole number
>= 0 means 20), and the test pins what NaN, infinity and booleans become.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pytest_httpserver import HTTPServer

from byourside import ByoursideError, Call, Client, ExtractionError, InvalidRequestError, WaitTimeoutError
from byourside._replies import MAX_SECONDS, MIN_POLL_INTERVAL, check_retries, check_timeout, check_wait
from tests.client_support import API_KEY, PLACE_PATH, TO, Sleeps, make_client, reply, requests_to, script

NAN = math.nan
INF = math.inf
NOT_SECONDS = [NAN, INF, -INF, True, False, "5", None, [1], 1e10, MAX_SECONDS * 2]
"""Never a duration: not finite, not a number, or past what a timer can hold."""


def refused(run: Callable[[], object], code: str, call_id: str | None = None) -> InvalidRequestError:
    """The error `run` raises: `code`, status 0, nothing placed; `call_id` the call asked for."""
    with pytest.raises(InvalidRequestError) as caught:
        run()
    assert (caught.value.code, caught.value.status) == (code, 0)
    assert caught.value.call_id == call_id
    assert caught.value.may_have_placed is False
    return caught.value


# -- the constructor ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [*NOT_SECONDS, 0, -1, (1, 0), (1, NAN), (INF, 1), (1, 2, 3), (None, 1), (1,), ()]
)
def test_a_bad_client_timeout_is_refused(bad: Any) -> None:
    error = refused(lambda: Client(API_KEY, timeout=bad), "invalid_timeout")
    assert "timeout" in error.message


@pytest.mark.parametrize("bad", [-1, 1.5, NAN, INF, True, "2", None])
def test_a_bad_client_max_retries_is_refused(bad: Any) -> None:
    refused(lambda: Client(API_KEY, max_retries=bad), "invalid_max_retries")


def test_the_largest_durations_are_accepted() -> None:
    client = Client(API_KEY, timeout=(MAX_SECONDS, 0.001), max_retries=100)
    assert client.timeout == (MAX_SECONDS, 0.001)


# -- per-call max_retries -----------------------------------------------------------------------


PER_CALL: dict[str, Callable[[Client, Any], object]] = {
    "place_call": lambda c, n: c.place_call(TO, "Confirm", max_retries=n),
    "get_call": lambda c, n: c.get_call("c1", max_retries=n),
    "list_calls": lambda c, n: c.list_calls(max_retries=n),
}


@pytest.mark.parametrize("bad", [-1, 0.5, NAN, INF, True, "1"])
@pytest.mark.parametrize("method", sorted(PER_CALL))
def test_a_bad_per_call_max_retries_is_refused(httpserver: HTTPServer, method: str, bad: Any) -> None:
    client = make_client(httpserver)
    asked_for = "c1" if method == "get_call" else None
    refused(lambda: PER_CALL[method](client, bad), "invalid_max_retries", asked_for)
    assert httpserver.log == []


# -- waits: wait_for_call and call ------------------------------------------------------------

WAITS = {
    "wait_for_call": lambda c, **kw: c.wait_for_call("c1", **kw),
    "call": lambda c, **kw: c.call(TO, "Confirm the appointment", **kw),
}
ASKED_FOR = {"wait_for_call": "c1", "call": None}
"""The `call_id` of a refusal: wait_for_call's errors name the call asked for; call() placed none."""


@pytest.mark.parametrize("bad", NOT_SECONDS)
@pytest.mark.parametrize("method", sorted(WAITS))
def test_a_bad_wait_timeout_is_refused_before_any_request(
    httpserver: HTTPServer, method: str, bad: Any
) -> None:
    refused(lambda: WAITS[method](make_client(httpserver), timeout=bad), "invalid_timeout", ASKED_FOR[method])
    assert httpserver.log == []


@pytest.mark.parametrize("bad", [0, -1, -0.0, *NOT_SECONDS])
@pytest.mark.parametrize("method", sorted(WAITS))
def test_a_bad_interval_is_refused_before_any_request(httpserver: HTTPServer, method: str, bad: Any) -> None:
    refused(
        lambda: WAITS[method](make_client(httpserver), interval=bad), "invalid_interval", ASKED_FOR[method]
    )
    assert httpserver.log == []


@pytest.mark.parametrize("bad", [0, -1, -0.0])
def test_call_refuses_a_timeout_that_would_end_its_wait_at_once(httpserver: HTTPServer, bad: float) -> None:
    # wait_for_call(timeout=0) is a deadline already passed (WaitTimeoutError, no request); call()
    # would place a call and give up on it at once, so it refuses before placing.
    refused(lambda: make_client(httpserver).call(TO, "Confirm", timeout=bad), "invalid_timeout")
    assert httpserver.log == []


@pytest.mark.parametrize("bad", ["print", 3, object()])
@pytest.mark.parametrize("method", sorted(WAITS))
def test_an_on_status_that_cannot_be_called_is_refused(httpserver: HTTPServer, method: str, bad: Any) -> None:
    refused(
        lambda: WAITS[method](make_client(httpserver), on_status=bad), "invalid_on_status", ASKED_FOR[method]
    )
    assert httpserver.log == []


FLOOR_LOG = "raised to 0.5 s"


@pytest.mark.parametrize("method", sorted(WAITS))
def test_an_interval_under_the_floor_is_raised_to_it_against_the_service(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Not loopback: a poll every 10 ms would be 100 GETs a second against the real service.
    # Raised, not refused: a 0.1.0 program that placed a call and then waits keeps its call.
    # Stopped right after the checks, before any request: wait_for_call by a deadline already
    # passed, call() by an on_status that cannot be called (checked after the interval).
    stop_early = {"wait_for_call": {"timeout": 0}, "call": {"on_status": 1}}[method]
    client = Client(API_KEY, "https://api.byourside.invalid")
    with caplog.at_level(logging.INFO, logger="byourside"), pytest.raises(ByoursideError):
        WAITS[method](client, interval=0.01, **stop_early)
    assert any(FLOOR_LOG in record.getMessage() for record in caplog.records)
    assert check_wait(60, 0.01, None, min_interval=MIN_POLL_INTERVAL) == (60.0, MIN_POLL_INTERVAL)


def test_the_floor_does_not_apply_to_a_server_on_this_machine(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    polls = [
        reply(200, {"id": "c1", "status": "in_progress"}),
        reply(200, {"id": "c1", "status": "completed"}),
    ]
    script(httpserver, "/v1/agent/calls/c1", polls)
    client = make_client(httpserver, record_sleeps=(sleeps := Sleeps()))
    with caplog.at_level(logging.INFO, logger="byourside"):
        assert client.wait_for_call("c1", interval=0.001).status == "completed"
    assert sleeps.waits == [0.001]
    assert not any(FLOOR_LOG in record.getMessage() for record in caplog.records)


class Unfillable(BaseModel):
    by_day: dict[str, int]  # the service extracts strings, booleans and numbers only


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [(int, InvalidRequestError, "field_name_required"), (Unfillable, ExtractionError, "unsupported_field")],
)
def test_wait_for_call_checks_its_fields_model_before_polling(
    httpserver: HTTPServer, fields: Any, error: type[ByoursideError], code: str
) -> None:
    with pytest.raises(error) as caught:
        make_client(httpserver).wait_for_call("c1", fields=fields)
    assert (caught.value.code, caught.value.call_id) == (code, "c1")
    assert httpserver.log == []


def test_the_checks_come_before_the_placement(httpserver: HTTPServer) -> None:
    # The wait's arguments are checked first: a wrong one never costs a placed call.
    script(httpserver, PLACE_PATH, [reply(200, {"callId": "c1", "status": "queued"})], method="POST")
    client = make_client(httpserver)
    for kwargs in ({"interval": NAN}, {"timeout": INF}, {"on_status": 1}):
        with pytest.raises(InvalidRequestError):
            client.call(TO, "Confirm", **kwargs)
    assert requests_to(httpserver) == []


# -- a NaN deadline returns at once ---------------------------------------------------------


def returns_within(seconds: float, run: Callable[[], object]) -> BaseException | None:
    """Run `run` in a thread; fail the test if it has not returned after `seconds`."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            run()
        except BaseException as error:  # handed back to the test
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return outcome[0]


def test_a_nan_timeout_returns(httpserver: HTTPServer) -> None:
    script(httpserver, "/v1/agent/calls/c1", [reply(200, {"id": "c1", "status": "in_progress"})])
    error = returns_within(
        30, lambda: make_client(httpserver).wait_for_call("c1", timeout=NAN, interval=0.01)
    )
    assert isinstance(error, InvalidRequestError)
    assert error.code == "invalid_timeout"
    assert httpserver.log == []


@pytest.mark.parametrize("timeout", [0, -5])
def test_a_deadline_already_passed_times_out_without_a_request(
    httpserver: HTTPServer, timeout: float
) -> None:
    # A program that passes what is left of its own budget (`deadline - now`) gets a timeout.
    with pytest.raises(WaitTimeoutError) as caught:
        make_client(httpserver).wait_for_call("c1", timeout=timeout)
    assert caught.value.call_id == "c1"
    assert httpserver.log == []


# -- list_calls keeps 0.1.0's clamp ---------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "sent"),
    [
        (0, "1"),
        (7, "7"),
        (100, "100"),
        (10**100, "100"),
        (-1, "20"),
        (NAN, "20"),
        (INF, "20"),
        (-INF, "20"),
        (5.0, "20"),
        (True, "20"),
        (False, "20"),
        ("5", "20"),
        (None, "20"),
    ],
)
def test_list_calls_clamps_its_limit_as_0_1_0_did(httpserver: HTTPServer, limit: Any, sent: str) -> None:
    script(httpserver, PLACE_PATH, [reply(200, {"calls": []})])
    assert make_client(httpserver).list_calls(limit) == []
    [request] = requests_to(httpserver)
    assert request.args["limit"] == sent


def test_a_good_wait_still_returns_its_call(httpserver: HTTPServer) -> None:
    script(httpserver, "/v1/agent/calls/c1", [reply(200, {"id": "c1", "status": "completed"})])
    assert isinstance(
        make_client(httpserver).wait_for_call("c1", timeout=MAX_SECONDS, interval=MAX_SECONDS), Call
    )


# -- the checks, for any value at all -------------------------------------------------------

anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.tuples(st.floats(), st.floats()),
    st.tuples(st.integers(-5, 5), st.integers(-5, 5), st.integers(-5, 5)),
)


def outcome(run: Callable[[], Any]) -> Any:
    """What `run` returns, or the `InvalidRequestError` it raises (anything else fails the test)."""
    try:
        return run()
    except InvalidRequestError as error:
        return error


@settings(max_examples=400, deadline=None)
@given(timeout=anything, interval=anything, placing=st.booleans(), loopback=st.booleans())
@example(timeout=-INF, interval=3, placing=False, loopback=True)
@example(timeout=60, interval=NAN, placing=True, loopback=True)
@example(timeout=-(10**400), interval=3, placing=False, loopback=True)
def test_check_wait_returns_usable_seconds_or_refuses_with_a_code(
    timeout: Any, interval: Any, placing: bool, loopback: bool
) -> None:
    floor = 0.0 if loopback else MIN_POLL_INTERVAL
    checked = outcome(lambda: check_wait(timeout, interval, None, min_interval=floor, placing=placing))
    if isinstance(checked, InvalidRequestError):
        assert checked.code in {"invalid_timeout", "invalid_interval"}
        assert checked.status == 0
        return
    seconds, every = checked
    assert math.isfinite(seconds)
    assert seconds <= MAX_SECONDS
    assert seconds > 0 or not placing
    assert 0 < every <= MAX_SECONDS
    assert every >= floor


@settings(max_examples=300, deadline=None)
@given(value=anything)
def test_check_timeout_and_check_retries_accept_only_what_they_promise(value: Any) -> None:
    timeout = outcome(lambda: check_timeout(value))
    if isinstance(timeout, InvalidRequestError):
        assert timeout.code == "invalid_timeout"
    else:
        assert all(0 < part <= MAX_SECONDS for part in timeout)
    retries = outcome(lambda: check_retries(value))
    if isinstance(retries, InvalidRequestError):
        assert retries.code == "invalid_max_retries"
    else:
        assert type(retries) is int
        assert retries >= 0
