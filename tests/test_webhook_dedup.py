"""WebhookDeduplicator and the event stores: one handling per eventId, released when handling fails."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from byourside import EventStore, InMemoryEventStore, WebhookDeduplicator, WebhookEvent
from byourside.webhooks import ClaimState
from tests import payloads


def event(event_id: str = "evt_1", name: str = "call.completed") -> WebhookEvent:
    return WebhookEvent.model_validate(payloads.webhook_event(name) | {"eventId": event_id})


class RecordingStore:
    """A user store: a plain dict, recording what the deduplicator asked of it."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, str]] = {}
        self.calls: list[tuple[str, str]] = []

    def claim(self, event_id: str, owner: str, lease_seconds: float) -> ClaimState:
        self.calls.append(("claim", event_id))
        record = self.records.get(event_id)
        if record is not None:
            return "done" if record[0] == "done" else "processing"
        self.records[event_id] = ("processing", owner)
        return "claimed"

    def complete(self, event_id: str, owner: str) -> None:
        self.calls.append(("complete", event_id))
        self.records[event_id] = ("done", owner)

    def release(self, event_id: str, owner: str) -> None:
        self.calls.append(("release", event_id))
        if self.records.get(event_id, ("", ""))[1] == owner:
            del self.records[event_id]


class AddIfNewStore:
    """A store written for the earlier two-method interface."""

    def add_if_new(self, event_id: str) -> bool:
        return True

    def discard(self, event_id: str) -> None:
        pass


# --- InMemoryEventStore ---------------------------------------------------------------------------


def test_store_records_each_id_once() -> None:
    store = InMemoryEventStore()
    assert store.add_if_new("evt_1") is True
    assert store.add_if_new("evt_1") is False
    assert store.add_if_new("evt_2") is True
    assert len(store) == 2


def test_store_forgets_the_least_recently_seen_id_when_full() -> None:
    store = InMemoryEventStore(maxsize=3)
    for event_id in ("a", "b", "c"):
        store.add_if_new(event_id)
    assert store.add_if_new("a") is False  # a redelivery refreshes "a": "b" is now the oldest
    assert store.add_if_new("d") is True
    assert len(store) == 3
    assert "b" not in store
    assert "a" in store
    assert store.add_if_new("b") is True  # forgotten, so handled again: the cost of a bound


def test_store_discard_releases_an_id() -> None:
    store = InMemoryEventStore()
    store.add_if_new("evt_1")
    store.discard("evt_1")
    store.discard("never_seen")
    assert store.add_if_new("evt_1") is True


@pytest.mark.parametrize("maxsize", [0, -1, 1.5, True, "10"])
def test_store_refuses_a_bad_maxsize(maxsize: Any) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        InMemoryEventStore(maxsize)


def test_store_is_atomic_across_threads() -> None:
    store = InMemoryEventStore(maxsize=100)
    workers = 16
    start = threading.Barrier(workers)
    results: list[bool] = []
    results_lock = threading.Lock()

    def deliver() -> None:
        start.wait()  # all threads race for the same id at once
        claimed = [store.add_if_new(f"evt_{i}") for i in range(50)]
        with results_lock:
            results.extend(claimed)

    threads = [threading.Thread(target=deliver) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 50  # each id claimed by exactly one thread
    assert len(results) == 50 * workers


def test_store_repr_shows_size_not_ids() -> None:
    store = InMemoryEventStore(maxsize=5)
    store.add_if_new("evt_secretive")
    assert repr(store) == "InMemoryEventStore(maxsize=5, size=1)"


# --- WebhookDeduplicator.seen / forget ------------------------------------------------------------


def test_seen_is_false_first_then_true_for_the_same_event_id() -> None:
    dedupe = WebhookDeduplicator()
    first, redelivered, other = event("evt_1"), event("evt_1"), event("evt_2")
    assert dedupe.seen(first) is False
    assert dedupe.seen(redelivered) is True
    assert dedupe.seen(other) is False
    assert dedupe.seen("evt_1") is True  # an id works as well as an event


def test_forget_lets_a_redelivery_through_again() -> None:
    dedupe = WebhookDeduplicator()
    assert not dedupe.seen(event())
    dedupe.forget(event())
    assert not dedupe.seen(event())


def test_default_store_is_bounded_by_maxsize() -> None:
    dedupe = WebhookDeduplicator(maxsize=2)
    assert isinstance(dedupe.store, InMemoryEventStore)
    assert dedupe.store.maxsize == 2
    default_store = WebhookDeduplicator().store
    assert isinstance(default_store, InMemoryEventStore)
    assert default_store.maxsize == 10_000


def test_a_user_store_is_used_as_given() -> None:
    store = RecordingStore()
    store_as_protocol: EventStore = store  # RecordingStore satisfies the protocol structurally
    dedupe = WebhookDeduplicator(store_as_protocol)
    dedupe.seen(event("evt_9"))
    dedupe.forget("evt_9")
    assert store.calls == [("claim", "evt_9"), ("complete", "evt_9"), ("release", "evt_9")]
    assert store.records == {}


def test_a_store_of_the_earlier_add_if_new_interface_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(TypeError, match="no claim, complete, release method"):
        WebhookDeduplicator(AddIfNewStore())  # type: ignore[arg-type]


def test_store_and_maxsize_together_are_refused() -> None:
    with pytest.raises(TypeError, match="maxsize"):
        WebhookDeduplicator(RecordingStore(), maxsize=5)


@pytest.mark.parametrize("maxsize", [0, -5])
def test_a_bad_maxsize_is_refused_not_replaced_by_the_default(maxsize: int) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        WebhookDeduplicator(maxsize=maxsize)


@pytest.mark.parametrize("wrong", [None, 42, {"eventId": "evt_1"}])
def test_seen_refuses_what_is_not_an_event(wrong: Any) -> None:
    with pytest.raises(TypeError, match="WebhookEvent"):
        WebhookDeduplicator().seen(wrong)


# --- WebhookDeduplicator.idempotent ---------------------------------------------------------------


def test_idempotent_runs_a_handler_once_per_event_id() -> None:
    dedupe = WebhookDeduplicator()
    handled: list[str] = []

    @dedupe.idempotent
    def handle(received: WebhookEvent, note: str = "") -> str:
        handled.append(received.event_id + note)
        return "done"

    assert handle(event("evt_1"), note="!") == "done"
    assert handle(event("evt_1")) is None
    assert handle(event("evt_2")) == "done"
    assert handled == ["evt_1!", "evt_2"]
    assert handle.__name__ == "handle"


def test_idempotent_releases_the_id_when_the_handler_raises() -> None:
    dedupe = WebhookDeduplicator()
    attempts: list[str] = []

    @dedupe.idempotent
    def handle(received: WebhookEvent) -> None:
        attempts.append(received.event_id)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        handle(event())
    handle(event())  # the service's retry: handled this time
    handle(event())  # and a further redelivery is skipped
    assert attempts == ["evt_1", "evt_1"]


def test_idempotent_works_on_async_handlers() -> None:
    dedupe = WebhookDeduplicator()
    attempts: list[str] = []

    @dedupe.idempotent
    async def handle(received: WebhookEvent) -> str:
        attempts.append(received.event_id)
        if len(attempts) == 1:
            raise RuntimeError("flaky")
        await asyncio.sleep(0)
        return "done"

    async def deliveries() -> list[str | None]:
        with pytest.raises(RuntimeError):
            await handle(event())
        return [await handle(event()), await handle(event())]

    assert asyncio.run(deliveries()) == ["done", None]
    assert attempts == ["evt_1", "evt_1"]


def test_repr_names_the_store() -> None:
    assert repr(WebhookDeduplicator(maxsize=3)) == (
        "WebhookDeduplicator(store=InMemoryEventStore(maxsize=3, size=0), lease_seconds=60)"
    )
