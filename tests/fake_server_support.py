"""Helpers for the FakeServer tests: a thin HTTP helper and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from byourside.testing import FakeServer

SEED_OBJECTIVE = "Confirm the appointment for tomorrow at 2pm and ask if they need to reschedule."
SEED_FIELDS: list[dict[str, Any]] = [
    {"name": "confirmed", "type": "boolean"},
    {"name": "new_time", "type": "string"},
]


class Api:
    """Plain-`requests` access to a FakeServer, as a client with ``key`` would make it."""

    def __init__(self, server: FakeServer, key: str | None = None) -> None:
        self.base_url = server.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key or server.api_key}"

    def place(self, body: Any = None, **keys: Any) -> requests.Response:
        payload = body if body is not None else {"to": "+14155550123", "objective": SEED_OBJECTIVE, **keys}
        return self.session.post(f"{self.base_url}/v1/agent/calls", json=payload, timeout=5)

    def place_ok(self, **keys: Any) -> str:
        reply = self.place(**keys)
        assert reply.status_code == 201, reply.text
        call_id: str = reply.json()["callId"]
        return call_id

    def get(self, quoted_id: str) -> requests.Response:
        return self.session.get(f"{self.base_url}/v1/agent/calls/{quoted_id}", timeout=5)

    def status(self, call_id: str) -> str:
        reply = self.get(call_id)
        assert reply.status_code == 200, reply.text
        status: str = reply.json()["status"]
        return status

    def list(self, query: str = "") -> requests.Response:
        return self.session.get(f"{self.base_url}/v1/agent/calls{query}", timeout=5)


@dataclass(frozen=True)
class Received:
    """One webhook POST as the receiver got it."""

    path: str
    signature: str | None
    body: bytes


class WebhookReceiver:
    """Records webhook POSTs; answers each with the next scripted status, then 200.

    With a ``gate``, each POST waits until the gate is set before it is recorded and answered.
    """

    def __init__(self, statuses: list[int] | None = None, gate: threading.Event | None = None) -> None:
        self.received: list[Received] = []
        self._statuses = list(statuses or [])
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if gate is not None:
                    gate.wait(10)
                with receiver._lock:
                    receiver.received.append(Received(self.path, self.headers.get("X-BYS-Signature"), body))
                    status = receiver._statuses.pop(0) if receiver._statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/bys"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiver(
    statuses: list[int] | None = None, gate: threading.Event | None = None
) -> Iterator[WebhookReceiver]:
    """A started `WebhookReceiver`."""
    with WebhookReceiver(statuses, gate) as started:
        yield started
