"""Typing promises of the webhook API, checked by mypy --strict (not run)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Literal

from pydantic import BaseModel
from typing_extensions import assert_type

from byourside import (
    EventStore,
    InMemoryEventStore,
    RedisEventStore,
    SqliteEventStore,
    WebhookDeduplicator,
    WebhookEvent,
    construct_event,
    sign_webhook,
    verify_webhook,
)
from byourside.errors import WebhookFailureReason, WebhookVerificationError


def check_functions(header: str | None, body: bytes, text: str) -> None:
    assert_type(verify_webhook(header, body, "whsec_x"), bool)
    assert_type(verify_webhook(header, text, ["whsec_old", "whsec_new"], 60), bool)
    assert_type(construct_event(body, header, "whsec_x"), WebhookEvent)
    assert_type(sign_webhook(body, "whsec_x", timestamp=1), str)


class Appointment(BaseModel):
    confirmed: bool


def check_typed_event(header: str | None, body: bytes) -> None:
    event = construct_event(body, header, "whsec_x", fields=Appointment)
    assert_type(event, WebhookEvent[Appointment])
    assert_type(event.extracted, Appointment | None)
    assert_type(event.raw_extracted, dict[str, Any] | None)
    untyped = construct_event(body, header, "whsec_x", 60, now=1.0)
    assert_type(untyped, WebhookEvent)
    assert_type(untyped, WebhookEvent[dict[str, Any]])
    assert_type(untyped.extracted, dict[str, Any] | None)


def check_typed_handler(dedupe: WebhookDeduplicator, event: WebhookEvent[Appointment]) -> None:
    @dedupe.idempotent
    def handle(received: WebhookEvent[Appointment]) -> bool:
        return received.extracted is not None and received.extracted.confirmed

    assert_type(handle(event), bool | None)


def check_reason(error: WebhookVerificationError) -> None:
    assert_type(error.reason, WebhookFailureReason)


def check_stores() -> None:
    store: EventStore = InMemoryEventStore(maxsize=10)
    dedupe = WebhookDeduplicator(store, lease_seconds=30)
    assert_type(dedupe.seen("evt_1"), bool)
    shared: EventStore = SqliteEventStore("events.sqlite3", retention_seconds=3600)
    several_hosts: EventStore = RedisEventStore(url="redis://127.0.0.1:6379/0")
    assert_type(shared.claim("evt_1", "owner", 60), Literal["claimed", "processing", "done"])
    several_hosts.complete("evt_1", "owner")


class CompletedEvent(WebhookEvent):
    """A user's subclass: the decorated handler keeps it as its parameter type."""


def check_idempotent(dedupe: WebhookDeduplicator, event: CompletedEvent) -> None:
    @dedupe.idempotent
    def handle(received: CompletedEvent, attempt: int, *, note: str = "") -> int:
        return attempt

    assert_type(handle(event, 1, note="x"), int | None)
    # With warn_unused_ignores (strict), these ignores fail the check unless mypy reports the error.
    handle("evt_1", 1)  # type: ignore[arg-type]
    handle(event, "1")  # type: ignore[arg-type]
    handle(event, 1, colour="red")  # type: ignore[call-arg]

    @dedupe.idempotent
    async def handle_async(received: WebhookEvent) -> str:
        return received.event_id

    assert_type(handle_async, Callable[[WebhookEvent], Coroutine[Any, Any, str | None]])
