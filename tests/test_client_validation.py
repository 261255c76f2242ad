"""place_call's checks: each bad argument is an InvalidRequestError with status 0 and its precise
code, raised before any request leaves (the server must see nothing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from byourside import ByoursideError, FieldSpec, InvalidRequestError
from byourside._validation import fields_to_wire, is_loopback_host, place_call_body
from tests import payloads
from tests.client_support import PLACE_PATH, TO, make_client, requests_to

OBJECTIVE = "Confirm the appointment"

BAD_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("to_required", {"to": None}),
    ("to_required", {"to": ""}),
    ("to_required", {"to": "   "}),
    ("invalid_number", {"to": "4155550123"}),
    ("invalid_number", {"to": "+04155550123"}),
    ("invalid_number", {"to": "+1"}),
    ("invalid_number", {"to": "+1415555012345678"}),  # 16 digits
    ("invalid_number", {"to": "+1 415 555 0123"}),
    ("invalid_number", {"to": "+14155550123\n"}),
    ("invalid_number", {"to": "+1415555O123"}),
    ("invalid_number", {"to": "+١٤١٥٥٥٥٠١٢٣"}),  # non-ASCII digits
    ("invalid_number", {"to": 14155550123}),
    ("objective_required", {"objective": None}),
    ("objective_required", {"objective": ""}),
    ("objective_required", {"objective": " \n\t"}),
    ("objective_required", {"objective": 5}),
    ("too_many_fields", {"fields": [{"name": f"f{i}"} for i in range(21)]}),
    ("field_name_required", {"fields": [{"type": "string"}]}),
    ("field_name_required", {"fields": [{"name": ""}]}),
    ("field_name_required", {"fields": [{"name": "  "}]}),
    ("field_name_required", {"fields": [{"name": None}]}),
    ("field_name_required", {"fields": [{"name": 3}]}),
    ("invalid_fields", {"fields": ["confirmed"]}),
    ("invalid_fields", {"fields": "confirmed"}),
    ("invalid_fields", {"fields": {"name": "confirmed"}}),
    ("invalid_fields", {"fields": dict}),
    ("invalid_fields", {"fields": 3}),
    ("invalid_fields", {"fields": [{"name": "a", "description": 5}]}),
    ("unknown_field_key", {"fields": [{"name": "a", "typ": "boolean"}]}),
    ("unknown_field_key", {"fields": [FieldSpec(name="ok"), {"name": "a", "Type": "number"}]}),
    ("field_name_required", {"fields": [FieldSpec.model_construct(name="")]}),
    ("duplicate_field_name", {"fields": [{"name": "a"}, {"name": "b"}, {"name": "a", "type": "number"}]}),
    ("duplicate_field_name", {"fields": [FieldSpec(name="a"), {"name": "a"}]}),
    ("invalid_field_type", {"fields": [{"name": "when", "type": "date"}]}),
    ("invalid_field_type", {"fields": [{"name": "ok", "type": "bool"}]}),
    ("invalid_field_type", {"fields": [{"name": "ok", "type": "Boolean"}]}),
    ("invalid_field_type", {"fields": [{"name": "n", "type": 1}]}),
    ("invalid_webhook_url", {"webhook_url": "http://hooks.example.com/bys"}),
    ("invalid_webhook_url", {"webhook_url": "http://10.0.0.1/bys"}),
    ("invalid_webhook_url", {"webhook_url": "ftp://hooks.example.com/bys"}),
    ("invalid_webhook_url", {"webhook_url": "hooks.example.com/bys"}),
    ("invalid_webhook_url", {"webhook_url": "https://"}),
    ("invalid_webhook_url", {"webhook_url": ""}),
    ("invalid_webhook_url", {"webhook_url": "https://hooks.example.com/a b"}),
    ("invalid_webhook_url", {"webhook_url": "http://127.0.0.1.example.com/"}),
    ("invalid_caller_id", {"caller_id": "4155550100"}),
    ("invalid_caller_id", {"caller_id": ""}),
    ("invalid_caller_id", {"caller_id": "+1-415-555-0100"}),
]


@pytest.mark.parametrize(("code", "bad"), BAD_CALLS)
def test_bad_argument_refused_before_any_io(httpserver: HTTPServer, code: str, bad: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"to": TO, "objective": OBJECTIVE} | bad
    with pytest.raises(InvalidRequestError) as caught:
        make_client(httpserver).place_call(**arguments)
    error = caught.value
    assert (error.code, error.status, error.may_have_placed) == (code, 0, False)
    assert str(error).startswith(f"{code}: ")
    assert httpserver.log == []


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/bys",
        "http://127.0.0.1:8000/bys",
        "http://127.1.2.3/bys",
        "http://localhost:3000/hook",
        "http://LOCALHOST/hook",
        "http://[::1]:8000/bys",
    ],
)
def test_webhook_url_https_or_loopback_accepted(httpserver: HTTPServer, url: str) -> None:
    httpserver.expect_request(PLACE_PATH, method="POST").respond_with_json(
        payloads.PLACED_MINIMAL, status=201
    )
    make_client(httpserver).place_call(TO, OBJECTIVE, webhook_url=url)
    assert json.loads(requests_to(httpserver)[0].get_data())["webhookUrl"] == url


@pytest.mark.parametrize("field_type", ["string", "boolean", "number", None])
def test_the_three_field_types_and_none_accepted(field_type: str | None) -> None:
    assert fields_to_wire([{"name": "x", "type": field_type}]) == [{"name": "x", "type": field_type}]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("localhost", True),
        ("localhost.", True),
        ("128.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("localhost.example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


E164 = st.from_regex(r"\A\+[1-9][0-9]{1,14}\Z")


@given(to=E164, caller_id=E164)
def test_every_e164_number_passes(to: str, caller_id: str) -> None:
    body = place_call_body(to=to, objective=OBJECTIVE, caller_id=caller_id)
    assert (body["to"], body["callerId"]) == (to, caller_id)


@given(st.text(max_size=20))
def test_checks_never_fail_with_anything_but_a_byourside_error(text: str) -> None:
    # Whatever a user passes, the outcome is a body or a precise ByoursideError: never a crash.
    codes: list[str | None] = []
    for arguments in (
        {"to": text, "objective": OBJECTIVE},
        {"to": TO, "objective": text},
        {"to": TO, "objective": OBJECTIVE, "caller_id": text},
        {"to": TO, "objective": OBJECTIVE, "webhook_url": text},
        {"to": TO, "objective": OBJECTIVE, "fields": [{"name": text, "type": text}]},
    ):
        try:
            place_call_body(**arguments)
        except ByoursideError as error:
            codes.append(error.code)
    assert set(codes) <= {
        "to_required",
        "invalid_number",
        "objective_required",
        "invalid_caller_id",
        "invalid_webhook_url",
        "field_name_required",
        "invalid_field_type",
    }
