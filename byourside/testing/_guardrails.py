"""The checks `POST /v1/agent/calls` runs before anything is stored, each failing with one token.

The service documents the tokens but not the order of its checks, nor what it answers to a body
that is not a JSON object; the fake server's choices (all HTTP 400 unless noted):

=========================  ==================================================================
token                      when
=========================  ==================================================================
``invalid_body``           the body is not JSON, not an object, or a key has the wrong JSON
                           type (``context``, ``voice``, ``language``, ``fields`` and its items)
``to_required``            ``to`` missing, null or empty
``objective_required``     ``objective`` missing, null, not a string, or only whitespace
``invalid_number``         ``to`` is not E.164 (``+`` and 2 to 15 digits; ``+1`` numbers need
                           exactly 10 digits after the ``1``, the first one 2-9)
``too_many_fields``        more than 20 ``fields``
``field_name_required``    a field without a non-empty string ``name``
``duplicate_field_name``   two fields with the same ``name``
``invalid_field_type``     a field ``type`` other than ``string``, ``boolean`` or ``number``
``invalid_webhook_url``    ``webhookUrl`` not ``https://``, or plain ``http://`` to a host that
                           is not loopback
``caller_id_not_owned``    ``callerId`` not one of the server's owned numbers (HTTP 403)
``destination_blocked``    ``to`` outside US/CA (``+1``), GB (``+44``), AU (``+61``),
                           NZ (``+64``), IL (``+972``), or a premium-rate prefix: see
                           `BLOCKED_PREFIXES`
=========================  ==================================================================

A key sent as ``null`` counts as not sent, except ``to`` and ``objective``; unknown keys are
ignored, as a tolerant service would.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from byourside import _generated as wire

__all__ = [
    "ALLOWED_COUNTRY_CODES",
    "BLOCKED_PREFIXES",
    "GuardrailError",
    "PlaceRequest",
    "check_place_request",
    "is_loopback_host",
]

MAX_FIELDS = 20
_FIELD_TYPES: dict[object, Literal["string", "boolean", "number"]] = {
    None: "string",  # the documented default
    "string": "string",
    "boolean": "boolean",
    "number": "number",
}

ALLOWED_COUNTRY_CODES: dict[str, str] = {
    "+1": "US/CA (the whole NANP counts as US/CA)",
    "+44": "GB",
    "+61": "AU",
    "+64": "NZ",
    "+972": "IL",
}
"""E.164 country codes the fake server dials; any other destination is `destination_blocked`."""

BLOCKED_PREFIXES: dict[str, str] = {
    "+1900": "NANP 900 premium-rate area code (the seed's +19001234567)",
    "+1976": "NANP 976 premium-rate exchange",
    "+449": "GB 09 premium-rate numbers",
    "+44871": "GB 0871 revenue-sharing numbers",
    "+44872": "GB 0872 revenue-sharing numbers",
    "+44873": "GB 0873 revenue-sharing numbers",
    "+611900": "AU 1900 premium-rate numbers",
    "+64900": "NZ 0900 premium-rate numbers",
    "+9721900": "IL 1-900 premium-rate numbers",
}
"""Premium-rate prefixes inside the allowed countries; a number starting with one is blocked."""

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_NANP = re.compile(r"\+1[2-9][0-9]{9}")


class GuardrailError(Exception):
    """A refused placement: the token and HTTP status the server answers with."""

    def __init__(self, token: str, status: int = 400) -> None:
        super().__init__(token)
        self.token = token
        self.status = status


@dataclass(frozen=True)
class PlaceRequest:
    """A placement that passed every guardrail."""

    to: str
    objective: str
    context: str | None
    fields: tuple[wire.FieldSpec, ...]
    webhook_url: str | None
    caller_id: str | None
    voice: str | None
    language: str | None


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` names this machine: ``localhost`` or a loopback IP address.

    >>> is_loopback_host("127.0.0.1"), is_loopback_host("::1"), is_loopback_host("example.com")
    (True, True, False)
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_place_request(raw_body: bytes, owned_numbers: frozenset[str]) -> PlaceRequest:
    """Parse and check a placement body; raise `GuardrailError` with the first failing token.

    >>> check_place_request(b'{"to": "+19001234567", "objective": "Sell"}', frozenset())
    Traceback (most recent call last):
    ...
    byourside.testing._guardrails.GuardrailError: destination_blocked
    """
    body = _json_object(raw_body)
    to = body.get("to")
    if to is None or to == "":
        raise GuardrailError("to_required")
    objective = body.get("objective")
    if not isinstance(objective, str) or not objective.strip():
        raise GuardrailError("objective_required")
    if not isinstance(to, str) or not _is_e164(to):
        raise GuardrailError("invalid_number")
    context = _optional_string(body, "context")
    voice = _optional_string(body, "voice")
    language = _optional_string(body, "language")
    fields = _fields(body.get("fields"))
    webhook_url = _webhook_url(body.get("webhookUrl"))
    caller_id = _optional_string(body, "callerId")
    if caller_id is not None and caller_id not in owned_numbers:
        raise GuardrailError("caller_id_not_owned", 403)
    if is_blocked_destination(to):
        raise GuardrailError("destination_blocked")
    return PlaceRequest(
        to=to,
        objective=objective,
        context=context,
        fields=fields,
        webhook_url=webhook_url,
        caller_id=caller_id,
        voice=voice,
        language=language,
    )


def is_blocked_destination(number: str) -> bool:
    """Whether the fake server refuses to dial ``number`` (an E.164 string).

    >>> is_blocked_destination("+14155550123"), is_blocked_destination("+19001234567")
    (False, True)
    >>> is_blocked_destination("+33123456789")  # France: not an allowed country
    True
    """
    if not any(number.startswith(code) for code in ALLOWED_COUNTRY_CODES):
        return True
    return any(number.startswith(prefix) for prefix in BLOCKED_PREFIXES)


def _is_e164(number: str) -> bool:
    if not _E164.fullmatch(number):
        return False
    return not number.startswith("+1") or bool(_NANP.fullmatch(number))


def _json_object(raw_body: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw_body)
    except (ValueError, RecursionError):  # undecodable, not JSON, or nested past the parser's depth
        raise GuardrailError("invalid_body") from None
    if not isinstance(body, dict):
        raise GuardrailError("invalid_body")
    return body


def _optional_string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise GuardrailError("invalid_body")
    return value


def _fields(raw: object) -> tuple[wire.FieldSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise GuardrailError("invalid_body")
    if len(raw) > MAX_FIELDS:
        raise GuardrailError("too_many_fields")
    specs: list[wire.FieldSpec] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise GuardrailError("invalid_body")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise GuardrailError("field_name_required")
        if name in seen:
            raise GuardrailError("duplicate_field_name")
        seen.add(name)
        raw_type = item.get("type")
        field_type = _FIELD_TYPES.get(raw_type) if isinstance(raw_type, str | None) else None
        if field_type is None:
            raise GuardrailError("invalid_field_type")
        description = _optional_string(item, "description")
        specs.append(wire.FieldSpec(name=name, type=field_type, description=description))
    return tuple(specs)


def _webhook_url(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise GuardrailError("invalid_webhook_url")
    try:
        parts = urlsplit(raw)
        host = parts.hostname
    except ValueError:
        raise GuardrailError("invalid_webhook_url") from None
    if not host:
        raise GuardrailError("invalid_webhook_url")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host)):
        return raw
    raise GuardrailError("invalid_webhook_url")
