"""`client.call()` never loses the call it placed (issue 22, case 2).

Once the POST succeeded, every error the wait raises carries the call's id (`call_id`) and
``may_have_placed=True``, so a program never places the same call again; the wait's own
arguments are checked before anything is placed. Each test counts the POSTs the server received
against what the SDK reported. Faults come from the FakeServer (our fault model) where it has
them, from pytest-httpserver for a 404 (a read that outran the store), and from a raw socket
server for a connection dropped after the poll was read.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from pytest_httpserver import HTTPServer

from byourside import (
    ByoursideError,
    Client,
    ExtractionError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    UsageCapError,
    WaitTimeoutError,
)
from byourside.testing import FakeClock, FakeServer
from tests.async_support import each_client_kind  # noqa: F401 - the fixture, for pytestmark
from tests.client_support import PLACE_PATH, TO, make_client, reply, requests_to, script
from tests.reliability.support import (
    DrivenTime,
    ScriptedServer,
    driven_client,
    http_reply,
    scripted_server,
)

PLACED = reply(200, {"callId": "c1", "status": "queued"})
GET_PATH = "/v1/agent/calls/c1"

# Every test here runs on Client, then on AsyncClient behind Client's blocking calls.
pytestmark = pytest.mark.usefixtures("each_client_kind")


def posts(server: FakeServer) -> int:
    return sum(1 for request in server.requests if request.method == "POST")


def assert_placed_and_kept(error: ByoursideError, call_id: str) -> None:
    """The error says which call was placed, and that it was."""
    assert error.call_id == call_id
    assert error.may_have_placed is True
    assert call_id in error.message
    assert "wait_for_call" in error.message


@pytest.fixture
def server() -> Iterator[FakeServer]:
    # A call that never ends on its own: the server's clock only moves when a test says so.
    with FakeServer(clock=FakeClock()) as fake:
        yield fake


def fake_client(server: FakeServer, **options: Any) -> Client:
    return driven_client(server.base_url, **options)


# -- every failure after the placement carries the call's id -----------------------------------


@pytest.mark.parametrize(("fault", "cls"), [("html_502", InvalidResponseError), ("drop", NetworkError)])
def test_a_failed_poll_after_placing_names_the_placed_call(
    server: FakeServer, fault: Any, cls: type[ByoursideError]
) -> None:
    client = fake_client(server, max_retries=2)
    server.inject("get", fault, count=3)  # the poll and both its retries
    with pytest.raises(cls) as caught:
        client.call(TO, "Confirm the appointment", timeout=60, interval=1)
    assert posts(server) == 1
    [placed] = server.calls
    assert_placed_and_kept(caught.value, placed.call_id)


def test_the_deadline_after_placing_names_the_placed_call(server: FakeServer) -> None:
    time = DrivenTime()
    client = fake_client(server, time=time)
    with pytest.raises(WaitTimeoutError) as caught:
        client.call(TO, "Confirm the appointment", timeout=10, interval=3)
    assert posts(server) == 1
    [placed] = server.calls
    assert_placed_and_kept(caught.value, placed.call_id)
    assert caught.value.code == "timeout"
    assert time.now <= 10


def test_a_refusal_while_polling_names_the_placed_call(server: FakeServer) -> None:
    server.inject("get", "over_minute_cap")
    with pytest.raises(UsageCapError) as caught:
        fake_client(server).call(TO, "Confirm the appointment", timeout=60, interval=1)
    assert posts(server) == 1
    assert_placed_and_kept(caught.value, server.calls[0].call_id)


def test_an_extraction_that_does_not_fit_names_the_placed_call(httpserver: HTTPServer) -> None:
    class Appointment(BaseModel):
        confirmed: bool

    script(httpserver, PLACE_PATH, [PLACED], method="POST")
    ended = {"id": "c1", "status": "completed", "extracted": {"confirmed": "perhaps"}}
    script(httpserver, GET_PATH, [reply(200, ended)])
    with pytest.raises(ExtractionError) as caught:
        make_client(httpserver).call(TO, "Confirm the appointment", fields=Appointment)
    assert len(requests_to(httpserver, PLACE_PATH)) == 1
    assert_placed_and_kept(caught.value, "c1")
    assert caught.value.raw == {"confirmed": "perhaps"}


def test_a_failure_raised_by_on_status_keeps_its_type_and_gets_a_note(server: FakeServer) -> None:
    def on_status(_: object) -> None:
        raise KeyError("the program's own bug")

    with pytest.raises(KeyError) as caught:
        fake_client(server).call(TO, "Confirm the appointment", on_status=on_status)
    assert posts(server) == 1
    notes = getattr(caught.value, "__notes__", [])
    assert any(server.calls[0].call_id in note and "wait_for_call" in note for note in notes)


# -- a 404 right after placing: the read outran the store ---------------------------------------


def placing_then_reading(httpserver: HTTPServer, reads: list[Any]) -> tuple[Client, DrivenTime]:
    """A client on driven time whose placement succeeds (id ``c1``) and whose reads get `reads`."""
    script(httpserver, PLACE_PATH, [PLACED], method="POST")
    script(httpserver, GET_PATH, reads)
    time = DrivenTime()
    client = make_client(httpserver)
    client._clock, client._sleep = time.clock, time.sleep
    return client, time


def test_a_404_right_after_placing_is_read_again(httpserver: HTTPServer) -> None:
    not_found = reply(404, {"error": "not_found"})
    client, time = placing_then_reading(
        httpserver, [not_found, not_found, reply(200, {"id": "c1", "status": "completed"})]
    )
    done = client.call(TO, "Confirm the appointment", timeout=60, interval=3)
    assert done.status == "completed"
    assert len(requests_to(httpserver, PLACE_PATH)) == 1
    assert len(requests_to(httpserver, GET_PATH)) == 3
    assert all(pause < 3 for pause in time.sleeps)  # the store catches up fast: no full interval


def test_a_404_that_stays_names_the_placed_call(httpserver: HTTPServer) -> None:
    client, time = placing_then_reading(httpserver, [reply(404, {"error": "not_found"})])
    with pytest.raises(NotFoundError) as caught:
        client.call(TO, "Confirm the appointment", timeout=60, interval=3)
    assert len(requests_to(httpserver, PLACE_PATH)) == 1
    assert len(requests_to(httpserver, GET_PATH)) == 4  # the first read and three more, then give up
    assert time.now < 5  # three quick rereads (about 0.5, 1 and 2 s), not the whole minute
    assert_placed_and_kept(caught.value, "c1")


def test_the_404_rereads_stop_at_the_deadline(httpserver: HTTPServer) -> None:
    client, time = placing_then_reading(httpserver, [reply(404, {"error": "not_found"})])
    with pytest.raises(WaitTimeoutError) as caught:
        client.call(TO, "Confirm the appointment", timeout=0.6, interval=3)
    assert time.now <= 0.6
    assert_placed_and_kept(caught.value, "c1")
    assert getattr(caught.value.__cause__, "code", None) == "not_found"


def test_wait_for_call_alone_still_ends_at_a_404(httpserver: HTTPServer) -> None:
    # An id given by the program may be simply wrong: only call(), which just placed it, rereads.
    script(httpserver, GET_PATH, [reply(404, {"error": "not_found"})])
    with pytest.raises(NotFoundError) as caught:
        make_client(httpserver).wait_for_call("c1")
    assert len(requests_to(httpserver)) == 1
    assert caught.value.call_id == "c1"
    assert caught.value.may_have_placed is False


# -- a connection dropped after the poll was read (raw socket) ----------------------------------


@pytest.fixture
def raw() -> Iterator[ScriptedServer]:
    with scripted_server() as scripted:
        yield scripted


def test_a_poll_dropped_after_it_was_read_names_the_placed_call(raw: ScriptedServer) -> None:
    def respond(conn: socket.socket) -> None:
        if raw.requests[-1].startswith(b"POST "):
            placed = json.dumps({"callId": "c7", "status": "queued"}).encode()
            conn.sendall(http_reply(200, placed, {"Connection": "close"}))
        # A GET: read whole, then the connection closes without a byte of reply.

    raw.respond(respond)
    client = driven_client(raw.url, max_retries=1)
    with pytest.raises(NetworkError) as caught:
        client.call(TO, "Confirm the appointment", timeout=60, interval=1)
    methods = [request.split(b" ", 1)[0] for request in raw.requests]
    assert methods == [b"POST", b"GET", b"GET"]
    assert_placed_and_kept(caught.value, "c7")


# -- errors of get_call and wait_for_call name the call asked for --------------------------------


def test_get_call_errors_name_the_call_asked_for(server: FakeServer) -> None:
    client = fake_client(server, max_retries=0)
    with pytest.raises(NotFoundError) as missing:
        client.get_call("call_nope")
    assert (missing.value.call_id, missing.value.may_have_placed) == ("call_nope", False)
    placed = client.place_call(TO, "Confirm")
    server.inject("get", "html_502")
    with pytest.raises(InvalidResponseError) as garbled:
        client.get_call(placed.call_id)
    assert (garbled.value.call_id, garbled.value.may_have_placed) == (placed.call_id, False)


def test_wait_for_call_errors_name_the_call_asked_for(server: FakeServer) -> None:
    client = fake_client(server)
    placed = client.place_call(TO, "Confirm")
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait_for_call(placed.call_id, timeout=5, interval=2)
    assert (caught.value.call_id, caught.value.may_have_placed) == (placed.call_id, False)
