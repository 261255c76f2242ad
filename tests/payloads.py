"""Example payloads of the contract (agent-api.md and the 0.1.0 README), shared by the tests."""

from __future__ import annotations

from typing import Any

CALL_ID = "3f2c1a9e-5b7d-4e21-9c3a-7d8e9f0a1b2c"

PLACED_MINIMAL: dict[str, Any] = {"callId": "call_abc123", "status": "queued"}
PLACED_NEWER_DOCS: dict[str, Any] = {
    "callId": CALL_ID,
    "status": "queued",
    "language": "en-US",
    "languageSource": "inferred",
    "voice": "Aoede",
}

COMPLETED_CALL: dict[str, Any] = {
    "id": CALL_ID,
    "status": "completed",
    "to": "+14155550123",
    "objective": "Confirm the appointment for tomorrow at 2pm and ask if they need to reschedule.",
    "summary": "The patient confirmed the appointment for tomorrow at 2pm.",
    "extracted": {"confirmed": True, "new_time": None},
    "transcript": "AI: Hello, I'm calling to confirm your appointment...\nCallee: Yes, 2pm works.",
    "recordingUrl": "https://recordings.byourside.ai/3f2c1a9e.mp3",
}

LIST_WITH_ID_ITEMS: dict[str, Any] = {
    "calls": [
        {"id": "c2", "status": "in_progress", "to": "+14155550123"},
        {"id": "c1", "status": "completed", "to": "+14155550124", "summary": "Done."},
    ]
}
LIST_WITH_CALLID_ITEMS: dict[str, Any] = {
    "calls": [
        {"callId": "c2", "status": "queued", "to": "+14155550123"},
        {"callId": "c1", "status": "no_answer", "to": "+14155550124"},
    ]
}

SERVER_ERROR_TOKENS = [
    "to_required",
    "objective_required",
    "invalid_number",
    "destination_blocked",
    "caller_id_not_owned",
    "unauthorized",
    "not_found",
    "rate_limited",
    "over_minute_cap",
    "placement_failed",
    "store_error",
]

WEBHOOK_EVENT_NAMES = [
    "call.in_progress",
    "call.completed",
    "call.no_answer",
    "call.voicemail",
    "call.declined",
    "call.failed",
]


def webhook_event(name: str) -> dict[str, Any]:
    """A delivery of event `name`, shaped as the webhooks page documents it."""
    status = name.removeprefix("call.")
    event: dict[str, Any] = {
        "event": name,
        "eventId": f"evt_{status}_1",
        "timestamp": "2026-11-25T14:00:05Z",
        "callId": CALL_ID,
        "status": status,
        "to": "+14155550123",
        "objective": "Confirm the appointment",
        "startedAt": None if name in ("call.no_answer", "call.failed") else "2026-11-25T14:00:00Z",
        "endedAt": None if name == "call.in_progress" else "2026-11-25T14:01:30Z",
    }
    if name == "call.completed":
        event |= {
            "summary": "Confirmed.",
            "extracted": {"confirmed": True},
            "transcript": "AI: Hello...",
            "recordingUrl": "https://recordings.byourside.ai/x.mp3",
        }
    return event
