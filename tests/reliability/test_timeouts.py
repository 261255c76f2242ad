"""Connect and read timeouts are enforced, and a server that stops answering cannot hold
`wait_for_call` past its deadline by more than one read timeout.

Real time, real sockets on 127.0.0.1. The bounds asserted are generous upper limits (a deadline
plus one read timeout, the promise), never how fast a machine is: a request that ignored its
timeout would hang for the server's 30 s and fail them by far.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable

import pytest

from byourside import ByoursideError, NetworkError, WaitTimeoutError
from tests.async_support import each_client_kind, make_current_client  # noqa: F401 - the fixture
from tests.client_support import unanswered_connect_url
from tests.reliability.support import (
    API_KEY,
    INSTANT_RETRIES,
    SILENCE,
    Responder,
    ScriptedServer,
    assert_secret_free,
    http_reply,
)

TO = "+14155550123"

# Every test here runs on Client, then on AsyncClient behind Client's blocking calls.
pytestmark = pytest.mark.usefixtures("each_client_kind")


def in_progress(call_id: str = "c1") -> bytes:
    return http_reply(200, json.dumps({"id": call_id, "status": "in_progress"}).encode())


def silent_after(answers: int, released: threading.Event) -> Responder:
    """A responder that answers `in_progress` to the first `answers` requests, then never again."""
    count = 0
    lock = threading.Lock()

    def respond(conn: socket.socket) -> None:
        nonlocal count
        with lock:
            count += 1
            answer = count <= answers
        if answer:
            conn.sendall(in_progress())
        else:
            released.wait(SILENCE)

    return respond


def timed(action: Callable[[], object]) -> tuple[float, ByoursideError | None]:
    """How long `action` took, and the error it raised (None when it returned)."""
    started = time.monotonic()
    try:
        action()
    except ByoursideError as error:
        assert_secret_free(error)
        return time.monotonic() - started, error
    return time.monotonic() - started, None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_read_timeout_is_enforced(server: ScriptedServer, released: threading.Event, method: str) -> None:
    server.respond(silent_after(0, released))
    read_timeout = 0.3
    with make_current_client(API_KEY, server.url, timeout=(5.0, read_timeout), max_retries=2) as client:
        client._retry_timing = INSTANT_RETRIES  # only the read timeouts take time
        if method == "GET":
            elapsed, error = timed(lambda: client.get_call("c1"))
        else:
            elapsed, error = timed(lambda: client.place_call(TO, "Confirm the appointment"))
    assert isinstance(error, NetworkError)
    assert "read timeout" in error.message
    attempts = 3 if method == "GET" else 1  # a placement that may have arrived is never resent
    assert len(server.requests) == attempts
    assert error.may_have_placed is (method == "POST")
    assert attempts * read_timeout <= elapsed < attempts * read_timeout + SILENCE / 3


def test_a_body_that_stops_halfway_times_out_too(server: ScriptedServer, released: threading.Event) -> None:
    def respond(conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id": "c1", ')
        released.wait(SILENCE)

    server.respond(respond)
    with make_current_client(API_KEY, server.url, timeout=(5.0, 0.3), max_retries=0) as client:
        elapsed, error = timed(lambda: client.get_call("c1"))
    assert isinstance(error, NetworkError)
    assert "read timeout" in error.message
    assert elapsed < SILENCE / 3


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs past a full backlog")
def test_a_connect_timeout_is_enforced_and_nothing_was_sent() -> None:
    with (
        unanswered_connect_url() as url,
        make_current_client(API_KEY, url, timeout=(0.3, SILENCE), max_retries=1) as client,
    ):
        elapsed, error = timed(lambda: client.place_call(TO, "Confirm the appointment"))
    assert isinstance(error, NetworkError)
    assert "connect timeout" in error.message
    assert error.may_have_placed is False  # nothing left this machine, so it was retried once
    assert 2 * 0.3 <= elapsed < SILENCE / 3


@pytest.mark.parametrize(
    ("wait", "read_timeout", "answers"),
    [
        (0.6, 30.0, 0),  # silent from the start; the read timeout is far longer than the wait
        (0.6, 0.25, 0),  # silent from the start; reads time out and are retried within the wait
        (1.0, 30.0, 2),  # answers two polls, then goes silent
    ],
)
def test_a_silent_server_cannot_hold_wait_for_call_past_its_deadline(
    server: ScriptedServer, released: threading.Event, wait: float, read_timeout: float, answers: int
) -> None:
    server.respond(silent_after(answers, released))
    with make_current_client(API_KEY, server.url, timeout=(5.0, read_timeout)) as client:
        elapsed, error = timed(lambda: client.wait_for_call("c1", timeout=wait, interval=0.2))
    assert isinstance(error, WaitTimeoutError)
    assert (error.code, error.status) == ("timeout", 0)
    assert len(server.requests) > answers
    # The promise: past the deadline by no more than one read timeout (the SDK cuts each read
    # to the time left, so in practice by far less). It may end sooner: when the backoff before
    # the next retry would pass the deadline, it gives up at once rather than sleep past it.
    assert elapsed < wait + min(read_timeout, 1.0)


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs past a full backlog")
def test_a_server_that_never_accepts_cannot_hold_wait_for_call_either() -> None:
    with (
        unanswered_connect_url() as url,
        make_current_client(API_KEY, url, timeout=(SILENCE, SILENCE)) as client,
    ):
        elapsed, error = timed(lambda: client.wait_for_call("c1", timeout=0.6, interval=0.2))
    assert isinstance(error, WaitTimeoutError)
    assert 0.6 <= elapsed < 0.6 + 1.0
