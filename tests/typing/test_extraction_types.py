"""Typing promises of typed extraction, checked by `mypy --strict` in CI and run by pytest."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import assert_type

from byourside import Call, Client
from byourside.testing import FakeServer


class Appointment(BaseModel):
    confirmed: bool
    new_time: str | None = Field(None, description="New time if they asked to reschedule")
    party_size: int | None = None
    reason: Literal["sick", "travel", "other"] | None = None


def test_the_model_is_inferred_with_no_cast() -> None:
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        placed = client.place_call("+14155550123", "Confirm the appointment", fields=Appointment)

        call = client.get_call(placed.call_id, fields=Appointment)
        assert_type(call, Call[Appointment])
        assert_type(call.extracted, Appointment | None)
        assert call.extracted is not None
        assert_type(call.extracted.confirmed, bool)
        assert_type(call.extracted.party_size, int | None)
        assert_type(call.raw_extracted, dict[str, Any] | None)

        waited = client.wait_for_call(placed.call_id, timeout=5, interval=0.01, fields=Appointment)
        assert_type(waited, Call[Appointment])

        done = client.call("+14155550123", "Confirm the appointment", fields=Appointment, interval=0.01)
        assert_type(done, Call[Appointment])
        assert isinstance(done.extracted, Appointment)

        untyped = client.get_call(placed.call_id)
        assert_type(untyped, Call)
        assert_type(untyped.extracted, dict[str, Any] | None)
        assert_type(client.call("+14155550123", "Confirm", interval=0.01), Call)
