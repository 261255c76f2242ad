"""Both clients end to end against the FakeServer, through the pytest plugin's fixtures.

The seed's quick start, the list, every deterministic outcome, the limits, webhooks verified and
deduped, and every injected fault: each ends in a result or a precise `ByoursideError`, and a
`place_call` never stores more than one call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from byourside import (
    ByoursideError,
    Call,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    UsageCapError,
    WaitTimeoutError,
    WebhookDeduplicator,
    construct_event,
    verify_webhook,
)
from byourside.client import Client
from byourside.testing import DEFAULT_WEBHOOK_SECRET, TEST_NUMBERS, FakeServer
from byourside.testing._faults import Fault, Route
from tests.async_support import CLIENT_KINDS, either_client_on_fake_server
from tests.fake_server_support import SEED_FIELDS, SEED_OBJECTIVE, receiver

SEED_NUMBER = "+14155550123"


@pytest.fixture(params=CLIENT_KINDS)
def byourside_client(request: pytest.FixtureRequest, byourside_server: FakeServer) -> Iterator[Client]:
    """The plugin's fixture, over both clients: each test here runs on Client and on AsyncClient."""
    yield from either_client_on_fake_server(request.param, byourside_server)


def posts(server: FakeServer) -> int:
    return sum(1 for request in server.requests if request.method == "POST")


def test_the_seeds_quick_start(byourside_server: FakeServer, byourside_client: Client) -> None:
    call = byourside_client.place_call(to=SEED_NUMBER, objective=SEED_OBJECTIVE, fields=SEED_FIELDS)
    assert (call["callId"], call["status"]) == (call.call_id, "queued")
    result = byourside_client.wait_for_call(call["callId"], timeout=180, interval=5)
    assert result["status"] == "completed"
    assert result.get("extracted") == {"confirmed": True, "new_time": "tomorrow at 3pm"}
    assert result.summary
    assert result.transcript
    assert SEED_OBJECTIVE in result.transcript
    assert result.recording_url
    assert result.started_at is not None
    assert result.ended_at is not None
    assert result.ended_at > result.started_at
    assert byourside_server.count_calls(SEED_NUMBER) == 1


def test_the_seeds_placeholder_key_works(byourside_server: FakeServer) -> None:
    with Client(api_key="bys_ak_YOUR_KEY", base_url=byourside_server.base_url) as client:
        assert client.place_call(to=SEED_NUMBER, objective=SEED_OBJECTIVE).status == "queued"


def test_a_wrong_key_is_an_authentication_error() -> None:
    with (
        FakeServer(api_key="bys_ak_right") as server,
        Client("bys_ak_wrong", server.base_url) as client,
        pytest.raises(ByoursideError) as raised,
    ):
        client.list_calls()
    assert (raised.value.code, raised.value.status) == ("unauthorized", 401)


def test_list_calls_newest_first(byourside_client: Client) -> None:
    ids = [byourside_client.place_call(to=SEED_NUMBER, objective=f"Call {i}").call_id for i in range(3)]
    listed = byourside_client.list_calls(limit=10)
    assert [call.call_id for call in listed] == ids[::-1]
    assert [call["callId"] for call in byourside_client.list_calls(limit=2)] == ids[:0:-1]


@pytest.mark.byourside_server(list_id_key="id")
def test_list_calls_reads_items_keyed_id_too(byourside_client: Client) -> None:
    placed = byourside_client.place_call(to=SEED_NUMBER, objective="x")
    assert byourside_client.list_calls()[0].call_id == placed.call_id


def test_get_call_of_an_unknown_id_is_not_found(byourside_client: Client) -> None:
    with pytest.raises(NotFoundError) as raised:
        byourside_client.get_call("c 1/2")
    assert (raised.value.code, raised.value.status) == ("not_found", 404)


@pytest.mark.parametrize(
    ("number", "status", "extracted"),
    [
        (TEST_NUMBERS["completed"], "completed", {"confirmed": True, "new_time": "tomorrow at 3pm"}),
        (TEST_NUMBERS["no_answer"], "no_answer", {"confirmed": None, "new_time": None}),
        (TEST_NUMBERS["voicemail"], "voicemail", {"confirmed": None, "new_time": None}),
        (TEST_NUMBERS["declined"], "declined", {"confirmed": None, "new_time": None}),
        (TEST_NUMBERS["failed"], "failed", {"confirmed": None, "new_time": None}),
        (TEST_NUMBERS["nothing_obtained"], "completed", {"confirmed": None, "new_time": None}),
        (TEST_NUMBERS["unknown_status"], "completed", {"confirmed": True, "new_time": "tomorrow at 3pm"}),
    ],
)
def test_every_deterministic_outcome(
    byourside_client: Client, number: str, status: str, extracted: dict[str, object]
) -> None:
    seen: list[str] = []
    placed = byourside_client.place_call(to=number, objective=SEED_OBJECTIVE, fields=SEED_FIELDS)
    call = byourside_client.wait_for_call(
        placed.call_id, interval=0.25, on_status=lambda c: seen.append(c.status)
    )
    assert call.status == status
    assert call.is_terminal
    assert call.extracted == extracted
    assert seen[-1] == status
    if number == TEST_NUMBERS["unknown_status"]:
        assert "ringing" in seen


def test_a_call_that_never_ends_times_out_in_fake_seconds(byourside_client: Client) -> None:
    placed = byourside_client.place_call(to=TEST_NUMBERS["never_ends"], objective="Hold the line")
    with pytest.raises(WaitTimeoutError) as raised:
        byourside_client.wait_for_call(placed.call_id, timeout=60, interval=5)
    assert (raised.value.code, raised.value.status) == ("timeout", 0)
    assert byourside_client.get_call(placed.call_id).status == "in_progress"


def test_a_blocked_destination_is_refused_before_any_request(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    with pytest.raises(ByoursideError) as raised:
        byourside_client.place_call(to="+19001234567", objective="Sell something")
    assert (raised.value.code, raised.value.status) == ("destination_blocked", 400)
    assert byourside_server.count_calls() == 0


def test_a_caller_id_not_owned_is_refused(byourside_server: FakeServer, byourside_client: Client) -> None:
    with pytest.raises(ByoursideError) as raised:
        byourside_client.place_call(to=SEED_NUMBER, objective="x", caller_id="+14155550199")
    assert (raised.value.code, raised.value.status) == ("caller_id_not_owned", 403)
    owned = byourside_client.place_call(to=SEED_NUMBER, objective="x", caller_id="+14155550100")
    assert owned.status == "queued"
    assert byourside_server.count_calls() == 1


# -- limits --------------------------------------------------------------------------------------


@pytest.mark.byourside_server(rate_limit=1, rate_window=10)
def test_the_rate_limit_is_waited_out_and_the_call_placed_once(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    byourside_client.place_call(to=SEED_NUMBER, objective="first")
    second = byourside_client.place_call(to=SEED_NUMBER, objective="second")
    assert second.status == "queued"
    assert byourside_server.count_calls() == 2
    assert posts(byourside_server) == 3  # the refused POST placed nothing and was sent again


@pytest.mark.byourside_server(rate_limit=1, rate_window=10)
def test_the_rate_limit_without_retries_is_a_rate_limit_error(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    byourside_client.place_call(to=SEED_NUMBER, objective="first")
    with pytest.raises(RateLimitError) as raised:
        byourside_client.place_call(to=SEED_NUMBER, objective="second", max_retries=0)
    assert (raised.value.code, raised.value.status, raised.value.retry_after) == ("rate_limited", 429, 10)
    assert not raised.value.may_have_placed
    assert byourside_server.count_calls() == 1


@pytest.mark.byourside_server(minute_cap=1)
def test_the_minutes_cap_is_a_usage_cap_error_never_retried(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    byourside_client.place_call(to=SEED_NUMBER, objective="first")
    with pytest.raises(UsageCapError) as raised:
        byourside_client.place_call(to=SEED_NUMBER, objective="second")
    assert (raised.value.code, raised.value.status) == ("over_minute_cap", 429)
    assert posts(byourside_server) == 2
    assert byourside_server.count_calls() == 1


# -- webhooks -------------------------------------------------------------------------------------


def test_each_webhook_verifies_and_matches_the_call(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    with receiver() as hooks:
        placed = byourside_client.place_call(
            to=SEED_NUMBER, objective=SEED_OBJECTIVE, fields=SEED_FIELDS, webhook_url=hooks.url
        )
        call = byourside_client.wait_for_call(placed.call_id, interval=1)
        byourside_server.wait_for_webhooks()
    events = []
    for delivery in hooks.received:
        assert verify_webhook(delivery.signature, delivery.body, DEFAULT_WEBHOOK_SECRET)
        events.append(construct_event(delivery.body, delivery.signature, DEFAULT_WEBHOOK_SECRET))
    assert [event.event for event in events] == ["call.in_progress", "call.completed"]
    assert {event.call_id for event in events} == {placed.call_id}
    assert events[1].extracted == call.extracted
    assert events[1].summary == call.summary
    assert events[0].started_at == call.started_at
    assert events[1].ended_at == call.ended_at


def test_a_redelivery_is_deduped_by_event_id(byourside_server: FakeServer, byourside_client: Client) -> None:
    dedupe = WebhookDeduplicator()
    handled: list[str] = []
    with receiver([503]) as hooks:
        placed = byourside_client.place_call(
            to=TEST_NUMBERS["no_answer"], objective="x", webhook_url=hooks.url
        )
        byourside_client.wait_for_call(placed.call_id, interval=1)
        deliveries = byourside_server.wait_for_webhooks()
    assert [d.status_code for d in deliveries] == [503, 200]
    for delivery in hooks.received:
        event = construct_event(delivery.body, delivery.signature, DEFAULT_WEBHOOK_SECRET)
        if not dedupe.seen(event):
            handled.append(event.event)
    assert len(hooks.received) == 2
    assert handled == ["call.no_answer"]


# -- every injected fault ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["rate_limited", "placement_failed", "store_error"])
def test_placement_faults_that_prove_nothing_was_placed_are_retried_to_one_call(
    byourside_server: FakeServer, byourside_client: Client, fault: Fault
) -> None:
    byourside_server.inject("post", fault)
    placed = byourside_client.place_call(to=SEED_NUMBER, objective="x")
    assert placed.status == "queued"
    assert posts(byourside_server) == 2
    assert byourside_server.count_calls() == 1


@pytest.mark.parametrize(
    ("fault", "error", "code", "status", "stored"),
    [
        ("over_minute_cap", UsageCapError, "over_minute_cap", 429, 0),
        ("html_502", InvalidResponseError, "invalid_response", 502, 0),
        ("truncated_body", InvalidResponseError, "invalid_response", 201, 1),
        ("drop", NetworkError, "network_error", 0, 0),
        ("drop_after_store", NetworkError, "network_error", 0, 1),
    ],
)
def test_placement_faults_that_leave_the_outcome_unknown_are_never_resent(
    byourside_server: FakeServer,
    byourside_client: Client,
    fault: Fault,
    error: type[ByoursideError],
    code: str,
    status: int,
    stored: int,
) -> None:
    byourside_server.inject("post", fault)
    with pytest.raises(error) as raised:
        byourside_client.place_call(to=SEED_NUMBER, objective="x")
    assert (raised.value.code, raised.value.status) == (code, status)
    assert raised.value.may_have_placed == (fault != "over_minute_cap")
    assert posts(byourside_server) == 1
    assert byourside_server.count_calls() == stored


def test_a_slow_placement_times_out_unknown_and_is_not_resent(byourside_server: FakeServer) -> None:
    byourside_server.inject("post", "slow", delay=5)
    with (
        Client(byourside_server.api_key, byourside_server.base_url, timeout=(5, 0.2)) as client,
        pytest.raises(NetworkError) as raised,
    ):
        client.place_call(to=SEED_NUMBER, objective="x")
    assert raised.value.may_have_placed
    assert posts(byourside_server) == 1
    assert byourside_server.count_calls() == 1


@pytest.mark.parametrize("route", ["get", "list"])
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        # Reads are safe to send again: these are retried to the result.
        ("rate_limited", None),
        ("store_error", None),
        ("html_502", None),
        ("drop", None),
        ("truncated_body", None),  # a 2xx it cannot read: reading again is safe
        # A refusal token is an error at once.
        ("over_minute_cap", UsageCapError),
    ],
)
def test_read_faults_end_in_a_result_or_a_precise_error(
    byourside_server: FakeServer,
    byourside_client: Client,
    route: Route,
    fault: Fault,
    error: type[ByoursideError] | None,
) -> None:
    placed = byourside_client.place_call(to=SEED_NUMBER, objective="x")
    byourside_server.inject(route, fault)

    def read() -> list[Call]:
        if route == "get":
            return [byourside_client.get_call(placed.call_id)]
        return byourside_client.list_calls()

    if error is None:
        assert [call.call_id for call in read()] == [placed.call_id]
    else:
        with pytest.raises(error) as raised:
            read()
        assert not raised.value.may_have_placed
    assert byourside_server.pending_faults(route) == 0
    assert byourside_server.count_calls() == 1


def test_a_slow_read_within_the_timeout_is_the_result(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    placed = byourside_client.place_call(to=SEED_NUMBER, objective="x")
    byourside_server.inject("get", "slow", delay=0.05)
    assert byourside_client.get_call(placed.call_id).call_id == placed.call_id
