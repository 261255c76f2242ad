"""AsyncClient: its own pool, no blocked loop, and cancellation as the README defines it.

Cancellation is checked by counting what a raw-socket server received: a cancelled read sends
nothing more once the cancel is seen; a cancelled placement in flight completes and is logged with
its call id before `CancelledError` reaches the caller.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from byourside import AsyncClient, Call, InvalidRequestError, NetworkError, WaitTimeoutError
from tests.async_support import GatedServer, gated_server
from tests.client_support import API_KEY, TO

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[GatedServer]:
    with gated_server() as gated:
        yield gated


def client_on(server: GatedServer, **options: object) -> AsyncClient:
    return AsyncClient(API_KEY, server.url, timeout=(5.0, 30.0), max_retries=0, **options)  # type: ignore[arg-type]


async def wait_until(condition: object, what: str, timeout: float = 30.0) -> None:
    """Poll `condition()` on the loop (never blocking it) until true; generous for a busy machine."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def in_thread(fn: object, *args: object) -> None:
    """Run a blocking test helper off the loop (a plain thread, not the client's pool)."""
    done = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def run() -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except BaseException as error:
            loop.call_soon_threadsafe(done.set_exception, error)
        else:
            loop.call_soon_threadsafe(done.set_result, None)

    threading.Thread(target=run, daemon=True).start()
    await done


# -- construction ---------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, -1, True, 2.0, "4", None])
def test_max_workers_is_checked_before_anything_starts(workers: object) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        AsyncClient(API_KEY, "http://127.0.0.1:9", max_workers=workers)  # type: ignore[arg-type]
    assert (refused.value.code, refused.value.status) == ("invalid_max_workers", 0)
    assert "max_workers" in str(refused.value)


def test_max_workers_is_shown() -> None:
    client = AsyncClient(API_KEY, "http://127.0.0.1:9", max_workers=3)
    assert client.max_workers == 3
    assert "max_workers=3" in repr(client)
    assert API_KEY not in repr(client)
    client._transport.close()


# -- the loop stays free, the pool stays bounded ---------------------------------------------


async def test_the_event_loop_keeps_running_while_a_request_is_in_flight(server: GatedServer) -> None:
    async with client_on(server) as client:
        task = asyncio.create_task(client.get_call("c1"))
        ticks = 0
        while server.count() < 1:
            ticks += 1
            await asyncio.sleep(0.001)
        before = ticks
        for _ in range(20):  # the request is held by the server; the loop must still turn
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == before + 20
        assert not task.done()
        server.release()
        call = await task
        assert call.status == "in_progress"


async def test_requests_in_flight_never_exceed_max_workers(server: GatedServer) -> None:
    async with client_on(server, max_workers=2) as client:
        tasks = [asyncio.create_task(client.get_call("c1")) for _ in range(6)]
        await in_thread(server.wait_for_requests, 2)
        for _ in range(50):
            await asyncio.sleep(0)
        assert server.count() == 2  # the other four wait for a thread, not for the server
        workers = [t for t in threading.enumerate() if t.name.startswith("byourside-async")]
        assert len(workers) == 2
        # Never asyncio's default executor (its threads are named asyncio_N).
        assert not [t for t in threading.enumerate() if t.name.startswith("asyncio_")]
        server.open_gate()
        calls = await asyncio.gather(*tasks)
        assert [c.status for c in calls] == ["in_progress"] * 6
        assert server.count() == 6


# -- cancellation -----------------------------------------------------------------------------


async def test_a_cancelled_get_call_returns_at_once_and_its_reply_is_dropped(server: GatedServer) -> None:
    client = client_on(server)
    task = asyncio.create_task(client.get_call("c1"))
    await in_thread(server.wait_for_requests, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # while the server still holds the reply
    at_cancel = server.count()
    server.open_gate()
    await client.aclose()  # waits for the thread that was still reading the reply
    assert (at_cancel, server.count()) == (1, 1)


async def test_a_cancelled_wait_for_call_sends_no_further_request(server: GatedServer) -> None:
    server.open_gate()
    client = client_on(server)
    task = asyncio.create_task(client.wait_for_call("c1", timeout=600, interval=0.01))
    await wait_until(lambda: server.count() >= 3, "three polls")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    at_cancel = server.count()
    await client.aclose()  # nothing of the wait is left running: no thread, no timer
    assert server.count() - at_cancel <= 1  # at most the GET a thread had already sent
    assert server.methods == ["GET"] * server.count()


async def test_asyncio_wait_for_ends_a_wait_and_nothing_polls_after(server: GatedServer) -> None:
    server.open_gate()
    client = client_on(server)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.wait_for_call("c1", timeout=600, interval=0.01), timeout=0.3)
    at_timeout = server.count()
    await client.aclose()
    assert at_timeout >= 1
    assert server.count() - at_timeout <= 1


async def test_a_cancelled_list_calls_sends_nothing_more(server: GatedServer) -> None:
    client = client_on(server)
    task = asyncio.create_task(client.list_calls(5))
    await in_thread(server.wait_for_requests, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    server.open_gate()
    await client.aclose()
    assert server.count() == 1


async def test_a_placement_cancelled_in_flight_completes_and_is_logged_with_its_call_id(
    server: GatedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    client = client_on(server)
    task = asyncio.create_task(client.place_call(TO, "Confirm"))
    await in_thread(server.wait_for_requests, 1)
    task.cancel()
    for _ in range(50):
        await asyncio.sleep(0)
    assert not task.done()  # the POST is still in the server's hands: nothing is hidden yet
    server.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.aclose()
    assert server.methods == ["POST"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("call id c1" in message for message in warnings), warnings


async def test_a_placement_cancelled_before_a_thread_took_it_is_never_sent(server: GatedServer) -> None:
    client = client_on(server, max_workers=1)
    read = asyncio.create_task(client.get_call("c1"))  # holds the only thread
    await in_thread(server.wait_for_requests, 1)
    placing = asyncio.create_task(client.place_call(TO, "Confirm"))
    for _ in range(20):
        await asyncio.sleep(0)
    placing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await placing
    server.open_gate()
    await read
    await client.aclose()
    assert server.methods == ["GET"]


async def test_a_placement_whose_connection_drops_after_a_cancel_says_it_may_have_placed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    with gated_server(answer=lambda request: b"") as dropping:  # reads the POST, closes, no reply
        client = client_on(dropping)
        task = asyncio.create_task(client.place_call(TO, "Confirm"))
        await in_thread(dropping.wait_for_requests, 1)
        task.cancel()
        dropping.release()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("MAY have been placed" in message for message in warnings), warnings


# -- the pytest fixture on the FakeServer's driven clock ----------------------------------------


async def test_the_fixture_waits_on_the_fake_clock(byourside_async_client: AsyncClient) -> None:
    seen: list[str] = []
    placed = await byourside_async_client.place_call(TO, "Confirm the appointment")
    done = await byourside_async_client.wait_for_call(
        placed.call_id, on_status=lambda call: seen.append(call.status)
    )
    assert done.status == "completed"
    assert seen[0] == "queued"
    assert seen[-1] == "completed"


async def test_the_fixture_times_out_a_call_that_never_ends_at_once(
    byourside_async_client: AsyncClient,
) -> None:
    placed = await byourside_async_client.place_call("+14155550006", "Stay on the line")
    with pytest.raises(WaitTimeoutError) as caught:
        await byourside_async_client.wait_for_call(placed.call_id, timeout=60, interval=5)
    assert caught.value.code == "timeout"


async def test_get_and_list_through_the_fixture(byourside_async_client: AsyncClient) -> None:
    placed = await byourside_async_client.place_call(TO, "Confirm")
    call = await byourside_async_client.get_call(placed.call_id)
    assert isinstance(call, Call)
    assert [c.call_id for c in await byourside_async_client.list_calls(5)] == [placed.call_id]


async def test_a_refused_connection_is_a_network_error() -> None:
    async with AsyncClient(API_KEY, "http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(NetworkError) as caught:
            await client.get_call("c1")
    assert caught.value.code == "network_error"


async def test_call_cancelled_while_placing_completes_the_post_logs_the_id_and_never_polls(
    server: GatedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    client = client_on(server)
    task = asyncio.create_task(client.call(TO, "Confirm", interval=0.01))
    await in_thread(server.wait_for_requests, 1)
    task.cancel()
    server.open_gate()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.aclose()
    assert server.methods == ["POST"]  # no poll after the cancel
    assert any("call id c1" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_call_cancelled_while_waiting_logs_the_placed_id_and_polls_no_more(
    server: GatedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    server.open_gate()
    client = client_on(server)
    task = asyncio.create_task(client.call(TO, "Confirm", interval=0.01))
    await wait_until(lambda: server.count() >= 3, "a placement and two polls")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    at_cancel = server.count()
    await client.aclose()
    assert server.count() - at_cancel <= 1
    assert server.methods[0] == "POST"
    assert set(server.methods[1:]) == {"GET"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("call c1, which was placed" in message for message in warnings), warnings


@pytest.mark.skipif(not hasattr(asyncio, "timeout"), reason="asyncio.timeout is Python 3.11+")
async def test_asyncio_timeout_ends_a_held_get_call_with_timeout_error(server: GatedServer) -> None:
    client = client_on(server)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):  # type: ignore[attr-defined,unused-ignore]
            await client.get_call("c1")
    server.open_gate()
    await client.aclose()
    assert server.count() == 1


async def test_a_placement_cancelled_twice_still_waits_for_its_reply(
    server: GatedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="byourside")
    client = client_on(server)
    task = asyncio.create_task(client.place_call(TO, "Confirm"))
    await in_thread(server.wait_for_requests, 1)
    task.cancel()
    for _ in range(10):
        await asyncio.sleep(0)
    task.cancel()
    for _ in range(10):
        await asyncio.sleep(0)
    assert not task.done()
    server.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.aclose()
    assert any("call id c1" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_a_closed_client_still_works_as_a_closed_client_does(server: GatedServer) -> None:
    server.open_gate()
    client = client_on(server)
    await client.aclose()
    assert (await client.get_call("c1")).status == "in_progress"  # as Client after close()
    await client.aclose()
    assert server.count() == 1
