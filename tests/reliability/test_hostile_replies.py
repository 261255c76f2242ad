"""Whatever a server sends, the client returns a model or raises a `ByoursideError`, never another
exception: hypothesis writes the raw reply (status line, headers, body) that a socket server on
127.0.0.1 sends to each method. Bodies over the size limit are refused without being read whole.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import zlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from byourside import ByoursideError, Call, Client, InvalidResponseError, PlacedCall
from byourside._retry import PLACEMENT_RETRY_TOKENS
from byourside._transport import MAX_REPLY_BYTES
from byourside.errors import CODE_MESSAGES
from tests import payloads
from tests.async_support import each_client_kind  # noqa: F401 - the fixture, for pytestmark
from tests.reliability.support import (
    ScriptedServer,
    assert_secret_free,
    driven_client,
    http_reply,
    scripted_server,
    send,
)

TO = "+14155550123"

# Every test here runs on Client, then on AsyncClient (driven_client builds the kind in force).
pytestmark = pytest.mark.usefixtures("each_client_kind")


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as scripted:
        yield scripted


# -- what a hostile server sends ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
VALID_BODIES = [
    payloads.PLACED_NEWER_DOCS,
    payloads.COMPLETED_CALL,
    payloads.LIST_WITH_ID_ITEMS,
    {"id": "c1", "status": "in_progress"},
    {"error": "rate_limited"},
    {"error": "not_found"},
    {"error": "store_error"},
    {"error": "over_minute_cap"},
]


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    """A documented body with keys replaced, added or removed: wrong types, unknown values."""
    document = dict(draw(st.sampled_from(VALID_BODIES)))
    for key in draw(st.lists(st.sampled_from([*document, "calls", "error", "id", "extra"]), max_size=3)):
        if draw(st.booleans()):
            document[key] = draw(json_values)
        else:
            document.pop(key, None)
    return json.dumps(document).encode()


def _nested(depth: int) -> bytes:
    return b'{"id":"c1","status":"completed","extracted":' + b"[" * depth + b"]" * depth + b"}"


BODIES = st.one_of(
    st.sampled_from(VALID_BODIES).map(lambda d: json.dumps(d).encode()),
    st.sampled_from(VALID_BODIES).map(lambda d: json.dumps(d).encode()),
    mutated_documents(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(1, 100_000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
    st.integers(1, 100_000).map(_nested),  # deep nesting inside a valid call
    st.integers(5_000, 20_000).map(lambda n: b'{"id":"c1","status":"queued","n":' + b"9" * n + b"}"),
    st.sampled_from([b"", b"<html><body>502 Bad Gateway</body></html>", b"null", b"NaN", b"\xff\xfe"]),
    st.integers(1, 1 << 20).map(lambda n: b'{"id":"c1","status":"completed","pad":"' + b"x" * n + b'"}'),
)

# Each one_of picks its branches evenly: the documented case gets a branch of its own so that a
# good share of the replies are read as far as the models.
STATUSES = st.one_of(
    st.sampled_from([200, 201]),
    st.sampled_from([202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 418, 429, 500, 502, 503]),
    st.integers(100, 999),
)

RETRY_AFTER = st.one_of(
    st.integers(-(10**6), 10**12).map(str),
    st.floats().map(repr),
    st.sampled_from(
        ["", "soon", "1e400", "nan", "inf", "-0", "0x10", " 2 ", "Wed, 21 Oct 2015 07:28:00 GMT"]
    ),
    st.sampled_from(["Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "31 Dec 9999"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40),
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60)
HEADERS = st.lists(
    st.one_of(
        st.tuples(st.just("Retry-After"), RETRY_AFTER),
        st.tuples(
            st.just("Content-Type"),
            st.sampled_from(["application/json", "text/html", "application/json; charset=utf-16", ""])
            | HEADER_TEXT,
        ),
        st.tuples(st.just("X-Request-Id"), HEADER_TEXT),
        st.tuples(st.sampled_from(["Set-Cookie", "Location", "Connection", "X-Odd"]), HEADER_TEXT),
        st.tuples(st.just("Content-Encoding"), st.sampled_from(["gzip", "deflate", "br", "zstd", "x-bogus"])),
    ),
    max_size=5,
)

# How the body is framed: what the Content-Length says, or chunked, or until the connection closes.
FRAMINGS = st.one_of(
    st.just("exact"),
    st.sampled_from(["exact", "short", "long", "bad", "double", "none", "chunked", "bad_chunked"]),
)
ENCODINGS = st.one_of(st.just("identity"), st.sampled_from(["identity", "gzip", "deflate"]))


@st.composite
def raw_replies(draw: st.DrawFn) -> bytes:
    status = draw(STATUSES)
    body = draw(BODIES)
    headers = draw(HEADERS)
    encoding = draw(ENCODINGS)
    if encoding == "gzip":
        body = gzip.compress(body, compresslevel=1)
        headers.append(("Content-Encoding", "gzip"))
    elif encoding == "deflate":
        body = zlib.compress(body, 1)
        headers.append(("Content-Encoding", "deflate"))
    framing = draw(FRAMINGS)
    length = {
        "exact": str(len(body)),
        "short": str(max(len(body) - 1, 0)),
        "long": str(len(body) + 10),
        "bad": draw(st.sampled_from(["-1", "abc", "1e3", "", " 12 x"])),
        "double": f"{len(body)}, {len(body) + 1}",
    }.get(framing)
    if length is not None:
        headers.append(("Content-Length", length))
    if framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    elif framing == "bad_chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        body = b"zz\r\n" + body
    reason = draw(st.sampled_from(["OK", "", "Whatever", "\xe9t\xe9"]))
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    raw: bytes = head.encode("latin-1") + body
    return raw


GARBAGE_REPLIES = st.sampled_from(
    [
        b"",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 99 Low\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 1000 High\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 150 + b"\r\n{}",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\n folded: header\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS handshake where HTTP was expected
    ]
)

Method = Callable[[Client], object]
METHODS: dict[str, Method] = {
    "place_call": lambda client: client.place_call(TO, "Confirm the appointment", max_retries=1),
    "get_call": lambda client: client.get_call("c1", max_retries=1),
    "list_calls": lambda client: client.list_calls(limit=5, max_retries=1),
    "wait_for_call": lambda client: client.wait_for_call("c1", timeout=10, interval=3),
}


def outcome(server: ScriptedServer, reply: bytes, method: str) -> object:
    """What `method` returns, or the `ByoursideError` it raises, when `server` sends `reply`.

    For a placement, also checks that it was sent again only after a reply proving nothing was
    placed, and that a failure with no status read says the call may have been placed (every
    reply here is sent after the request was read whole).
    """
    server.respond(send(reply))
    before = len(server.requests)
    with driven_client(server.url, timeout=(2.0, 2.0)) as client:
        try:
            result: object = METHODS[method](client)
        except ByoursideError as error:
            result = error
    if method == "place_call" and isinstance(result, ByoursideError):
        if len(server.requests) - before > 1:
            assert result.code in PLACEMENT_RETRY_TOKENS, result
        if result.status == 0:
            assert result.may_have_placed, result
    return result


def check(result: object, method: str) -> None:
    """`result` is the model `method` promises, or a `ByoursideError` with a precise code that
    says whether the call may have been placed."""
    if isinstance(result, ByoursideError):
        assert isinstance(result.code, str)
        assert result.code
        # A code of the SDK's own, or a token the server sent with a status of its choosing.
        assert result.code in CODE_MESSAGES or result.status not in (0, 200, 201), result
        assert_secret_free(result)
        if method != "place_call":
            assert not result.may_have_placed
        elif 400 <= result.status < 500:
            assert not result.may_have_placed, result
        elif 200 <= result.status < 300:
            assert result.may_have_placed, result
    elif method == "place_call":
        assert isinstance(result, PlacedCall)
    elif method == "list_calls":
        assert isinstance(result, list)
        assert all(isinstance(call, Call) for call in result)
    else:
        assert isinstance(result, Call)


@pytest.mark.soak
@settings(
    max_examples=1000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(reply=st.one_of(raw_replies(), GARBAGE_REPLIES), method=st.sampled_from(sorted(METHODS)))
def test_any_reply_is_a_model_or_a_byourside_error(server: ScriptedServer, reply: bytes, method: str) -> None:
    result = outcome(server, reply, method)
    # `pytest --hypothesis-show-statistics` shows how the examples ended.
    event(f"{method}: {result.code if isinstance(result, ByoursideError) else type(result).__name__}")
    check(result, method)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(http_reply(200, b"[" * 100_000 + b"]" * 100_000), id="deep-array"),
        pytest.param(http_reply(201, _nested(50_000)), id="deep-extracted"),
        pytest.param(
            http_reply(200, b'{"id":"c1","status":"completed","n":' + b"9" * 9000 + b"}"), id="big-int"
        ),
        pytest.param(http_reply(200, b'{"id": 5, "status": ["completed"]}'), id="wrong-types"),
        pytest.param(http_reply(200, b'{"calls": {"id": "c1"}}'), id="calls-not-a-list"),
        pytest.param(http_reply(777, b'{"error": "brand_new"}'), id="unknown-status"),
        pytest.param(
            http_reply(429, b'{"error":"rate_limited"}', {"Retry-After": "1e400"}), id="retry-1e400"
        ),
        pytest.param(
            http_reply(503, b'{"error":"store_error"}', {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}),
            id="retry-year-9999",
        ),
        pytest.param(http_reply(200, b"{}", {"Content-Length": "5, 6"}), id="conflicting-lengths"),
        pytest.param(http_reply(200, b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}), id="bad-gzip"),
        pytest.param(http_reply(302, b"{}", {"Location": "/\x80\xff"}), id="location-not-utf8"),
    ],
)
def test_known_hostile_replies(server: ScriptedServer, reply: bytes, method: str) -> None:
    check(outcome(server, reply, method), method)


def test_a_reply_the_service_could_send_is_read_after_all_that(server: ScriptedServer) -> None:
    result = outcome(server, http_reply(200, json.dumps(payloads.COMPLETED_CALL).encode()), "get_call")
    assert isinstance(result, Call)
    assert result.summary == payloads.COMPLETED_CALL["summary"]


def test_conflicting_lengths_on_a_placement_are_not_sent_again(server: ScriptedServer) -> None:
    # The reply came back, so the POST was sent: it may have placed the call, and a retry could
    # dial twice.
    before = len(server.requests)
    result = outcome(server, http_reply(201, b"{}", {"Content-Length": "5, 6"}), "place_call")
    assert isinstance(result, ByoursideError)
    assert result.may_have_placed
    assert len(server.requests) - before == 1


# -- replies over the size limit -------------------------------------------------------------


class Streamer:
    """Sends `head`, then `chunk` over and over until the client hangs up; counts what it sent."""

    def __init__(self, head: bytes, chunk: bytes, *, chunked: bool = False) -> None:
        self.head = head
        self.chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
        self.sent = 0
        self.done = threading.Event()
        self.limit = 1 << 30  # stop at 1 GiB even if the client never does

    def __call__(self, conn: socket.socket) -> None:
        try:
            conn.sendall(self.head)
            while self.sent < self.limit:
                conn.sendall(self.chunk)
                self.sent += len(self.chunk)
        finally:
            self.done.set()


def huge_reply_error(server: ScriptedServer, streamer: Streamer, method: str = "get_call") -> ByoursideError:
    server.respond(streamer)
    with (
        driven_client(server.url, timeout=(2.0, 5.0), max_retries=0) as client,
        pytest.raises(ByoursideError) as raised,
    ):
        METHODS[method](client)
    assert streamer.done.wait(10), "the client never hung up"
    assert_secret_free(raised.value)
    return raised.value


@pytest.mark.parametrize("chunked", [False, True], ids=["until-close", "chunked"])
def test_an_endless_body_is_refused_early(server: ScriptedServer, chunked: bool) -> None:
    # Neither framing says how long the body is: the client must count as it reads.
    framing = b"Transfer-Encoding: chunked" if chunked else b"Connection: close"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + framing + b"\r\n\r\n"
    streamer = Streamer(head, b'{"pad":"' + b"x" * 65_000, chunked=chunked)
    error = huge_reply_error(server, streamer)
    assert isinstance(error, InvalidResponseError)
    assert (error.code, error.status) == ("invalid_response", 200)
    assert f"{MAX_REPLY_BYTES}" in error.message or "MiB" in error.message
    # The socket buffers hold a few MiB more than the client read; the server would send 1 GiB.
    assert streamer.sent < 4 * MAX_REPLY_BYTES
    assert error.body is not None
    assert len(error.body) <= 64 * 1024


def test_a_declared_length_over_the_limit_is_refused_before_reading(server: ScriptedServer) -> None:
    # The server declares 1 TB and then sends nothing: reading would wait for the read timeout.
    head = b"HTTP/1.1 201 Created\r\nContent-Length: 1000000000000\r\n\r\n"
    stalled = threading.Event()

    def respond(conn: socket.socket) -> None:
        conn.sendall(head)
        stalled.wait(10)

    server.respond(respond)
    try:
        with (
            driven_client(server.url, timeout=(2.0, 30.0)) as client,
            pytest.raises(InvalidResponseError) as raised,
        ):
            client.place_call(TO, "Confirm the appointment")
    finally:
        stalled.set()
    assert raised.value.may_have_placed  # a 201 is a placement accepted, whatever came after
    assert raised.value.status == 201


def test_a_compressed_bomb_is_refused_by_its_decoded_size(server: ScriptedServer) -> None:
    body = b'{"id":"c1","status":"completed","pad":"' + b"0" * (3 * MAX_REPLY_BYTES) + b'"}'
    packed = gzip.compress(body, compresslevel=9)
    assert len(packed) < MAX_REPLY_BYTES // 10
    reply = http_reply(200, packed, {"Content-Encoding": "gzip"})
    result = outcome(server, reply, "get_call")
    assert isinstance(result, InvalidResponseError)
    assert result.status == 200


def test_a_reply_just_under_the_limit_is_read(server: ScriptedServer) -> None:
    head = b'{"id":"c1","status":"completed","pad":"'
    body = head + b"x" * (MAX_REPLY_BYTES - len(head) - 2) + b'"}'
    assert len(body) == MAX_REPLY_BYTES
    result = outcome(server, http_reply(200, body), "get_call")
    assert isinstance(result, Call)
