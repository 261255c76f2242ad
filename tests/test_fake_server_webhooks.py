"""Webhooks from the FakeServer: signed as the service signs, one event per transition, redelivered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from byourside import WebhookEvent
from byourside.testing import TEST_NUMBERS, FakeClock, FakeServer
from byourside.webhooks import construct_event, verify_webhook
from tests.fake_server_support import SEED_FIELDS, SEED_OBJECTIVE, Api, WebhookReceiver, receiver

START = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)
SECRET = "whsec_test_secret"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(
        clock=FakeClock(START),
        ring_seconds=2,
        talk_seconds=10,
        webhook_secret=SECRET,
        webhook_retry_delays=(0, 0),
    ) as started:
        yield started


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    with receiver() as started:
        yield started


def events_of(hooks: WebhookReceiver) -> list[WebhookEvent]:
    """Every received delivery, verified and parsed as a receiver would."""
    events = []
    for delivery in hooks.received:
        assert verify_webhook(delivery.signature, delivery.body, SECRET)
        events.append(construct_event(delivery.body, delivery.signature, SECRET))
    return events


def test_an_answered_call_sends_in_progress_then_completed(
    server: FakeServer, hooks: WebhookReceiver
) -> None:
    call_id = Api(server).place_ok(fields=SEED_FIELDS, webhookUrl=hooks.url)
    server.advance(2)
    server.wait_for_webhooks()
    assert [event.event for event in events_of(hooks)] == ["call.in_progress"]
    server.advance(10)
    server.wait_for_webhooks()
    in_progress, completed = events_of(hooks)
    assert hooks.received[0].path == "/hooks/bys"

    first: dict[str, Any] = in_progress.to_wire()
    assert first["callId"] == call_id
    assert first["status"] == "in_progress"
    assert first["timestamp"] == "2030-01-01T09:00:02Z"
    assert (first["startedAt"], first["endedAt"]) == ("2030-01-01T09:00:02Z", None)
    assert (first["to"], first["objective"]) == ("+14155550123", SEED_OBJECTIVE)
    assert not {"summary", "extracted", "transcript", "recordingUrl"} & first.keys()

    last: dict[str, Any] = completed.to_wire()
    assert (last["event"], last["status"], last["timestamp"]) == (
        "call.completed",
        "completed",
        "2030-01-01T09:00:12Z",
    )
    assert last["endedAt"] == "2030-01-01T09:00:12Z"
    assert last["extracted"] == {"confirmed": True, "new_time": "tomorrow at 3pm"}
    assert last["summary"]
    assert last["transcript"]
    assert last["recordingUrl"]
    assert in_progress.event_id != completed.event_id
    assert Api(server).get(call_id).json()["extracted"] == last["extracted"]


@pytest.mark.parametrize(
    ("number", "events"),
    [
        (TEST_NUMBERS["no_answer"], ["call.no_answer"]),
        (TEST_NUMBERS["declined"], ["call.declined"]),
        (TEST_NUMBERS["failed"], ["call.failed"]),
        (TEST_NUMBERS["voicemail"], ["call.in_progress", "call.voicemail"]),
        (TEST_NUMBERS["nothing_obtained"], ["call.in_progress", "call.completed"]),
        (TEST_NUMBERS["never_ends"], ["call.in_progress"]),
        (TEST_NUMBERS["unknown_status"], ["call.in_progress", "call.completed"]),
    ],
)
def test_each_outcome_sends_its_events(
    server: FakeServer, hooks: WebhookReceiver, number: str, events: list[str]
) -> None:
    Api(server).place_ok(to=number, webhookUrl=hooks.url)
    server.advance(1)
    server.advance(1)
    server.advance(10)
    server.advance(3600)
    server.wait_for_webhooks()
    assert [event.event for event in events_of(hooks)] == events


def test_an_unanswered_calls_event_has_no_start(server: FakeServer, hooks: WebhookReceiver) -> None:
    Api(server).place_ok(to=TEST_NUMBERS["no_answer"], fields=SEED_FIELDS, webhookUrl=hooks.url)
    server.advance(2)
    server.wait_for_webhooks()
    (event,) = events_of(hooks)
    assert event.started_at is None
    assert event.ended_at == START.replace(second=2)
    assert event.extracted == {"confirmed": None, "new_time": None}
    assert (event.transcript, event.recording_url) == (None, None)


def test_a_call_without_webhook_url_sends_nothing(server: FakeServer) -> None:
    Api(server).place_ok()
    server.advance(12)
    assert server.wait_for_webhooks() == []


def test_a_failed_delivery_is_redelivered_with_the_same_event_id_and_body(server: FakeServer) -> None:
    with receiver([500, 503]) as hooks:
        Api(server).place_ok(to=TEST_NUMBERS["no_answer"], webhookUrl=hooks.url)
        server.advance(2)
        deliveries = server.wait_for_webhooks()
    assert [(d.attempt, d.status_code) for d in deliveries] == [(1, 500), (2, 503), (3, 200)]
    assert len({d.event_id for d in deliveries}) == 1
    assert len({d.body for d in deliveries}) == 1
    assert [d.succeeded for d in deliveries] == [False, False, True]
    received_ids = [event.event_id for event in events_of(hooks)]
    assert received_ids == [deliveries[0].event_id] * 3
    # What a receiver keeps after deduping on eventId: one event.
    assert len(set(received_ids)) == 1


def test_redelivery_is_bounded(server: FakeServer) -> None:
    with receiver([500] * 10) as hooks:
        Api(server).place_ok(to=TEST_NUMBERS["failed"], webhookUrl=hooks.url)
        server.advance(2)
        deliveries = server.wait_for_webhooks()
    assert [d.status_code for d in deliveries] == [500, 500, 500]
    assert len(hooks.received) == 3


def test_a_receiver_that_is_down_is_retried_then_given_up(server: FakeServer) -> None:
    with receiver() as hooks:
        url = hooks.url
    Api(server).place_ok(to=TEST_NUMBERS["failed"], webhookUrl=url)
    server.advance(2)
    deliveries = server.wait_for_webhooks()
    assert [d.status_code for d in deliveries] == [None, None, None]
    assert all(d.error and "Connection" in d.error for d in deliveries)


def test_nothing_is_sent_off_this_machine(server: FakeServer) -> None:
    Api(server).place_ok(to=TEST_NUMBERS["failed"], webhookUrl="https://example.com/hook")
    server.advance(2)
    (delivery,) = server.wait_for_webhooks()
    assert (delivery.status_code, delivery.error, delivery.signature) == (None, "refused", None)
    assert delivery.payload["event"] == "call.failed"


def test_the_signature_is_the_configured_secrets_and_fresh(
    server: FakeServer, hooks: WebhookReceiver
) -> None:
    Api(server).place_ok(to=TEST_NUMBERS["failed"], webhookUrl=hooks.url)
    server.advance(2)
    (delivery,) = server.wait_for_webhooks()
    assert delivery.signature == hooks.received[0].signature
    assert verify_webhook(delivery.signature, delivery.body, SECRET)
    assert not verify_webhook(delivery.signature, delivery.body, "whsec_fake_server_secret")
    # Stamped with the real time it was sent, not the fake clock's 2030: a receiver's default
    # tolerance of 300 s accepts it.
    assert verify_webhook(delivery.signature, delivery.body, SECRET, tolerance=300)


def test_events_of_many_calls_keep_each_calls_order(server: FakeServer, hooks: WebhookReceiver) -> None:
    api = Api(server)
    ids = [api.place_ok(webhookUrl=hooks.url) for _ in range(5)]
    server.advance(12)
    server.wait_for_webhooks()
    events = events_of(hooks)
    for call_id in ids:
        assert [e.event for e in events if e.call_id == call_id] == ["call.in_progress", "call.completed"]
    assert len({event.event_id for event in events}) == 10


def test_a_slow_receiver_never_holds_up_the_api() -> None:
    release = threading.Event()
    with receiver(gate=release) as hooks, FakeServer(instant=True, webhook_secret=SECRET) as server:
        api = Api(server)
        call_id = api.place_ok(webhookUrl=hooks.url)
        # The first event is stuck at the receiver, yet the API answers.
        assert api.status(call_id) == "completed"
        assert api.list().status_code == 200
        assert hooks.received == []
        release.set()
        server.wait_for_webhooks()
        assert [event.event for event in events_of(hooks)] == ["call.in_progress", "call.completed"]


def test_real_time_instant_calls_deliver_both_events(hooks: WebhookReceiver) -> None:
    with FakeServer(instant=True, webhook_secret=SECRET) as server:
        Api(server).place_ok(webhookUrl=hooks.url)
        assert len(server.wait_for_deliveries(2)) == 2
    assert [event.event for event in events_of(hooks)] == ["call.in_progress", "call.completed"]


def test_waiting_for_deliveries_that_never_come_times_out(server: FakeServer) -> None:
    with pytest.raises(TimeoutError, match="0 webhook deliveries"):
        server.wait_for_deliveries(1, timeout=0.01)
