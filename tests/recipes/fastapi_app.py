from __future__ import annotations

import logging
import os

from fastapi import FastAPI, HTTPException, Request, Response

from byourside import WebhookDeduplicator, WebhookEvent, WebhookVerificationError, construct_event

WEBHOOK_SECRET = os.environ["BYS_WEBHOOK_SECRET"]  # this endpoint's whsec_... secret

app = FastAPI()
dedupe = WebhookDeduplicator(maxsize=10_000)
logger = logging.getLogger(__name__)


@dedupe.idempotent
async def handle_event(event: WebhookEvent) -> None:
    # Runs once per eventId: a redelivery of an event already handled is skipped.
    print(f"{event.event} for call {event.call_id} ({event.event_id})")
    if event.is_terminal:
        print(f"summary: {event.summary}; extracted: {event.extracted}")


@app.post("/webhooks/byourside", status_code=204)
async def byourside_webhook(request: Request) -> Response:
    try:
        event = construct_event(
            await request.body(),  # the raw bytes, never a body model or request.json()
            request.headers.get("X-BYS-Signature"),
            WEBHOOK_SECRET,
        )
    except WebhookVerificationError as error:
        logger.warning("Refused a webhook (%s): %s", error.reason, error.message)
        raise HTTPException(status_code=400, detail=error.reason) from error
    await handle_event(event)
    return Response(status_code=204)
