"""The jobs the benchmarks time: each SDK path beside the bare baseline doing the same work."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from byourside import CallList, Client
from byourside.webhooks import construct_event, sign_webhook, verify_webhook

API_KEY = "bys_ak_benchmark"


def full_call(i: int) -> dict[str, Any]:
    """A completed call as the service reports it, with a transcript of a few KB."""
    lines = [
        f"{'AI' if n % 2 else 'Callee'}: line {n} of the conversation about the appointment."
        for n in range(60)
    ]
    return {
        "id": f"call_{i:05d}",
        "status": "completed",
        "to": "+14155550123",
        "objective": "Confirm the appointment for tomorrow at 2pm and ask if they need to reschedule.",
        "context": "Dr. Smith's office. Be brief.",
        "summary": "The callee confirmed the appointment for tomorrow at 2pm and needs no changes.",
        "extracted": {"confirmed": True, "new_time": None, "party_size": 2},
        "transcript": "\n".join(lines),
        "recordingUrl": f"https://recordings.byourside.ai/call_{i:05d}.mp3",
        "startedAt": "2026-11-25T14:00:00Z",
        "endedAt": "2026-11-25T14:01:30Z",
    }


def call_list_body(n: int) -> bytes:
    return json.dumps({"calls": [full_call(i) for i in range(n)]}).encode()


def parse_sdk(body: bytes) -> object:
    return CallList.model_validate_json(body).calls


def parse_base(body: bytes) -> object:
    return json.loads(body)["calls"]


def signed_delivery(size: int) -> tuple[bytes, str, str]:
    """A webhook body of about `size` bytes, its header and the secret."""
    event = {
        "event": "call.completed",
        "eventId": "evt_1",
        "timestamp": "2026-11-25T14:01:30Z",
        "callId": "call_1",
        "status": "completed",
        "to": "+14155550123",
        "objective": "Confirm",
        "startedAt": "2026-11-25T14:00:00Z",
        "endedAt": "2026-11-25T14:01:30Z",
        "summary": "",
    }
    event["summary"] = "x" * max(0, size - len(json.dumps(event)))
    body = json.dumps(event).encode()
    secret = "whsec_benchmark"
    return body, sign_webhook(body, secret), secret


def verify_sdk(header: str, body: bytes, secret: str) -> bool:
    return verify_webhook(header, body, secret)


def verify_base(header: str, body: bytes, secret: str) -> bool:
    # The bare minimum a correct receiver does: split the header, HMAC, compare in constant time.
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)


def construct_sdk(header: str, body: bytes, secret: str) -> object:
    return construct_event(body, header, secret)


def repeat(n: int, fn: Callable[..., object], *args: Any) -> None:
    for _ in range(n):
        fn(*args)


class _FixedReplyHandler(BaseHTTPRequestHandler):
    """Answers every GET with the server's current reply: no work that would hide the client's."""

    protocol_version = "HTTP/1.1"  # keep-alive, so both sides reuse one connection
    # Headers and body go out in separate writes: without TCP_NODELAY, delayed ACKs add ~40 ms
    # to every request on both sides and hide the client cost being measured.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        reply: Callable[[], bytes] = self.server.reply  # type: ignore[attr-defined]
        body = reply()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(reply: Callable[[], bytes]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FixedReplyHandler)
    server.reply = reply  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def loopback_call_server() -> Iterator[tuple[str, str]]:
    body = json.dumps(full_call(1)).encode()
    with _serve(lambda: body) as base_url:
        yield base_url, "call_00001"


def round_trip_pair(
    base_url: str, call_id: str, n: int
) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
    client = Client(API_KEY, base_url=base_url)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {API_KEY}"
    url = f"{base_url}/v1/agent/calls/{call_id}"

    def sdk() -> None:
        for _ in range(n):
            client.get_call(call_id)

    def base() -> None:
        for _ in range(n):
            json.loads(session.get(url, timeout=(5, 30)).content)

    def close() -> None:
        client.close()
        session.close()

    return sdk, base, close


def poll_until_done(ends_after: float, interval: float) -> tuple[int, float, float]:
    """Requests `wait_for_call` makes for a call ending `ends_after` s in, and its CPU and wall time."""
    started: list[float] = []
    count = [0]
    lock = threading.Lock()

    def reply() -> bytes:
        with lock:
            count[0] += 1
            if not started:
                started.append(time.monotonic())
            done = time.monotonic() - started[0] >= ends_after
        return json.dumps({"id": "c1", "status": "completed" if done else "in_progress"}).encode()

    with _serve(reply) as base_url, Client(API_KEY, base_url=base_url) as client:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        client.wait_for_call("c1", timeout=ends_after * 10, interval=interval)
        return count[0], time.process_time() - cpu0, time.perf_counter() - wall0


def batch_throughput(n: int) -> tuple[float, float] | None:
    """Calls per second and peak MiB for `n` calls through `place_calls`, or None before it exists."""
    place_calls: Callable[..., Iterator[object]] | None = getattr(Client, "place_calls", None)
    if place_calls is None:
        return None
    from byourside.testing import FakeServer

    # Numbers from 1000 up: those ending 0001..0007 have special outcomes (0006 never ends).
    items = [
        {"to": f"+1415555{1000 + i % 9000:04d}", "objective": "Confirm the appointment"} for i in range(n)
    ]
    with FakeServer(instant=True) as server, Client(server.api_key, base_url=server.base_url) as client:
        tracemalloc.start()
        start = time.perf_counter()
        results = list(place_calls(client, items, concurrency=8))
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert len(results) == n
    return n / elapsed, peak / 2**20
