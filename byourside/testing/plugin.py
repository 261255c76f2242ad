"""pytest fixtures for code that uses byourside, installed with the package (entry point ``pytest11``).

* ``byourside_server``: a started `byourside.testing.FakeServer` per test, on a `FakeClock`
  (move time with ``byourside_server.advance(seconds)``; calls ring 0.5 s and talk 1.5 s of it)
  and with failed webhooks redelivered at once.
* ``byourside_client``: a `byourside.Client` on that server, with its key. Its waits and retry
  pauses move the fake clock instead of sleeping, and its deadlines count fake seconds, so
  ``wait_for_call`` returns at once and a call that never ends times out at once.
* ``byourside_async_client``: a `byourside.AsyncClient` on that server, its waits moving the fake
  clock in the same way (each wait also yields to the event loop once). The fixture itself is
  synchronous, so it serves ``async def`` tests under pytest-asyncio (``@pytest.mark.asyncio``)
  and under anyio's plugin (``@pytest.mark.anyio``, asyncio backend) alike.

Pass any `FakeServer` argument with a marker::

    @pytest.mark.byourside_server(minute_cap=1, owned_numbers=["+14155550100"])
    def test_cap(byourside_client): ...

Importing this module starts nothing and imports nothing heavy: pytest loads it in every run of
every project that has byourside installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from byourside._async_client import AsyncClient
    from byourside.client import Client
    from byourside.testing import FakeServer

__all__ = ["byourside_async_client", "byourside_client", "byourside_server"]

_MARKER = "byourside_server"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``byourside_server`` marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers", f"{_MARKER}(**kwargs): FakeServer arguments for the byourside_server fixture"
    )


@pytest.fixture
def byourside_server(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    """A started FakeServer on a FakeClock, stopped after the test."""
    from byourside.testing import FakeClock, FakeServer

    options: dict[str, Any] = {"clock": FakeClock(), "webhook_retry_delays": (0.0, 0.0, 0.0)}
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    with FakeServer(**options) as server:
        yield server


@pytest.fixture
def byourside_client(byourside_server: FakeServer) -> Iterator[Client]:
    """A Client on ``byourside_server`` whose waits move the server's fake clock, closed after the test."""
    from byourside.client import Client

    clock = byourside_server.clock
    with Client(api_key=byourside_server.api_key, base_url=byourside_server.base_url) as client:
        # The Client reads time through these two seams, meant for tests (see its constructor).
        client._sleep = byourside_server.advance
        client._clock = lambda: clock.now().timestamp()
        yield client


@pytest.fixture
def byourside_async_client(byourside_server: FakeServer) -> Iterator[AsyncClient]:
    """An AsyncClient on ``byourside_server`` whose waits move the server's fake clock.

    Example::

        @pytest.mark.anyio
        async def test_confirms(byourside_async_client):
            done = await byourside_async_client.call("+14155550123", "Confirm the booking")
            assert done.status == "completed"
    """
    import asyncio

    from byourside._async_client import AsyncClient

    clock = byourside_server.clock

    async def advance(seconds: float) -> None:
        byourside_server.advance(seconds)
        await asyncio.sleep(0)  # a real wait lets other tasks run; so does this one

    client = AsyncClient(api_key=byourside_server.api_key, base_url=byourside_server.base_url)
    # The AsyncClient reads time through these two seams, meant for tests (see its constructor).
    client._sleep = advance
    client._clock = lambda: clock.now().timestamp()
    try:
        yield client
    finally:
        # The test's event loop may be gone by now: close without one (waits for any thread).
        client._transport.close()
