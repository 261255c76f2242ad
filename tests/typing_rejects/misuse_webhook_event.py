"""Misuses of a typed webhook event that mypy --strict must reject (tests/test_typing_rejects.py runs it).

Each line meant to fail carries `# expect: <mypy error code>`; this file is excluded from the
project's own mypy run and never imported.
"""

from __future__ import annotations

from pydantic import BaseModel

from byourside import WebhookDeduplicator, WebhookEvent, construct_event


class Appointment(BaseModel):
    confirmed: bool


def misuse(body: bytes, header: str, dedupe: WebhookDeduplicator) -> None:
    event = construct_event(body, header, "whsec_x", fields=Appointment)
    event.extracted.confirmed  # expect: union-attr
    if event.extracted is None:
        return
    event.extracted.confirmd  # expect: attr-defined
    event.extracted["confirmed"]  # expect: index
    label: str = event.extracted.confirmed  # expect: assignment
    construct_event(body, header, "whsec_x", fields={"confirmed": "boolean"})  # expect: call-overload
    untyped = construct_event(body, header, "whsec_x")
    if untyped.extracted is not None:
        untyped.extracted.confirmed  # expect: attr-defined

    @dedupe.idempotent
    def handle(received: WebhookEvent[Appointment]) -> None: ...

    handle(untyped)  # expect: arg-type
