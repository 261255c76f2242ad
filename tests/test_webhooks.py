"""Webhook signing, verification, parsing and their failure reasons.

Expected signatures are computed here with `hmac` directly, never with `sign_webhook`, so the tests
pin the wire format (``t=<unix>,v1=<hex HMAC-SHA256(secret, b"<t>." + raw body)>``) rather than
agreeing with the SDK's own arithmetic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import pytest

import byourside
from byourside import WebhookEvent, WebhookVerificationError, construct_event, sign_webhook, verify_webhook
from byourside._signature import MAX_HEADER_LENGTH
from byourside.errors import WebhookFailureReason
from tests import payloads

SECRET = "whsec_test_secret"
OTHER_SECRET = "whsec_other_secret"
T = 1_700_000_000
EVENT = payloads.webhook_event("call.completed")
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


def v1(secret: str, timestamp: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(secret: str = SECRET, timestamp: int = T, body: bytes = BODY) -> str:
    return f"t={timestamp},v1={v1(secret, timestamp, body)}"


def failure(
    raw_body: Any, signature_header: Any, secret: Any = SECRET, tolerance: float = 300, now: float = T
) -> WebhookVerificationError:
    with pytest.raises(WebhookVerificationError) as caught:
        construct_event(raw_body, signature_header, secret, tolerance, now=now)
    return caught.value


# --- sign_webhook ---------------------------------------------------------------------------------


def test_sign_webhook_matches_an_independent_hmac_vector() -> None:
    assert sign_webhook(BODY, SECRET, timestamp=T) == header()


def test_sign_webhook_fixed_vector() -> None:
    # Written out in full so a change of format cannot pass unnoticed.
    assert sign_webhook(b'{"event":"call.completed"}', "whsec_test", timestamp=1700000000) == (
        "t=1700000000,v1=7e4134dea7986562f0449b95eb8a21b07db7b5bdfd33377b761823ea776989af"
    )


def test_sign_webhook_encodes_str_bodies_as_utf8() -> None:
    text = '{"objective":"réserver une table"}'
    assert sign_webhook(text, SECRET, timestamp=T) == header(body=text.encode("utf-8"))


def test_sign_webhook_signs_non_utf8_bytes_as_they_are() -> None:
    body = b"\xff\xfe\x00raw"
    assert sign_webhook(body, SECRET, timestamp=T) == header(body=body)


def test_sign_webhook_defaults_to_now() -> None:
    signed = sign_webhook(BODY, SECRET)
    assert verify_webhook(signed, BODY, SECRET)


@pytest.mark.parametrize(
    ("body", "secret", "error"),
    [({"event": "x"}, SECRET, TypeError), (BODY, "", ValueError), (BODY, None, TypeError)],
)
def test_sign_webhook_refuses_what_it_cannot_sign(body: Any, secret: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        sign_webhook(body, secret, timestamp=T)


# --- verify_webhook: what passes ------------------------------------------------------------------


def test_valid_bytes_body_verifies() -> None:
    assert verify_webhook(header(), BODY, SECRET, now=T) is True


def test_str_body_verifies_as_its_utf8_bytes() -> None:
    text = '{"summary":"Rendez-vous confirmé ✓"}'
    assert verify_webhook(header(body=text.encode()), text, SECRET, now=T) is True


def test_non_utf8_bytes_body_verifies() -> None:
    # 0.1.0 signed "b'...'" for bytes, so this could never pass there.
    body = b"\x80\x81\xff not utf-8"
    assert verify_webhook(header(body=body), body, SECRET, now=T) is True
    assert verify_webhook(header(body=repr(body).encode()), body, SECRET, now=T) is False


def test_bytearray_and_memoryview_bodies_verify() -> None:
    # Not in the typed signature, but bytes-like bodies from some frameworks work all the same.
    bytes_like: list[Any] = [bytearray(BODY), memoryview(BODY)]
    for body in bytes_like:
        assert verify_webhook(header(), body, SECRET, now=T)


def test_whitespace_and_unknown_schemes_in_header_are_tolerated() -> None:
    signature = v1(SECRET, T, BODY)
    assert verify_webhook(f" t={T} , v0=legacy, v1={signature} ,", BODY, SECRET, now=T)
    assert verify_webhook(f"v1={signature},t={T}", BODY, SECRET, now=T)  # order does not matter


def test_several_v1_entries_pass_if_any_matches() -> None:
    rotated = f"t={T},v1={v1(OTHER_SECRET, T, BODY)},v1={v1(SECRET, T, BODY)}"
    assert verify_webhook(rotated, BODY, SECRET, now=T)
    assert verify_webhook(rotated, BODY, OTHER_SECRET, now=T)
    assert not verify_webhook(rotated, BODY, "whsec_third", now=T)


@pytest.mark.parametrize("secrets", [[OTHER_SECRET, SECRET], (SECRET, OTHER_SECRET), [SECRET]])
def test_a_sequence_of_secrets_passes_if_any_matches(secrets: Sequence[str]) -> None:
    assert verify_webhook(header(), BODY, secrets, now=T)


def test_a_sequence_of_secrets_fails_if_none_matches() -> None:
    assert not verify_webhook(header(), BODY, ["whsec_a", "whsec_b"], now=T)


# --- verify_webhook: time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "tolerance", "expected"),
    [
        (T + 300, 300, True),  # exactly at the tolerance, in the past
        (T - 300, 300, True),  # exactly at the tolerance, in the future
        (T + 301, 300, False),
        (T - 301, 300, False),
        (T + 300.5, 300, False),
        (T + 10, 5, False),
        (T + 5, 5, True),
        (T, 0, True),
        (T + 1, 0, False),
        (T + 86_400, float("inf"), True),
    ],
)
def test_tolerance_both_ways_boundary_included(now: float, tolerance: float, expected: bool) -> None:
    assert verify_webhook(header(), BODY, SECRET, tolerance, now=now) is expected


def test_default_tolerance_is_300_seconds() -> None:
    assert verify_webhook(header(), BODY, SECRET, now=T + 300)
    assert not verify_webhook(header(), BODY, SECRET, now=T + 301)


@pytest.mark.parametrize("tolerance", [-1, float("nan"), "300", None])
def test_an_unusable_tolerance_never_verifies(tolerance: Any) -> None:
    # NaN compares false with everything: accepted, it would let any timestamp through.
    assert verify_webhook(header(), BODY, SECRET, tolerance, now=T) is False


def test_a_non_finite_now_never_verifies() -> None:
    assert verify_webhook(header(), BODY, SECRET, now=float("nan")) is False


# --- verify_webhook: tampering --------------------------------------------------------------------


def test_tampered_body_fails() -> None:
    assert not verify_webhook(header(), BODY.replace(b"completed", b"declined"), SECRET, now=T)


def test_reserialised_json_fails() -> None:
    # The commonest mistake: parse, then serialise again; other bytes, no match.
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY
    assert not verify_webhook(header(), reserialised, SECRET, now=T)


def test_tampered_timestamp_fails() -> None:
    signature = v1(SECRET, T, BODY)
    assert not verify_webhook(f"t={T + 1},v1={signature}", BODY, SECRET, now=T)


def test_wrong_secret_fails() -> None:
    assert not verify_webhook(header(), BODY, OTHER_SECRET, now=T)


def test_uppercase_hex_is_not_the_signature() -> None:
    assert not verify_webhook(f"t={T},v1={v1(SECRET, T, BODY).upper()}", BODY, SECRET, now=T)


# --- verify_webhook: never raises -----------------------------------------------------------------

GARBAGE_HEADERS: list[Any] = [
    None,
    "",
    "   ",
    "garbage",
    "t=,v1=",
    f"t={T}",
    f"v1={v1(SECRET, T, BODY)}",
    f"t=abc,v1={v1(SECRET, T, BODY)}",
    f"t=-{T},v1={v1(SECRET, T, BODY)}",
    f"t=1e9,v1={v1(SECRET, T, BODY)}",
    f"t={T},t={T},v1={v1(SECRET, T, BODY)}",
    f"t={'9' * 5000},v1=00",
    "t=\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660,v1="
    f"{v1(SECRET, T, BODY)}",  # Arabic-Indic digits: isdigit() but not ASCII
    f"t={T},v1=é{v1(SECRET, T, BODY)[1:]}",  # non-ASCII: compare_digest would raise on it
    f"t={T},v1=\udcff",
    "t=" + "1" * MAX_HEADER_LENGTH,
    f"t={T}," + ",".join(["v1=00"] * 100_000),
    "=,=,=",
    ",,,",
    b"t=1,v1=00",
    header().encode(),
    12345,
    3.5,
    ["t=1", "v1=00"],
    {"t": T},
    object(),
]


@pytest.mark.parametrize("signature_header", GARBAGE_HEADERS)
def test_verify_webhook_never_raises_on_bad_headers(signature_header: Any) -> None:
    assert verify_webhook(signature_header, BODY, SECRET, now=T) is False


@pytest.mark.parametrize("signature_header", GARBAGE_HEADERS)
def test_the_shared_checker_reports_bad_headers_as_failures(signature_header: Any) -> None:
    # construct_event has no catch-all, so this shows the checker itself copes with every header.
    error = failure(BODY, signature_header)
    assert error.reason in ("missing_header", "malformed_header", "no_v1_signature", "signature_mismatch")


@pytest.mark.parametrize("raw_body", [None, 42, {"event": "call.completed"}, EVENT, "\udcff", object()])
def test_verify_webhook_never_raises_on_bad_bodies(raw_body: Any) -> None:
    assert verify_webhook(header(), raw_body, SECRET, now=T) is False


@pytest.mark.parametrize(
    "secret",
    [None, "", [], [""], [SECRET, ""], [SECRET, None], "\udcff", b"whsec_x", 42, {"k": SECRET}],
)
def test_verify_webhook_never_raises_on_bad_secrets(secret: Any) -> None:
    # An empty secret anywhere refuses everything: an unset variable must not let anyone sign.
    assert verify_webhook(header(), BODY, secret, now=T) is False


def test_empty_secret_does_not_accept_a_signature_made_with_it() -> None:
    assert verify_webhook(header(secret=""), BODY, "", now=T) is False


def test_verify_webhook_survives_a_secret_sequence_that_raises() -> None:
    class Exploding(Sequence[str]):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: Any) -> Any:
            raise RuntimeError("boom")

    assert verify_webhook(header(), BODY, Exploding(), now=T) is False


def test_huge_header_is_refused_unparsed() -> None:
    padded = header() + "," + "x=" + "y" * MAX_HEADER_LENGTH
    assert not verify_webhook(padded, BODY, SECRET, now=T)
    assert failure(BODY, padded).reason == "malformed_header"


# --- construct_event ------------------------------------------------------------------------------


def test_construct_event_parses_a_verified_delivery() -> None:
    event = construct_event(BODY, header(), SECRET, now=T)
    assert isinstance(event, WebhookEvent)
    assert event.event == "call.completed"
    assert event.event_id == EVENT["eventId"]
    assert event.call_id == EVENT["callId"]
    assert event.timestamp.isoformat() == "2026-11-25T14:00:05+00:00"
    assert event.summary == "Confirmed."
    assert event.is_terminal


def test_construct_event_accepts_str_bodies_and_secret_sequences() -> None:
    event = construct_event(BODY.decode(), header(), [OTHER_SECRET, SECRET], now=T)
    assert event.event_id == EVENT["eventId"]


def test_construct_event_keeps_unknown_events_and_keys() -> None:
    body = json.dumps(EVENT | {"event": "call.transferred", "agentNotes": "n"}).encode()
    event = construct_event(body, header(body=body), SECRET, now=T)
    assert event.event == "call.transferred"
    assert event["agentNotes"] == "n"


REASON_CASES: list[tuple[WebhookFailureReason, Any, Any, float]] = [
    ("missing_header", BODY, None, T),
    ("missing_header", BODY, "", T),
    ("malformed_header", BODY, "sha256=abc", T),
    ("malformed_header", BODY, f"v1={v1(SECRET, T, BODY)}", T),
    ("malformed_header", BODY, f"t=soon,v1={v1(SECRET, T, BODY)}", T),
    ("malformed_header", BODY, b"t=1,v1=00", T),
    ("no_v1_signature", BODY, f"t={T}", T),
    ("no_v1_signature", BODY, f"t={T},v0=abc", T),
    ("timestamp_too_old", BODY, header(), T + 301),
    ("timestamp_in_future", BODY, header(), T - 301),
    ("signature_mismatch", BODY + b" ", header(), T),
    ("signature_mismatch", BODY, header(secret=OTHER_SECRET), T),
    ("body_not_json", b"not json", header(body=b"not json"), T),
    ("body_not_json", b"\xff\xfe", header(body=b"\xff\xfe"), T),
    ("body_not_json", b"[" * 100_000, header(body=b"[" * 100_000), T),
    ("body_not_event", b"[1, 2]", header(body=b"[1, 2]"), T),
    ("body_not_event", b'{"event": "call.completed"}', header(body=b'{"event": "call.completed"}'), T),
]


@pytest.mark.parametrize(("reason", "raw_body", "signature_header", "now"), REASON_CASES)
def test_each_failure_reason(
    reason: WebhookFailureReason, raw_body: Any, signature_header: Any, now: float
) -> None:
    error = failure(raw_body, signature_header, now=now)
    assert error.reason == reason
    assert error.code == "invalid_signature"
    assert isinstance(error, byourside.ByoursideError)
    assert SECRET not in str(error)
    assert SECRET not in repr(error)


def test_construct_event_fails_exactly_when_verify_webhook_does() -> None:
    for reason, raw_body, signature_header, now in REASON_CASES:
        verified = verify_webhook(signature_header, raw_body, SECRET, now=now)
        assert verified is (reason in ("body_not_json", "body_not_event")), reason


def test_mismatch_message_says_what_to_check() -> None:
    message = failure(json.dumps(EVENT).encode(), header()).message
    assert "raw bytes as received" in message
    assert "request.get_data()" in message
    assert "await request.body()" in message
    assert "re-serialised" in message
    assert "whsec_" in message


def test_mismatch_message_spots_an_api_key_used_as_the_secret() -> None:
    api_key = "bys_ak_live_1234567890"
    error = failure(BODY, header(), secret=api_key)
    assert "API key" in error.message
    assert api_key not in str(error)


def test_age_messages_give_seconds_and_tolerance() -> None:
    assert "900 s old, beyond the tolerance of 300 s" in failure(BODY, header(), now=T + 900).message
    assert "300.5 s old" in failure(BODY, header(), now=T + 300.5).message
    assert "120 s in the future, beyond the tolerance of 60 s" in (
        failure(BODY, header(), tolerance=60, now=T - 120).message
    )


def test_body_not_event_message_names_the_missing_keys_not_the_values() -> None:
    body = json.dumps({"event": "call.completed", "summary": "private words"}).encode()
    message = failure(body, header(body=body)).message
    assert "eventId" in message
    assert "callId" in message
    assert "private words" not in message


def test_malformed_header_message_quotes_only_an_excerpt() -> None:
    long_garbage = "x" * 1000
    message = failure(BODY, long_garbage).message
    assert "x" * 60 in message
    assert "x" * 61 not in message


@pytest.mark.parametrize(
    ("raw_body", "secret", "error", "hint"),
    [
        (EVENT, SECRET, TypeError, "Parsed JSON cannot be verified"),
        (None, SECRET, TypeError, "got NoneType"),
        ("\udcff", SECRET, TypeError, "cannot be encoded"),
        (BODY, "", ValueError, "environment variable"),
        (BODY, [SECRET, ""], ValueError, "empty secret"),
        (BODY, "whsec_\udcff", ValueError, "not encodable"),
        (BODY, None, TypeError, "got NoneType"),
        (BODY, b"whsec_x", TypeError, "got bytes"),
    ],
)
def test_construct_event_raises_programming_errors_loudly(
    raw_body: Any, secret: Any, error: type[Exception], hint: str
) -> None:
    # Bugs in the receiver, not bad deliveries: they must not be mistaken for a 400.
    with pytest.raises(error, match=hint):
        construct_event(raw_body, header(), secret, now=T)


def test_construct_event_refuses_a_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        construct_event(BODY, header(), SECRET, -1, now=T)


def test_public_names_are_exported() -> None:
    for name in (
        "verify_webhook",
        "construct_event",
        "sign_webhook",
        "WebhookDeduplicator",
        "EventStore",
        "InMemoryEventStore",
    ):
        assert name in byourside.__all__
        assert getattr(byourside, name) is getattr(byourside.webhooks, name)
