"""Connections that fail, against raw sockets on 127.0.0.1: a placement that may have reached the
service is sent exactly once; one that never left is retried; the wait deadline bounds reads."""

from __future__ import annotations

import json
import sys
import time

import pytest

from byourside import Client, NetworkError, WaitTimeoutError
from tests.client_support import API_KEY, TO, Sleeps, raw_server, refused_url, unanswered_connect_url


def client_on(
    url: str, sleeps: Sleeps | None = None, *, timeout: tuple[float, float] = (1.0, 1.0), max_retries: int = 2
) -> Client:
    client = Client(API_KEY, url, timeout=timeout, max_retries=max_retries)
    if sleeps is not None:
        client._sleep = sleeps
    return client


@pytest.mark.parametrize("max_retries", [0, 2, 5])
def test_exactly_one_post_after_a_dropped_connection(max_retries: int) -> None:
    sleeps = Sleeps()
    with raw_server("drop") as server:
        with pytest.raises(NetworkError) as caught:
            client_on(server.url, sleeps, max_retries=max_retries).place_call(
                TO, "Confirm", fields=[{"name": "ok"}]
            )
        assert server.methods == ["POST"]
        body = server.requests[0].partition(b"\r\n\r\n")[2]
        assert json.loads(body)["to"] == TO  # the whole request reached the other end
    error = caught.value
    assert (error.code, error.status, error.may_have_placed) == ("network_error", 0, True)
    assert "list_calls()" in error.message
    assert sleeps.waits == []


def test_exactly_one_post_after_a_read_timeout() -> None:
    with raw_server("silent") as server:
        with pytest.raises(NetworkError) as caught:
            client_on(server.url, Sleeps(), timeout=(1.0, 0.2)).place_call(TO, "Confirm")
        assert server.methods == ["POST"]
    assert caught.value.may_have_placed is True
    assert "read timeout" in caught.value.message


def test_a_get_after_a_dropped_connection_is_retried() -> None:
    sleeps = Sleeps()
    with raw_server("drop") as server:
        with pytest.raises(NetworkError) as caught:
            client_on(server.url, sleeps).get_call("c1")
        assert server.methods == ["GET"] * 3
    assert caught.value.may_have_placed is False
    assert len(sleeps.waits) == 2


def test_a_get_after_a_read_timeout_is_retried() -> None:
    with raw_server("silent") as server:
        with pytest.raises(NetworkError):
            client_on(server.url, Sleeps(), timeout=(1.0, 0.1), max_retries=1).list_calls()
        assert server.methods == ["GET", "GET"]


def test_a_refused_connection_is_retried_then_not_placed() -> None:
    sleeps = Sleeps()
    with pytest.raises(NetworkError) as caught:
        client_on(refused_url(), sleeps).place_call(TO, "Confirm")
    error = caught.value
    assert (error.code, error.status, error.may_have_placed) == ("network_error", 0, False)
    assert "list_calls()" not in error.message
    assert len(sleeps.waits) == 2  # three attempts: nothing left this machine, so retrying is safe


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs past a full backlog")
def test_a_connect_timeout_is_retried_then_not_placed() -> None:
    sleeps = Sleeps()
    with unanswered_connect_url() as url, pytest.raises(NetworkError) as caught:
        client_on(url, sleeps, timeout=(0.1, 1.0)).place_call(TO, "Confirm")
    assert caught.value.may_have_placed is False
    assert "connect timeout" in caught.value.message
    assert len(sleeps.waits) == 2


def test_the_wait_deadline_cuts_a_read_that_never_ends() -> None:
    # The read timeout (30 s) is far longer than the wait: the wait must shrink it to what is left.
    with raw_server("silent") as server:
        client = client_on(server.url, timeout=(5.0, 30.0))
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as caught:
            client.wait_for_call("c1", timeout=0.5, interval=0.05)
        elapsed = time.monotonic() - started
        assert server.methods[0] == "GET"
    assert (caught.value.code, caught.value.status) == ("timeout", 0)
    # Within the deadline plus one (cut) read, nowhere near the 30 s read timeout.
    assert elapsed < 0.5 + 5.0
    assert isinstance(caught.value.__cause__, NetworkError)


def test_the_wait_deadline_with_no_retries_left_is_still_a_timeout() -> None:
    with raw_server("silent") as server:
        client = client_on(server.url, timeout=(5.0, 30.0), max_retries=0)
        with pytest.raises(WaitTimeoutError):
            client.wait_for_call("c1", timeout=0.3, interval=0.05)
