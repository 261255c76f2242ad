from __future__ import annotations

import os

from flask import Flask, request
from pydantic import BaseModel

from byourside import (
    EventInProgressError,
    ExtractionError,
    SqliteEventStore,
    WebhookDeduplicator,
    WebhookEvent,
    WebhookVerificationError,
    construct_event,
)

WEBHOOK_SECRET = os.environ["BYS_WEBHOOK_SECRET"]  # this endpoint's whsec_... secret
# One SQLite file shared by every worker process of this host; several hosts: RedisEventStore.
EVENTS_DB = os.environ.get("BYS_WEBHOOK_EVENTS_DB", "webhook-events.sqlite3")


class Appointment(BaseModel):  # the model given to place_call(fields=Appointment)
    confirmed: bool
    new_time: str | None = None


app = Flask(__name__)
dedupe = WebhookDeduplicator(SqliteEventStore(EVENTS_DB), lease_seconds=60)


@dedupe.idempotent
def handle_event(event: WebhookEvent[Appointment]) -> None:
    # Runs once per eventId, under a 60 s lease: a redelivery of a handled event is skipped.
    print(f"{event.event} for call {event.call_id} ({event.event_id})")
    if event.extracted is not None:  # an Appointment, on terminal events that carry values
        print(f"summary: {event.summary}; confirmed: {event.extracted.confirmed}")


@app.post("/webhooks/byourside")
def byourside_webhook() -> tuple[str, int]:
    try:
        event = construct_event(
            request.get_data(),  # the raw bytes, never request.get_json() serialised again
            request.headers.get("X-BYS-Signature"),
            WEBHOOK_SECRET,
            fields=Appointment,
        )
    except WebhookVerificationError as error:
        app.logger.warning("Refused a webhook (%s): %s", error.reason, error.message)
        return error.reason, 400
    except ExtractionError as error:  # signed, but the values do not fit Appointment
        app.logger.error("Call %s: %s; values as sent: %r", error.call_id, error.message, error.raw)
        return "", 204  # a redelivery would carry the same values
    try:
        handle_event(event)
    except EventInProgressError:  # another worker is handling it: not done yet, so no 2xx
        return "in progress", 409
    return "", 204
