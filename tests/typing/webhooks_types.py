"""Typing promises of the webhook API, checked by mypy --strict (not run)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from typing_extensions import assert_type

from byourside import (
    EventStore,
    InMemoryEventStore,
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


def check_reason(error: WebhookVerificationError) -> None:
    assert_type(error.reason, WebhookFailureReason)


def check_stores() -> None:
    store: EventStore = InMemoryEventStore(maxsize=10)
    dedupe = WebhookDeduplicator(store)
    assert_type(dedupe.seen("evt_1"), bool)


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
