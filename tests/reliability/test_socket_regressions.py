"""Regressions an independent audit found in the transport (issue 22, cases 1, 3, 7, 8 and 9),
each against a raw socket server that scripts the exact bytes and counts the POSTs it read:

* "not sent" is judged from this request's own failure, never from an exception the caller was
  handling when it placed the call;
* interim 1xx replies are skipped, and a connection whose reply was not read cleanly is never
  reused, so no reply is ever given to another request;
* the reply cap holds for a redirect's body too;
* a caller's session cannot resend a placement beneath the SDK;
* a reply trickled byte by byte cannot hold a request, or a wait, past its wall-clock budget.
"""

from __future__ import annotations

import gzip
import itertools
import json
import select
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from byourside import (
    ByoursideError,
    Client,
    InvalidResponseError,
    NetworkError,
    PlacedCall,
    WaitTimeoutError,
)
from byourside._connection import MAX_INTERIM_REPLIES
from byourside._transport import MAX_REPLY_BYTES, Method, Transport
from tests.async_support import each_client_kind, make_current_client  # noqa: F401 - the fixture
from tests.client_support import refused_url
from tests.reliability.support import (
    API_KEY,
    SILENCE,
    Responder,
    ScriptedServer,
    assert_secret_free,
    driven_client,
    http_reply,
    scripted_server,
)

TO = "+14155550123"
OBJECTIVE = "Page the on-call engineer: the health check failed"

# Every test here runs on Client, then on AsyncClient behind Client's blocking calls (the
# placement made inside an except block, the interim replies, the redirect cap, the session's
# retries, the exchange budget: the same bytes on the wire, the same counts).
pytestmark = pytest.mark.usefixtures("each_client_kind")


@pytest.fixture
def keep_alive() -> Iterator[ScriptedServer]:
    with scripted_server(keep_alive=True) as scripted:
        yield scripted


def placed(call_id: str) -> bytes:
    return http_reply(201, json.dumps({"callId": call_id, "status": "queued"}).encode())


def place(client: Client) -> PlacedCall | ByoursideError:
    try:
        return client.place_call(TO, OBJECTIVE)
    except ByoursideError as error:
        assert_secret_free(error)
        return error


# -- case 1: an exception being handled is not this request's cause ---------------------------


def fail_to_connect(through: str) -> None:
    """Raise a real connection-refused error, as a failed health check would."""
    if through == "requests":
        requests.get(refused_url() + "/health", timeout=2)
    else:
        with Client(API_KEY, refused_url(), max_retries=0) as other:
            other.get_call("health")


@pytest.mark.parametrize("through", ["requests", "sdk"])
def test_a_placement_inside_an_except_block_is_judged_by_its_own_failure(
    server: ScriptedServer, released: threading.Event, through: str
) -> None:
    def hold(conn: socket.socket) -> None:  # read the POST, then never answer
        released.wait(SILENCE)

    server.respond(hold)
    with driven_client(server.url, timeout=(2.0, 0.3)) as client:
        try:
            fail_to_connect(through)
        except (requests.ConnectionError, NetworkError):
            outcome = place(client)  # paging the on-call engineer by phone
        else:
            raise AssertionError("connecting to a closed port was expected to fail")
    assert server.posts == 1, f"the placement was sent {server.posts} times"
    assert isinstance(outcome, NetworkError)
    assert outcome.may_have_placed
    assert "read timeout" in outcome.message


# -- case 3: interim replies, and connections whose reply was not read cleanly -----------------

INTERIM_REPLIES = {
    "103-early-hints": b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    "102-processing": b"HTTP/1.1 102 Processing\r\n\r\n",
    "199-with-headers": b"HTTP/1.1 199 Misc\r\nX-One: 1\r\nX-Two: 2\r\nLink: </a>; rel=preload\r\n\r\n",
    "102-then-103": b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
}


def interim_then_final(interim: bytes) -> Responder:
    """Answer the n-th request with `interim` at once and its final reply (call id ``c<n>``)
    later, as a proxy does: when the client sends its next request on the connection, or after
    0.3 s, whichever comes first."""
    numbers = itertools.count(1)

    def respond(conn: socket.socket) -> None:
        number = next(numbers)
        conn.sendall(interim)
        select.select([conn], [], [], 0.3)
        conn.sendall(placed(f"c{number}"))

    return respond


@pytest.mark.parametrize("interim", INTERIM_REPLIES.values(), ids=INTERIM_REPLIES.keys())
def test_interim_replies_are_skipped_and_each_placement_gets_its_own_reply(
    keep_alive: ScriptedServer, interim: bytes
) -> None:
    keep_alive.respond(interim_then_final(interim))
    with driven_client(keep_alive.url) as client:
        outcomes = [place(client) for _ in range(3)]
    ids = [o.call_id if isinstance(o, PlacedCall) else o for o in outcomes]
    assert ids == ["c1", "c2", "c3"]
    assert keep_alive.posts == 3
    assert keep_alive.connections == 1  # read cleanly to the final reply, so reused


@pytest.mark.parametrize("interim", INTERIM_REPLIES.values(), ids=INTERIM_REPLIES.keys())
def test_through_a_callers_session_an_interim_reply_is_refused_and_its_connection_dropped(
    keep_alive: ScriptedServer, interim: bytes
) -> None:
    # A session of the caller's keeps its own connection classes, which take an interim reply
    # for the final one: the SDK cannot read on to the real reply there, so it refuses the reply
    # (the placement may have happened) and never lets the connection serve another request.
    keep_alive.respond(interim_then_final(interim))
    with requests.Session() as session, driven_client(keep_alive.url, session=session) as client:
        outcomes = [place(client) for _ in range(3)]
    assert keep_alive.posts == 3
    for outcome in outcomes:
        assert isinstance(outcome, InvalidResponseError), outcome
        assert outcome.may_have_placed
        assert "interim" in outcome.message
    assert keep_alive.connections == 3


def test_an_endless_run_of_interim_replies_is_refused_and_its_connection_dropped(
    keep_alive: ScriptedServer,
) -> None:
    keep_alive.respond(interim_then_final(b"HTTP/1.1 102 Processing\r\n\r\n" * (MAX_INTERIM_REPLIES + 1)))
    with driven_client(keep_alive.url) as client:
        outcomes = [place(client) for _ in range(2)]
    assert keep_alive.posts == 2
    for outcome in outcomes:
        assert isinstance(outcome, InvalidResponseError), outcome
        assert (outcome.status, outcome.may_have_placed) == (102, True)
    assert keep_alive.connections == 2


# -- case 8: the reply cap holds for a redirect's body ----------------------------------------


class GzipBomb:
    """A 302 whose gzip body inflates to `inflated` bytes of zeros, sent until the client hangs up."""

    def __init__(self, inflated: int) -> None:
        self.inflated = inflated
        self.sent = 0
        self.done = threading.Event()

    def __call__(self, conn: socket.socket) -> None:
        zeros = bytes(1 << 20)
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip stream
        head = b"HTTP/1.1 302 Found\r\nLocation: /v1/elsewhere\r\nContent-Encoding: gzip\r\n"
        try:
            conn.sendall(head + b"Connection: close\r\n\r\n")
            for _ in range(self.inflated // len(zeros)):
                packed = packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH)
                conn.sendall(packed)
                self.sent += len(packed)
            conn.sendall(packer.flush())
        finally:
            self.done.set()


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_redirects_body_is_held_to_the_reply_cap(server: ScriptedServer, method: str) -> None:
    bomb = GzipBomb(inflated=6 * MAX_REPLY_BYTES)
    server.respond(bomb)
    with driven_client(server.url, max_retries=0) as client:
        tracemalloc.start()
        try:
            outcome = place(client) if method == "POST" else client.get_call("c1")
        except ByoursideError as error:
            outcome = error
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    assert bomb.done.wait(10), "the client never hung up"
    assert isinstance(outcome, InvalidResponseError), outcome
    assert (outcome.code, outcome.status) == ("invalid_response", 302)
    assert "MiB" in outcome.message
    # Reading stops at the cap: the body read and its joined copy, not the 60 MiB inflated.
    assert peak < 3 * MAX_REPLY_BYTES, f"peak {peak / 2**20:.0f} MiB while reading a capped reply"


def test_a_small_gzip_redirect_is_still_read(server: ScriptedServer) -> None:
    body = gzip.compress(b'{"error": "moved"}')
    server.respond(lambda conn: conn.sendall(http_reply(302, body, {"Content-Encoding": "gzip"})))
    reply = Transport(api_key=API_KEY, base_url=server.url, timeout=(2.0, 5.0)).request("GET", "/v1/x")
    assert (reply.status, reply.body, reply.problem) == (302, b'{"error": "moved"}', None)


# -- case 9: a caller's session cannot resend a placement -------------------------------------

RESENDING_RETRIES = {
    "status-forcelist": (
        Retry(total=3, allowed_methods=None, status_forcelist=[503], backoff_factor=0),
        http_reply(503, b"<html>busy</html>", {"Content-Type": "text/html"}),
    ),
    "read-errors": (Retry(total=3, allowed_methods=None, backoff_factor=0), b""),
}


@pytest.mark.parametrize(("retry", "answer"), RESENDING_RETRIES.values(), ids=RESENDING_RETRIES.keys())
def test_a_sessions_retries_never_resend_a_placement(
    server: ScriptedServer, retry: Retry, answer: bytes
) -> None:
    server.respond(lambda conn: conn.sendall(answer))  # b"": read the POST and hang up
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    with session, driven_client(server.url, session=session) as client:
        outcome = place(client)
        assert server.posts == 1, f"the placement was sent {server.posts} times"
        assert isinstance(outcome, ByoursideError)
        assert outcome.may_have_placed
        # The caller's session is left as it was: its adapter keeps its retries for its own use.
        assert session.get_adapter(server.url) is adapter
        assert adapter.max_retries is retry
        before = len(server.requests)
        with pytest.raises(ByoursideError):
            client.get_call("c1", max_retries=0)  # a read may be retried beneath: it dials no one
        # (up to 4 reads: a closing connection may take a retry with it before the server reads it)
        assert len(server.requests) - before > 1


# -- case 7: a wall-clock budget for a whole exchange -----------------------------------------


def trickle(reply: bytes, released: threading.Event, *, head_at_once: bool = False) -> Responder:
    """Send `reply` one byte every 0.3 s (each byte well within any read timeout); with
    `head_at_once`, the status line and headers go at once and only the body trickles."""

    def respond(conn: socket.socket) -> None:
        head, _, body = reply.partition(b"\r\n\r\n")
        slow = body if head_at_once else reply
        if head_at_once:
            conn.sendall(head + b"\r\n\r\n")
        for byte in slow:
            if released.wait(0.3):
                return
            conn.sendall(bytes([byte]))

    return respond


IN_PROGRESS = http_reply(200, json.dumps({"id": "c1", "status": "in_progress"}).encode())


@pytest.mark.parametrize("head_at_once", [False, True], ids=["status-line-trickled", "body-trickled"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_trickled_reply_cannot_outlast_the_exchange_budget(
    server: ScriptedServer, released: threading.Event, method: Method, head_at_once: bool
) -> None:
    server.respond(trickle(IN_PROGRESS, released, head_at_once=head_at_once))
    sender = Transport(api_key=API_KEY, base_url=server.url, timeout=(5.0, 5.0))
    started = time.monotonic()
    with pytest.raises(NetworkError) as raised:
        sender.request(method, "/v1/agent/calls", body=b"{}" if method == "POST" else None, total=0.8)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"the exchange took {elapsed:.1f} s on a 0.8 s budget"
    assert raised.value.may_have_placed is (method == "POST")
    assert "budget" in raised.value.message
    assert_secret_free(raised.value)
    # The connection was dropped, not pooled half-read: the next request opens a new one.
    released.set()
    server.respond(lambda conn: conn.sendall(IN_PROGRESS))
    assert sender.request("GET", "/v1/agent/calls/c1").status == 200
    assert server.connections == 2


def test_wait_for_call_returns_near_its_deadline_when_replies_trickle(
    server: ScriptedServer, released: threading.Event
) -> None:
    server.respond(trickle(IN_PROGRESS, released))
    with make_current_client(API_KEY, server.url, timeout=(5.0, 5.0)) as client:
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as raised:
            client.wait_for_call("c1", timeout=1, interval=0.2)
        elapsed = time.monotonic() - started
    assert raised.value.code == "timeout"
    assert elapsed < 4.0, f"wait_for_call(timeout=1) took {elapsed:.1f} s"


def test_no_budget_left_sends_nothing(server: ScriptedServer) -> None:
    sender = Transport(api_key=API_KEY, base_url=server.url, timeout=(5.0, 5.0))
    for total in (0.0, -1.0, float("nan")):
        with pytest.raises(NetworkError) as raised:
            sender.request("POST", "/v1/agent/calls", body=b"{}", total=total)
        assert raised.value.may_have_placed is False
    assert server.requests == []
