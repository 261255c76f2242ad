"""Typing promises of the per-request options and `with_options`, checked by `mypy --strict` and
pyright (strict here) with `assert_type`, and run by pytest against a FakeServer so every line is
also executed: `with_options` returns the client's own class (a subclass included), and every
method takes ``timeout=`` (or ``request_timeout=`` beside a wait's deadline) and ``extra_headers=``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from typing_extensions import assert_type

from byourside import AsyncClient, BatchResult, Call, Client, PlacedCall
from byourside.testing import FakeServer

TRACE = {"X-Trace-Id": "t-1"}


class Appointment(BaseModel):
    confirmed: bool | None = None


class MyClient(Client):
    """A user's subclass: `with_options` keeps it."""


class MyAsyncClient(AsyncClient):
    """A user's subclass: `with_options` keeps it."""


def sync_methods(client: Client) -> None:
    derived = client.with_options(timeout=(2, 30), max_retries=0, base_url=client.base_url)
    assert_type(derived, Client)
    assert_type(client.with_options(), Client)
    placed = derived.place_call("+14155550123", "Confirm", timeout=5, extra_headers=TRACE)
    assert_type(placed, PlacedCall)
    assert_type(client.get_call(placed.call_id, timeout=(1, 5), extra_headers=TRACE), Call)
    assert_type(client.get_call(placed.call_id, fields=Appointment, timeout=5), Call[Appointment])
    assert_type(client.list_calls(5, timeout=5.5, extra_headers={}), list[Call])
    assert_type(client.wait_for_call(placed.call_id, 60, 0.1, request_timeout=5, extra_headers=TRACE), Call)
    done = client.call("+14155550123", "Confirm", timeout=60, interval=0.1, request_timeout=(1, 5))
    assert_type(done, Call)
    typed = client.call("+14155550123", "Confirm", fields=Appointment, interval=0.1, extra_headers=TRACE)
    assert_type(typed, Call[Appointment])
    items = [{"to": "+14155550124", "objective": "Confirm"}]
    for result in client.place_calls(items, wait=False, request_timeout=5, extra_headers=TRACE):
        assert_type(result, BatchResult[dict[str, Any]])


async def async_methods(client: AsyncClient) -> None:
    derived = client.with_options(timeout=3, max_retries=1)
    assert_type(derived, AsyncClient)
    placed = await derived.place_call("+14155550123", "Confirm", timeout=5, extra_headers=TRACE)
    assert_type(placed, PlacedCall)
    assert_type(await client.get_call(placed.call_id, timeout=5, extra_headers=TRACE), Call)
    assert_type(await client.list_calls(timeout=(1, 2)), list[Call])
    ended = await client.wait_for_call(placed.call_id, 60, 0.1, request_timeout=5, extra_headers=TRACE)
    assert_type(ended, Call)
    assert_type(await client.call("+14155550123", "Confirm", interval=0.1, request_timeout=5), Call)


def test_with_options_and_the_per_request_options_are_typed() -> None:
    with FakeServer(instant=True) as server:
        with Client(server.api_key, server.base_url) as client:
            sync_methods(client)
        with MyClient(server.api_key, server.base_url) as mine:
            assert_type(mine.with_options(max_retries=1), MyClient)
            assert isinstance(mine.with_options(max_retries=1), MyClient)

        async def run() -> None:
            async with AsyncClient(server.api_key, server.base_url) as client:
                await async_methods(client)
            async with MyAsyncClient(server.api_key, server.base_url) as mine:
                assert_type(mine.with_options(timeout=1), MyAsyncClient)

        asyncio.run(run())
