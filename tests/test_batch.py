"""`Client.place_calls` on the FakeServer: pacing, per-item errors, the minutes cap, typed results.

The plugin's ``byourside_client`` waits by moving the server's fake clock, so a Retry-After of a
second costs no real time and the rate-limit windows are exact.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from byourside import BatchItem, BatchProgress, BatchResult, ExtractionError, InvalidRequestError
from byourside.client import Client
from byourside.testing import TEST_NUMBERS, FakeServer
from tests.async_support import CLIENT_KINDS, either_client_on_fake_server
from tests.batch_support import items, number, posts, stored_per_number


@pytest.fixture(params=CLIENT_KINDS)
def byourside_client(request: pytest.FixtureRequest, byourside_server: FakeServer) -> Iterator[Client]:
    """The plugin's fixture over both clients: every batch test here runs on Client and on
    AsyncClient (its AsyncBatchRun iterated from blocking code)."""
    yield from either_client_on_fake_server(request.param, byourside_server)


class Appointment(BaseModel):
    confirmed: bool
    new_time: str | None = None


@pytest.mark.byourside_server(instant=True, rate_limit=25, rate_window=1.0)
def test_200_items_under_a_rate_limit_lose_none_and_dial_none_twice(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    batch = items(200)
    results = list(byourside_client.place_calls(batch, concurrency=8))

    assert sorted(result.index for result in results) == list(range(200))
    assert {result.status for result in results} == {"completed"}
    assert all(result.error is None for result in results)
    assert stored_per_number(byourside_server) == {item["to"]: 1 for item in batch}
    # 400 requests at 25 a window: the limit was met, paused for, and sent again, never failed.
    assert posts(byourside_server) > 200
    for result in results:
        assert result.call is not None
        assert result.call.call_id == result.call_id
        assert (result.call.to, result.call.objective) == (result.item.to, result.item.objective)


@pytest.mark.byourside_server(instant=True)
def test_rate_limited_without_retry_after_backs_off_and_goes_on(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    byourside_server.inject("post", "rate_limited", count=3, retry_after=None)
    byourside_server.inject("get", "rate_limited", count=2, retry_after=None)
    results = list(byourside_client.place_calls(items(5), concurrency=2))
    assert [r.status for r in results] == ["completed"] * 5
    assert byourside_server.count_calls() == 5
    assert posts(byourside_server) == 8


@pytest.mark.byourside_server(instant=True)
def test_placement_failures_that_prove_nothing_was_placed_are_retried(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    byourside_server.inject("post", "placement_failed")
    byourside_server.inject("post", "store_error")
    byourside_server.inject("get", "html_502")
    [result] = byourside_client.place_calls(items(1))
    assert result.status == "completed"
    assert byourside_server.count_calls() == 1


@pytest.mark.byourside_server(instant=True)
def test_bad_items_are_reported_and_never_stop_the_rest(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    batch = [
        {"to": number(0), "objective": "Confirm"},
        {"to": "+19005550100", "objective": "Confirm"},  # premium rate
        {"to": "12345", "objective": "Confirm"},  # not E.164
        {"to": "+33142685300", "objective": "Confirm"},  # a country the service does not call
        {"to": "", "objective": "Confirm"},
        {"to": number(1), "objective": " "},
        {"to": number(2), "objective": "Confirm", "webhook_url": "http://example.com/hook"},
        {"to": number(3), "objective": "Confirm"},
    ]
    results = list(byourside_client.place_calls(batch, ordered=True))

    assert [r.status for r in results] == ["completed"] + ["error"] * 6 + ["completed"]
    codes = [r.error.code if r.error is not None else None for r in results]
    assert codes == [
        None,
        "destination_blocked",
        "invalid_number",
        "destination_blocked",
        "to_required",
        "objective_required",
        "invalid_webhook_url",
        None,
    ]
    assert all(r.error is None or not r.error.may_have_placed for r in results)
    assert all(r.call_id is None for r in results[1:7])
    assert byourside_server.count_calls() == 2
    # What the SDK refuses itself costs no request; the service's guardrails cost one each.
    assert posts(byourside_server) == 4


@pytest.mark.byourside_server(instant=True, minute_cap=3)
def test_the_minutes_cap_stops_placing_and_reports_the_rest_not_placed(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    results = list(byourside_client.place_calls(items(10), concurrency=1, ordered=True))

    assert [r.status for r in results] == ["completed"] * 3 + ["not_placed"] * 7
    assert all(r.error is not None and r.error.code == "over_minute_cap" for r in results[3:])
    assert all(r.call_id is None for r in results[3:])
    assert byourside_server.count_calls() == 3
    assert posts(byourside_server) == 4  # the fourth was refused; nothing was sent after it


@pytest.mark.byourside_server(instant=True, minute_cap=2)
def test_the_minutes_cap_with_calls_in_flight_places_no_more(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    results = list(byourside_client.place_calls(items(12), concurrency=4))
    statuses = sorted(r.status for r in results)
    assert statuses == ["completed"] * 2 + ["not_placed"] * 10
    assert byourside_server.count_calls() == 2
    assert posts(byourside_server) <= 2 + 4


@pytest.mark.byourside_server(instant=True)
def test_typed_fields_give_typed_results(byourside_server: FakeServer, byourside_client: Client) -> None:
    batch: list[BatchItem | dict[str, Any]] = [
        BatchItem(to=number(0), objective="Confirm"),
        {"to": TEST_NUMBERS["no_answer"], "objective": "Confirm"},
    ]
    ended = {r.index: r for r in byourside_client.place_calls(batch, fields=Appointment)}

    answered = ended[0].call
    assert answered is not None
    assert isinstance(answered.extracted, Appointment)
    assert answered.extracted.confirmed is True
    # Nobody answered: the call ended, its values cannot fill the model; the untyped call is kept.
    assert ended[1].status == "no_answer"
    assert ended[1].call is None
    assert isinstance(ended[1].error, ExtractionError)
    assert ended[1].error.code == "field_not_obtained"
    assert ended[1].error.call.status == "no_answer"
    sent = [request.json() for request in byourside_server.requests if request.method == "POST"]
    assert sent[0]["fields"] == [
        {"name": "confirmed", "type": "boolean"},
        {"name": "new_time", "type": "string"},
    ]


@pytest.mark.byourside_server(instant=True)
def test_field_lists_are_sent_with_every_call(byourside_server: FakeServer, byourside_client: Client) -> None:
    fields = [{"name": "confirmed", "type": "boolean"}]
    results = list(byourside_client.place_calls(items(3), fields=fields, ordered=True))
    assert [r.call.extracted if r.call else None for r in results] == [{"confirmed": True}] * 3
    sent = [request.json()["fields"] for request in byourside_server.requests if request.method == "POST"]
    assert sent == [fields] * 3


@pytest.mark.byourside_server(instant=True)
def test_every_placement_key_reaches_the_wire(byourside_server: FakeServer, byourside_client: Client) -> None:
    item = {
        "to": number(0),
        "objective": "Confirm",
        "context": "Dentist",
        "callerId": "+14155550100",
        "voice": "Kore",
        "language": "en-US",
    }
    [result] = byourside_client.place_calls([item])
    assert result.status == "completed"
    [sent] = [request.json() for request in byourside_server.requests if request.method == "POST"]
    assert sent == item


@pytest.mark.byourside_server(instant=True)
def test_without_wait_each_call_is_reported_placed(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    results = list(byourside_client.place_calls(items(4), wait=False, ordered=True))
    assert [r.status for r in results] == ["placed"] * 4
    assert all(r.call_id and r.call is None and r.placed for r in results)
    # No call is read; one list of recent calls comes first: the snapshot that keeps older calls
    # from ever being adopted as this run's (issue 22, case 6).
    first, *rest = byourside_server.requests
    assert (first.method, first.path) == ("GET", "/v1/agent/calls")
    assert all(request.method == "POST" for request in rest)


@pytest.mark.byourside_server(ring_seconds=30, talk_seconds=30)
def test_a_call_that_outlasts_the_timeout_is_reported_placed_with_the_timeout(
    byourside_client: Client,
) -> None:
    [result] = byourside_client.place_calls(items(1), timeout=20, interval=5)
    assert result.status == "placed"
    assert result.call_id is not None
    assert result.error is not None
    assert result.error.code == "timeout"


@pytest.mark.byourside_server(ring_seconds=5, talk_seconds=5)
def test_results_come_as_calls_end_or_in_item_order(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    # Item 0 never ends within its timeout; the others end in 10 fake seconds.
    batch = [{"to": TEST_NUMBERS["never_ends"], "objective": "Hold"}, *items(3)]
    as_they_end = [r.index for r in byourside_client.place_calls(batch, timeout=60, interval=1)]
    assert as_they_end[-1] == 0
    in_order = [r.index for r in byourside_client.place_calls(batch, timeout=60, interval=1, ordered=True)]
    assert in_order == [0, 1, 2, 3]


def test_items_that_are_not_placements_are_refused_before_anything_is_sent() -> None:
    bad_items: list[Any] = [
        [{"to": number(0), "objective": "Hi", "name": "Ann"}],
        [{"to": number(0)}],
        [{"to": 14155550123, "objective": "Hi"}],
        ["+14155550123"],
        [{"to": number(0), "objective": "Hi"}, None],
    ]
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        for batch in bad_items:
            with pytest.raises(InvalidRequestError) as raised:
                client.place_calls(batch)
            assert raised.value.code == "invalid_batch_item"
            assert raised.value.status == 0
            assert f"Item {len(batch) - 1}" in raised.value.message
        with pytest.raises(InvalidRequestError) as too_many:
            client.place_calls(items(1), fields=[{"name": f"f{i}"} for i in range(21)])
        assert too_many.value.code == "too_many_fields"
        for not_fields in (dict, "confirmed", {"name": "confirmed"}):
            with pytest.raises(InvalidRequestError) as wrong_kind:
                client.place_calls(items(1), fields=not_fields)  # type: ignore[arg-type]
            assert wrong_kind.value.code == "invalid_fields"
        for options in ({"concurrency": 0}, {"concurrency": 1.5}, {"timeout": -1}, {"interval": "1"}):
            with pytest.raises(InvalidRequestError, match=next(iter(options))) as refused:
                client.place_calls(items(1), **options)
            assert refused.value.code == f"invalid_{next(iter(options))}"
        assert server.requests == []


def test_a_model_item_with_the_same_keys_is_accepted() -> None:
    class Row(BaseModel):
        to: str
        objective: str

    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        [result] = client.place_calls([Row(to=number(0), objective="Hi")], interval=0.01)
    assert result.status == "completed"
    assert result.item == BatchItem(to=number(0), objective="Hi")


@pytest.mark.byourside_server(instant=True)
def test_progress_is_reported_after_each_change(byourside_client: Client) -> None:
    seen: list[BatchProgress] = []
    batch = [*items(3), {"to": "12345", "objective": "Hi"}]
    results = list(byourside_client.place_calls(batch, on_progress=seen.append))
    assert len(results) == 4
    last = seen[-1]
    assert (last.total, last.placed, last.waiting, last.done, last.errors) == (4, 3, 0, 4, 1)
    assert last.by_status == {"completed": 3, "error": 1}
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert max(p.placed for p in seen) == 3


def test_stopping_early_places_nothing_more_and_leaves_no_thread() -> None:
    with (
        FakeServer(ring_seconds=0.2, talk_seconds=0.1) as server,
        Client(server.api_key, server.base_url) as client,
    ):
        results = client.place_calls(items(20), concurrency=2, interval=0.02)
        first: BatchResult = next(results)
        assert first.status == "completed"
        results.close()
        placed = server.count_calls()
        assert placed <= 4  # the first two, and at most two more already on the way
        assert not [t for t in threading.enumerate() if t.name.startswith("byourside-batch")]
        assert server.count_calls() == placed
