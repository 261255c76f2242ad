"""Property tests of the FakeServer's placement checks: any body gets a placement or one known token."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from byourside.testing import ALLOWED_COUNTRY_CODES, BLOCKED_PREFIXES
from byourside.testing._guardrails import GuardrailError, check_place_request, is_blocked_destination

TOKENS = {
    "invalid_body",
    "to_required",
    "objective_required",
    "invalid_number",
    "too_many_fields",
    "field_name_required",
    "duplicate_field_name",
    "invalid_field_type",
    "invalid_webhook_url",
    "caller_id_not_owned",
    "destination_blocked",
}
OWNED = frozenset({"+14155550100"})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_items = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=6) | json_values,
        "type": st.sampled_from(["string", "boolean", "number", "date", None]) | json_values,
        "description": st.text(max_size=10) | json_values,
    },
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "to": st.sampled_from(["+14155550123", "+19001234567", "+33123456789", "", "12"]) | json_values,
        "objective": st.sampled_from(["Confirm", " "]) | json_values,
        "context": st.text(max_size=10) | json_values,
        "fields": st.lists(field_items, max_size=22) | json_values,
        "webhookUrl": st.sampled_from(["https://a.example/h", "http://127.0.0.1:1/h", "http://a.example/h"])
        | json_values,
        "callerId": st.sampled_from([*sorted(OWNED), "+14155550199"]) | json_values,
        "voice": st.text(max_size=5) | json_values,
        "language": st.sampled_from(["en-US", "auto"]) | json_values,
    },
)


def outcome(raw: bytes) -> str:
    """``accepted``, or the token of the refusal (checked to be known, with its status)."""
    refusal: GuardrailError | None = None
    try:
        check_place_request(raw, OWNED)
    except GuardrailError as refused:
        refusal = refused
    if refusal is None:
        return "accepted"
    assert refusal.token in TOKENS
    assert refusal.status == (403 if refusal.token == "caller_id_not_owned" else 400)
    return refusal.token


@given(st.binary(max_size=200))
def test_any_bytes_are_accepted_or_refused_with_a_known_token(raw: bytes) -> None:
    outcome(raw)


def test_json_nested_past_the_parsers_depth_is_invalid_body() -> None:
    assert outcome(b"[" * 100_000 + b"]" * 100_000) == "invalid_body"
    assert outcome(b'{"to": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") == "invalid_body"


@given(json_values)
def test_any_json_value_is_accepted_or_refused_with_a_known_token(value: Any) -> None:
    result = outcome(json.dumps(value).encode())
    if not isinstance(value, dict):
        assert result == "invalid_body"


@given(bodies)
def test_any_placement_shaped_body_is_accepted_or_refused_with_a_known_token(body: dict[str, Any]) -> None:
    result = outcome(json.dumps(body).encode())
    if result == "accepted":
        assert isinstance(body["to"], str)
        assert isinstance(body["objective"], str)
        assert body["objective"].strip()
        assert body.get("callerId") in {None, *OWNED}


@given(st.sampled_from(sorted(ALLOWED_COUNTRY_CODES)), st.from_regex(r"[2-9][0-9]{9}", fullmatch=True))
def test_allowed_countries_are_dialled_unless_premium(code: str, digits: str) -> None:
    number = code + digits
    premium = any(number.startswith(prefix) for prefix in BLOCKED_PREFIXES)
    assert is_blocked_destination(number) == premium


@given(st.from_regex(r"\+[2-9][0-9]{1,3}", fullmatch=True), st.from_regex(r"[0-9]{6,10}", fullmatch=True))
def test_other_countries_are_blocked(code: str, digits: str) -> None:
    number = code + digits
    allowed = any(number.startswith(prefix) for prefix in ALLOWED_COUNTRY_CODES)
    assert is_blocked_destination(number) == (
        not allowed or any(number.startswith(p) for p in BLOCKED_PREFIXES)
    )
