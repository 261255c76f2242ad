"""The fault proxy itself: each fault delivers the bytes it promises, and the server hears of the
request exactly when the fault says it does (raw sockets on both sides, no SDK)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from byourside.testing import FakeServer
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.proxy_faults import FAULT_KINDS, PASS, VARIANTS, Fault, MessageStream
from tests.reliability.support import API_KEY

TO = "+12125550123"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(instant=True, api_key=API_KEY) as fake:
        yield fake


def placement(to: str = TO) -> bytes:
    body = json.dumps({"to": to, "objective": "Confirm the appointment"}).encode()
    head = (
        f"POST /v1/agent/calls HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def through(server: FakeServer, fault: Fault, *requests: bytes) -> tuple[bytes, int, float]:
    """Send `requests` (default: one placement) through a proxy whose every exchange meets
    `fault`, and close the sending side; what the client read until the proxy closed, the POSTs
    the server received, and the seconds until the first byte (or the end)."""
    before = sum(1 for r in server.requests if r.method == "POST")
    proxy = FaultProxy(server.base_url, lambda _: fault)
    port = int(proxy.url.rsplit(":", 1)[1])
    received = b""
    started = time.monotonic()
    first = None
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"".join(requests or (placement(),)))
        # The proxy closes once it has answered everything. A reset fault may already have reset
        # the connection (ENOTCONN here); what it sent before the reset is still read below.
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)
        client.settimeout(10)
        try:
            while chunk := client.recv(65536):
                first = first or time.monotonic()
                received += chunk
        except ConnectionResetError:
            received += b"<RST>"
    assert proxy.close(), "the proxy did not drain"
    posts = sum(1 for r in server.requests if r.method == "POST") - before
    return received, posts, (first or time.monotonic()) - started


def status_lines(data: bytes) -> list[bytes]:
    """Every status line in `data`, wherever it starts (a stray reply follows a body directly)."""
    return re.findall(rb"HTTP/1\.1 [0-9]{3} [^\r]*", data)


def test_a_clean_exchange_is_the_servers_reply(server: FakeServer) -> None:
    received, posts, _ = through(server, PASS)
    assert posts == 1
    assert status_lines(received) == [b"HTTP/1.1 201 Created"]
    assert json.loads(received.partition(b"\r\n\r\n")[2])["callId"].startswith("call_")


@pytest.mark.parametrize("variant", VARIANTS["interim"])
def test_interim_replies_come_before_the_real_one(server: FakeServer, variant: str) -> None:
    received, posts, _ = through(server, Fault("interim", variant, gap=0.01))
    codes = variant.split()[0].split("+")
    assert posts == 1
    assert status_lines(received)[:-1] == [f"HTTP/1.1 {c} ".encode() + _REASONS[c] for c in codes]
    assert status_lines(received)[-1] == b"HTTP/1.1 201 Created"
    assert (b"Link: </calls.css>" in received) == ("headers" in variant)


_REASONS = {"100": b"Continue", "102": b"Processing", "103": b"Early Hints"}


@pytest.mark.parametrize(
    "fault", [Fault("trickle", "pieces", gap=0.001, pieces=7), Fault("trickle", "head bytewise")]
)
def test_a_trickled_reply_is_the_whole_reply(server: FakeServer, fault: Fault) -> None:
    clean, _, _ = through(server, PASS)
    received, posts, _ = through(server, fault)
    assert posts == 1
    assert len(received) == len(clean)
    assert received.partition(b"\r\n\r\n")[0].split(b"\r\n")[0] == b"HTTP/1.1 201 Created"


@pytest.mark.parametrize("rst", [False, True])
@pytest.mark.parametrize("variant", VARIANTS["reset"])
def test_a_reset_ends_the_reply_where_it_says(server: FakeServer, variant: str, rst: bool) -> None:
    received, posts, _ = through(server, Fault("reset", variant, rst=rst, cut=0.5))
    data = received.removesuffix(b"<RST>")
    assert posts == (0 if variant == "before_forward" else 1)
    if variant in ("before_forward", "before_reply"):
        assert data == b""
    elif variant == "mid_status":
        assert data
        assert b"HTTP/1.1 201 Created".startswith(data)
    elif variant == "mid_headers":
        assert data.startswith(b"HTTP/1.1 201 Created\r\n")
        assert b"\r\n\r\n" not in data
    else:
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(v for k, v in (h.split(b": ", 1) for h in head.split(b"\r\n")[1:]) if k == b"Content-Length")
        )
        assert 0 < len(body) < length


@pytest.mark.parametrize("variant", VARIANTS["garble"])
def test_a_garbled_2xx_still_says_2xx(server: FakeServer, variant: str) -> None:
    received, posts, _ = through(server, Fault("garble", variant, cut=0.6))
    head, _, body = received.partition(b"\r\n\r\n")
    assert posts == 1
    assert head.startswith(b"HTTP/1.1 201 Created")
    declared = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    if variant == "short_length":
        assert declared > len(body)
    else:
        assert declared == len(body)
    if variant == "bad_gzip":
        assert b"Content-Encoding: gzip" in head  # and the body is not gzip
    assert readable_placement(body) == (variant in ("short_length", "bad_gzip"))


def readable_placement(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("callId"), str)


def test_a_stray_reply_follows_the_real_one(server: FakeServer) -> None:
    received, posts, _ = through(server, Fault("stray", "again"))
    assert posts == 1
    assert status_lines(received) == [b"HTTP/1.1 201 Created"] * 2
    # "other": the second exchange's reply is followed by the first's (the first, with no
    # reply before it, by its own).
    received, posts, _ = through(server, Fault("stray", "other"), placement(), placement("+12125550126"))
    ids = re.findall(rb"call_[0-9a-f]+", received)
    assert posts == 2
    assert len(ids) == 4
    assert ids[0] == ids[1] == ids[3] != ids[2]


@pytest.mark.parametrize("variant", VARIANTS["refuse"])
def test_a_refusal_never_reaches_the_server(server: FakeServer, variant: str) -> None:
    received, posts, _ = through(server, Fault("refuse", variant))
    assert posts == 0
    assert json.loads(received.partition(b"\r\n\r\n")[2]) == {"error": variant}


@pytest.mark.parametrize("variant", VARIANTS["gateway"])
def test_a_gateway_page_replaces_a_reply_the_server_made(server: FakeServer, variant: str) -> None:
    received, posts, _ = through(server, Fault("gateway", variant))
    assert posts == 1
    assert status_lines(received)[0].split()[1] in (b"502", b"504")


@pytest.mark.parametrize("variant", VARIANTS["idle_close"])
def test_an_idle_close_follows_a_whole_reply(server: FakeServer, variant: str) -> None:
    clean, _, _ = through(server, PASS)
    received, posts, _ = through(server, Fault("idle_close", variant, rst=variant == "rst"))
    assert posts == 1
    assert len(received.removesuffix(b"<RST>")) == len(clean)


@pytest.mark.parametrize("variant", VARIANTS["stall"])
def test_a_stall_holds_the_reply(server: FakeServer, variant: str) -> None:
    received, posts, waited = through(server, Fault("stall", variant, gap=0.2))
    assert posts == 1
    assert waited >= 0.2
    assert (received == b"") == (variant == "silent")


def test_pipelined_requests_are_each_an_exchange_and_all_reach_the_server(server: FakeServer) -> None:
    # What a desynchronised client does: its next request goes out before the last reply is read.
    received, posts, _ = through(server, PASS, placement("+12125550124"), placement("+12125550125"))
    assert posts == 2
    assert status_lines(received) == [b"HTTP/1.1 201 Created"] * 2


def test_every_kind_has_variants_and_the_stream_reads_messages_one_at_a_time() -> None:
    assert set(VARIANTS) == {*FAULT_KINDS, "pass"}
    left, right = socket.socketpair()
    with left, right:
        left.sendall(placement() + placement("+12125550124")[:30])
        stream = MessageStream(right)
        _, body = stream.message() or (b"", b"")
        assert json.loads(body)["to"] == TO
        assert stream.buffered == placement("+12125550124")[:30]
        left.close()
        with pytest.raises(ConnectionError):
            stream.message()
    assert replace(PASS, variant="x").label == "pass x"
