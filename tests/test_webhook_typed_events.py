"""construct_event(..., fields=Model): every extraction outcome on a signed delivery, as get_call gives it."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from byourside import Call, ExtractionError, WebhookEvent, construct_event, sign_webhook
from byourside._extraction import typed_call
from tests import payloads

SECRET = "whsec_typed_events"


class Appointment(BaseModel):
    confirmed: bool
    reason: Literal["sick", "travel"] | None = None
    new_date: date | None = Field(None, alias="newDate")


def signed(extracted: Any, name: str = "call.completed") -> tuple[bytes, str]:
    event = payloads.webhook_event(name)
    if extracted is not ...:
        event["extracted"] = extracted
    body = json.dumps(event).encode()
    return body, sign_webhook(body, SECRET)


def construct(extracted: Any, name: str = "call.completed") -> WebhookEvent[Appointment]:
    body, header = signed(extracted, name)
    return construct_event(body, header, SECRET, fields=Appointment)


def test_values_that_fit_come_back_as_the_model() -> None:
    event = construct({"confirmed": True, "reason": "travel", "newDate": "2026-12-01"})
    assert isinstance(event, WebhookEvent)
    assert event.extracted == Appointment(confirmed=True, reason="travel", newDate=date(2026, 12, 1))
    assert event.raw_extracted == {"confirmed": True, "reason": "travel", "newDate": "2026-12-01"}
    assert (event.event, event.call_id, event.summary) == ("call.completed", payloads.CALL_ID, "Confirmed.")


def test_an_event_without_values_has_none() -> None:
    event = construct(..., name="call.in_progress")
    assert event.extracted is None
    assert event.raw_extracted is None
    assert construct(None).extracted is None  # a terminal event whose values are null


def test_a_required_field_not_obtained_raises_field_not_obtained_keeping_raw() -> None:
    with pytest.raises(ExtractionError) as caught:
        construct({"confirmed": None, "reason": "sick"})
    error = caught.value
    assert error.code == "field_not_obtained"
    assert error.field == "confirmed"
    assert error.raw == {"confirmed": None, "reason": "sick"}
    assert error.call_id == payloads.CALL_ID
    assert isinstance(error.event, WebhookEvent)
    assert error.event.extracted == {"confirmed": None, "reason": "sick"}  # the untyped event


def test_a_value_that_does_not_fit_raises_extraction_mismatch_keeping_raw() -> None:
    with pytest.raises(ExtractionError) as caught:
        construct({"confirmed": True, "reason": "bored"})
    error = caught.value
    assert error.code == "extraction_mismatch"
    assert error.field == "reason"
    assert error.raw == {"confirmed": True, "reason": "bored"}
    assert "'bored'" in error.message


@pytest.mark.parametrize(
    "extracted",
    [
        {"confirmed": True},
        {"confirmed": None},
        {"confirmed": "yes"},
        {"confirmed": False, "reason": "travel", "newDate": "not a date"},
        {},
    ],
)
def test_the_outcome_is_exactly_get_calls(extracted: dict[str, Any]) -> None:
    call = Call.model_validate({"id": payloads.CALL_ID, "status": "completed", "extracted": extracted})
    try:
        expected: Any = typed_call(call, Appointment).extracted
    except ExtractionError as error:
        expected = (error.code, error.field, error.raw, error.message)
    try:
        got: Any = construct(extracted).extracted
    except ExtractionError as error:
        got = (error.code, error.field, error.raw, error.message)
    assert got == expected


def test_without_fields_the_event_keeps_the_wire_dict() -> None:
    body, header = signed({"confirmed": "anything"})
    event = construct_event(body, header, SECRET)
    assert event.extracted == {"confirmed": "anything"}
    assert event.raw_extracted == {"confirmed": "anything"}


def test_a_typed_event_serialises_back_to_the_values_as_sent() -> None:
    event = construct({"confirmed": True, "newDate": "2026-12-01"})
    assert event.to_wire()["extracted"] == {"confirmed": True, "newDate": "2026-12-01"}


def test_verification_comes_before_extraction() -> None:
    body, header = signed({"confirmed": "not a bool"})
    with pytest.raises(Exception, match="signature") as caught:
        construct_event(body + b" ", header, SECRET, fields=Appointment)
    assert not isinstance(caught.value, ExtractionError)
