"""The receiver the crash tests run under gunicorn: the recipe's shape, as a bare WSGI app.

Configured by the environment (see `tests/webhook_crash/support.py`). The handler marks itself
busy in ``CRASH_BUSY_DIR/<pid>`` while it works, so the test's killer can SIGKILL a worker that
is mid-handler: past the ``flock`` at the end of its work the killer leaves it alone, and only
then does it append ``<eventId> <pid>`` to ``CRASH_COMPLETED`` (its one side effect).

``CRASH_MODE=seen`` runs the earlier recipe instead (claim with `seen`, handle, `forget` on an
exception): the control that shows the test catches a lost event. ``CRASH_STORE=memory`` gives
each worker its own in-memory store.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from byourside import (
    EventInProgressError,
    EventStore,
    InMemoryEventStore,
    SqliteEventStore,
    WebhookDeduplicator,
    WebhookEvent,
    WebhookVerificationError,
    construct_event,
)

SECRET = os.environ["CRASH_SECRET"]
BUSY_DIR = os.environ["CRASH_BUSY_DIR"]
COMPLETED = os.environ["CRASH_COMPLETED"]
WORK_SECONDS = float(os.environ["CRASH_WORK_SECONDS"])
SEEN_MODE = os.environ.get("CRASH_MODE") == "seen"


class Outcome(BaseModel):
    confirmed: bool


def _store() -> EventStore:
    where = os.environ["CRASH_STORE"]
    if where == "memory":
        return InMemoryEventStore()
    if where.startswith("sqlite:"):
        return SqliteEventStore(where.removeprefix("sqlite:"))
    from byourside import RedisEventStore

    return RedisEventStore(url=where.removeprefix("redis:"))


dedupe = WebhookDeduplicator(_store(), lease_seconds=float(os.environ["CRASH_LEASE_SECONDS"]))


def work(event: WebhookEvent[Outcome]) -> None:
    assert event.extracted is not None
    assert event.extracted.confirmed
    marker = os.path.join(BUSY_DIR, str(os.getpid()))
    descriptor = os.open(marker, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        time.sleep(WORK_SECONDS)  # the handler's work: the killer strikes here
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.unlink(marker)
    finally:
        os.close(descriptor)
    line = f"{event.event_id} {os.getpid()}\n".encode()
    completed = os.open(COMPLETED, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(completed, line)  # one short O_APPEND write: whole lines, whatever the workers
    finally:
        os.close(completed)


handle = dedupe.idempotent(work)


def handle_as_before(event: WebhookEvent[Outcome]) -> None:
    if dedupe.seen(event):
        return
    try:
        work(event)
    except BaseException:
        dedupe.forget(event)
        raise


Reply = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: Reply) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] != "POST":
        return _answer(start_response, "200 OK")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        event = construct_event(body, environ.get("HTTP_X_BYS_SIGNATURE"), SECRET, fields=Outcome)
    except WebhookVerificationError:
        return _answer(start_response, "400 Bad Request")
    try:
        (handle_as_before if SEEN_MODE else handle)(event)
    except EventInProgressError:
        return _answer(start_response, "409 Conflict")
    return _answer(start_response, "204 No Content")


def _answer(start_response: Reply, status: str) -> Iterable[bytes]:
    start_response(status, [("Content-Length", "0")])
    return [b""]
