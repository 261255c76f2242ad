"""`AsyncClient.place_calls`: an async iterator over the same batch, cancelled and abandoned safely.

The batch's rules are shared with `Client.place_calls` (its suite runs on both clients); here is
what only an async batch has: ``async for``, ``async with``, a consuming task cancelled while a
placement is in the server's hands, and no thread held by a call being waited for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import pytest

from byourside import AsyncClient, BatchResult, InvalidRequestError
from byourside.testing import FakeServer
from tests.async_support import gated_server, json_reply
from tests.batch_support import items, stored_per_number
from tests.client_support import API_KEY

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def journal_events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]


async def test_async_for_places_each_item_once_and_reports_each(tmp_path: Path) -> None:
    batch = items(12)
    with FakeServer(instant=True) as server:
        async with AsyncClient(server.api_key, server.base_url, max_workers=2) as client:
            results: list[BatchResult] = []
            async with client.place_calls(batch, concurrency=4, interval=0.01, journal=tmp_path / "j") as run:
                async for result in run:
                    results.append(result)
                    # Between polls no item holds a thread: at most the client's pool exists.
                    assert sum(t.name.startswith("byourside-async") for t in threading.enumerate()) <= 2
        assert sorted(r.index for r in results) == list(range(12))
        assert {r.status for r in results} == {"completed"}
        assert stored_per_number(server) == {item["to"]: 1 for item in batch}


async def test_stop_places_nothing_more_and_reports_every_item(tmp_path: Path) -> None:
    with FakeServer(instant=True) as server:
        async with AsyncClient(server.api_key, server.base_url) as client:
            run = client.place_calls(items(10), concurrency=1, interval=0.01, ordered=True)
            first = await run.__anext__()
            run.stop()
            rest = [result async for result in run]
            await run.aclose()
    assert first.status == "completed"
    assert len(rest) == 9
    stopped = [r for r in rest if r.status == "not_placed"]
    assert stopped
    assert {r.error.code for r in stopped if r.error is not None} == {"batch_stopped"}
    assert len(server.calls) == 10 - len(stopped)


def routed(request: bytes) -> bytes:
    """The list before the first placement finds nothing; each placement is call c<n>."""
    if request.startswith(b"GET /v1/agent/calls?"):
        return json_reply(200, {"calls": []})
    if request.startswith(b"POST"):
        return json_reply(201, {"callId": "c1", "status": "queued"})
    return json_reply(200, {"id": "c1", "status": "in_progress"})


async def test_a_consumer_cancelled_while_a_placement_is_in_flight_loses_no_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    journal = tmp_path / "run.jsonl"
    with gated_server(routed) as server:
        client = AsyncClient(API_KEY, server.url, max_retries=0)

        async def consume() -> list[BatchResult]:
            return [r async for r in client.place_calls(items(3), concurrency=1, journal=journal)]

        task = asyncio.create_task(consume())
        server.release()  # the snapshot's list
        await asyncio.get_running_loop().run_in_executor(None, server.wait_for_requests, 2)
        assert server.methods == ["GET", "POST"]  # the first placement, held by the server
        task.cancel()
        for _ in range(20):
            await asyncio.sleep(0)
        assert not task.done()  # waiting for the placement in flight, not abandoning it
        server.open_gate()
        with pytest.raises(asyncio.CancelledError):
            await task
        at_cancel = server.count()
        await client.aclose()
        assert server.count() == at_cancel
        assert server.methods.count("POST") == 1  # nothing placed after the cancel
    events = [(e["event"], e["index"], e.get("call_id")) for e in journal_events(journal) if "index" in e]
    assert ("placed", 0, "c1") in events
    assert {index for event, index, _ in events if event in ("intent", "placed")} == {0}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("call c1 was placed" in message for message in warnings), warnings


async def test_breaking_out_of_async_with_logs_each_placed_call_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    with FakeServer(instant=True) as server:
        client = AsyncClient(server.api_key, server.base_url)
        async with client, client.place_calls(items(8), concurrency=4, interval=0.01) as run:
            async for _ in run:
                break
    placed = {call.call_id for call in server.calls}
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    # Every call the batch placed is either the one result read or named in a warning.
    assert len(placed) >= 1
    assert sum(call_id in warned for call_id in placed) >= len(placed) - 1


async def test_items_are_checked_before_anything_is_sent() -> None:
    with gated_server() as gated:
        async with AsyncClient(API_KEY, gated.url) as client:
            with pytest.raises(InvalidRequestError) as refused:
                client.place_calls([{"to": "not a number", "objective": "Hi"}, {"objective": "x"}])
            assert refused.value.code == "invalid_batch_item"
        assert gated.count() == 0


async def test_a_batch_dropped_unclosed_is_closed_by_its_loop_and_logs_what_it_placed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    with FakeServer(instant=True) as server:
        async with AsyncClient(server.api_key, server.base_url) as client:
            run = client.place_calls(items(6), concurrency=3, interval=0.01)
            first = await run.__anext__()
            del run  # no aclose: the event loop finalizes the async generator
            loop = asyncio.get_running_loop()
            end = loop.time() + 30
            while "abandoned" not in caplog.text and loop.time() < end:
                await asyncio.sleep(0.01)
        others = {call.call_id for call in server.calls} - {first.call_id}
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "abandoned" in warned
    assert all(call_id in warned for call_id in others)
