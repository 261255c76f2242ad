"""Typed extraction: declare the fields as a Pydantic model, get the values back as that model.

The service knows three field types (string, boolean, number) and at most 20 fields. This module
derives the wire fields from a user's model and checks the values on the way back:

=====================================  ==========  =========================================
annotation                             wire type   added to the description
=====================================  ==========  =========================================
``bool``                               boolean
``str`` (and str subclasses)           string
``int``, ``float``, ``Decimal``        number      "Whole number." for ``int``
``Literal[...]``, ``Enum``             by values   "One of: ..." (the allowed values)
``date``, ``datetime``, ``time``       string      the ISO 8601 format expected
``X | None``                           X's type
=====================================  ==========  =========================================

Anything else (lists, dicts, nested models, unions of several types) cannot be carried and raises
`ExtractionError` (code ``unsupported_field``) naming the field, before any I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
from decimal import Decimal
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, PydanticUndefinedAnnotation, ValidationError
from pydantic.fields import FieldInfo

from byourside._generated import FieldType
from byourside._models import Call, FieldSpec
from byourside.errors import ExtractionError, InvalidRequestError

__all__ = ["MAX_FIELDS", "ModelT", "fields_from_model", "parse_extracted", "retyped", "typed_call"]

MAX_FIELDS = 20
"""The most fields the service extracts on one call."""

ModelT = TypeVar("ModelT", bound=BaseModel)

_FORMATS: tuple[tuple[type, str], ...] = (
    # datetime before date: a datetime is a date.
    (dt.datetime, "An ISO 8601 date and time with its UTC offset, e.g. 2026-11-25T14:00:00+00:00."),
    (dt.date, "An ISO 8601 date, YYYY-MM-DD, e.g. 2026-11-25."),
    (dt.time, "A 24-hour time, HH:MM, e.g. 14:00."),
)


def _wire_type_of_values(values: list[Any]) -> FieldType | None:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in values):
        return "number"
    if all(isinstance(v, str) for v in values):
        return "string"
    return None


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _describe(name: str, info: FieldInfo) -> tuple[FieldType, str | None]:
    """The wire type of one field and what to add to its description, or raise naming the field."""
    annotation = _strip_optional(info.annotation)
    allowed: list[Any] | None = None
    if get_origin(annotation) is Literal:
        allowed = list(get_args(annotation))
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        allowed = [member.value for member in annotation]

    if allowed is not None:
        wire_type = _wire_type_of_values(allowed)
        if wire_type is not None:
            return wire_type, "One of: " + ", ".join(repr(v) for v in allowed) + "."
    elif isinstance(annotation, type):
        if issubclass(annotation, bool):
            return "boolean", None
        if issubclass(annotation, int):
            return "number", "Whole number."
        if issubclass(annotation, (float, Decimal)):
            return "number", None
        for kind, text in _FORMATS:
            if issubclass(annotation, kind):
                return "string", text
        if issubclass(annotation, str):
            return "string", None
    error = ExtractionError(
        f"Field {name!r}: {_show(info.annotation)} cannot be extracted; the service carries only "
        "a string, a boolean or a number (bool, str, int, float, Decimal, Literal, Enum, date, "
        "datetime, time, each optionally `| None`).",
        code="unsupported_field",
    )
    error.field = name
    raise error


def _show(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)


def fields_from_model(model: type[BaseModel]) -> list[FieldSpec]:
    """The wire fields for `model`: one per model field, named by its alias when it has one.

    Example:
        >>> from typing import Literal
        >>> from pydantic import BaseModel, Field
        >>> class Appointment(BaseModel):
        ...     confirmed: bool
        ...     reason: Literal["sick", "travel"] | None = Field(None, description="Why they cancel")
        >>> [f.to_wire() for f in fields_from_model(Appointment)]
        [{'name': 'confirmed', 'type': 'boolean'}, {'name': 'reason', 'type': 'string', \
'description': "Why they cancel. One of: 'sick', 'travel'."}]
    """
    _require_complete(model)
    if len(model.model_fields) > MAX_FIELDS:
        extra = list(model.model_fields)[MAX_FIELDS:]
        raise InvalidRequestError(
            f"{model.__name__} declares {len(model.model_fields)} fields; the service extracts at most "
            f"{MAX_FIELDS} (remove {', '.join(repr(n) for n in extra)}).",
            code="too_many_fields",
        )
    specs = []
    for name, info in model.model_fields.items():
        wire_type, note = _describe(name, info)
        parts = [p.rstrip(".") + "." for p in (info.description, note) if p]
        spec = FieldSpec(name=info.alias or name, type=wire_type)
        if parts:
            spec.description = " ".join(parts)
        specs.append(spec)
    return specs


def _require_complete(model: type[BaseModel]) -> None:
    # A model whose annotations name something pydantic could not resolve yet holds ForwardRefs
    # in place of types; resolve them now, or say plainly which name is missing.
    if model.__pydantic_complete__:
        return
    try:
        model.model_rebuild()
    except PydanticUndefinedAnnotation as exc:
        raise ExtractionError(
            f"{model.__name__} is not fully defined: {exc}. Define or import that name, then call "
            f"{model.__name__}.model_rebuild().",
            code="unsupported_field",
        ) from exc


def parse_extracted(model: type[ModelT], raw: dict[str, Any] | None) -> ModelT | None:
    """Check the service's values against `model` and return them as an instance of it.

    None (nothing extracted yet) stays None. A required field that came back null or missing (not
    obtained on the call) raises `ExtractionError` code ``field_not_obtained``; a value that does
    not fit raises code ``extraction_mismatch``. Both name the field and keep `raw`.
    """
    if raw is None:
        return None
    missing = [
        info.alias or name
        for name, info in model.model_fields.items()
        if info.is_required() and raw.get(info.alias or name) is None
    ]
    if missing:
        raise _error(
            "field_not_obtained",
            f"{model.__name__}: the call did not obtain required field(s) "
            f"{', '.join(repr(n) for n in missing)} (null in `extracted`). Make them optional "
            "(`| None = None`) to accept calls that could not obtain them.",
            missing[0],
            raw,
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else None
        value = raw.get(field) if field is not None else raw
        raise _error(
            "extraction_mismatch",
            f"{model.__name__}.{field}: the service returned {value!r}, which does not fit: "
            f"{first['msg']}. The raw values are on this error's `.raw`.",
            field,
            raw,
        ) from exc


def _error(code: str, message: str, field: str | None, raw: dict[str, Any]) -> ExtractionError:
    error = ExtractionError(message, code=code)
    error.field = field
    error.raw = raw
    return error


def typed_call(call: Call, model: type[ModelT]) -> Call[ModelT]:
    """`call` with its `extracted` values checked and typed as `model`; `raw_extracted` is kept."""
    try:
        return retyped(call, Call[model], model)  # type: ignore[valid-type]
    except ExtractionError as error:
        error.call = call
        raise


TypedT = TypeVar("TypedT", bound=BaseModel)


def retyped(item: Any, typed_class: type[TypedT], model: type[BaseModel]) -> TypedT:
    """`item` (a `Call` or a `WebhookEvent`) rebuilt as `typed_class`, its `extracted` checked by
    `parse_extracted` against `model`; `raw_extracted` is kept. Raises `ExtractionError`."""
    values = parse_extracted(model, item.raw_extracted)
    # model_construct: the item was validated once already; only `extracted` changes.
    typed = typed_class.model_construct(
        _fields_set=set(item.model_fields_set), **{**dict(item), "extracted": values}
    )
    typed._raw_extracted = item.raw_extracted  # type: ignore[attr-defined]
    return typed
