"""``byourside webhooks listen``: a local webhook receiver for wiring and debugging a handler.

Each POST is verified with `construct_event`, exactly as a handler should: a delivery that
verifies is answered 200 and printed as a typed event (with ``--json``, one JSON object a line:
the event's wire JSON and ``"redelivery": true`` or ``false``);
one that does not is answered 400 (the service's expectation) and its failed check is printed on
stderr. Deliveries are handled one at a time, in arrival order, so the output never interleaves.
A redelivery (an ``eventId`` seen before) is answered 200 again and marked as such.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from byourside._cli._console import Console
from byourside._cli._render import event_lines
from byourside._dedup import InMemoryEventStore
from byourside.errors import WebhookVerificationError
from byourside.webhooks import construct_event

__all__ = ["MAX_BODY_BYTES", "SIGNATURE_HEADER", "WebhookReceiver", "listen"]

SIGNATURE_HEADER = "X-BYS-Signature"
MAX_BODY_BYTES = 1024 * 1024
"""Larger bodies are answered 413 unread: no event is anywhere near this size."""


class WebhookReceiver(HTTPServer):
    """An HTTP server that verifies, answers and prints webhook deliveries."""

    def __init__(
        self,
        address: tuple[str, int],
        secrets: Sequence[str],
        console: Console,
        *,
        tolerance: float = 300,
        as_json: bool = False,
    ) -> None:
        super().__init__(address, _DeliveryHandler)
        self.secrets = tuple(secrets)
        self.console = console
        self.tolerance = tolerance
        self.as_json = as_json
        self.accepted = 0
        self.rejected = 0
        self.seen = InMemoryEventStore(maxsize=10_000)

    @property
    def url(self) -> str:
        """The URL to give calls as their ``webhookUrl``."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def receive(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify and print one delivery; returns the HTTP status and JSON body to answer with."""
        try:
            event = construct_event(body, signature, self.secrets, self.tolerance)
        except WebhookVerificationError as error:
            self.rejected += 1
            self.console.note(f"rejected (400): {error.reason}: {' '.join(error.message.split())}")
            return 400, {"error": "invalid_signature", "reason": error.reason}
        self.accepted += 1
        redelivery = not self.seen.add_if_new(event.event_id)
        if self.as_json:
            self.console.json({**event.to_wire(), "redelivery": redelivery}, compact=True)
        else:
            self.console.lines(event_lines(event, redelivery=redelivery))
        return 200, {"received": True}


class _DeliveryHandler(BaseHTTPRequestHandler):
    server: WebhookReceiver
    server_version = "byourside-webhooks-listen"

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else 0
        except ValueError:
            length = -1
        if length < 0:
            self._answer(400, {"error": "invalid_content_length"})
            return
        if length > MAX_BODY_BYTES:
            self._answer(413, {"error": "body_too_large"})
            return
        body = self.rfile.read(length)
        self._answer(*self.server.receive(body, self.headers.get(SIGNATURE_HEADER)))

    def do_GET(self) -> None:
        self._answer(405, {"error": "method_not_allowed"}, allow="POST")

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _answer(self, status: int, payload: dict[str, Any], allow: str | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if allow is not None:
            self.send_header("Allow", allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the receiver prints each delivery itself, not an access log."""


def listen(
    host: str,
    port: int,
    secrets: Sequence[str],
    console: Console,
    *,
    tolerance: float = 300,
    as_json: bool = False,
    max_events: int | None = None,
) -> int:
    """Receive deliveries until interrupted (KeyboardInterrupt) or `max_events` have verified.

    Returns the exit status: 0, or 1 when the address cannot be listened on.
    """
    try:
        receiver = WebhookReceiver((host, port), secrets, console, tolerance=tolerance, as_json=as_json)
    except OSError as error:
        console.error("listen_failed", f"cannot listen on {host}:{port}: {error.strerror or error}")
        return 1
    with receiver:
        console.note(f"listening on {receiver.url} (use it as the calls' webhookUrl); Ctrl-C to stop")
        while max_events is None or receiver.accepted < max_events:
            receiver.handle_request()
    return 0
