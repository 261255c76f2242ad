"""Shared by the AsyncClient tests: a raw-socket server that holds each reply until the test lets
it go, so a test can cancel a task while its request is in the server's hands, and count exactly
what arrived before and after."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import pytest

from byourside import Client
from byourside.testing import FakeServer
from tests.client_support import read_request

Answer = Callable[[bytes], bytes]
T = TypeVar("T")


def json_reply(status: int, body: object) -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + data


def default_answer(request: bytes) -> bytes:
    """A placement is queued as ``c1``; every read finds ``c1`` in progress."""
    if request.startswith(b"POST"):
        return json_reply(201, {"callId": "c1", "status": "queued"})
    if b" /v1/agent/calls?" in request.split(b"\r\n", 1)[0]:
        return json_reply(200, {"calls": []})
    return json_reply(200, {"id": "c1", "status": "in_progress"})


class GatedServer:
    """Reads each request whole, records it, then answers it only once `release()` was called
    (or at once after `open_gate()`). One connection a request (``Connection: close``)."""

    def __init__(self, answer: Answer = default_answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self._lock = threading.Condition()
        self._released = 0
        self._open = False
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def methods(self) -> list[str]:
        with self._lock:
            return [r.split(b" ", 1)[0].decode() for r in self.requests]

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def wait_for_requests(self, n: int, timeout: float = 30.0) -> None:
        """Block until `n` requests have been read (generous: the machine may be busy)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"expected {n} requests, got {len(self.requests)}")

    def release(self, n: int = 1) -> None:
        """Let `n` more held requests be answered."""
        with self._lock:
            self._released += n
            self._lock.notify_all()

    def open_gate(self) -> None:
        """Answer every request, held or future, at once."""
        with self._lock:
            self._open = True
            self._lock.notify_all()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                request = read_request(conn)
            except OSError:
                return
            if not request:
                return
            with self._lock:
                self.requests.append(request)
                self._lock.notify_all()
                self._lock.wait_for(lambda: self._open or self._released > 0 or self._stop.is_set())
                if not self._open and self._released > 0:
                    self._released -= 1
            try:
                conn.sendall(self.answer(request))
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.open_gate()
        self._acceptor.join(timeout=10)
        for thread in self._threads:
            thread.join(timeout=10)
        self._sock.close()


@contextmanager
def gated_server(answer: Answer = default_answer) -> Iterator[GatedServer]:
    server = GatedServer(answer)
    try:
        yield server
    finally:
        server.close()


# -- Client's blocking methods over an AsyncClient ------------------------------------------------


_SERVING: dict[int | None, int] = {}
"""The thread each BlockingAsyncClient's loop thread is running a blocking call for, meanwhile."""


def thread_served_by(thread: int | None) -> int | None:
    """`thread`, or, when it is a BlockingAsyncClient's loop thread in the middle of a blocking
    call, the thread that made the call (so what the loop logs is that caller's)."""
    return _SERVING.get(thread, thread)


class BlockingAsyncClient:
    """An `AsyncClient` behind `Client`'s blocking methods, for tests written against `Client`.

    Each method call runs the AsyncClient's coroutine on an event loop in a thread of its own and
    waits for it, so a test parametrized over both clients drives the AsyncClient's whole path
    (request building, its thread pool, the async retry and polling drivers, reply reading) with
    the test's own assertions. The test seams `_sleep` (a plain function here), `_clock` and
    `_retry_timing` are passed on, the sleep made awaitable.
    """

    _API = frozenset({"place_call", "get_call", "list_calls", "wait_for_call", "call"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from byourside import AsyncClient

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()
        try:
            self.wrapped: Any = AsyncClient(*args, **kwargs)
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        loop_thread = self._thread.ident
        _SERVING[loop_thread] = threading.get_ident()
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()
        finally:
            _SERVING.pop(loop_thread, None)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.wrapped, name)
        if name not in self._API:
            return value

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._run(value(*args, **kwargs))

        return blocking

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_sleep":
            sleep = value

            async def awaitable_sleep(seconds: float) -> None:
                sleep(seconds)

            setattr(self.wrapped, name, awaitable_sleep)
        elif name in ("_clock", "_retry_timing"):
            setattr(self.wrapped, name, value)
        else:
            object.__setattr__(self, name, value)

    def place_calls(self, *args: Any, **kwargs: Any) -> BlockingBatchRun:
        """The AsyncBatchRun of `AsyncClient.place_calls` behind `BatchRun`'s blocking face."""
        return BlockingBatchRun(self, self.wrapped.place_calls(*args, **kwargs))

    def close(self) -> None:
        self._run(self.wrapped.aclose())
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> BlockingAsyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockingBatchRun:
    """An AsyncBatchRun iterated from blocking code: each ``next`` awaits one result on the loop."""

    def __init__(self, owner: BlockingAsyncClient, run: Any) -> None:
        self._owner = owner
        self._run = run
        self._closed = False

    def __iter__(self) -> BlockingBatchRun:
        return self

    def __next__(self) -> Any:
        try:
            return self._owner._run(self._run.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def stop(self, *, wait: bool = True) -> None:
        self._run.stop(wait=wait)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner._run(self._run.aclose())

    def __del__(self) -> None:
        # Dropped unclosed: a BatchRun is closed by the collector then and there; an AsyncBatchRun
        # by its loop soon after. Closing here keeps the blocking face as prompt as BatchRun.
        if not self._closed and not self._owner._loop.is_closed():
            self.close()

    def __enter__(self) -> BlockingBatchRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


CLIENT_KINDS = ("Client", "AsyncClient")
"""The ids of a test parametrized over both clients."""


def make_either_client(kind: str, *args: Any, **kwargs: Any) -> Client:
    """A `Client`, or an `AsyncClient` behind Client's blocking methods (typed as a Client: the
    tests call only what both have)."""
    if kind == "Client":
        return Client(*args, **kwargs)
    return cast(Client, BlockingAsyncClient(*args, **kwargs))


def either_client_on_fake_server(kind: str, server: FakeServer) -> Iterator[Client]:
    """As the plugin's ``byourside_client``/``byourside_async_client``: waits move the server's
    fake clock; closed after the test."""
    client = make_either_client(kind, api_key=server.api_key, base_url=server.base_url)
    clock = server.clock
    client._sleep = server.advance
    client._clock = lambda: clock.now().timestamp()
    with client:
        yield client


# -- a whole test module over both clients --------------------------------------------------------

_current_kind = ["Client"]


def current_client_kind() -> str:
    """The client kind `each_client_kind` set for the running test ("Client" outside one)."""
    return _current_kind[0]


@pytest.fixture(params=CLIENT_KINDS)
def each_client_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once per client: helpers that build their client with `make_current_client`
    (the reliability suite's `driven_client`) build a Client, then an AsyncClient behind Client's
    blocking calls. A module opts in with ``pytestmark = pytest.mark.usefixtures("each_client_kind")``
    and by importing this fixture."""
    _current_kind[0] = request.param
    try:
        yield request.param
    finally:
        _current_kind[0] = "Client"


def make_current_client(*args: Any, **kwargs: Any) -> Client:
    """A client of the kind the running test is parametrized with (see `each_client_kind`)."""
    return make_either_client(current_client_kind(), *args, **kwargs)
