"""Hand-written conveniences on the generated wire models.

`byourside._generated` is written by `scripts/generate_models.py` from `spec/openapi.yaml` and
never edited; this module adds what the spec cannot say:

* every call object answers to `call_id` whichever key the wire used (`id` or `callId`);
* `is_terminal` from the spec's terminal statuses, false for a status the SDK does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Generic, get_args

from pydantic import Field, PrivateAttr, model_validator
from typing_extensions import Self, TypeVar

from byourside import _generated as wire
from byourside._base import WireModel
from byourside._generated import CallStatus, KnownCallStatus, TerminalCallStatus

__all__ = [
    "TERMINAL_STATUSES",
    "Call",
    "CallList",
    "CallStatus",
    "FieldSpec",
    "KnownCallStatus",
    "PlacedCall",
    "WebhookEvent",
    "is_terminal_status",
]

TERMINAL_STATUSES: frozenset[str] = frozenset(get_args(TerminalCallStatus.__value__))
"""The statuses after which a call never changes: completed, no_answer, voicemail, declined, failed."""


def is_terminal_status(status: str) -> bool:
    """Whether `status` is terminal. A status the SDK does not know is not: the call may go on."""
    return status in TERMINAL_STATUSES


ExtractedT = TypeVar("ExtractedT", default=dict[str, Any])
"""What a call's `extracted` holds: the wire's dict, or the user's model with typed extraction."""

_ID_DOC = wire.Call.model_fields["id"].description
_CALL_ID_DOC = wire.Call.model_fields["call_id"].description


class FieldSpec(wire.FieldSpec):
    """One value for the AI to extract: its name, type (string, boolean or number) and description.

    Built by hand, it is checked as `place_call` checks a field dict: an unknown type, a missing
    name or a key other than name, type and description raise `InvalidRequestError` (codes
    ``invalid_field_type``, ``field_name_required``, ``unknown_field_key``), never pydantic's
    ``ValidationError``.

    Example:
        >>> FieldSpec(name="confirmed", type="boolean").to_wire()
        {'name': 'confirmed', 'type': 'boolean'}
        >>> FieldSpec(name="party_size", type="int")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        byourside.errors.InvalidRequestError: invalid_field_type: ... has type 'int'
    """

    @model_validator(mode="before")
    @classmethod
    def _checked_as_place_call_checks(cls, data: Any) -> Any:
        from byourside._validation import check_field  # it imports this module

        if isinstance(data, Mapping):
            check_field(data, "FieldSpec")
        return data


class PlacedCall(wire.PlacedCall):
    """The reply to `place_call`: the new call's id and its first status.

    Example:
        >>> placed = PlacedCall.model_validate({"callId": "call_abc123", "status": "queued"})
        >>> placed.call_id, placed["id"], placed.is_terminal
        ('call_abc123', 'call_abc123', False)
    """

    _wire_synonyms: ClassVar[dict[str, str]] = {"id": "callId"}

    @property
    def is_terminal(self) -> bool:
        """Whether the status is terminal (never, for a call just placed, as documented)."""
        return is_terminal_status(self.status)


class _KeepsRawExtracted(WireModel):
    """`raw_extracted`: the values as the wire sent them, whatever the type parameter makes of
    `extracted` (a `Call` and a `WebhookEvent` both carry it)."""

    _raw_extracted: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _keep_raw_extracted(self) -> Self:
        extracted = getattr(self, "extracted", None)
        if isinstance(extracted, dict):
            self._raw_extracted = extracted
        return self

    @property
    def raw_extracted(self) -> dict[str, Any] | None:
        """The extracted values exactly as the service sent them, whatever `extracted` is typed as."""
        return self._raw_extracted


class Call(wire.Call, _KeepsRawExtracted, Generic[ExtractedT]):
    """A call as the service reports it: status, and once it has ended, summary, transcript and values.

    `call_id` and `id` both hold the call's id, whichever of `id` (a fetched call) or `callId`
    (list items in the docs) the wire used; `to_wire()` gives back only the key that was sent.

    `Call` alone is `Call[dict[str, Any]]`: `extracted` is the wire's dict. With typed extraction
    (``client.get_call(call_id, fields=Appointment)``) it is a `Call[Appointment]` whose
    `extracted` is an ``Appointment | None``; `raw_extracted` always keeps the values as sent.

    Example:
        >>> call = Call.model_validate({"id": "c1", "status": "completed", "extracted": {"ok": True}})
        >>> call.call_id, call.is_terminal, call["extracted"]
        ('c1', True, {'ok': True})
    """

    id: Annotated[str, Field(description=_ID_DOC)] = ""
    call_id: Annotated[str, Field(alias="callId", description=_CALL_ID_DOC)] = ""
    # Narrowed from the generated dict to the type parameter: a Call[Appointment] deliberately
    # carries the user's model here, which is the point of typed extraction.
    extracted: Annotated[
        ExtractedT | None, Field(description=wire.Call.model_fields["extracted"].description)
    ] = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _one_id_under_both_names(self) -> Self:
        if not self.id and not self.call_id:
            raise ValueError("a call object carries neither `id` nor `callId`")
        # Written past pydantic's bookkeeping, so the copied key does not count as sent and
        # to_wire() keeps the wire's own key.
        if not self.call_id:
            self.__dict__["call_id"] = self.id
        elif not self.id:
            self.__dict__["id"] = self.call_id
        return self

    @property
    def is_terminal(self) -> bool:
        """Whether the call has ended; a status the SDK does not know counts as not ended."""
        return is_terminal_status(self.status)


class CallList(WireModel):
    """The reply to `list_calls`: ``{"calls": [...]}``, each item a `Call`.

    Derived from `WireModel` rather than the generated `CallList`: its items must be the
    hand-written `Call`, and a list's item type cannot be narrowed in a subclass.
    """

    calls: Annotated[list[Call], Field(description=wire.CallList.model_fields["calls"].description)]


class WebhookEvent(wire.WebhookEvent, _KeepsRawExtracted, Generic[ExtractedT]):
    """One signed webhook delivery, parsed: what happened to which call, and when.

    `event` is one of the six documented names, or kept as sent when the SDK does not know it;
    `timestamp`, `started_at` and `ended_at` are datetimes; the terminal events' keys are optional.

    `WebhookEvent` alone is `WebhookEvent[dict[str, Any]]`: `extracted` is the wire's dict. From
    ``construct_event(..., fields=Appointment)`` it is a `WebhookEvent[Appointment]` whose
    `extracted` is an ``Appointment | None``; `raw_extracted` always keeps the values as sent.
    """

    _wire_synonyms: ClassVar[dict[str, str]] = {"id": "callId"}
    # Narrowed from the generated dict to the type parameter, as on `Call`.
    extracted: Annotated[
        ExtractedT | None, Field(description=wire.WebhookEvent.model_fields["extracted"].description)
    ] = None  # type: ignore[assignment]

    @property
    def is_terminal(self) -> bool:
        """Whether this event reports the call's end."""
        return is_terminal_status(self.status)
