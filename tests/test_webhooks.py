"""Webhook signing, verification, parsing and their failure reasons."""

from __future__ import annotations

import hashlib
import hmac

from byourside.webhooks import sign_webhook

SECRET = "whsec_test_secret"
BODY = b'{"event":"call.completed","eventId":"evt_1","callId":"call_1","status":"completed"}'
T = 1_700_000_000


def _expected_v1(secret: str, timestamp: int, body: bytes) -> str:
    # Computed with hmac directly, independently of the SDK, so the vector pins the wire format.
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_webhook_matches_an_independent_hmac_vector() -> None:
    assert sign_webhook(BODY, SECRET, timestamp=T) == f"t={T},v1={_expected_v1(SECRET, T, BODY)}"


def test_sign_webhook_fixed_vector() -> None:
    header = sign_webhook(b'{"event":"call.completed"}', "whsec_test", timestamp=1700000000)
    assert header == ("t=1700000000,v1=7e4134dea7986562f0449b95eb8a21b07db7b5bdfd33377b761823ea776989af")


def test_sign_webhook_encodes_str_bodies_as_utf8() -> None:
    text = '{"objective":"réserver"}'
    assert sign_webhook(text, SECRET, timestamp=T) == sign_webhook(text.encode("utf-8"), SECRET, timestamp=T)


def test_sign_webhook_signs_non_utf8_bytes_as_they_are() -> None:
    body = b"\xff\xfe\x00raw"
    assert sign_webhook(body, SECRET, timestamp=T).endswith(_expected_v1(SECRET, T, body))
