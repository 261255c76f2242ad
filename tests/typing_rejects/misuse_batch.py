"""Misuses of batch calling that mypy --strict must reject (tests/test_typing_rejects.py runs it).

Each line meant to fail carries `# expect: <mypy error code>`; this file is excluded from the
project's own mypy run and never imported.
"""

from __future__ import annotations

from pydantic import BaseModel

from byourside import BatchItem, BatchStatus, Client


class Appointment(BaseModel):
    confirmed: bool


def misuse(client: Client) -> None:
    for result in client.place_calls([BatchItem(to="+14155550123", objective="Hi")], fields=Appointment):
        result.call.extracted  # expect: union-attr
        if result.call is not None and result.call.extracted is not None:
            result.call.extracted["confirmed"]  # expect: index
            flag: str = result.call.extracted.confirmed  # expect: assignment
        status: BatchStatus = "answered"  # expect: assignment
        result.index = 3  # expect: misc
    BatchItem(to="+14155550123")  # expect: call-arg
    BatchItem(to="+14155550123", objective="Hi", name="Ann")  # expect: call-arg
    client.place_calls([], concurrency="4")  # expect: arg-type
    client.place_calls([], journal=3)  # expect: arg-type
    client.place_calls([], allow_duplicates="yes")  # expect: arg-type
    client.place_calls([], stop=True)  # expect: call-arg
    results = client.place_calls([BatchItem(to="+14155550123", objective="Hi")])
    results.stop(False)  # expect: call-arg
    results.send(None)  # expect: attr-defined
