"""The one checker behind `verify_webhook` and `construct_event`: parse the header, check the time, compare.

Kept free of pydantic and of exceptions on bad input, so `verify_webhook` stays close to the cost of
a bare HMAC: the checker returns ``None`` when a delivery verifies and a `SignatureFailure` (a reason
and a message that says how to fix it) when it does not. Messages never contain a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from typing import NamedTuple

from byourside.errors import WebhookFailureReason

__all__ = [
    "MAX_HEADER_LENGTH",
    "SignatureFailure",
    "body_bytes",
    "check_signature",
    "hex_signature",
    "secret_keys",
    "valid_tolerance",
]

MAX_HEADER_LENGTH = 4096
"""Longer headers are refused unparsed: a real one, even with a few rotated v1 entries, is ~200 chars."""

# Unix seconds have 10 digits until the year 2286; the cap keeps int() away from huge digit strings.
_MAX_TIMESTAMP_DIGITS = 15
_EXCERPT_LENGTH = 60


class SignatureFailure(NamedTuple):
    """Why a delivery did not verify: the `WebhookFailureReason` and a message saying what to check."""

    reason: WebhookFailureReason
    message: str


def body_bytes(raw_body: object) -> bytes | None:
    """The exact bytes that were signed, or None when `raw_body` cannot be them.

    Bytes-like bodies are used as they are, non-UTF-8 included (0.1.0 formatted bytes with ``%s``
    and so signed ``"b'...'"``); a str is encoded as UTF-8, as the service encodes its JSON.
    """
    if isinstance(raw_body, bytes):
        return raw_body
    if isinstance(raw_body, str):
        try:
            return raw_body.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: no byte string was ever decoded to this
            return None
    if isinstance(raw_body, (bytearray, memoryview)):
        return bytes(raw_body)
    return None


def secret_keys(secret: object) -> tuple[bytes, ...] | None:
    """The HMAC keys for one secret or a sequence of them (rotation), or None if any is unusable.

    An empty secret makes the whole setting unusable rather than being skipped: a key that is
    empty (an unset environment variable, say) would let anyone sign.
    """
    if isinstance(secret, str):
        secrets: Sequence[object] = (secret,)
    elif isinstance(secret, Sequence) and not isinstance(secret, (bytes, bytearray)) and secret:
        secrets = secret
    else:
        return None
    keys = []
    for one in secrets:
        if not isinstance(one, str) or not one:
            return None
        try:
            keys.append(one.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates: not a secret anyone could sign with
            return None
    return tuple(keys)


def valid_tolerance(tolerance: object) -> bool:
    """Whether `tolerance` is a usable number of seconds (NaN would make every timestamp pass)."""
    return isinstance(tolerance, (int, float)) and tolerance >= 0  # NaN >= 0 is False


def hex_signature(key: bytes, timestamp: int, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``b"<timestamp>." + body`` keyed with `key`."""
    return hmac.new(key, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def _seconds(value: float) -> str:
    # "300.04" rather than a rounded "300" that would read as within a tolerance of 300.
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= _EXCERPT_LENGTH else text[:_EXCERPT_LENGTH] + "...")


def _parse_header(header: str) -> tuple[int, list[str]] | SignatureFailure:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, equals, value = item.partition("=")
        if not equals:
            if not key.strip():  # an empty item, e.g. a trailing comma
                continue
            return SignatureFailure(
                "malformed_header",
                f"The X-BYS-Signature header {_excerpt(header)} has an item without '=': "
                "expected 't=<unix seconds>,v1=<hex>'.",
            )
        key = key.strip()
        if key == "t":
            digits = value.strip()
            if (
                timestamp is not None
                or not (digits.isascii() and digits.isdigit())
                or len(digits) > _MAX_TIMESTAMP_DIGITS
            ):
                return SignatureFailure(
                    "malformed_header",
                    f"The X-BYS-Signature header {_excerpt(header)} needs exactly one "
                    "t=<unix seconds> with a whole number of seconds.",
                )
            timestamp = int(digits)
        elif key == "v1":
            signatures.append(value.strip())
        # Other schemes (v0, a future v2) are ignored, as the header format allows them to be added.
    if timestamp is None:
        return SignatureFailure(
            "malformed_header",
            f"The X-BYS-Signature header {_excerpt(header)} has no t=<unix seconds>: "
            "expected 't=<unix seconds>,v1=<hex>'.",
        )
    return timestamp, signatures


def check_signature(
    header: object, body: bytes, keys: tuple[bytes, ...], tolerance: float, now: float
) -> SignatureFailure | None:
    """Check a delivery; None when it verifies, else the first check it failed.

    Order: header present, header well formed, a v1 present, timestamp within `tolerance` of `now`
    both ways, then one HMAC per key compared in constant time against every v1 (rotation).
    The timestamp goes before the HMAC so stale replays are refused without hashing their body.
    """
    if header is None or (isinstance(header, str) and (not header or header.isspace())):
        return SignatureFailure(
            "missing_header",
            "No X-BYS-Signature header: read it from the request headers "
            "(request.headers.get('X-BYS-Signature')); a proxy may also have dropped it.",
        )
    if not isinstance(header, str):
        return SignatureFailure(
            "malformed_header",
            f"The X-BYS-Signature header must be a str, got {type(header).__name__}.",
        )
    if len(header) > MAX_HEADER_LENGTH:
        return SignatureFailure(
            "malformed_header",
            f"The X-BYS-Signature header is {len(header)} characters long, more than the "
            f"{MAX_HEADER_LENGTH} a real one can be.",
        )
    parsed = _parse_header(header)
    if isinstance(parsed, SignatureFailure):
        return parsed
    timestamp, signatures = parsed
    if not signatures:
        return SignatureFailure(
            "no_v1_signature",
            f"The X-BYS-Signature header {_excerpt(header)} has no v1=<hex> signature.",
        )
    if not math.isfinite(now):
        return SignatureFailure("timestamp_too_old", "The current time given is not a finite number.")
    age = now - timestamp
    if age > tolerance:
        return SignatureFailure(
            "timestamp_too_old",
            f"The signature timestamp is {_seconds(age)} s old, beyond the tolerance of "
            f"{_seconds(tolerance)} s: "
            "a replayed or long-delayed delivery, or this server's clock is ahead (sync it with NTP).",
        )
    if -age > tolerance:
        return SignatureFailure(
            "timestamp_in_future",
            f"The signature timestamp is {_seconds(-age)} s in the future, beyond the tolerance of "
            f"{_seconds(tolerance)} s: this server's clock is probably behind (sync it with NTP).",
        )
    for key in keys:
        expected = hex_signature(key, timestamp, body)
        for candidate in signatures:
            # compare_digest refuses non-ASCII str, and such a candidate cannot equal a hex digest.
            if candidate.isascii() and hmac.compare_digest(expected, candidate):
                return None
    return SignatureFailure("signature_mismatch", _mismatch_message(len(signatures), keys, len(body)))


def _mismatch_message(signature_count: int, keys: tuple[bytes, ...], body_length: int) -> str:
    tried = "the secret" if len(keys) == 1 else f"any of the {len(keys)} secrets"
    hints = [
        f"No v1 signature ({signature_count} in the header) matches {tried} over the "
        f"{body_length}-byte body. Check that:",
        "the body is the raw bytes as received (Flask: request.get_data(); FastAPI/Starlette: "
        "await request.body()), not JSON parsed and re-serialised, nor text decoded and re-encoded;",
        "the secret is the whsec_... webhook secret of this endpoint, not another endpoint's;",
        "no proxy or middleware rewrote the body before your handler.",
    ]
    if any(key.startswith(b"bys_ak_") for key in keys):
        hints.append("A secret starts with bys_ak_: that is an API key, not a webhook secret.")
    return " ".join(hints)
