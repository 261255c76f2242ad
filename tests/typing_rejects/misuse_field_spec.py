"""Misuses of `FieldSpec` that mypy --strict must reject (tests/test_typing_rejects.py runs it).

`FieldSpec` is still a typed pydantic model after its input checks moved into a validator: an
unknown type or a misspelt keyword is a type error before it is an `InvalidRequestError`.
"""

from __future__ import annotations

from byourside import FieldSpec


def misuse() -> FieldSpec:
    FieldSpec(name="party_size", type="int")  # expect: arg-type
    FieldSpec(name="confirmed", typ="boolean")  # expect: call-arg
    FieldSpec(type="boolean")  # expect: call-arg
    return FieldSpec(name="confirmed", type="boolean", description="Did they confirm?")
