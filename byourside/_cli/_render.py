"""Human-readable text for calls, lists and webhook events: compact, one value a line."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from byourside._models import Call, PlacedCall, WebhookEvent

__all__ = [
    "call_json",
    "call_lines",
    "calls_table",
    "event_lines",
    "one_line",
    "placed_lines",
    "value_text",
]

# A terminal escape sequence as a whole (CSI ... final byte), else any single control character.
_CONTROL = re.compile(r"(?:\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x1f\x7f-\x9f])+")
_OBJECTIVE_WIDTH = 48


def one_line(text: str, width: int | None = None) -> str:
    """`text` on one line (control characters, escapes included, become a space), cut to `width`.

    The service's text goes to a terminal: a newline would break a table, an escape sequence
    could rewrite the screen.

    Example:
        >>> one_line("Confirm\\nthe\\x1b[2Jappointment")
        'Confirm the appointment'
        >>> one_line("Confirm the appointment", width=15)
        'Confirm the...'
    """
    flat = _CONTROL.sub(" ", text).strip()
    if width is not None and len(flat) > width:
        return flat[: width - 3].rstrip() + "..."
    return flat


def value_text(value: Any) -> str:
    """An extracted value as a ``name=value`` line shows it: text as it is, the rest as JSON.

    Example:
        >>> value_text("tomorrow at 3pm"), value_text(True), value_text(None), value_text("a\\nb")
        ('tomorrow at 3pm', 'true', 'null', '"a\\\\nb"')
    """
    if isinstance(value, str) and value == one_line(value) and value:
        return value
    return json.dumps(value, ensure_ascii=False)


def call_json(call: Call[Any] | PlacedCall) -> dict[str, Any]:
    """A call object as ``--json`` prints it: the wire JSON, carrying its id as both ``callId`` and
    ``id`` (the service uses each in places), so ``jq -r .callId`` works on every command's output.

    Example:
        >>> call_json(PlacedCall.model_validate({"callId": "c1", "status": "queued"}))
        {'callId': 'c1', 'id': 'c1', 'status': 'queued'}
        >>> call_json(Call.model_validate({"id": "c2", "status": "completed"}))
        {'callId': 'c2', 'id': 'c2', 'status': 'completed'}
    """
    wire = call.to_wire()
    return {"callId": call.call_id, "id": call.call_id, **wire}


def _labelled(pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(label) for label, _ in pairs) + 1
    return [f"{label + ':':<{width}} {text}" for label, text in pairs]


def _extracted_lines(extracted: Mapping[str, Any] | None) -> list[str]:
    if not extracted:
        return []
    return ["extracted:", *(f"  {one_line(name)}={value_text(value)}" for name, value in extracted.items())]


def placed_lines(placed: PlacedCall) -> list[str]:
    """A call just placed: its id and first status.

    Example:
        >>> print("\\n".join(placed_lines(PlacedCall.model_validate({"callId": "c1", "status": "queued"}))))
        id:     c1
        status: queued
    """
    return _labelled([("id", placed.call_id), ("status", one_line(placed.status))])


def call_lines(call: Call) -> list[str]:
    """A call's key fields (id, status, to, summary, recording), then its extracted values.

    Example:
        >>> call = Call.model_validate(
        ...     {"id": "c1", "status": "completed", "summary": "Confirmed.", "extracted": {"confirmed": True}}
        ... )
        >>> print("\\n".join(call_lines(call)))
        id:      c1
        status:  completed
        summary: Confirmed.
        extracted:
          confirmed=true
    """
    pairs = [("id", call.call_id), ("status", one_line(call.status))]
    if call.to:
        pairs.append(("to", one_line(call.to)))
    if call.summary:
        pairs.append(("summary", one_line(call.summary)))
    if call.recording_url:
        pairs.append(("recording", one_line(call.recording_url)))
    return _labelled(pairs) + _extracted_lines(call.raw_extracted)


def calls_table(calls: Sequence[Call]) -> list[str]:
    """Recent calls as a table: id, status, number and objective (cut to fit).

    Example:
        >>> calls = [Call.model_validate({"callId": "c1", "status": "queued", "to": "+14155550123"})]
        >>> print("\\n".join(calls_table(calls)))
        ID  STATUS  TO            OBJECTIVE
        c1  queued  +14155550123
    """
    if not calls:
        return ["no calls"]
    rows = [("ID", "STATUS", "TO", "OBJECTIVE")]
    rows += [
        (
            one_line(call.call_id),
            one_line(call.status),
            one_line(call.to or ""),
            one_line(call.objective or "", _OBJECTIVE_WIDTH),
        )
        for call in calls
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]
        ).rstrip()
        for row in rows
    ]


def event_lines(event: WebhookEvent, *, redelivery: bool = False) -> list[str]:
    """A verified webhook event: what happened to which call, then a terminal event's results.

    Example:
        >>> event = WebhookEvent.model_validate({"event": "call.in_progress", "eventId": "evt_1",
        ...     "timestamp": "2026-11-25T14:00:05Z", "callId": "c1", "status": "in_progress"})
        >>> print("\\n".join(event_lines(event, redelivery=True)))
        call.in_progress evt_1 call c1 status in_progress (redelivery)
    """
    head = f"{one_line(event.event)} {one_line(event.event_id)} call {one_line(event.call_id)}"
    head += f" status {one_line(event.status)}"
    if redelivery:
        head += " (redelivery)"
    lines = [head]
    if event.summary:
        lines.append(f"  summary: {one_line(event.summary)}")
    lines += [f"  {line}" for line in _extracted_lines(event.extracted)]
    return lines
