from __future__ import annotations

import logging
import os

from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

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


app = FastAPI()
dedupe = WebhookDeduplicator(SqliteEventStore(EVENTS_DB), lease_seconds=60)
logger = logging.getLogger(__name__)


@dedupe.idempotent
def handle_event(event: WebhookEvent[Appointment]) -> None:
    # Runs once per eventId, under a 60 s lease: a redelivery of a handled event is skipped.
    print(f"{event.event} for call {event.call_id} ({event.event_id})")
    if event.extracted is not None:  # an Appointment, on terminal events that carry values
        print(f"summary: {event.summary}; confirmed: {event.extracted.confirmed}")


@app.post("/webhooks/byourside", status_code=204)
async def byourside_webhook(request: Request) -> Response:
    try:
        event = construct_event(
            await request.body(),  # the raw bytes, never a body model or request.json()
            request.headers.get("X-BYS-Signature"),
            WEBHOOK_SECRET,
            fields=Appointment,
        )
    except WebhookVerificationError as error:
        logger.warning("Refused a webhook (%s): %s", error.reason, error.message)
        raise HTTPException(status_code=400, detail=error.reason) from error
    except ExtractionError as error:  # signed, but the values do not fit Appointment
        logger.error("Call %s: %s; values as sent: %r", error.call_id, error.message, error.raw)
        return Response(status_code=204)  # a redelivery would carry the same values
    try:
        # The store's calls are blocking I/O (SQLite, Redis): off the event loop.
        await run_in_threadpool(handle_event, event)
    except EventInProgressError as error:  # another worker is handling it: not done yet, so no 2xx
        raise HTTPException(status_code=409, detail=error.code) from error
    return Response(status_code=204)
