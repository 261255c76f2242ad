"""Webhook delivery from the fake server: signed exactly as the service signs, retried, recorded.

Each lifecycle transition of a call that has a ``webhookUrl`` becomes one event (``call.in_progress``
when answered, then the terminal ``call.<status>``; the undocumented interim status sends none)
with its own ``eventId``. A background thread POSTs it, so the API reply never waits for a
receiver. The body is the spec's `WebhookEvent`; the ``X-BYS-Signature`` header comes from
`byourside.webhooks.sign_webhook` with the server's ``webhook_secret`` and the real time of each
attempt (a receiver checks it against its own clock).

A reply other than 2xx, or no reply, is retried after each of ``retry_delays`` (real seconds) with
the same body and ``eventId``; then the event is given up. The fake never sends anything off this
machine: a URL whose host is not loopback is recorded as refused and never contacted, unless its
origin is one of ``webhook_apps``: then the event goes into that in-process WSGI or ASGI app
(`byourside.testing._app_delivery`), with no socket.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from byourside import _generated as wire
from byourside._models import TERMINAL_STATUSES
from byourside.testing._app_delivery import AppDelivery, match_app_origin
from byourside.testing._guardrails import is_loopback_host
from byourside.testing._store import Transition
from byourside.webhooks import sign_webhook

__all__ = ["WebhookDelivery", "WebhookDispatcher", "event_for"]

_TERMINAL_KEYS = ("summary", "extracted", "transcript", "recordingUrl")


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery attempt of one event, as the fake server made it.

    ``status_code`` is the receiver's HTTP status, or None when no reply was read (``error`` says
    why: a connection failure, or ``refused`` for a URL that is not loopback).
    """

    event_id: str
    event: str
    call_id: str
    url: str
    attempt: int
    body: bytes
    signature: str | None
    status_code: int | None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the receiver answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def payload(self) -> dict[str, Any]:
        """The event as the receiver got it (parsed JSON)."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass(frozen=True)
class _Job:
    url: str
    event_id: str
    event: str
    call_id: str
    body: bytes
    attempt: int = 1


def event_for(transition: Transition) -> tuple[str, str, bytes] | None:
    """The ``(event name, eventId, JSON body)`` a transition sends, or None when it sends none."""
    if transition.status != "in_progress" and transition.status not in TERMINAL_STATUSES:
        return None
    event_name = f"call.{transition.status}"
    event_id = f"evt_{uuid.uuid4().hex}"
    snapshot = transition.snapshot
    payload: dict[str, Any] = {
        "event": event_name,
        "eventId": event_id,
        "timestamp": transition.at,
        "callId": transition.call_id,
        "status": transition.status,
        "to": snapshot["to"],
        "objective": snapshot["objective"],
        "startedAt": snapshot["startedAt"],
        "endedAt": snapshot["endedAt"],
    }
    if transition.status in TERMINAL_STATUSES:
        payload.update({key: snapshot[key] for key in _TERMINAL_KEYS})
    body = json.dumps(wire.WebhookEvent.model_validate(payload).to_wire(), separators=(",", ":"))
    return event_name, event_id, body.encode("utf-8")


class WebhookDispatcher:
    """Delivers events from one background thread, in due order, and records every attempt."""

    def __init__(
        self,
        secret: str,
        retry_delays: Sequence[float],
        timeout: float = 5.0,
        apps: Mapping[str, object] | None = None,
    ) -> None:
        if any(delay < 0 for delay in retry_delays):
            raise ValueError("webhook retry delays must not be negative")
        self.apps = AppDelivery(apps or {})
        self.secret = secret
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._queue: list[tuple[float, int, _Job]] = []
        self._order = itertools.count()
        self._in_flight = 0
        self._deliveries: list[WebhookDelivery] = []
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the delivery thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="byourside-fake-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop delivering; events still queued are dropped."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None
            self.apps.close()

    def send(self, transition: Transition) -> None:
        """Queue the event of ``transition`` for its call's webhook URL, if it has one."""
        if transition.webhook_url is None:
            return
        event = event_for(transition)
        if event is None:
            return
        event_name, event_id, body = event
        self._schedule(_Job(transition.webhook_url, event_id, event_name, transition.call_id, body), 0.0)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every attempt so far, in the order made."""
        with self._changed:
            return list(self._deliveries)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or being delivered; whether that happened in time."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` attempts are recorded; whether that happened in time."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._deliveries) >= count, timeout)

    def _schedule(self, job: _Job, delay: float) -> None:
        with self._changed:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), job))
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                job = self._next_due_job()
                if job is None:
                    return
                self._in_flight += 1
            delivery = self._attempt(job)
            with self._changed:
                self._deliveries.append(delivery)
                self._in_flight -= 1
                if (
                    not delivery.succeeded
                    and delivery.error != "refused"
                    and job.attempt <= len(self.retry_delays)
                ):
                    retry = _Job(job.url, job.event_id, job.event, job.call_id, job.body, job.attempt + 1)
                    due = time.monotonic() + self.retry_delays[job.attempt - 1]
                    heapq.heappush(self._queue, (due, next(self._order), retry))
                self._changed.notify_all()

    def _next_due_job(self) -> _Job | None:
        # Called with the condition held; None means stop.
        while not self._stopping:
            if self._queue:
                wait = self._queue[0][0] - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._queue)[2]
                self._changed.wait(wait)
            else:
                self._changed.wait()
        return None

    def _attempt(self, job: _Job) -> WebhookDelivery:
        parts = urlsplit(job.url)
        app_origin = match_app_origin(self.apps.apps, job.url)
        if app_origin is None and not is_loopback_host(parts.hostname):
            return self._record(job, None, None, "refused")
        signature = sign_webhook(job.body, self.secret)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "byourside-fake-server",
            "X-BYS-Signature": signature,
        }
        if app_origin is not None:
            status, error = self.apps.post(app_origin, job.url, job.body, headers)
            return self._record(job, signature, status, error)
        connection_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_type(parts.hostname or "", parts.port, timeout=self.timeout)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        try:
            connection.request("POST", path, body=job.body, headers=headers)
            response = connection.getresponse()
            response.read()
            return self._record(job, signature, response.status, None)
        except (OSError, http.client.HTTPException) as exc:
            return self._record(job, signature, None, f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    @staticmethod
    def _record(job: _Job, signature: str | None, status: int | None, error: str | None) -> WebhookDelivery:
        return WebhookDelivery(
            event_id=job.event_id,
            event=job.event,
            call_id=job.call_id,
            url=job.url,
            attempt=job.attempt,
            body=job.body,
            signature=signature,
            status_code=status,
            error=error,
        )
