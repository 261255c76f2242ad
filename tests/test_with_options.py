"""`with_options` on both clients: a new client for the options given, the original untouched, the
connection pool shared (seen by the server: requests of both on one kept-alive connection), and
closing the derived client leaving the pool to the original."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import Iterator

import pytest

from byourside import AsyncClient, ByoursideError, Client, InvalidRequestError
from tests.async_support import GatedServer, gated_server, json_reply
from tests.client_support import API_KEY, read_request


class KeepAliveServer(GatedServer):
    """Answers every request at once with an empty call list on a kept-alive connection, and
    records the number of the connection (0, 1, ...) each request came on."""

    def __init__(self) -> None:
        self.connections: list[int] = []
        self._accepted = itertools.count()
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        number = next(self._accepted)
        body = json.dumps({"calls": []}).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        with conn:
            conn.settimeout(30)
            while not self._stop.is_set():
                try:
                    if not read_request(conn):
                        return
                    self.connections.append(number)
                    conn.sendall(head.encode() + body)
                except OSError:
                    return


@pytest.fixture
def keep_alive() -> Iterator[KeepAliveServer]:
    server = KeepAliveServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def server() -> Iterator[GatedServer]:
    with gated_server() as gated:
        gated.open_gate()
        yield gated


def test_derived_client_shares_the_pool_and_closing_it_leaves_the_pool_to_the_original(
    keep_alive: KeepAliveServer,
) -> None:
    client = Client(API_KEY, keep_alive.url, timeout=(5.0, 30.0))
    client.list_calls()
    derived = client.with_options(timeout=20)
    derived.list_calls()
    derived.close()
    client.list_calls()  # still on the first connection: the derived client did not close it
    client.close()
    client.list_calls()  # the original's close did close the pool: a new connection
    client.close()
    assert keep_alive.connections == [0, 0, 0, 1]


def test_derived_async_client_shares_the_pool_and_threads_and_closing_it_leaves_them(
    keep_alive: KeepAliveServer,
) -> None:
    async def scenario() -> None:
        client = AsyncClient(API_KEY, keep_alive.url, timeout=(5.0, 30.0), max_workers=3)
        await client.list_calls()
        threads = client._transport._pool
        derived = client.with_options(timeout=20)
        assert derived.max_workers == 3
        await derived.list_calls()
        await derived.aclose()
        await client.list_calls()
        assert client._transport._pool is threads  # not shut down (and so not replaced)
        assert derived._transport._pool_owner is client._transport
        await client.aclose()
        await client.list_calls()
        await client.aclose()

    asyncio.run(scenario())
    assert keep_alive.connections == [0, 0, 0, 1]


@pytest.mark.parametrize("kind", [Client, AsyncClient])
def test_with_options_returns_a_new_client_and_leaves_the_original_untouched(
    kind: type[Client] | type[AsyncClient],
) -> None:
    client = kind(API_KEY, "http://127.0.0.1:8080", timeout=(10, 60), max_retries=2)
    derived = client.with_options(timeout=(1, 2), max_retries=0, base_url="https://api.example.com/")
    assert type(derived) is kind
    assert derived is not client
    assert (derived.timeout, derived.max_retries, derived.base_url) == (
        (1.0, 2.0),
        0,
        "https://api.example.com",
    )
    assert (client.timeout, client.max_retries, client.base_url) == ((10.0, 60.0), 2, "http://127.0.0.1:8080")
    assert derived._min_interval > client._min_interval == 0  # not loopback: the service's floor

    same = client.with_options()  # every option inherited
    assert same is not client
    assert (same.timeout, same.max_retries, same.base_url) == (client.timeout, 2, client.base_url)
    assert client.with_options(timeout=7).timeout == (7.0, 7.0)
    assert client.with_options(max_retries=5).timeout == (10.0, 60.0)


@pytest.mark.parametrize("kind", [Client, AsyncClient])
@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"timeout": 0}, "invalid_timeout"),
        ({"timeout": (1, float("nan"))}, "invalid_timeout"),
        ({"max_retries": -1}, "invalid_max_retries"),
        ({"max_retries": 1.5}, "invalid_max_retries"),
        ({"base_url": "http://api.example.com"}, "insecure_base_url"),
        ({"base_url": "ftp://api.example.com"}, "insecure_base_url"),
        ({"base_url": "https://api.byourside.ai/v1"}, "invalid_base_url"),
    ],
)
def test_with_options_checks_each_option_as_the_constructor_does(
    kind: type[Client] | type[AsyncClient], options: dict[str, object], code: str
) -> None:
    client = kind(API_KEY, "http://127.0.0.1:8080")
    with pytest.raises(InvalidRequestError) as raised:
        client.with_options(**options)  # type: ignore[arg-type]
    assert raised.value.code == code
    with pytest.raises(InvalidRequestError) as from_constructor:
        kind(API_KEY, options.get("base_url", "http://127.0.0.1:8080"), **{  # type: ignore[arg-type]
            k: v for k, v in options.items() if k != "base_url"
        })
    assert from_constructor.value.code == code
    assert (client.timeout, client.max_retries) == ((10.0, 60.0), 2)


def test_each_client_sends_to_its_own_base_url_with_its_own_retries(server: GatedServer) -> None:
    with gated_server(lambda _: json_reply(503, {"error": "server_error"})) as failing:
        failing.open_gate()
        client = Client(API_KEY, failing.url, timeout=(5.0, 30.0), max_retries=2)
        client._sleep = lambda _: None  # retry waits not slept; the derived client inherits it
        derived = client.with_options(base_url=server.url, max_retries=0)
        derived.list_calls()
        assert server.count() == 1
        assert failing.count() == 0
        quick = client.with_options(max_retries=0)
        with pytest.raises(ByoursideError) as once:
            quick.list_calls()
        assert once.value.status == 503
        assert failing.count() == 1  # no retry
        with pytest.raises(ByoursideError) as thrice:
            client.list_calls()
        assert thrice.value.status == 503
        assert failing.count() == 4  # the original's two retries
        client.close()


def test_async_derived_client_sends_to_its_own_base_url(server: GatedServer) -> None:
    async def scenario() -> None:
        async with AsyncClient(API_KEY, "http://127.0.0.1:9", max_retries=0) as client:
            derived = client.with_options(base_url=server.url)
            await derived.list_calls()
            await derived.get_call("c1")

    asyncio.run(scenario())
    assert server.methods == ["GET", "GET"]
