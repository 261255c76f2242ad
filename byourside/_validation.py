"""The checks made before any I/O: a bad argument never costs a request, let alone a call.

Each failure is an `InvalidRequestError` with status 0 and a precise code, the same code the
service would send where it has one (`to_required`, `invalid_number`, `objective_required`,
`too_many_fields`, `invalid_field_type`) and the SDK's own documented code otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from pydantic import BaseModel

from byourside._extraction import MAX_FIELDS, fields_from_model
from byourside._models import FieldSpec
from byourside.errors import CODE_MESSAGES, AuthenticationError, InvalidRequestError, NotFoundError

__all__ = [
    "MAX_FIELDS",
    "FieldsArg",
    "check_api_key",
    "check_base_url",
    "check_call_id",
    "check_field",
    "fields_to_wire",
    "is_loopback_host",
    "place_call_body",
]

FIELD_TYPES = ("string", "boolean", "number")

# fullmatch, not `$`: `$` also matches before a trailing newline.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")

FieldsArg: TypeAlias = Sequence[FieldSpec | Mapping[str, Any]] | type[BaseModel]
"""What `place_call(fields=...)` takes: 0.1.0's dicts, `FieldSpec` models, or a mix; or a Pydantic
model class whose fields are the values to extract (typed extraction)."""


def _invalid(code: str, detail: str | None = None) -> InvalidRequestError:
    message = CODE_MESSAGES[code] if detail is None else f"{CODE_MESSAGES[code]}: {detail}"
    return InvalidRequestError(message, 0, code)


def _is_e164(value: object) -> bool:
    return isinstance(value, str) and _E164.fullmatch(value) is not None


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` is this machine: ``localhost``, 127.0.0.0/8 or ::1.

    Example:
        >>> is_loopback_host("127.0.0.1"), is_loopback_host("::1"), is_loopback_host("10.0.0.1")
        (True, True, False)
    """
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secure_url_problem(url: object) -> str | None:
    """Why `url` is not an https:// URL (or http:// to loopback), or None when it is one."""
    if not isinstance(url, str):
        return f"expected a string, got {type(url).__name__}"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "it contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return f"{url!r} is not a valid URL"
    if not host:
        return f"{url!r} has no host"
    if parts.username is not None or parts.password is not None:
        return f"{url!r} carries credentials; the key goes in api_key"
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host)):
        return None
    return f"{url!r} is neither https:// nor http:// to loopback"


def check_base_url(url: str) -> str:
    """`url` without its trailing slash, or `InvalidRequestError`: code ``insecure_base_url``
    (not https://, nor http:// to loopback) or ``invalid_base_url`` (a path, query or fragment).

    The base URL is the API's address alone: the SDK adds ``/v1/agent/calls``, so
    ``https://api.byourside.ai/v1`` would ask for ``/v1/v1/agent/calls`` and get ``not_found``.

    Example:
        >>> check_base_url("https://api.byourside.ai/"), check_base_url("http://127.0.0.1:8080")
        ('https://api.byourside.ai', 'http://127.0.0.1:8080')
    """
    problem = _secure_url_problem(url)
    if problem is not None:
        raise _invalid("insecure_base_url", problem)
    parts = urlsplit(url)
    if parts.path.strip("/") or parts.query or parts.fragment or url.endswith(("?", "#")):
        origin = f"{parts.scheme}://{parts.netloc}"
        raise _invalid("invalid_base_url", f"got {url!r}; pass {origin!r}")
    return url.rstrip("/")


FIELD_KEYS = ("name", "type", "description")
"""The keys a field may have; any other (a misspelt ``typ``) would be sent and silently ignored."""


def check_field(field: Mapping[str, Any], where: str) -> None:
    """Refuse a field dict the service would misread: an unknown key, no name, an unknown type.

    `where` names the field in the message (``fields[2]``). Raises `InvalidRequestError` code
    ``unknown_field_key``, ``field_name_required`` or ``invalid_field_type``.

    Example:
        >>> check_field({"name": "a", "typ": "boolean"}, "fields[0]")
        Traceback (most recent call last):
        ...
        byourside.errors.InvalidRequestError: unknown_field_key: A field has a key other than name, \
type and description: fields[0] has 'typ'; the keys are name, type, description
    """
    unknown = [key for key in field if key not in FIELD_KEYS]
    if unknown:
        raise _invalid(
            "unknown_field_key",
            f"{where} has {', '.join(repr(key) for key in unknown)}; the keys are {', '.join(FIELD_KEYS)}",
        )
    name = field.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("field_name_required", f"{where} has name {name!r}")
    field_type = field.get("type")
    if field_type is not None and field_type not in FIELD_TYPES:
        raise _invalid("invalid_field_type", f"field {name!r} has type {field_type!r}")
    description = field.get("description")
    if description is not None and not isinstance(description, str):
        raise _invalid("invalid_fields", f"field {name!r} has a {type(description).__name__} description")


def _field_to_wire(field: object, index: int) -> dict[str, Any]:
    if isinstance(field, FieldSpec):
        wire = field.to_wire()
    elif isinstance(field, Mapping):
        wire = dict(field)
    else:
        raise _invalid(
            "invalid_fields",
            f"fields[{index}] is a {type(field).__name__}; pass a dict such as "
            "{'name': 'confirmed', 'type': 'boolean'} or a FieldSpec",
        )
    check_field(wire, f"fields[{index}]")
    return wire


def fields_to_wire(fields: FieldsArg) -> list[dict[str, Any]]:
    """The ``fields`` list as sent on the wire, checked: at most 20, each named once, each typed
    string, boolean or number (or untyped: the service's default is string).

    The one place `place_call` turns its `fields` argument into JSON, so other ways of declaring
    fields only need to produce `FieldSpec` models.

    Example:
        >>> fields_to_wire([{"name": "confirmed", "type": "boolean"}, FieldSpec(name="new_time")])
        [{'name': 'confirmed', 'type': 'boolean'}, {'name': 'new_time'}]
    """
    if isinstance(fields, type) and issubclass(fields, BaseModel):
        fields = fields_from_model(fields)
    if isinstance(fields, type):
        raise _invalid("invalid_fields", f"got the class {fields.__name__}, which is not a Pydantic model")
    if isinstance(fields, (str, bytes, Mapping)) or not isinstance(fields, Sequence):
        raise _invalid("invalid_fields", f"got {type(fields).__name__} {_short_repr(fields)}")
    if len(fields) > MAX_FIELDS:
        raise _invalid("too_many_fields", f"got {len(fields)}")
    wire = [_field_to_wire(field, index) for index, field in enumerate(fields)]
    seen: set[str] = set()
    for item in wire:
        if item["name"] in seen:
            raise _invalid("duplicate_field_name", f"{item['name']!r} appears more than once")
        seen.add(item["name"])
    return wire


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def place_call_body(
    *,
    to: object,
    objective: object,
    context: str | None = None,
    fields: FieldsArg | None = None,
    webhook_url: str | None = None,
    caller_id: str | None = None,
    voice: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a placement, checked; only the keys given (not None) are sent.

    `to` and `objective` are typed `object`: untyped 0.1.0 programs pass anything, and a wrong
    type must get its precise code, not a crash further on.

    Example:
        >>> place_call_body(to="+14155550123", objective="Confirm", caller_id="+14155550100")
        {'to': '+14155550123', 'objective': 'Confirm', 'callerId': '+14155550100'}
    """
    if to is None or (isinstance(to, str) and not to.strip()):
        raise _invalid("to_required")
    if not _is_e164(to):
        raise _invalid("invalid_number", f"got {to!r}")
    if not isinstance(objective, str) or not objective.strip():
        raise _invalid("objective_required")
    body: dict[str, Any] = {"to": to, "objective": objective}
    if context is not None:
        body["context"] = context
    if fields is not None:
        body["fields"] = fields_to_wire(fields)
    if webhook_url is not None:
        problem = _secure_url_problem(webhook_url)
        if problem is not None:
            raise _invalid("invalid_webhook_url", problem)
        body["webhookUrl"] = webhook_url
    if caller_id is not None:
        if not _is_e164(caller_id):
            raise _invalid("invalid_caller_id", f"got {caller_id!r}")
        body["callerId"] = caller_id
    if voice is not None:
        body["voice"] = voice
    if language is not None:
        body["language"] = language
    return body


def check_api_key(api_key: object) -> str:
    """The key, stripped of surrounding whitespace, or `AuthenticationError`: code ``no_api_key``
    when there is none, ``invalid_api_key`` when it is malformed.

    A key that could not travel in an HTTP header (inner spaces, control or non-ASCII characters)
    is refused here, where the message can be written without it: requests would otherwise put the
    whole header, key included, into its exception.

    Example:
        >>> check_api_key(" bys_ak_123 ")
        'bys_ak_123'
        >>> check_api_key("bys_ak_12 3").code
        Traceback (most recent call last):
        ...
        byourside.errors.AuthenticationError: invalid_api_key: The API key is malformed: it contains \
spaces, control or non-ASCII characters; pass it exactly as the dashboard showed it (bys_ak_...)
    """
    if api_key is None or (isinstance(api_key, str) and not api_key.strip()):
        raise AuthenticationError(CODE_MESSAGES["no_api_key"], 0, "no_api_key")
    if not isinstance(api_key, str):
        raise AuthenticationError(
            f"{CODE_MESSAGES['invalid_api_key'].partition(':')[0]}: expected a string, got "
            f"{type(api_key).__name__}",
            0,
            "invalid_api_key",
        )
    key = api_key.strip()
    if any(not 33 <= ord(ch) <= 126 for ch in key):
        raise AuthenticationError(
            f"{CODE_MESSAGES['invalid_api_key']}; pass it exactly as the dashboard showed it (bys_ak_...)",
            0,
            "invalid_api_key",
        )
    return key


def check_call_id(call_id: object) -> str:
    """`call_id`, or `NotFoundError` code ``not_found`` (status 0) for what can name no call.

    An empty id would turn ``GET /v1/agent/calls/{id}`` into the list, and ``.`` or ``..`` (which
    quoting leaves as they are) would be resolved away by URL normalisation: none can be sent.
    """
    if not isinstance(call_id, str) or call_id in ("", ".", ".."):
        raise NotFoundError(f"{CODE_MESSAGES['not_found']}: {call_id!r} is not a call id", 0, "not_found")
    return call_id
