"""wait_for_call against a real server: it returns at a terminal status, keeps waiting on unknown
ones, rides out rate limits, reports progress, and never waits past its deadline.

Short real intervals where the outcome does not depend on timing; where the schedule itself is
the point, the client's clock is a `FakeTime` that its sleeps advance, so waits are exact."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from byourside import Call, Client, NotFoundError, UsageCapError, WaitTimeoutError
from byourside._models import TERMINAL_STATUSES
from tests.client_support import make_client, reply, requests_to, script

PATH = "/v1/agent/calls/c1"


def call(status: str, **more: Any) -> Any:
    return reply(200, {"id": "c1", "status": status, **more})


class FakeTime:
    """A monotonic clock that only the client's sleeps move."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.waits.append(seconds)
        self.now += seconds


def on_fake_time(client: Client) -> FakeTime:
    fake = FakeTime()
    client._clock = fake.clock
    client._sleep = fake.sleep
    return fake


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_returns_at_each_terminal_status(httpserver: HTTPServer, terminal: str) -> None:
    script(httpserver, PATH, [call("queued"), call("in_progress"), call(terminal, summary="Done.")])
    result = make_client(httpserver).wait_for_call("c1", timeout=10, interval=0.01)
    assert isinstance(result, Call)
    assert (result.status, result.summary) == (terminal, "Done.")
    assert len(requests_to(httpserver)) == 3


def test_a_call_already_ended_returns_without_sleeping(httpserver: HTTPServer) -> None:
    script(httpserver, PATH, [call("completed")])
    client = make_client(httpserver)
    fake = on_fake_time(client)
    assert client.wait_for_call("c1").status == "completed"
    assert fake.waits == []


def test_unknown_statuses_keep_waiting(httpserver: HTTPServer) -> None:
    script(httpserver, PATH, [call("ringing"), call("dialing"), call("ringing"), call("no_answer")])
    result = make_client(httpserver).wait_for_call("c1", timeout=10, interval=0.01)
    assert result.status == "no_answer"
    assert len(requests_to(httpserver)) == 4


def test_on_status_is_called_once_per_new_status(httpserver: HTTPServer) -> None:
    script(
        httpserver,
        PATH,
        [call("queued"), call("queued"), call("in_progress"), call("in_progress"), call("completed")],
    )
    seen: list[str] = []
    make_client(httpserver).wait_for_call(
        "c1", timeout=10, interval=0.01, on_status=lambda c: seen.append(c.status)
    )
    assert seen == ["queued", "in_progress", "completed"]
    assert len(requests_to(httpserver)) == 5


def test_polls_every_interval_and_stops_before_the_deadline(httpserver: HTTPServer) -> None:
    script(httpserver, PATH, [call("in_progress")])
    client = make_client(httpserver)
    fake = on_fake_time(client)
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait_for_call("c1", timeout=10, interval=3)
    # Polls at 0, 3, 6 and 9 s; a fifth at 12 s would pass the deadline, so no sleep toward it.
    assert fake.waits == [3, 3, 3]
    assert len(requests_to(httpserver)) == 4
    error = caught.value
    assert (error.code, error.status) == ("timeout", 0)
    assert "in_progress" in error.message
    assert str(error).startswith("timeout: wait_for_call deadline exceeded")


def test_a_real_deadline_with_a_call_that_never_ends(httpserver: HTTPServer) -> None:
    script(httpserver, PATH, [call("in_progress")])
    with pytest.raises(WaitTimeoutError):
        make_client(httpserver).wait_for_call("c1", timeout=0.3, interval=0.02)
    assert len(requests_to(httpserver)) > 1


@pytest.mark.parametrize("timeout", [0, -5])
def test_no_time_at_all_raises_without_a_request(httpserver: HTTPServer, timeout: float) -> None:
    with pytest.raises(WaitTimeoutError):
        make_client(httpserver).wait_for_call("c1", timeout=timeout)
    assert httpserver.log == []


def test_rate_limited_while_polling_waits_and_polls_on(httpserver: HTTPServer) -> None:
    limited = reply(429, {"error": "rate_limited"}, headers={"Retry-After": "5"})
    script(httpserver, PATH, [call("in_progress"), limited, limited, limited, call("completed")])
    client = make_client(httpserver, max_retries=1)
    fake = on_fake_time(client)
    seen: list[str] = []
    result = client.wait_for_call("c1", timeout=60, interval=2, on_status=lambda c: seen.append(c.status))
    assert result.status == "completed"
    # After the first poll: interval; then the retry inside a poll honours Retry-After (5 s);
    # its retries spent, the wait itself waits the Retry-After again and polls on.
    assert fake.waits == [2, 5.0, 5.0, 5.0]
    assert len(requests_to(httpserver)) == 5
    assert seen == ["in_progress", "completed"]


def test_a_retry_after_past_the_deadline_times_out_without_sleeping_past_it(httpserver: HTTPServer) -> None:
    limited = reply(429, {"error": "rate_limited"}, headers={"Retry-After": "30"})
    script(httpserver, PATH, [call("in_progress"), limited])
    client = make_client(httpserver)
    fake = on_fake_time(client)
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait_for_call("c1", timeout=10, interval=1)
    assert fake.now <= 1000.0 + 10
    assert fake.waits == [1]
    assert caught.value.__cause__ is not None
    assert getattr(caught.value.__cause__, "code", None) == "rate_limited"


def test_retries_inside_the_wait_are_bounded_by_its_deadline(httpserver: HTTPServer) -> None:
    down = reply(503, {"error": "store_error"}, headers={"Retry-After": "4"})
    script(httpserver, PATH, [down])
    client = make_client(httpserver, max_retries=10)
    fake = on_fake_time(client)
    with pytest.raises(WaitTimeoutError):
        client.wait_for_call("c1", timeout=9, interval=1)
    assert fake.waits == [4.0, 4.0]  # a third 4 s wait would end at 12 s, past the 9 s deadline
    assert fake.now <= 1000.0 + 9


@pytest.mark.parametrize(
    ("failure", "cls"),
    [
        (reply(404, {"error": "not_found"}), NotFoundError),
        (reply(429, {"error": "over_minute_cap"}), UsageCapError),
    ],
)
def test_other_errors_end_the_wait(httpserver: HTTPServer, failure: Any, cls: type) -> None:
    script(httpserver, PATH, [call("queued"), failure])
    with pytest.raises(cls):
        make_client(httpserver).wait_for_call("c1", timeout=10, interval=0.01)
    assert len(requests_to(httpserver)) == 2
