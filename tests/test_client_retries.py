"""The retry schedule over real HTTP: what is sent again, how often, and after how long.

Waits are recorded instead of slept (`Sleeps`), so the schedule is checked as data and the tests
stay fast; the requests are real and counted at the server.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from byourside import (
    ByoursideError,
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    UsageCapError,
)
from tests import payloads
from tests.client_support import PLACE_PATH, TO, Sleeps, make_client, reply, requests_to, script

OK_PLACED = reply(201, payloads.PLACED_MINIMAL)
GET_PATH = "/v1/agent/calls/c1"
OK_CALL = reply(200, payloads.COMPLETED_CALL | {"id": "c1"})


def limited(retry_after: str | None = None, code: str = "rate_limited", status: int = 429) -> Any:
    return reply(status, {"error": code}, headers={"Retry-After": retry_after} if retry_after else None)


def place(httpserver: HTTPServer, replies: list[Any], **options: Any) -> tuple[Sleeps, Any]:
    """Place a call against `replies`; returns the recorded waits and the result or the error."""
    script(httpserver, PLACE_PATH, replies, method="POST")
    sleeps = Sleeps()
    client = make_client(httpserver, record_sleeps=sleeps, **options.pop("client", {}))
    try:
        return sleeps, client.place_call(TO, "Confirm", **options)
    except ByoursideError as error:
        return sleeps, error


@pytest.mark.parametrize(
    ("token", "status"), [("rate_limited", 429), ("placement_failed", 502), ("store_error", 503)]
)
def test_placement_retried_on_tokens_that_prove_nothing_was_placed(
    httpserver: HTTPServer, token: str, status: int
) -> None:
    sleeps, result = place(httpserver, [limited(code=token, status=status)] * 2 + [OK_PLACED])
    assert result.call_id == "call_abc123"
    assert len(requests_to(httpserver)) == 3
    assert len(sleeps.waits) == 2


def test_retries_are_spent_then_the_last_error_raised(httpserver: HTTPServer) -> None:
    sleeps, error = place(httpserver, [limited()])
    assert isinstance(error, RateLimitError)
    assert len(requests_to(httpserver)) == 3  # the first try and max_retries=2
    # Exponential backoff with jitter: 0.5 s then 1 s, less at most a quarter.
    assert 0.375 <= sleeps.waits[0] <= 0.5
    assert 0.75 <= sleeps.waits[1] <= 1.0


def test_every_request_of_a_retried_placement_is_the_same(httpserver: HTTPServer) -> None:
    place(httpserver, [limited(), OK_PLACED])
    first, second = (r.get_data() for r in requests_to(httpserver))
    assert first == second


@pytest.mark.parametrize(
    ("response", "cls"),
    [
        (limited(code="over_minute_cap"), UsageCapError),  # a 429 that must never be retried
        (limited("1", code="over_minute_cap"), UsageCapError),
        (reply(503, {"error": "over_minute_cap"}), UsageCapError),
        (reply(400, {"error": "destination_blocked"}), InvalidRequestError),
        (reply(403, {"error": "caller_id_not_owned"}), InvalidRequestError),
        (reply(400, {"error": "invalid_number"}), InvalidRequestError),
        (reply(500, {"error": "internal"}), ServiceUnavailableError),  # 5xx, unknown token
        (reply(503, {}), ServiceUnavailableError),  # 5xx without a token
        (reply(502, raw=b"<html>Bad Gateway</html>"), ByoursideError),
        (reply(201, raw=b'{"callId": "c1"'), ByoursideError),  # accepted, unreadable
    ],
)
def test_placement_never_retried_otherwise(httpserver: HTTPServer, response: Any, cls: type) -> None:
    sleeps, error = place(httpserver, [response, OK_PLACED], max_retries=5)
    assert isinstance(error, cls)
    assert len(requests_to(httpserver)) == 1
    assert sleeps.waits == []


def test_retry_after_seconds_honoured(httpserver: HTTPServer) -> None:
    sleeps, result = place(httpserver, [limited("2"), limited("0.25"), OK_PLACED])
    assert result.status == "queued"
    assert sleeps.waits == [2.0, 0.25]


def test_retry_after_http_date_honoured(httpserver: HTTPServer) -> None:
    when = formatdate(time.time() + 3, usegmt=True)
    sleeps, _ = place(httpserver, [limited(when), OK_PLACED])
    # A date has whole seconds: the wait is what is left of those 3 s.
    assert len(sleeps.waits) == 1
    assert 1.0 < sleeps.waits[0] <= 3.0


def test_retry_after_capped(httpserver: HTTPServer) -> None:
    sleeps, _ = place(httpserver, [limited("86400"), OK_PLACED])
    assert sleeps.waits == [60.0]


def test_retry_after_on_store_error_honoured(httpserver: HTTPServer) -> None:
    sleeps, _ = place(httpserver, [limited("4", code="store_error", status=503), OK_PLACED])
    assert sleeps.waits == [4.0]


@pytest.mark.parametrize(
    ("client_retries", "call_retries", "sent"), [(0, None, 1), (5, None, 6), (0, 3, 4), (5, 0, 1)]
)
def test_max_retries_on_the_client_and_per_call(
    httpserver: HTTPServer, client_retries: int, call_retries: int | None, sent: int
) -> None:
    options: dict[str, Any] = {"client": {"max_retries": client_retries}}
    if call_retries is not None:
        options["max_retries"] = call_retries
    sleeps, error = place(httpserver, [limited("0")], **options)
    assert isinstance(error, RateLimitError)
    assert len(requests_to(httpserver)) == sent
    assert len(sleeps.waits) == sent - 1


def test_a_per_call_override_leaves_the_client_alone(httpserver: HTTPServer) -> None:
    script(httpserver, PLACE_PATH, [limited("0")], method="POST")
    client = make_client(httpserver, record_sleeps=Sleeps())
    with pytest.raises(RateLimitError):
        client.place_call(TO, "Confirm", max_retries=0)
    assert client.max_retries == 2
    with pytest.raises(RateLimitError):
        client.place_call(TO, "Confirm")
    assert len(requests_to(httpserver)) == 1 + 3


def test_a_bad_per_call_max_retries_is_refused_before_io(httpserver: HTTPServer) -> None:
    with pytest.raises(InvalidRequestError, match="max_retries") as caught:
        make_client(httpserver).get_call("c1", max_retries=-1)
    assert caught.value.code == "invalid_max_retries"
    assert httpserver.log == []


# -- reads ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        limited(),
        limited(code="store_error", status=503),
        reply(500, {"error": "internal"}),
        reply(503, {}),
        reply(502, raw=b"<html>Bad Gateway</html>"),
        reply(504, raw=b""),
    ],
)
def test_gets_retried_on_rate_limits_and_5xx(httpserver: HTTPServer, failure: Any) -> None:
    script(httpserver, GET_PATH, [failure, failure, OK_CALL])
    sleeps = Sleeps()
    call = make_client(httpserver, record_sleeps=sleeps).get_call("c1")
    assert call.status == "completed"
    assert len(requests_to(httpserver)) == 3
    assert len(sleeps.waits) == 2


def test_list_calls_retried_too(httpserver: HTTPServer) -> None:
    script(httpserver, PLACE_PATH, [limited("1"), reply(200, payloads.LIST_WITH_ID_ITEMS)])
    sleeps = Sleeps()
    calls = make_client(httpserver, record_sleeps=sleeps).list_calls(5)
    assert [c.call_id for c in calls] == ["c2", "c1"]
    assert sleeps.waits == [1.0]
    assert [r.query_string for r in requests_to(httpserver)] == [b"limit=5", b"limit=5"]


@pytest.mark.parametrize(
    "refusal",
    [
        limited(code="over_minute_cap"),
        reply(404, {"error": "not_found"}),
        reply(500, {"error": "not_found"}),
        reply(401, {"error": "unauthorized"}),
        reply(429, {"error": "some_new_limit"}),
    ],
)
def test_gets_not_retried_on_refusals(httpserver: HTTPServer, refusal: Any) -> None:
    script(httpserver, GET_PATH, [refusal, OK_CALL])
    sleeps = Sleeps()
    with pytest.raises(ByoursideError):
        make_client(httpserver, record_sleeps=sleeps).get_call("c1")
    assert len(requests_to(httpserver)) == 1
    assert sleeps.waits == []


def test_a_get_answered_with_an_unreadable_2xx_is_read_again(httpserver: HTTPServer) -> None:
    script(httpserver, GET_PATH, [reply(200, raw=b'{"id": "c1", "sta'), OK_CALL])
    call = make_client(httpserver).get_call("c1")
    assert call.call_id == "c1"
    assert len(requests_to(httpserver)) == 2


def test_a_placement_answered_with_an_unreadable_2xx_is_never_sent_again(httpserver: HTTPServer) -> None:
    script(httpserver, PLACE_PATH, [reply(201, raw=b'{"callId": "c1", "sta'), OK_PLACED])
    with pytest.raises(ByoursideError) as raised:
        make_client(httpserver).place_call("+14155550123", "Confirm")
    assert (raised.value.code, raised.value.may_have_placed) == ("invalid_response", True)
    assert len(requests_to(httpserver)) == 1
