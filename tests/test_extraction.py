"""Typed extraction without a server: deriving wire fields from a model, checking values back."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from byourside import Call, ExtractionError, InvalidRequestError
from byourside._extraction import fields_from_model, parse_extracted, typed_call


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 3


class Everything(BaseModel):
    """Every annotation the service can carry."""

    confirmed: bool
    name: str
    count: int
    ratio: float
    price: Decimal
    reason: Literal["sick", "travel", "other"]
    level: Literal[1, 2, 3]
    color: Color
    size: Size
    day: dt.date
    at: dt.datetime
    slot: dt.time
    maybe_flag: bool | None = None
    maybe_day: dt.date | None = Field(None, description="A day they offered")


EXPECTED_WIRE: dict[str, dict[str, Any]] = {
    "confirmed": {"name": "confirmed", "type": "boolean"},
    "name": {"name": "name", "type": "string"},
    "count": {"name": "count", "type": "number", "description": "Whole number."},
    "ratio": {"name": "ratio", "type": "number"},
    "price": {"name": "price", "type": "number"},
    "reason": {"name": "reason", "type": "string", "description": "One of: 'sick', 'travel', 'other'."},
    "level": {"name": "level", "type": "number", "description": "One of: 1, 2, 3."},
    "color": {"name": "color", "type": "string", "description": "One of: 'red', 'blue'."},
    "size": {"name": "size", "type": "number", "description": "One of: 1, 3."},
    "day": {"name": "day", "type": "string", "description": "An ISO 8601 date, YYYY-MM-DD, e.g. 2026-11-25."},
    "at": {
        "name": "at",
        "type": "string",
        "description": "An ISO 8601 date and time with its UTC offset, e.g. 2026-11-25T14:00:00+00:00.",
    },
    "slot": {"name": "slot", "type": "string", "description": "A 24-hour time, HH:MM, e.g. 14:00."},
    "maybe_flag": {"name": "maybe_flag", "type": "boolean"},
    "maybe_day": {
        "name": "maybe_day",
        "type": "string",
        "description": "A day they offered. An ISO 8601 date, YYYY-MM-DD, e.g. 2026-11-25.",
    },
}


@pytest.mark.parametrize("field", list(EXPECTED_WIRE))
def test_each_supported_annotation_maps_to_its_wire_field(field: str) -> None:
    wire = {spec.name: spec.to_wire() for spec in fields_from_model(Everything)}
    assert wire[field] == EXPECTED_WIRE[field]


def test_field_order_is_the_model_order() -> None:
    assert [spec.name for spec in fields_from_model(Everything)] == list(EXPECTED_WIRE)


def test_aliases_are_the_wire_names() -> None:
    class Aliased(BaseModel):
        model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
        new_time: str | None = None
        party_size: int = Field(alias="guests")

    assert [spec.name for spec in fields_from_model(Aliased)] == ["newTime", "guests"]
    values = parse_extracted(Aliased, {"newTime": "3pm", "guests": 4.0})
    assert values is not None
    assert (values.new_time, values.party_size) == ("3pm", 4)


class Nested(BaseModel):
    x: int


@pytest.mark.parametrize(
    "annotation",
    [list[str], dict[str, int], Nested, int | str, bool | int | None, bytes, Any, set[int], tuple[int, int]],
    ids=repr,
)
def test_unsupported_annotations_name_the_field(annotation: Any) -> None:
    model = type("Bad", (BaseModel,), {"__annotations__": {"ok": bool, "culprit": annotation}})
    with pytest.raises(ExtractionError) as caught:
        fields_from_model(model)
    assert caught.value.code == "unsupported_field"
    assert "'culprit'" in caught.value.message


def test_mixed_literal_is_unsupported() -> None:
    class Mixed(BaseModel):
        pick: Literal["a", 1]

    with pytest.raises(ExtractionError, match="'pick'"):
        fields_from_model(Mixed)


def test_more_than_twenty_fields_is_refused_naming_the_extra_ones() -> None:
    many = type("Many", (BaseModel,), {"__annotations__": {f"f{i}": bool for i in range(21)}})
    with pytest.raises(InvalidRequestError) as caught:
        fields_from_model(many)
    assert caught.value.code == "too_many_fields"
    assert "'f20'" in caught.value.message
    twenty = type("Twenty", (BaseModel,), {"__annotations__": {f"f{i}": bool for i in range(20)}})
    assert len(fields_from_model(twenty)) == 20


class Appointment(BaseModel):
    confirmed: bool
    new_time: str | None = Field(None, description="New time if they asked to reschedule")
    party_size: int | None = None
    reason: Literal["sick", "travel", "other"] | None = None
    day: dt.date | None = None


def test_values_are_coerced_into_the_model() -> None:
    raw = {"confirmed": True, "new_time": None, "party_size": 3.0, "reason": "sick", "day": "2026-11-26"}
    values = parse_extracted(Appointment, raw)
    assert values == Appointment(confirmed=True, party_size=3, reason="sick", day=dt.date(2026, 11, 26))
    assert isinstance(values.party_size, int)


def test_nothing_extracted_yet_is_none() -> None:
    assert parse_extracted(Appointment, None) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("party_size", 3.5), ("reason", "bored"), ("day", "next tuesday"), ("confirmed", "perhaps")],
)
def test_a_value_that_does_not_fit_names_field_and_value(field: str, value: Any) -> None:
    raw = {"confirmed": True} | {field: value}
    with pytest.raises(ExtractionError) as caught:
        parse_extracted(Appointment, raw)
    error = caught.value
    assert error.code == "extraction_mismatch"
    assert error.field == field
    assert repr(value) in error.message
    assert error.raw == raw


@pytest.mark.parametrize("raw", [{"confirmed": None}, {}])
def test_a_required_field_not_obtained_is_reported_distinctly(raw: dict[str, Any]) -> None:
    with pytest.raises(ExtractionError) as caught:
        parse_extracted(Appointment, raw)
    assert caught.value.code == "field_not_obtained"
    assert caught.value.field == "confirmed"
    assert caught.value.raw == raw


def test_typed_call_keeps_everything_and_types_extracted() -> None:
    wire = {
        "id": "c1",
        "status": "completed",
        "summary": "ok",
        "extracted": {"confirmed": True, "party_size": 2.0},
        "carrier": "x",
    }
    call = Call.model_validate(wire)
    typed = typed_call(call, Appointment)
    assert isinstance(typed.extracted, Appointment)
    assert typed.extracted.party_size == 2
    assert typed.raw_extracted == {"confirmed": True, "party_size": 2.0}
    assert (typed.call_id, typed.summary, typed["carrier"]) == ("c1", "ok", "x")
    assert typed.to_wire() == wire | {"extracted": {"confirmed": True, "party_size": 2}}


def test_typed_call_error_carries_the_untyped_call() -> None:
    call = Call.model_validate({"id": "c1", "status": "completed", "extracted": {"confirmed": "maybe"}})
    with pytest.raises(ExtractionError) as caught:
        typed_call(call, Appointment)
    assert caught.value.call is call
    assert caught.value.raw == {"confirmed": "maybe"}


def test_a_model_with_an_unresolvable_forward_reference_is_named() -> None:
    class Later(BaseModel):
        when: Missing | None = None  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ExtractionError, match="Later is not fully defined") as caught:
        fields_from_model(Later)
    assert caught.value.code == "unsupported_field"


class Deferred(BaseModel):
    answer: LaterAnswer | None = None


LaterAnswer = bool  # defined after the model: pydantic leaves Deferred incomplete until a rebuild


def test_a_model_completed_later_is_rebuilt() -> None:
    assert not Deferred.__pydantic_complete__
    assert [f.to_wire() for f in fields_from_model(Deferred)] == [{"name": "answer", "type": "boolean"}]
