"""The base of every wire model: tolerant parsing, wire-faithful output and 0.1.0's dict-style reads.

The generated models (`byourside._generated`) derive from `WireModel` through the generator's
`base-class` option, so these behaviours hold for every object the service sends:

* unknown keys are kept (``extra="allow"``) and serialised back as they came;
* attributes are snake_case, the camelCase wire names are aliases, and either populates;
* ``model["callId"]``, ``model.get("extracted")`` and ``"summary" in model`` read by wire name, so
  programs written against 0.1.0's plain dicts keep running. Typed attributes are the documented way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["WireModel"]

_MISSING: Any = object()


class WireModel(BaseModel):
    """A model of a JSON object on the wire.

    Example:
        >>> from byourside import PlacedCall
        >>> placed = PlacedCall.model_validate({"callId": "call_abc123", "status": "queued"})
        >>> placed.call_id, placed["callId"], placed.get("voice")
        ('call_abc123', 'call_abc123', None)
        >>> placed.to_wire()
        {'callId': 'call_abc123', 'status': 'queued'}
    """

    # The one config of every wire model: the generator writes none of its own. defer_build: each
    # model builds its validator on first use, not at `import byourside`. The annotation matches
    # BaseModel's, so pyright does not call the override ambiguous.
    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    # Wire names that answer for another wire name (a call's `id` and `callId` are one value).
    _wire_synonyms: ClassVar[dict[str, str]] = {}

    @classmethod
    def _field_for_wire_name(cls, key: str) -> str | None:
        for name, info in cls.model_fields.items():
            if key == (info.alias or name):
                return name
        return None

    def _read(self, key: str) -> Any:
        key = self._wire_synonyms.get(key, key)
        name = self._field_for_wire_name(key)
        if name is not None:
            # Dump the one field so the value is what the wire carried (a datetime as its ISO string).
            return self.model_dump(mode="json", by_alias=True, include={name}).get(key)
        extra = self.model_extra or {}
        return extra.get(key, _MISSING)

    def __getitem__(self, key: str) -> Any:
        """Read a value by its wire name, as 0.1.0's dicts allowed: ``call["callId"]``."""
        value = self._read(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """Read a value by its wire name, or `default`: ``call.get("extracted")``."""
        value = self._read(key)
        return default if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._read(key) is not _MISSING

    def to_wire(self) -> dict[str, Any]:
        """The object as the service would send it: wire names, JSON types, only the keys it had.

        Keys the object was built with (known or unknown) are kept, including explicit nulls; keys
        it never had are left out, so ``Model.model_validate(m.to_wire())`` equals ``m``.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
