"""Misuses of a typed result that mypy --strict and pyright (strict) must reject;
tests/test_typing_rejects.py runs both.

Each line meant to fail carries `# expect: <mypy error code>, pyright: <pyright rule>`; this file
is excluded from the project's own mypy and pyright runs and never imported.
"""

from __future__ import annotations

from pydantic import BaseModel

from byourside import Client


class Appointment(BaseModel):
    confirmed: bool
    party_size: int | None = None


def misuse(client: Client) -> None:
    call = client.get_call("c1", fields=Appointment)
    if call.extracted is None:
        return
    call.extracted.confirmd  # expect: attr-defined, pyright: reportAttributeAccessIssue
    size: str = call.extracted.confirmed  # expect: assignment, pyright: reportAssignmentType
    call.extracted["confirmed"]  # expect: index, pyright: reportIndexIssue
    waited = client.wait_for_call("c1", fields=Appointment)
    waited.extracted.confirmed  # expect: union-attr, pyright: reportOptionalMemberAccess
    client.get_call("c1", fields={"name": "x"})  # expect: call-overload, pyright: reportArgumentType
