"""Settings and field declarations that would have gone wrong on the wire are refused first.

A malformed key (`invalid_api_key`, not `no_api_key`), a base URL with a path (`invalid_base_url`,
naming the URL to use), a field dict with a misspelt key (`unknown_field_key`), a `FieldSpec` of an
unknown type (`invalid_field_type`, not pydantic's `ValidationError`), and `unsupported_field`
naming its field on `ExtractionError.field`. The server sees nothing in every case.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from pytest_httpserver import HTTPServer

from byourside import AuthenticationError, Client, ExtractionError, FieldSpec, InvalidRequestError
from tests.client_support import API_KEY, TO, base_url, make_client


@pytest.mark.parametrize(
    "key", [f"bys_ak_ {API_KEY}", f"{API_KEY}é", f"{API_KEY}\x00", f"{API_KEY}\tX", "bys_ak_\u200b1"]
)
def test_a_malformed_key_is_invalid_api_key_not_no_api_key(httpserver: HTTPServer, key: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(key, base_url(httpserver))
    assert (caught.value.code, caught.value.status) == ("invalid_api_key", 0)
    assert "dashboard" in caught.value.message
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)
    assert httpserver.log == []


def test_a_key_that_is_not_a_string_is_invalid_api_key() -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(12345)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_api_key"
    assert "int" in caught.value.message


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://api.byourside.ai/v1", "https://api.byourside.ai"),
        ("https://api.byourside.ai/v1/agent/calls", "https://api.byourside.ai"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080"),
        ("https://api.byourside.ai/?x=1", "https://api.byourside.ai"),
        ("https://api.byourside.ai#frag", "https://api.byourside.ai"),
    ],
)
def test_a_base_url_with_a_path_is_refused_naming_the_url_to_use(url: str, origin: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Client(API_KEY, url)
    assert (caught.value.code, caught.value.status) == ("invalid_base_url", 0)
    assert repr(origin) in caught.value.message
    assert "no /v1" in caught.value.message


def test_a_base_url_with_credentials_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Client(API_KEY, "https://user:pw@api.byourside.ai")
    assert caught.value.code == "insecure_base_url"


def test_a_base_url_with_only_a_trailing_slash_is_fine(httpserver: HTTPServer) -> None:
    assert Client(API_KEY, base_url(httpserver) + "/").base_url == base_url(httpserver)


@pytest.mark.parametrize(
    ("fields", "code", "named"),
    [
        ([{"name": "a", "typ": "boolean"}], "unknown_field_key", "'typ'"),
        ([{"name": "a", "type": "boolean", "desc": "x", "extra": 1}], "unknown_field_key", "'desc', 'extra'"),
        ("confirmed", "invalid_fields", "str 'confirmed'"),
        (dict, "invalid_fields", "class dict"),
        ({"name": "confirmed"}, "invalid_fields", "dict"),
    ],
)
def test_fields_that_would_be_misread_are_refused_before_any_io(
    httpserver: HTTPServer, fields: Any, code: str, named: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make_client(httpserver).place_call(TO, "Confirm", fields=fields)
    assert (caught.value.code, caught.value.status) == (code, 0)
    assert named in caught.value.message
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"name": "a", "type": "int"}, "invalid_field_type"),
        ({"name": "a", "type": "Boolean"}, "invalid_field_type"),
        ({"name": ""}, "field_name_required"),
        ({"name": "a", "typ": "boolean"}, "unknown_field_key"),
    ],
)
def test_field_spec_raises_invalid_request_error_not_validation_error(
    arguments: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidRequestError) as built:
        FieldSpec(**arguments)
    with pytest.raises(InvalidRequestError) as validated:
        FieldSpec.model_validate(arguments)
    assert built.value.code == validated.value.code == code


def test_field_spec_still_builds_and_reads_typed() -> None:
    spec = FieldSpec(name="confirmed", type="boolean", description="Did they confirm?")
    assert (spec.name, spec.type, spec.description) == ("confirmed", "boolean", "Did they confirm?")
    assert FieldSpec.model_validate(spec.to_wire()) == spec


def test_unsupported_field_names_its_field() -> None:
    class Booking(BaseModel):
        confirmed: bool
        guests: list[str]

    with pytest.raises(ExtractionError) as caught:
        Client(API_KEY, "https://api.byourside.ai").place_call(TO, "Confirm", fields=Booking)
    assert caught.value.code == "unsupported_field"
    assert caught.value.field == "guests"
