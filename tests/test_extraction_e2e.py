"""Typed extraction end to end on the FakeServer: the fields on the wire, the values back typed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from byourside import Call, Client, ExtractionError
from byourside.testing import FakeServer
from tests.async_support import CLIENT_KINDS, make_either_client
from tests.test_extraction import EXPECTED_WIRE, Color, Everything, Size

CONFIRM = "Confirm the appointment for tomorrow at 2pm and ask if they need to reschedule."


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(instant=True) as fake:
        yield fake


@pytest.fixture(params=CLIENT_KINDS)
def client(request: pytest.FixtureRequest, server: FakeServer) -> Iterator[Client]:
    """Client, and AsyncClient behind the same blocking calls: every test here runs on both."""
    with make_either_client(request.param, server.api_key, server.base_url, max_retries=0) as fake_client:
        yield fake_client


def last_post(server: FakeServer) -> dict[str, Any]:
    body: dict[str, Any] = [r for r in server.requests if r.method == "POST"][-1].json()
    return body


def test_every_supported_annotation_goes_on_the_wire_with_its_hints(
    server: FakeServer, client: Client
) -> None:
    client.place_call("+14155550123", CONFIRM, fields=Everything)
    assert last_post(server)["fields"] == list(EXPECTED_WIRE.values())


def test_the_result_comes_back_as_the_model(client: Client) -> None:
    call = client.call("+14155550123", CONFIRM, fields=Everything, timeout=10, interval=0.01)
    assert call.status == "completed"
    values = call.extracted
    assert isinstance(values, Everything)
    assert values.confirmed is True
    assert isinstance(values.count, int)
    assert isinstance(values.price, Decimal)
    assert values.reason == "sick"  # the first allowed value, as the description offered
    assert values.level == 1
    assert values.color is Color.RED
    assert values.size is Size.SMALL
    assert values.day == dt.date(2026, 11, 26)
    assert values.at == dt.datetime(2026, 11, 26, 15, tzinfo=dt.timezone.utc)
    assert values.slot == dt.time(15, 0)
    assert call.raw_extracted is not None
    assert call.raw_extracted["day"] == "2026-11-26"


@pytest.mark.parametrize(
    "annotation", [list[str], dict[str, str], Everything, int | str], ids=["list", "dict", "model", "union"]
)
def test_unsupported_annotations_fail_before_any_request(
    server: FakeServer, client: Client, annotation: Any
) -> None:
    model = type("Bad", (BaseModel,), {"__annotations__": {"culprit": annotation}})
    before = len(server.requests)
    with pytest.raises(ExtractionError, match="'culprit'") as caught:
        client.place_call("+14155550123", CONFIRM, fields=model)
    assert caught.value.code == "unsupported_field"
    assert caught.value.status == 0
    assert len(server.requests) == before


class Appointment(BaseModel):
    confirmed: bool
    new_time: str | None = Field(None, description="New time if they asked to reschedule")
    party_size: int | None = None
    reason: Literal["sick", "travel", "other"] | None = None


def test_a_value_that_does_not_fit_is_reported_with_everything_kept(client: Client) -> None:
    # Placed asking for `confirmed` as a string, so the service answers a phrase, not a boolean.
    placed = client.place_call("+14155550123", CONFIRM, fields=[{"name": "confirmed", "type": "string"}])
    with pytest.raises(ExtractionError) as caught:
        client.wait_for_call(placed.call_id, timeout=10, interval=0.01, fields=Appointment)
    error = caught.value
    assert error.code == "extraction_mismatch"
    assert error.field == "confirmed"
    assert error.raw == {"confirmed": "the callee's confirmed"}
    assert repr("the callee's confirmed") in error.message
    assert isinstance(error.call, Call)
    assert error.call.call_id == placed.call_id


def test_a_required_field_not_obtained_is_reported_distinctly(client: Client) -> None:
    placed = client.place_call("+14155550005", CONFIRM, fields=Appointment)  # completes, nothing learned
    with pytest.raises(ExtractionError) as caught:
        client.wait_for_call(placed.call_id, timeout=10, interval=0.01, fields=Appointment)
    assert caught.value.code == "field_not_obtained"
    assert caught.value.field == "confirmed"
    assert caught.value.raw == {"confirmed": None, "new_time": None, "party_size": None, "reason": None}


def test_the_dict_form_of_0_1_0_keeps_working(client: Client) -> None:
    fields = [{"name": "confirmed", "type": "boolean"}, {"name": "new_time", "type": "string"}]
    placed = client.place_call("+14155550123", CONFIRM, fields=fields)
    result = client.wait_for_call(placed["callId"], timeout=10, interval=0.01)
    assert result["status"] == "completed"
    assert result.get("extracted") == {"confirmed": True, "new_time": "tomorrow at 3pm"}


def test_the_readme_example_runs(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Typed extraction", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("BYOURSIDE_API_KEY", server.api_key)
    monkeypatch.setenv("BYOURSIDE_BASE_URL", server.base_url)
    # dont_inherit: run it as a user module would, without this file's `from __future__` flags.
    exec(compile(code, "README.md", "exec", dont_inherit=True), {"__name__": "readme_example"})  # noqa: S102
    assert capsys.readouterr().out.splitlines() == ["True", "2"]
