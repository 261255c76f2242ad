"""Per-request options on both clients, checked on the wire: the extra headers the server receives,
the per-request timeout the exchange actually used (a held reply read-times-out only with it), and
`extra_headers` never reaching the key (refused before any request, the key still sent).

Every test runs once with `Client` and once with `AsyncClient` (behind Client's blocking calls,
see `tests.async_support.BlockingAsyncClient`), on a raw-socket server that holds each reply until
the test releases it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from byourside import Client, InvalidRequestError, NetworkError
from tests.async_support import GatedServer, each_client_kind, gated_server, json_reply, make_current_client
from tests.client_support import API_KEY, TO

pytestmark = pytest.mark.usefixtures("each_client_kind")
__all__ = ["each_client_kind"]  # the fixture, imported for pytest

def ended_answer(request: bytes) -> bytes:
    """Placements are queued as ``c1``; every read finds it completed (waits end at once)."""
    if request.startswith(b"POST"):
        return json_reply(201, {"callId": "c1", "status": "queued"})
    if b" /v1/agent/calls?" in request.split(b"\r\n", 1)[0]:
        return json_reply(200, {"calls": []})
    return json_reply(200, {"id": "c1", "status": "completed"})


@pytest.fixture
def server() -> Iterator[GatedServer]:
    with gated_server(ended_answer) as gated:
        yield gated


@pytest.fixture
def client(server: GatedServer) -> Iterator[Client]:
    with make_current_client(API_KEY, server.url, timeout=(5.0, 60.0), max_retries=0) as made:
        yield made


# Each public method, called with its per-request options: `timeout=` on the single requests,
# `request_timeout=` on the waits (whose `timeout` is the wait's deadline).
CALLS: dict[str, Callable[[Client, dict[str, Any]], object]] = {
    "place_call": lambda c, o: c.place_call(TO, "Confirm", timeout=o.get("t"), extra_headers=o.get("h")),
    "get_call": lambda c, o: c.get_call("c1", timeout=o.get("t"), extra_headers=o.get("h")),
    "list_calls": lambda c, o: c.list_calls(5, timeout=o.get("t"), extra_headers=o.get("h")),
    "wait_for_call": lambda c, o: c.wait_for_call(
        "c1", 60, 0.01, request_timeout=o.get("t"), extra_headers=o.get("h")
    ),
    "call": lambda c, o: c.call(
        TO, "Confirm", timeout=60, interval=0.01, request_timeout=o.get("t"), extra_headers=o.get("h")
    ),
    "place_calls": lambda c, o: list(
        c.place_calls(
            [{"to": TO, "objective": "Confirm"}],
            wait=False,
            request_timeout=o.get("t"),
            extra_headers=o.get("h"),
        )
    ),
}


def header_values(request: bytes, name: str) -> list[str]:
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    found = []
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            found.append(value.strip())
    return found


@pytest.mark.parametrize("method", list(CALLS))
def test_extra_headers_go_out_on_every_request_of_every_method(
    method: str, client: Client, server: GatedServer
) -> None:
    server.open_gate()
    CALLS[method](client, {"h": {"X-Trace-Id": "trace-42", "User-Agent": "my-app/1.0"}})

    assert server.requests
    for request in server.requests:
        assert header_values(request, "X-Trace-Id") == ["trace-42"]
        assert header_values(request, "User-Agent") == ["my-app/1.0"]  # documented: replaceable
        assert header_values(request, "Authorization") == [f"Bearer {API_KEY}"]
        assert header_values(request, "Accept") == ["application/json"]


def test_without_extra_headers_the_sdks_own_headers_go_out(client: Client, server: GatedServer) -> None:
    server.open_gate()
    client.list_calls()
    (request,) = server.requests
    assert header_values(request, "User-Agent")[0].startswith("byourside/")
    assert header_values(request, "X-Trace-Id") == []


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
@pytest.mark.parametrize("method", list(CALLS))
def test_extra_headers_can_neither_replace_nor_add_authorization(
    method: str, name: str, client: Client, server: GatedServer
) -> None:
    server.open_gate()
    with pytest.raises(InvalidRequestError) as raised:
        CALLS[method](client, {"h": {name: "Bearer bys_ak_someone_else"}})
    assert raised.value.code == "invalid_extra_headers"
    assert "Authorization" in str(raised.value)
    assert "bys_ak_someone_else" not in str(raised.value)
    assert server.count() == 0  # refused before any request

    client.list_calls()  # the key still goes out, unchanged
    assert header_values(server.requests[0], "Authorization") == [f"Bearer {API_KEY}"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"content-type": "text/plain"},
        {"Content-Length": "0"},
        {"Transfer-Encoding": "chunked"},
        {"Connection": "close"},
        {"Expect": "100-continue"},
        {"Accept": "text/html"},
        {"X-Bad\r\nInjected": "1"},
        {"X-Bad Name": "1"},
        {"": "1"},
        {"X-Value": "a\r\nInjected: 1"},
        {"X-Value": "a\nb"},
        {"X-Value": "nul\x00"},
        {"X-Value": " leading"},
        {"X-Value": "caf\u00e9"},
        {"X-Value": 5},
        {5: "five"},
        {"X-Twice": "1", "x-twice": "2"},
        [("X-Trace-Id", "1")],
        "X-Trace-Id: 1",
    ],
)
def test_malformed_or_owned_extra_headers_are_refused_before_any_request(
    headers: object, client: Client, server: GatedServer
) -> None:
    assert refusals_by_every_method(client, {"h": headers}) == {"invalid_extra_headers"}
    assert server.count() == 0


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), (1, 0), (1, 2, 3), "5", True])
def test_a_bad_per_request_timeout_is_refused_before_any_request(
    timeout: object, client: Client, server: GatedServer
) -> None:
    assert refusals_by_every_method(client, {"t": timeout}) == {"invalid_timeout"}
    assert server.count() == 0


def refusals_by_every_method(client: Client, options: dict[str, Any]) -> set[str | None]:
    """The codes of the `InvalidRequestError` (status 0) each method raised for `options`."""
    codes: set[str | None] = set()
    for method in CALLS.values():
        with pytest.raises(InvalidRequestError) as raised:
            method(client, options)
        assert raised.value.status == 0
        codes.add(raised.value.code)
    return codes


def test_the_extra_headers_are_copied_when_the_method_is_called(client: Client, server: GatedServer) -> None:
    headers = {"X-Trace-Id": "first"}
    done = threading.Event()

    def place() -> None:
        client.place_call(TO, "Confirm", extra_headers=headers)
        done.set()

    worker = threading.Thread(target=place)
    worker.start()
    server.wait_for_requests(1)
    headers["X-Trace-Id"] = "changed"
    server.release()
    worker.join(timeout=60)
    assert done.is_set()
    assert header_values(server.requests[0], "X-Trace-Id") == ["first"]


# -- the per-request timeout, by outcome: the server holds the reply until the test lets it go ----


@pytest.mark.parametrize("method", list(CALLS))
def test_the_per_request_timeout_is_the_one_the_exchange_uses(
    method: str, client: Client, server: GatedServer
) -> None:
    # With a read timeout of 0.2 s, a reply held until the client gave up is a read timeout...
    error = network_failure(CALLS[method], client, {"t": (5, 0.2)})
    assert "read timeout" in str(error)
    held = server.count()  # a batch also asks list_calls about its unknown placement
    assert held >= 1
    server.release(held)  # the held replies go to a client that is no longer reading

    # ... while with the client's own (60 s) the same held reply, released, is read.
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(CALLS[method](client, {})))
    worker.start()
    server.wait_for_requests(held + 1)
    server.open_gate()
    worker.join(timeout=60)
    assert outcome, "the call without the option did not return"
    if method == "place_calls":
        batch = outcome[0]
        assert isinstance(batch, list)
        assert [result.error for result in batch] == [None]


def network_failure(
    method: Callable[[Client, dict[str, Any]], object], client: Client, options: dict[str, Any]
) -> NetworkError:
    """The NetworkError a method raised, or, for a batch, the one its only result carries."""
    try:
        results = method(client, options)
    except NetworkError as error:
        return error
    assert isinstance(results, list)
    (result,) = results
    assert isinstance(result.error, NetworkError), result
    return result.error


def test_the_readme_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from byourside.testing import FakeServer
    from tests.readme_support import blocks

    (example,) = [b for b in blocks("Timeouts and reply size", "python") if "with_options" in b]
    with FakeServer(instant=True) as fake:
        monkeypatch.setenv("BYOURSIDE_API_KEY", fake.api_key)
        monkeypatch.setenv("BYOURSIDE_BASE_URL", fake.base_url)
        exec(compile(example, "README.md", "exec"), {})  # noqa: S102 (the README's own example)


def test_a_waits_request_timeout_is_still_cut_to_the_time_the_wait_has_left(
    client: Client, server: GatedServer
) -> None:
    from byourside import WaitTimeoutError

    with pytest.raises(WaitTimeoutError) as raised:  # the held poll ends with the wait, not in 60 s
        client.wait_for_call("c1", 0.5, 0.01, request_timeout=(5, 60))
    assert raised.value.code == "timeout"
    assert raised.value.call_id == "c1"
    assert server.count() == 1
