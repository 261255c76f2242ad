from __future__ import annotations

import os

from flask import Flask, request

from byourside import WebhookDeduplicator, WebhookEvent, WebhookVerificationError, construct_event

WEBHOOK_SECRET = os.environ["BYS_WEBHOOK_SECRET"]  # this endpoint's whsec_... secret

app = Flask(__name__)
dedupe = WebhookDeduplicator(maxsize=10_000)


@dedupe.idempotent
def handle_event(event: WebhookEvent) -> None:
    # Runs once per eventId: a redelivery of an event already handled is skipped.
    print(f"{event.event} for call {event.call_id} ({event.event_id})")
    if event.is_terminal:
        print(f"summary: {event.summary}; extracted: {event.extracted}")


@app.post("/webhooks/byourside")
def byourside_webhook() -> tuple[str, int]:
    try:
        event = construct_event(
            request.get_data(),  # the raw bytes, never request.get_json() serialised again
            request.headers.get("X-BYS-Signature"),
            WEBHOOK_SECRET,
        )
    except WebhookVerificationError as error:
        app.logger.warning("Refused a webhook (%s): %s", error.reason, error.message)
        return error.reason, 400
    handle_event(event)
    return "", 204
