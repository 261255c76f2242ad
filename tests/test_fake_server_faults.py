"""Injected faults: each answers as documented, for exactly the next N requests of its route."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import requests

from byourside.testing import FakeClock, FakeServer
from byourside.testing._faults import Fault, Route
from tests.fake_server_support import Api


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(clock=FakeClock()) as started:
        yield started


@pytest.fixture
def api(server: FakeServer) -> Api:
    return Api(server)


def call(api: Api, route: Route, call_id: str = "call_missing") -> requests.Response:
    if route == "post":
        return api.place()
    if route == "get":
        return api.get(call_id)
    return api.list()


@pytest.mark.parametrize("route", ["post", "get", "list"])
@pytest.mark.parametrize(
    ("fault", "status", "token", "retry_after"),
    [
        ("rate_limited", 429, "rate_limited", "1"),
        ("over_minute_cap", 429, "over_minute_cap", None),
        ("store_error", 503, "store_error", "1"),
    ],
)
def test_error_faults_answer_their_token_on_every_route(
    server: FakeServer, api: Api, route: Route, fault: Fault, status: int, token: str, retry_after: str | None
) -> None:
    server.inject(route, fault)
    reply = call(api, route)
    assert reply.status_code == status
    assert reply.json() == {"error": token}
    assert reply.headers.get("Retry-After") == retry_after
    assert server.count_calls() == 0


def test_placement_failed_is_a_502_and_stores_nothing(server: FakeServer, api: Api) -> None:
    server.inject("post", "placement_failed")
    reply = api.place()
    assert reply.status_code == 502
    assert reply.json() == {"error": "placement_failed"}
    assert server.count_calls() == 0


@pytest.mark.parametrize(("retry_after", "header"), [(7, "7"), (None, None)])
def test_retry_after_is_configurable(
    server: FakeServer, api: Api, retry_after: int | None, header: str | None
) -> None:
    server.inject("post", "rate_limited", retry_after=retry_after)
    server.inject("post", "store_error", retry_after=retry_after)
    assert api.place().headers.get("Retry-After") == header
    assert api.place().headers.get("Retry-After") == header


@pytest.mark.parametrize("route", ["post", "get", "list"])
def test_html_502_is_a_proxy_page(server: FakeServer, api: Api, route: Route) -> None:
    server.inject(route, "html_502")
    reply = call(api, route)
    assert reply.status_code == 502
    assert reply.headers["Content-Type"] == "text/html"
    assert reply.text.startswith("<html>")
    assert server.count_calls() == 0


def test_a_truncated_placement_reply_is_cut_json_yet_the_call_is_stored(server: FakeServer, api: Api) -> None:
    server.inject("post", "truncated_body")
    reply = api.place()
    assert reply.status_code == 201
    assert int(reply.headers["Content-Length"]) == len(reply.content) > 0
    with pytest.raises(ValueError):  # noqa: PT011 - any JSON decode error
        json.loads(reply.content)
    assert server.count_calls() == 1
    assert reply.content.startswith(f'{{"callId":"{server.calls[0].call_id}"'.encode())


@pytest.mark.parametrize("route", ["get", "list"])
def test_truncated_reads(server: FakeServer, api: Api, route: Route) -> None:
    call_id = api.place_ok()
    server.inject(route, "truncated_body")
    reply = call(api, route, call_id)
    assert reply.status_code == 200
    with pytest.raises(ValueError):  # noqa: PT011 - any JSON decode error
        json.loads(reply.content)


@pytest.mark.parametrize("route", ["post", "get", "list"])
def test_drop_closes_the_connection_before_anything_is_stored(
    server: FakeServer, api: Api, route: Route
) -> None:
    server.inject(route, "drop")
    with pytest.raises(requests.ConnectionError):
        call(api, route)
    assert server.count_calls() == 0
    assert len(server.requests) == 1


def test_drop_after_store_stores_the_call_then_closes(server: FakeServer, api: Api) -> None:
    server.inject("post", "drop_after_store")
    with pytest.raises(requests.ConnectionError):
        api.place()
    assert server.count_calls() == 1
    assert api.list().json()["calls"][0]["status"] == "queued"


def test_a_slow_reply_comes_after_the_delay_with_the_call_already_stored(
    server: FakeServer, api: Api
) -> None:
    server.inject("post", "slow", delay=5)
    with pytest.raises(requests.ReadTimeout):
        api.session.post(
            f"{api.base_url}/v1/agent/calls", json={"to": "+14155550123", "objective": "x"}, timeout=0.2
        )
    # Stored before the delay, so a client that timed out must not place it again.
    assert server.count_calls() == 1


def test_a_short_slow_reply_is_the_normal_reply(server: FakeServer, api: Api) -> None:
    server.inject("list", "slow", delay=0.01)
    reply = api.list()
    assert reply.status_code == 200
    assert reply.json() == {"calls": []}


def test_stop_cuts_a_slow_reply_short(server: FakeServer, api: Api) -> None:
    server.inject("list", "slow", delay=60)
    outcome: list[BaseException] = []

    def slow_request() -> None:
        try:
            api.list()
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=slow_request)
    thread.start()
    while not server.requests:
        threading.Event().wait(0.005)
    server.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)


def test_a_fault_hits_exactly_the_next_count_requests_then_stops(server: FakeServer, api: Api) -> None:
    server.inject("post", "store_error", count=2)
    assert server.pending_faults("post") == 2
    assert [api.place().status_code for _ in range(3)] == [503, 503, 201]
    assert server.pending_faults("post") == 0
    assert server.count_calls() == 1


def test_faults_are_met_in_the_order_injected(server: FakeServer, api: Api) -> None:
    server.inject("post", "rate_limited")
    server.inject("post", "placement_failed")
    server.inject("post", "store_error")
    assert [api.place().status_code for _ in range(4)] == [429, 502, 503, 201]


def test_a_fault_waits_for_its_own_route(server: FakeServer, api: Api) -> None:
    server.inject("get", "store_error")
    assert api.place().status_code == 201
    assert api.list().status_code == 200
    assert api.get("x").status_code == 503


def test_an_unauthorized_request_does_not_use_up_a_fault(server: FakeServer) -> None:
    server.inject("post", "store_error")
    assert Api(server, key="sk_wrong").place().status_code == 401
    assert server.pending_faults("post") == 1


@pytest.mark.parametrize(
    ("route", "fault", "count", "message"),
    [
        ("put", "drop", 1, "unknown route"),
        ("post", "explode", 1, "unknown fault"),
        ("get", "placement_failed", 1, "only applies"),
        ("list", "drop_after_store", 1, "only applies"),
        ("post", "drop", 0, "count"),
    ],
)
def test_bad_injections_are_refused(
    server: FakeServer, route: str, fault: str, count: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        server.inject(route, fault, count)  # type: ignore[arg-type]
