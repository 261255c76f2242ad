"""Typing promises of the AsyncClient, checked by `mypy --strict` with `assert_type` on every method
after `await`, and run by pytest against a FakeServer so every line is also executed."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from pydantic import BaseModel
from typing_extensions import assert_type

import byourside
from byourside import (
    AsyncBatchRun,
    AsyncClient,
    BatchResult,
    BatchStatus,
    Call,
    CallStatus,
    FieldSpec,
    PlacedCall,
)
from byourside.testing import FakeServer


class Appointment(BaseModel):
    confirmed: bool
    new_time: str | None = None


async def every_method(client: AsyncClient) -> None:
    placed = await client.place_call(
        "+14155550123",
        "Confirm",
        "context",
        [{"name": "confirmed", "type": "boolean"}, FieldSpec(name="note")],
        "https://hooks.example.com/bys",
        None,
        voice="Aoede",
        language="en-US",
        max_retries=1,
    )
    assert_type(placed, PlacedCall)
    assert_type(placed.call_id, str)
    assert_type(await client.place_call("+14155550123", "Confirm", fields=Appointment), PlacedCall)

    call = await client.get_call(placed.call_id, max_retries=0)
    assert_type(call, Call)
    assert_type(call.extracted, dict[str, Any] | None)
    typed = await client.get_call(placed.call_id, fields=Appointment)
    assert_type(typed, Call[Appointment])
    assert_type(typed.extracted, Appointment | None)

    assert_type(await client.list_calls(), list[Call])
    assert_type(await client.list_calls(10, max_retries=0), list[Call])

    def progress(update: Call) -> None:
        assert_type(update.status, CallStatus)

    waited = await client.wait_for_call(placed.call_id, 5, 0.01, on_status=progress)
    assert_type(waited, Call)
    waited_typed = await client.wait_for_call(placed.call_id, timeout=5, interval=0.01, fields=Appointment)
    assert_type(waited_typed, Call[Appointment])
    assert waited_typed.extracted is not None
    assert_type(waited_typed.extracted.confirmed, bool)

    done = await client.call("+14155550123", "Confirm", fields=Appointment, interval=0.01)
    assert_type(done, Call[Appointment])
    assert isinstance(done.extracted, Appointment)
    note = [FieldSpec(name="note")]
    plain = await client.call("+14155550123", "Confirm", "ctx", fields=note, interval=0.01)
    assert_type(plain, Call)

    batch = client.place_calls(
        [{"to": "+14155550124", "objective": "Confirm"}], fields=Appointment, concurrency=2, interval=0.01
    )
    assert_type(batch, AsyncBatchRun[Appointment])
    async with batch as results:
        async for result in results:
            assert_type(result, BatchResult[Appointment])
            assert_type(result.call, Call[Appointment] | None)
            assert_type(result.status, BatchStatus)
    assert_type(batch.stop(), None)
    untyped = client.place_calls([{"to": "+14155550125", "objective": "Confirm"}], interval=0.01)
    assert_type(untyped, AsyncBatchRun[dict[str, Any]])
    async for row in untyped:
        assert_type(row.call, Call[dict[str, Any]] | None)

    assert_type(client.base_url, str)
    assert_type(client.timeout, tuple[float, float])
    assert_type(client.max_retries, int)
    assert_type(client.max_workers, int)


async def main(base_url: str, api_key: str) -> None:
    async with AsyncClient(api_key, base_url, timeout=(1, 5), max_retries=0, max_workers=4) as client:
        assert_type(client, AsyncClient)
        await every_method(client)
    other = AsyncClient(api_key, base_url)
    assert_type(await other.__aenter__(), AsyncClient)
    exit_args: tuple[type[BaseException] | None, BaseException | None, TracebackType | None] = (
        None,
        None,
        None,
    )
    assert_type(await other.__aexit__(*exit_args), None)
    assert_type(await other.aclose(), None)


class AuditedAsyncClient(AsyncClient):
    """A user's subclass: ``async with`` gives back the subclass."""


async def enter_subclass() -> None:
    async with AuditedAsyncClient("bys_ak_typing", "http://127.0.0.1:9") as client:
        assert_type(client, AuditedAsyncClient)


def test_every_method_is_typed_after_await() -> None:
    with FakeServer(instant=True) as server:
        asyncio.run(main(server.base_url, server.api_key))
    asyncio.run(enter_subclass())
    assert byourside.AsyncClient is AsyncClient
