"""Properties of the signature check over arbitrary headers, bodies and secrets."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from byourside import WebhookVerificationError, construct_event, sign_webhook, verify_webhook

NOW = 1_700_000_000
SECRET = "whsec_property"

secrets = st.text(min_size=1, max_size=40) | st.lists(
    st.text(min_size=1, max_size=20), min_size=1, max_size=4
)
bodies = st.binary(max_size=512) | st.text(max_size=256)
timestamps = st.integers(min_value=NOW - 1000, max_value=NOW + 1000)
hex_digests = st.text(alphabet="0123456789abcdef", min_size=0, max_size=70)

# Headers close to the real shape find more branches than free text alone.
header_items = st.one_of(
    st.builds(lambda t: f"t={t}", st.integers(min_value=-(10**20), max_value=10**20)),
    st.builds(lambda v: f"v1={v}", hex_digests | st.text(max_size=70)),
    st.builds(lambda k, v: f"{k}={v}", st.text(max_size=5), st.text(max_size=10)),
    st.text(max_size=12),
)
structured_headers = st.lists(header_items, max_size=6).map(",".join)
any_header: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.text(),
    structured_headers,
    st.binary(max_size=100),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=10), max_size=3),
)
any_body: st.SearchStrategy[Any] = st.one_of(
    bodies, st.none(), st.integers(), st.dictionaries(st.text(), st.text())
)
any_secret: st.SearchStrategy[Any] = st.one_of(
    secrets, st.none(), st.just(""), st.binary(), st.lists(st.none())
)


@given(any_header, any_body, any_secret, st.floats(allow_nan=True) | st.integers())
def test_verify_webhook_returns_a_bool_and_never_raises(
    signature_header: Any, raw_body: Any, secret: Any, tolerance: Any
) -> None:
    assert verify_webhook(signature_header, raw_body, secret, tolerance, now=NOW) in (True, False)


@given(structured_headers | st.text(), bodies)
def test_construct_event_raises_only_verification_errors_for_any_header(
    signature_header: str, raw_body: str | bytes
) -> None:
    # No catch-all on this path: the shared checker itself must cope with any header text.
    with contextlib.suppress(WebhookVerificationError):
        construct_event(raw_body, signature_header, SECRET, now=NOW)


@given(structured_headers | st.text(), bodies, secrets)
def test_verify_webhook_agrees_with_construct_events_signature_checks(
    signature_header: str, raw_body: str | bytes, secret: str | list[str]
) -> None:
    try:
        construct_event(raw_body, signature_header, secret, now=NOW)
        signature_ok = True
    except WebhookVerificationError as error:
        signature_ok = error.reason in ("body_not_json", "body_not_event")
    assert verify_webhook(signature_header, raw_body, secret, now=NOW) is signature_ok


@given(st.binary(max_size=2048), st.text(min_size=1, max_size=40), timestamps)
def test_signed_body_verifies_and_matches_an_independent_hmac(
    body: bytes, secret: str, timestamp: int
) -> None:
    signature_header = sign_webhook(body, secret, timestamp=timestamp)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature_header == f"t={timestamp},v1={expected}"
    assert verify_webhook(signature_header, body, secret, now=NOW) is (abs(NOW - timestamp) <= 300)


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=1024), st.data())
def test_any_single_byte_change_of_the_body_fails(body: bytes, data: st.DataObject) -> None:
    signature_header = sign_webhook(body, SECRET, timestamp=NOW)
    assert verify_webhook(signature_header, body, SECRET, now=NOW)
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
    new_byte = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != body[index]))
    changed = body[:index] + bytes([new_byte]) + body[index + 1 :]
    assert not verify_webhook(signature_header, changed, SECRET, now=NOW)


@given(st.binary(max_size=256), st.binary(min_size=1, max_size=4), st.booleans())
def test_adding_bytes_to_either_end_of_the_body_fails(body: bytes, extra: bytes, at_end: bool) -> None:
    signature_header = sign_webhook(body, SECRET, timestamp=NOW)
    changed = body + extra if at_end else extra + body
    assert not verify_webhook(signature_header, changed, SECRET, now=NOW)


@given(st.binary(max_size=256), st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=5), st.data())
def test_rotation_verifies_with_any_one_of_the_secrets(
    body: bytes, rotating: list[str], data: st.DataObject
) -> None:
    signer = data.draw(st.sampled_from(rotating), label="signer")
    signature_header = sign_webhook(body, signer, timestamp=NOW)
    assert verify_webhook(signature_header, body, rotating, now=NOW)
    assert verify_webhook(signature_header, body, signer, now=NOW)


@given(st.binary(max_size=256), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_a_different_secret_never_verifies(body: bytes, secret: str, other: str) -> None:
    signature_header = sign_webhook(body, secret, timestamp=NOW)
    assert verify_webhook(signature_header, body, other, now=NOW) is (secret == other)


@given(st.text(max_size=256))
def test_str_bodies_verify_as_their_utf8_bytes(text: str) -> None:
    signature_header = sign_webhook(text.encode("utf-8"), SECRET, timestamp=NOW)
    assert verify_webhook(signature_header, text, SECRET, now=NOW)
