"""Every example payload of the contract parses into the models and serialises back to the wire."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from byourside import TERMINAL_STATUSES, Call, CallList, FieldSpec, PlacedCall, WebhookEvent
from byourside._generated import ErrorBody
from byourside.errors import InvalidRequestError
from tests import payloads


def round_trip(model: BaseModel, wire: dict[str, Any]) -> None:
    """The model serialises back to exactly the wire JSON, which parses to an equal model."""
    assert hasattr(model, "to_wire")
    out = model.to_wire()
    assert out == wire
    assert type(model).model_validate(out) == model
    assert type(model).model_validate_json(model.model_dump_json(by_alias=True, exclude_unset=True)) == model


@pytest.mark.parametrize("wire", [payloads.PLACED_MINIMAL, payloads.PLACED_NEWER_DOCS])
def test_placement_reply(wire: dict[str, Any]) -> None:
    placed = PlacedCall.model_validate(wire)
    assert placed.call_id == wire["callId"]
    assert placed.status == "queued"
    assert not placed.is_terminal
    round_trip(placed, wire)
    assert "id" not in placed.to_wire()


def test_placement_reply_newer_docs_keys() -> None:
    placed = PlacedCall.model_validate(payloads.PLACED_NEWER_DOCS)
    assert (placed.language, placed.language_source, placed.voice) == ("en-US", "inferred", "Aoede")


def test_completed_call_keyed_id() -> None:
    call = Call.model_validate(payloads.COMPLETED_CALL)
    assert call.id == call.call_id == payloads.CALL_ID
    assert call.status == "completed"
    assert call.is_terminal
    assert call.extracted == {"confirmed": True, "new_time": None}
    assert call.recording_url == "https://recordings.byourside.ai/3f2c1a9e.mp3"
    assert call.started_at is None
    round_trip(call, payloads.COMPLETED_CALL)
    assert "callId" not in call.to_wire()


@pytest.mark.parametrize("wire", [payloads.LIST_WITH_ID_ITEMS, payloads.LIST_WITH_CALLID_ITEMS])
def test_lists_keyed_either_way(wire: dict[str, Any]) -> None:
    listing = CallList.model_validate(wire)
    assert [c.call_id for c in listing.calls] == ["c2", "c1"]
    assert [c.id for c in listing.calls] == ["c2", "c1"]
    assert all(isinstance(c, Call) for c in listing.calls)
    round_trip(listing, wire)


def test_call_with_neither_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="neither `id` nor `callId`"):
        Call.model_validate({"status": "queued"})


def test_unknown_status_and_unknown_key_are_kept_and_not_terminal() -> None:
    wire = {"id": "c9", "status": "ringing", "carrierRegion": "us-west", "startedAt": None}
    call = Call.model_validate(wire)
    assert call.status == "ringing"
    assert not call.is_terminal
    assert call.model_extra == {"carrierRegion": "us-west"}
    assert call["carrierRegion"] == "us-west"
    round_trip(call, wire)


def test_timestamps_parse_as_datetimes_and_serialise_back() -> None:
    wire = {"id": "c1", "status": "completed", "startedAt": "2026-11-25T14:00:00Z", "endedAt": None}
    call = Call.model_validate(wire)
    assert call.started_at == datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
    assert call["startedAt"] == "2026-11-25T14:00:00Z"
    round_trip(call, wire)


def test_terminal_statuses_come_from_the_spec() -> None:
    assert frozenset({"completed", "no_answer", "voicemail", "declined", "failed"}) == TERMINAL_STATUSES
    for status in ("queued", "in_progress", "ringing", ""):
        assert not Call.model_validate({"id": "c", "status": status}).is_terminal
    for status in TERMINAL_STATUSES:
        assert Call.model_validate({"id": "c", "status": status}).is_terminal


@pytest.mark.parametrize("token", payloads.SERVER_ERROR_TOKENS)
def test_each_error_token_parses(token: str) -> None:
    body = ErrorBody.model_validate({"error": token})
    assert body.error == token
    round_trip(body, {"error": token})


def test_error_body_keeps_unknown_tokens_and_keys() -> None:
    wire = {"error": "brand_new_token", "detail": "more"}
    body = ErrorBody.model_validate(wire)
    assert body.error == "brand_new_token"
    round_trip(body, wire)


@pytest.mark.parametrize("name", payloads.WEBHOOK_EVENT_NAMES)
def test_each_webhook_event(name: str) -> None:
    wire = payloads.webhook_event(name)
    event = WebhookEvent.model_validate(wire)
    assert event.event == name
    assert event.call_id == payloads.CALL_ID
    assert event.event_id == wire["eventId"]
    assert event.timestamp == datetime(2026, 11, 25, 14, 0, 5, tzinfo=timezone.utc)
    assert event.is_terminal == (name != "call.in_progress")
    round_trip(event, wire)


def test_unknown_webhook_event_parses() -> None:
    unknown = {"event": "call.transferred", "status": "transferring"}
    wire = payloads.webhook_event("call.in_progress") | unknown
    event = WebhookEvent.model_validate(wire)
    assert event.event == "call.transferred"
    assert not event.is_terminal
    round_trip(event, wire)


def test_models_populate_by_snake_case_name_too() -> None:
    placed = PlacedCall(call_id="c1", status="queued")
    assert placed.to_wire() == {"callId": "c1", "status": "queued"}
    call = Call(id="c1", status="completed", recording_url="https://r")
    assert call.to_wire() == {"id": "c1", "status": "completed", "recordingUrl": "https://r"}


def test_field_spec_defaults_to_string() -> None:
    spec = FieldSpec(name="confirmed")
    assert spec.type == "string"
    with pytest.raises(InvalidRequestError, match="invalid_field_type"):
        FieldSpec.model_validate({"name": "x", "type": "date"})
    with pytest.raises(InvalidRequestError, match="field_name_required"):
        FieldSpec.model_validate({"name": ""})


class TestDictStyleReads:
    """0.1.0 returned dicts; its README's programs index them by wire name."""

    def test_placed_call(self) -> None:
        placed = PlacedCall.model_validate(payloads.PLACED_MINIMAL)
        assert placed["callId"] == placed["id"] == "call_abc123"
        assert placed["status"] == "queued"
        assert placed.get("voice") is None
        assert placed.get("nope", "default") == "default"
        assert "callId" in placed
        assert "nope" not in placed
        with pytest.raises(KeyError):
            placed["nope"]

    def test_call_keyed_id_answers_callid_and_back(self) -> None:
        fetched = Call.model_validate(payloads.COMPLETED_CALL)
        listed = Call.model_validate({"callId": "c1", "status": "queued"})
        for call, expected in ((fetched, payloads.CALL_ID), (listed, "c1")):
            assert call["id"] == call["callId"] == call.get("id") == call.get("callId") == expected
        assert fetched["status"] == "completed"
        assert fetched.get("extracted") == {"confirmed": True, "new_time": None}
        assert fetched["recordingUrl"] == payloads.COMPLETED_CALL["recordingUrl"]
        assert fetched.get("summary") == payloads.COMPLETED_CALL["summary"]

    def test_call_list_and_webhook_event(self) -> None:
        listing = CallList.model_validate(payloads.LIST_WITH_ID_ITEMS)
        assert [c["callId"] for c in listing["calls"]] == ["c2", "c1"]
        assert [c["callId"] for c in listing.calls] == ["c2", "c1"]
        event = WebhookEvent.model_validate(payloads.webhook_event("call.completed"))
        assert event["callId"] == event["id"] == payloads.CALL_ID
        assert event["eventId"] == "evt_completed_1"
        assert event["timestamp"] == "2026-11-25T14:00:05Z"
        assert event.get("extracted") == {"confirmed": True}

    def test_field_spec(self) -> None:
        spec = FieldSpec(name="confirmed", type="boolean")
        assert spec["name"] == "confirmed"
        assert spec["type"] == "boolean"
