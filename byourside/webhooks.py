"""Webhook signatures: sign, verify and parse the events the service POSTs to ``webhookUrl``.

The service sends ``X-BYS-Signature: t=<unix seconds>,v1=<hex>``, where ``hex`` is the lowercase
HMAC-SHA256, keyed with the endpoint's webhook secret, of the exact bytes ``b"<t>." + raw body``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["sign_webhook"]


def _body_bytes(raw_body: str | bytes) -> bytes:
    # Bytes are signed exactly as received; 0.1.0 formatted them with %s (signing "b'...'").
    if isinstance(raw_body, bytes):
        return raw_body
    return raw_body.encode("utf-8")


def _hex_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed_payload = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()


def sign_webhook(raw_body: str | bytes, secret: str, timestamp: int | None = None) -> str:
    """Return the ``X-BYS-Signature`` header value the service would send for ``raw_body``.

    Meant for your tests (and the SDK's fake server): sign a body, POST it to your handler and
    check it is accepted. ``timestamp`` defaults to now, in unix seconds.

    >>> sign_webhook(b'{"event":"call.completed"}', "whsec_test", timestamp=1700000000)
    't=1700000000,v1=7e4134dea7986562f0449b95eb8a21b07db7b5bdfd33377b761823ea776989af'
    """
    signed_at = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={signed_at},v1={_hex_signature(secret, signed_at, _body_bytes(raw_body))}"
